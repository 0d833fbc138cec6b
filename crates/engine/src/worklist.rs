//! What people read: each CSM's worklist, ranked by expected impact, and a portfolio summary for the leader.
//!
//! An account's priority ([`priority`], the one place it is computed) is the revenue a call today can move:
//! the churn risk × ARR, plus the expansion probability × the expansion potential, weighted by urgency (days
//! to renewal, how fresh the newest signal is) and by actionability (someone already on it, snoozed, met in
//! the last week, already alerted). The churn risk is the default target's calibrated probability once a
//! model has scored the day, and before that the rules score's risk proxy (see
//! [`crate::assess::risk_proxy`]), which is a proxy, not a probability. The figures come from the pass and are
//! kept with the assessment ([`Impact`]); the signals' statuses come from the moment the list is read
//! ([`Attention`]), so acknowledging a signal moves its account down at once.

use crate::short_money;
use bellwether_core::model::{Assessment, Impact, Prediction, Severity, Signal, SignalStatus};
use bellwether_core::AccountId;
use bellwether_core::{Currency, Day, Money};
use bellwether_features::AccountFeatures;
use bellwether_store::{SignalFilter, Store};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// How the signals' statuses change what a call is worth today, as they stand when the list is read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attention {
    /// Every active signal of the account is acknowledged or snoozed: someone is on it.
    pub acknowledged: bool,
    /// Every active signal is snoozed, the earliest until this day.
    pub snoozed_until: Option<Day>,
    /// Why that earliest snooze was set, when it says.
    pub snooze_reason: Option<String>,
    /// An active high or critical signal was detected before the day: its owner was alerted when it opened.
    pub alerted: bool,
}

impl Attention {
    /// The attention an account's `signals` show on `as_of` (inactive ones are ignored).
    pub fn of<'a>(signals: impl IntoIterator<Item = &'a Signal>, as_of: Day) -> Attention {
        let active: Vec<&Signal> = signals.into_iter().filter(|s| s.is_active()).collect();
        if active.is_empty() {
            return Attention::default();
        }
        // A snooze without an end date has none to honour: the lifecycle treats it as over.
        let snoozed = |s: &&Signal| {
            s.status == SignalStatus::Snoozed && s.snoozed_until.is_some_and(|u| u > as_of)
        };
        let all_snoozed = active.iter().all(snoozed);
        let first_back = active
            .iter()
            .filter(|_| all_snoozed)
            .min_by_key(|s| (s.snoozed_until, &s.id));
        Attention {
            acknowledged: active
                .iter()
                .all(|s| s.status == SignalStatus::Acknowledged || snoozed(s)),
            snoozed_until: first_back.and_then(|s| s.snoozed_until),
            snooze_reason: first_back.and_then(|s| s.snooze_reason.clone()),
            alerted: active
                .iter()
                .any(|s| s.severity >= Severity::High && s.detected_at < as_of),
        }
    }
}

/// Days before a renewal from which its nearness weighs in.
pub const RENEWAL_WINDOW: i64 = 120;

/// The weight urgency gives: up to ×2 as the renewal nears (from [`RENEWAL_WINDOW`] days out to the day),
/// down to ×0.5 for a renewal a year or more away, and up to ×1.25 for a signal detected today (fading over
/// two weeks). Returns the factor and its reasons in words.
pub fn urgency(i: &Impact) -> (f64, Vec<String>) {
    let mut factor = 1.0;
    let mut why = Vec::new();
    match i.days_to_renewal {
        Some(d) if d <= RENEWAL_WINDOW => {
            factor *= 1.0 + (1.0 - d.max(0) as f64 / RENEWAL_WINDOW as f64);
            why.push(match d {
                d if d <= 0 => "renewal due".to_string(),
                1 => "renews tomorrow".to_string(),
                d => format!("renews in {d} days"),
            });
        }
        Some(d) => {
            // A renewal far off leaves time: down to ×0.5 a year out.
            factor *=
                (1.0 - 0.5 * (d - RENEWAL_WINDOW) as f64 / (365 - RENEWAL_WINDOW) as f64).max(0.5);
            why.push(format!("renewal {d} days off"));
        }
        None => {}
    }
    if let Some(a) = i.signal_age_days.filter(|a| *a < 14) {
        factor *= 1.0 + 0.25 * (1.0 - a.max(0) as f64 / 14.0);
        why.push(match a {
            a if a <= 0 => "signal new today".to_string(),
            1 => "signal 1 day old".to_string(),
            a => format!("signal {a} days old"),
        });
    }
    (factor, why)
}

/// The weight actionability gives: ×0.25 while every signal is snoozed, ×0.7 when someone is on every
/// signal, ×0.6 when the account was met in the last 7 days, ×0.9 when its owner was already alerted.
/// Returns the factor and its reasons in words.
pub fn actionability(i: &Impact, at: &Attention) -> (f64, Vec<String>) {
    let mut factor = 1.0;
    let mut why = Vec::new();
    if let Some(u) = at.snoozed_until {
        factor *= 0.25;
        why.push(
            match at.snooze_reason.as_deref().filter(|r| !r.trim().is_empty()) {
                Some(r) => format!("snoozed until {u} — {}", r.trim()),
                None => format!("snoozed until {u}"),
            },
        );
    } else if at.acknowledged {
        factor *= 0.7;
        why.push("acknowledged".to_string());
    }
    if let Some(d) = i.days_since_contact.filter(|d| *d <= 7) {
        factor *= 0.6;
        why.push(match d {
            0 => "met today".to_string(),
            1 => "met yesterday".to_string(),
            d => format!("met {d} days ago"),
        });
    }
    if at.alerted {
        factor *= 0.9;
        why.push("already alerted".to_string());
    }
    (factor, why)
}

/// The revenue at stake before the weights: churn risk × ARR plus expansion probability × potential, each
/// part in major units of the reporting currency.
pub fn at_stake(i: &Impact) -> (f64, f64) {
    // A figure that is not a number counts as nothing, rather than ranking first.
    let ok = |v: f64| if v.is_finite() { v } else { 0.0 };
    let churn = ok(i.arr).max(0.0) * ok(i.churn).clamp(0.0, 1.0);
    let expansion = ok(i.potential).max(0.0) * ok(i.expansion.unwrap_or(0.0)).clamp(0.0, 1.0);
    (churn, expansion)
}

/// An account's priority, the one place it is computed: (churn risk × ARR + expansion probability ×
/// expansion potential) × [`urgency`] × [`actionability`], in major units of the reporting currency. Every
/// stored priority, every ranked list and every printed figure comes from here.
pub fn priority(i: &Impact, at: &Attention) -> f64 {
    let (churn, expansion) = at_stake(i);
    (churn + expansion) * urgency(i).0 * actionability(i, at).0
}

fn money(v: f64, currency: Currency) -> String {
    crate::money3(Money {
        minor: (v * currency.scale() as f64).round() as i64,
        currency,
    })
}

/// A probability as a percentage to three significant figures, for arithmetic a reader checks: `34.2%`,
/// `3.62%`, `0.545%`.
fn percent3(p: f64) -> String {
    let v = p * 100.0;
    match v.abs() {
        a if a >= 9.995 => format!("{v:.1}%"),
        a if a >= 0.9995 => format!("{v:.2}%"),
        _ => format!("{v:.3}%"),
    }
}

/// The priority's arithmetic in words, as the worklist prints it: `$120k ARR × 34.2% churn before the next
/// renewal + $24.0k potential (…) × 41.0% an expansion within 180 days = $50.9k × 1.75 (renews in 30 days) ×
/// 0.70 (acknowledged) = $62.4k`. Weights print with two decimals, so the printed product can differ from
/// the result in its third figure.
pub fn arithmetic(i: &Impact, at: &Attention) -> String {
    let currency = Currency::parse(&i.currency).unwrap_or(Currency::USD);
    let (churn, expansion) = at_stake(i);
    let risk = match &i.churn_target {
        Some(t) => format!("{} {t}", percent3(i.churn)),
        None => format!(
            "{} risk proxy (rules score, no model yet)",
            percent3(i.churn)
        ),
    };
    let mut out = format!("{} ARR × {risk}", money(i.arr, currency));
    // The growth term is printed when it adds something.
    let growth = i.expansion.filter(|_| expansion > 0.0);
    if let Some(p) = growth {
        out.push_str(&format!(
            " + {} potential ({}) × {} {}",
            money(i.potential, currency),
            i.potential_basis,
            percent3(p),
            i.expansion_target.as_deref().unwrap_or("expansion")
        ));
    }
    let (u, uw) = urgency(i);
    let (a, aw) = actionability(i, at);
    if uw.is_empty() && aw.is_empty() {
        out.push_str(&format!(" = {}", money(churn + expansion, currency)));
        return out;
    }
    if growth.is_some() {
        out.push_str(&format!(" = {}", money(churn + expansion, currency)));
    }
    if !uw.is_empty() {
        out.push_str(&format!(" × {u:.2} ({})", uw.join(", ")));
    }
    if !aw.is_empty() {
        out.push_str(&format!(" × {a:.2} ({})", aw.join(", ")));
    }
    out.push_str(&format!(
        " = {}",
        money((churn + expansion) * u * a, currency)
    ));
    out
}

/// What an expansion would add to ARR: the seats the active users need beyond those bought (with a tenth
/// for growth), at the account's price per seat; else, without seats or usage, the segment's median expansion
/// of the last year (`segment_share` of ARR), else a typical one of [`TYPICAL_EXPANSION`] of ARR. Returns the
/// amount (major units) and where it comes from.
pub fn expansion_potential(
    arr: f64,
    seats: Option<i64>,
    active_users: Option<f64>,
    segment_share: Option<f64>,
    currency: Currency,
) -> (f64, String) {
    match (seats.filter(|s| *s > 0), active_users) {
        (Some(seats), Some(users)) if arr > 0.0 => {
            let needed = ((users * 1.1).ceil() as i64 - seats).max(0);
            let per_seat = arr / seats as f64;
            (
                needed as f64 * per_seat,
                format!(
                    "{needed} seats beyond the {seats} bought at {} a seat",
                    money(per_seat, currency)
                ),
            )
        }
        _ if segment_share.is_some_and(|s| s.is_finite() && s > 0.0) => {
            let s = segment_share.unwrap_or_default();
            (
                arr.max(0.0) * s,
                format!("the segment's median expansion, {:.0}% of ARR", s * 100.0),
            )
        }
        _ => (
            arr.max(0.0) * TYPICAL_EXPANSION,
            format!(
                "a typical expansion, {:.0}% of ARR",
                TYPICAL_EXPANSION * 100.0
            ),
        ),
    }
}

/// The share of ARR an expansion adds when the account's seats and users do not say.
pub const TYPICAL_EXPANSION: f64 = 0.2;

/// A model's prediction that ranks or adds to the priority, with its target in words.
pub struct Predicted<'a> {
    /// The prediction (its drivers name the causes).
    pub prediction: &'a Prediction,
    /// Its target in words (`churn before the next renewal`).
    pub target: String,
}

/// The figures an account's priority is computed from, with why it ranks and the play to run: from its
/// features and assessment (health components, risk proxy), the default churn target's prediction and the
/// expansion target's when a model scored the day, and its signals after the day's reconciliation.
pub fn impact_of(
    f: &AccountFeatures,
    a: &Assessment,
    churn: Option<Predicted<'_>>,
    expansion: Option<Predicted<'_>>,
    signals: &[&Signal],
    currency: Currency,
) -> Impact {
    let arr = f.arr_reporting.map_or(0.0, |m| m.major());
    let (potential, potential_basis) =
        expansion_potential(arr, f.seats, f.usage.mau, f.peer_expansion_share, currency);
    let active: Vec<&Signal> = signals.iter().copied().filter(|s| s.is_active()).collect();
    let newest = active.iter().map(|s| s.detected_at).max();
    let mut i = Impact {
        currency: currency.as_str().to_string(),
        arr,
        churn: churn
            .as_ref()
            .map_or(a.risk_proxy, |c| c.prediction.probability),
        churn_target: churn.as_ref().map(|c| c.target.clone()),
        expansion: expansion.as_ref().map(|e| e.prediction.probability),
        expansion_target: expansion.as_ref().map(|e| e.target.clone()),
        potential,
        potential_basis,
        days_to_renewal: f.days_to_renewal,
        signal_age_days: newest.map(|d| i64::from(f.as_of.0 - d.0)),
        days_since_contact: f.days_since_meeting,
        why: String::new(),
        play: String::new(),
    };
    let (churn_part, expansion_part) = at_stake(&i);
    let growth = expansion_part > churn_part;
    let direction = if growth { "expansion" } else { "risk" };
    // The causes: the model's largest drivers toward the outcome, else the weakest health components.
    let drivers: Vec<String> = match (growth, &churn, &expansion) {
        (false, Some(c), _) => top_drivers(c.prediction),
        (true, _, Some(e)) => top_drivers(e.prediction),
        _ => Vec::new(),
    };
    let causes = if !drivers.is_empty() {
        drivers
    } else {
        let mut weak: Vec<_> = a.components.iter().filter(|c| c.score < 70.0).collect();
        weak.sort_by(|x, y| {
            ((100.0 - y.score) * y.weight).total_cmp(&((100.0 - x.score) * x.weight))
        });
        weak.iter().take(2).map(|c| c.reason.clone()).collect()
    };
    let arr_words = match f.arr {
        Some(m) => format!("{} ARR", short_money(m)),
        None => "ARR unknown".to_string(),
    };
    let risk_words = match &i.churn_target {
        Some(_) => format!("{:.0}% churn risk", i.churn * 100.0),
        None => format!("risk proxy {:.2}", i.churn),
    };
    let lead = if growth {
        format!(
            "{arr_words}, {:.0}% likely to expand",
            i.expansion.unwrap_or(0.0) * 100.0
        )
    } else if causes.is_empty() {
        format!(
            "{arr_words}, healthy ({:.0}): no component below 70",
            a.health
        )
    } else {
        format!("{arr_words}, {risk_words}, health {:.0}", a.health)
    };
    let mut why = lead;
    if !causes.is_empty() {
        why.push_str(": ");
        why.push_str(&causes.join("; "));
    }
    // What happened lately that a CSM asks about first, when the causes do not already say it.
    if !growth {
        let said = why.to_lowercase();
        let count = |v: Option<f64>| v.filter(|n| *n >= 1.0).map(|n| n as i64);
        let mut recent = Vec::new();
        if let Some(d) = f.key_contact_left_days {
            if !said.contains("champion") && !said.contains("sponsor") {
                recent.push(format!("a champion or sponsor left {d} days ago"));
            }
        }
        if let Some(n) = count(f.payment_failures_90d).filter(|_| !said.contains("payment")) {
            recent.push(format!(
                "{n} failed payment{} in 90 days",
                if n == 1 { "" } else { "s" }
            ));
        }
        if let Some(n) = count(f.downgrades_180d).filter(|_| !said.contains("downgrade")) {
            recent.push(format!(
                "{n} seat reduction{} or downgrade{} in 180 days",
                if n == 1 { "" } else { "s" },
                if n == 1 { "" } else { "s" }
            ));
        }
        if let Some(n) = count(f.escalations_90d).filter(|_| !said.contains("escalat")) {
            recent.push(format!(
                "{n} escalation{} in 90 days",
                if n == 1 { "" } else { "s" }
            ));
        }
        if !recent.is_empty() {
            why.push_str("; lately ");
            why.push_str(&recent.join(", "));
        }
    }
    // The other direction when it weighs too: growth behind a risk, or risk behind a growth.
    if !growth && expansion_part >= 0.25 * churn_part && expansion_part > 0.0 {
        if let Some(e) = &expansion {
            let d = top_drivers(e.prediction);
            if let Some(first) = d.first() {
                why.push_str(&format!(
                    "; {:.0}% likely to expand: {first}",
                    e.prediction.probability * 100.0
                ));
            }
        }
    } else if growth && churn_part >= 0.25 * expansion_part && churn_part > 0.0 {
        if let Some(c) = &churn {
            if let Some(first) = top_drivers(c.prediction).first() {
                why.push_str(&format!("; {risk_words}: {first}"));
            }
        }
    }
    // Why now: the signals the day holds, and the renewal.
    let mut now = Vec::new();
    let mut open = active.clone();
    open.sort_by(|x, y| {
        y.severity
            .cmp(&x.severity)
            .then(y.detected_at.cmp(&x.detected_at))
            .then(x.kind.cmp(&y.kind))
    });
    for s in open.iter().take(2) {
        let age = f.as_of.0 - s.detected_at.0;
        now.push(format!(
            "{} ({}) {}",
            s.kind.replace('_', " "),
            s.severity,
            match age {
                a if a <= 0 => "detected today".to_string(),
                1 => "detected yesterday".to_string(),
                a => format!("detected {a} days ago"),
            }
        ));
    }
    if open.len() > 2 {
        now.push(format!("{} more signals", open.len() - 2));
    }
    if let Some(d) = f.days_to_renewal.filter(|d| *d <= 120) {
        now.push(format!("renews in {d} days"));
    }
    if !now.is_empty() {
        why.push_str("; now: ");
        why.push_str(&now.join(", "));
    }
    why.push('.');
    i.why = why;
    // The play: the most severe open signal's of the leading direction, else one for the direction.
    i.play = open
        .iter()
        .find(|s| s.direction == direction)
        .or(open.first())
        .map(|s| s.suggested_action.clone())
        .unwrap_or_else(|| {
            if growth {
                format!(
                    "Offer the expansion: show the sponsor the usage behind it and price it ({}).",
                    i.potential_basis
                )
            } else if causes.is_empty() {
                "Keep the regular cadence: no call needed this week.".to_string()
            } else {
                "Call the champion: learn what changed behind the causes above and agree a recovery plan with dates."
                    .to_string()
            }
        });
    i
}

/// The texts of a prediction's three largest drivers toward its outcome.
fn top_drivers(p: &Prediction) -> Vec<String> {
    p.drivers
        .iter()
        .filter(|d| d.points > 0.5)
        .take(3)
        .map(|d| d.text.clone())
        .collect()
}

/// Puts an impact on an assessment: its priority under `attention` ([`priority`]) and its reason (the
/// impact's `why`).
pub fn rank(a: &mut Assessment, impact: Impact, attention: &Attention) {
    a.churn_probability = impact.churn_target.is_some().then_some(impact.churn);
    a.priority = priority(&impact, attention);
    a.reason = impact.why.clone();
    a.impact = Some(impact);
}

/// One line of a worklist.
#[derive(Clone, Debug, Serialize)]
pub struct WorklistItem {
    /// 1-based rank.
    pub rank: usize,
    /// The account.
    pub account_id: String,
    /// Its owner.
    pub owner: Option<String>,
    /// The day of the assessment this line comes from.
    pub as_of: bellwether_core::Day,
    /// Health 0–100.
    pub health: f64,
    /// Risk proxy 0–1 (not a probability).
    pub risk_proxy: f64,
    /// The default target's churn probability, when a model has scored the day.
    pub churn_probability: Option<f64>,
    /// The expected impact of a call, in major units of the reporting currency (see [`priority`]).
    pub priority: f64,
    /// The priority's arithmetic in words (see [`arithmetic`]).
    pub arithmetic: String,
    /// ARR in minor units of the reporting currency.
    pub arr_minor: Option<i64>,
    /// Why this account, and why now, in one sentence.
    pub reason: String,
    /// The recommended play.
    pub play: Option<String>,
    /// What the priority was computed from.
    pub impact: Option<Impact>,
    /// Whether every active signal is acknowledged or snoozed when the list was read.
    pub acknowledged: bool,
    /// The day every active signal is snoozed until, when they all are.
    pub snoozed_until: Option<Day>,
    /// Why the first of those snoozes to end was set.
    pub snooze_reason: Option<String>,
}

/// The top `limit` accounts of an owner (all owners with `None`), highest priority first, each priority
/// computed from its assessment's impact under the `attention` its signals have now (none when absent).
/// Assessments stored without an impact keep their stored priority.
pub fn worklist(
    assessments: &[Assessment],
    owner: Option<&str>,
    limit: usize,
    attention: &HashMap<AccountId, Attention>,
) -> Vec<WorklistItem> {
    let none = Attention::default();
    let mut rows: Vec<(f64, &Assessment, &Attention)> = assessments
        .iter()
        .filter(|a| owner.is_none_or(|o| a.owner.as_deref() == Some(o)))
        .map(|a| {
            let at = attention.get(&a.account_id).unwrap_or(&none);
            let p = a.impact.as_ref().map_or(a.priority, |i| priority(i, at));
            (p, a, at)
        })
        .collect();
    rows.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| a.1.account_id.cmp(&b.1.account_id))
    });
    rows.into_iter()
        .take(limit)
        .enumerate()
        .map(|(k, (p, a, at))| WorklistItem {
            rank: k + 1,
            account_id: a.account_id.to_string(),
            owner: a.owner.clone(),
            as_of: a.as_of,
            health: a.health,
            risk_proxy: a.risk_proxy,
            churn_probability: a.churn_probability,
            priority: p,
            arithmetic: match &a.impact {
                Some(i) => arithmetic(i, at),
                None => format!("{:.0} at stake", a.priority),
            },
            arr_minor: a.arr_minor,
            reason: a.reason.clone(),
            play: a.impact.as_ref().map(|i| i.play.clone()),
            impact: a.impact.clone(),
            acknowledged: at.acknowledged,
            snoozed_until: at.snoozed_until,
            snooze_reason: at.snooze_reason.clone(),
        })
        .collect()
}

/// Reads a worklist from the store: the current assessments of `owner` (every account with `None`) and
/// the statuses of their active signals now, ranked by [`worklist`].
pub async fn read<S: Store + ?Sized>(
    store: &S,
    owner: Option<&str>,
    limit: usize,
) -> bellwether_store::Result<Vec<WorklistItem>> {
    let rows = match owner {
        Some(o) => store.owner_assessments(o).await?,
        None => store.assessments(None).await?,
    };
    let signals = store
        .signals(SignalFilter {
            accounts: owner.map(|_| rows.iter().map(|a| a.account_id.clone()).collect()),
            statuses: SignalStatus::ACTIVE.to_vec(),
            ..Default::default()
        })
        .await?;
    let mut by: HashMap<&AccountId, Vec<&Signal>> = HashMap::new();
    for s in &signals {
        by.entry(&s.account_id).or_default().push(s);
    }
    let day: HashMap<&AccountId, Day> = rows.iter().map(|a| (&a.account_id, a.as_of)).collect();
    let attention: HashMap<AccountId, Attention> = by
        .into_iter()
        .filter_map(|(id, ss)| {
            let d = *day.get(id)?;
            Some((id.clone(), Attention::of(ss, d)))
        })
        .collect();
    Ok(worklist(&rows, owner, limit, &attention))
}

/// The owner with the most at stake (the sum of their accounts' priorities): the demo's choice of whose list to show.
pub fn busiest_owner(assessments: &[Assessment]) -> Option<String> {
    let mut by: BTreeMap<&str, f64> = BTreeMap::new();
    for a in assessments {
        if let Some(o) = &a.owner {
            *by.entry(o).or_default() += a.priority;
        }
    }
    by.into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(o, _)| o.to_string())
}

/// A share as a percentage a reader can use: one decimal below 10% (`0.4%`), none above (`43%`).
fn share(x: f64) -> String {
    let p = x * 100.0;
    if p > 0.0 && p < 9.95 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

/// A paragraph for the leader: size of the book, health, ARR at risk and renewals in danger. ARR is summed in
/// the assessments' reporting currency, `reporting`.
pub fn portfolio_summary(
    assessments: &[Assessment],
    ended: usize,
    reporting: bellwether_core::Currency,
) -> String {
    let n = assessments.len();
    if n == 0 {
        return "No active accounts to summarise.".to_string();
    }
    let arr: i64 = assessments.iter().filter_map(|a| a.arr_minor).sum();
    let at_risk: Vec<&Assessment> = assessments.iter().filter(|a| a.health < 50.0).collect();
    let risk_arr: i64 = at_risk.iter().filter_map(|a| a.arr_minor).sum();
    let watch = assessments
        .iter()
        .filter(|a| (50.0..70.0).contains(&a.health))
        .count();
    let mean = assessments.iter().map(|a| a.health).sum::<f64>() / n as f64;
    let renewing_at_risk = at_risk
        .iter()
        .filter(|a| {
            a.impact
                .as_ref()
                .and_then(|i| i.days_to_renewal)
                .is_some_and(|d| d <= 120)
                || a.impact.is_none() && a.reason.contains("renews in")
        })
        .count();
    let owners: std::collections::BTreeSet<_> = assessments
        .iter()
        .filter_map(|a| a.owner.as_deref())
        .collect();
    let mut causes: BTreeMap<&str, usize> = BTreeMap::new();
    for a in &at_risk {
        if let Some(c) = a
            .components
            .iter()
            .min_by(|x, y| x.score.total_cmp(&y.score))
        {
            *causes.entry(c.name.as_str()).or_default() += 1;
        }
    }
    let mut causes: Vec<_> = causes.into_iter().collect();
    causes.sort_by_key(|c| std::cmp::Reverse(c.1));
    let cause_text = causes
        .iter()
        .take(3)
        .map(|(c, k)| format!("{c} ({k})"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{n} active accounts worth {} ARR across {} CSMs{}; mean health {mean:.0}. {} accounts ({} of ARR, {}) are at risk with health below 50, \
         {renewing_at_risk} of them renewing within 120 days; {watch} more are on watch (50–69). The weakest areas among at-risk accounts: {}. \
         Health here is the rules score and its risk is a proxy, not a probability.",
        short_money(bellwether_core::Money { minor: arr, currency: reporting }),
        owners.len(),
        if ended > 0 { format!(" ({ended} accounts had already ended and are not ranked)") } else { String::new() },
        at_risk.len(),
        share(if arr > 0 { risk_arr as f64 / arr as f64 } else { 0.0 }),
        short_money(bellwether_core::Money { minor: risk_arr, currency: reporting }),
        if cause_text.is_empty() { "none".to_string() } else { cause_text },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use bellwether_core::model::SignalStatus;

    fn impact() -> Impact {
        Impact {
            currency: "USD".into(),
            arr: 120_000.0,
            churn: 0.25,
            churn_target: Some("churn before the next renewal".into()),
            expansion: Some(0.5),
            expansion_target: Some("an expansion within 180 days".into()),
            potential: 20_000.0,
            potential_basis: "5 seats beyond the 30 bought at $4k a seat".into(),
            ..Default::default()
        }
    }

    fn signal(status: SignalStatus, detected: i32, severity: Severity) -> Signal {
        Signal {
            id: format!("s{detected}"),
            account_id: AccountId::from("a1"),
            kind: "usage_drop".into(),
            direction: "risk".into(),
            severity,
            detected_at: Day(detected),
            last_seen: Day(100),
            evidence: serde_json::Value::Null,
            explanation: String::new(),
            suggested_action: "Call.".into(),
            status,
            owner: None,
            resolved_at: None,
            snoozed_until: (status == SignalStatus::Snoozed).then_some(Day(110)),
            snooze_reason: (status == SignalStatus::Snoozed).then(|| "budget cycle".to_string()),
            alerted: false,
        }
    }

    #[test]
    fn priority_is_churn_at_stake_plus_expansion_at_stake_weighted_by_urgency_and_actionability() {
        let i = impact();
        // 120k × 0.25 + 20k × 0.5 = 40k, nothing urgent, nobody on it.
        assert!((priority(&i, &Attention::default()) - 40_000.0).abs() < 1e-6);
        // Renewal in 45 days: × (1 + 75/120) = 1.625; a signal 7 days old: × 1.125.
        let urgent = Impact {
            days_to_renewal: Some(45),
            signal_age_days: Some(7),
            ..i.clone()
        };
        let p = priority(&urgent, &Attention::default());
        assert!((p - 40_000.0 * 1.625 * 1.125).abs() < 1e-6, "{p}");
        // Acknowledged: × 0.7; snoozed instead: × 0.25; met 3 days ago as well: × 0.6.
        let ack = Attention {
            acknowledged: true,
            ..Default::default()
        };
        assert!((priority(&urgent, &ack) - p * 0.7).abs() < 1e-6);
        let snoozed = Attention {
            acknowledged: true,
            snoozed_until: Some(Day(110)),
            snooze_reason: Some("budget cycle".into()),
            alerted: false,
        };
        assert!((priority(&urgent, &snoozed) - p * 0.25).abs() < 1e-6);
        assert_eq!(
            actionability(&urgent, &snoozed).1,
            ["snoozed until 1970-04-21 — budget cycle"]
        );
        let met = Impact {
            days_since_contact: Some(3),
            ..urgent.clone()
        };
        assert!((priority(&met, &ack) - p * 0.7 * 0.6).abs() < 1e-6);
        // The printed arithmetic multiplies out to the same figure.
        let text = arithmetic(&met, &ack);
        assert!(
            text.starts_with("$120k ARR × 25.0% churn before the next renewal + $20.0k potential"),
            "{text}"
        );
        assert!(
            text.contains("× 1.83 (renews in 45 days, signal 7 days old)"),
            "{text}"
        );
        assert!(
            text.contains("× 0.42 (acknowledged, met 3 days ago)"),
            "{text}"
        );
        assert!(
            text.ends_with(&format!("= {}", money(priority(&met, &ack), Currency::USD))),
            "{text}"
        );
    }

    #[test]
    fn attention_comes_from_the_active_signals_as_they_stand() {
        let day = Day(100);
        assert_eq!(Attention::of(&[], day), Attention::default());
        let open = signal(SignalStatus::Open, 100, Severity::High);
        let ack = signal(SignalStatus::Acknowledged, 90, Severity::Medium);
        let snoozed = signal(SignalStatus::Snoozed, 80, Severity::Medium);
        let old_high = signal(SignalStatus::Open, 95, Severity::Critical);
        // One open signal nobody took: not acknowledged; opened today: not yet alerted before the day.
        assert_eq!(Attention::of([&open, &ack], day), Attention::default());
        let both = Attention::of([&ack, &snoozed], day);
        assert!(both.acknowledged && both.snoozed_until.is_none() && !both.alerted);
        let all_snoozed = Attention::of([&snoozed], day);
        assert_eq!(all_snoozed.snoozed_until, Some(Day(110)));
        // A snooze that has run out no longer counts.
        assert_eq!(Attention::of([&snoozed], Day(111)).snoozed_until, None);
        assert!(Attention::of([&old_high], day).alerted);
        let resolved = signal(SignalStatus::Resolved, 50, Severity::Critical);
        assert_eq!(Attention::of([&resolved], day), Attention::default());
    }

    #[test]
    fn expansion_potential_is_the_seats_the_users_need_at_the_price_of_a_seat() {
        let (p, basis) = expansion_potential(120_000.0, Some(30), Some(32.0), None, Currency::USD);
        // 32 users × 1.1 → 36 seats needed, 6 beyond the 30 bought, at $4k a seat.
        assert!((p - 24_000.0).abs() < 1e-6, "{p}");
        assert_eq!(basis, "6 seats beyond the 30 bought at $4.00k a seat");
        let (p, _) = expansion_potential(120_000.0, Some(30), Some(10.0), None, Currency::USD);
        assert_eq!(p, 0.0, "room to spare: no seats to sell");
        let (p, basis) = expansion_potential(120_000.0, None, None, None, Currency::USD);
        assert!((p - 24_000.0).abs() < 1e-6);
        assert!(basis.contains("typical"), "{basis}");
        // Where the segment's accounts expanded, their median says what one is worth.
        let (p, basis) = expansion_potential(120_000.0, None, None, Some(0.15), Currency::USD);
        assert!((p - 18_000.0).abs() < 1e-6, "{p}");
        assert_eq!(basis, "the segment's median expansion, 15% of ARR");
    }

    #[test]
    fn a_read_ranks_by_the_attention_of_the_moment() {
        let a = |id: &str, arr: f64| Assessment {
            account_id: AccountId::from(id),
            as_of: Day(100),
            health: 40.0,
            components: Vec::new(),
            risk_proxy: 0.5,
            churn_probability: None,
            priority: 0.0,
            reason: String::new(),
            owner: Some("ann".into()),
            arr_minor: None,
            impact: Some(Impact {
                arr,
                churn: 0.5,
                ..Default::default()
            }),
        };
        let rows = [a("big", 100_000.0), a("small", 80_000.0)];
        let first = worklist(&rows, Some("ann"), 10, &HashMap::new());
        assert_eq!(first[0].account_id, "big");
        let mut on_it = HashMap::new();
        on_it.insert(
            AccountId::from("big"),
            Attention {
                acknowledged: true,
                ..Default::default()
            },
        );
        let after = worklist(&rows, Some("ann"), 10, &on_it);
        assert_eq!(
            after[0].account_id, "small",
            "acknowledging moves the account down"
        );
        assert!(after[1].acknowledged);
        assert!((after[1].priority - 35_000.0).abs() < 1e-6);
    }
    #[test]
    fn small_shares_keep_a_decimal() {
        assert_eq!(super::share(0.0043), "0.4%");
        assert_eq!(super::share(0.43), "43%");
        assert_eq!(super::share(0.0), "0%");
    }
}

//! Which signals matter, judged on the book's own history and outcomes (`bellwether signals report`): for
//! each detector kind, and for each alert rule (a kind at one severity at or above the one that alerts), how
//! often its signals were followed by the outcome they warn of, how much more often than for any customer at
//! the same time, how many days ahead, and how loud it is per CSM; then what the alerts cost against a
//! budget of alerts per CSM per week, and which rules spend it. A team reads it to keep the signals that carry
//! information and mute or retune the rest.
//!
//! This is not [`bellwether_engine::evaluate`], which scores a replay against a simulator's hidden stories:
//! here the only truth is the outcomes the book itself recorded (imported, or derived from subscriptions, as
//! [`Timeline`] reads them for model labels), so it works on a real book.
//!
//! The figures, for one row:
//!
//! - **judged**: signals detected at least the horizon before the end of the data, so the window after them
//!   has closed (plus the grace period when some account's outcomes are derived from its subscriptions: such
//!   a churn is confirmed only then; one cut-off for every account, so accounts with imported outcomes are
//!   not judged sooner than the rest); the rest are **unjudged** and left out of precision, base rate, lift
//!   and warning (they still count in volume).
//! - **hit**: a judged signal followed by the outcome of its direction within the horizon, from its detection
//!   day: a churn or a contraction for a risk signal, an expansion for an expansion signal.
//! - **precision** = hits / judged.
//! - **base rate**: for every customer on the first day of each week of the report (an account whose contract
//!   or first subscription had begun, and that had not churned before that day), whether the same outcome
//!   followed within the horizon; a week's base rate is the share of its customers with one. A row's base
//!   rate is the mean of the weekly rates over its judged signals, each signal taking its own week's: the
//!   precision a signal fired on a customer picked at random, at the same times, would have had. Weeks when
//!   churn was common weigh as much as the signals that fell in them, so a detector is not credited for firing
//!   in a bad quarter.
//! - **lift** = precision / base rate: 1 is chance; 3 means the outcome followed three times as often.
//! - **median warning**: days from detection to the outcome, over the hits.
//! - **per CSM per week**: the row's signals / (CSMs × weeks of the report), CSMs being the owners of the
//!   accounts that were customers during it and the owners the signals were routed to.
//! - **verdict**: [`Verdict`], from the judged count, the lift and the warning (see [`verdict`]).
//!
//! The budget: an alert is a signal at or above the alerting severity (`[delivery] min_severity`, passed in),
//! one when it opens; the budget is a number of alerts per CSM per week. The report gives the book's average
//! and the loudest CSM's, whether each is over, and the rules that spend them, loudest first. Rules admitted
//! best lift first, each only if no CSM's alerts then go over the budget, are marked as fitting: the alerts a
//! budget of that size would keep (a rule no better than chance never fits; one with too few judged signals
//! is not ranked).
//!
//! A stored signal carries its latest severity, not the one it opened with, so a signal that escalated counts
//! at its later severity.

use crate::labels::{Outcomes, Timeline};
use bellwether_core::history::attr;
use bellwether_core::model::{Severity, Signal};
use bellwether_core::{AccountId, Day};
use bellwether_features::peers::median;
use bellwether_store::{AccountFacts, Book};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The horizon a signal is judged over, by default: 90 days, the warning that matters in customer success.
pub const DEFAULT_HORIZON_DAYS: i32 = 90;
/// Alerts per CSM per week a team can act on, by default.
pub const DEFAULT_BUDGET: f64 = 5.0;
/// Judged signals a row needs before it gets a verdict other than [`Verdict::TooFew`].
pub const MIN_JUDGED: usize = 20;
/// Below this lift a signal is no better than chance: [`Verdict::Mute`].
pub const MUTE_BELOW_LIFT: f64 = 1.2;
/// From this lift a signal carries information worth a CSM's attention; between the two, [`Verdict::Retune`].
pub const KEEP_FROM_LIFT: f64 = 1.5;
/// A median warning shorter than this is too late to change the outcome: [`Verdict::Retune`].
pub const LATE_WARNING_DAYS: f64 = 21.0;

/// What the report is asked.
#[derive(Clone, Debug)]
pub struct ReportConfig {
    /// Days after detection the outcome must fall within.
    pub horizon_days: i32,
    /// The lowest severity that alerts (`[delivery] min_severity`, default high).
    pub min_alert_severity: Severity,
    /// Alerts per CSM per week.
    pub budget: f64,
    /// Only signals detected on or after this day (default: from the first stored signal).
    pub since: Option<Day>,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            horizon_days: DEFAULT_HORIZON_DAYS,
            min_alert_severity: Severity::High,
            budget: DEFAULT_BUDGET,
            since: None,
        }
    }
}

/// What to do with a signal kind or an alert rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// It carries information, early enough to act on.
    Keep,
    /// It carries some, or too late: tighten its threshold, change its severity, or make it fire earlier.
    Retune,
    /// No better than chance.
    Mute,
    /// Too few judged signals to tell.
    TooFew,
}

impl Verdict {
    /// The verdict's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Keep => "keep",
            Verdict::Retune => "retune",
            Verdict::Mute => "mute",
            Verdict::TooFew => "too few",
        }
    }
}

/// One detector kind, or one alert rule (a kind at one severity).
#[derive(Clone, Debug, Serialize)]
pub struct SignalRow {
    /// The detector's kind.
    pub kind: String,
    /// The severity of an alert rule; `None` for a kind's row (every severity).
    pub severity: Option<Severity>,
    /// `risk` or `expansion`.
    pub direction: String,
    /// Signals detected in the report's span.
    pub signals: usize,
    /// Accounts they fell on.
    pub accounts: usize,
    /// Signals whose window had closed by the end of the data.
    pub judged: usize,
    /// Signals too recent to judge.
    pub unjudged: usize,
    /// Judged signals followed by their outcome within the horizon.
    pub hits: usize,
    /// `hits / judged`.
    pub precision: Option<f64>,
    /// The same outcome's rate among all customers at the judged signals' weeks.
    pub base_rate: Option<f64>,
    /// `precision / base_rate`.
    pub lift: Option<f64>,
    /// Median days from detection to the outcome, over the hits.
    pub median_warning_days: Option<f64>,
    /// Signals per CSM per week.
    pub per_csm_week: f64,
    /// What to do with it.
    pub verdict: Verdict,
    /// Why, in words.
    pub reason: String,
}

/// One alert rule's share of the alerts.
#[derive(Clone, Debug, Serialize)]
pub struct RuleSpend {
    /// The kind.
    pub kind: String,
    /// The severity.
    pub severity: Severity,
    /// Alerts it sent.
    pub alerts: usize,
    /// Alerts per CSM per week (for one CSM: that CSM's per week).
    pub per_csm_week: f64,
    /// Its share of the alerts.
    pub share: f64,
    /// The rule's lift, book-wide.
    pub lift: Option<f64>,
    /// Whether it fits in the budget when rules are admitted best lift first, each only while every CSM's
    /// alerts stay within it (book-wide only): never for a rule to mute (no better than chance), `None` for
    /// one with too few judged signals to rank.
    pub fits_budget: Option<bool>,
}

/// One CSM's alerts.
#[derive(Clone, Debug, Serialize)]
pub struct CsmSpend {
    /// The owner.
    pub owner: String,
    /// Alerts routed to them.
    pub alerts: usize,
    /// Per week.
    pub per_week: f64,
    /// Whether that is over the budget.
    pub over_budget: bool,
    /// The rules that spend it, loudest first.
    pub rules: Vec<RuleSpend>,
}

/// Alerts against the budget.
#[derive(Clone, Debug, Serialize)]
pub struct Budget {
    /// The budget: alerts per CSM per week.
    pub budget: f64,
    /// The lowest severity that alerts.
    pub min_severity: Severity,
    /// Alerts in the report's span.
    pub alerts: usize,
    /// Alerts per CSM per week, on average.
    pub average_per_csm_week: f64,
    /// Whether the average is over the budget.
    pub average_over_budget: bool,
    /// CSMs whose own alerts per week are over the budget.
    pub csms_over_budget: usize,
    /// The rules that spend the alerts, loudest first.
    pub rules: Vec<RuleSpend>,
    /// The CSM with the most alerts.
    pub worst: Option<CsmSpend>,
}

/// The report.
#[derive(Clone, Debug, Serialize)]
pub struct SignalReport {
    /// First day of the span (signals detected from it count).
    pub start: Day,
    /// The end of the data (the book's current day): windows closing after it are not judged.
    pub end: Day,
    /// The horizon in days.
    pub horizon_days: i32,
    /// Weeks in the span.
    pub weeks: f64,
    /// CSMs.
    pub csms: usize,
    /// Signals in the span.
    pub signals: usize,
    /// Of those, judged.
    pub judged: usize,
    /// Of those, too recent to judge.
    pub unjudged: usize,
    /// Share of customer-weeks followed by a churn or contraction within the horizon, over the judged weeks.
    pub risk_base_rate: Option<f64>,
    /// Share followed by an expansion.
    pub expansion_base_rate: Option<f64>,
    /// Customer-weeks the base rates count.
    pub customer_weeks: usize,
    /// Per detector kind.
    pub kinds: Vec<SignalRow>,
    /// Per alert rule (kind and severity at or above the alerting one), loudest first.
    pub rules: Vec<SignalRow>,
    /// Alerts against the budget.
    pub budget: Budget,
    /// What the reader should know about the figures (a span shorter than the horizon, no owners).
    pub notes: Vec<String>,
}

/// The outcome a signal of `direction` warns of.
fn outcome_of(direction: &str) -> Outcomes {
    if direction == "expansion" {
        Outcomes::Expansion
    } else {
        Outcomes::Loss
    }
}

/// The latest value of an attribute, whatever its date.
fn latest<'a>(facts: &'a AccountFacts, name: &str) -> Option<&'a str> {
    facts
        .attrs
        .iter()
        .filter(|f| f.attr == name)
        .max_by_key(|f| (f.valid_from, f.received_at))
        .and_then(|f| f.value.as_deref())
}

/// What the report needs of one account.
struct AccountOutcomes {
    timeline: Timeline,
    /// Days its outcomes take to be confirmed: the grace period when they are derived from subscriptions.
    lag: i32,
    /// The day it became a customer, when known (a contract start, or its first subscription).
    started: Option<Day>,
    owner: Option<String>,
}

impl AccountOutcomes {
    fn of(facts: &AccountFacts) -> AccountOutcomes {
        let contract = latest(facts, attr::CONTRACT_START).and_then(|d| Day::parse(d).ok());
        let first_sub = facts.subscriptions.iter().map(|s| s.start).min();
        let timeline = Timeline::of(facts);
        // An account with neither outcomes nor subscriptions has nothing to confirm.
        let lag = if facts.outcomes.is_empty() && facts.subscriptions.is_empty() {
            0
        } else {
            timeline.confirmation_lag()
        };
        AccountOutcomes {
            timeline,
            lag,
            started: [contract, first_sub].into_iter().flatten().min(),
            owner: latest(facts, attr::OWNER).map(String::from),
        }
    }

    /// Whether it was a customer on `day`: begun (or never dated), and not churned before.
    fn customer_on(&self, day: Day) -> bool {
        self.started.is_none_or(|s| s <= day) && self.timeline.churn.is_none_or(|c| c >= day)
    }
}

/// What to do with a row, and why.
pub fn verdict(
    judged: usize,
    unjudged: usize,
    lift: Option<f64>,
    warning: Option<f64>,
    horizon: i32,
) -> (Verdict, String) {
    if judged < MIN_JUDGED {
        let why = if judged == 0 && unjudged > 0 {
            format!("all {unjudged} too recent to judge (detected less than {horizon} days before the data ends)")
        } else {
            format!("only {judged} judged signals ({MIN_JUDGED} needed): too few to tell")
        };
        return (Verdict::TooFew, why);
    }
    let Some(lift) = lift else {
        return (
            Verdict::TooFew,
            "no customer had this outcome in these weeks: no base rate to compare with".into(),
        );
    };
    if lift < MUTE_BELOW_LIFT {
        return (
            Verdict::Mute,
            format!("lift {lift:.1}: no better than chance within {horizon} days; mute it, or retune it"),
        );
    }
    if lift < KEEP_FROM_LIFT {
        return (
            Verdict::Retune,
            format!("lift {lift:.1}: weak; tighten its threshold, or lower its severity so it does not alert"),
        );
    }
    match warning {
        Some(w) if w < LATE_WARNING_DAYS => (
            Verdict::Retune,
            format!(
                "lift {lift:.1}, but a median {w:.0} days of warning: too late to act on; make it fire earlier"
            ),
        ),
        Some(w) => (
            Verdict::Keep,
            format!("lift {lift:.1} with a median {w:.0} days of warning: carries information"),
        ),
        None => (
            Verdict::Keep,
            format!("lift {lift:.1}: carries information"),
        ),
    }
}

#[derive(Default)]
struct Tally {
    direction: String,
    signals: usize,
    accounts: BTreeSet<AccountId>,
    judged: usize,
    hits: usize,
    base: Vec<f64>,
    warnings: Vec<f64>,
}

impl Tally {
    fn row(
        &self,
        kind: &str,
        severity: Option<Severity>,
        per_signal_week: f64,
        horizon: i32,
    ) -> SignalRow {
        let precision = (self.judged > 0).then(|| self.hits as f64 / self.judged as f64);
        let base_rate =
            (!self.base.is_empty()).then(|| self.base.iter().sum::<f64>() / self.base.len() as f64);
        let lift = match (precision, base_rate) {
            (Some(p), Some(b)) if b > 0.0 => Some(p / b),
            _ => None,
        };
        let median_warning_days = median(&self.warnings);
        let unjudged = self.signals - self.judged;
        let (verdict, reason) = verdict(self.judged, unjudged, lift, median_warning_days, horizon);
        SignalRow {
            kind: kind.to_string(),
            severity,
            direction: self.direction.clone(),
            signals: self.signals,
            accounts: self.accounts.len(),
            judged: self.judged,
            unjudged,
            hits: self.hits,
            precision,
            base_rate,
            lift,
            median_warning_days,
            per_csm_week: self.signals as f64 * per_signal_week,
            verdict,
            reason,
        }
    }
}

/// The report over `signals` (as stored: each in its latest state), judged against `book`'s outcomes, with
/// `end` the end of the data (the book's current day).
pub fn report(signals: &[Signal], book: &Book, end: Day, cfg: &ReportConfig) -> SignalReport {
    let horizon = cfg.horizon_days.max(1);
    let signals: Vec<&Signal> = signals
        .iter()
        .filter(|s| cfg.since.is_none_or(|d| s.detected_at >= d) && s.detected_at <= end)
        .collect();
    let start = cfg
        .since
        .or_else(|| signals.iter().map(|s| s.detected_at).min())
        .unwrap_or(end)
        .min(end);
    // Days assessed, the first and the last (the book's current day) included.
    let span_days = end.0 - start.0 + 1;
    let weeks = span_days as f64 / 7.0;
    let week_of = |d: Day| ((d.0 - start.0) / 7) as usize;
    let n_weeks = (span_days as usize).div_ceil(7);

    // Every customer on the first day of each week: whether the outcome of each direction followed.
    let accounts: HashMap<&AccountId, AccountOutcomes> = book
        .accounts
        .iter()
        .map(|(id, f)| (id, AccountOutcomes::of(f)))
        .collect();
    // One cut-off for every account: a window is judged once it has closed and the slowest outcome in the
    // book is confirmed (judging accounts with imported outcomes sooner than the rest would over-represent
    // the accounts that have outcomes near the end of the data).
    let lag = accounts.values().map(|a| a.lag).max().unwrap_or(0);
    let judged_by = |from: Day| from.plus(horizon + lag) <= end;
    let mut customers = vec![0usize; n_weeks];
    let mut losses = vec![0usize; n_weeks];
    let mut expansions = vec![0usize; n_weeks];
    let mut owners: BTreeSet<&str> = BTreeSet::new();
    for a in accounts.values() {
        let mut was_customer = false;
        for w in 0..n_weeks {
            let day = start.plus(7 * w as i32);
            if !a.customer_on(day) {
                continue;
            }
            was_customer = true;
            if !judged_by(day) {
                continue;
            }
            customers[w] += 1;
            let window = day.plus(horizon);
            losses[w] += a.timeline.first_in(Outcomes::Loss, day, window).is_some() as usize;
            expansions[w] += a
                .timeline
                .first_in(Outcomes::Expansion, day, window)
                .is_some() as usize;
        }
        if was_customer {
            owners.extend(a.owner.as_deref());
        }
    }
    owners.extend(signals.iter().filter_map(|s| s.owner.as_deref()));
    let csms = owners.len();
    let mut notes = Vec::new();
    if csms == 0 {
        notes
            .push("no account has an owner: volumes are for the whole book as one CSM".to_string());
    }
    let per_signal_week = 1.0 / (csms.max(1) as f64 * weeks);
    let rate = |counts: &[usize], w: usize| {
        (customers[w] > 0).then(|| counts[w] as f64 / customers[w] as f64)
    };
    let pooled = |counts: &[usize]| {
        let n: usize = customers.iter().sum();
        (n > 0).then(|| counts.iter().sum::<usize>() as f64 / n as f64)
    };

    let mut kinds: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut rules: BTreeMap<(&str, Severity), Tally> = BTreeMap::new();
    let no_outcomes = AccountOutcomes {
        timeline: Timeline::default(),
        lag: 0,
        started: None,
        owner: None,
    };
    let mut judged_all = 0;
    for s in &signals {
        let a = accounts.get(&s.account_id).unwrap_or(&no_outcomes);
        let which = outcome_of(&s.direction);
        let judged = judged_by(s.detected_at);
        let outcome = judged
            .then(|| {
                a.timeline
                    .first_in(which, s.detected_at, s.detected_at.plus(horizon))
            })
            .flatten();
        let base = if judged {
            let w = week_of(s.detected_at).min(n_weeks.saturating_sub(1));
            match which {
                Outcomes::Expansion => rate(&expansions, w),
                _ => rate(&losses, w),
            }
        } else {
            None
        };
        judged_all += judged as usize;
        let mut tallies = vec![kinds.entry(s.kind.as_str()).or_default()];
        if s.severity >= cfg.min_alert_severity {
            tallies.push(rules.entry((s.kind.as_str(), s.severity)).or_default());
        }
        for t in tallies {
            if t.direction.is_empty() {
                t.direction = s.direction.clone();
            }
            t.signals += 1;
            t.accounts.insert(s.account_id.clone());
            if judged {
                t.judged += 1;
                t.base.extend(base);
                if let Some(o) = outcome {
                    t.hits += 1;
                    t.warnings.push((o.0 - s.detected_at.0) as f64);
                }
            }
        }
    }
    if !signals.is_empty() && judged_all == 0 {
        notes.push(format!(
            "no signal is old enough to judge: the stored signals span {span_days} days and each needs {horizon} \
             days after it{}; build the history with `bellwether assess --from DAY --step 7` on a fresh import",
            if lag > 0 {
                format!(" (and {lag} more to confirm outcomes derived from subscriptions)")
            } else {
                String::new()
            }
        ));
    }

    let lift_order = |a: &SignalRow, b: &SignalRow| {
        let l = |r: &SignalRow| r.lift.unwrap_or(f64::NEG_INFINITY);
        l(b).total_cmp(&l(a)).then(a.kind.cmp(&b.kind))
    };
    let mut kind_rows: Vec<SignalRow> = kinds
        .iter()
        .map(|(k, t)| t.row(k, None, per_signal_week, horizon))
        .collect();
    kind_rows.sort_by(|a, b| {
        (a.direction != "risk")
            .cmp(&(b.direction != "risk"))
            .then(lift_order(a, b))
    });
    let mut rule_rows: Vec<SignalRow> = rules
        .iter()
        .map(|((k, sev), t)| t.row(k, Some(*sev), per_signal_week, horizon))
        .collect();
    rule_rows.sort_by(|a, b| {
        b.signals
            .cmp(&a.signals)
            .then(a.kind.cmp(&b.kind))
            .then(b.severity.cmp(&a.severity))
    });

    let budget = budget(
        &signals,
        &rule_rows,
        cfg,
        csms.max(1),
        weeks,
        per_signal_week,
    );
    SignalReport {
        start,
        end,
        horizon_days: horizon,
        weeks,
        csms,
        signals: signals.len(),
        judged: judged_all,
        unjudged: signals.len() - judged_all,
        risk_base_rate: pooled(&losses),
        expansion_base_rate: pooled(&expansions),
        customer_weeks: customers.iter().sum(),
        kinds: kind_rows,
        rules: rule_rows,
        budget,
        notes,
    }
}

fn budget(
    signals: &[&Signal],
    rules: &[SignalRow],
    cfg: &ReportConfig,
    csms: usize,
    weeks: f64,
    per_signal_week: f64,
) -> Budget {
    let alerts: Vec<&&Signal> = signals
        .iter()
        .filter(|s| s.severity >= cfg.min_alert_severity)
        .collect();
    let total = alerts.len();
    let row_of = |kind: &str, sev: Severity| {
        rules
            .iter()
            .find(|r| r.kind == kind && r.severity == Some(sev))
    };
    let spend = |counts: BTreeMap<(&str, Severity), usize>, per: f64| {
        let n: usize = counts.values().sum();
        let mut out: Vec<RuleSpend> = counts
            .into_iter()
            .map(|((kind, severity), alerts)| RuleSpend {
                kind: kind.to_string(),
                severity,
                alerts,
                per_csm_week: alerts as f64 * per,
                share: alerts as f64 / n.max(1) as f64,
                lift: row_of(kind, severity).and_then(|r| r.lift),
                fits_budget: None,
            })
            .collect();
        out.sort_by(|a, b| {
            b.alerts
                .cmp(&a.alerts)
                .then(a.kind.cmp(&b.kind))
                .then(b.severity.cmp(&a.severity))
        });
        out
    };
    let mut book_counts: BTreeMap<(&str, Severity), usize> = BTreeMap::new();
    let mut by_owner: BTreeMap<&str, BTreeMap<(&str, Severity), usize>> = BTreeMap::new();
    for s in &alerts {
        *book_counts.entry((&s.kind, s.severity)).or_default() += 1;
        if let Some(o) = s.owner.as_deref() {
            *by_owner
                .entry(o)
                .or_default()
                .entry((&s.kind, s.severity))
                .or_default() += 1;
        }
    }
    let mut book_rules = spend(book_counts, per_signal_week);
    let per_week = |n: usize| n as f64 / weeks;
    // The rules a budget of this size keeps: best lift first, each while every CSM's alerts still fit (the
    // average when no alert names an owner). A rule no better than chance is worth no alert; one with too
    // few judged signals has no lift to rank it by.
    let mut order: Vec<usize> = (0..book_rules.len()).collect();
    order.sort_by(|a, b| {
        let l = |i: usize| book_rules[i].lift.unwrap_or(f64::NEG_INFINITY);
        l(*b).total_cmp(&l(*a))
    });
    let mut used: BTreeMap<&str, f64> = BTreeMap::new();
    let mut used_average = 0.0;
    for i in order {
        let r = &mut book_rules[i];
        match row_of(&r.kind, r.severity).map(|row| row.verdict) {
            Some(Verdict::Mute) => {
                r.fits_budget = Some(false);
                continue;
            }
            Some(Verdict::Keep | Verdict::Retune) => {}
            Some(Verdict::TooFew) | None => continue,
        }
        let key = (r.kind.as_str(), r.severity);
        let adds = |o: &str| {
            by_owner
                .get(o)
                .and_then(|c| c.get(&key))
                .map_or(0.0, |n| per_week(*n))
        };
        let fits = if by_owner.is_empty() {
            used_average + r.per_csm_week <= cfg.budget + 1e-9
        } else {
            by_owner
                .keys()
                .all(|o| used.get(o).copied().unwrap_or(0.0) + adds(o) <= cfg.budget + 1e-9)
        };
        if fits {
            used_average += r.per_csm_week;
            for o in by_owner.keys() {
                *used.entry(o).or_default() += adds(o);
            }
        }
        r.fits_budget = Some(fits);
    }
    let csms_over_budget = by_owner
        .values()
        .filter(|c| per_week(c.values().sum()) > cfg.budget)
        .count();
    let worst = by_owner
        .into_iter()
        .map(|(o, c)| (c.values().sum::<usize>(), o, c))
        .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(a.1)))
        .map(|(n, owner, counts)| CsmSpend {
            owner: owner.to_string(),
            alerts: n,
            per_week: per_week(n),
            over_budget: per_week(n) > cfg.budget,
            rules: spend(counts, 1.0 / weeks),
        });
    let average = total as f64 / (csms as f64 * weeks);
    Budget {
        budget: cfg.budget,
        min_severity: cfg.min_alert_severity,
        alerts: total,
        average_per_csm_week: average,
        average_over_budget: average > cfg.budget,
        csms_over_budget,
        rules: book_rules,
        worst,
    }
}

impl SignalReport {
    /// The report as Markdown tables, with the budget after them.
    pub fn to_markdown(&self) -> String {
        let pct = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{:.0}%", v * 100.0));
        let num = |v: Option<f64>, d: usize| v.map_or("–".to_string(), |v| format!("{v:.d$}"));
        let mut out = format!(
            "Signals detected {} to {} ({:.0} weeks, {} CSMs), judged against the book's outcomes within {} days: \
             {} signals, {} judged, {} too recent to judge. Base rates over {} customer-weeks: churn or contraction {}, \
             expansion {}.\n",
            self.start,
            self.end,
            self.weeks,
            self.csms,
            self.horizon_days,
            self.signals,
            self.judged,
            self.unjudged,
            self.customer_weeks,
            pct(self.risk_base_rate),
            pct(self.expansion_base_rate),
        );
        for n in &self.notes {
            out.push_str(&format!("\nNote: {n}.\n"));
        }
        let table = |out: &mut String, rows: &[SignalRow], first: &str| {
            out.push_str(&format!(
                "\n| {first} | direction | signals | accounts | judged | hits | precision | base rate | lift | median warning (days) | per CSM per week | verdict |\n\
                 |---|---|---|---|---|---|---|---|---|---|---|---|\n"
            ));
            for r in rows {
                let name = match r.severity {
                    Some(s) => format!("{}/{s}", r.kind),
                    None => r.kind.clone(),
                };
                out.push_str(&format!(
                    "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | **{}**: {} |\n",
                    r.direction,
                    r.signals,
                    r.accounts,
                    r.judged,
                    r.hits,
                    pct(r.precision),
                    pct(r.base_rate),
                    num(r.lift, 1),
                    num(r.median_warning_days, 0),
                    r.per_csm_week,
                    r.verdict.as_str(),
                    r.reason
                ));
            }
        };
        table(&mut out, &self.kinds, "signal kind");
        if self.rules.is_empty() {
            out.push_str(&format!(
                "\nNo signal at or above {} (the severity that alerts).\n",
                self.budget.min_severity
            ));
        } else {
            out.push_str(&format!(
                "\nAlert rules (a kind at a severity that alerts: {} or above):\n",
                self.budget.min_severity
            ));
            table(&mut out, &self.rules, "alert rule");
        }
        let b = &self.budget;
        let over = |o: bool| if o { "over" } else { "within" };
        out.push_str(&format!(
            "\nAlert budget: {} alerts per CSM per week (alerts: signals at {} or above, one when each opens).\n\n\
             - On average a CSM gets {:.2} a week: {} budget ({} alerts in all).\n",
            b.budget,
            b.min_severity,
            b.average_per_csm_week,
            over(b.average_over_budget),
            b.alerts
        ));
        if let Some(w) = &b.worst {
            out.push_str(&format!(
                "- The loudest, {}, gets {:.2} a week: {} budget; {} of {} CSMs are over it.\n",
                w.owner,
                w.per_week,
                over(w.over_budget),
                b.csms_over_budget,
                self.csms
            ));
        }
        let spend_table = |out: &mut String, rules: &[RuleSpend], per: &str, fits: bool| {
            out.push_str(&format!(
                "\n| alert rule | alerts | {per} | share | lift |{}\n|---|---|---|---|---|{}\n",
                if fits {
                    " fits the budget, best lift first |"
                } else {
                    ""
                },
                if fits { "---|" } else { "" }
            ));
            for r in rules {
                out.push_str(&format!(
                    "| {}/{} | {} | {:.2} | {:.0}% | {} |{}\n",
                    r.kind,
                    r.severity,
                    r.alerts,
                    r.per_csm_week,
                    r.share * 100.0,
                    num(r.lift, 1),
                    match r.fits_budget {
                        Some(true) if fits => " yes |",
                        Some(false) if fits => " no |",
                        None if fits => " – |",
                        _ => "",
                    }
                ));
            }
        };
        if !b.rules.is_empty() {
            out.push_str("\nWhat spends the budget, book-wide:\n");
            spend_table(&mut out, &b.rules, "per CSM per week", true);
        }
        if let Some(w) = b.worst.as_ref().filter(|w| !w.rules.is_empty()) {
            out.push_str(&format!("\nWhat spends {}'s:\n", w.owner));
            spend_table(&mut out, &w.rules, "per week", false);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bellwether_core::history::AttrFact;
    use bellwether_core::model::{Outcome, OutcomeKind, SignalStatus};
    use bellwether_core::Timestamp;

    const D0: Day = Day(20_000);

    fn d(n: i32) -> Day {
        D0.plus(n)
    }

    fn id(n: usize) -> AccountId {
        AccountId::from(format!("a{n}").as_str())
    }

    fn signal(kind: &str, direction: &str, severity: Severity, account: usize, day: i32) -> Signal {
        Signal {
            id: format!("a{account}:{kind}:{day}"),
            account_id: id(account),
            kind: kind.into(),
            direction: direction.into(),
            severity,
            detected_at: d(day),
            last_seen: d(day),
            evidence: serde_json::json!({}),
            explanation: String::new(),
            suggested_action: String::new(),
            status: SignalStatus::Open,
            owner: Some(if account < 5 { "ann" } else { "bob" }.into()),
            resolved_at: None,
            snoozed_until: None,
            snooze_reason: None,
            alerted: false,
        }
    }

    /// Ten customers (a0–a4 Ann's, a5–a9 Bob's) and one that churned before the span (Cy's): a0 churns on day
    /// 30, a1 contracts on day 50, a2 expands on day 20, a3 churns on day 200, the rest have no outcome.
    fn book() -> Book {
        let mut book = Book::default();
        let outcome = |n: usize, day: i32, kind: OutcomeKind| Outcome {
            account_id: id(n),
            date: d(day),
            kind,
            arr_delta: None,
            received_at: Timestamp(0),
        };
        for n in 0..11 {
            let owner = match n {
                0..5 => "ann",
                5..10 => "bob",
                _ => "cy",
            };
            let facts = AccountFacts {
                attrs: vec![AttrFact {
                    subject: format!("a{n}"),
                    attr: attr::OWNER.into(),
                    value: Some(owner.into()),
                    valid_from: d(-400).start(),
                    received_at: d(-400).start(),
                }],
                outcomes: match n {
                    0 => vec![outcome(0, 30, OutcomeKind::Churned)],
                    1 => vec![outcome(1, 50, OutcomeKind::Contracted)],
                    2 => vec![outcome(2, 20, OutcomeKind::Expanded)],
                    3 => vec![outcome(3, 200, OutcomeKind::Churned)],
                    10 => vec![outcome(10, -10, OutcomeKind::Churned)],
                    _ => vec![],
                },
                ..Default::default()
            };
            book.accounts.insert(id(n), facts);
        }
        book
    }

    fn signals() -> Vec<Signal> {
        use Severity::*;
        vec![
            // Judged (detected by day 5: 90 days later is still before the end, day 95).
            signal("usage_drop", "risk", High, 0, 0),
            signal("usage_drop", "risk", High, 1, 0),
            signal("usage_drop", "risk", High, 4, 1),
            signal("usage_drop", "risk", High, 5, 1),
            signal("usage_drop", "risk", Critical, 9, 4),
            // Too recent to judge.
            signal("usage_drop", "risk", High, 3, 10),
            signal("qbr_missed", "risk", Medium, 4, 0),
            signal("qbr_missed", "risk", Medium, 0, 3),
            signal("promoter", "expansion", Low, 2, 2),
            signal("promoter", "expansion", Low, 3, 2),
            signal("promoter", "expansion", Low, 7, 2),
            // Before the span.
            signal("usage_drop", "risk", High, 6, -1),
        ]
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn precision_lift_warning_and_volume_on_a_hand_built_book() {
        let cfg = ReportConfig {
            since: Some(D0),
            budget: 0.2,
            ..Default::default()
        };
        let r = report(&signals(), &book(), d(95), &cfg);
        // Days 0 to 95, both assessed.
        let weeks = 96.0 / 7.0;
        assert_eq!(
            (r.start, r.end, r.csms),
            (D0, d(95), 2),
            "Cy's only account had churned"
        );
        assert!((r.weeks - weeks).abs() < 1e-9);
        assert_eq!((r.signals, r.judged, r.unjudged), (11, 10, 1));
        // Only the first week is judged: 10 customers, a0 and a1 lose revenue, a2 expands.
        assert_eq!(r.customer_weeks, 10);
        assert!(close(r.risk_base_rate, 0.2) && close(r.expansion_base_rate, 0.1));

        let kind = |k: &str| r.kinds.iter().find(|x| x.kind == k).unwrap();
        let u = kind("usage_drop");
        assert_eq!(
            (u.signals, u.accounts, u.judged, u.unjudged, u.hits),
            (6, 6, 5, 1, 2)
        );
        assert!(close(u.precision, 0.4) && close(u.base_rate, 0.2) && close(u.lift, 2.0));
        assert!(
            close(u.median_warning_days, 40.0),
            "a0 churned 30 days on, a1 contracted 50"
        );
        assert!((u.per_csm_week - 6.0 / (2.0 * weeks)).abs() < 1e-9);
        assert_eq!(u.verdict, Verdict::TooFew);
        let q = kind("qbr_missed");
        assert!(
            close(q.precision, 0.5) && close(q.lift, 2.5) && close(q.median_warning_days, 27.0)
        );
        let p = kind("promoter");
        assert_eq!(
            (p.direction.as_str(), p.judged, p.hits),
            ("expansion", 3, 1)
        );
        assert!(close(p.base_rate, 0.1) && close(p.lift, 10.0 / 3.0));
        assert!(close(p.median_warning_days, 18.0));
        // Risk first, best lift first; then expansion.
        let order: Vec<&str> = r.kinds.iter().map(|k| k.kind.as_str()).collect();
        assert_eq!(order, ["qbr_missed", "usage_drop", "promoter"]);

        // Alert rules: the kinds at high or above, by severity, loudest first.
        let rules: Vec<(&str, Option<Severity>, usize)> = r
            .rules
            .iter()
            .map(|x| (x.kind.as_str(), x.severity, x.signals))
            .collect();
        assert_eq!(
            rules,
            [
                ("usage_drop", Some(Severity::High), 5),
                ("usage_drop", Some(Severity::Critical), 1)
            ]
        );
        assert!(close(r.rules[0].lift, 2.5) && close(r.rules[1].precision, 0.0));

        // Six alerts over two CSMs: Ann has four (one too recent to judge still counts), Bob two.
        let b = &r.budget;
        assert_eq!(b.alerts, 6);
        assert!((b.average_per_csm_week - 6.0 / (2.0 * weeks)).abs() < 1e-9);
        assert!(b.average_over_budget, "0.22 a week is over 0.2");
        assert_eq!(b.csms_over_budget, 1);
        let w = b.worst.as_ref().unwrap();
        assert_eq!(
            (w.owner.as_str(), w.alerts, w.over_budget),
            ("ann", 4, true)
        );
        assert!((w.per_week - 4.0 / weeks).abs() < 1e-9);
        assert_eq!((w.rules[0].alerts, w.rules[0].share), (4, 1.0));
        // Neither rule has enough judged signals to rank for the budget.
        assert!(b.rules.iter().all(|x| x.fits_budget.is_none()));
        assert!((b.rules[0].share - 5.0 / 6.0).abs() < 1e-9);

        let text = r.to_markdown();
        for needle in [
            "| usage_drop | risk | 6 | 6 | 5 | 2 | 40% | 20% | 2.0 | 40 |",
            "usage_drop/critical",
            "The loudest, ann",
        ] {
            assert!(text.contains(needle), "{needle} in\n{text}");
        }
    }

    #[test]
    fn outcomes_derived_from_subscriptions_are_judged_a_grace_period_later_and_nothing_old_enough_says_so(
    ) {
        // No outcomes imported: the book's subscriptions say when it churned, confirmed 30 days later.
        let sub = |start: i32, end: i32| bellwether_core::model::Subscription {
            id: format!("s{start}"),
            account_id: id(0),
            plan: "pro".into(),
            start: d(start),
            end: Some(d(end)),
            mrr: bellwether_core::Money::usd(10_000),
            quantity: 1,
            term_days: Some(365),
            received_at: Timestamp(0),
        };
        let mut book = Book::default();
        book.accounts.insert(
            id(0),
            AccountFacts {
                subscriptions: vec![sub(-300, 60)],
                ..Default::default()
            },
        );
        let s = [Signal {
            owner: None,
            ..signal("usage_drop", "risk", Severity::High, 0, 0)
        }];
        let at = |end: i32| report(&s, &book, d(end), &ReportConfig::default());
        assert_eq!(
            at(100).judged,
            0,
            "90 days plus the 30-day grace period have not passed"
        );
        assert!(at(100).notes.iter().any(|n| n.contains("old enough")));
        let r = at(120);
        assert_eq!((r.judged, r.kinds[0].hits), (1, 1));
        assert!(close(r.kinds[0].median_warning_days, 60.0));
        assert_eq!(r.csms, 0);
        assert!(r
            .notes
            .iter()
            .any(|n| n.contains("no account has an owner")));
    }

    #[test]
    fn the_budget_keeps_the_best_rules_every_csm_can_take_and_never_one_no_better_than_chance() {
        // A hundred customers, Ann's a0–a49 and Bob's a50–a99; a0–a19 churn on day 30 (base rate 20%).
        let mut book = Book::default();
        for n in 0..100 {
            book.accounts.insert(
                id(n),
                AccountFacts {
                    outcomes: if n < 20 {
                        vec![Outcome {
                            account_id: id(n),
                            date: d(30),
                            kind: OutcomeKind::Churned,
                            arr_delta: None,
                            received_at: Timestamp(0),
                        }]
                    } else {
                        vec![]
                    },
                    ..Default::default()
                },
            );
        }
        let owned = |kind: &str, severity, n: usize| Signal {
            owner: Some(if n < 50 { "ann" } else { "bob" }.into()),
            ..signal(kind, "risk", severity, n, (n % 5) as i32)
        };
        let mut s = Vec::new();
        // payment_failure: 10 hits (Ann's) and 10 misses (Bob's): lift 2.5.
        s.extend(
            (0..10)
                .chain(50..60)
                .map(|n| owned("payment_failure", Severity::High, n)),
        );
        // champion_left: 30 misses on Ann's accounts: lift 0, mute.
        s.extend((20..50).map(|n| owned("champion_left", Severity::High, n)));
        // escalation: 5 hits (Ann's) and 15 misses (Bob's): lift 1.25, retune.
        s.extend(
            (10..15)
                .chain(60..75)
                .map(|n| owned("escalation", Severity::Critical, n)),
        );
        let at = |budget: f64| {
            let cfg = ReportConfig {
                budget,
                ..Default::default()
            };
            let r = report(&s, &book, d(95), &cfg);
            let fits = |k: &str| {
                r.budget
                    .rules
                    .iter()
                    .find(|x| x.kind == k)
                    .unwrap()
                    .fits_budget
            };
            (
                fits("payment_failure"),
                fits("champion_left"),
                fits("escalation"),
            )
        };
        let weeks = 96.0 / 7.0;
        // payment_failure gives each CSM 10 alerts (0.73 a week); escalation then gives Bob 15 more (1.82).
        assert!(10.0 / weeks < 1.0 && 25.0 / weeks > 1.0 && 25.0 / weeks < 2.0);
        assert_eq!(at(1.0), (Some(true), Some(false), Some(false)));
        assert_eq!(at(2.0), (Some(true), Some(false), Some(true)));
        assert_eq!(at(0.5), (Some(false), Some(false), Some(false)));
        let r = report(&s, &book, d(95), &ReportConfig::default());
        let verdict_of = |k: &str| r.kinds.iter().find(|x| x.kind == k).unwrap().verdict;
        assert_eq!(
            [
                verdict_of("payment_failure"),
                verdict_of("champion_left"),
                verdict_of("escalation")
            ],
            [Verdict::Keep, Verdict::Mute, Verdict::Retune]
        );
        // Ann: 10 + 30 + 5 alerts, Bob: 10 + 15.
        let w = r.budget.worst.as_ref().unwrap();
        assert_eq!((w.owner.as_str(), w.alerts), ("ann", 45));
        assert_eq!(w.rules[0].kind, "champion_left");
        assert!((w.rules[0].share - 30.0 / 45.0).abs() < 1e-9);
    }

    #[test]
    fn verdicts_follow_the_judged_count_the_lift_and_the_warning() {
        let v = |judged, lift, warning| verdict(judged, 0, lift, warning, 90).0;
        assert_eq!(v(19, Some(5.0), Some(60.0)), Verdict::TooFew);
        assert_eq!(
            verdict(0, 7, Some(5.0), None, 90).1,
            "all 7 too recent to judge (detected less than 90 days before the data ends)"
        );
        assert_eq!(v(50, None, None), Verdict::TooFew);
        assert_eq!(v(50, Some(0.9), Some(60.0)), Verdict::Mute);
        assert_eq!(
            verdict(50, 0, Some(0.9), None, 90).1,
            "lift 0.9: no better than chance within 90 days; mute it, or retune it"
        );
        assert_eq!(v(50, Some(1.3), Some(60.0)), Verdict::Retune);
        assert_eq!(v(50, Some(3.0), Some(10.0)), Verdict::Retune);
        assert_eq!(v(50, Some(3.0), Some(45.0)), Verdict::Keep);
    }
}

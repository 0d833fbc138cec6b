//! Replays the signal pass over history against known causes (the simulator's ground truth, or any labelled
//! book) and measures what a CSM would have experienced: how many troubled accounts were flagged, how many days
//! after the trouble began, and how many signals were noise.
//!
//! The replay runs the real pass (point-in-time features, every detector, the lifecycle with its cooldowns)
//! every `step` days from `start` to `end`, each account on its own, on all cores.

use crate::assess::{par_map, Engine};
use crate::signals::reconcile;
use bellwether_core::model::Signal;
use bellwether_core::series::AccountSeries;
use bellwether_core::{AccountId, Day};
use bellwether_features::{compute, BookContext};
use bellwether_signals::{detect_all, Context};
use bellwether_store::{AccountFacts, Book, BookSummary};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// What is known about one account's hidden story.
#[derive(Clone, Debug)]
pub struct Truth {
    /// The story's name (`slow_disengagement`, `seat_saturation`, `healthy`, …).
    pub archetype: String,
    /// `risk`, `expansion` or `none`.
    pub direction: &'static str,
    /// The day the trouble or growth began.
    pub start: Option<Day>,
    /// The day of its outcome (churn, expansion), when known.
    pub end: Option<Day>,
}

/// Detection figures for one archetype.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ArchetypeRow {
    /// The archetype.
    pub archetype: String,
    /// Accounts whose story began inside the replay.
    pub accounts: usize,
    /// Of those, flagged by a signal of the right direction between the start and the outcome.
    pub detected: usize,
    /// `detected / accounts`.
    pub detection_rate: f64,
    /// Median days from the start of the story to the first such signal.
    pub median_delay_days: Option<f64>,
    /// Median days of warning before the outcome (outcome day minus first signal).
    pub median_warning_days: Option<f64>,
}

/// Figures for one signal kind.
#[derive(Clone, Debug, Default, Serialize)]
pub struct KindRow {
    /// The kind.
    pub kind: String,
    /// Signals opened.
    pub opened: usize,
    /// Of those, on an account whose story of the same direction was under way.
    pub true_positives: usize,
    /// `true_positives / opened`.
    pub precision: f64,
}

/// The replay's report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Evaluation {
    /// First day replayed.
    pub start: Day,
    /// Last day replayed.
    pub end: Day,
    /// Days between passes.
    pub step: i32,
    /// Per archetype.
    pub archetypes: Vec<ArchetypeRow>,
    /// Per signal kind.
    pub kinds: Vec<KindRow>,
    /// All signals opened.
    pub signals_opened: usize,
    /// Share of opened signals on accounts whose story of the same direction was under way.
    pub precision: f64,
    /// Signals opened on healthy accounts per healthy account-month observed.
    pub false_signals_per_healthy_account_month: f64,
}

/// One account's replay: every signal the pass opened, in its latest state, and the days it was observed a
/// customer.
#[derive(Clone, Debug)]
pub struct Replayed {
    /// The account.
    pub account: AccountId,
    /// The signals opened, as the lifecycle left them at the end of the replay.
    pub signals: Vec<Signal>,
    /// Days it was observed a customer (passes it was a customer on × `step`).
    pub active_days: i32,
}

/// Replays the real pass (point-in-time features, every detector, the lifecycle with its cooldowns) from `start`
/// to `end` every `step` days, each account on its own, on all cores: the signals a book assessed every `step`
/// days over that span would hold.
pub fn replay(
    book: &Book,
    series: &[(AccountId, AccountSeries)],
    summary: &BookSummary,
    engine: &Engine,
    start: Day,
    end: Day,
    step: i32,
) -> Vec<Replayed> {
    let step = step.max(1);
    let days: Vec<Day> = (0..)
        .map(|i| start.plus(i * step))
        .take_while(|d| *d <= end)
        .collect();
    let contexts: Vec<BookContext> = days
        .iter()
        .map(|d| BookContext::from_summary(summary, *d))
        .collect();
    let by_id: HashMap<&AccountId, &AccountSeries> = series.iter().map(|(id, s)| (id, s)).collect();
    let empty = AccountFacts::default();
    let ids: Vec<&AccountId> = book.accounts.keys().collect();
    par_map(&ids, |id| {
        let facts = book.accounts.get(*id).unwrap_or(&empty);
        let ser = by_id.get(id).copied();
        let mut signals: Vec<Signal> = Vec::new();
        let mut active_days = 0;
        for (day, ctx) in days.iter().zip(&contexts) {
            let f = compute(id, facts, ser, *day, ctx);
            // Only accounts that exist and are still customers on the day.
            if f.churned || f.usage.days_since_first.is_none() && f.arr_minor.is_none() {
                continue;
            }
            active_days += step;
            let cx = Context {
                account: id,
                as_of: *day,
                until: day.start(),
                features: &f,
                facts,
                series: ser,
                calendar: &engine.calendar,
            };
            let found = detect_all(&engine.detectors, &cx);
            for c in reconcile(
                id,
                f.owner.as_deref(),
                *day,
                &signals,
                &found,
                &|k| engine.cooldown(k),
                &engine.lifecycle,
            ) {
                match signals.iter_mut().find(|s| s.id == c.id) {
                    Some(s) => *s = c,
                    None => signals.push(c),
                }
            }
        }
        Replayed {
            account: (*id).clone(),
            signals,
            active_days,
        }
    })
}

/// Replays the pass from `start` to `end` every `step` days ([`replay`]) and scores the signals against
/// `truth`.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    book: &Book,
    series: &[(AccountId, AccountSeries)],
    summary: &BookSummary,
    truth: &HashMap<AccountId, Truth>,
    engine: &Engine,
    start: Day,
    end: Day,
    step: i32,
) -> Evaluation {
    let replays = replay(book, series, summary, engine, start, end, step);
    let under_way = |t: &Truth, dir: &str, day: Day| {
        t.direction == dir && t.start.is_some_and(|s| s <= day) && t.end.is_none_or(|e| day <= e)
    };
    let mut per_arch: BTreeMap<String, (usize, usize, Vec<f64>, Vec<f64>)> = BTreeMap::new();
    let mut per_kind: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let (mut opened, mut true_pos, mut healthy_signals, mut healthy_days) =
        (0usize, 0usize, 0usize, 0i64);
    for Replayed {
        account: id,
        signals,
        active_days,
    } in &replays
    {
        let Some(t) = truth.get(id) else { continue };
        for s in signals {
            opened += 1;
            let hit = under_way(t, &s.direction, s.detected_at);
            let k = per_kind.entry(s.kind.clone()).or_default();
            k.0 += 1;
            if hit {
                k.1 += 1;
                true_pos += 1;
            }
        }
        if t.archetype == "healthy" {
            healthy_signals += signals.len();
            healthy_days += *active_days as i64;
        }
        let row = per_arch.entry(t.archetype.clone()).or_default();
        let Some(story_start) = t.start.filter(|s| *s >= start && *s <= end) else {
            continue;
        };
        row.0 += 1;
        let first = signals
            .iter()
            .filter(|s| {
                s.direction == t.direction
                    && s.detected_at >= story_start
                    && t.end.is_none_or(|e| s.detected_at <= e)
            })
            .map(|s| s.detected_at)
            .min();
        if let Some(f) = first {
            row.1 += 1;
            row.2.push((f.0 - story_start.0) as f64);
            if let Some(e) = t.end.filter(|e| *e <= end) {
                row.3.push((e.0 - f.0) as f64);
            }
        }
    }
    Evaluation {
        start,
        end,
        step,
        archetypes: per_arch
            .into_iter()
            .map(|(a, (n, d, delays, warnings))| ArchetypeRow {
                archetype: a,
                accounts: n,
                detected: d,
                detection_rate: if n > 0 { d as f64 / n as f64 } else { 0.0 },
                median_delay_days: bellwether_signals::median(&delays),
                median_warning_days: bellwether_signals::median(&warnings),
            })
            .collect(),
        kinds: per_kind
            .into_iter()
            .map(|(k, (n, tp))| KindRow {
                kind: k,
                opened: n,
                true_positives: tp,
                precision: if n > 0 { tp as f64 / n as f64 } else { 0.0 },
            })
            .collect(),
        signals_opened: opened,
        precision: if opened > 0 {
            true_pos as f64 / opened as f64
        } else {
            0.0
        },
        false_signals_per_healthy_account_month: if healthy_days > 0 {
            healthy_signals as f64 / (healthy_days as f64 / 30.0)
        } else {
            0.0
        },
    }
}

impl Evaluation {
    /// The report as Markdown tables.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "Replay from {} to {} every {} days: {} signals opened, precision {:.2}, {:.3} false signals per healthy account-month.\n\n",
            self.start, self.end, self.step, self.signals_opened, self.precision, self.false_signals_per_healthy_account_month
        );
        out.push_str("| archetype | accounts | detected | detection rate | median delay (days) | median warning before outcome (days) |\n|---|---|---|---|---|---|\n");
        let days = |v: Option<f64>| v.map_or("–".to_string(), |d| format!("{d:.0}"));
        for a in &self.archetypes {
            out.push_str(&format!(
                "| {} | {} | {} | {:.2} | {} | {} |\n",
                a.archetype,
                a.accounts,
                a.detected,
                a.detection_rate,
                days(a.median_delay_days),
                days(a.median_warning_days)
            ));
        }
        out.push_str(
            "\n| signal kind | opened | on a matching story | precision |\n|---|---|---|---|\n",
        );
        for k in &self.kinds {
            out.push_str(&format!(
                "| {} | {} | {} | {:.2} |\n",
                k.kind, k.opened, k.true_positives, k.precision
            ));
        }
        out
    }
}

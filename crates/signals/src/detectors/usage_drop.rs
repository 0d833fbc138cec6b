//! Usage drop: events on working days fell well below the account's own baseline.
//!
//! Weekends and public holidays are left out of both sides (they are quiet by nature), and both sides use
//! medians, so one busy or idle day moves nothing. The baseline is the working days of the 90 days before the
//! last 28; the recent level is the median of the last 20 working days. A fall must also be unlikely by chance:
//! the last 20 working days together must sit at least `min_z` standard deviations below what the baseline
//! predicts, the deviation taken as the larger of the Poisson one and the baseline's own day-to-day spread
//! (MAD). Small accounts, whose counts swing by half from one fortnight to the next, then need a deeper fall.
//!
//! Each usage source (product events, imported daily metrics) is judged on its own against its own baseline:
//! a fall in either fires, the deepest names its source in the evidence and the explanation, and a fall in the
//! other is added beside it. A source too new to have a baseline says nothing either way.

use crate::{median, Context, Detection, Detector, Direction};
use bellwether_core::model::Severity;
use bellwether_core::series::UsageSource;
use serde_json::json;

/// Fires when the recent working-day median is at most `1 − min_drop` of the baseline median.
pub struct UsageDrop {
    /// Smallest fall that fires (0.45 = 45%).
    pub min_drop: f64,
    /// Smallest baseline median (events per working day) worth watching.
    pub min_baseline: f64,
    /// How many standard deviations below the expected total the recent total must be.
    pub min_z: f64,
}

impl Default for UsageDrop {
    fn default() -> Self {
        UsageDrop {
            min_drop: 0.45,
            min_baseline: 3.0,
            min_z: 3.0,
        }
    }
}

impl Detector for UsageDrop {
    fn kind(&self) -> &'static str {
        "usage_drop"
    }
    fn direction(&self) -> Direction {
        Direction::Risk
    }
    fn detect(&self, cx: &Context) -> Option<Detection> {
        let mut falls: Vec<Fall> = cx
            .usage_sources()
            .into_iter()
            .filter_map(|src| self.fall(cx, src))
            .collect();
        falls.sort_by(|a, b| b.drop.total_cmp(&a.drop));
        let top = falls.first()?;
        let severity = match top.drop {
            d if d >= 0.9 => Severity::Critical,
            d if d >= 0.7 => Severity::High,
            d if d >= 0.55 => Severity::Medium,
            _ => Severity::Low,
        };
        let unit = match top.source {
            UsageSource::Events => " events",
            UsageSource::DailyMetrics => "",
        };
        let mut explanation = format!(
            "Usage on working days fell {:.0}% in {}: a median of {:.0}{unit} a working day over the last {} working days against {:.0} over the {} before (weekends and holidays left out).",
            top.drop * 100.0,
            top.source.label(),
            top.now,
            top.recent_days,
            top.base,
            top.baseline_days
        );
        for other in &falls[1..] {
            explanation.push_str(&format!(
                " {} fell {:.0}% too ({:.0} against {:.0}).",
                source_label(other.source),
                other.drop * 100.0,
                other.now,
                other.base
            ));
        }
        Some(Detection {
            kind: self.kind(),
            direction: self.direction(),
            severity,
            evidence: json!({
                "source": top.source.key(),
                "recent_workday_median": top.now, "baseline_workday_median": top.base, "drop": top.drop,
                "recent_workdays": top.recent_days, "baseline_workdays": top.baseline_days, "z": top.z,
                "sources": falls.iter().map(|f| json!({
                    "source": f.source.key(), "recent_workday_median": f.now,
                    "baseline_workday_median": f.base, "drop": f.drop, "z": f.z,
                })).collect::<Vec<_>>(),
            }),
            explanation,
            suggested_action: "Call the champion this week to find out what changed (a new tool, a reorganisation, a blocked workflow) and agree a re-engagement plan.".into(),
        })
    }
}

/// A source's label to start a sentence: `Product events`, `Imported daily metrics`.
fn source_label(source: UsageSource) -> String {
    crate::capitalise(source.label())
}

/// One source's fall against its own baseline.
struct Fall {
    source: UsageSource,
    now: f64,
    base: f64,
    drop: f64,
    z: f64,
    recent_days: usize,
    baseline_days: usize,
}

impl UsageDrop {
    /// Whether one source's working-day usage fell enough, and by how much.
    fn fall(&self, cx: &Context, source: UsageSource) -> Option<Fall> {
        let days = cx.daily_usage(source, 118);
        let day_of = |i: usize| cx.as_of.plus(i as i32 - 118);
        let work: Vec<(usize, f64)> = days
            .iter()
            .enumerate()
            .filter(|(i, _)| cx.calendar.is_workday(day_of(*i)))
            .map(|(i, v)| (i, *v))
            .collect();
        let recent: Vec<f64> = work.iter().rev().take(20).map(|p| p.1).collect();
        let baseline: Vec<f64> = work.iter().filter(|(i, _)| *i < 90).map(|p| p.1).collect();
        if recent.len() < 16 || baseline.len() < 30 {
            return None;
        }
        let (base, now) = (median(&baseline)?, median(&recent)?);
        if base < self.min_baseline {
            return None;
        }
        let drop = 1.0 - now / base;
        if drop < self.min_drop {
            return None;
        }
        let n = recent.len() as f64;
        let expected = base * n;
        let observed: f64 = recent.iter().sum();
        let spread = crate::mad(&baseline).unwrap_or(0.0);
        let sd = expected.sqrt().max(spread * n.sqrt()).max(1.0);
        let z = (expected - observed) / sd;
        if z < self.min_z {
            return None;
        }
        Some(Fall {
            source,
            now,
            base,
            drop,
            z,
            recent_days: recent.len(),
            baseline_days: baseline.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Calendar;
    use bellwether_core::series::{AccountSeries, Series};
    use bellwether_core::{AccountId, Day};
    use bellwether_features::AccountFeatures;
    use bellwether_store::AccountFacts;

    /// A series of `level` events on working days and a tenth of it on weekends and holidays, with `f` applied
    /// to the last `last` days.
    fn book(as_of: Day, level: f64, last: i32, f: f64) -> AccountSeries {
        let cal = Calendar::default();
        let points = (1..=200)
            .rev()
            .map(|back| {
                let d = as_of.plus(-back);
                let base = if cal.is_workday(d) {
                    level
                } else {
                    level / 10.0
                };
                (
                    d,
                    if back <= last {
                        (base * f).round()
                    } else {
                        base
                    },
                )
            })
            .collect();
        AccountSeries {
            metrics: [("event:login".to_string(), Series { points })]
                .into_iter()
                .collect(),
        }
    }

    fn run(series: &AccountSeries, as_of: Day) -> Option<Detection> {
        let (id, facts, features, cal) = (
            AccountId::from("a"),
            AccountFacts::default(),
            AccountFeatures::default(),
            Calendar::default(),
        );
        UsageDrop::default().detect(&Context {
            account: &id,
            as_of,
            until: as_of.start(),
            features: &features,
            facts: &facts,
            series: Some(series),
            calendar: &cal,
        })
    }

    #[test]
    fn a_real_drop_fires_with_its_numbers() {
        let as_of = Day::ymd(2025, 6, 16);
        let d = run(&book(as_of, 40.0, 30, 0.4), as_of).expect("a 60% fall fires");
        assert_eq!(d.severity, Severity::Medium);
        assert!(
            d.explanation.contains("fell 60%")
                && d.explanation.contains("16 events")
                && d.explanation.contains("against 40"),
            "{}",
            d.explanation
        );
    }

    #[test]
    fn the_christmas_fortnight_does_not_fire() {
        // 2025-12-22 to 2026-01-04: holidays on 24, 25, 26, 31 Dec and 1 Jan, a quiet week between.
        let as_of = Day::ymd(2026, 1, 5);
        let mut s = book(as_of, 40.0, 0, 1.0);
        let cal = Calendar::default();
        for p in &mut s.metrics.get_mut("event:login").unwrap().points {
            if p.0 >= Day::ymd(2025, 12, 22) && !cal.is_workday(p.0) {
                p.1 = 0.0;
            }
        }
        assert!(run(&s, as_of).is_none());
        // Weekends alone are not a drop either.
        assert!(run(
            &book(Day::ymd(2025, 6, 16), 40.0, 0, 1.0),
            Day::ymd(2025, 6, 16)
        )
        .is_none());
    }

    #[test]
    fn each_source_is_judged_against_its_own_baseline() {
        let as_of = Day::ymd(2025, 6, 16);
        // 100 days of imported daily metrics falling 69% over the last 30, and 30 days of events at the level
        // the metrics used to have: added together the events would hide the fall.
        let metrics = book(as_of, 40.0, 30, 0.31);
        let events = book(as_of, 40.0, 0, 1.0);
        let mut s = AccountSeries::default();
        s.metrics.insert(
            "metric:logins".into(),
            Series {
                points: metrics.metrics["event:login"]
                    .range(as_of.plus(-100), as_of)
                    .to_vec(),
            },
        );
        s.metrics.insert(
            "event:login".into(),
            Series {
                points: events.metrics["event:login"]
                    .range(as_of.plus(-30), as_of)
                    .to_vec(),
            },
        );
        let d = run(&s, as_of).expect("the daily metrics' fall fires");
        assert_eq!(d.evidence["source"], "daily_metrics");
        assert_eq!(d.severity, Severity::High);
        assert!(
            d.explanation
                .contains("fell 70% in imported daily metrics: a median of 12 a working day")
                && d.explanation.contains("against 40"),
            "{}",
            d.explanation
        );
        assert_eq!(d.evidence["sources"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn small_dips_and_tiny_accounts_do_not_fire() {
        let as_of = Day::ymd(2025, 6, 16);
        assert!(
            run(&book(as_of, 40.0, 16, 0.7), as_of).is_none(),
            "a 30% dip is below the threshold"
        );
        assert!(
            run(&book(as_of, 2.0, 16, 0.0), as_of).is_none(),
            "two events a day is too little to judge"
        );
    }
}

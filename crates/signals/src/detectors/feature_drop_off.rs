//! Feature drop-off: a feature the account used regularly has gone unused for three weeks or more while the
//! rest of the product is still in use.
//!
//! A feature is an event name (`event:<name>`). It is a key feature of the account when it was used on at least
//! 30% of the working days of the 90 days up to its last use (counting only days after the account's first
//! event). It has dropped off when that last use is at least 21 days and at least 15 working days ago, so that a
//! Christmas shutdown is not read as abandonment, and at most 180 days ago (older than that it is the account's
//! settled way of working, not a change). The account must still be active otherwise (events on at least 3 of
//! the last 14 days): an account that went silent altogether is `login_silence`'s signal. Imported daily metrics
//! (`metric:<name>`) are features too; each usage source is judged on its own, so a feature of one source is
//! compared with the recent use of the same source.

use crate::{Context, Detection, Detector, Direction};
use bellwether_core::model::Severity;
use bellwether_core::series::{source_series, UsageSource};
use bellwether_core::Day;
use serde_json::json;

/// Fires when a key feature has not been used for `min_gap_days` (and `min_gap_workdays` working days).
pub struct FeatureDropOff {
    /// Share of baseline working days with use that makes a feature a key one (0.3 = 30%).
    pub min_share: f64,
    /// Calendar days since the last use before the feature counts as dropped.
    pub min_gap_days: i32,
    /// Working days since the last use before the feature counts as dropped.
    pub min_gap_workdays: i32,
    /// Features unused for longer than this many days are no longer news.
    pub max_gap_days: i32,
    /// Working days of history before the last use needed to judge regular use.
    pub min_baseline_workdays: i32,
}

impl Default for FeatureDropOff {
    fn default() -> Self {
        FeatureDropOff {
            min_share: 0.3,
            min_gap_days: 21,
            min_gap_workdays: 15,
            max_gap_days: 180,
            min_baseline_workdays: 20,
        }
    }
}

struct Dropped<'a> {
    name: &'a str,
    last: Day,
    gap: i32,
    used: i32,
    workdays: i32,
}

impl Dropped<'_> {
    fn share(&self) -> f64 {
        self.used as f64 / self.workdays as f64
    }
}

impl Detector for FeatureDropOff {
    fn kind(&self) -> &'static str {
        "feature_drop_off"
    }
    fn direction(&self) -> Direction {
        Direction::Risk
    }
    fn cooldown_days(&self) -> i32 {
        30
    }
    fn detect(&self, cx: &Context) -> Option<Detection> {
        cx.usage_sources()
            .into_iter()
            .find_map(|src| self.dropped(cx, src))
    }
}

impl FeatureDropOff {
    /// Whether a key feature of one usage source dropped off.
    fn dropped(&self, cx: &Context, source: UsageSource) -> Option<Detection> {
        let series = cx.series?;
        let usage = source_series(series, source);
        let events = || usage.iter().copied();
        let first = events()
            .filter_map(|(_, s)| s.first_day())
            .filter(|d| *d < cx.as_of)
            .min()?;
        let recent = cx.daily_usage(source, 14);
        let recent_days = recent.iter().filter(|v| **v > 0.0).count();
        if recent_days < 3 {
            return None;
        }
        let mut dropped: Vec<Dropped> = events()
            .filter_map(|(name, s)| {
                let last = s.last_active_before(cx.as_of)?;
                let gap = cx.as_of.0 - last.0;
                if gap < self.min_gap_days
                    || gap > self.max_gap_days
                    || cx.working_days(last.plus(1), cx.as_of) < self.min_gap_workdays
                {
                    return None;
                }
                let (from, to) = (last.plus(-89).max(first), last.plus(1));
                let workdays = cx.working_days(from, to);
                if workdays < self.min_baseline_workdays {
                    return None;
                }
                let used = s
                    .range(from, to)
                    .iter()
                    .filter(|(d, v)| *v > 0.0 && cx.calendar.is_workday(*d))
                    .count() as i32;
                let d = Dropped {
                    name,
                    last,
                    gap,
                    used,
                    workdays,
                };
                (d.share() >= self.min_share).then_some(d)
            })
            .collect();
        if dropped.is_empty() {
            return None;
        }
        dropped.sort_by(|a, b| b.share().total_cmp(&a.share()).then(a.name.cmp(b.name)));
        let top = &dropped[0];
        let severity = if top.share() >= 0.7 || dropped.len() >= 2 {
            Severity::High
        } else {
            Severity::Medium
        };
        let recent_events: f64 = recent.iter().sum();
        let mut explanation = format!(
            "The feature `{}` has not been used for {} days (last used on {}), though it was used on {} of {} working days ({:.0}%) in the 90 days up to then; the rest of the product is still in use ({recent_events:.0} events on {recent_days} of the last 14 days).",
            top.name,
            top.gap,
            top.last,
            top.used,
            top.workdays,
            top.share() * 100.0
        );
        if dropped.len() > 1 {
            let others: Vec<String> = dropped[1..]
                .iter()
                .take(4)
                .map(|d| {
                    format!(
                        "`{}` (used on {:.0}% of working days, unused for {} days)",
                        d.name,
                        d.share() * 100.0,
                        d.gap
                    )
                })
                .collect();
            explanation.push_str(&format!(" Also dropped: {}.", others.join(", ")));
        }
        Some(Detection {
            kind: self.kind(),
            direction: self.direction(),
            severity,
            evidence: json!({
                "features": dropped.iter().map(|d| json!({
                    "feature": d.name, "last_used": d.last.to_string(), "days_unused": d.gap,
                    "baseline_days_used": d.used, "baseline_workdays": d.workdays, "baseline_share": d.share(),
                })).collect::<Vec<_>>(),
                "events_14d": recent_events, "active_days_14d": recent_days, "source": source.key(),
            }),
            explanation,
            suggested_action: format!(
                "Ask the champion why the team stopped using `{}` (a workaround, a broken integration, a change of process or owner) and offer a short working session to restore the workflow.",
                top.name
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testkit::Kit;

    /// Logins on every working day from 200 days back to the day (and beyond, to check the future is ignored),
    /// and `report_exported` on working days chosen by `uses`.
    fn kit(as_of: Day, uses: impl Fn(Day, bool) -> f64) -> Kit {
        let mut k = Kit::new(as_of);
        k.metric("event:login", -200, 30, |_, w| if w { 20.0 } else { 0.0 })
            .metric("event:report_exported", -200, 30, uses);
        k
    }

    #[test]
    fn a_daily_feature_unused_for_four_weeks_fires_with_its_numbers() {
        let as_of = Day::ymd(2025, 6, 16);
        let stop = as_of.plus(-28);
        // Used every working day until four weeks ago, and again after the day (which must not count).
        let k = kit(as_of, |d, w| {
            if w && (d <= stop || d >= as_of) {
                3.0
            } else {
                0.0
            }
        });
        let d = k.run(&FeatureDropOff::default()).expect("fires");
        assert_eq!(d.severity, Severity::High);
        assert!(
            d.explanation
                .contains("`report_exported` has not been used for 28 days")
                && d.explanation.contains("on 64 of 64 working days (100%)")
                && d.explanation.contains("on 10 of the last 14 days"),
            "{}",
            d.explanation
        );
        assert_eq!(d.evidence["features"][0]["days_unused"], 28);
        // Before the stop it was in use: nothing to say.
        assert!(k.run_at(&FeatureDropOff::default(), stop.plus(5)).is_none());
    }

    #[test]
    fn an_occasional_feature_is_medium_and_a_rare_one_is_not_key() {
        let as_of = Day::ymd(2025, 6, 16);
        let stop = as_of.plus(-25);
        // Mondays and Wednesdays: about 40% of working days.
        let twice = kit(as_of, |d, w| {
            if w && d <= stop && matches!(d.weekday(), 0 | 2) {
                1.0
            } else {
                0.0
            }
        });
        let d = twice.run(&FeatureDropOff::default()).expect("fires");
        assert_eq!(d.severity, Severity::Medium);
        assert!(
            d.explanation.contains("on 26 of 64 working days (41%)"),
            "{}",
            d.explanation
        );
        // Mondays only: about 20%, not a key feature.
        let weekly = kit(as_of, |d, w| {
            if w && d <= stop && d.weekday() == 0 {
                1.0
            } else {
                0.0
            }
        });
        assert!(weekly.run(&FeatureDropOff::default()).is_none());
    }

    #[test]
    fn the_christmas_shutdown_and_a_silent_account_do_not_fire() {
        // Last use on Friday 19 December; 12 January is 24 days later but only 10 working days.
        let as_of = Day::ymd(2026, 1, 12);
        let last = Day::ymd(2025, 12, 19);
        let k = kit(as_of, |d, w| if w && d <= last { 3.0 } else { 0.0 });
        assert!(k.run(&FeatureDropOff::default()).is_none());
        // A week later it has been 15 working days: now it fires.
        assert!(k
            .run_at(&FeatureDropOff::default(), Day::ymd(2026, 1, 20))
            .is_some());
        // When the whole account has gone quiet this is not the detector's signal.
        let mut quiet = kit(as_of, |d, w| if w && d <= last { 3.0 } else { 0.0 });
        quiet.metric("event:login", -200, 0, |d, w| {
            if w && d <= last {
                20.0
            } else {
                0.0
            }
        });
        assert!(quiet
            .run_at(&FeatureDropOff::default(), Day::ymd(2026, 1, 20))
            .is_none());
    }
}

//! Usage surge: working-day usage has run at 1.6 times the account's own baseline or more in each of the last
//! three weeks, a lasting change rather than a one-off.
//!
//! As for `usage_drop`, weekends and public holidays are left out on both sides and both sides use medians.
//! The baseline is the median of events per working day over the 90 days before the last 21; each of the last
//! three 7-day blocks must have a working-day median at or above 1.6 times it (a block needs at least 2 working
//! days). The account must have had events before the baseline window began, so an account still ramping up
//! after onboarding does not count as surging. A surge of 2.5 times or more is medium, otherwise low. Each usage
//! source (product events, imported daily metrics) is judged on its own; the first that surges fires.

use crate::{median, Context, Detection, Detector, Direction};
use bellwether_core::model::Severity;
use bellwether_core::series::{source_series, UsageSource};
use serde_json::json;

/// Fires when each of the last `weeks` weeks runs at `min_ratio` times the baseline or more.
pub struct UsageSurge {
    /// Smallest ratio of each recent week's working-day median to the baseline median.
    pub min_ratio: f64,
    /// Weeks the surge must last.
    pub weeks: i32,
    /// Smallest baseline median (events per working day) worth watching.
    pub min_baseline: f64,
}

impl Default for UsageSurge {
    fn default() -> Self {
        UsageSurge {
            min_ratio: 1.6,
            weeks: 3,
            min_baseline: 3.0,
        }
    }
}

impl Detector for UsageSurge {
    fn kind(&self) -> &'static str {
        "usage_surge"
    }
    fn direction(&self) -> Direction {
        Direction::Expansion
    }
    fn cooldown_days(&self) -> i32 {
        45
    }
    fn detect(&self, cx: &Context) -> Option<Detection> {
        cx.usage_sources()
            .into_iter()
            .find_map(|src| self.surge(cx, src))
    }
}

impl UsageSurge {
    /// Whether one source's working-day usage surged.
    fn surge(&self, cx: &Context, source: UsageSource) -> Option<Detection> {
        let recent_days = 7 * self.weeks;
        let total = recent_days + 90;
        let series = cx.series?;
        let first = source_series(series, source)
            .into_iter()
            .filter_map(|(_, s)| s.first_day())
            .min()?;
        if first >= cx.as_of.plus(-total) {
            return None;
        }
        let days = cx.daily_usage(source, total);
        let day_of = |i: usize| cx.as_of.plus(i as i32 - total);
        let work = |from: usize, to: usize| -> Vec<f64> {
            (from..to)
                .filter(|i| cx.calendar.is_workday(day_of(*i)))
                .map(|i| days[i])
                .collect()
        };
        let baseline = work(0, 90);
        if baseline.len() < 30 {
            return None;
        }
        let base = median(&baseline)?;
        if base < self.min_baseline {
            return None;
        }
        let mut weeks = Vec::new();
        for w in 0..self.weeks as usize {
            let block = work(90 + 7 * w, 97 + 7 * w);
            if block.len() < 2 {
                return None;
            }
            let m = median(&block)?;
            if m < self.min_ratio * base {
                return None;
            }
            weeks.push(m);
        }
        let ratios: Vec<f64> = weeks.iter().map(|m| m / base).collect();
        let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let high = ratios.iter().copied().fold(0.0, f64::max);
        let severity = if low >= 2.5 {
            Severity::Medium
        } else {
            Severity::Low
        };
        let times = if format!("{low:.1}") == format!("{high:.1}") {
            format!("{low:.1} times")
        } else {
            format!("{low:.1} to {high:.1} times")
        };
        let medians: Vec<String> = weeks.iter().map(|m| format!("{m:.0}")).collect();
        Some(Detection {
            kind: self.kind(),
            direction: self.direction(),
            severity,
            evidence: json!({
                "source": source.key(),
                "weekly_workday_medians": weeks, "baseline_workday_median": base, "ratios": ratios,
                "baseline_workdays": baseline.len(),
            }),
            explanation: format!(
                "Working-day usage in {} has stayed high for {} weeks: medians of {}{} a day in each of the last {} weeks against {base:.0} over the {} working days before ({times}; weekends and holidays left out).",
                source.label(),
                self.weeks,
                join_and(&medians),
                if source == UsageSource::Events { " events" } else { "" },
                self.weeks,
                baseline.len()
            ),
            suggested_action: "Ask the champion what is driving the growth (a new use case, a new team, a migration) and whether the current plan and limits still fit; it is a good moment to talk about an upgrade.".into(),
        })
    }
}

fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testkit::Kit;
    use bellwether_core::Day;

    /// 40 events on working days and 4 on other days for 200 days, times `f(days before the day)`.
    fn kit(as_of: Day, f: impl Fn(i32) -> f64) -> Kit {
        let mut k = Kit::new(as_of);
        k.metric("event:login", -200, 30, move |d, w| {
            (if w { 40.0 } else { 4.0 } * f(as_of.0 - d.0)).round()
        });
        k
    }

    #[test]
    fn three_weeks_of_high_usage_fire() {
        let as_of = Day::ymd(2025, 6, 16);
        // 1.8, 2.0 and 2.2 times in the last three weeks; a quiet future must not matter.
        let d = kit(as_of, |back| match back {
            15..=21 => 1.8,
            8..=14 => 2.0,
            1..=7 => 2.2,
            ..=0 => 0.1,
            _ => 1.0,
        })
        .run(&UsageSurge::default())
        .expect("fires");
        assert_eq!(d.severity, Severity::Low);
        assert_eq!(d.direction, Direction::Expansion);
        assert!(
            d.explanation.starts_with(
                "Working-day usage in product events has stayed high for 3 weeks: medians of 72, 80 and 88 events a day in each of the last 3 weeks against 40 over the"
            ) && d.explanation.contains("(1.8 to 2.2 times"),
            "{}",
            d.explanation
        );
        let d = kit(as_of, |back| if back <= 21 { 3.0 } else { 1.0 })
            .run(&UsageSurge::default())
            .unwrap();
        assert_eq!(d.severity, Severity::Medium);
    }

    #[test]
    fn one_off_weeks_weekend_batches_and_ramp_ups_do_not_fire() {
        let as_of = Day::ymd(2025, 6, 16);
        // One busy week.
        assert!(kit(as_of, |back| if back <= 7 { 3.0 } else { 1.0 })
            .run(&UsageSurge::default())
            .is_none());
        // Heavy weekend batch jobs for three weeks: weekends are left out.
        let mut k = Kit::new(as_of);
        k.metric("event:api_call", -200, 0, move |d, w| {
            if w {
                40.0
            } else if as_of.0 - d.0 <= 21 {
                400.0
            } else {
                4.0
            }
        });
        assert!(k.run(&UsageSurge::default()).is_none());
        // A new account ramping up: no events before the baseline window.
        let mut k = Kit::new(as_of);
        k.metric("event:login", -100, 0, move |d, w| {
            if !w {
                0.0
            } else if as_of.0 - d.0 <= 21 {
                90.0
            } else {
                40.0
            }
        });
        assert!(k.run(&UsageSurge::default()).is_none());
    }

    #[test]
    fn a_surge_through_the_holidays_is_judged_on_working_days() {
        // Three weeks at double usage across Christmas: the holidays are left out of each week's median, so the
        // short weeks are judged on their working days.
        let as_of = Day::ymd(2026, 1, 5);
        let d = kit(as_of, |back| if back <= 21 { 2.0 } else { 1.0 }).run(&UsageSurge::default());
        assert!(d.is_some());
        // Without a surge, the same weeks do not fire.
        assert!(kit(as_of, |_| 1.0).run(&UsageSurge::default()).is_none());
    }
}

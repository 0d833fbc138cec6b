//! Login silence: no product activity at all for ten working days or more, from an account that was active.
//!
//! Activity is any event (`event:<name>`), imported daily metric (`metric:<name>`) or a day with active users, in
//! either usage source: an account is silent only when every source is. The silence is counted in working days
//! since the last active day, so weekends and public holidays never add to it: a team back from the Christmas
//! break on 5 January has been silent for five working days, not sixteen calendar days. "Was active" means
//! activity on at least 5 days of the 90 days up to the last active day. Accounts that have already churned
//! are left out. Severity grows with the length: medium from 10 working days, high from 20, critical from 40.

use crate::{Context, Detection, Detector, Direction};
use bellwether_core::model::Severity;
use bellwether_core::series::{source_active_users, source_series, UsageSource};
use serde_json::json;
use std::collections::BTreeSet;

/// Fires after `min_workdays` working days without any activity.
pub struct LoginSilence {
    /// Working days of silence that fire.
    pub min_workdays: i32,
    /// Working days of silence that make it high.
    pub high_workdays: i32,
    /// Working days of silence that make it critical.
    pub critical_workdays: i32,
    /// Active days needed in the 90 days up to the last activity.
    pub min_active_days: usize,
}

impl Default for LoginSilence {
    fn default() -> Self {
        LoginSilence {
            min_workdays: 10,
            high_workdays: 20,
            critical_workdays: 40,
            min_active_days: 5,
        }
    }
}

impl Detector for LoginSilence {
    fn kind(&self) -> &'static str {
        "login_silence"
    }
    fn direction(&self) -> Direction {
        Direction::Risk
    }
    fn cooldown_days(&self) -> i32 {
        21
    }
    fn detect(&self, cx: &Context) -> Option<Detection> {
        if cx.features.churned {
            return None;
        }
        let series = cx.series?;
        let activity: Vec<_> = UsageSource::ALL
            .into_iter()
            .flat_map(|src| {
                source_series(series, src)
                    .into_iter()
                    .map(|(_, s)| s)
                    .chain(source_active_users(series, src))
            })
            .collect();
        let last = activity
            .iter()
            .filter_map(|s| s.last_active_before(cx.as_of))
            .max()?;
        let silent = cx.working_days(last.plus(1), cx.as_of);
        if silent < self.min_workdays {
            return None;
        }
        let active_days: BTreeSet<_> = activity
            .iter()
            .flat_map(|s| s.range(last.plus(-89), last.plus(1)))
            .filter(|p| p.1 > 0.0)
            .map(|p| p.0)
            .collect();
        if active_days.len() < self.min_active_days {
            return None;
        }
        let severity = if silent >= self.critical_workdays {
            Severity::Critical
        } else if silent >= self.high_workdays {
            Severity::High
        } else {
            Severity::Medium
        };
        let calendar_days = cx.as_of.0 - last.0 - 1;
        Some(Detection {
            kind: self.kind(),
            direction: self.direction(),
            severity,
            evidence: json!({
                "silent_workdays": silent, "silent_days": calendar_days, "last_active": last.to_string(),
                "active_days_90d_before": active_days.len(),
            }),
            explanation: format!(
                "Nobody at the account has used the product for {silent} working days ({calendar_days} calendar days): the last activity was on {last}, after activity on {} of the 90 days before it.",
                active_days.len()
            ),
            suggested_action: "Reach the champion and the admin today: check for a login or SSO problem, a broken integration or a move to another tool, and book a call to restart use.".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testkit::Kit;
    use bellwether_core::Day;

    /// Logins on every working day up to and including `last`, and again from `resume` on.
    fn kit(as_of: Day, last: Day, resume: Day) -> Kit {
        let mut k = Kit::new(as_of);
        k.metric("event:login", -200, 60, move |d, w| {
            if w && (d <= last || d >= resume) {
                12.0
            } else {
                0.0
            }
        });
        k
    }

    #[test]
    fn silence_fires_with_severity_by_length() {
        let as_of = Day::ymd(2025, 6, 16); // a Monday
        let last = Day::ymd(2025, 5, 30); // a Friday, 16 days earlier
                                          // Use resumes on 1 August: after every day tested, so it must not end the silence.
        let k = kit(as_of, last, Day::ymd(2025, 8, 1));
        let d = k.run(&LoginSilence::default()).expect("fires");
        assert_eq!(d.severity, Severity::Medium);
        assert!(
            d.explanation
                .contains("for 10 working days (16 calendar days)")
                && d.explanation.contains("on 2025-05-30"),
            "{}",
            d.explanation
        );
        let d = k
            .run_at(&LoginSilence::default(), Day::ymd(2025, 7, 1))
            .unwrap();
        assert_eq!(d.severity, Severity::High, "{}", d.explanation);
        let d = k
            .run_at(&LoginSilence::default(), Day::ymd(2025, 8, 1))
            .unwrap();
        assert_eq!(d.severity, Severity::Critical, "{}", d.explanation);
    }

    #[test]
    fn weekends_holidays_and_never_active_accounts_do_not_fire() {
        // Friday to Monday is no silence.
        let as_of = Day::ymd(2025, 6, 16);
        let k = kit(as_of, as_of.plus(-3), as_of);
        assert!(k.run(&LoginSilence::default()).is_none());
        // Back after Christmas: last active Friday 19 December, 5 January is 5 working days on.
        let as_of = Day::ymd(2026, 1, 5);
        let k = kit(as_of, Day::ymd(2025, 12, 19), as_of);
        assert!(k.run(&LoginSilence::default()).is_none());
        // An account that only ever logged in twice was never active.
        let mut k = Kit::new(Day::ymd(2025, 6, 16));
        k.metric("event:login", -60, -58, |_, _| 1.0);
        assert!(k.run(&LoginSilence::default()).is_none());
        // A churned account is not silent, it is gone.
        let mut k = kit(Day::ymd(2025, 6, 16), Day::ymd(2025, 5, 30), Day(i32::MAX));
        k.features.churned = true;
        assert!(k.run(&LoginSilence::default()).is_none());
    }
}

//! New team adoption: a burst of new users or new use, the usual sign that another team or department has
//! started with the product.
//!
//! Any of three things fires it:
//!
//! - **more people**: weekly active users over the last 4 whole weeks (the `weekly_active_users` series, weeks
//!   dated by their Sunday, so the week in progress is never read) average at least 1.4 times the usual level and
//!   at least 5 more people. The usual level is the median of the 12 weeks before, so one holiday week in it
//!   changes nothing;
//! - **invitations**: `user_invited` events in the last 28 days number at least 5 and at least 3 times the usual
//!   rate (the 90 days before, scaled to 28 days);
//! - **a new feature**: an event the account had never sent before first appeared in the last 28 days and was
//!   used by at least 3 people on one day (`users:<name>`).
//!
//! Each needs the account to have been active for the whole comparison window, since for a new account
//! everything is new. One reason is low severity; two or more, or weekly users doubling, is medium.

use crate::{median, Context, Detection, Detector, Direction};
use bellwether_core::model::Severity;
use bellwether_core::series::{EVENT_PREFIX, USERS_PREFIX, WEEKLY_ACTIVE_USERS};
use serde_json::json;

/// Fires on a burst of weekly users, of invitations, or of users of a feature new to the account.
pub struct NewTeamAdoption {
    /// Smallest ratio of recent to usual weekly active users.
    pub min_growth: f64,
    /// Fewest additional weekly active users.
    pub min_new_users: f64,
    /// Fewest invitations in 28 days.
    pub min_invites: f64,
    /// Smallest ratio of recent to usual invitations.
    pub invite_ratio: f64,
    /// Fewest people using a new feature on one day.
    pub min_feature_users: f64,
}

impl Default for NewTeamAdoption {
    fn default() -> Self {
        NewTeamAdoption {
            min_growth: 1.4,
            min_new_users: 5.0,
            min_invites: 5.0,
            invite_ratio: 3.0,
            min_feature_users: 3.0,
        }
    }
}

const INVITE_EVENT: &str = "event:user_invited";

impl Detector for NewTeamAdoption {
    fn kind(&self) -> &'static str {
        "new_team_adoption"
    }
    fn direction(&self) -> Direction {
        Direction::Expansion
    }
    fn cooldown_days(&self) -> i32 {
        45
    }
    fn detect(&self, cx: &Context) -> Option<Detection> {
        let series = cx.series?;
        let as_of = cx.as_of;
        let first_event = series
            .metrics
            .iter()
            .filter(|(n, _)| n.starts_with(EVENT_PREFIX))
            .filter_map(|(_, s)| s.first_day())
            .filter(|d| *d < as_of)
            .min();
        let mut reasons: Vec<String> = Vec::new();
        let mut evidence = serde_json::Map::new();
        let mut doubled = false;

        // More people: weekly active users of the last 4 whole weeks against the median of the 12 before.
        if let Some(wau) = series.get(WEEKLY_ACTIVE_USERS) {
            let mut sunday = as_of.plus(-1);
            while sunday.weekday() != 6 {
                sunday = sunday.plus(-1);
            }
            let week = |k: i32| {
                let end = sunday.plus(-7 * k);
                wau.sum(end, end.plus(1)) + 0.0
            };
            let recent: Vec<f64> = (0..4).map(week).collect();
            let usual: Vec<f64> = (4..16).map(week).collect();
            let oldest = sunday.plus(-7 * 15);
            if wau.first_day().is_some_and(|f| f <= oldest) {
                let now = recent.iter().sum::<f64>() / 4.0;
                let base = median(&usual).unwrap_or(0.0);
                if base > 0.0 && now >= self.min_growth * base && now - base >= self.min_new_users {
                    doubled = now >= 2.0 * base;
                    reasons.push(format!(
                        "weekly active users averaged {now:.0} over the last 4 weeks against a usual {base:.0} (the median of the 12 weeks before), {:.1} times as many",
                        now / base
                    ));
                    evidence.insert(
                        "weekly_users".into(),
                        json!({"recent_mean": now, "usual_median": base, "recent_weeks": recent, "week_ending": sunday.to_string()}),
                    );
                }
            }
        }

        let known = first_event.is_some_and(|f| f <= as_of.plus(-118));

        // Invitations.
        if let (true, Some(inv)) = (known, series.get(INVITE_EVENT)) {
            let now = inv.sum(as_of.plus(-28), as_of);
            let usual = inv.sum(as_of.plus(-118), as_of.plus(-28)) * 28.0 / 90.0;
            if now >= self.min_invites && now >= self.invite_ratio * usual {
                reasons.push(format!(
                    "{now:.0} users were invited in the last 28 days against about {usual:.1} per 28 days before"
                ));
                evidence.insert(
                    "invitations".into(),
                    json!({"last_28d": now, "usual_per_28d": usual}),
                );
            }
        }

        // Features new to the account, used by several people.
        if known {
            let mut new_features = Vec::new();
            for (name, s) in &series.metrics {
                let Some(event) = name.strip_prefix(EVENT_PREFIX) else {
                    continue;
                };
                let Some(first) = s.first_day() else { continue };
                if first < as_of.plus(-28) || first >= as_of {
                    continue;
                }
                let peak = series
                    .get(&format!("{USERS_PREFIX}{event}"))
                    .map(|u| {
                        u.range(as_of.plus(-28), as_of)
                            .iter()
                            .map(|p| p.1)
                            .fold(0.0, f64::max)
                    })
                    .unwrap_or(0.0);
                if peak >= self.min_feature_users {
                    new_features.push((event, first, peak));
                }
            }
            if !new_features.is_empty() {
                let said: Vec<String> = new_features
                    .iter()
                    .map(|(e, f, p)| {
                        format!("`{e}` (first used on {f}, by up to {p:.0} people a day)")
                    })
                    .collect();
                let count = match new_features.len() {
                    1 => "a feature".to_string(),
                    n => format!("{n} features"),
                };
                reasons.push(format!(
                    "the account started using {count} it had never used before: {}",
                    said.join(", ")
                ));
                evidence.insert(
                    "new_features".into(),
                    json!(new_features
                        .iter()
                        .map(|(e, f, p)| json!({"feature": e, "first_used": f.to_string(), "peak_daily_users": p}))
                        .collect::<Vec<_>>()),
                );
            }
        }

        if reasons.is_empty() {
            return None;
        }
        let severity = if reasons.len() >= 2 || doubled {
            Severity::Medium
        } else {
            Severity::Low
        };
        let mut explanation = reasons.join("; ");
        if let Some(f) = explanation.get_mut(0..1) {
            f.make_ascii_uppercase();
        }
        explanation.push('.');
        Some(Detection {
            kind: self.kind(),
            direction: self.direction(),
            severity,
            evidence: serde_json::Value::Object(evidence),
            explanation,
            suggested_action: "Find out which team or department has started using the product, meet its lead and offer onboarding; a new team is the natural start of an expansion (more seats or a department licence).".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testkit::Kit;
    use bellwether_core::Day;

    /// 200 days of logins; weekly active users of `usual` and `recent` in the last 4 whole weeks before the day.
    fn kit(as_of: Day, usual: f64, recent: f64) -> Kit {
        let mut k = Kit::new(as_of);
        k.metric("event:login", -200, 30, |_, w| if w { 30.0 } else { 0.0 })
            .metric(WEEKLY_ACTIVE_USERS, -200, 30, move |d, _| {
                if d.weekday() != 6 {
                    0.0
                } else if d >= as_of.plus(-28) && d < as_of {
                    recent
                } else {
                    usual
                }
            });
        k
    }

    #[test]
    fn more_weekly_users_fire() {
        let as_of = Day::ymd(2025, 6, 16);
        let d = kit(as_of, 20.0, 30.0)
            .run(&NewTeamAdoption::default())
            .expect("fires");
        assert_eq!(d.severity, Severity::Low);
        assert_eq!(d.direction, Direction::Expansion);
        assert_eq!(
            d.explanation,
            "Weekly active users averaged 30 over the last 4 weeks against a usual 20 (the median of the 12 weeks before), 1.5 times as many."
        );
    }

    #[test]
    fn invitations_and_a_new_feature_together_are_medium() {
        let as_of = Day::ymd(2025, 6, 16);
        let mut k = kit(as_of, 20.0, 20.0);
        k.metric("event:user_invited", -150, 0, |d, _| {
            if d >= as_of.plus(-20) && d.weekday() < 3 {
                3.0
            } else if d.0 % 14 == 0 {
                1.0
            } else {
                0.0
            }
        })
        .metric(
            "event:workflow_created",
            -10,
            0,
            |_, w| if w { 6.0 } else { 0.0 },
        )
        .metric(
            "users:workflow_created",
            -10,
            0,
            |_, w| if w { 4.0 } else { 0.0 },
        );
        let d = k.run(&NewTeamAdoption::default()).expect("fires");
        assert_eq!(d.severity, Severity::Medium);
        assert!(
            d.explanation.contains("users were invited in the last 28 days")
                && d.explanation.contains("the account started using a feature it had never used before: `workflow_created` (first used on 2025-06-06, by up to 4 people a day)"),
            "{}",
            d.explanation
        );
    }

    #[test]
    fn steady_use_holidays_new_accounts_and_the_future_do_not_fire() {
        // Thanksgiving, Christmas and New Year weeks at 8 users among usual weeks of 20: a mean would put the
        // usual level at 17 and read 25 as a burst; the median stays at 20.
        let as_of = Day::ymd(2026, 2, 16);
        let mut k = kit(as_of, 20.0, 25.0);
        let holidays = [
            Day::ymd(2025, 11, 30),
            Day::ymd(2025, 12, 28),
            Day::ymd(2026, 1, 4),
        ];
        let mut w = k.series.metrics[WEEKLY_ACTIVE_USERS].points.clone();
        for p in &mut w {
            if holidays.contains(&p.0) {
                p.1 = 8.0;
            }
        }
        k.points(WEEKLY_ACTIVE_USERS, w);
        assert!(k.run(&NewTeamAdoption::default()).is_none());
        // A burst in the week in progress (its Sunday is after the day) is not read.
        let as_of = Day::ymd(2025, 6, 18);
        let mut k = kit(as_of, 20.0, 20.0);
        let sunday = Day::ymd(2025, 6, 22);
        k.points(
            WEEKLY_ACTIVE_USERS,
            (0..30)
                .map(|i| (sunday.plus(-7 * i), if i == 0 { 60.0 } else { 20.0 }))
                .collect(),
        );
        assert!(k.run(&NewTeamAdoption::default()).is_none());
        // For a new account every feature is new.
        let mut k = Kit::new(as_of);
        k.metric("event:login", -40, 0, |_, w| if w { 5.0 } else { 0.0 })
            .metric(
                "event:report_exported",
                -20,
                0,
                |_, w| if w { 5.0 } else { 0.0 },
            )
            .metric(
                "users:report_exported",
                -20,
                0,
                |_, w| if w { 5.0 } else { 0.0 },
            );
        assert!(k.run(&NewTeamAdoption::default()).is_none());
    }
}

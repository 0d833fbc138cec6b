//! Ticket spike: the account opened at least 3 support tickets in the last 14 days, and at least 3 times as
//! many as its own usual rate.
//!
//! The usual rate is the tickets opened in the 90 days before the last 14, scaled to 14 days, so a busy account
//! that always files many tickets does not fire while a quiet one suddenly filing several does. The account
//! must have been known for those 104 days (contract tenure, an older ticket or older usage), since onboarding
//! accounts file tickets as a matter of course. A spike is high when it is large (6 or more tickets and 6
//! times the usual rate) or when two or more of the tickets are high or urgent priority.

use crate::{Context, Detection, Detector, Direction};
use bellwether_core::model::{Priority, Severity};
use serde_json::json;

/// Fires on `min_tickets` or more tickets in `window_days` at `min_ratio` times the usual rate.
pub struct TicketSpike {
    /// The recent window, in days.
    pub window_days: i32,
    /// The baseline window before it, in days.
    pub baseline_days: i32,
    /// Fewest recent tickets that fire.
    pub min_tickets: usize,
    /// Smallest multiple of the usual rate that fires.
    pub min_ratio: f64,
}

impl Default for TicketSpike {
    fn default() -> Self {
        TicketSpike {
            window_days: 14,
            baseline_days: 90,
            min_tickets: 3,
            min_ratio: 3.0,
        }
    }
}

impl Detector for TicketSpike {
    fn kind(&self) -> &'static str {
        "ticket_spike"
    }
    fn direction(&self) -> Direction {
        Direction::Risk
    }
    fn cooldown_days(&self) -> i32 {
        21
    }
    fn detect(&self, cx: &Context) -> Option<Detection> {
        let span = self.window_days + self.baseline_days;
        let start = cx.as_of.plus(-span);
        let known = cx.features.tenure_days.is_some_and(|t| t >= span as i64)
            || cx.tickets().any(|k| k.opened_at.day() <= start)
            || cx.series.is_some_and(|s| {
                s.metrics
                    .values()
                    .filter_map(|m| m.first_day())
                    .any(|d| d <= start)
            });
        if !known {
            return None;
        }
        let recent: Vec<_> = cx
            .tickets()
            .filter(|k| cx.within(k.opened_at, self.window_days))
            .collect();
        if recent.len() < self.min_tickets {
            return None;
        }
        let before = cx
            .tickets()
            .filter(|k| cx.within(k.opened_at, span) && !cx.within(k.opened_at, self.window_days))
            .count();
        let rate = before as f64 * self.window_days as f64 / self.baseline_days as f64;
        let n = recent.len() as f64;
        if n < self.min_ratio * rate {
            return None;
        }
        let ratio = (rate > 0.0).then(|| n / rate);
        let urgent = recent
            .iter()
            .filter(|k| matches!(k.priority, Priority::High | Priority::Urgent))
            .count();
        let big = recent.len() >= 2 * self.min_tickets && ratio.is_none_or(|r| r >= 6.0);
        let severity = if big || urgent >= 2 {
            Severity::High
        } else {
            Severity::Medium
        };
        let usual = match ratio {
            Some(r) => format!(
                "{r:.1} times the account's usual rate of {rate:.1} per {} days ({before} tickets in the {} days before)",
                self.window_days, self.baseline_days
            ),
            None => format!(
                "against none in the {} days before",
                self.baseline_days
            ),
        };
        let subjects: Vec<&str> = recent
            .iter()
            .rev()
            .take(3)
            .map(|k| k.subject.as_str())
            .collect();
        Some(Detection {
            kind: self.kind(),
            direction: self.direction(),
            severity,
            evidence: json!({
                "tickets": recent.len(), "baseline_tickets": before, "rate_per_window": rate, "ratio": ratio,
                "high_or_urgent": urgent, "window_days": self.window_days, "baseline_days": self.baseline_days,
                "latest_subjects": subjects,
            }),
            explanation: format!(
                "{} support tickets were opened in the last {} days, {usual}; {}.",
                recent.len(),
                self.window_days,
                match urgent {
                    0 => "none of them is high or urgent priority".to_string(),
                    1 => "1 of them is high or urgent priority".to_string(),
                    n => format!("{n} of them are high or urgent priority"),
                }
            ),
            suggested_action: "Review the recent tickets with support for a common cause (a release, an outage, an integration), then call the champion to acknowledge the problems and agree fixes with dates.".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testkit::Kit;
    use bellwether_core::Day;

    /// An account of a year's tenure with one ticket a month before the last 14 days.
    fn kit() -> Kit {
        let mut k = Kit::new(Day::ymd(2025, 6, 16));
        k.features.tenure_days = Some(365);
        for back in [100, 70, 40] {
            k.ticket(-back, Priority::Normal, "Question about our invoice");
        }
        k
    }

    #[test]
    fn a_burst_against_a_quiet_history_fires() {
        let mut k = kit();
        for back in [12, 8, 5, 2] {
            k.ticket(-back, Priority::Normal, "Report export fails");
        }
        k.ticket(-1, Priority::Urgent, "API returns 500");
        let d = k.run(&TicketSpike::default()).expect("fires");
        assert_eq!(d.severity, Severity::Medium);
        assert!(
            d.explanation.starts_with(
                "5 support tickets were opened in the last 14 days, 10.7 times the account's usual rate of 0.5 per 14 days (3 tickets in the 90 days before); 1 of them is high or urgent"
            ),
            "{}",
            d.explanation
        );
        // Two more urgent ones make it high.
        k.ticket(-3, Priority::High, "SSO login fails");
        k.ticket(-4, Priority::Urgent, "Dashboard not loading");
        assert_eq!(
            k.run(&TicketSpike::default()).unwrap().severity,
            Severity::High
        );
    }

    #[test]
    fn busy_accounts_few_tickets_new_accounts_and_future_tickets_do_not_fire() {
        // An account that usually files about 5 tickets a fortnight.
        let mut busy = Kit::new(Day::ymd(2025, 6, 16));
        busy.features.tenure_days = Some(365);
        for back in (15..104).step_by(3) {
            busy.ticket(-back, Priority::Normal, "Question");
        }
        for back in [12, 9, 6, 3, 1, 2] {
            busy.ticket(-back, Priority::Normal, "Question");
        }
        assert!(busy.run(&TicketSpike::default()).is_none());
        // Two tickets are not a spike.
        let mut k = kit();
        k.ticket(-3, Priority::Urgent, "A");
        k.ticket(-2, Priority::Urgent, "B");
        // Tickets on and after the day are not counted.
        k.ticket(0, Priority::Urgent, "C");
        k.ticket(3, Priority::Urgent, "D");
        assert!(k.run(&TicketSpike::default()).is_none());
        // A new account filing tickets while onboarding.
        let mut new = Kit::new(Day::ymd(2025, 6, 16));
        new.features.tenure_days = Some(30);
        for back in [10, 6, 3, 1] {
            new.ticket(-back, Priority::Normal, "How do I set up SSO?");
        }
        assert!(new.run(&TicketSpike::default()).is_none());
    }
}

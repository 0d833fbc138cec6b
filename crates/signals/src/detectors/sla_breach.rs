//! SLA breach: two or more tickets opened in the last 30 days breached their SLA, or one urgent ticket did.
//!
//! Breaches are read from the help desk's flag on each ticket and dated by the ticket's opening. A breach on an
//! urgent ticket, or four or more breaches, is high; otherwise medium.

use crate::{Context, Detection, Detector, Direction};
use bellwether_core::model::{Priority, Severity};
use serde_json::json;

/// Fires on `min_breaches` SLA breaches in `window_days`, or one on an urgent ticket.
pub struct SlaBreach {
    /// The window, in days.
    pub window_days: i32,
    /// Fewest breaches that fire when none is urgent.
    pub min_breaches: usize,
}

impl Default for SlaBreach {
    fn default() -> Self {
        SlaBreach {
            window_days: 30,
            min_breaches: 2,
        }
    }
}

impl Detector for SlaBreach {
    fn kind(&self) -> &'static str {
        "sla_breach"
    }
    fn direction(&self) -> Direction {
        Direction::Risk
    }
    fn cooldown_days(&self) -> i32 {
        21
    }
    fn detect(&self, cx: &Context) -> Option<Detection> {
        let breached: Vec<_> = cx
            .tickets()
            .filter(|k| k.sla_breached && cx.within(k.opened_at, self.window_days))
            .collect();
        let urgent: Vec<_> = breached
            .iter()
            .filter(|k| k.priority == Priority::Urgent)
            .collect();
        if breached.len() < self.min_breaches && urgent.is_empty() {
            return None;
        }
        let severity = if !urgent.is_empty() || breached.len() >= 2 * self.min_breaches {
            Severity::High
        } else {
            Severity::Medium
        };
        let slowest = breached
            .iter()
            .filter_map(|k| k.first_response_minutes)
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
        let mut explanation = match (breached.len(), urgent.last()) {
            (1, Some(k)) => format!(
                "The urgent ticket \"{}\", opened on {}, breached its SLA",
                k.subject,
                k.opened_at.day()
            ),
            (n, Some(k)) => format!(
                "{n} tickets opened in the last {} days breached their SLA, including the urgent ticket \"{}\" opened on {}",
                self.window_days,
                k.subject,
                k.opened_at.day()
            ),
            (n, None) => format!(
                "{n} tickets opened in the last {} days breached their SLA",
                self.window_days
            ),
        };
        if let Some(m) = slowest {
            explanation.push_str(&format!(
                "; the slowest first response took {:.1} hours",
                m / 60.0
            ));
        }
        explanation.push('.');
        Some(Detection {
            kind: self.kind(),
            direction: self.direction(),
            severity,
            evidence: json!({
                "breaches": breached.len(), "urgent_breaches": urgent.len(), "window_days": self.window_days,
                "slowest_first_response_minutes": slowest,
                "tickets": breached.iter().map(|k| json!({"id": k.id, "subject": k.subject, "priority": k.priority.as_str(), "opened": k.opened_at.day().to_string()})).collect::<Vec<_>>(),
            }),
            explanation,
            suggested_action: "Review the breached tickets with the support lead, send the customer an honest account of what went wrong and what will change, and check that their plan's SLA fits how they work.".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testkit::Kit;
    use bellwether_core::Day;

    fn kit() -> Kit {
        Kit::new(Day::ymd(2025, 6, 16))
    }

    #[test]
    fn two_breaches_are_medium_and_an_urgent_one_is_high() {
        let mut k = kit();
        let t = k.ticket(-20, Priority::Normal, "CSV export missing rows");
        t.sla_breached = true;
        t.first_response_minutes = Some(570.0);
        k.ticket(-5, Priority::High, "CRM sync stopped")
            .sla_breached = true;
        k.ticket(-4, Priority::Normal, "Answered in time");
        let d = k.run(&SlaBreach::default()).expect("fires");
        assert_eq!(d.severity, Severity::Medium);
        assert_eq!(
            d.explanation,
            "2 tickets opened in the last 30 days breached their SLA; the slowest first response took 9.5 hours."
        );
        let mut k = kit();
        k.ticket(-2, Priority::Urgent, "API returns 500")
            .sla_breached = true;
        let d = k.run(&SlaBreach::default()).expect("fires");
        assert_eq!(d.severity, Severity::High);
        assert!(
            d.explanation.starts_with(
                "The urgent ticket \"API returns 500\", opened on 2025-06-14, breached its SLA."
            ),
            "{}",
            d.explanation
        );
    }

    #[test]
    fn one_ordinary_breach_old_and_future_breaches_do_not_fire() {
        let mut k = kit();
        k.ticket(-3, Priority::Normal, "One").sla_breached = true;
        k.ticket(-40, Priority::Urgent, "Old").sla_breached = true;
        k.ticket(0, Priority::Urgent, "Today, after the day began")
            .sla_breached = true;
        k.ticket(4, Priority::Normal, "Future").sla_breached = true;
        assert!(k.run(&SlaBreach::default()).is_none());
    }
}

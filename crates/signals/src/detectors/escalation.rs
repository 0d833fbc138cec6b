//! Escalation: a ticket opened in the last 14 days was escalated, or an urgent ticket has been open for more
//! than 3 days.
//!
//! A ticket is open on the day when it has no closing time before the day (and its status is not a closed one
//! when the closing time is missing). Urgent tickets open for more than 90 days are taken to be help-desk
//! records nobody closed, not live emergencies. One escalation or one stuck urgent ticket is high; two or more
//! escalations, an escalation together with a stuck urgent ticket, or an urgent ticket open for 10 days or more
//! is critical.

use crate::{Context, Detection, Detector, Direction};
use bellwether_core::model::{Priority, Severity, Ticket};
use serde_json::json;

/// Fires on recent escalations and on urgent tickets left open.
pub struct Escalation {
    /// Days an escalated ticket stays news (by opening day).
    pub window_days: i32,
    /// Days an urgent ticket may stay open before it fires.
    pub urgent_open_days: i32,
    /// Days open beyond which an urgent ticket is taken to be a stale record.
    pub stale_days: i32,
}

impl Default for Escalation {
    fn default() -> Self {
        Escalation {
            window_days: 14,
            urgent_open_days: 3,
            stale_days: 90,
        }
    }
}

fn open_at(k: &Ticket, cx: &Context) -> bool {
    match k.closed_at {
        Some(c) => c >= cx.until,
        None => !matches!(
            k.status.to_ascii_lowercase().as_str(),
            "solved" | "closed" | "resolved" | "done"
        ),
    }
}

impl Detector for Escalation {
    fn kind(&self) -> &'static str {
        "escalation"
    }
    fn direction(&self) -> Direction {
        Direction::Risk
    }
    fn detect(&self, cx: &Context) -> Option<Detection> {
        let escalated: Vec<&Ticket> = cx
            .tickets()
            .filter(|k| k.escalated && cx.within(k.opened_at, self.window_days))
            .collect();
        let mut stuck: Vec<&Ticket> = cx
            .tickets()
            .filter(|k| {
                let days = cx.days_since(k.opened_at);
                k.priority == Priority::Urgent
                    && days > self.urgent_open_days
                    && days <= self.stale_days
                    && open_at(k, cx)
            })
            .collect();
        if escalated.is_empty() && stuck.is_empty() {
            return None;
        }
        stuck.sort_by_key(|k| k.opened_at);
        let longest = stuck.first().map(|k| cx.days_since(k.opened_at));
        let severity = if escalated.len() >= 2
            || (!escalated.is_empty() && !stuck.is_empty())
            || longest.is_some_and(|d| d >= 10)
        {
            Severity::Critical
        } else {
            Severity::High
        };
        let mut parts = Vec::new();
        if let Some(k) = escalated.last() {
            let others = if escalated.len() > 1 {
                format!(
                    " ({} escalated tickets in the last {} days)",
                    escalated.len(),
                    self.window_days
                )
            } else {
                String::new()
            };
            parts.push(format!(
                "the ticket \"{}\", opened {} days ago on {}, was escalated{others}",
                k.subject,
                cx.days_since(k.opened_at),
                k.opened_at.day()
            ));
        }
        if let Some(k) = stuck.first() {
            let others = if stuck.len() > 1 {
                format!(
                    " ({} urgent tickets open for more than {} days)",
                    stuck.len(),
                    self.urgent_open_days
                )
            } else {
                String::new()
            };
            parts.push(format!(
                "the urgent ticket \"{}\" has been open for {} days, since {}{others}",
                k.subject,
                cx.days_since(k.opened_at),
                k.opened_at.day()
            ));
        }
        let explanation = parts
            .iter()
            .map(|p| {
                let mut p = p.clone();
                if let Some(f) = p.get_mut(0..1) {
                    f.make_ascii_uppercase();
                }
                p + "."
            })
            .collect::<Vec<_>>()
            .join(" ");
        Some(Detection {
            kind: self.kind(),
            direction: self.direction(),
            severity,
            evidence: json!({
                "escalated": escalated.iter().map(|k| json!({"id": k.id, "subject": k.subject, "opened": k.opened_at.day().to_string()})).collect::<Vec<_>>(),
                "urgent_open": stuck.iter().map(|k| json!({"id": k.id, "subject": k.subject, "days_open": cx.days_since(k.opened_at)})).collect::<Vec<_>>(),
            }),
            explanation,
            suggested_action: "Join the escalation: agree an owner and a fix date with support and engineering, and update the champion every day until it is closed.".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testkit::{at, Kit};
    use bellwether_core::Day;

    fn as_of() -> Day {
        Day::ymd(2025, 6, 16)
    }

    #[test]
    fn an_escalated_ticket_is_high_and_with_a_stuck_urgent_one_critical() {
        let mut k = Kit::new(as_of());
        k.ticket(-3, Priority::High, "SSO login fails for some users")
            .escalated = true;
        let d = k.run(&Escalation::default()).expect("fires");
        assert_eq!(d.severity, Severity::High);
        assert_eq!(
            d.explanation,
            "The ticket \"SSO login fails for some users\", opened 3 days ago on 2025-06-13, was escalated."
        );
        k.ticket(-6, Priority::Urgent, "API returns 500");
        let d = k.run(&Escalation::default()).unwrap();
        assert_eq!(d.severity, Severity::Critical);
        assert!(
            d.explanation.contains(
                " The urgent ticket \"API returns 500\" has been open for 6 days, since 2025-06-10."
            ),
            "{}",
            d.explanation
        );
    }

    #[test]
    fn an_urgent_ticket_open_four_days_fires_and_one_closed_in_time_does_not() {
        let mut k = Kit::new(as_of());
        // Closed after the day: still open as of the day.
        k.ticket(-4, Priority::Urgent, "Import stuck in processing")
            .closed_at = Some(at(as_of().plus(2)));
        assert_eq!(
            k.run(&Escalation::default()).unwrap().severity,
            Severity::High
        );
        let mut k = Kit::new(as_of());
        k.ticket(-4, Priority::Urgent, "Import stuck").closed_at = Some(at(as_of().plus(-1)));
        k.ticket(-2, Priority::Urgent, "Open for two days only");
        k.ticket(-200, Priority::Urgent, "Never closed in the help desk");
        let t = k.ticket(-30, Priority::Urgent, "Solved, no closing time");
        t.status = "solved".into();
        // Escalations opened long ago or after the day.
        k.ticket(-20, Priority::Normal, "Old escalation").escalated = true;
        k.ticket(1, Priority::Normal, "Future escalation").escalated = true;
        assert!(k.run(&Escalation::default()).is_none());
    }
}

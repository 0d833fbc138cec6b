//! Cancellation scheduled: the customer has told the billing system to end the subscription (Stripe's
//! `cancel_at` or `cancel_at_period_end`), with what they said about why.
//!
//! Reads the account's `cancel_at` attribute (the day the cancellation takes effect, cleared when it is
//! withdrawn) and `cancellation_feedback` as of the day. Critical when it takes effect within 30 days (or on
//! an unknown day at the period's end), else high: there is still time to save the account.

use crate::{Context, Detection, Detector, Direction};
use bellwether_core::history::attr;
use bellwether_core::model::Severity;
use bellwether_core::Day;
use serde_json::json;

/// Fires while a cancellation is scheduled.
pub struct CancellationScheduled {
    /// Days before the cancellation within which the signal is critical.
    pub critical_within_days: i32,
}

impl Default for CancellationScheduled {
    fn default() -> Self {
        CancellationScheduled {
            critical_within_days: 30,
        }
    }
}

impl Detector for CancellationScheduled {
    fn kind(&self) -> &'static str {
        "cancellation_scheduled"
    }
    fn direction(&self) -> Direction {
        Direction::Risk
    }
    fn cooldown_days(&self) -> i32 {
        30
    }
    fn detect(&self, cx: &Context) -> Option<Detection> {
        let view = cx.facts.view(cx.account, cx.as_of);
        let when = view.extra.get(attr::CANCEL_AT)?;
        let day = Day::parse(when).ok();
        let days_left = day.map(|d| d.0 - cx.as_of.0);
        let feedback = view.extra.get(attr::CANCELLATION_FEEDBACK).cloned();
        let severity = match days_left {
            Some(d) if d > self.critical_within_days => Severity::High,
            _ => Severity::Critical,
        };
        let on = match (day, days_left) {
            (Some(d), Some(n)) if n >= 0 => format!("on {d}, in {n} days"),
            (Some(d), _) => format!("on {d}"),
            _ => "at the end of the billing period".to_string(),
        };
        let said = match &feedback {
            Some(f) => format!(" The customer's reason: {f}."),
            None => " The customer gave no reason.".to_string(),
        };
        Some(Detection {
            kind: self.kind(),
            direction: self.direction(),
            severity,
            evidence: json!({
                "cancel_at": day.map(|d| d.to_string()),
                "days_left": days_left,
                "feedback": feedback,
            }),
            explanation: format!(
                "The subscription is set to cancel {on}.{said}"
            ),
            suggested_action: "Call the sponsor before the date: hear the reason out, and bring an offer that answers it (price, plan, help with adoption).".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Calendar;
    use bellwether_core::history::AttrFact;
    use bellwether_core::{AccountId, Timestamp};
    use bellwether_features::AccountFeatures;
    use bellwether_store::AccountFacts;

    fn fact(name: &str, value: Option<&str>, day: Day) -> AttrFact {
        AttrFact {
            subject: "a".into(),
            attr: name.into(),
            value: value.map(String::from),
            valid_from: day.start(),
            received_at: Timestamp(0),
        }
    }

    #[test]
    fn fires_with_the_feedback_until_withdrawn() {
        let d = Day::ymd(2026, 3, 1);
        let mut facts = AccountFacts {
            attrs: vec![
                fact(attr::CANCEL_AT, Some("2026-03-20"), d),
                fact(attr::CANCELLATION_FEEDBACK, Some("too expensive"), d),
            ],
            ..Default::default()
        };
        let id = AccountId::from("a");
        let features = AccountFeatures::default();
        let cal = Calendar::default();
        let cx = |facts: &AccountFacts, as_of: Day| {
            CancellationScheduled::default().detect(&Context {
                account: &id,
                as_of,
                until: as_of.start(),
                features: &features,
                facts,
                series: None,
                calendar: &cal,
            })
        };
        assert!(
            cx(&facts, d).is_none(),
            "not seen before the day it was set"
        );
        let s = cx(&facts, d.plus(1)).unwrap();
        assert_eq!(s.severity, Severity::Critical);
        assert_eq!(s.evidence["feedback"], "too expensive");
        assert!(s.explanation.contains("2026-03-20") && s.explanation.contains("too expensive"));
        facts.attrs.push(fact(attr::CANCEL_AT, None, d.plus(3)));
        assert!(cx(&facts, d.plus(4)).is_none(), "withdrawn");
    }
}

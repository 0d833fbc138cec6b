//! Payment failure: an invoice payment failed in the last 30 days and no payment has succeeded since.

use crate::{Context, Detection, Detector, Direction};
use bellwether_core::model::{BillingKind, Severity};
use serde_json::json;

/// Fires on an unrecovered failed payment.
pub struct PaymentFailure;

impl Detector for PaymentFailure {
    fn kind(&self) -> &'static str {
        "payment_failure"
    }
    fn direction(&self) -> Direction {
        Direction::Risk
    }
    fn cooldown_days(&self) -> i32 {
        7
    }
    fn detect(&self, cx: &Context) -> Option<Detection> {
        let since = cx.as_of.plus(-30).start();
        let billing: Vec<_> = cx.billing().collect();
        let last_failure = billing
            .iter()
            .rev()
            .find(|b| b.kind == BillingKind::PaymentFailed && b.at >= since)?;
        if billing
            .iter()
            .any(|b| b.kind == BillingKind::InvoicePaid && b.at > last_failure.at)
        {
            return None;
        }
        let failures = billing
            .iter()
            .filter(|b| b.kind == BillingKind::PaymentFailed && b.at >= since)
            .count();
        let days_ago = cx.as_of.0 - last_failure.at.day().0;
        let when = match days_ago {
            ..=0 => "today".to_string(),
            1 => "yesterday".to_string(),
            n => format!("{n} days ago"),
        };
        let amount = last_failure
            .amount
            .map(|m| m.to_string())
            .unwrap_or_else(|| "an invoice".into());
        Some(Detection {
            kind: self.kind(),
            direction: self.direction(),
            severity: if failures >= 2 { Severity::High } else { Severity::Medium },
            evidence: json!({ "failures_30d": failures, "last_failure": last_failure.at.to_string(), "amount_minor": last_failure.amount.map(|m| m.minor) }),
            explanation: format!(
                "{} failed {when} and has not been paid since ({failures} failed attempt{} in 30 days).",
                amount,
                if failures == 1 { "" } else { "s" }
            ),
            suggested_action: "Ask billing whether the card expired or the budget holder changed; a quiet word with the sponsor now avoids a lapse at renewal.".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Calendar;
    use bellwether_core::model::BillingEvent;
    use bellwether_core::{AccountId, Day, Money, Timestamp};
    use bellwether_features::AccountFeatures;
    use bellwether_store::AccountFacts;

    fn ev(kind: BillingKind, day: Day) -> BillingEvent {
        BillingEvent {
            id: format!("{kind}-{}", day.0),
            account_id: AccountId::from("a"),
            at: Timestamp(day.start().0 + 1000),
            kind,
            amount: Some(Money::usd(120_000)),
            mrr_delta: None,
            seats_delta: None,
            plan: None,
            received_at: Timestamp(0),
        }
    }

    fn run(billing: Vec<BillingEvent>, as_of: Day) -> Option<Detection> {
        let facts = AccountFacts {
            billing,
            ..Default::default()
        };
        let (id, features, cal) = (
            AccountId::from("a"),
            AccountFeatures::default(),
            Calendar::default(),
        );
        PaymentFailure.detect(&Context {
            account: &id,
            as_of,
            until: as_of.start(),
            features: &features,
            facts: &facts,
            series: None,
            calendar: &cal,
        })
    }

    #[test]
    fn unrecovered_failures_fire_and_recovered_or_future_ones_do_not() {
        let d = Day::ymd(2025, 6, 1);
        let fired = run(
            vec![
                ev(BillingKind::PaymentFailed, d),
                ev(BillingKind::PaymentFailed, d.plus(3)),
            ],
            d.plus(10),
        )
        .unwrap();
        assert_eq!(fired.severity, Severity::High);
        assert!(
            fired.explanation.contains("1,200 USD failed 7 days ago"),
            "{}",
            fired.explanation
        );
        assert!(run(
            vec![
                ev(BillingKind::PaymentFailed, d),
                ev(BillingKind::InvoicePaid, d.plus(2))
            ],
            d.plus(10)
        )
        .is_none());
        assert!(
            run(vec![ev(BillingKind::PaymentFailed, d)], d.plus(40)).is_none(),
            "older than 30 days"
        );
        assert!(
            run(vec![ev(BillingKind::PaymentFailed, d.plus(10))], d.plus(10)).is_none(),
            "not yet happened as of the day"
        );
    }
}

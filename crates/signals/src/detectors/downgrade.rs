//! Downgrade: the account contracted in the last 60 days: a downgrade, a seat reduction, a cancellation or any
//! billing event with a negative MRR change.
//!
//! The amounts are summed over the window: MRR lost (and the yearly equivalent), seats removed, and, when the
//! account's ARR and seats as of the day are known, the share of what it had before. A cancellation or a loss
//! of 30% or more of MRR or seats is critical, 15% or more is high, anything smaller or unquantified is medium.

use crate::{Context, Detection, Detector, Direction};
use bellwether_core::model::{BillingKind, Severity};
use bellwether_core::{Currency, Money};
use serde_json::json;

/// Fires on contraction billing events within `window_days`.
pub struct Downgrade {
    /// Days a contraction stays news.
    pub window_days: i32,
}

impl Default for Downgrade {
    fn default() -> Self {
        Downgrade { window_days: 60 }
    }
}

impl Detector for Downgrade {
    fn kind(&self) -> &'static str {
        "downgrade"
    }
    fn direction(&self) -> Direction {
        Direction::Risk
    }
    fn cooldown_days(&self) -> i32 {
        60
    }
    fn detect(&self, cx: &Context) -> Option<Detection> {
        let events: Vec<_> = cx
            .billing()
            .filter(|b| cx.within(b.at, self.window_days))
            .filter(|b| {
                matches!(
                    b.kind,
                    BillingKind::Downgrade | BillingKind::SubscriptionCancelled
                ) || b.seats_delta.is_some_and(|s| s < 0)
                    || b.mrr_delta.is_some_and(|m| m < 0)
            })
            .collect();
        let latest = events.iter().max_by_key(|b| b.at)?;
        let mrr_lost: i64 = events
            .iter()
            .filter_map(|b| b.mrr_delta)
            .filter(|m| *m < 0)
            .map(|m| -m)
            .sum();
        let seats_lost: i64 = events
            .iter()
            .filter_map(|b| b.seats_delta)
            .filter(|s| *s < 0)
            .map(|s| -s)
            .sum();
        let cancelled = events
            .iter()
            .any(|b| b.kind == BillingKind::SubscriptionCancelled);
        let currency = events
            .iter()
            .find_map(|b| b.amount.map(|a| a.currency))
            .unwrap_or(Currency::USD);
        let money = |minor: i64| Money { minor, currency };
        // Shares of what the account had before the contraction, from its ARR and seats as of the day.
        let mrr_share = cx
            .features
            .arr_minor
            .filter(|_| mrr_lost > 0)
            .map(|arr| mrr_lost as f64 / (arr as f64 / 12.0 + mrr_lost as f64));
        let seats_share = cx
            .features
            .seats
            .filter(|_| seats_lost > 0)
            .map(|s| seats_lost as f64 / (s + seats_lost) as f64);
        let share = match (mrr_share, seats_share) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let severity = match share {
            _ if cancelled => Severity::Critical,
            Some(s) if s >= 0.3 => Severity::Critical,
            Some(s) if s >= 0.15 => Severity::High,
            _ => Severity::Medium,
        };
        let what = match latest.kind {
            BillingKind::SubscriptionCancelled => "a subscription was cancelled".to_string(),
            BillingKind::Downgrade => match &latest.plan {
                Some(p) => format!("the plan was downgraded to {p}"),
                None => "the plan was downgraded".to_string(),
            },
            _ if latest.seats_delta.is_some_and(|s| s < 0) => "seats were removed".to_string(),
            _ => "the subscription was reduced".to_string(),
        };
        let mut explanation = if events.len() == 1 {
            format!("The account contracted on {} when {what}", latest.at.day())
        } else {
            format!(
                "The account contracted {} times in the last {} days, the latest on {} when {what}",
                events.len(),
                self.window_days,
                latest.at.day()
            )
        };
        let mut amounts = Vec::new();
        if mrr_lost > 0 {
            let mut s = format!(
                "MRR down {} a month ({} a year",
                money(mrr_lost),
                money(mrr_lost * 12)
            );
            if let Some(sh) = mrr_share {
                s.push_str(&format!(", {:.0}% of the MRR before", sh * 100.0));
            }
            s.push(')');
            amounts.push(s);
        }
        if seats_lost > 0 {
            let mut s = format!(
                "{seats_lost} seat{} removed",
                if seats_lost == 1 { "" } else { "s" }
            );
            if let Some(now) = cx.features.seats {
                s.push_str(&format!(" (from {} to {now})", now + seats_lost));
            }
            amounts.push(s);
        }
        if amounts.is_empty() {
            explanation.push_str("; the billing data gives no amounts.");
        } else {
            explanation.push_str(&format!(": {}.", amounts.join(", ")));
        }
        Some(Detection {
            kind: self.kind(),
            direction: self.direction(),
            severity,
            evidence: json!({
                "events": events.iter().map(|b| json!({
                    "on": b.at.day().to_string(), "kind": b.kind.as_str(), "mrr_delta": b.mrr_delta,
                    "seats_delta": b.seats_delta, "plan": b.plan,
                })).collect::<Vec<_>>(),
                "mrr_lost_minor": mrr_lost, "seats_lost": seats_lost, "currency": currency.as_str(),
                "mrr_share": mrr_share, "seats_share": seats_share, "cancelled": cancelled,
            }),
            explanation,
            suggested_action: "Find out what drove the reduction (budget cuts, a team leaving, unused seats) before it spreads; agree with the sponsor the outcomes that would justify growing back, and update the renewal forecast.".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testkit::{usd, Kit};
    use bellwether_core::Day;

    fn kit() -> Kit {
        let mut k = Kit::new(Day::ymd(2025, 6, 16));
        k.features.arr_minor = Some(usd(54_000).minor);
        k.features.seats = Some(40);
        k
    }

    #[test]
    fn a_seat_reduction_fires_with_its_amounts() {
        let mut k = kit();
        let b = k.billing(-20, BillingKind::SeatsChanged);
        b.seats_delta = Some(-10);
        b.mrr_delta = Some(usd(-1_500).minor);
        b.amount = Some(usd(4_500));
        let d = k.run(&Downgrade::default()).expect("fires");
        assert_eq!(d.severity, Severity::High);
        assert_eq!(
            d.explanation,
            "The account contracted on 2025-05-27 when seats were removed: MRR down 1,500 USD a month (18,000 USD a year, 25% of the MRR before), 10 seats removed (from 50 to 40)."
        );
        // A cancellation on top is critical.
        k.billing(-2, BillingKind::SubscriptionCancelled).mrr_delta = Some(usd(-500).minor);
        let d = k.run(&Downgrade::default()).unwrap();
        assert_eq!(d.severity, Severity::Critical);
        assert!(
            d.explanation.starts_with(
                "The account contracted 2 times in the last 60 days, the latest on 2025-06-14 when a subscription was cancelled: MRR down 2,000 USD a month"
            ),
            "{}",
            d.explanation
        );
    }

    #[test]
    fn a_plan_downgrade_without_amounts_is_medium() {
        let mut k = kit();
        k.billing(-5, BillingKind::Downgrade).plan = Some("team".into());
        let d = k.run(&Downgrade::default()).expect("fires");
        assert_eq!(d.severity, Severity::Medium);
        assert!(
            d.explanation
                .contains("the plan was downgraded to team; the billing data gives no amounts."),
            "{}",
            d.explanation
        );
    }

    #[test]
    fn growth_old_and_future_contractions_do_not_fire() {
        let mut k = kit();
        let up = k.billing(-10, BillingKind::SeatsChanged);
        up.seats_delta = Some(5);
        up.mrr_delta = Some(usd(750).minor);
        k.billing(-70, BillingKind::Downgrade);
        k.billing(0, BillingKind::Downgrade);
        k.billing(10, BillingKind::SubscriptionCancelled);
        k.billing(-3, BillingKind::InvoicePaid).amount = Some(usd(4_500));
        assert!(k.run(&Downgrade::default()).is_none());
    }
}

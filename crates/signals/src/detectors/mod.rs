//! Every detector, one file each, and the one place they are registered.

mod cancellation_scheduled;
mod champion_left;
mod downgrade;
mod escalation;
mod feature_drop_off;
mod login_silence;
mod negative_sentiment_trend;
mod new_team_adoption;
mod nps_detractor;
mod payment_failure;
mod promoter;
mod qbr_missed;
mod seat_saturation;
mod seat_utilisation_fall;
mod sla_breach;
mod ticket_spike;
mod usage_drop;
mod usage_surge;

#[cfg(test)]
pub(crate) mod testkit;

use crate::Detector;

/// All detectors, in the order their signals are listed. Adding one is one line here.
///
/// Thresholds set here differ from a detector's `Default` where replaying the simulator's history showed the
/// default raised too many signals on healthy accounts (see docs/signals.md for the before and after).
pub fn all() -> Vec<Box<dyn Detector>> {
    vec![
        Box::new(usage_drop::UsageDrop::default()),
        Box::new(payment_failure::PaymentFailure),
        Box::new(feature_drop_off::FeatureDropOff {
            min_share: 0.5,
            ..Default::default()
        }),
        Box::new(login_silence::LoginSilence::default()),
        Box::new(seat_utilisation_fall::SeatUtilisationFall::default()),
        Box::new(champion_left::ChampionLeft {
            silence_days: 365,
            ..Default::default()
        }),
        Box::new(qbr_missed::QbrMissed {
            min_missed: 2,
            window_days: 180,
        }),
        Box::new(ticket_spike::TicketSpike::default()),
        Box::new(escalation::Escalation::default()),
        Box::new(sla_breach::SlaBreach::default()),
        Box::new(negative_sentiment_trend::NegativeSentimentTrend::default()),
        Box::new(nps_detractor::NpsDetractor::default()),
        Box::new(downgrade::Downgrade::default()),
        Box::new(seat_saturation::SeatSaturation {
            near_full: 1.25,
            approaching: 1.0,
            ..Default::default()
        }),
        Box::new(new_team_adoption::NewTeamAdoption::default()),
        Box::new(usage_surge::UsageSurge::default()),
        Box::new(cancellation_scheduled::CancellationScheduled::default()),
        Box::new(promoter::Promoter {
            min_score: 10.0,
            ..Default::default()
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::testkit::Kit;
    use super::*;
    use crate::Direction;
    use bellwether_core::model::{BillingKind, InteractionKind, Priority, Response};
    use bellwether_core::series::{MONTHLY_ACTIVE_USERS, WEEKLY_ACTIVE_USERS};
    use bellwether_core::Day;
    use std::collections::BTreeSet;

    #[test]
    fn kinds_are_unique_snake_case_and_expansion_ones_say_so() {
        let all = all();
        let kinds: BTreeSet<&str> = all.iter().map(|d| d.kind()).collect();
        assert_eq!(kinds.len(), all.len(), "duplicate kind");
        for d in &all {
            assert!(
                d.kind().chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{}",
                d.kind()
            );
            assert!(d.cooldown_days() > 0);
            let expansion = matches!(
                d.kind(),
                "seat_saturation" | "new_team_adoption" | "usage_surge" | "promoter"
            );
            assert_eq!(
                d.direction() == Direction::Expansion,
                expansion,
                "{}",
                d.kind()
            );
        }
        assert_eq!(all.len(), 18);
    }

    /// Every kind of fact that would fire some detector, dated on or after the day (offsets 0 to 40), on an
    /// account that was quietly using the product before: nothing may fire.
    #[test]
    fn no_detector_reads_the_future() {
        let as_of = Day::ymd(2025, 6, 16);
        let mut k = Kit::new(as_of);
        k.features.seats = Some(50);
        k.features.tenure_days = Some(400);
        k.features.arr_minor = Some(6_000_000);
        k.metric("event:login", -200, 40, |d, w| {
            if !w {
                0.0
            } else if d >= as_of {
                200.0
            } else {
                20.0
            }
        })
        .metric("event:report_exported", -200, 40, |d, w| {
            if w && d < as_of {
                4.0
            } else {
                0.0
            }
        })
        .metric("event:user_invited", 0, 40, |_, _| 9.0)
        .metric("event:workflow_created", 0, 40, |_, _| 9.0)
        .metric("users:workflow_created", 0, 40, |_, _| 9.0)
        .metric(WEEKLY_ACTIVE_USERS, -200, 40, |d, _| {
            match (d.weekday() == 6, d >= as_of) {
                (false, _) => 0.0,
                (true, false) => 20.0,
                (true, true) => 45.0,
            }
        })
        .points(
            MONTHLY_ACTIVE_USERS,
            vec![
                (Day::ymd(2025, 2, 28), 20.0),
                (Day::ymd(2025, 3, 31), 20.0),
                (Day::ymd(2025, 4, 30), 20.0),
                (Day::ymd(2025, 5, 31), 20.0),
                (Day::ymd(2025, 6, 30), 55.0),
            ],
        );
        k.contact(
            "ann",
            "Ann Smith",
            &[(-300, "role", "executive_sponsor"), (5, "status", "left")],
        )
        .contact(
            "dana",
            "Dana Lee",
            &[(-300, "role", "champion"), (0, "status", "inactive")],
        );
        k.interaction(-30, InteractionKind::Meeting, None, Some("dana"));
        k.interaction(
            0,
            InteractionKind::QbrInvite,
            Some(Response::Declined),
            Some("ann"),
        );
        k.interaction(
            3,
            InteractionKind::QbrInvite,
            Some(Response::Ignored),
            Some("ann"),
        );
        k.nps(
            1,
            2.0,
            "ann",
            "Frustrating experience, considering alternatives.",
        );
        k.nps(2, 10.0, "dana", "Great product.");
        for day in 0..8 {
            let t = k.ticket(
                day,
                Priority::Urgent,
                "Unacceptable: still broken, terrible",
            );
            t.escalated = true;
            t.sla_breached = true;
        }
        k.billing(0, BillingKind::PaymentFailed);
        k.billing(4, BillingKind::Downgrade).mrr_delta = Some(-200_000);
        k.billing(6, BillingKind::SubscriptionCancelled);
        let fired: Vec<_> = all().iter().filter_map(|d| k.run(d.as_ref())).collect();
        assert!(fired.is_empty(), "{fired:#?}");
        // The same facts seen 41 days later fire most of the detectors: the test above is not vacuous.
        let later: Vec<_> = all()
            .iter()
            .filter_map(|d| k.run_at(d.as_ref(), as_of.plus(41)))
            .map(|d| d.kind)
            .collect();
        assert!(later.len() >= 8, "{later:?}");
    }
}

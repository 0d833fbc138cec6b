//! Every detector, one file each, and the one place they are registered.

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
pub fn all() -> Vec<Box<dyn Detector>> {
    vec![
        Box::new(usage_drop::UsageDrop::default()),
        Box::new(payment_failure::PaymentFailure),
        Box::new(feature_drop_off::FeatureDropOff::default()),
        Box::new(login_silence::LoginSilence::default()),
        Box::new(seat_utilisation_fall::SeatUtilisationFall::default()),
        Box::new(champion_left::ChampionLeft::default()),
        Box::new(qbr_missed::QbrMissed::default()),
        Box::new(ticket_spike::TicketSpike::default()),
        Box::new(escalation::Escalation::default()),
        Box::new(sla_breach::SlaBreach::default()),
        Box::new(negative_sentiment_trend::NegativeSentimentTrend::default()),
        Box::new(nps_detractor::NpsDetractor::default()),
        Box::new(downgrade::Downgrade::default()),
        Box::new(seat_saturation::SeatSaturation::default()),
        Box::new(new_team_adoption::NewTeamAdoption::default()),
        Box::new(usage_surge::UsageSurge::default()),
        Box::new(promoter::Promoter::default()),
    ]
}

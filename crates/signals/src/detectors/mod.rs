//! Every detector, one file each, and the one place they are registered.

mod champion_left;
mod feature_drop_off;
mod login_silence;
mod payment_failure;
mod seat_utilisation_fall;
mod usage_drop;

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
    ]
}

//! Every detector, one file each, and the one place they are registered.

mod payment_failure;
mod usage_drop;

use crate::Detector;

/// All detectors, in the order their signals are listed. Adding one is one line here.
pub fn all() -> Vec<Box<dyn Detector>> {
    vec![
        Box::new(usage_drop::UsageDrop::default()),
        Box::new(payment_failure::PaymentFailure),
    ]
}

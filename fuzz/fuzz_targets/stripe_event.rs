//! A Stripe event on arbitrary JSON: mapped to facts or refused naming a field, never a panic.
#![no_main]

use bellwether_core::{AccountId, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(ev) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let account = AccountId("acme".into());
    let _ = bellwether_server::stripe::facts(&ev, &account, Timestamp(1_796_000_000_000), &[]);
});

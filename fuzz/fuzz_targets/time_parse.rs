//! The time parser on arbitrary bytes, under each day order and a fixed time zone: it returns a time or an
//! error, never panics, and what it returns prints.
#![no_main]

use bellwether_core::time::{DayOrder, TimeReading};
use bellwether_core::{Day, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let readings = [
        TimeReading::DEFAULT,
        TimeReading {
            day_order: Some(DayOrder::Mdy),
            ..TimeReading::DEFAULT
        },
        TimeReading {
            day_order: Some(DayOrder::Dmy),
            ..TimeReading::DEFAULT
        },
    ];
    for r in &readings {
        if let Ok(t) = Timestamp::parse_bytes_with(data, r) {
            let _ = t.to_string();
            let _ = t.day().to_string();
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(d) = Day::parse(s) {
            let _ = d.to_string();
        }
    }
});

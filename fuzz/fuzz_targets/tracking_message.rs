//! One Segment tracking message on arbitrary text, alone and inside a batch with a batch `sentAt`: it is
//! read or rejected with a code and a path, never a panic.
#![no_main]

use bellwether_core::time::EventTimeWindow;
use bellwether_core::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let now = Timestamp(1_796_000_000_000);
    let window = EventTimeWindow::default();
    let _ = bellwether_server::segment::parse_message(0, text, None, None, now, None, &window);
    let sent = (
        "2026-11-30T10:00:00Z",
        Timestamp(1_796_000_000_000 - 3_600_000),
    );
    if let Err(r) =
        bellwether_server::segment::parse_message(0, text, None, Some(0), now, Some(sent), &window)
    {
        assert!(
            r.path.is_some(),
            "a rejected message names where: {}",
            r.message
        );
    }
});

//! A whole `POST /v1/batch` body on arbitrary bytes: the bounded `writeKey` scan, then the route's own batch
//! reader. Refused whole with a code and a path, or split into stored and rejected messages that account for
//! every entry of the batch, each rejection naming where.
#![no_main]

use bellwether_core::time::EventTimeWindow;
use bellwether_core::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bellwether_server::auth::body_key(data);
    let now = Timestamp(1_796_000_000_000);
    let window = EventTimeWindow::default();
    match bellwether_server::routes::read_batch(data, Some("application/json"), now, &window) {
        Ok((messages, rejected)) => {
            let entries = serde_json::from_slice::<serde_json::Value>(data)
                .ok()
                .and_then(|v| v.get("batch").and_then(|b| b.as_array()).map(Vec::len));
            if let Some(n) = entries {
                assert_eq!(
                    messages.len() + rejected.len(),
                    n,
                    "every entry stored or rejected"
                );
            }
            for r in &rejected {
                let path = r.path.as_deref().expect("a rejected message names where");
                assert!(
                    path.starts_with(&format!("batch[{}]", r.index)),
                    "{path} for {}",
                    r.index
                );
            }
        }
        Err(e) => assert!(
            !e.body()["path"].is_null(),
            "a refused batch names where: {e:?}"
        ),
    }
});

//! A Zendesk webhook body on arbitrary JSON: the route's ticket reader, then the ticket records' validation.
//! Refused with a path, or every ticket stored or rejected at its own index.
#![no_main]

use bellwether_core::time::{EventTimeWindow, TimeReading};
use bellwether_core::Timestamp;
use bellwether_ingest::records::records_batch;
use bellwether_ingest::Kind;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    match bellwether_server::routes::zendesk_records(&v) {
        Ok(records) => {
            let (_, errors) = records_batch(
                Kind::Tickets,
                &records,
                Timestamp(1_796_000_000_000),
                &EventTimeWindow::default(),
                &TimeReading::DEFAULT,
            );
            assert!(errors.len() <= records.len());
            for e in &errors {
                assert!(
                    e.index < records.len(),
                    "index {} of {}",
                    e.index,
                    records.len()
                );
            }
        }
        Err(e) => assert!(
            !e.body()["path"].is_null(),
            "a refused body names where: {e:?}"
        ),
    }
});

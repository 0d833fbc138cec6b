//! Single records of every kind but events (what webhooks, `/v1/interactions` and CRM mappings hand on) on
//! arbitrary input: the first byte picks the kind, the rest is a JSON array of objects whose scalars become
//! fields, as the routes read them. Every bad record is rejected at its own index, naming a field of its kind
//! when one is at fault; the others are kept.
#![no_main]

use bellwether_core::time::{DayOrder, EventTimeWindow, TimeReading};
use bellwether_core::Timestamp;
use bellwether_ingest::records::records_batch;
use bellwether_ingest::Kind;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let kinds: Vec<Kind> = Kind::ALL
        .iter()
        .copied()
        .filter(|k| *k != Kind::Events)
        .collect();
    let kind = kinds[pick as usize % kinds.len()];
    let reading = TimeReading {
        day_order: (pick & 0x80 != 0).then_some(DayOrder::Dmy),
        ..TimeReading::DEFAULT
    };
    let Ok(Value::Array(list)) = serde_json::from_slice::<Value>(rest) else {
        return;
    };
    let records: Vec<Vec<(String, String)>> = list
        .iter()
        .filter_map(Value::as_object)
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        _ => return None,
                    };
                    Some((k.clone(), v))
                })
                .collect()
        })
        .collect();
    let (_, errors) = records_batch(
        kind,
        &records,
        Timestamp(1_796_000_000_000),
        &EventTimeWindow::default(),
        &reading,
    );
    let names: Vec<&str> = kind.columns().iter().map(|c| c.name).collect();
    for e in &errors {
        assert!(e.index < records.len());
        if let Some(f) = e.field {
            assert!(
                names.contains(&f) || kind == Kind::Accounts,
                "{f} is not a column of {}",
                kind.name()
            );
        }
    }
});

//! Canonical records from field maps, for callers that receive records one at a time (the HTTP server's
//! webhooks, its communications endpoint and CRM mappings) rather than as files. Each record goes through the
//! same validation and conversion as a row of an import file of its kind.

use crate::entities::EntitySink;
use crate::fields::Fields;
use crate::kind::{self, Kind};
use bellwether_core::time::{EventTimeWindow, TimeReading};
use bellwether_core::{Code, Timestamp};
use bellwether_store::WriteBatch;

/// A record that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordError {
    /// Its position in the input.
    pub index: usize,
    /// The canonical field at fault, if one is.
    pub field: Option<&'static str>,
    /// What is wrong and what to do.
    pub message: String,
    /// The product error code.
    pub code: Code,
}

/// Converts records of one kind (field name → text; names as in the kind's columns or their aliases) into one
/// batch. Bad records are returned with their position and field and left out; the good ones are kept.
/// Product events are rolled up differently and are not accepted here. Event times are checked against
/// `window` as of `received`; dates are read under `reading`.
pub fn records_batch(
    kind: Kind,
    records: &[Vec<(String, String)>],
    received: Timestamp,
    window: &EventTimeWindow,
    reading: &TimeReading,
) -> (WriteBatch, Vec<RecordError>) {
    let columns = kind.columns();
    let mut sink = EntitySink::new(kind, received, *window, *reading);
    let mut errors = Vec::new();
    for (index, rec) in records.iter().enumerate() {
        if kind == Kind::Events {
            errors.push(RecordError {
                index,
                field: None,
                message: "product events are not accepted as single records; send them to the tracking API".into(),
                code: Code::InvalidRecord,
            });
            continue;
        }
        let mut values: Vec<Option<&str>> = vec![None; columns.len()];
        let mut extra: Vec<(String, Option<&str>)> = Vec::new();
        for (k, v) in rec {
            let v = Some(v.as_str()).filter(|v| !v.trim().is_empty());
            match kind::resolve(kind, std::slice::from_ref(k))
                .iter()
                .position(|m| m.is_some())
            {
                Some(i) => values[i] = v,
                None => extra.push((kind::normalise(k), v)),
            }
        }
        let extra: Vec<(&str, Option<&str>)> = if kind == Kind::Accounts {
            extra.iter().map(|(k, v)| (k.as_str(), *v)).collect()
        } else {
            Vec::new()
        };
        let result = sink.row(
            &Fields {
                values: &values,
                names: columns,
                reading: *reading,
            },
            &extra,
        );
        match result {
            Ok(()) => sink.end_chunk(true),
            Err(e) => {
                sink.end_chunk(false);
                errors.push(RecordError {
                    index,
                    field: e.field,
                    message: e.message,
                    code: e.code,
                });
            }
        }
    }
    let mut batch = sink.finish();
    batch.kind = kind.name().to_string();
    batch.received_at = Some(received);
    batch.records = records.len() as u64;
    batch.rejected = errors.len() as u64;
    (batch, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn good_records_are_kept_and_bad_ones_named() {
        let (b, errs) = records_batch(
            Kind::Interactions,
            &[
                rec(&[
                    ("id", "i1"),
                    ("account_id", "acme"),
                    ("timestamp", "2026-01-05T10:00:00Z"),
                    ("kind", "meeting"),
                ]),
                rec(&[
                    ("id", "i2"),
                    ("account_id", "acme"),
                    ("timestamp", "yesterday"),
                    ("kind", "meeting"),
                ]),
                rec(&[
                    ("id", "i3"),
                    ("account_id", "acme"),
                    ("timestamp", "2026-01-06"),
                    ("kind", "nps"),
                    ("score", "9"),
                ]),
            ],
            Timestamp::parse("2026-01-07").unwrap(),
            &EventTimeWindow::default(),
            &TimeReading::DEFAULT,
        );
        assert_eq!(b.interactions.len(), 2);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].index, 1);
        assert_eq!(errs[0].field, Some("timestamp"));
        assert_eq!(errs[0].code, Code::InvalidField);
        assert_eq!(b.rejected, 1);
    }
}

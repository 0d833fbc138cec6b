//! JSON documents in columns (an assessment's components, a day's predictions of an account): plain when
//! short, LZ4-compressed with the size prepended when long, so an assessment row fits its page instead of
//! spilling and a pass writes a third of the bytes; and what a day's prediction row of one account holds.

use crate::{Result, StoreError};
use bellwether_core::model::{Driver, Prediction};
use bellwether_core::{AccountId, Day};

/// JSON this long or longer is stored compressed; shorter JSON as it is.
pub const PACK_FROM: usize = 128;

/// A document as a column holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Doc {
    /// Short JSON, as text.
    Text(String),
    /// Long JSON, LZ4-compressed with its size prepended.
    Lz4(Vec<u8>),
}

impl Doc {
    /// Packs a JSON text.
    pub fn pack(json: String) -> Doc {
        if json.len() < PACK_FROM {
            Doc::Text(json)
        } else {
            Doc::Lz4(lz4_flex::block::compress_prepend_size(json.as_bytes()))
        }
    }

    /// The document as one byte string for a binary column: plain JSON (which never starts with 0xFF), or
    /// 0xFF followed by the compressed block.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Doc::Text(t) => t.into_bytes(),
            Doc::Lz4(b) => {
                let mut out = Vec::with_capacity(b.len() + 1);
                out.push(super::LZ4_MARK);
                out.extend_from_slice(&b);
                out
            }
        }
    }
}

/// Reads a compressed block written by [`Doc::pack`].
pub fn unpack_lz4<T: serde::de::DeserializeOwned>(b: &[u8]) -> std::result::Result<T, String> {
    let plain = lz4_flex::block::decompress_size_prepended(b).map_err(|e| e.to_string())?;
    serde_json::from_slice(&plain).map_err(|e| e.to_string())
}

/// Reads a document written by [`Doc::into_bytes`].
pub fn from_bytes<T: serde::de::DeserializeOwned>(b: &[u8]) -> std::result::Result<T, String> {
    let json = super::unmarked(b).map_err(|e| e.to_string())?;
    serde_json::from_slice(&json).map_err(|e| e.to_string())
}

/// `f(item)` for every item, on all cores, in order (a pass stores tens of thousands of documents; encoding
/// them is most of the work of storing them).
pub fn par_map<T: Sync, U: Send>(
    items: &[T],
    f: impl Fn(&T) -> std::result::Result<U, String> + Sync,
) -> std::result::Result<Vec<U>, String> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len().div_ceil(1024).max(1));
    let per = items.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let parts: Vec<_> = items
            .chunks(per)
            .map(|chunk| {
                s.spawn(|| {
                    chunk
                        .iter()
                        .map(&f)
                        .collect::<std::result::Result<Vec<U>, String>>()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for p in parts {
            out.extend(
                p.join()
                    .map_err(|_| "encoding a document panicked".to_string())??,
            );
        }
        Ok(out)
    })
}

/// [`Doc::pack`] of `json(item)` for every item, on all cores, in order.
pub fn par_pack<T: Sync>(
    items: &[T],
    json: impl Fn(&T) -> serde_json::Result<String> + Sync,
) -> std::result::Result<Vec<Doc>, String> {
    par_map(items, |t| json(t).map(Doc::pack).map_err(|e| e.to_string()))
}

/// One target's prediction as stored in an account's row for the day (written from borrowed parts).
#[derive(serde::Serialize)]
struct StoredRef<'a> {
    target: &'a str,
    probability: f64,
    base_probability: f64,
    model_version: i64,
    drivers: &'a [Driver],
}

/// One target's prediction as a row's document holds it, read back (a backend reads the document into a
/// `Vec` of these and hands it to [`predictions_of`]).
#[derive(serde::Deserialize)]
pub struct StoredPrediction {
    target: String,
    probability: f64,
    base_probability: f64,
    model_version: i64,
    #[serde(default)]
    drivers: Vec<Driver>,
}

/// A day's predictions of one account, as one row: `(account, day, document)`.
pub type PredictionRow = (String, i32, Doc);

/// Groups predictions into one row per account and day holding every target (by target), encoded on all
/// cores; a probability that is not a number is refused and nothing is stored.
pub fn prediction_rows(rows: &[Prediction]) -> Result<Vec<PredictionRow>> {
    let mut by: std::collections::BTreeMap<(&AccountId, Day), Vec<&Prediction>> =
        std::collections::BTreeMap::new();
    for p in rows {
        if !p.probability.is_finite() || !p.base_probability.is_finite() {
            return Err(StoreError::Corrupt(format!(
                "the {} prediction of {} on day {} is not a probability ({}, base {}); nothing was stored",
                p.target, p.account_id, p.as_of.0, p.probability, p.base_probability
            )));
        }
        by.entry((&p.account_id, p.as_of)).or_default().push(p);
    }
    let groups: Vec<((&AccountId, Day), Vec<&Prediction>)> = by.into_iter().collect();
    let docs = par_pack(&groups, |(_, preds)| {
        let mut stored: Vec<StoredRef> = preds
            .iter()
            .map(|p| StoredRef {
                target: &p.target,
                probability: p.probability,
                base_probability: p.base_probability,
                model_version: p.model_version,
                drivers: &p.drivers,
            })
            .collect();
        stored.sort_by(|a, b| a.target.cmp(b.target));
        serde_json::to_string(&stored)
    })
    .map_err(|e| StoreError::Corrupt(format!("predictions: {e}")))?;
    Ok(groups
        .iter()
        .zip(docs)
        .map(|(((id, day), _), doc)| (id.as_str().to_string(), day.0, doc))
        .collect())
}

/// The predictions of one account's row for a day, by target.
pub fn predictions_of(
    id: &AccountId,
    day: Day,
    mut stored: Vec<StoredPrediction>,
) -> Vec<Prediction> {
    stored.sort_by(|a, b| a.target.cmp(&b.target));
    stored
        .into_iter()
        .map(|p| Prediction {
            account_id: id.clone(),
            as_of: day,
            target: p.target,
            probability: p.probability,
            base_probability: p.base_probability,
            model_version: p.model_version,
            drivers: p.drivers,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_round_trip_short_and_long() {
        let short = "[1,2]".to_string();
        let long = serde_json::to_string(&vec!["a long repeated text"; 40]).unwrap();
        assert!(matches!(Doc::pack(short.clone()), Doc::Text(_)));
        for json in [short, long] {
            let v: serde_json::Value = serde_json::from_str(&json).unwrap();
            let bytes = Doc::pack(json).into_bytes();
            assert_eq!(from_bytes::<serde_json::Value>(&bytes).unwrap(), v);
        }
        assert!(from_bytes::<serde_json::Value>(&[0xFF, 1, 2]).is_err());
    }
}

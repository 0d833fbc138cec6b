//! Interning of the repeated texts of large files (account ids, event and metric names): each distinct value
//! is validated and allocated once, and rows carry a small integer instead.

use crate::report::FieldError;
use bellwether_core::text::{self, Bound};
use rustc_hash::FxHashMap;

/// Distinct values of one field, numbered in order of first appearance.
pub(crate) struct Interner {
    map: FxHashMap<Box<[u8]>, u32>,
    pub(crate) names: Vec<String>,
    field: &'static str,
    bound: Bound,
    max: usize,
    too_many: &'static str,
}

impl Interner {
    /// An interner for `field`, whose values are checked against `bound`, holding at most `max` values;
    /// `too_many` says what to do past that.
    pub(crate) fn new(
        field: &'static str,
        bound: Bound,
        max: usize,
        too_many: &'static str,
    ) -> Interner {
        Interner {
            map: FxHashMap::default(),
            names: Vec::new(),
            field,
            bound,
            max,
            too_many,
        }
    }

    /// The number of `raw` (trimmed), adding it when new. Blank, non-UTF-8, overlong values, values with a
    /// control character and values past the maximum number are errors.
    #[inline]
    pub(crate) fn get(&mut self, raw: &[u8]) -> Result<u32, FieldError> {
        let raw = raw.trim_ascii();
        if let Some(&i) = self.map.get(raw) {
            return Ok(i);
        }
        if raw.is_empty() {
            return Err(FieldError::field(self.field, "is required but blank"));
        }
        let name =
            text::check_bytes(self.bound, raw).map_err(|e| FieldError::text(self.field, e))?;
        if self.names.len() >= self.max {
            return Err(FieldError::field(
                self.field,
                format!("'{name}' is one distinct value too many: {}", self.too_many),
            ));
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_string());
        self.map.insert(raw.into(), i);
        Ok(i)
    }
}

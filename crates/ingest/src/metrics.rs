//! Daily metrics on the fast path: `account_id,date,metric,value` rows become `metric:<name>` series, the last
//! value given for an account, metric and day winning.
//!
//! Rows are held as (account, metric, day) keys packed into 64 bits with their value, stable-sorted when a
//! batch is taken, and the last row of each run of equal keys is kept.

use crate::fast::FastSink;
use crate::intern::Interner;
use crate::report::FieldError;
use bellwether_core::series::METRIC_PREFIX;
use bellwether_core::text::Bound;
use bellwether_core::time::{EventTimeWindow, TimeReading};
use bellwether_core::{AccountId, Timestamp};
use bellwether_store::SeriesDelta;
use std::collections::BTreeMap;

const DAY_BIAS: i32 = 1 << 23;

/// Where the daily-metric fields stand in a row.
pub(crate) struct MetricColumns {
    pub(crate) account: usize,
    pub(crate) date: usize,
    pub(crate) metric: usize,
    pub(crate) value: usize,
}

/// The daily metrics of one import.
pub(crate) struct MetricRows {
    cols: MetricColumns,
    accounts: Interner,
    metrics: Interner,
    rows: Vec<(u64, f64)>,
    mark: usize,
    kept: u64,
    window: EventTimeWindow,
    reading: TimeReading,
    received: Timestamp,
}

impl MetricRows {
    /// Daily metrics read from `cols`, whose days must lie inside `window` as of `received`, their dates read
    /// under `reading`.
    pub(crate) fn new(
        cols: MetricColumns,
        window: EventTimeWindow,
        received: Timestamp,
        reading: TimeReading,
    ) -> MetricRows {
        MetricRows {
            cols,
            accounts: Interner::new(
                "account_id",
                Bound::Id,
                1 << 24,
                "more than 16.7 million accounts in one file; split the file",
            ),
            metrics: Interner::new(
                "metric",
                Bound::Name,
                1 << 16,
                "more than 65,536 metric names; the metric column seems to hold ids, not names",
            ),
            rows: Vec::new(),
            mark: 0,
            kept: 0,
            window,
            reading,
            received,
        }
    }
}

impl FastSink for MetricRows {
    #[inline]
    fn row(&mut self, f: &[&[u8]]) -> Result<(), FieldError> {
        let c = &self.cols;
        let account = self.accounts.get(f[c.account])?;
        let day = Timestamp::parse_bytes_with(f[c.date].trim_ascii(), &self.reading)
            .map_err(|e| FieldError::field("date", e.to_string()))?
            .day();
        let day = self
            .window
            .check_day(day, self.received)
            .map_err(|e| FieldError::event_time("date", e))?;
        let metric = self.metrics.get(f[c.metric])?;
        let raw = f[c.value].trim_ascii();
        let value = std::str::from_utf8(raw)
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite());
        let value = value.ok_or_else(|| {
            FieldError::field(
                "value",
                format!("'{}' is not a number", String::from_utf8_lossy(raw)),
            )
        })?;
        let key = ((account as u64) << 40)
            | ((metric as u64) << 24)
            | (((day.0 + DAY_BIAS) as u64) & 0xFF_FFFF);
        self.rows.push((key, value));
        Ok(())
    }

    fn end_chunk(&mut self, keep: bool) {
        if keep {
            self.kept += (self.rows.len() - self.mark) as u64;
        } else {
            self.rows.truncate(self.mark);
        }
        self.mark = self.rows.len();
    }

    fn held(&self) -> usize {
        self.mark
    }

    fn take(&mut self) -> BTreeMap<AccountId, SeriesDelta> {
        let mut rows = std::mem::take(&mut self.rows);
        self.mark = 0;
        // Stable: equal keys keep file order, so the last one read wins.
        rows.sort_by_key(|r| r.0);
        let mut out: BTreeMap<AccountId, SeriesDelta> = BTreeMap::new();
        let mut i = 0;
        while i < rows.len() {
            let account = rows[i].0 >> 40;
            let mut delta = SeriesDelta::new();
            while i < rows.len() && rows[i].0 >> 40 == account {
                let metric = (rows[i].0 >> 24) & 0xFFFF;
                let mut points = Vec::new();
                while i < rows.len() && rows[i].0 >> 24 == (account << 16 | metric) {
                    let key = rows[i].0;
                    while i + 1 < rows.len() && rows[i + 1].0 == key {
                        i += 1;
                    }
                    points.push((
                        bellwether_core::Day((key & 0xFF_FFFF) as i32 - DAY_BIAS),
                        rows[i].1,
                    ));
                    i += 1;
                }
                delta.insert(
                    format!("{METRIC_PREFIX}{}", self.metrics.names[metric as usize]),
                    points,
                );
            }
            out.insert(
                AccountId(self.accounts.names[account as usize].clone()),
                delta,
            );
        }
        out
    }

    fn kept(&self) -> u64 {
        self.kept
    }
}

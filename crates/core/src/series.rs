//! Per-account daily metric series and their packed encoding.
//!
//! Product events are never read row by row after import: they are rolled up into one sparse series per
//! account and metric (`day → value`), and all of an account's series are packed into one blob so the store
//! reads a whole book in one pass. Metric names carry their merge rule in their prefix:
//!
//! | metric | meaning | when a later import adds to a day |
//! |---|---|---|
//! | `event:<name>` | events named `<name>` that day | counts are **added** |
//! | `users:<name>` | distinct users who sent `<name>` that day | the **larger** count is kept |
//! | `active_users` | distinct users who sent any event that day | the **larger** count is kept |
//! | `weekly_active_users`, `monthly_active_users` | distinct users in the week (Monday–Sunday) or calendar month, dated by its last day, so only whole periods before an as-of day are visible | the **larger** count is kept |
//! | `metric:<name>` | a daily metric imported as such (`account_id,date,metric,value`) | the **new** value replaces the old |
//!
//! Imported daily metrics live in their own `metric:` namespace and are never summed with counts derived from
//! events, even when the names match: `metric:logins` and `event:logins` are different series. Distinct-user
//! counts are exact when all of a day's events for an account arrive in one import (the usual case: exports are
//! cut by day); when a later import adds to a day already rolled up, the larger of the two counts is kept, a
//! lower bound of the truth.

use crate::time::Day;
use std::collections::BTreeMap;

/// How a new value for a day combines with a stored one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// Add (event counts).
    Add,
    /// Keep the larger (distinct-user counts).
    Max,
    /// Replace (imported daily metrics).
    Set,
}

/// Prefix of event-count series.
pub const EVENT_PREFIX: &str = "event:";
/// Prefix of per-event distinct-user series.
pub const USERS_PREFIX: &str = "users:";
/// Prefix of imported daily metrics.
pub const METRIC_PREFIX: &str = "metric:";
/// Distinct active users per day.
pub const ACTIVE_USERS: &str = "active_users";
/// Distinct active users per week (Monday to Sunday), dated by the Sunday.
pub const WEEKLY_ACTIVE_USERS: &str = "weekly_active_users";
/// Distinct active users per calendar month, dated by the month's last day.
pub const MONTHLY_ACTIVE_USERS: &str = "monthly_active_users";

/// The imported daily metric that stands for daily active users when no events were imported.
pub const METRIC_ACTIVE_USERS: &str = "metric:active_users";

/// An account's usage, feature by feature, as (feature name, daily series): its event counts (`event:<name>`)
/// when it has any, else its imported daily metrics (`metric:<name>`, all but `metric:active_users`), so a book
/// imported as daily metrics gets the same usage features. The two are never added together.
pub fn usage_series(s: &AccountSeries) -> Vec<(&str, &Series)> {
    let events: Vec<(&str, &Series)> = s
        .metrics
        .iter()
        .filter_map(|(n, v)| Some((n.strip_prefix(EVENT_PREFIX)?, v)))
        .collect();
    if !events.is_empty() {
        return events;
    }
    s.metrics
        .iter()
        .filter(|(n, _)| n.as_str() != METRIC_ACTIVE_USERS)
        .filter_map(|(n, v)| Some((n.strip_prefix(METRIC_PREFIX)?, v)))
        .collect()
}

/// Daily active users: counted from events, else the imported `metric:active_users`.
pub fn active_users(s: &AccountSeries) -> Option<&Series> {
    s.get(ACTIVE_USERS).or_else(|| s.get(METRIC_ACTIVE_USERS))
}

/// Whether a metric is dated by the last day of a week or month it covers (which may lie after the data)
/// rather than by the day it happened.
pub fn is_period_series(metric: &str) -> bool {
    metric == WEEKLY_ACTIVE_USERS || metric == MONTHLY_ACTIVE_USERS
}

/// The merge rule of a metric, from its name.
pub fn merge_rule(metric: &str) -> Merge {
    if metric.starts_with(METRIC_PREFIX) {
        Merge::Set
    } else if metric.starts_with(USERS_PREFIX)
        || metric == ACTIVE_USERS
        || metric == WEEKLY_ACTIVE_USERS
        || metric == MONTHLY_ACTIVE_USERS
    {
        Merge::Max
    } else {
        Merge::Add
    }
}

/// A sparse daily series: `(day, value)` sorted by day, one point per day; absent days are zero.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// The points, ascending by day.
    pub points: Vec<(Day, f64)>,
}

impl Series {
    /// Sum of values on days in `[from, to)`.
    pub fn sum(&self, from: Day, to: Day) -> f64 {
        let lo = self.points.partition_point(|p| p.0 < from);
        let hi = self.points.partition_point(|p| p.0 < to);
        self.points[lo..hi].iter().map(|p| p.1).sum()
    }
    /// The points on days in `[from, to)`.
    pub fn range(&self, from: Day, to: Day) -> &[(Day, f64)] {
        let lo = self.points.partition_point(|p| p.0 < from);
        let hi = self.points.partition_point(|p| p.0 < to);
        &self.points[lo..hi]
    }
    /// The last day before `before` with a non-zero value.
    pub fn last_active_before(&self, before: Day) -> Option<Day> {
        let hi = self.points.partition_point(|p| p.0 < before);
        self.points[..hi]
            .iter()
            .rev()
            .find(|p| p.1 != 0.0)
            .map(|p| p.0)
    }
    /// The first day with a value.
    pub fn first_day(&self) -> Option<Day> {
        self.points.first().map(|p| p.0)
    }
    /// Dense values for days `[from, to)`, zero where absent.
    pub fn dense(&self, from: Day, to: Day) -> Vec<f64> {
        let mut out = vec![0.0; (to.0 - from.0).max(0) as usize];
        for &(d, v) in self.range(from, to) {
            out[(d.0 - from.0) as usize] = v;
        }
        out
    }
    /// Merges `delta` (sorted, one point per day) into this series by `rule`.
    pub fn merge(&mut self, delta: &[(Day, f64)], rule: Merge) {
        let old = std::mem::take(&mut self.points);
        let mut out = Vec::with_capacity(old.len() + delta.len());
        let (mut i, mut j) = (0, 0);
        while i < old.len() || j < delta.len() {
            match (old.get(i), delta.get(j)) {
                (Some(a), Some(b)) if a.0 == b.0 => {
                    let v = match rule {
                        Merge::Add => a.1 + b.1,
                        Merge::Max => a.1.max(b.1),
                        Merge::Set => b.1,
                    };
                    out.push((a.0, v));
                    i += 1;
                    j += 1;
                }
                (Some(a), Some(b)) if a.0 < b.0 => {
                    out.push(*a);
                    i += 1;
                }
                (Some(_), Some(b)) | (None, Some(b)) => {
                    out.push(*b);
                    j += 1;
                }
                (Some(a), None) => {
                    out.push(*a);
                    i += 1;
                }
                (None, None) => unreachable!("loop condition"),
            }
        }
        self.points = out;
    }
}

/// All series of one account, by metric name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccountSeries {
    /// Series by metric name.
    pub metrics: BTreeMap<String, Series>,
}

/// Why a packed blob could not be read.
#[derive(Debug, thiserror::Error)]
#[error("packed series blob is damaged at byte {at}: {why}")]
pub struct DecodeError {
    /// Offset of the problem.
    pub at: usize,
    /// What was wrong.
    pub why: &'static str,
}

const FORMAT_VERSION: u8 = 1;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let c = *self.b.get(self.at).ok_or(DecodeError {
                at: self.at,
                why: "truncated number",
            })?;
            self.at += 1;
            v |= ((c & 0x7f) as u64) << shift;
            if c < 0x80 {
                return Ok(v);
            }
            shift += 7;
            if shift > 63 {
                return Err(DecodeError {
                    at: self.at,
                    why: "number too long",
                });
            }
        }
    }
    fn bytes(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        let s = self.b.get(self.at..self.at + n).ok_or(DecodeError {
            at: self.at,
            why: "truncated bytes",
        })?;
        self.at += n;
        Ok(s)
    }
}

impl AccountSeries {
    /// The series of a metric, if the account has it.
    pub fn get(&self, metric: &str) -> Option<&Series> {
        self.metrics.get(metric)
    }

    /// Merges a delta (metric → sorted points) using each metric's [`merge_rule`].
    pub fn merge(&mut self, delta: &BTreeMap<String, Vec<(Day, f64)>>) {
        for (metric, points) in delta {
            self.metrics
                .entry(metric.clone())
                .or_default()
                .merge(points, merge_rule(metric));
        }
    }

    /// Packs the series: per metric its name, point count, then (day delta, value) pairs. Whole values are
    /// stored as varints, others as 8-byte floats, so event counts cost 2–3 bytes a day.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.metrics.len() * 32);
        out.push(FORMAT_VERSION);
        put_varint(&mut out, self.metrics.len() as u64);
        for (name, s) in &self.metrics {
            put_varint(&mut out, name.len() as u64);
            out.extend_from_slice(name.as_bytes());
            put_varint(&mut out, s.points.len() as u64);
            let mut prev = 0i64;
            for &(d, v) in &s.points {
                put_varint(&mut out, zigzag(d.0 as i64 - prev));
                prev = d.0 as i64;
                if v.fract() == 0.0 && (0.0..4.0e15).contains(&v) {
                    put_varint(&mut out, (v as u64) << 1);
                } else {
                    out.push(1);
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        out
    }

    /// Reads a blob written by [`AccountSeries::encode`].
    pub fn decode(b: &[u8]) -> Result<AccountSeries, DecodeError> {
        let mut r = Reader { b, at: 0 };
        if r.bytes(1)?[0] != FORMAT_VERSION {
            return Err(DecodeError {
                at: 0,
                why: "unknown format version",
            });
        }
        let n = r.varint()? as usize;
        let mut metrics = BTreeMap::new();
        for _ in 0..n {
            let len = r.varint()? as usize;
            let at = r.at;
            let name = std::str::from_utf8(r.bytes(len)?)
                .map_err(|_| DecodeError {
                    at,
                    why: "metric name is not UTF-8",
                })?
                .to_string();
            let count = r.varint()? as usize;
            let mut points = Vec::with_capacity(count.min(b.len() - r.at));
            let mut prev = 0i64;
            for _ in 0..count {
                // Most points are a one-byte day delta and a one-byte count.
                let (delta, tag) = match r.b.get(r.at..r.at + 2) {
                    Some(&[d, t]) if d < 0x80 && t < 0x80 => {
                        r.at += 2;
                        (d as u64, t as u64)
                    }
                    _ => (r.varint()?, r.varint()?),
                };
                prev += unzigzag(delta);
                let v = if tag == 1 {
                    f64::from_le_bytes(r.bytes(8)?.try_into().expect("8 bytes"))
                } else {
                    (tag >> 1) as f64
                };
                points.push((Day(prev as i32), v));
            }
            metrics.insert(name, Series { points });
        }
        Ok(AccountSeries { metrics })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn usage_comes_from_events_else_from_imported_daily_metrics() {
        let series = |names: &[&str]| AccountSeries {
            metrics: names
                .iter()
                .map(|n| {
                    (
                        n.to_string(),
                        Series {
                            points: vec![(Day(1), 1.0)],
                        },
                    )
                })
                .collect(),
        };
        let both = series(&[
            "event:login",
            "metric:logins",
            ACTIVE_USERS,
            "metric:active_users",
        ]);
        assert_eq!(
            usage_series(&both).iter().map(|p| p.0).collect::<Vec<_>>(),
            ["login"]
        );
        assert!(std::ptr::eq(
            active_users(&both).unwrap(),
            both.get(ACTIVE_USERS).unwrap()
        ));
        let metrics = series(&["metric:logins", "metric:reports", "metric:active_users"]);
        assert_eq!(
            usage_series(&metrics)
                .iter()
                .map(|p| p.0)
                .collect::<Vec<_>>(),
            ["logins", "reports"]
        );
        assert!(active_users(&metrics).is_some());
        assert!(usage_series(&series(&["users:login"])).is_empty());
    }

    #[test]
    fn merge_rules_follow_the_prefix() {
        assert_eq!(merge_rule("event:login"), Merge::Add);
        assert_eq!(merge_rule("users:login"), Merge::Max);
        assert_eq!(merge_rule(ACTIVE_USERS), Merge::Max);
        assert_eq!(merge_rule("metric:login"), Merge::Set);
        let mut s = Series {
            points: vec![(Day(1), 2.0), (Day(3), 1.0)],
        };
        s.merge(&[(Day(0), 1.0), (Day(3), 4.0)], Merge::Add);
        assert_eq!(s.points, vec![(Day(0), 1.0), (Day(1), 2.0), (Day(3), 5.0)]);
        s.merge(&[(Day(3), 4.0)], Merge::Set);
        assert_eq!(s.points[2].1, 4.0);
        assert_eq!(s.sum(Day(0), Day(3)), 3.0);
        assert_eq!(s.dense(Day(1), Day(4)), vec![2.0, 0.0, 4.0]);
    }

    proptest! {
        #[test]
        fn packing_round_trips(raw in prop::collection::btree_map("[a-z:_]{1,12}", prop::collection::btree_map(-30000i32..30000, prop_oneof![(0u32..1000).prop_map(|v| v as f64), any::<f64>().prop_filter("finite", |v| v.is_finite())], 0..50), 0..8)) {
            let s = AccountSeries { metrics: raw.into_iter().map(|(k, m)| (k, Series { points: m.into_iter().map(|(d, v)| (Day(d), v)).collect() })).collect() };
            prop_assert_eq!(AccountSeries::decode(&s.encode()).unwrap(), s);
        }
    }
}

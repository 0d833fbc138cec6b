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
//! events, even when the names match: `metric:logins` and `event:logins` are different series. Each is a
//! [`UsageSource`] of its own, judged against its own baseline; an account's usage features are read from the
//! source with the longer unbroken history ([`primary_source`]). Distinct-user
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

/// The last day of the week (Sunday) and of the month that `day` falls in: the days `weekly_active_users` and
/// `monthly_active_users` points are dated by, so a reader as of D only sees periods that ended before D. The
/// one rule for imports and the tracking API alike.
pub fn period_ends(day: Day) -> [Day; 2] {
    let week_end = day.plus(6 - day.weekday() as i32);
    let (y, m, _) = day.civil();
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    [week_end, Day(crate::time::days_from_civil(ny, nm, 1) - 1)]
}

/// The imported daily metric that stands for daily active users when no events were imported.
pub const METRIC_ACTIVE_USERS: &str = "metric:active_users";

/// Where an account's usage figures come from: product events rolled up by Bellwether (`event:<name>`,
/// `active_users`) or daily metrics imported as such (`metric:<name>`, `metric:active_users`). The two are never
/// added together: each source is judged against its own baseline, and the usage features of an account come
/// from one of them ([`primary_source`]).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum UsageSource {
    /// Product events (`event:<name>`).
    Events,
    /// Imported daily metrics (`metric:<name>`).
    DailyMetrics,
}

/// A gap of more than this many days without any data breaks a source's history (two weeks: longer than a
/// Christmas shutdown with its weekends).
pub const MAX_HISTORY_GAP_DAYS: i32 = 14;

impl UsageSource {
    /// Both sources, events first (the preferred one when their histories are equally long).
    pub const ALL: [UsageSource; 2] = [UsageSource::Events, UsageSource::DailyMetrics];

    /// The source in words, for explanations: `product events`, `imported daily metrics`.
    pub fn label(self) -> &'static str {
        match self {
            UsageSource::Events => "product events",
            UsageSource::DailyMetrics => "imported daily metrics",
        }
    }

    /// The stable key used in evidence and storage: `events`, `daily_metrics`.
    pub fn key(self) -> &'static str {
        match self {
            UsageSource::Events => "events",
            UsageSource::DailyMetrics => "daily_metrics",
        }
    }

    /// The source of a key written by [`UsageSource::key`].
    pub fn from_key(key: &str) -> Option<UsageSource> {
        UsageSource::ALL.into_iter().find(|s| s.key() == key)
    }

    /// The prefix of the source's per-feature series.
    pub fn prefix(self) -> &'static str {
        match self {
            UsageSource::Events => EVENT_PREFIX,
            UsageSource::DailyMetrics => METRIC_PREFIX,
        }
    }

    /// The source's daily active users series name.
    pub fn active_users_metric(self) -> &'static str {
        match self {
            UsageSource::Events => ACTIVE_USERS,
            UsageSource::DailyMetrics => METRIC_ACTIVE_USERS,
        }
    }

    /// The source a per-feature metric name belongs to, with the feature name (`event:login` → events,
    /// `login`); `None` for other series, including the active-user ones.
    pub fn of_metric(metric: &str) -> Option<(UsageSource, &str)> {
        if metric == METRIC_ACTIVE_USERS {
            return None;
        }
        UsageSource::ALL
            .into_iter()
            .find_map(|s| Some((s, metric.strip_prefix(s.prefix())?)))
    }
}

/// One source's usage of an account, feature by feature, as (feature name, daily series).
pub fn source_series(s: &AccountSeries, source: UsageSource) -> Vec<(&str, &Series)> {
    s.metrics
        .iter()
        .filter_map(|(n, v)| match UsageSource::of_metric(n) {
            Some((src, name)) if src == source => Some((name, v)),
            _ => None,
        })
        .collect()
}

/// One source's daily active users (`active_users` for events, `metric:active_users` for daily metrics).
pub fn source_active_users(s: &AccountSeries, source: UsageSource) -> Option<&Series> {
    s.get(source.active_users_metric())
}

/// Daily active users for usage read from `source`: the source's own, else the other source's.
pub fn daily_active_users(s: &AccountSeries, source: UsageSource) -> Option<&Series> {
    source_active_users(s, source).or_else(|| {
        UsageSource::ALL
            .into_iter()
            .find_map(|o| source_active_users(s, o))
    })
}

/// The sources an account has per-feature usage series of (`event:<name>`, `metric:<name>`), events first. Active
/// users alone make no usage source: there is nothing to count usage or features from.
pub fn sources(s: &AccountSeries) -> Vec<UsageSource> {
    UsageSource::ALL
        .into_iter()
        .filter(|src| {
            s.metrics
                .keys()
                .any(|n| UsageSource::of_metric(n).is_some_and(|(m, _)| m == *src))
        })
        .collect()
}

/// How long a source's history runs unbroken up to `as_of`: the days from the first day of its latest stretch
/// of data (no gap longer than [`MAX_HISTORY_GAP_DAYS`]) to `as_of`, and the last day with data. Zero days when
/// its last data is more than the gap before `as_of` (the source has stopped); `None` without data before
/// `as_of`. Reads only days before `as_of`.
pub fn unbroken_history(s: &AccountSeries, source: UsageSource, as_of: Day) -> Option<(i32, Day)> {
    let parts: Vec<&Series> = source_series(s, source)
        .into_iter()
        .map(|(_, v)| v)
        .chain(source_active_users(s, source))
        .collect();
    let first = parts
        .iter()
        .filter_map(|p| p.first_day())
        .filter(|d| *d < as_of)
        .min()?;
    let mut seen = vec![false; (as_of.0 - first.0) as usize];
    for p in &parts {
        for (d, _) in p.range(first, as_of) {
            seen[(d.0 - first.0) as usize] = true;
        }
    }
    let last = seen.iter().rposition(|x| *x)?;
    let last_day = first.plus(last as i32);
    if as_of.0 - last_day.0 > MAX_HISTORY_GAP_DAYS {
        return Some((0, last_day));
    }
    let mut start = last;
    for j in (0..last).rev() {
        if seen[j] {
            if start - j > MAX_HISTORY_GAP_DAYS as usize {
                break;
            }
            start = j;
        }
    }
    Some((as_of.0 - first.0 - start as i32, last_day))
}

/// Which usage source an account's usage features are read from as of a day, and, when it has both, how long
/// each one's unbroken history is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceChoice {
    /// The source read.
    pub source: UsageSource,
    /// Its unbroken history in days (only when the account has both sources before the day).
    pub days: Option<i32>,
    /// The other source and its unbroken history in days (only when the account has both before the day).
    pub other: Option<(UsageSource, i32)>,
}

/// The source an account's usage features are read from as of `as_of`: its only source, else the one with the
/// longer unbroken history ([`unbroken_history`]), then the one with the later data, then events. `None`
/// without any usage series. Histories are measured only when the account has both sources.
pub fn choose_source(s: &AccountSeries, as_of: Day) -> Option<SourceChoice> {
    let present = sources(s);
    if let [only] = present.as_slice() {
        return Some(SourceChoice {
            source: *only,
            days: None,
            other: None,
        });
    }
    let mut known: Vec<(UsageSource, (i32, Day))> = present
        .iter()
        .filter_map(|src| unbroken_history(s, *src, as_of).map(|h| (*src, h)))
        .collect();
    known.sort_by(|(a, (da, la)), (b, (db, lb))| db.cmp(da).then(lb.cmp(la)).then(a.cmp(b)));
    match known.as_slice() {
        [] => present.first().map(|src| SourceChoice {
            source: *src,
            days: None,
            other: None,
        }),
        [(src, _)] => Some(SourceChoice {
            source: *src,
            days: None,
            other: None,
        }),
        [(src, (d, _)), (other, (od, _)), ..] => Some(SourceChoice {
            source: *src,
            days: Some(*d),
            other: Some((*other, *od)),
        }),
    }
}

/// The source an account's usage features are read from as of `as_of` (see [`choose_source`]).
pub fn primary_source(s: &AccountSeries, as_of: Day) -> Option<UsageSource> {
    choose_source(s, as_of).map(|c| c.source)
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
    fn each_source_keeps_its_own_series_and_the_longer_unbroken_history_leads() {
        let days = |from: i32, to: i32| Series {
            points: (from..to).map(|d| (Day(d), 1.0)).collect(),
        };
        let mut s = AccountSeries::default();
        for (n, ser) in [
            ("event:login", days(70, 100)),
            (ACTIVE_USERS, days(70, 100)),
            ("metric:logins", days(0, 100)),
            ("metric:reports", days(0, 100)),
            (METRIC_ACTIVE_USERS, days(0, 100)),
            ("users:login", days(70, 100)),
        ] {
            s.metrics.insert(n.to_string(), ser);
        }
        let names = |src| {
            source_series(&s, src)
                .iter()
                .map(|p| p.0)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(UsageSource::Events), ["login"]);
        assert_eq!(names(UsageSource::DailyMetrics), ["logins", "reports"]);
        assert!(std::ptr::eq(
            source_active_users(&s, UsageSource::DailyMetrics).unwrap(),
            s.get(METRIC_ACTIVE_USERS).unwrap()
        ));
        assert_eq!(sources(&s), UsageSource::ALL);
        // 100 days of daily metrics against 30 of events.
        assert_eq!(
            unbroken_history(&s, UsageSource::DailyMetrics, Day(100)),
            Some((100, Day(99)))
        );
        assert_eq!(
            unbroken_history(&s, UsageSource::Events, Day(100)),
            Some((30, Day(99)))
        );
        assert_eq!(
            primary_source(&s, Day(100)),
            Some(UsageSource::DailyMetrics)
        );
        // Only what lies before the day counts: on day 50 the events have not started.
        assert_eq!(unbroken_history(&s, UsageSource::Events, Day(50)), None);
        assert_eq!(primary_source(&s, Day(50)), Some(UsageSource::DailyMetrics));
        // A gap of more than two weeks breaks the history; a source that stopped has none left.
        s.metrics.insert("metric:logins".into(), days(0, 40));
        s.metrics.remove("metric:reports");
        s.metrics.insert(METRIC_ACTIVE_USERS.into(), days(0, 40));
        assert_eq!(
            unbroken_history(&s, UsageSource::DailyMetrics, Day(100)),
            Some((0, Day(39)))
        );
        assert_eq!(primary_source(&s, Day(100)), Some(UsageSource::Events));
        // Equal histories: events lead.
        s.metrics.insert("metric:logins".into(), days(70, 100));
        s.metrics.insert(METRIC_ACTIVE_USERS.into(), days(70, 100));
        assert_eq!(primary_source(&s, Day(100)), Some(UsageSource::Events));
        assert_eq!(UsageSource::of_metric("users:login"), None);
        assert_eq!(UsageSource::of_metric(METRIC_ACTIVE_USERS), None);
        assert_eq!(
            UsageSource::from_key("daily_metrics"),
            Some(UsageSource::DailyMetrics)
        );
    }

    #[test]
    fn merge_rules_follow_the_prefix() {
        assert_eq!(merge_rule("event:login"), Merge::Add);
        // Periods end on Sunday and on the month's last day (2026-01-07 is a Wednesday).
        assert_eq!(
            period_ends(Day::ymd(2026, 1, 7)),
            [Day::ymd(2026, 1, 11), Day::ymd(2026, 1, 31)]
        );
        assert_eq!(
            period_ends(Day::ymd(2026, 12, 31))[1],
            Day::ymd(2026, 12, 31)
        );
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

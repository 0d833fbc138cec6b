//! Exact distinct-user counts for data that arrives a few events at a time: each user is recorded once per
//! account, series and day (the backend's `distinct_users` rows), and the users new to a day are added to the
//! count the series already holds for it. A backend inserts the facts in [`keyed`] order and reports which
//! were new; [`add_counts`] turns those into series points, the same on every backend.

use crate::{DistinctUsers, Result, SeriesDelta, StoreError};
use bellwether_core::series::AccountSeries;
use bellwether_core::{AccountId, Day};
use std::collections::BTreeMap;

/// The key of an account's distinct-user series: a 64-bit hash of the account id and the series name
/// (integer keys keep the hot insert cheap).
pub fn series_key(account: &AccountId, metric: &str) -> i64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(account.as_str().as_bytes());
    h.update(&[0]);
    h.update(metric.as_bytes());
    h.digest() as i64
}

/// The facts as `(series key, day, user hash, index into series)`, sorted, so inserts walk the table's pages
/// once instead of at random and each `(series, day)` is one run.
pub fn keyed(distinct: &DistinctUsers) -> Vec<(i64, Day, i64, u32)> {
    let keys: Vec<i64> = distinct
        .series
        .iter()
        .map(|(account, metric)| series_key(account, metric))
        .collect();
    let mut keyed: Vec<(i64, Day, i64, u32)> = distinct
        .facts
        .iter()
        .map(|&(i, day, user)| (keys[i as usize], day, user, i))
        .collect();
    keyed.sort_unstable();
    keyed.dedup_by_key(|k| (k.0, k.1, k.2));
    keyed
}

/// Users new to each `(series index, day)`, from the [`keyed`] facts and whether each was new.
pub fn new_per_day(
    keyed: &[(i64, Day, i64, u32)],
    fresh: impl Fn(usize) -> bool,
) -> Vec<(u32, Day, u32)> {
    let mut out: Vec<(u32, Day, u32)> = Vec::new();
    let mut run: Option<(i64, Day)> = None;
    for (n, &(key, day, _, i)) in keyed.iter().enumerate() {
        let add = u32::from(fresh(n));
        match out.last_mut() {
            Some(last) if run == Some((key, day)) => last.2 += add,
            _ => {
                out.push((i, day, add));
                run = Some((key, day));
            }
        }
    }
    out.retain(|a| a.2 > 0);
    out
}

/// Adds the users new to each day to the count each series holds for it (`stored` gives an account's stored
/// series, asked once per account), as points of `series`, merged by keeping the larger value, which the exact
/// count always is.
pub fn add_counts(
    distinct: &DistinctUsers,
    added: &[(u32, Day, u32)],
    series: &mut BTreeMap<AccountId, SeriesDelta>,
    mut stored: impl FnMut(&AccountId) -> Result<Option<AccountSeries>>,
) -> Result<()> {
    let mut added: Vec<(&AccountId, &str, Day, u32)> = added
        .iter()
        .map(|&(i, day, n)| {
            let (account, metric) = &distinct.series[i as usize];
            (account, metric.as_str(), day, n)
        })
        .collect();
    added.sort_by(|a, b| a.0.cmp(b.0));
    let mut current: Option<(&AccountId, Option<AccountSeries>)> = None;
    for (account, metric, day, n) in added {
        if current.as_ref().is_none_or(|(a, _)| *a != account) {
            current = Some((account, stored(account)?));
        }
        let old = current
            .as_ref()
            .and_then(|(_, s)| s.as_ref())
            .and_then(|s| s.get(metric))
            .map_or(0.0, |s| s.sum(day, day.plus(1)));
        let value = old + n as f64;
        let points = series
            .entry(account.clone())
            .or_default()
            .entry(metric.to_string())
            .or_default();
        match points.binary_search_by_key(&day, |p| p.0) {
            Ok(i) => points[i].1 = points[i].1.max(value),
            Err(i) => points.insert(i, (day, value)),
        }
    }
    Ok(())
}

/// Decodes a stored series blob of `account`, naming the account when it is damaged.
pub fn decode_series(account: &AccountId, blob: &[u8]) -> Result<AccountSeries> {
    AccountSeries::decode(blob)
        .map_err(|e| StoreError::Corrupt(format!("series of account {account}: {e}")))
}

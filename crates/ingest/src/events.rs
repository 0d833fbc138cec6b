//! Rolls product events up into per-account daily series while reading them: the import hot path.
//!
//! Raw events are not stored row by row. Each event adds to the series of its account and UTC day:
//! `event:<name>` (count), `users:<name>` (distinct users of that event) and `active_users` (distinct users of
//! any event), and to the distinct users of its week and month (`weekly_active_users`,
//! `monthly_active_users`, dated by the period's last day).
//!
//! Each event becomes one 128-bit record: account, day and event name in the high half, a 64-bit hash of the
//! user id in the low half. Records are partitioned by account into two halves, each sorted on its own core;
//! sorted, every series falls out of one linear scan (runs of equal keys are counts, changes of user within a
//! run are distinct users). Sorting replaced hash-set counting, which spent most of the import on cache misses
//! (17M events: 8.4 s with hash sets, see BENCHMARKS.md).
//!
//! CSV files take a fast path that reads 4 MiB blocks, cut at record ends, and fingerprints each block as a
//! chunk; a block without quotes is split into lines and fields with `memchr`, written by hand because the
//! general CSV reader spent most of the import's time on tens of millions of rows, and a block with quotes is
//! read by the CSV parser (see `fast`). Files with more than 32 columns, and JSONL, go through the general
//! readers and [`EventAgg::add_fields`].

use crate::fields::Fields;
use crate::intern::Interner;
use crate::report::FieldError;
use bellwether_core::series::{
    ACTIVE_USERS, EVENT_PREFIX, MONTHLY_ACTIVE_USERS, USERS_PREFIX, WEEKLY_ACTIVE_USERS,
};
use bellwether_core::text::{self, Bound};
use bellwether_core::time::{EventTimeWindow, TimeReading};
use bellwether_core::{AccountId, Day, Timestamp};
use bellwether_store::SeriesDelta;
use rustc_hash::FxHashSet;
use std::collections::BTreeMap;

const DAY_BIAS: i32 = 1 << 23;
const MAX_ACCOUNTS: usize = 1 << 24;

/// An event as a sortable record: account (24 bits), biased day (24) and event (16) above, user hash below.
type Rec = u128;

#[inline]
fn record(account: u32, day: i32, event: u16, user: u64) -> Rec {
    let key =
        ((account as u64) << 40) | ((((day + DAY_BIAS) as u64) & 0xFF_FFFF) << 16) | event as u64;
    ((key as u128) << 64) | user as u128
}

#[inline]
fn rec_account(r: Rec) -> u32 {
    (r >> 104) as u32
}

#[inline]
fn rec_day(r: Rec) -> i32 {
    ((r >> 80) as u64 & 0xFF_FFFF) as i32 - DAY_BIAS
}

#[inline]
fn rec_event(r: Rec) -> usize {
    ((r >> 64) as u64 & 0xFFFF) as usize
}

/// [`bellwether_core::series::period_ends`] on day numbers.
fn period_ends(day: i32) -> [i32; 2] {
    bellwether_core::series::period_ends(Day(day)).map(|d| d.0)
}

/// The roll-up of one import's events: interned accounts and event names, and the records of chunks
/// confirmed new, split by account parity so the two halves sort and scan on separate cores.
pub(crate) struct EventAgg {
    accounts: Interner,
    events: Interner,
    parts: [Vec<Rec>; 2],
    /// Lengths of `parts` when the current chunk began.
    mark: [usize; 2],
    /// Events rolled up (in chunks that were new).
    pub(crate) kept: u64,
    /// The times accepted, checked per event.
    window: EventTimeWindow,
    /// How dates that leave something open are read.
    pub(crate) reading: TimeReading,
    /// When the file was received, for the window's upper bound.
    received: Timestamp,
}

/// One account's points per series slot (see [`scan`]).
type Slots = Vec<Vec<(Day, f64)>>;

/// Scans sorted records into per-account series, indexed by account.
fn scan(recs: &[Rec], n_events: usize) -> Vec<(u32, Slots)> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut day_users: Vec<u64> = Vec::new();
    let mut week: (i32, FxHashSet<u64>) = (i32::MIN, FxHashSet::default());
    let mut month: (i32, FxHashSet<u64>) = (i32::MIN, FxHashSet::default());
    while i < recs.len() {
        let account = rec_account(recs[i]);
        // Per event: count points, then distinct-user points; then active users per day, week and month.
        let mut slots: Vec<Vec<(Day, f64)>> = vec![Vec::new(); 2 * n_events + 3];
        week.0 = i32::MIN;
        month.0 = i32::MIN;
        while i < recs.len() && rec_account(recs[i]) == account {
            let day = rec_day(recs[i]);
            let ends = period_ends(day);
            for (slot, (cur, set), end) in [(1, &mut week, ends[0]), (2, &mut month, ends[1])] {
                if *cur != end {
                    if *cur != i32::MIN && !set.is_empty() {
                        slots[2 * n_events + slot].push((Day(*cur), set.len() as f64));
                    }
                    *cur = end;
                    set.clear();
                }
            }
            day_users.clear();
            while i < recs.len() && rec_account(recs[i]) == account && rec_day(recs[i]) == day {
                let event = rec_event(recs[i]);
                let key = recs[i] >> 64;
                let (mut count, mut users, mut last_user) = (0u32, 0u32, 0u64);
                while i < recs.len() && recs[i] >> 64 == key {
                    let user = recs[i] as u64;
                    count += 1;
                    if user != 0 && user != last_user {
                        users += 1;
                        last_user = user;
                        day_users.push(user);
                    }
                    i += 1;
                }
                slots[2 * event].push((Day(day), count as f64));
                if users > 0 {
                    slots[2 * event + 1].push((Day(day), users as f64));
                }
            }
            if !day_users.is_empty() {
                day_users.sort_unstable();
                day_users.dedup();
                slots[2 * n_events].push((Day(day), day_users.len() as f64));
                week.1.extend(day_users.iter().copied());
                month.1.extend(day_users.iter().copied());
            }
        }
        for (slot, (cur, set)) in [(1, &mut week), (2, &mut month)] {
            if *cur != i32::MIN && !set.is_empty() {
                slots[2 * n_events + slot].push((Day(*cur), set.len() as f64));
            }
        }
        out.push((account, slots));
    }
    out
}

impl EventAgg {
    /// An empty roll-up whose events must lie inside `window` as of `received`, their times read under
    /// `reading`.
    pub(crate) fn new(window: EventTimeWindow, received: Timestamp, reading: TimeReading) -> Self {
        EventAgg {
            accounts: Interner::new(
                "account_id",
                Bound::Id,
                MAX_ACCOUNTS,
                "more than 16.7 million accounts in one file; split the file",
            ),
            events: Interner::new(
                "event",
                Bound::Name,
                1 << 16,
                "more than 65,536 event names; the event column seems to hold ids, not names",
            ),
            parts: [Vec::new(), Vec::new()],
            mark: [0; 2],
            kept: 0,
            window,
            reading,
            received,
        }
    }

    /// Adds one event from raw field bytes (the fast path); `value` is validated but not summed.
    #[inline]
    pub(crate) fn add_raw(
        &mut self,
        account: &[u8],
        ts: &[u8],
        event: &[u8],
        user: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<(), FieldError> {
        let at = Timestamp::parse_bytes_with(ts.trim_ascii(), &self.reading)
            .map_err(|e| FieldError::field("timestamp", e.to_string()))?;
        let day = self
            .window
            .check(at, self.received)
            .map_err(|e| FieldError::event_time("timestamp", e))?
            .day();
        if let Some(v) = value
            .map(|v| v.trim_ascii())
            .filter(|v| !v.is_empty() && *v != b"1")
        {
            let s = std::str::from_utf8(v).unwrap_or("");
            if !s.parse::<f64>().is_ok_and(f64::is_finite) {
                return Err(FieldError::field(
                    "value",
                    format!("'{}' is not a number", String::from_utf8_lossy(v)),
                ));
            }
        }
        let user = match user.map(|u| u.trim_ascii()).filter(|u| !u.is_empty()) {
            Some(u) => {
                text::check_bytes(Bound::Id, u).map_err(|e| FieldError::text("user_id", e))?;
                xxhash_rust::xxh3::xxh3_64(u) | 1
            }
            None => 0,
        };
        let account = self.accounts.get(account)?;
        let event = self.events.get(event)? as u16;
        self.parts[(account & 1) as usize].push(record(account, day.0, event, user));
        Ok(())
    }

    /// Adds one event from a record read by the general CSV or JSONL reader.
    pub(crate) fn add_fields(&mut self, f: &Fields) -> Result<(), FieldError> {
        let b = |n: &'static str| f.get(n).map(str::as_bytes);
        self.add_raw(
            f.req("account_id")?.as_bytes(),
            f.req("timestamp")?.as_bytes(),
            f.req("event")?.as_bytes(),
            b("user_id"),
            b("value"),
        )
    }

    /// Closes a chunk: folds its events into the roll-up when it is new, drops them when it was seen before.
    pub(crate) fn end_chunk(&mut self, keep: bool) {
        if keep {
            self.kept +=
                (self.parts[0].len() - self.mark[0] + self.parts[1].len() - self.mark[1]) as u64;
        } else {
            self.parts[0].truncate(self.mark[0]);
            self.parts[1].truncate(self.mark[1]);
        }
        self.mark = [self.parts[0].len(), self.parts[1].len()];
    }

    /// Records held (in chunks confirmed new), for deciding when to write a partial batch.
    pub(crate) fn held(&self) -> usize {
        self.mark[0] + self.mark[1]
    }

    /// The series deltas of the records held so far, by account, each half sorted and scanned on its own
    /// thread; the records are released and the interned names kept for the rest of the file.
    pub(crate) fn take(&mut self) -> BTreeMap<AccountId, SeriesDelta> {
        let n_events = self.events.names.len();
        let [a, b] = std::mem::take(&mut self.parts);
        self.mark = [0; 2];
        let halves: Vec<Vec<(u32, Slots)>> = std::thread::scope(|s| {
            let handles: Vec<_> = [a, b]
                .into_iter()
                .map(|mut part| {
                    s.spawn(move || {
                        part.sort_unstable();
                        let out = scan(&part, n_events);
                        drop(part);
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a roll-up thread panicked"))
                .collect()
        });
        let names: Vec<String> = (0..2 * n_events + 3)
            .map(|i| match i.checked_sub(2 * n_events) {
                Some(p) => [ACTIVE_USERS, WEEKLY_ACTIVE_USERS, MONTHLY_ACTIVE_USERS][p].to_string(),
                None if i % 2 == 0 => format!("{EVENT_PREFIX}{}", self.events.names[i / 2]),
                None => format!("{USERS_PREFIX}{}", self.events.names[i / 2]),
            })
            .collect();
        let mut out = BTreeMap::new();
        for (account, slots) in halves.into_iter().flatten() {
            let delta: SeriesDelta = slots
                .into_iter()
                .zip(&names)
                .filter(|(pts, _)| !pts.is_empty())
                .map(|(pts, n)| (n.clone(), pts))
                .collect();
            out.insert(
                AccountId(self.accounts.names[account as usize].clone()),
                delta,
            );
        }
        out
    }
}

/// Column positions of the events fields in the file's header.
pub(crate) struct EventColumns {
    pub(crate) account: usize,
    pub(crate) timestamp: usize,
    pub(crate) event: usize,
    pub(crate) user: Option<usize>,
    pub(crate) value: Option<usize>,
}

/// Events read on the fast path: the roll-up and where its fields stand in a row.
pub(crate) struct EventRows {
    pub(crate) agg: EventAgg,
    pub(crate) cols: EventColumns,
}

impl crate::fast::FastSink for EventRows {
    #[inline]
    fn row(&mut self, f: &[&[u8]]) -> Result<(), FieldError> {
        let c = &self.cols;
        self.agg.add_raw(
            f[c.account],
            f[c.timestamp],
            f[c.event],
            c.user.map(|i| f[i]),
            c.value.map(|i| f[i]),
        )
    }
    fn end_chunk(&mut self, keep: bool) {
        self.agg.end_chunk(keep)
    }
    fn held(&self) -> usize {
        self.agg.held()
    }
    fn take(&mut self) -> BTreeMap<AccountId, SeriesDelta> {
        self.agg.take()
    }
    fn kept(&self) -> u64 {
        self.agg.kept
    }
}

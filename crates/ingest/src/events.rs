//! Rolls product events up into per-account daily series while reading them: the import hot path.
//!
//! Raw events are not stored row by row. Each event adds to three series of its account and UTC day:
//! `event:<name>` (count), `users:<name>` (distinct users of that event) and `active_users` (distinct users of
//! any event). Accounts and event names are interned; distinct users are counted with sets of 64-bit hashes of
//! (account, day, [event,] user), so memory grows with distinct account-days, not with events.
//!
//! CSV files without quotes take a fast path that splits lines and fields with `memchr` on 4 MiB blocks and
//! fingerprints each block as a chunk; this path is written by hand because the general CSV reader spent most of
//! the import's time on tens of millions of rows. Files with quotes, and JSONL, go through the general readers
//! and [`EventAgg::add_fields`].

use crate::fields::Fields;
use crate::report::FieldError;
use bellwether_core::series::{ACTIVE_USERS, EVENT_PREFIX, USERS_PREFIX};
use bellwether_core::{AccountId, Day, Timestamp};
use bellwether_store::SeriesDelta;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;

/// One parsed event waiting for its chunk to be confirmed new.
#[derive(Clone, Copy)]
struct Pending {
    account: u32,
    event: u16,
    day: i32,
    /// Hash of the user id; 0 when the event has none.
    user: u64,
}

const DAY_BIAS: i32 = 1 << 23;
const MAX_ACCOUNTS: usize = 1 << 24;

#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[inline]
fn day_key(account: u32, day: i32) -> u64 {
    ((account as u64) << 24) | ((day + DAY_BIAS) as u64 & 0xFF_FFFF)
}

#[inline]
fn event_key(account: u32, day: i32, event: u16) -> u64 {
    (day_key(account, day) << 16) | event as u64
}

/// The roll-up of one import's events.
#[derive(Default)]
pub(crate) struct EventAgg {
    accounts: FxHashMap<Box<[u8]>, u32>,
    account_names: Vec<String>,
    events: FxHashMap<Box<[u8]>, u16>,
    event_names: Vec<String>,
    pending: Vec<Pending>,
    /// (account, day, event) → (count, distinct users).
    counts: FxHashMap<u64, (u32, u32)>,
    /// (account, day) → distinct users.
    active: FxHashMap<u64, u32>,
    seen_day_user: FxHashSet<u64>,
    seen_event_user: FxHashSet<u64>,
    /// Events rolled up (in chunks that were new).
    pub(crate) kept: u64,
}

impl EventAgg {
    fn intern_account(&mut self, raw: &[u8]) -> Result<u32, FieldError> {
        if let Some(&i) = self.accounts.get(raw) {
            return Ok(i);
        }
        let name = std::str::from_utf8(raw)
            .map_err(|_| FieldError::field("account_id", "is not valid UTF-8"))?;
        if self.account_names.len() >= MAX_ACCOUNTS {
            return Err(FieldError::field(
                "account_id",
                "more than 16.7 million distinct accounts in one file; split the file",
            ));
        }
        let i = self.account_names.len() as u32;
        self.account_names.push(name.to_string());
        self.accounts.insert(raw.into(), i);
        Ok(i)
    }

    fn intern_event(&mut self, raw: &[u8]) -> Result<u16, FieldError> {
        if let Some(&i) = self.events.get(raw) {
            return Ok(i);
        }
        let name = std::str::from_utf8(raw)
            .map_err(|_| FieldError::field("event", "is not valid UTF-8"))?;
        if self.event_names.len() > u16::MAX as usize {
            return Err(FieldError::field(
                "event",
                format!("'{name}' would be the 65,537th distinct event name; the event column seems to hold ids, not names"),
            ));
        }
        let i = self.event_names.len() as u16;
        self.event_names.push(name.to_string());
        self.events.insert(raw.into(), i);
        Ok(i)
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
        let account = account.trim_ascii();
        let event = event.trim_ascii();
        if account.is_empty() {
            return Err(FieldError::field("account_id", "is required but blank"));
        }
        if event.is_empty() {
            return Err(FieldError::field("event", "is required but blank"));
        }
        let day = Timestamp::parse_bytes(ts.trim_ascii())
            .map_err(|e| FieldError::field("timestamp", e.to_string()))?
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
            Some(u) => xxhash_rust::xxh3::xxh3_64(u) | 1,
            None => 0,
        };
        let account = self.intern_account(account)?;
        let event = self.intern_event(event)?;
        self.pending.push(Pending {
            account,
            event,
            day: day.0,
            user,
        });
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
            self.kept += self.pending.len() as u64;
            for p in std::mem::take(&mut self.pending) {
                let dk = day_key(p.account, p.day);
                let ek = event_key(p.account, p.day, p.event);
                let c = self.counts.entry(ek).or_insert((0, 0));
                c.0 += 1;
                if p.user != 0 {
                    if self
                        .seen_event_user
                        .insert(mix(p.user ^ ek.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
                    {
                        c.1 += 1;
                    }
                    if self
                        .seen_day_user
                        .insert(mix(p.user ^ dk.wrapping_mul(0xc2b2_ae3d_27d4_eb4f)))
                    {
                        *self.active.entry(dk).or_insert(0) += 1;
                    }
                }
            }
        } else {
            self.pending.clear();
        }
    }

    /// The series deltas by account.
    pub(crate) fn finish(self) -> BTreeMap<AccountId, SeriesDelta> {
        drop(self.seen_day_user);
        drop(self.seen_event_user);
        let mut per: Vec<FxHashMap<String, Vec<(Day, f64)>>> =
            vec![FxHashMap::default(); self.account_names.len()];
        let count_names: Vec<String> = self
            .event_names
            .iter()
            .map(|n| format!("{EVENT_PREFIX}{n}"))
            .collect();
        let user_names: Vec<String> = self
            .event_names
            .iter()
            .map(|n| format!("{USERS_PREFIX}{n}"))
            .collect();
        for (k, (count, users)) in self.counts {
            let event = (k & 0xFFFF) as usize;
            let day = Day(((k >> 16) & 0xFF_FFFF) as i32 - DAY_BIAS);
            let account = (k >> 40) as usize;
            let m = &mut per[account];
            m.entry_ref(&count_names[event]).push((day, count as f64));
            if users > 0 {
                m.entry_ref(&user_names[event]).push((day, users as f64));
            }
        }
        for (k, users) in self.active {
            let day = Day((k & 0xFF_FFFF) as i32 - DAY_BIAS);
            per[(k >> 24) as usize]
                .entry_ref(ACTIVE_USERS)
                .push((day, users as f64));
        }
        let mut out = BTreeMap::new();
        for (name, metrics) in self.account_names.into_iter().zip(per) {
            if metrics.is_empty() {
                continue;
            }
            let delta: SeriesDelta = metrics
                .into_iter()
                .map(|(m, mut pts)| {
                    pts.sort_unstable_by_key(|p| p.0);
                    (m, pts)
                })
                .collect();
            out.insert(AccountId(name), delta);
        }
        out
    }
}

trait EntryRef {
    fn entry_ref(&mut self, k: &str) -> &mut Vec<(Day, f64)>;
}

impl EntryRef for FxHashMap<String, Vec<(Day, f64)>> {
    #[inline]
    fn entry_ref(&mut self, k: &str) -> &mut Vec<(Day, f64)> {
        if !self.contains_key(k) {
            self.insert(k.to_string(), Vec::new());
        }
        self.get_mut(k).expect("just inserted")
    }
}

/// Column positions of the events fields in the file's header.
pub(crate) struct EventColumns {
    pub(crate) account: usize,
    pub(crate) timestamp: usize,
    pub(crate) event: usize,
    pub(crate) user: Option<usize>,
    pub(crate) value: Option<usize>,
    pub(crate) width: usize,
}

/// Parses the lines of one block (whole lines, no quotes) on the fast path. Calls `reject` for bad lines with
/// their line number; returns the number of records (non-blank lines) read.
pub(crate) fn parse_block(
    agg: &mut EventAgg,
    cols: &EventColumns,
    block: &[u8],
    first_line: u64,
    reject: &mut dyn FnMut(u64, FieldError),
) -> (u64, u64) {
    let mut line_no = first_line;
    let mut records = 0;
    let mut fields: [&[u8]; 32] = [&[]; 32];
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', block).chain(std::iter::once(block.len())) {
        if nl == block.len() && start >= block.len() {
            break;
        }
        let mut line = &block[start..nl];
        start = nl + 1;
        let this = line_no;
        line_no += 1;
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        if line.is_empty() {
            continue;
        }
        records += 1;
        let mut n = 0;
        let mut fs = 0;
        for comma in memchr::memchr_iter(b',', line).chain(std::iter::once(line.len())) {
            if n < fields.len() {
                fields[n] = &line[fs..comma];
            }
            n += 1;
            fs = comma + 1;
        }
        if n != cols.width {
            reject(
                this,
                FieldError::record(format!(
                    "has {n} fields where the header has {}; check for unquoted commas",
                    cols.width
                )),
            );
            continue;
        }
        let r = agg.add_raw(
            fields[cols.account],
            fields[cols.timestamp],
            fields[cols.event],
            cols.user.map(|i| fields[i]),
            cols.value.map(|i| fields[i]),
        );
        if let Err(e) = r {
            reject(this, e);
        }
    }
    (records, line_no - first_line)
}

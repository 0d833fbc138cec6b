//! Rolls product events up into per-account daily series while reading them: the import hot path.
//!
//! Raw events are not stored row by row. Each event adds to three series of its account and UTC day:
//! `event:<name>` (count), `users:<name>` (distinct users of that event) and `active_users` (distinct users of
//! any event); it also counts distinct users per week and per month (`weekly_active_users`,
//! `monthly_active_users`, dated by the period's last day). Accounts and event names are interned; distinct users are counted with sets of 64-bit hashes of
//! (account, day, [event,] user), so memory grows with distinct account-days, not with events.
//!
//! CSV files without quotes take a fast path that splits lines and fields with `memchr` on 4 MiB blocks and
//! fingerprints each block as a chunk; this path is written by hand because the general CSV reader spent most of
//! the import's time on tens of millions of rows. Files with quotes, and JSONL, go through the general readers
//! and [`EventAgg::add_fields`].

use crate::fields::Fields;
use crate::report::FieldError;
use bellwether_core::series::{
    ACTIVE_USERS, EVENT_PREFIX, MONTHLY_ACTIVE_USERS, USERS_PREFIX, WEEKLY_ACTIVE_USERS,
};
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

/// The counting side of the roll-up, run on its own thread so parsing and counting overlap.
#[derive(Default)]
struct Rollup {
    /// (account, day, event) → (count, distinct users).
    counts: FxHashMap<u64, (u32, u32)>,
    /// Per period (day, week, month): (account, last day of the period) → distinct users.
    active: [FxHashMap<u64, u32>; 3],
    seen_period_user: FxHashSet<u64>,
    seen_event_user: FxHashSet<u64>,
}

/// Salts that keep the (user, account, period) hashes of days, weeks and months apart.
const PERIOD_SALT: [u64; 3] = [
    0xc2b2_ae3d_27d4_eb4f,
    0x1656_67b1_9e37_79f9,
    0x27d4_eb2f_1656_67c5,
];

/// The last day of the week (Sunday) and of the month that `day` falls in. Distinct users of a week or month
/// are dated by its last day, so a reader as of D only sees periods that ended before D.
fn period_ends(day: i32) -> [i32; 3] {
    let d = Day(day);
    let week_end = day + (6 - d.weekday() as i32);
    let (y, m, _) = d.civil();
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let month_end = bellwether_core::time::days_from_civil(ny, nm, 1) - 1;
    [day, week_end, month_end]
}

impl Rollup {
    fn fold(&mut self, pending: &[Pending]) {
        let mut cached = (i32::MIN, [0; 3]);
        for p in pending {
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
                if cached.0 != p.day {
                    cached = (p.day, period_ends(p.day));
                }
                for (i, end) in cached.1.iter().enumerate() {
                    let k = day_key(p.account, *end);
                    if self
                        .seen_period_user
                        .insert(mix(p.user ^ k.wrapping_mul(PERIOD_SALT[i])))
                    {
                        *self.active[i].entry(k).or_insert(0) += 1;
                    }
                }
            }
        }
    }
}

/// The roll-up of one import's events: the parsing side interns accounts and event names and hands each new
/// chunk's events to the counting thread.
pub(crate) struct EventAgg {
    accounts: FxHashMap<Box<[u8]>, u32>,
    account_names: Vec<String>,
    events: FxHashMap<Box<[u8]>, u16>,
    event_names: Vec<String>,
    pending: Vec<Pending>,
    worker: Option<(
        std::sync::mpsc::SyncSender<Vec<Pending>>,
        std::thread::JoinHandle<Rollup>,
    )>,
    /// Events rolled up (in chunks that were new).
    pub(crate) kept: u64,
}

impl Default for EventAgg {
    fn default() -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Pending>>(2);
        let handle = std::thread::spawn(move || {
            let mut r = Rollup::default();
            for chunk in rx {
                r.fold(&chunk);
            }
            r
        });
        EventAgg {
            accounts: FxHashMap::default(),
            account_names: Vec::new(),
            events: FxHashMap::default(),
            event_names: Vec::new(),
            pending: Vec::new(),
            worker: Some((tx, handle)),
            kept: 0,
        }
    }
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
            let chunk = std::mem::take(&mut self.pending);
            if let Some((tx, _)) = &self.worker {
                // The counting thread only stops when this sender is dropped, so the send cannot fail.
                tx.send(chunk).expect("the counting thread is running");
            }
        } else {
            self.pending.clear();
        }
    }

    /// The series deltas by account. Keys are sorted once, which groups them by account, then day, then event,
    /// so every series comes out in day order without per-point map look-ups.
    pub(crate) fn finish(mut self) -> BTreeMap<AccountId, SeriesDelta> {
        let rollup = match self.worker.take() {
            Some((tx, handle)) => {
                drop(tx);
                handle.join().expect("the counting thread panicked")
            }
            None => Rollup::default(),
        };
        let Rollup { counts, active, .. } = rollup;
        let n_events = self.event_names.len();
        let mut counts: Vec<(u64, (u32, u32))> = counts.into_iter().collect();
        counts.sort_unstable_by_key(|c| c.0);
        let active: Vec<Vec<(u64, u32)>> = active
            .into_iter()
            .map(|m| {
                let mut v: Vec<(u64, u32)> = m.into_iter().collect();
                v.sort_unstable_by_key(|c| c.0);
                v
            })
            .collect();
        let mut out = BTreeMap::new();
        // Per event: count points, then distinct-user points; the last three slots are active users per day,
        // week and month.
        let mut slots: Vec<Vec<(Day, f64)>> = vec![Vec::new(); 2 * n_events + 3];
        let mut ci = 0;
        let mut ai = [0usize; 3];
        loop {
            let heads = (0..3).filter_map(|p| active[p].get(ai[p]).map(|a| a.0 >> 24));
            let Some(account) = counts
                .get(ci)
                .map(|c| c.0 >> 40)
                .into_iter()
                .chain(heads)
                .min()
            else {
                break;
            };
            while let Some(&(k, (count, users))) = counts.get(ci).filter(|c| c.0 >> 40 == account) {
                let event = (k & 0xFFFF) as usize;
                let day = Day(((k >> 16) & 0xFF_FFFF) as i32 - DAY_BIAS);
                slots[2 * event].push((day, count as f64));
                if users > 0 {
                    slots[2 * event + 1].push((day, users as f64));
                }
                ci += 1;
            }
            for p in 0..3 {
                while let Some(&(k, users)) = active[p].get(ai[p]).filter(|a| a.0 >> 24 == account)
                {
                    slots[2 * n_events + p]
                        .push((Day((k & 0xFF_FFFF) as i32 - DAY_BIAS), users as f64));
                    ai[p] += 1;
                }
            }
            let mut delta = SeriesDelta::new();
            for (i, slot) in slots.iter_mut().enumerate() {
                if slot.is_empty() {
                    continue;
                }
                let name = if i >= 2 * n_events {
                    [ACTIVE_USERS, WEEKLY_ACTIVE_USERS, MONTHLY_ACTIVE_USERS][i - 2 * n_events]
                        .to_string()
                } else if i % 2 == 0 {
                    format!("{EVENT_PREFIX}{}", self.event_names[i / 2])
                } else {
                    format!("{USERS_PREFIX}{}", self.event_names[i / 2])
                };
                delta.insert(name, std::mem::take(slot));
            }
            out.insert(
                AccountId(self.account_names[account as usize].clone()),
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

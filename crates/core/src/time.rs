//! UTC calendar days and instants.
//!
//! A [`Day`] counts days since 1970-01-01 and a [`Timestamp`] counts milliseconds since the Unix epoch, both in
//! UTC. Parsing is written by hand because it runs once per imported event (tens of millions of times per file).
//! The hot path takes `YYYY-MM-DD`, RFC 3339 / ISO 8601 date-times with an optional fraction and offset
//! (`2024-03-01T09:30:00Z`, `2024-03-01 09:30:00+02:00`, and the forms warehouses print: `… +0100`, `… UTC`,
//! `…-05`) and integer Unix seconds or milliseconds. Other forms people export are read on a slower path:
//! decimal epochs (`1796099400000.0`), dotted day-first dates (`05.03.2024`), English month names
//! (`Mar 5, 2024`, `5 March 2024`, `November 30, 2026 13:00`), 12-hour clocks (`2:22 PM`) and slash dates
//! (`03/05/2024`), which read differently in different countries and so need a [`DayOrder`] in the
//! [`TimeReading`]. A time of day without an offset is in the reading's time zone (UTC unless set).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A UTC calendar day, as days since 1970-01-01.
///
/// In JSON a day is written as `"YYYY-MM-DD"`, as people and clients read it; a day number (how earlier
/// versions wrote stored model bundles) is still read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub i32);

impl Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Day;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a day as YYYY-MM-DD (or a day number)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Day, E> {
                Day::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Day, E> {
                i32::try_from(v)
                    .map(Day)
                    .map_err(|_| E::custom(format!("day number {v} is out of range")))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Day, E> {
                i32::try_from(v)
                    .map(Day)
                    .map_err(|_| E::custom(format!("day number {v} is out of range")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A UTC instant, as milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

/// Milliseconds in one day.
pub const MS_PER_DAY: i64 = 86_400_000;

/// The furthest day from 1970 that [`Timestamp::day`] returns (calendar arithmetic stays inside `i32`).
const DAY_LIMIT: i64 = 1 << 30;

/// The most characters of a bad value quoted in an error.
const QUOTE_LIMIT: usize = 200;

/// Why a date or time could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a date or time: {why}; use YYYY-MM-DD, an RFC 3339 time such as 2024-03-01T09:30:00Z, or Unix seconds")]
pub struct TimeError {
    /// The text that was given, whole (up to 200 characters, then cut with `…`).
    pub value: String,
    /// What was wrong with it.
    pub why: &'static str,
}

fn err(value: &[u8], why: &'static str) -> TimeError {
    let s = String::from_utf8_lossy(value);
    let mut value: String = s.chars().take(QUOTE_LIMIT).collect();
    if s.chars().nth(QUOTE_LIMIT).is_some() {
        value.push('…');
    }
    TimeError { value, why }
}

/// Which comes first in a slash date such as `03/05/2024`: the month (US exports) or the day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DayOrder {
    /// Month, day, year: `03/05/2024` is March 5.
    Mdy,
    /// Day, month, year: `03/05/2024` is 3 May.
    Dmy,
}

impl DayOrder {
    /// Reads `mdy` or `dmy` (any case).
    pub fn parse(s: &str) -> Result<DayOrder, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mdy" => Ok(DayOrder::Mdy),
            "dmy" => Ok(DayOrder::Dmy),
            _ => Err(format!(
                "'{s}' is not a day order; use mdy (03/05/2024 is March 5) or dmy (03/05/2024 is 3 May)"
            )),
        }
    }
}

/// A fixed offset from UTC, in minutes east (`+01:00` is 60). It does not follow daylight saving time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct UtcOffset(pub i32);

impl UtcOffset {
    /// Reads `+HH:MM`, `+HHMM`, `+HH` (or `-`), `Z` or `UTC`; at most 18 hours either way.
    pub fn parse(s: &str) -> Result<UtcOffset, String> {
        let bad = || {
            format!("'{s}' is not a UTC offset; use a fixed offset such as +01:00, -05:00 or UTC")
        };
        let b = s.trim().as_bytes();
        match zone_ms(b).map_err(|_| bad())? {
            Some(ms) if ms.abs() <= 18 * 3_600_000 => Ok(UtcOffset((ms / 60_000) as i32)),
            Some(_) => Err(bad()),
            None => Err(bad()),
        }
    }
}

impl From<UtcOffset> for String {
    fn from(o: UtcOffset) -> String {
        o.to_string()
    }
}

impl fmt::Display for UtcOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        let m = self.0.unsigned_abs();
        write!(f, "{sign}{:02}:{:02}", m / 60, m % 60)
    }
}

impl<'de> Deserialize<'de> for UtcOffset {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        UtcOffset::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// How to read what a date's text leaves open (`[import]` in the settings, for imports and the server alike):
/// the order of day and month in slash dates, and the time zone of times of day written without an offset.
/// A date without a time of day is that calendar day whatever the time zone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeReading {
    /// The order of slash dates; without it a slash date is refused, naming this setting.
    pub day_order: Option<DayOrder>,
    /// The offset of times written without one (default UTC).
    pub time_zone: UtcOffset,
}

impl TimeReading {
    /// No day order, times without an offset in UTC.
    pub const DEFAULT: TimeReading = TimeReading {
        day_order: None,
        time_zone: UtcOffset(0),
    };
}

/// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub const fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u32;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i32 - 719_468
}

/// The (year, month, day) of a day count (inverse of [`days_from_civil`]).
pub const fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i32 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

#[inline]
fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

fn parse_date(b: &[u8]) -> Result<Day, &'static str> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err("expected YYYY-MM-DD");
    }
    let (y, m, d) = match (digits(&b[0..4]), digits(&b[5..7]), digits(&b[8..10])) {
        (Some(y), Some(m), Some(d)) => (y as i32, m, d),
        _ => return Err("expected digits in YYYY-MM-DD"),
    };
    civil_day(y, m, d)
}

fn civil_day(y: i32, m: u32, d: u32) -> Result<Day, &'static str> {
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return Err("no such calendar day");
    }
    Ok(Day(days_from_civil(y, m, d)))
}

/// The offset a zone suffix states, as milliseconds east of UTC: `Z`, `UTC`, `GMT`, `+HH:MM`, `+HHMM` or `+HH`
/// (or `-`), after at most one space; `None` when there is none.
fn zone_ms(rest: &[u8]) -> Result<Option<i64>, &'static str> {
    let mut rest = match rest {
        [b' ', tail @ ..] if !tail.is_empty() => tail,
        _ => rest,
    };
    let padded;
    if let [sign @ (b'+' | b'-'), h1, h2] = rest {
        padded = [*sign, *h1, *h2, b'0', b'0'];
        rest = &padded;
    }
    match rest {
        [] => Ok(None),
        [b'Z' | b'z'] | b"UTC" | b"GMT" | b"utc" | b"gmt" => Ok(Some(0)),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] | [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
            let oh = digits(&[*h1, *h2]).ok_or("bad offset")? as i64;
            let om = digits(&[*m1, *m2]).ok_or("bad offset")? as i64;
            if oh > 23 || om > 59 {
                return Err("time zone offset out of range; use -23:59 to +23:59");
            }
            let off = (oh * 60 + om) * 60_000;
            Ok(Some(if *sign == b'+' { off } else { -off }))
        }
        _ => Err("unreadable time zone offset; use Z or +HH:MM"),
    }
}

impl Day {
    /// Parses `YYYY-MM-DD` or another unambiguous date form; a full date-time is accepted and cut to its UTC
    /// day.
    pub fn parse(s: &str) -> Result<Day, TimeError> {
        Day::parse_with(s, &TimeReading::DEFAULT)
    }

    /// [`Day::parse`] under a [`TimeReading`] (slash dates, times without an offset).
    pub fn parse_with(s: &str, reading: &TimeReading) -> Result<Day, TimeError> {
        let b = s.trim().as_bytes();
        if b.len() == 10 && b[4] == b'-' {
            parse_date(b).map_err(|why| err(b, why))
        } else {
            Timestamp::parse_bytes_with(b, reading).map(|t| t.day())
        }
    }
    /// The instant this day starts (00:00 UTC).
    pub fn start(self) -> Timestamp {
        Timestamp(self.0 as i64 * MS_PER_DAY)
    }
    /// Builds a day from a calendar date; panics on an impossible date (for literals in code and tests).
    pub fn ymd(y: i32, m: u32, d: u32) -> Day {
        assert!(
            (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m),
            "bad date {y}-{m}-{d}"
        );
        Day(days_from_civil(y, m, d))
    }
    /// Day of the week, 0 = Monday … 6 = Sunday.
    pub fn weekday(self) -> u32 {
        (self.0 + 3).rem_euclid(7) as u32
    }
    /// The year, month and day of month.
    pub fn civil(self) -> (i32, u32, u32) {
        civil_from_days(self.0)
    }
    /// This day moved by `n` days.
    pub fn plus(self, n: i32) -> Day {
        Day(self.0 + n)
    }
    /// Today in UTC, from the system clock.
    pub fn today() -> Day {
        Timestamp::now().day()
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.civil();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// `YYYY-MM-DD` with an optional `THH:MM[:SS][.fff]` and zone.
#[inline]
fn parse_iso(b: &[u8], reading: &TimeReading) -> Result<Timestamp, TimeError> {
    let day = parse_date(&b[..10]).map_err(|why| err(b, why))?;
    let mut ms = day.0 as i64 * MS_PER_DAY;
    if b.len() == 10 {
        return Ok(Timestamp(ms));
    }
    if !(b[10] == b'T' || b[10] == b't' || b[10] == b' ') || b.len() < 16 || b[13] != b':' {
        return Err(err(b, "expected a time after the date, as THH:MM:SS"));
    }
    let hh = digits(&b[11..13]).ok_or_else(|| err(b, "bad hour"))?;
    let mm = digits(&b[14..16]).ok_or_else(|| err(b, "bad minute"))?;
    let mut i = 16;
    let mut ss = 0;
    if b.len() >= 19 && b[16] == b':' {
        ss = digits(&b[17..19]).ok_or_else(|| err(b, "bad second"))?;
        i = 19;
    }
    if hh > 23 || mm > 59 || ss > 60 {
        return Err(err(b, "time of day out of range"));
    }
    ms += (hh as i64 * 3600 + mm as i64 * 60 + ss as i64) * 1000;
    let (frac, i) = fraction(b, i).map_err(|why| err(b, why))?;
    ms += frac;
    let off = match &b[i..] {
        [b'Z' | b'z'] => 0,
        [] => reading.time_zone.0 as i64 * 60_000,
        rest => zone_ms(rest)
            .map_err(|why| err(b, why))?
            .unwrap_or(reading.time_zone.0 as i64 * 60_000),
    };
    Ok(Timestamp(ms - off))
}

/// Milliseconds of a `.fff` (or `,fff`) fraction at `i`, and the position after it.
#[inline(always)]
fn fraction(b: &[u8], mut i: usize) -> Result<(i64, usize), &'static str> {
    if i < b.len() && (b[i] == b'.' || b[i] == b',') {
        i += 1;
        let start = i;
        let mut frac = 0i64;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                frac = frac * 10 + (b[i] - b'0') as i64;
            }
            i += 1;
        }
        if i == start {
            return Err("empty fraction of a second");
        }
        for _ in (i - start)..3 {
            frac *= 10;
        }
        return Ok((frac, i));
    }
    Ok((0, i))
}

const SLASH_DATES: &str = "a slash date reads month first in some exports and day first in others; set `[import] day_order = \"mdy\"` (03/05/2024 is March 5) or `\"dmy\"` (3 May) in the settings, or pass --day-order to the import";

const MONTHS: [&[u8]; 12] = [
    b"january",
    b"february",
    b"march",
    b"april",
    b"may",
    b"june",
    b"july",
    b"august",
    b"september",
    b"october",
    b"november",
    b"december",
];

const WEEKDAYS: [&[u8]; 7] = [
    b"monday",
    b"tuesday",
    b"wednesday",
    b"thursday",
    b"friday",
    b"saturday",
    b"sunday",
];

/// Whether `w` (lower case) is `full` or its three-letter abbreviation.
fn names(w: &[u8], full: &[u8]) -> bool {
    w == full || (w.len() == 3 && full.starts_with(w))
}

fn month_of(w: &[u8]) -> Option<u32> {
    let w = w.to_ascii_lowercase();
    if w == b"sept" {
        return Some(9);
    }
    MONTHS
        .iter()
        .position(|m| names(&w, m))
        .map(|i| i as u32 + 1)
}

fn is_weekday(w: &[u8]) -> bool {
    let w = w.to_ascii_lowercase();
    WEEKDAYS.iter().any(|d| names(&w, d))
}

/// A cursor over the text of a date in one of the slower forms.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.i += hit as usize;
        hit
    }
    fn spaces(&mut self) -> usize {
        let start = self.i;
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
        self.i - start
    }
    /// A number of 1 to `max` digits, and how many digits it had.
    fn num(&mut self, max: usize) -> Option<(u32, usize)> {
        let start = self.i;
        while self.i - start < max && self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let n = self.i - start;
        if n == 0 || self.peek().is_some_and(|c| c.is_ascii_digit()) {
            return None;
        }
        digits(&self.b[start..self.i]).map(|v| (v, n))
    }
    fn word(&mut self) -> &[u8] {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.i += 1;
        }
        &self.b[start..self.i]
    }
    fn year(&mut self) -> Result<i32, &'static str> {
        match self.num(4) {
            Some((y, 4)) => Ok(y as i32),
            Some(_) => Err("use a four-digit year"),
            None => Err("expected a year"),
        }
    }
    /// A day of the month, with an optional `st`, `nd`, `rd` or `th`.
    fn day(&mut self) -> Result<u32, &'static str> {
        let (d, _) = self.num(2).ok_or("expected a day of the month")?;
        let save = self.i;
        if !matches!(
            self.word().to_ascii_lowercase().as_slice(),
            b"st" | b"nd" | b"rd" | b"th"
        ) {
            self.i = save;
        }
        Ok(d)
    }
    /// A month name, with an optional `.` after an abbreviation.
    fn month(&mut self) -> Result<u32, &'static str> {
        let m = month_of(self.word()).ok_or("expected a month name such as Mar or March")?;
        self.eat(b'.');
        Ok(m)
    }
}

/// The (year, month, day) at the cursor in one of the slower forms.
fn slow_date(c: &mut Cursor, reading: &TimeReading) -> Result<(i32, u32, u32), &'static str> {
    if c.peek().is_some_and(|x| x.is_ascii_alphabetic()) {
        let save = c.i;
        if is_weekday(c.word()) {
            c.eat(b'.');
            c.eat(b',');
            c.spaces();
            if c.peek().is_some_and(|x| x.is_ascii_digit()) {
                return day_month_year(c);
            }
        } else {
            c.i = save;
        }
        // `Mar 5, 2024`, `March 5 2024`
        let m = c.month()?;
        if c.spaces() == 0 {
            return Err("expected a space after the month");
        }
        let d = c.day()?;
        c.eat(b',');
        if c.spaces() == 0 {
            return Err("expected a space before the year");
        }
        return Ok((c.year()?, m, d));
    }
    let start = c.i;
    let (n1, l1) = c.num(4).ok_or("expected a date such as 2024-03-05")?;
    match c.peek() {
        Some(sep @ (b'/' | b'.')) => {
            c.i += 1;
            let (n2, _) = c.num(2).ok_or("expected the month")?;
            if !c.eat(sep) {
                return Err("expected three parts to the date");
            }
            if l1 == 4 {
                // `2024/03/05`: year first is read one way everywhere.
                let (n3, _) = c.num(2).ok_or("expected the day")?;
                return Ok((n1 as i32, n2, n3));
            }
            let y = c.year()?;
            if sep == b'.' {
                // `05.03.2024`: dotted dates are written day first.
                return Ok((y, n2, n1));
            }
            match reading.day_order {
                Some(DayOrder::Mdy) => Ok((y, n1, n2)),
                Some(DayOrder::Dmy) => Ok((y, n2, n1)),
                None => Err(SLASH_DATES),
            }
        }
        Some(b' ' | b'-') if l1 <= 2 => {
            c.i = start;
            day_month_year(c)
        }
        _ => Err("expected a date such as 2024-03-05"),
    }
}

/// `5 Mar 2024`, `5 March, 2024`, `05-Mar-2024`.
fn day_month_year(c: &mut Cursor) -> Result<(i32, u32, u32), &'static str> {
    let d = c.day()?;
    let dash = c.eat(b'-');
    if !dash && c.spaces() == 0 {
        return Err("expected a month after the day");
    }
    let m = c.month()?;
    c.eat(b',');
    if !(dash && c.eat(b'-')) && c.spaces() == 0 {
        return Err("expected a year after the month");
    }
    Ok((c.year()?, m, d))
}

/// Unix seconds or milliseconds with a decimal fraction (`1796099400000.0`, `1709285415.25`).
fn decimal_epoch(b: &[u8]) -> Option<Result<Timestamp, &'static str>> {
    let dot = b.iter().position(|&c| c == b'.')?;
    let (int, frac) = (&b[..dot], &b[dot + 1..]);
    if int.is_empty() || frac.is_empty() || !int.iter().chain(frac).all(u8::is_ascii_digit) {
        return None;
    }
    let Some(v) = std::str::from_utf8(int)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
    else {
        return Some(Err("number too large"));
    };
    if int.len() > 11 {
        // Milliseconds; a fraction of a millisecond is dropped.
        return Some(Ok(Timestamp(v)));
    }
    let mut ms = 0i64;
    for k in 0..3 {
        ms = ms * 10 + frac.get(k).map_or(0, |c| (c - b'0') as i64);
    }
    Some(
        v.checked_mul(1000)
            .map(|s| Timestamp(s + ms))
            .ok_or("number too large"),
    )
}

/// The forms off the hot path: decimal epochs, dotted, slash and month-name dates, 12-hour clocks.
#[cold]
#[inline(never)]
fn parse_other(b: &[u8], reading: &TimeReading) -> Result<Timestamp, TimeError> {
    if b.is_empty() {
        return Err(err(b, "it is empty"));
    }
    if let Some(t) = decimal_epoch(b) {
        return t.map_err(|why| err(b, why));
    }
    let mut c = Cursor { b, i: 0 };
    let (y, m, d) = slow_date(&mut c, reading).map_err(|why| err(b, why))?;
    let day = civil_day(y, m, d).map_err(|why| err(b, why))?;
    let mut ms = day.0 as i64 * MS_PER_DAY;
    // A time of day after a space, a `T` or a comma.
    c.eat(b',');
    let spaced = c.spaces() > 0;
    if c.peek().is_none() {
        return if spaced || c.i > 0 && b[c.i - 1] == b',' {
            Err(err(b, "expected a time after the date"))
        } else {
            Ok(Timestamp(ms))
        };
    }
    if !spaced && !c.eat(b'T') {
        return Err(err(b, "expected a time after the date, as HH:MM"));
    }
    let bad_time = "expected a time after the date, as HH:MM";
    let (mut hh, _) = c.num(2).ok_or_else(|| err(b, bad_time))?;
    if !c.eat(b':') {
        return Err(err(b, bad_time));
    }
    let (mm, l) = c.num(2).ok_or_else(|| err(b, "bad minute"))?;
    if l != 2 {
        return Err(err(b, "bad minute"));
    }
    let mut ss = 0;
    if c.eat(b':') {
        ss = match c.num(2) {
            Some((s, 2)) => s,
            _ => return Err(err(b, "bad second")),
        };
    }
    let (frac, i) = fraction(b, c.i).map_err(|why| err(b, why))?;
    c.i = i;
    // `2:22 PM`
    let save = c.i;
    c.spaces();
    let half = c.word().to_ascii_lowercase();
    match half.as_slice() {
        b"am" | b"pm" => {
            if !(1..=12).contains(&hh) {
                return Err(err(b, "an hour of a 12-hour clock is 1 to 12"));
            }
            hh = hh % 12 + if half == b"pm" { 12 } else { 0 };
        }
        _ => c.i = save,
    }
    if hh > 23 || mm > 59 || ss > 60 {
        return Err(err(b, "time of day out of range"));
    }
    ms += (hh as i64 * 3600 + mm as i64 * 60 + ss as i64) * 1000 + frac;
    let off = zone_ms(&b[c.i..]).map_err(|why| err(b, why))?;
    Ok(Timestamp(
        ms - off.unwrap_or(reading.time_zone.0 as i64 * 60_000),
    ))
}

impl Timestamp {
    /// Parses a date, an RFC 3339 date-time (a missing offset means UTC), Unix seconds/milliseconds or another
    /// unambiguous form (see the module's documentation).
    pub fn parse(s: &str) -> Result<Timestamp, TimeError> {
        Self::parse_bytes(s.trim().as_bytes())
    }

    /// [`Timestamp::parse`] under a [`TimeReading`] (slash dates, times without an offset).
    pub fn parse_with(s: &str, reading: &TimeReading) -> Result<Timestamp, TimeError> {
        Self::parse_bytes_with(s.trim().as_bytes(), reading)
    }

    /// [`Timestamp::parse`] on raw bytes (the import hot path).
    pub fn parse_bytes(b: &[u8]) -> Result<Timestamp, TimeError> {
        Self::parse_bytes_with(b, &TimeReading::DEFAULT)
    }

    /// [`Timestamp::parse_with`] on raw bytes (the import hot path): integer epochs and ISO dates first, then
    /// the other forms.
    #[inline]
    pub fn parse_bytes_with(b: &[u8], reading: &TimeReading) -> Result<Timestamp, TimeError> {
        if !b.is_empty() && b.iter().all(|c| c.is_ascii_digit()) {
            let v: i64 = std::str::from_utf8(b)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| err(b, "number too large"))?;
            // Up to 11 digits reads as seconds (until year 5138), more as milliseconds.
            return if b.len() <= 11 {
                Timestamp::from_unix_seconds(v).ok_or_else(|| err(b, "number too large"))
            } else {
                Ok(Timestamp(v))
            };
        }
        if b.len() >= 10 && b[4] == b'-' {
            return parse_iso(b, reading);
        }
        parse_other(b, reading)
    }

    /// Unix seconds as an instant; `None` when the milliseconds would not fit.
    pub fn from_unix_seconds(s: i64) -> Option<Timestamp> {
        s.checked_mul(1000).map(Timestamp)
    }

    /// The UTC day this instant falls on. Instants beyond about ±2.9 million years share the first or last day
    /// representable rather than wrapping around.
    pub fn day(self) -> Day {
        Day(self.0.div_euclid(MS_PER_DAY).clamp(-DAY_LIMIT, DAY_LIMIT) as i32)
    }

    /// Now, from the system clock.
    pub fn now() -> Timestamp {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(d.as_millis() as i64)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.div_euclid(MS_PER_DAY).abs() >= DAY_LIMIT {
            return write!(f, "{} ms from 1970-01-01", self.0);
        }
        let day = self.day();
        let ms = self.0 - day.0 as i64 * MS_PER_DAY;
        let (h, m, s, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
        if milli == 0 {
            write!(f, "{day}T{h:02}:{m:02}:{s:02}Z")
        } else {
            write!(f, "{day}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
        }
    }
}

/// The span of time an *event* may carry (an event's time, a metric's day, a ticket's opening, a Stripe event's
/// `created`): not before `earliest`, and not later than `max_ahead_hours` after the event was received.
///
/// One absurd time (year 9999, year 0, milliseconds read as seconds) would otherwise move the book's latest day
/// and make every other account look silent for millennia, so each record's event times are checked against
/// this window as it arrives and a record outside it is rejected, naming its field. Dates that lie in the future
/// by nature (renewal dates, subscription ends, contract dates, snoozes) are not event times and are not
/// checked. `[event_times]` in the settings configures it, for imports and the server alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventTimeWindow {
    /// The earliest day an event may fall on (default 2000-01-01).
    #[serde(deserialize_with = "day_from_text")]
    pub earliest: Day,
    /// How far after its receipt an event may be dated, in hours (default 24: clocks and time zones differ);
    /// `u32::MAX` sets no limit.
    pub max_ahead_hours: u32,
}

fn day_from_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Day, D::Error> {
    let s = String::deserialize(d)?;
    Day::parse(&s).map_err(serde::de::Error::custom)
}

impl Default for EventTimeWindow {
    fn default() -> Self {
        EventTimeWindow {
            earliest: Day(days_from_civil(2000, 1, 1)),
            max_ahead_hours: 24,
        }
    }
}

/// An event time outside the [`EventTimeWindow`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventTimeError {
    /// Before the earliest day.
    #[error("{at} is before {earliest}, the earliest event date accepted; check the value (a placeholder such as 0000-01-01 or 1970-01-01?) or lower `[event_times] earliest` in the settings")]
    TooEarly {
        /// The time given.
        at: Timestamp,
        /// The earliest day accepted.
        earliest: Day,
    },
    /// Too far after its receipt.
    #[error("{at} is more than {hours} hours after the record was received ({received}); an event cannot lie in the future: check the value (a placeholder such as 9999-12-31, or milliseconds given as seconds?) or raise `[event_times] max_ahead_hours` in the settings")]
    TooLate {
        /// The time given.
        at: Timestamp,
        /// When the record was received.
        received: Timestamp,
        /// The margin allowed, in hours.
        hours: u32,
    },
}

impl EventTimeWindow {
    /// Accepts every representable time: for re-reading records that were checked when they arrived.
    pub const ANY: EventTimeWindow = EventTimeWindow {
        earliest: Day(i32::MIN),
        max_ahead_hours: u32::MAX,
    };

    /// Checks an event time received at `received`; returns it when it lies inside the window.
    #[inline]
    pub fn check(&self, at: Timestamp, received: Timestamp) -> Result<Timestamp, EventTimeError> {
        let (lo, hi) = self.bounds(received);
        if at.0 < lo {
            Err(EventTimeError::TooEarly {
                at,
                earliest: self.earliest,
            })
        } else if at.0 > hi {
            Err(EventTimeError::TooLate {
                at,
                received,
                hours: self.max_ahead_hours,
            })
        } else {
            Ok(at)
        }
    }

    /// Checks an event's day (a daily metric's date): its first instant must lie inside the window.
    #[inline]
    pub fn check_day(&self, day: Day, received: Timestamp) -> Result<Day, EventTimeError> {
        self.check(day.start(), received).map(|_| day)
    }

    /// The first and last millisecond accepted for a record received at `received`.
    #[inline]
    pub fn bounds(&self, received: Timestamp) -> (i64, i64) {
        let lo = match self.earliest.0 {
            i32::MIN => i64::MIN,
            d => d as i64 * MS_PER_DAY,
        };
        let hi = match self.max_ahead_hours {
            u32::MAX => i64::MAX,
            h => received.0.saturating_add(h as i64 * 3_600_000),
        };
        (lo, hi)
    }
}

/// A billing term in days from how exports write it: `month`, `monthly`, `1 month`, `3 months`, `quarter`,
/// `quarterly`, `year`, `yearly`, `annual`, `annually`, `12 months`, `week`, `weekly`, `P1M`/`P1Y` (ISO 8601)
/// or a number of days. A month counts 30 days, a quarter 91, a year 365.
pub fn term_days(v: &str) -> Result<i32, String> {
    let bad = || {
        format!(
            "'{v}' is not a billing period; use month, quarter or year (monthly, annual …), a count such as \
             '3 months', an ISO 8601 period such as P1M, or a number of days"
        )
    };
    let unit = |u: &str| -> Option<i32> {
        Some(match u.trim_end_matches('s') {
            "day" | "d" | "daily" => 1,
            "week" | "w" | "weekly" => 7,
            "month" | "mo" | "m" | "monthly" => 30,
            "quarter" | "q" | "quarterly" => 91,
            "year" | "yr" | "y" | "yearly" | "annual" | "annually" => 365,
            _ => return None,
        })
    };
    let t = v.trim().to_ascii_lowercase().replace(['-', '_'], " ");
    let iso = t
        .strip_prefix('p')
        .filter(|r| r.len() >= 2 && r.as_bytes()[0].is_ascii_digit());
    let (n, u): (i32, &str) = if let Some(rest) = iso {
        let (num, u) = rest.split_at(rest.len() - 1);
        (num.parse().map_err(|_| bad())?, u)
    } else if let Ok(days) = t.parse::<i32>() {
        (days, "day")
    } else {
        match t.split_once(' ') {
            Some((num, u)) if num.parse::<i32>().is_ok() => {
                (num.parse().map_err(|_| bad())?, u.trim())
            }
            _ => (1, t.as_str()),
        }
    };
    let days = n.checked_mul(unit(u).ok_or_else(bad)?).ok_or_else(bad)?;
    (1..=3660).contains(&days).then_some(days).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    #[test]
    fn billing_periods_read_as_exports_write_them() {
        for (v, d) in [
            ("month", 30),
            ("Monthly", 30),
            ("3 months", 90),
            ("quarterly", 91),
            ("year", 365),
            ("Annual", 365),
            ("12-months", 360),
            ("P1M", 30),
            ("P1Y", 365),
            ("P2W", 14),
            ("30", 30),
            ("weekly", 7),
        ] {
            assert_eq!(term_days(v), Ok(d), "{v}");
        }
        for v in ["fortnightly", "0", "-1 month", "P", "999999 years"] {
            let e = term_days(v).unwrap_err();
            assert!(e.contains(&format!("'{v}' is not a billing period")), "{e}");
        }
    }

    #[test]
    fn days_are_dates_in_json_and_day_numbers_still_read() {
        let d = Day::ymd(2026, 12, 1);
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"2026-12-01\"");
        assert_eq!(serde_json::from_str::<Day>("\"2026-12-01\"").unwrap(), d);
        assert_eq!(serde_json::from_str::<Day>(&d.0.to_string()).unwrap(), d);
        assert!(serde_json::from_str::<Day>("\"yesterday\"").is_err());
        assert!(serde_json::from_str::<Day>("99999999999").is_err());
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_forms_exports_use() {
        assert_eq!(Day::parse("1970-01-01").unwrap(), Day(0));
        assert_eq!(Day::parse("2024-02-29").unwrap().to_string(), "2024-02-29");
        assert!(Day::parse("2023-02-29").is_err());
        let t = Timestamp::parse("2024-03-01T09:30:15.5Z").unwrap();
        assert_eq!(t.to_string(), "2024-03-01T09:30:15.500Z");
        assert_eq!(
            Timestamp::parse("2024-03-01 09:30:15+02:00")
                .unwrap()
                .to_string(),
            "2024-03-01T07:30:15Z"
        );
        assert_eq!(
            Timestamp::parse("2024-03-01T00:30:00-01:00")
                .unwrap()
                .day()
                .to_string(),
            "2024-03-01"
        );
        assert_eq!(
            Timestamp::parse("2024-03-01T23:30:00-01:00")
                .unwrap()
                .day()
                .to_string(),
            "2024-03-02"
        );
        assert_eq!(
            Timestamp::parse("1709285415").unwrap().to_string(),
            "2024-03-01T09:30:15Z"
        );
        assert_eq!(
            Timestamp::parse("1709285415123").unwrap().0,
            1_709_285_415_123
        );
        let e = Timestamp::parse("03/01/2024").unwrap_err();
        assert!(e.to_string().contains("03/01/2024"), "{e}");
        assert!(Timestamp::parse("2024-03-01T25:00:00Z").is_err());
        for bad in ["+99:99", "+24:00", "-12:60", "+0960"] {
            let e = Timestamp::parse(&format!("2024-03-01T10:00:00{bad}")).unwrap_err();
            assert!(e.to_string().contains("offset out of range"), "{e}");
        }
        assert!(Timestamp::parse("2024-03-01T10:00:00+23:59").is_ok());
        assert!(Timestamp::parse("2024-03-01T10:00:00-14:00").is_ok());
    }

    fn utc(s: &str) -> String {
        Timestamp::parse(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .to_string()
    }

    #[test]
    fn reads_the_dates_people_export() {
        // Warehouses: BigQuery, Snowflake, PostgreSQL, and a space before the offset.
        assert_eq!(utc("2024-03-05 14:22:00 UTC"), "2024-03-05T14:22:00Z");
        assert_eq!(utc("2024-03-05 14:22:00.000 -0500"), "2024-03-05T19:22:00Z");
        assert_eq!(utc("2024-03-05 14:22:00-05"), "2024-03-05T19:22:00Z");
        assert_eq!(utc("2024-03-05 14:22:00 +0100"), "2024-03-05T13:22:00Z");
        assert_eq!(utc("2024-03-05T14:22:00+05:30"), "2024-03-05T08:52:00Z");
        // Decimal epochs.
        assert_eq!(utc("1796099400000.0"), "2026-12-01T04:30:00Z");
        assert_eq!(utc("1709285415.25"), "2024-03-01T09:30:15.250Z");
        // Month names, short and long, either order, with a clock of either kind.
        assert_eq!(utc("Mar 5, 2024"), "2024-03-05T00:00:00Z");
        assert_eq!(utc("March 5, 2024"), "2024-03-05T00:00:00Z");
        assert_eq!(utc("5 Mar 2024"), "2024-03-05T00:00:00Z");
        assert_eq!(utc("5 March 2024"), "2024-03-05T00:00:00Z");
        assert_eq!(utc("05-Mar-2024"), "2024-03-05T00:00:00Z");
        assert_eq!(utc("Sept. 5th, 2024"), "2024-09-05T00:00:00Z");
        assert_eq!(utc("November 30, 2026 13:00"), "2026-11-30T13:00:00Z");
        assert_eq!(utc("Mar 5, 2024 2:22 PM"), "2024-03-05T14:22:00Z");
        assert_eq!(utc("Mar 5, 2024, 12:05 am"), "2024-03-05T00:05:00Z");
        assert_eq!(utc("Tue, 05 Mar 2024 14:22:00 GMT"), "2024-03-05T14:22:00Z");
        assert_eq!(
            utc("Tuesday, March 5, 2024 2:22:01 PM -05:00"),
            "2024-03-05T19:22:01Z"
        );
        // Dotted dates are day first.
        assert_eq!(utc("05.03.2024"), "2024-03-05T00:00:00Z");
        assert_eq!(utc("05.03.2024 14:22"), "2024-03-05T14:22:00Z");
        assert_eq!(utc("2024/03/05"), "2024-03-05T00:00:00Z");
        assert_eq!(Day::parse("Mar 5, 2024").unwrap(), Day::ymd(2024, 3, 5));
        assert_eq!(Day::parse("05.03.2024").unwrap(), Day::ymd(2024, 3, 5));
        // Impossible or half-written values are still refused.
        for bad in [
            "Feb 30, 2024",
            "31.04.2024",
            "Mar 5",
            "Marc 5, 2024",
            "Mar 5, 24",
            "13:00 PM",
            "Mar 5, 2024 13:00 PM",
            "Mar 5, 2024 0:30 AM",
            "Mar 5, 2024 2:2",
            "5 Mar 2024 noon",
            "1.5.",
            "12.",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slash_dates_need_a_day_order() {
        let e = Timestamp::parse("03/05/2024").unwrap_err();
        assert!(e.to_string().contains("day_order"), "{e}");
        assert!(e.to_string().contains("'03/05/2024'"), "{e}");
        let mdy = TimeReading {
            day_order: Some(DayOrder::Mdy),
            ..TimeReading::DEFAULT
        };
        let dmy = TimeReading {
            day_order: Some(DayOrder::Dmy),
            ..TimeReading::DEFAULT
        };
        let with = |s: &str, r: &TimeReading| Timestamp::parse_with(s, r).unwrap().to_string();
        assert_eq!(with("03/05/2024", &mdy), "2024-03-05T00:00:00Z");
        assert_eq!(with("03/05/2024", &dmy), "2024-05-03T00:00:00Z");
        assert_eq!(with("3/5/2024 2:22 PM", &mdy), "2024-03-05T14:22:00Z");
        assert_eq!(with("3/5/2024 14:22:09", &dmy), "2024-05-03T14:22:09Z");
        assert!(Timestamp::parse_with("13/05/2024", &mdy).is_err());
        assert!(Timestamp::parse_with("3/5/24", &mdy).is_err());
        assert_eq!(
            Day::parse_with("12/31/2024", &mdy).unwrap(),
            Day::ymd(2024, 12, 31)
        );
        assert!(DayOrder::parse("ymd").unwrap_err().contains("mdy"));
    }

    #[test]
    fn times_without_an_offset_are_in_the_reading_time_zone() {
        let cet = TimeReading {
            time_zone: UtcOffset::parse("+01:00").unwrap(),
            ..TimeReading::DEFAULT
        };
        let with = |s: &str| Timestamp::parse_with(s, &cet).unwrap().to_string();
        assert_eq!(with("2024-03-05 14:22:00"), "2024-03-05T13:22:00Z");
        assert_eq!(with("November 30, 2026 13:00"), "2026-11-30T12:00:00Z");
        // A stated offset wins; a date alone is that calendar day; epochs are UTC by definition.
        assert_eq!(with("2024-03-05 14:22:00 UTC"), "2024-03-05T14:22:00Z");
        assert_eq!(with("2024-03-05T14:22:00-02:00"), "2024-03-05T16:22:00Z");
        assert_eq!(with("2024-03-05"), "2024-03-05T00:00:00Z");
        assert_eq!(with("Mar 5, 2024"), "2024-03-05T00:00:00Z");
        assert_eq!(with("1709285415"), "2024-03-01T09:30:15Z");
        assert_eq!(UtcOffset::parse("-0530").unwrap(), UtcOffset(-330));
        assert_eq!(UtcOffset::parse("UTC").unwrap(), UtcOffset(0));
        assert_eq!(UtcOffset(-330).to_string(), "-05:30");
        assert!(UtcOffset::parse("+19:00").is_err());
        assert!(UtcOffset::parse("Europe/Paris").is_err());
        let r: TimeReading =
            serde_json::from_str(r#"{"day_order": "dmy", "time_zone": "+02:00"}"#).unwrap();
        assert_eq!(r.day_order, Some(DayOrder::Dmy));
        assert_eq!(r.time_zone, UtcOffset(120));
    }

    #[test]
    fn errors_quote_the_whole_value() {
        let e = Timestamp::parse("1796099400000.0x").unwrap_err();
        assert_eq!(e.value, "1796099400000.0x");
        let e = Timestamp::parse("2024-03-05T14:22:00 Europe/Paris").unwrap_err();
        assert_eq!(e.value, "2024-03-05T14:22:00 Europe/Paris");
        let e = Timestamp::parse("2024-13-05T14:22:00Z").unwrap_err();
        assert_eq!(e.value, "2024-13-05T14:22:00Z");
        let long = "9".repeat(150) + &"x".repeat(150);
        let e = Timestamp::parse(&long).unwrap_err();
        assert_eq!(e.value.chars().count(), 201);
        assert!(e.value.ends_with('…'));
    }

    #[test]
    fn huge_numbers_are_errors_not_overflows() {
        // Up to eleven digits are seconds, more are milliseconds; beyond i64 is an error, never a wrap.
        assert!(Timestamp::parse("99999999999999999999").is_err());
        assert_eq!(Timestamp::parse("9223372036854775807").unwrap().0, i64::MAX);
        assert_eq!(Timestamp::from_unix_seconds(i64::MAX / 10), None);
        assert_eq!(Timestamp(i64::MAX).day(), Day(1 << 30));
        assert!(Timestamp(i64::MAX).to_string().contains("ms from 1970"));
        assert_eq!(Timestamp(i64::MIN).day(), Day(-(1 << 30)));
    }

    #[test]
    fn the_event_window_keeps_plausible_times_only() {
        let w = EventTimeWindow::default();
        let received = Timestamp::parse("2026-03-10T12:00:00Z").unwrap();
        let ok = |s: &str| w.check(Timestamp::parse(s).unwrap(), received).is_ok();
        assert!(ok("2000-01-01"));
        assert!(ok("2026-03-11T11:59:59Z"));
        assert!(!ok("1999-12-31T23:59:59Z"));
        assert!(!ok("2026-03-11T12:00:01Z"));
        assert!(!ok("9999-12-31"));
        assert!(!ok("0000-01-01"));
        assert!(!ok("1970-01-01"));
        assert!(w.check(Timestamp(i64::MAX), received).is_err());
        assert!(w.check(Timestamp(i64::MIN), received).is_err());
        let e = w
            .check(Timestamp::parse("9999-12-31").unwrap(), received)
            .unwrap_err();
        assert!(e.to_string().contains("9999-12-31"), "{e}");
        assert!(e.to_string().contains("max_ahead_hours"), "{e}");
        assert!(EventTimeWindow::ANY
            .check(Timestamp(i64::MAX), received)
            .is_ok());
        assert!(EventTimeWindow::ANY
            .check(Timestamp(i64::MIN), received)
            .is_ok());
        let w: EventTimeWindow =
            serde_json::from_str(r#"{"earliest": "1990-01-01", "max_ahead_hours": 2}"#).unwrap();
        assert_eq!(w.earliest, Day::ymd(1990, 1, 1));
        assert_eq!(w.max_ahead_hours, 2);
    }

    #[test]
    fn weekdays() {
        assert_eq!(Day::ymd(2024, 3, 4).weekday(), 0); // a Monday
        assert_eq!(Day::ymd(1970, 1, 4).weekday(), 6); // a Sunday
    }

    proptest! {
        #[test]
        fn civil_round_trips(z in -1_000_000i32..1_000_000) {
            let (y, m, d) = civil_from_days(z);
            prop_assert_eq!(days_from_civil(y, m, d), z);
        }

        #[test]
        fn display_parse_round_trips(ms in -10_000_000_000_000i64..10_000_000_000_000) {
            let t = Timestamp(ms);
            prop_assert_eq!(Timestamp::parse(&t.to_string()).unwrap(), t);
        }
    }
}

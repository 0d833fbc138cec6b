//! UTC calendar days and instants.
//!
//! A [`Day`] counts days since 1970-01-01 and a [`Timestamp`] counts milliseconds since the Unix epoch, both in
//! UTC. Parsing is written by hand because it runs once per imported event (tens of millions of times per file):
//! it accepts `YYYY-MM-DD`, RFC 3339 / ISO 8601 date-times with an optional fraction and offset
//! (`2024-03-01T09:30:00Z`, `2024-03-01 09:30:00+02:00`) and integer Unix seconds or milliseconds.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A UTC calendar day, as days since 1970-01-01.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Day(pub i32);

/// A UTC instant, as milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

/// Milliseconds in one day.
pub const MS_PER_DAY: i64 = 86_400_000;

/// The furthest day from 1970 that [`Timestamp::day`] returns (calendar arithmetic stays inside `i32`).
const DAY_LIMIT: i64 = 1 << 30;

/// Why a date or time could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a date or time: {why}; use YYYY-MM-DD, an RFC 3339 time such as 2024-03-01T09:30:00Z, or Unix seconds")]
pub struct TimeError {
    /// The text that was given (cut to 40 characters).
    pub value: String,
    /// What was wrong with it.
    pub why: &'static str,
}

fn err(value: &[u8], why: &'static str) -> TimeError {
    let s = String::from_utf8_lossy(value);
    TimeError {
        value: s.chars().take(40).collect(),
        why,
    }
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

fn parse_date(b: &[u8]) -> Result<Day, TimeError> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(err(b, "expected YYYY-MM-DD"));
    }
    let (y, m, d) = match (digits(&b[0..4]), digits(&b[5..7]), digits(&b[8..10])) {
        (Some(y), Some(m), Some(d)) => (y as i32, m, d),
        _ => return Err(err(b, "expected digits in YYYY-MM-DD")),
    };
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return Err(err(b, "no such calendar day"));
    }
    Ok(Day(days_from_civil(y, m, d)))
}

impl Day {
    /// Parses `YYYY-MM-DD`; a full date-time is accepted and cut to its UTC day.
    pub fn parse(s: &str) -> Result<Day, TimeError> {
        let b = s.trim().as_bytes();
        if b.len() == 10 {
            parse_date(b)
        } else {
            Timestamp::parse(s).map(|t| t.day())
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

impl Timestamp {
    /// Parses a date, an RFC 3339 date-time (a missing offset means UTC) or Unix seconds/milliseconds.
    pub fn parse(s: &str) -> Result<Timestamp, TimeError> {
        Self::parse_bytes(s.trim().as_bytes())
    }

    /// [`Timestamp::parse`] on raw bytes (the import hot path).
    pub fn parse_bytes(b: &[u8]) -> Result<Timestamp, TimeError> {
        if b.is_empty() {
            return Err(err(b, "it is empty"));
        }
        if b.iter().all(|c| c.is_ascii_digit()) {
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
        if b.len() < 10 {
            return Err(err(b, "too short"));
        }
        let day = parse_date(&b[..10])?;
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
                return Err(err(b, "empty fraction of a second"));
            }
            for _ in (i - start)..3 {
                frac *= 10;
            }
            ms += frac;
        }
        let rest = &b[i..];
        match rest {
            [] | [b'Z'] | [b'z'] => {}
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2]
            | [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
                let oh = digits(&[*h1, *h2]).ok_or_else(|| err(b, "bad offset"))? as i64;
                let om = digits(&[*m1, *m2]).ok_or_else(|| err(b, "bad offset"))? as i64;
                if oh > 23 || om > 59 {
                    return Err(err(
                        b,
                        "time zone offset out of range; use -23:59 to +23:59",
                    ));
                }
                let off = (oh * 60 + om) * 60_000;
                ms -= if *sign == b'+' { off } else { -off };
            }
            _ => return Err(err(b, "unreadable time zone offset; use Z or +HH:MM")),
        }
        Ok(Timestamp(ms))
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

#[cfg(test)]
mod tests {
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

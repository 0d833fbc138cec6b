//! Cron expressions (`minute hour day-of-month month day-of-week`, with `*`, lists `1,15`, ranges `1-5` and
//! steps `*/15`, `0-30/10`; day of week 0–7 with 0 and 7 Sunday), read in a time zone: the next time one
//! fires after a given instant, daylight-saving changes included (a time that does not exist that day is run
//! at the first instant after the gap; one that happens twice runs at its first occurrence).

use bellwether_core::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;

/// A parsed cron expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    text: String,
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    /// Day of month and day of week both restricted: either matches (as cron has it).
    either_day: bool,
}

/// Sets the bits of one field (`*`, `5`, `1-5`, `*/15`, `10-40/10`, lists of these) within `lo..=hi`.
fn field(text: &str, name: &str, lo: u32, hi: u32) -> Result<u64, String> {
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                    format!("the {name} step '{s}' is not a whole number above 0")
                })?;
                (r, step)
            }
            None => (part, 1),
        };
        let (a, b) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (num(a, name, lo, hi)?, num(b, name, lo, hi)?)
        } else {
            let a = num(range, name, lo, hi)?;
            (a, if step > 1 { hi } else { a })
        };
        if a > b {
            return Err(format!("the {name} range '{range}' runs backwards"));
        }
        let mut v = a;
        while v <= b {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(bits)
}

fn num(s: &str, name: &str, lo: u32, hi: u32) -> Result<u32, String> {
    s.parse::<u32>()
        .ok()
        .filter(|v| (lo..=hi).contains(v))
        .ok_or_else(|| format!("the {name} '{s}' is not a number from {lo} to {hi}"))
}

impl Cron {
    /// Reads an expression; the error names the field and what it accepts.
    pub fn parse(text: &str) -> Result<Cron, String> {
        let f: Vec<&str> = text.split_whitespace().collect();
        if f.len() != 5 {
            return Err(format!(
                "'{text}' has {} fields; a schedule has five: minute hour day-of-month month day-of-week (for example '0 6 * * 1-5')",
                f.len()
            ));
        }
        let bad = |e: String| format!("'{text}': {e}");
        let weekdays = field(f[4], "day of week", 0, 7).map_err(bad)?;
        Ok(Cron {
            text: text.to_string(),
            minutes: field(f[0], "minute", 0, 59).map_err(bad)?,
            hours: field(f[1], "hour", 0, 23).map_err(bad)? as u32,
            days: field(f[2], "day of month", 1, 31).map_err(bad)? as u32,
            months: field(f[3], "month", 1, 12).map_err(bad)? as u16,
            // 7 is Sunday too.
            weekdays: ((weekdays | (weekdays >> 7)) & 0x7F) as u8,
            either_day: f[2] != "*" && f[4] != "*",
        })
    }

    /// The expression as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    fn day_matches(&self, d: Date) -> bool {
        let dom = self.days & (1 << d.day()) != 0;
        let dow = self.weekdays & (1 << d.weekday().to_sunday_zero_offset()) != 0;
        if self.either_day {
            dom || dow
        } else {
            dom && dow
        }
    }

    /// The first time after `after` that the expression fires in `tz` (none within five years: an expression
    /// such as `0 0 31 2 *` that never does).
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let start = jiff::Timestamp::from_millisecond(after.0)
            .ok()?
            .to_zoned(tz.clone());
        let mut date = start.date();
        for _ in 0..(5 * 366) {
            if self.months & (1 << date.month()) != 0 && self.day_matches(date) {
                for h in 0..24i8 {
                    if self.hours & (1 << h) == 0 {
                        continue;
                    }
                    for m in 0..60i8 {
                        if self.minutes & (1 << m) == 0 {
                            continue;
                        }
                        let dt = DateTime::from_parts(date, Time::new(h, m, 0, 0).ok()?);
                        let at = tz
                            .to_ambiguous_zoned(dt)
                            .compatible()
                            .ok()?
                            .timestamp()
                            .as_millisecond();
                        if at > after.0 {
                            return Some(Timestamp(at));
                        }
                    }
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }
}

/// Reads a time zone name (`UTC`, `Europe/Berlin`) from the system's time zone database.
pub fn time_zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name).map_err(|e| {
        format!("the time zone '{name}' is unknown ({e}); use an IANA name such as UTC, Europe/Berlin or America/New_York")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str, tz: &TimeZone) -> Timestamp {
        let dt: DateTime = s.parse().unwrap();
        Timestamp(
            tz.to_ambiguous_zoned(dt)
                .compatible()
                .unwrap()
                .timestamp()
                .as_millisecond(),
        )
    }

    #[test]
    fn fields_lists_ranges_and_steps_read_as_cron_has_them() {
        let utc = TimeZone::UTC;
        let c = Cron::parse("*/15 9-17 * * 1-5").unwrap();
        // Saturday 2026-12-05 12:00 → Monday 09:00.
        assert_eq!(
            c.next_after(at("2026-12-05T12:00", &utc), &utc),
            Some(at("2026-12-07T09:00", &utc))
        );
        assert_eq!(
            c.next_after(at("2026-12-07T09:00", &utc), &utc),
            Some(at("2026-12-07T09:15", &utc))
        );
        assert_eq!(
            c.next_after(at("2026-12-07T17:45", &utc), &utc),
            Some(at("2026-12-08T09:00", &utc))
        );
        // Sunday as 7, and day-of-month or day-of-week when both are given.
        let sunday = Cron::parse("0 8 * * 7").unwrap();
        assert_eq!(
            sunday.next_after(at("2026-12-01T00:00", &utc), &utc),
            Some(at("2026-12-06T08:00", &utc))
        );
        let either = Cron::parse("0 0 1 * 1").unwrap();
        assert_eq!(
            either.next_after(at("2026-12-01T00:00", &utc), &utc),
            Some(at("2026-12-07T00:00", &utc))
        );
        assert_eq!(
            Cron::parse("0 0 31 2 *")
                .unwrap()
                .next_after(at("2026-01-01T00:00", &utc), &utc),
            None
        );
    }

    #[test]
    fn times_are_read_in_the_zone_across_daylight_saving() {
        let berlin = time_zone("Europe/Berlin").unwrap();
        let c = Cron::parse("30 2 * * *").unwrap();
        // 2027-03-28: clocks go from 02:00 to 03:00, so 02:30 does not exist and runs at 03:30 local (01:30 UTC).
        let next = c
            .next_after(at("2027-03-27T12:00", &berlin), &berlin)
            .unwrap();
        assert_eq!(next, at("2027-03-28T03:30", &berlin));
        assert_eq!(next, at("2027-03-28T01:30", &TimeZone::UTC));
        // In winter 06:00 Berlin is 05:00 UTC.
        let six = Cron::parse("0 6 * * *").unwrap();
        assert_eq!(
            six.next_after(at("2026-12-01T00:00", &TimeZone::UTC), &berlin),
            Some(at("2026-12-01T05:00", &TimeZone::UTC))
        );
    }

    #[test]
    fn bad_expressions_say_which_field_and_what_it_takes() {
        let e = Cron::parse("0 6 * *").unwrap_err();
        assert!(
            e.contains("has 4 fields") && e.contains("minute hour"),
            "{e}"
        );
        let e = Cron::parse("0 25 * * *").unwrap_err();
        assert!(e.contains("hour '25'") && e.contains("0 to 23"), "{e}");
        let e = Cron::parse("*/0 * * * *").unwrap_err();
        assert!(e.contains("minute step"), "{e}");
        let e = Cron::parse("0 9-5 * * *").unwrap_err();
        assert!(e.contains("backwards"), "{e}");
        assert!(time_zone("Mars/Olympus").unwrap_err().contains("IANA"));
    }
}

//! Working days: weekends and public holidays, so that a quiet Saturday or Christmas Day is never read as a
//! drop in usage.
//!
//! The default is Saturday and Sunday off and the US federal holidays (with the federal "observed" rule for
//! fixed dates) plus the Friday after Thanksgiving, Christmas Eve, 26 December and New Year's Eve. Settings can
//! name other weekend days, add dates, or turn the built-in list off:
//!
//! ```toml
//! [calendar]
//! weekend = ["fri", "sat"]
//! builtin_holidays = "none"          # or "us" (default)
//! holidays = ["2026-04-14", "2026-05-01"]
//! ```

use bellwether_core::time::days_from_civil;
use bellwether_core::Day;
use serde::Deserialize;
use std::collections::BTreeSet;

/// Calendar settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalendarConfig {
    /// Weekend days, as three-letter English names.
    pub weekend: Vec<String>,
    /// `us` or `none`.
    pub builtin_holidays: String,
    /// Extra holidays (`YYYY-MM-DD`).
    pub holidays: Vec<String>,
}

impl Default for CalendarConfig {
    fn default() -> Self {
        CalendarConfig {
            weekend: vec!["sat".into(), "sun".into()],
            builtin_holidays: "us".into(),
            holidays: Vec::new(),
        }
    }
}

/// Which days are working days.
#[derive(Clone, Debug)]
pub struct Calendar {
    weekend: [bool; 7],
    us: bool,
    extra: BTreeSet<Day>,
}

impl Default for Calendar {
    fn default() -> Self {
        Calendar {
            weekend: [false, false, false, false, false, true, true],
            us: true,
            extra: BTreeSet::new(),
        }
    }
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Calendar {
    /// Builds a calendar from settings, naming the bad value on error.
    pub fn from_config(c: &CalendarConfig) -> Result<Calendar, String> {
        let mut weekend = [false; 7];
        for w in &c.weekend {
            let i = DAYS
                .iter()
                .position(|d| w.to_ascii_lowercase().starts_with(d))
                .ok_or_else(|| format!("calendar.weekend: '{w}' is not a day; use mon, tue, wed, thu, fri, sat or sun"))?;
            weekend[i] = true;
        }
        let us = match c.builtin_holidays.as_str() {
            "us" => true,
            "none" => false,
            other => {
                return Err(format!(
                    "calendar.builtin_holidays: '{other}' is not known; use \"us\" or \"none\""
                ))
            }
        };
        let extra = c
            .holidays
            .iter()
            .map(|h| Day::parse(h).map_err(|e| format!("calendar.holidays: {e}")))
            .collect::<Result<_, _>>()?;
        Ok(Calendar { weekend, us, extra })
    }

    /// Whether `d` is a working day.
    pub fn is_workday(&self, d: Day) -> bool {
        !self.weekend[d.weekday() as usize] && !self.is_holiday(d)
    }

    /// Whether `d` is a public holiday.
    pub fn is_holiday(&self, d: Day) -> bool {
        self.extra.contains(&d) || (self.us && us_holiday(d))
    }
}

fn us_holiday(d: Day) -> bool {
    let (y, m, dom) = d.civil();
    let wd = d.weekday();
    for (fm, fd) in [(1, 1), (6, 19), (7, 4), (11, 11), (12, 25)] {
        let h = Day(days_from_civil(y, fm, fd));
        let observed = match h.weekday() {
            5 => h.plus(-1),
            6 => h.plus(1),
            _ => h,
        };
        if d == h || d == observed {
            return true;
        }
    }
    // New Year's Day of next year observed on 31 December is covered by the 31 December rule below.
    let nth = |n: u32, want: u32| wd == want && (dom - 1) / 7 + 1 == n;
    match m {
        1 => nth(3, 0),
        2 => nth(3, 0),
        5 => wd == 0 && dom + 7 > 31,
        9 => nth(1, 0),
        10 => nth(2, 0),
        11 => nth(4, 3) || (wd == 4 && (23..=29).contains(&dom)),
        12 => matches!(dom, 24 | 26 | 31),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_holidays_and_weekends() {
        let c = Calendar::default();
        assert!(!c.is_workday(Day::ymd(2025, 12, 25)));
        assert!(!c.is_workday(Day::ymd(2025, 11, 27)), "Thanksgiving 2025");
        assert!(!c.is_workday(Day::ymd(2025, 11, 28)), "the Friday after");
        assert!(
            !c.is_workday(Day::ymd(2026, 7, 3)),
            "4 July 2026 is a Saturday, observed Friday 3 July"
        );
        assert!(!c.is_workday(Day::ymd(2025, 5, 26)), "Memorial Day 2025");
        assert!(!c.is_workday(Day::ymd(2025, 3, 8)), "a Saturday");
        assert!(c.is_workday(Day::ymd(2025, 3, 10)));
        assert!(c.is_workday(Day::ymd(2025, 11, 21)));
        let custom = Calendar::from_config(&CalendarConfig {
            weekend: vec!["fri".into(), "sat".into()],
            builtin_holidays: "none".into(),
            holidays: vec!["2025-03-10".into()],
        })
        .unwrap();
        assert!(
            !custom.is_workday(Day::ymd(2025, 3, 7)) && custom.is_workday(Day::ymd(2025, 3, 9))
        );
        assert!(
            !custom.is_workday(Day::ymd(2025, 3, 10)) && custom.is_workday(Day::ymd(2025, 12, 25))
        );
        let e = Calendar::from_config(&CalendarConfig {
            weekend: vec!["caturday".into()],
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.contains("caturday"));
    }
}

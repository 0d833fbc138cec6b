//! The simulated calendar: the data window, weekends, public holidays and seasonal level.
//!
//! One holiday list serves every region (a simplification): the US federal holidays with the federal
//! "observed" rule for fixed dates (a Saturday holiday is observed on the Friday before, a Sunday one on the
//! Monday after) — New Year's Day, Martin Luther King Jr. Day (third Monday of January), Presidents' Day (third
//! Monday of February), Memorial Day (last Monday of May), Juneteenth (19 June), Independence Day (4 July),
//! Labor Day (first Monday of September), Columbus Day (second Monday of October), Veterans Day (11 November),
//! Thanksgiving (fourth Thursday of November) — plus the Friday after Thanksgiving, Christmas Eve, Boxing Day
//! (26 December) and New Year's Eve as they fall. Working days between Christmas and New Year run at a reduced
//! level, and each month carries a mild seasonal factor (a summer dip in July and August, a December dip).

use bellwether_core::time::{days_from_civil, Day};

/// What kind of day a day is for product usage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayKind {
    /// Monday to Friday, not a holiday.
    Workday,
    /// Saturday or Sunday.
    Weekend,
    /// A public holiday on a weekday.
    Holiday,
}

/// Usage level on a holiday, relative to a workday.
pub const HOLIDAY_LEVEL: f64 = 0.3;
/// Usage level on working days between Christmas and New Year.
const YEAR_END_LULL: f64 = 0.6;
/// Seasonal usage level by month (January first).
const MONTH_LEVEL: [f64; 12] = [
    1.0, 1.02, 1.03, 1.0, 1.0, 0.97, 0.92, 0.88, 1.02, 1.04, 1.0, 0.94,
];

/// Is `d` one of the listed public holidays (weekday observances included)?
pub fn is_holiday(d: Day) -> bool {
    let (y, m, dom) = d.civil();
    let wd = d.weekday();
    let nth_weekday = |n: u32, want: u32| wd == want && (dom - 1) / 7 + 1 == n;
    let last_weekday_of_may = m == 5 && wd == 0 && dom + 7 > 31;
    let fixed = [(1, 1), (6, 19), (7, 4), (11, 11), (12, 25)];
    for (fm, fd) in fixed {
        let h = Day(days_from_civil(y, fm, fd));
        let observed = match h.weekday() {
            5 => h.plus(-1),
            6 => h.plus(1),
            _ => h,
        };
        if d == observed || d == h {
            return true;
        }
    }
    let thanksgiving = m == 11 && nth_weekday(4, 3);
    let black_friday = m == 11 && wd == 4 && (dom.saturating_sub(2)) / 7 + 1 == 4 && dom >= 23;
    matches!((m, dom), (12, 24) | (12, 26) | (12, 31))
        || (m == 1 && nth_weekday(3, 0))
        || (m == 2 && nth_weekday(3, 0))
        || last_weekday_of_may
        || (m == 9 && nth_weekday(1, 0))
        || (m == 10 && nth_weekday(2, 0))
        || thanksgiving
        || black_friday
}

/// The data window with a precomputed kind, level and printed date for each day.
#[derive(Clone, Debug)]
pub struct Calendar {
    /// First day of data.
    pub start: Day,
    /// Last day of data (inclusive).
    pub end: Day,
    kinds: Vec<DayKind>,
    levels: Vec<f64>,
    dates: Vec<[u8; 10]>,
}

impl Calendar {
    /// The calendar of `[start, end]`.
    pub fn new(start: Day, end: Day) -> Calendar {
        let n = (end.0 - start.0 + 1).max(0) as usize;
        let mut kinds = Vec::with_capacity(n);
        let mut levels = Vec::with_capacity(n);
        let mut dates = Vec::with_capacity(n);
        for i in 0..n {
            let d = start.plus(i as i32);
            let (_, m, dom) = d.civil();
            let kind = if d.weekday() >= 5 {
                DayKind::Weekend
            } else if is_holiday(d) {
                DayKind::Holiday
            } else {
                DayKind::Workday
            };
            let mut level = MONTH_LEVEL[m as usize - 1];
            if (m == 12 && dom >= 27) || (m == 1 && dom == 2) {
                level *= YEAR_END_LULL;
            }
            kinds.push(kind);
            levels.push(level);
            let mut buf = [0u8; 10];
            buf.copy_from_slice(d.to_string().as_bytes());
            dates.push(buf);
        }
        Calendar {
            start,
            end,
            kinds,
            levels,
            dates,
        }
    }

    #[inline]
    fn index(&self, d: Day) -> usize {
        debug_assert!(d >= self.start && d <= self.end, "{d} outside the window");
        (d.0 - self.start.0) as usize
    }

    /// The kind of a day inside the window.
    #[inline]
    pub fn kind(&self, d: Day) -> DayKind {
        self.kinds[self.index(d)]
    }

    /// The seasonal level of a day inside the window (1 = an ordinary workday).
    #[inline]
    pub fn level(&self, d: Day) -> f64 {
        self.levels[self.index(d)]
    }

    /// `YYYY-MM-DD` of a day inside the window.
    #[inline]
    pub fn date_bytes(&self, d: Day) -> &[u8; 10] {
        &self.dates[self.index(d)]
    }
}

/// `d` moved by `months` calendar months, the day of month clamped to the target month's length.
pub fn add_months(d: Day, months: i32) -> Day {
    let (y, m, dom) = d.civil();
    let total = y * 12 + (m as i32 - 1) + months;
    let (ny, nm) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
    Day(days_from_civil(ny, nm, dom.min(days_in_month(ny, nm))))
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_the_holidays() {
        let holidays: Vec<String> = (0..366)
            .map(|i| Day::ymd(2025, 1, 1).plus(i))
            .filter(|d| is_holiday(*d))
            .map(|d| d.to_string())
            .collect();
        let want = [
            "2025-01-01",
            "2025-01-20",
            "2025-02-17",
            "2025-05-26",
            "2025-06-19",
            "2025-07-04",
            "2025-09-01",
            "2025-10-13",
            "2025-11-11",
            "2025-11-27",
            "2025-11-28",
            "2025-12-24",
            "2025-12-25",
            "2025-12-26",
            "2025-12-31",
            "2026-01-01",
        ];
        assert_eq!(holidays, want);
        // 4 July 2026 is a Saturday: observed on Friday 3 July.
        assert!(is_holiday(Day::ymd(2026, 7, 3)));
        // Thanksgiving 2026 is 26 November, the Friday after is the 27th.
        assert!(is_holiday(Day::ymd(2026, 11, 26)) && is_holiday(Day::ymd(2026, 11, 27)));
        assert!(!is_holiday(Day::ymd(2026, 11, 19)) && !is_holiday(Day::ymd(2026, 11, 20)));
    }

    #[test]
    fn months_are_added_with_clamping() {
        assert_eq!(add_months(Day::ymd(2024, 1, 31), 1), Day::ymd(2024, 2, 29));
        assert_eq!(add_months(Day::ymd(2024, 3, 15), 12), Day::ymd(2025, 3, 15));
        assert_eq!(
            add_months(Day::ymd(2024, 3, 15), -3),
            Day::ymd(2023, 12, 15)
        );
    }

    #[test]
    fn calendar_kinds() {
        let c = Calendar::new(Day::ymd(2025, 12, 20), Day::ymd(2026, 1, 5));
        assert_eq!(c.kind(Day::ymd(2025, 12, 20)), DayKind::Weekend);
        assert_eq!(c.kind(Day::ymd(2025, 12, 25)), DayKind::Holiday);
        assert_eq!(c.kind(Day::ymd(2025, 12, 29)), DayKind::Workday);
        assert!(c.level(Day::ymd(2025, 12, 29)) < 0.7);
        assert_eq!(c.date_bytes(Day::ymd(2026, 1, 5)), b"2026-01-05");
    }
}

//! The book's current day: the one place that decides which day "today" is, for the daily pass, live
//! re-assessments, imports, scoring and the lists people read. Everything else is handed the day.
//!
//! - A running server, and a book whose data is current (its newest dated fact lies within
//!   [`CURRENT_WITHIN_DAYS`] days of the clock), is assessed as of today's date in UTC by the clock.
//! - A book of past data (files exported from an earlier period) is assessed as of the day after its data ends,
//!   unless `--as-of` names another day.
//! - A book with both uses the later of the two; a book with accounts but no dated data at all (a CRM export
//!   alone) is assessed as of today.
//!
//! The pass over the current day is the book's *current assessment*: it sees every undated value received so
//! far (see [`bellwether_core::history`]). A pass over any other day sees only what was dated before it.

use bellwether_core::Day;
use bellwether_store::{BookSummary, Result, Store};

/// A book whose newest dated fact is at most this many days before today holds current data.
pub const CURRENT_WITHIN_DAYS: i32 = 7;

/// Where the caller's data comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// A running server: the book is live, so today is today by the clock.
    Live,
    /// Commands over imported files: today is the clock's only when the data is current.
    Files,
}

/// A day to assess, and whether it is the book's current day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookDay {
    /// The day (facts before it are read).
    pub day: Day,
    /// Whether this is the book's current day (or later): the assessment then sees undated values received up
    /// to the moment it is made.
    pub current: bool,
}

impl BookDay {
    /// A past day, seen only through what was dated before it (history passes, replays).
    pub fn past(day: Day) -> BookDay {
        BookDay {
            day,
            current: false,
        }
    }
}

/// The book's current day from its summary, for a caller on `clock` whose date is `today`. `None` when the
/// book holds nothing at all.
pub fn current_day(summary: &BookSummary, clock: Clock, today: Day) -> Option<Day> {
    match summary.last_day {
        None => summary.has_accounts.then_some(today),
        Some(last) if clock == Clock::Live || today.0 - last.0 <= CURRENT_WITHIN_DAYS => {
            // Data of today (or dated a little ahead) belongs to today's assessment: never skip past it.
            Some(today.max(last))
        }
        Some(last) => Some(last.plus(1)),
    }
}

/// The day a command or a pass works on: `as_of` when given, else the book's current day (see the module
/// docs). `None` when the book holds nothing and no day was given.
pub fn decide(summary: &BookSummary, clock: Clock, as_of: Option<Day>) -> Option<BookDay> {
    let current = current_day(summary, clock, Day::today());
    let day = as_of.or(current)?;
    Some(BookDay {
        day,
        current: current.is_none_or(|c| day >= c),
    })
}

/// [`decide`] with the summary read from the store.
pub async fn book_day<S: Store + ?Sized>(
    store: &S,
    clock: Clock,
    as_of: Option<Day>,
) -> Result<Option<BookDay>> {
    Ok(decide(&store.book_summary().await?, clock, as_of))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(last: Option<Day>, has_accounts: bool) -> BookSummary {
        BookSummary {
            last_day: last,
            has_accounts,
            ..Default::default()
        }
    }

    #[test]
    fn past_files_end_the_day_after_their_data_and_current_data_is_today() {
        let today = Day::ymd(2026, 12, 1);
        let old = summary(Some(Day::ymd(2026, 10, 31)), true);
        assert_eq!(
            current_day(&old, Clock::Files, today),
            Some(Day::ymd(2026, 11, 1))
        );
        // A running server over the same book: the later of the two.
        assert_eq!(current_day(&old, Clock::Live, today), Some(today));
        let recent = summary(Some(Day::ymd(2026, 11, 26)), true);
        assert_eq!(current_day(&recent, Clock::Files, today), Some(today));
        let today_data = summary(Some(today), true);
        assert_eq!(current_day(&today_data, Clock::Files, today), Some(today));
        // Accounts without dated data (a CRM export alone): today; an empty book: nothing.
        assert_eq!(
            current_day(&summary(None, true), Clock::Files, today),
            Some(today)
        );
        assert_eq!(current_day(&summary(None, false), Clock::Live, today), None);
    }

    #[test]
    fn a_given_day_before_the_current_one_is_a_past_day() {
        let old = summary(Some(Day::ymd(2020, 1, 31)), true);
        let d = decide(&old, Clock::Files, None).unwrap();
        assert_eq!(
            d,
            BookDay {
                day: Day::ymd(2020, 2, 1),
                current: true
            }
        );
        let past = decide(&old, Clock::Files, Some(Day::ymd(2020, 1, 1))).unwrap();
        assert!(!past.current);
    }
}

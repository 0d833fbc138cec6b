//! The judging end of the flow: health scores from point-in-time features, the assessment pass over the
//! whole book, and what a CSM and a leader read every morning.
//!
//! - [`evaluate`]: replays the signal pass over history against known causes and scores it;
//! - [`health`]: the transparent rules health score, component by component, each with its reason;
//! - [`day`]: the book's current day, decided in one place and handed to every pass;
//! - [`assess`]: the re-assessment pass ("these accounts changed", or the whole book): features, health,
//!   detections and signal lifecycle for every account on all cores, stored for the day;
//! - [`signals`]: the signal lifecycle (one signal per condition, cooldowns, resolve, snooze, expire);
//! - [`worklist`]: each CSM's ranked list (ARR × risk, from the one priority function) and the portfolio summary.
#![deny(missing_docs)]

pub mod assess;
pub mod day;
pub mod evaluate;
pub mod health;
pub mod signals;
pub mod worklist;

pub use assess::{assess_book, reassess, AssessOutcome, Engine};
pub use day::{book_day, BookDay, Clock};
pub use health::{HealthConfig, HealthScore};
pub use worklist::{portfolio_summary, priority, worklist, WorklistItem};

/// Formats minor units as a short dollar amount for sentences: `$3.1B`, `$1.2M`, `$48k`, `$900`.
pub fn short_money(minor: i64) -> String {
    let v = minor as f64 / 100.0;
    if v.abs() >= 999_500_000.0 {
        format!("${:.1}B", v / 1e9)
    } else if v.abs() >= 999_500.0 {
        format!("${:.1}M", v / 1e6)
    } else if v.abs() >= 1_000.0 {
        format!("${:.0}k", v / 1e3)
    } else {
        format!("${v:.0}")
    }
}

/// Formats minor units as a dollar amount to three significant figures, for arithmetic a reader checks:
/// `$1.94M`, `$127k`, `$48.2k`, `$900`.
pub fn money3(minor: i64) -> String {
    let v = minor as f64 / 100.0;
    let (scaled, unit) = if v.abs() >= 999_500_000.0 {
        (v / 1e9, "B")
    } else if v.abs() >= 999_500.0 {
        (v / 1e6, "M")
    } else if v.abs() >= 1_000.0 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let decimals = if unit.is_empty() || scaled.abs() >= 99.95 {
        0
    } else if scaled.abs() >= 9.995 {
        1
    } else {
        2
    };
    format!("${scaled:.decimals$}{unit}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn money3_keeps_three_figures() {
        assert_eq!(super::money3(194_000_000), "$1.94M");
        assert_eq!(super::money3(12_700_000), "$127k");
        assert_eq!(super::money3(4_820_000), "$48.2k");
        assert_eq!(super::money3(90_000), "$900");
    }

    #[test]
    fn short_money_scales() {
        assert_eq!(super::short_money(90_000), "$900");
        assert_eq!(super::short_money(4_800_000), "$48k");
        assert_eq!(super::short_money(120_000_000), "$1.2M");
        assert_eq!(super::short_money(308_190_000_000), "$3.1B");
    }
}

//! The judging end of the flow: health scores from point-in-time features, the assessment pass over the
//! whole book, and what a CSM and a leader read every morning.
//!
//! - [`evaluate`]: replays the signal pass over history ([`evaluate::replay`]) and scores it against known
//!   causes;
//! - [`health`]: the transparent rules health score, component by component, each with its reason;
//! - [`day`]: the book's current day, decided in one place and handed to every pass;
//! - [`assess`]: the re-assessment pass ("these accounts changed", or the whole book): features, health,
//!   detections and signal lifecycle for every account on all cores, stored for the day;
//! - [`models`]: what a pass asks of trained models, and the one policy of when to retrain and what to score;
//! - [`money`]: the book's reporting currency and the rates into it;
//! - [`signals`]: the signal lifecycle (one signal per condition, cooldowns, resolve, snooze, expire);
//! - [`worklist`]: each CSM's ranked list (ARR × risk, from the one priority function) and the portfolio summary.
#![deny(missing_docs)]

pub mod assess;
pub mod day;
pub mod evaluate;
pub mod health;
pub mod models;
pub mod money;
pub mod signals;
pub mod worklist;

pub use assess::{
    assess_book, prepare_split_pass, reassess, refresh_currencies, retrain, Alerting,
    AssessOutcome, Decided, Engine, SignalChanges,
};
pub use day::{book_day, BookDay, Clock};
pub use health::{HealthConfig, HealthScore};
pub use models::{ModelKit, ModelPolicy, Models, Scorer};
pub use worklist::{portfolio_summary, priority, worklist, WorklistItem};

/// Formats an amount short for sentences, in its own currency: `$3.1B`, `$1.2M`, `$48k`, `$900`, `¥600k`.
pub fn short_money(m: bellwether_core::Money) -> String {
    let v = m.major();
    let sign = m.currency.symbol();
    if v.abs() >= 999_500_000.0 {
        format!("{sign}{:.1}B", v / 1e9)
    } else if v.abs() >= 999_500.0 {
        format!("{sign}{:.1}M", v / 1e6)
    } else if v.abs() >= 1_000.0 {
        format!("{sign}{:.0}k", v / 1e3)
    } else {
        format!("{sign}{v:.0}")
    }
}

/// Formats an amount to three significant figures with its currency's symbol, for arithmetic a reader checks:
/// `$1.94M`, `$127k`, `$48.2k`, `$900`.
pub fn money3(m: bellwether_core::Money) -> String {
    let v = m.major();
    let sign = m.currency.symbol();
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
    format!("{sign}{scaled:.decimals$}{unit}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn money3_keeps_three_figures() {
        let usd = bellwether_core::Money::usd;
        assert_eq!(super::money3(usd(194_000_000)), "$1.94M");
        assert_eq!(super::money3(usd(12_700_000)), "$127k");
        assert_eq!(super::money3(usd(4_820_000)), "$48.2k");
        assert_eq!(super::money3(usd(90_000)), "$900");
    }

    #[test]
    fn short_money_scales() {
        use bellwether_core::{Currency, Money};
        assert_eq!(super::short_money(Money::usd(90_000)), "$900");
        assert_eq!(super::short_money(Money::usd(4_800_000)), "$48k");
        assert_eq!(super::short_money(Money::usd(120_000_000)), "$1.2M");
        assert_eq!(super::short_money(Money::usd(308_190_000_000)), "$3.1B");
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(
            super::short_money(Money {
                minor: 600_000,
                currency: jpy
            }),
            "¥600k"
        );
    }
}

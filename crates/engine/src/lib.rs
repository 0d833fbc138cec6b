//! The judging end of the flow: health scores from point-in-time features, the assessment pass over the
//! whole book, and what a CSM and a leader read every morning.
//!
//! - [`evaluate`]: replays the signal pass over history against known causes and scores it;
//! - [`health`]: the transparent rules health score, component by component, each with its reason;
//! - [`assess`]: the re-assessment pass ("these accounts changed", or the whole book): features, health,
//!   detections and signal lifecycle for every account on all cores, stored for the day;
//! - [`money`]: the book's reporting currency and the rates into it;
//! - [`signals`]: the signal lifecycle (one signal per condition, cooldowns, resolve, snooze, expire);
//! - [`worklist`]: each CSM's ranked list (ARR × risk proxy) and the portfolio summary.
#![deny(missing_docs)]

pub mod assess;
pub mod evaluate;
pub mod health;
pub mod money;
pub mod signals;
pub mod worklist;

pub use assess::{assess_book, reassess, AssessOutcome, Engine};
pub use health::{HealthConfig, HealthScore};
pub use worklist::{portfolio_summary, worklist, WorklistItem};

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

#[cfg(test)]
mod tests {
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

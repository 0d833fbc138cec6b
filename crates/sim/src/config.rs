//! What a simulated book looks like: its size, seed, window and difficulty settings.
//!
//! [`Difficulty`] carries a `version`: the settings of a version never change once published, so a benchmark
//! run on "version 1, seed 42" means the same book forever. docs/simulator.md lists each version's settings
//! and the figures they produce.

use bellwether_core::time::Day;
use serde::{Deserialize, Serialize};

/// The book to simulate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    /// Number of accounts.
    pub accounts: usize,
    /// Seed: the same configuration and seed always give byte-identical files.
    pub seed: u64,
    /// Last day of data, inclusive.
    pub end: Day,
    /// Days of history, ending with `end`.
    pub history_days: i32,
    /// Write `daily_metrics.csv` (aggregated per account, day and metric) instead of raw `events.csv`.
    pub daily_metrics: bool,
    /// How hard the book is to read.
    pub difficulty: Difficulty,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            accounts: 5000,
            seed: 42,
            end: Day::ymd(2026, 10, 31),
            history_days: 730,
            daily_metrics: false,
            difficulty: Difficulty::default(),
        }
    }
}

impl SimConfig {
    /// The first day of data.
    pub fn start(&self) -> Day {
        self.end.plus(1 - self.history_days)
    }
}

/// A rate per segment.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SegmentRates {
    /// Small business.
    pub smb: f64,
    /// Mid-market.
    pub mid_market: f64,
    /// Enterprise.
    pub enterprise: f64,
}

impl SegmentRates {
    /// The rate of a segment by index (0 SMB, 1 mid-market, 2 enterprise).
    pub fn get(&self, segment: usize) -> f64 {
        match segment {
            0 => self.smb,
            1 => self.mid_market,
            _ => self.enterprise,
        }
    }
}

/// How often each hidden driver occurs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArchetypeMix {
    /// Annual gross logo churn per segment, every churn archetype included (failed onboarding adds a little for
    /// new accounts).
    pub annual_churn: SegmentRates,
    /// Annual probability that an account expands, per segment.
    pub annual_expansion: SegmentRates,
    /// Share of accounts starting inside the window that fail onboarding (before the segment factor: SMB ×1.2,
    /// mid-market ×0.8, enterprise ×0.5).
    pub failed_onboarding: f64,
    /// Relative weight of slow disengagement among warned churns.
    pub slow_disengagement: f64,
    /// Relative weight of champion loss among warned churns.
    pub champion_loss: f64,
    /// Relative weight of support frustration among warned churns.
    pub support_frustration: f64,
    /// Relative weight of budget trouble among warned churns.
    pub budget_trouble: f64,
    /// Share of warned churn drivers that end in a contraction (renewal for less) instead of a churn.
    pub contraction_share: f64,
    /// Relative weight of seat saturation among expansions.
    pub seat_saturation: f64,
    /// Relative weight of new-team adoption among expansions.
    pub new_team_adoption: f64,
}

/// Difficulty settings. Changing any value makes a new version: record before/after figures in
/// docs/simulator.md.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Difficulty {
    /// Version of these settings (1 = the defaults below).
    pub version: u32,
    /// How often each driver occurs.
    pub archetype_mix: ArchetypeMix,
    /// Depth of every driver's effect (usage decline, ticket spike, QBR answers …); 1 = version 1, 0 = none.
    pub signal_strength: f64,
    /// Amount of day-to-day noise and of harmless dips; 1 = version 1.
    pub noise: f64,
    /// Share of churns that come with no preceding signal.
    pub unwarned_churn_share: f64,
    /// Share of healthy accounts given false-alarm bait: short usage dips, a one-off angry ticket, a champion
    /// replaced quickly, a failed card payment.
    pub false_alarm_share: f64,
}

impl Default for Difficulty {
    fn default() -> Self {
        Difficulty {
            version: 1,
            archetype_mix: ArchetypeMix {
                annual_churn: SegmentRates {
                    smb: 0.28,
                    mid_market: 0.13,
                    enterprise: 0.06,
                },
                annual_expansion: SegmentRates {
                    smb: 0.08,
                    mid_market: 0.18,
                    enterprise: 0.25,
                },
                failed_onboarding: 0.12,
                slow_disengagement: 0.35,
                champion_loss: 0.2,
                support_frustration: 0.2,
                budget_trouble: 0.25,
                contraction_share: 0.2,
                seat_saturation: 0.55,
                new_team_adoption: 0.45,
            },
            signal_strength: 1.0,
            noise: 1.0,
            unwarned_churn_share: 0.15,
            false_alarm_share: 0.3,
        }
    }
}

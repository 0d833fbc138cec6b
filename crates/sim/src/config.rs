//! What a simulated book looks like: its profile, size, seed, window and difficulty settings.
//!
//! [`Difficulty`] and the self-serve settings [`SelfServe`] each carry a `version`: the settings of a version
//! never change once published, so a benchmark run on "version 1, seed 42" means the same book forever.
//! docs/simulator.md lists each version's settings and the figures they produce.

use bellwether_core::time::Day;
use serde::{Deserialize, Serialize};

/// Which kind of business the book belongs to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// A B2B SaaS book: segments, annual and multi-year contracts, CSMs, contacts, tickets, billing,
    /// touchpoints and renewal outcomes.
    #[default]
    B2b,
    /// A young self-serve SaaS: monthly subscriptions only, product usage and subscriptions only, churn driven
    /// by engagement (see [`SelfServe`]).
    SelfServe,
}

impl Profile {
    /// The name used on the command line and in summaries: `b2b` or `self-serve`.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::B2b => "b2b",
            Profile::SelfServe => "self-serve",
        }
    }

    /// Every profile.
    pub const ALL: [Profile; 2] = [Profile::B2b, Profile::SelfServe];
}

impl std::str::FromStr for Profile {
    type Err = String;

    /// Reads `b2b` or `self-serve` (case and `-`/`_` do not matter).
    fn from_str(s: &str) -> Result<Profile, String> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        Profile::ALL
            .into_iter()
            .find(|p| p.as_str() == norm || (norm == "selfserve" && *p == Profile::SelfServe))
            .ok_or_else(|| format!("'{s}' is not a book profile; use b2b or self-serve"))
    }
}

/// The book to simulate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    /// The kind of book; [`SimConfig::self_serve`] gives the self-serve defaults.
    #[serde(default)]
    pub profile: Profile,
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
    /// Settings of the self-serve profile (unused by the B2B book).
    #[serde(default)]
    pub self_serve: SelfServe,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            profile: Profile::B2b,
            accounts: 5000,
            seed: 42,
            end: Day::ymd(2026, 10, 31),
            history_days: 730,
            daily_metrics: false,
            difficulty: Difficulty::default(),
            self_serve: SelfServe::default(),
        }
    }
}

impl SimConfig {
    /// The defaults of the self-serve profile: 15,000 accounts and 165 days of history, otherwise as
    /// [`SimConfig::default`].
    pub fn self_serve() -> SimConfig {
        SimConfig {
            profile: Profile::SelfServe,
            accounts: 15_000,
            history_days: 165,
            ..SimConfig::default()
        }
    }

    /// The defaults of a profile.
    pub fn for_profile(profile: Profile) -> SimConfig {
        match profile {
            Profile::B2b => SimConfig::default(),
            Profile::SelfServe => SimConfig::self_serve(),
        }
    }

    /// The version of the settings that shape this book: [`Difficulty::version`] for the B2B profile,
    /// [`SelfServe::version`] for the self-serve one (which also reads the difficulty's signal strength, noise,
    /// unwarned-churn and false-alarm shares).
    pub fn book_version(&self) -> u32 {
        match self.profile {
            Profile::B2b => self.difficulty.version,
            Profile::SelfServe => self.self_serve.version,
        }
    }

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

/// Settings of the self-serve profile. Changing any value makes a new version: record before/after figures in
/// docs/simulator.md.
///
/// Each account has an engagement level (its usage relative to a typical account) that may fall (a decline),
/// collapse after sign-up (failed onboarding) or rise (an expansion). At each monthly renewal the account
/// churns with a probability that grows with how low its engagement was over the last 28 days and how far it
/// fell from the 28 days before; [`Difficulty::unwarned_churn_share`] adds churn that no engagement explains.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SelfServe {
    /// Version of these settings (1 = the defaults below).
    pub version: u32,
    /// Share of accounts that sign up inside the window (the rest signed up in the year before it).
    pub signup_share: f64,
    /// Mean days before the window that earlier accounts signed up (exponential, at most a year).
    pub prior_tenure_days: f64,
    /// Spread (σ of the logarithm) of accounts' engagement around the typical level 1.
    pub engagement_sigma: f64,
    /// Engagement below which a steady level raises the churn probability; steadier, busier accounts churn
    /// only without warning.
    pub low_engagement: f64,
    /// Share of accounts signing up inside the window whose engagement collapses within weeks.
    pub failed_onboarding: f64,
    /// Monthly probability that an account's engagement starts to decline.
    pub monthly_decline: f64,
    /// Monthly probability that an account's engagement starts to rise towards an upgrade.
    pub monthly_expansion: f64,
    /// Weight of the level term `ln(low_engagement / level)` in the churn hazard.
    pub level_weight: f64,
    /// Weight of the fall term `ln(previous 28 days / last 28 days)` in the churn hazard.
    pub fall_weight: f64,
    /// The highest monthly churn probability engagement can bring.
    pub max_monthly_churn: f64,
    /// Monthly churn that engagement brings to the typical account of the book: unwarned churn is added at
    /// `unwarned_churn_share / (1 − unwarned_churn_share)` times this, so it makes about that share of churns.
    pub reference_monthly_churn: f64,
}

impl Default for SelfServe {
    fn default() -> Self {
        SelfServe {
            version: 1,
            signup_share: 0.6,
            prior_tenure_days: 120.0,
            engagement_sigma: 0.55,
            low_engagement: 0.6,
            failed_onboarding: 0.15,
            monthly_decline: 0.06,
            monthly_expansion: 0.01,
            level_weight: 0.6,
            fall_weight: 0.6,
            max_monthly_churn: 0.6,
            reference_monthly_churn: 0.04,
        }
    }
}

//! The self-serve profile: a young book of monthly subscriptions whose churn follows engagement.
//!
//! Planning gives each account a sign-up day (most inside the window), a plan and seats, and an engagement
//! path: a level around 1 (lognormal) times a factor that stays 1, or declines, collapses after sign-up (failed
//! onboarding) or rises towards an upgrade. At each monthly renewal the account churns with probability
//! `unwarned + max_monthly_churn × (1 − e^−z)`, `z = level_weight × ln⁺(low_engagement / L) + fall_weight ×
//! ln⁺(P / L)`, where `L` is its mean engagement over the 28 days before the renewal and `P` over the 28 days
//! before those: accounts whose usage is low or falling churn more. The archetype in the ground truth says which
//! part of that hazard the churn came from. Usage follows the same path ([`Engagement::level`], raised to the
//! difficulty's signal strength), so the events show what the hazard saw.
//!
//! A self-serve folder holds `accounts.csv` (what a sign-up gives), `events.csv` or `daily_metrics.csv`,
//! `subscriptions.csv` and the ground truth; this module writes the accounts file and the summary figures of an
//! account, the others come from the shared writers.

use crate::account::{AccountStat, Bufs, Ctx, Story};
use crate::book::{self, stream, Archetype, Fate, Plan, Segment, PLANS};
use crate::calendar::add_months;
use crate::config::SimConfig;
use crate::out::{push_day, push_text, push_u64, File};
use crate::rng::{math, Rng};
use bellwether_core::time::Day;

/// Header of a self-serve `accounts.csv`: what a sign-up gives.
pub(crate) const ACCOUNTS_HEADER: &str = "account_id,name,plan,seats,contract_start,valid_from";

/// Price of a seat per month in whole dollars, by plan (starter, team, growth).
const SEAT_PRICE: [i64; 3] = [15, 29, 49];

/// Days after the end of data over which churns and upgrades are still drawn (their truth is `active`).
const HORIZON: i32 = 92;

/// Renewals before this many days into the window decide nothing (an account needs some data to leave).
const FIRST_DECISION: i32 = 14;

/// Days of the engagement windows the churn hazard compares.
const WINDOW: i32 = 28;

/// An account's engagement: its level relative to a typical account, and how it changes.
#[derive(Clone, Debug)]
pub(crate) struct Engagement {
    /// The level before any change (median 1 across accounts).
    pub base: f64,
    /// The day the change begins, if any.
    pub onset: Option<i32>,
    /// Share of the level lost once the change is complete (negative: a rise).
    pub depth: f64,
    /// Days the change takes.
    pub span: i32,
}

impl Engagement {
    /// The engagement on day `d`.
    pub fn level(&self, d: i32) -> f64 {
        let f = match self.onset {
            Some(t) if d > t => {
                let x = ((d - t) as f64 / self.span.max(1) as f64).min(1.0);
                1.0 - self.depth * x * x * (3.0 - 2.0 * x)
            }
            _ => 1.0,
        };
        self.base * f
    }

    /// Mean engagement over `[lo, hi)`.
    fn mean(&self, lo: i32, hi: i32) -> f64 {
        (lo..hi).map(|d| self.level(d)).sum::<f64>() / (hi - lo).max(1) as f64
    }

    /// The probability that engagement brings a churn at the renewal on `rr`, for an account that signed up on
    /// `cs`.
    fn hazard(&self, cfg: &SimConfig, cs: i32, rr: i32) -> f64 {
        let ss = &cfg.self_serve;
        let lo = (rr - WINDOW).max(cs);
        if lo >= rr {
            return 0.0;
        }
        let last = self.mean(lo, rr);
        let plo = (rr - 2 * WINDOW).max(cs);
        // A young account without a week before its last 28 days has no fall to measure.
        let prev = if lo - plo >= 7 {
            self.mean(plo, lo)
        } else {
            last
        };
        let z = ss.level_weight * math::ln(ss.low_engagement / last).max(0.0)
            + ss.fall_weight * math::ln(prev / last).max(0.0);
        ss.max_monthly_churn * (1.0 - math::exp(-z))
    }
}

/// Plans one self-serve account.
pub(crate) fn plan_account(cfg: &SimConfig, idx: usize) -> Plan {
    let ss = &cfg.self_serve;
    let mix = &cfg.difficulty.archetype_mix;
    let start = cfg.start();
    let end = cfg.end;
    let mut r = Rng::stream(cfg.seed, idx as u64, stream::PLAN);
    let who = book::identity(&mut r, idx + 1);
    let tier = r.weighted(&[0.55, 0.35, 0.10]);
    let seats = (r.lognormal_median(2.5, 0.8).round() as u32).clamp(1, 50);
    let arr = 12 * SEAT_PRICE[tier] * seats as i64;
    let history = (end.0 - start.0 + 1).max(1);
    let new = r.bernoulli(ss.signup_share);
    let prior = (r.exponential(ss.prior_tenure_days) as i32).min(365);
    let offset = r.below(history as u64) as i32;
    let contract_start = if new {
        start.plus(offset)
    } else {
        start.plus(-1 - prior)
    };
    let cs = contract_start.0;
    let renewals: Vec<Day> = (1..)
        .map(|k| add_months(contract_start, k))
        .take_while(|d| *d <= end.plus(400))
        .collect();

    // The engagement path.
    let base = r
        .lognormal_median(1.0, ss.engagement_sigma)
        .clamp(0.05, 8.0);
    let life_lo = (cs + 21).max(start.0 - 4 * WINDOW);
    // Changes begin inside the data (or shortly before it), so every story in the ground truth shows in it.
    let life_hi = end.0;
    let months = (life_hi - life_lo).max(0) as f64 / 30.44;
    let failed = new && r.bernoulli(ss.failed_onboarding);
    let decline = r.bernoulli(1.0 - math::exp(-ss.monthly_decline * months));
    let expansion = r.bernoulli(1.0 - math::exp(-ss.monthly_expansion * months));
    let when = life_lo + (r.f64() * (life_hi - life_lo).max(0) as f64) as i32;
    let (depth_u, span_u) = (r.f64(), r.f64());
    let expand_after = r.range_i32(30, 90);
    let seat_saturation = r.weighted(&[mix.seat_saturation, mix.new_team_adoption]) == 0;
    #[derive(PartialEq)]
    enum Path {
        Steady,
        Failed,
        Decline,
        Rise,
    }
    let path = if failed {
        Path::Failed
    } else if decline {
        Path::Decline
    } else if expansion {
        Path::Rise
    } else {
        Path::Steady
    };
    let lerp = |lo: f64, hi: f64, u: f64| lo + (hi - lo) * u;
    let engagement = match path {
        Path::Steady => Engagement {
            base,
            onset: None,
            depth: 0.0,
            span: 1,
        },
        Path::Failed => Engagement {
            base,
            onset: Some(cs + 3 + (span_u * 11.0) as i32),
            depth: lerp(0.7, 0.95, depth_u),
            span: 14 + (span_u * 21.0) as i32,
        },
        Path::Decline => Engagement {
            base,
            onset: Some(when),
            depth: lerp(0.5, 0.9, depth_u),
            span: 21 + (span_u * 54.0) as i32,
        },
        Path::Rise => Engagement {
            base,
            onset: Some(when),
            depth: -lerp(0.3, 0.7, depth_u),
            span: 21 + (span_u * 39.0) as i32,
        },
    };
    let upgrade = if path == Path::Rise {
        renewals
            .iter()
            .copied()
            .find(|d| d.0 >= (when + expand_after).max(start.0 + FIRST_DECISION))
    } else {
        None
    };

    // The monthly renewals: churn, upgrade or stay.
    let q = cfg.difficulty.unwarned_churn_share.clamp(0.0, 0.99);
    let unwarned = q / (1.0 - q) * ss.reference_monthly_churn;
    let mut fate = Fate::Stay;
    let mut decisive = None;
    let mut archetype = None;
    for &rr in renewals
        .iter()
        .filter(|d| d.0 >= start.0 + FIRST_DECISION && d.0 <= end.0 + HORIZON)
    {
        let u = r.f64();
        let engaged = engagement.hazard(cfg, cs, rr.0);
        if u < engaged {
            let by = match path {
                Path::Failed => Archetype::FailedOnboarding,
                Path::Decline if engagement.onset.is_some_and(|t| t < rr.0) => {
                    Archetype::SlowDisengagement
                }
                _ => Archetype::LowEngagement,
            };
            (fate, decisive, archetype) = (Fate::Churn, Some(rr), Some(by));
            break;
        }
        if u < engaged + unwarned {
            (fate, decisive, archetype) = (Fate::Churn, Some(rr), Some(Archetype::UnwarnedChurn));
            break;
        }
        if Some(rr) == upgrade {
            (fate, decisive) = (Fate::Expand, Some(rr));
            break;
        }
    }
    let archetype = archetype.unwrap_or(match path {
        Path::Failed => Archetype::FailedOnboarding,
        Path::Decline => Archetype::SlowDisengagement,
        Path::Rise if seat_saturation => Archetype::SeatSaturation,
        Path::Rise => Archetype::NewTeamAdoption,
        Path::Steady if base < ss.low_engagement => Archetype::LowEngagement,
        Path::Steady => Archetype::Healthy,
    });
    if fate == Fate::Stay && upgrade.is_some() {
        // The upgrade lies beyond the draws: the rise is visible, its renewal not yet.
        decisive = upgrade;
        fate = Fate::Expand;
    }
    let trouble_start = match archetype {
        Archetype::Healthy | Archetype::UnwarnedChurn => None,
        Archetype::LowEngagement => Some(contract_start),
        _ => engagement.onset.map(Day),
    };
    let false_alarm =
        archetype == Archetype::Healthy && r.bernoulli(cfg.difficulty.false_alarm_share);
    Plan {
        idx,
        id: who.id,
        name: who.name,
        domain: who.domain,
        industry: who.industry,
        region: who.region,
        utc_offset_h: who.utc_offset_h,
        segment: Segment::Smb,
        tier,
        seats,
        arr,
        term_months: 1,
        billing_months: 1,
        contract_start,
        renewals,
        archetype,
        fate,
        decisive,
        trouble_start,
        false_alarm,
        owners: Vec::new(),
        owner_draw: 0.0,
        engagement: Some(engagement),
    }
}

/// Writes the account's `accounts.csv` row: its plan and seats on its first day of data and its sign-up day.
pub(crate) fn write_account(story: &Story, bufs: &mut Bufs) {
    let plan = story.plan;
    let p0 = story.period_at(story.first);
    let b = bufs.line(File::Accounts);
    push_text(b, &plan.id);
    b.push(b',');
    push_text(b, &plan.name);
    b.push(b',');
    b.extend_from_slice(PLANS[p0.tier].as_bytes());
    b.push(b',');
    push_u64(b, p0.seats as u64);
    b.push(b',');
    push_day(b, plan.contract_start);
    b.push(b',');
    push_day(b, story.first);
    b.push(b'\n');
}

/// What the summary counts of a self-serve account.
pub(crate) fn stat(ctx: &Ctx, story: &Story) -> AccountStat {
    let plan = story.plan;
    let decided = plan.decisive.is_some_and(|d| d <= ctx.end);
    AccountStat {
        segment: plan.segment,
        archetype: plan.archetype,
        churned: decided && plan.fate == Fate::Churn,
        contracted: false,
        expanded: decided && plan.fate == Fate::Expand,
        renewed: false,
        exposure_days: (story.last.0 - story.first.0 + 1).max(0) as i64,
    }
}

//! The book of accounts: who each account is and which hidden story it lives.
//!
//! Planning is cheap and happens for every account before any file is written: segment, size, contract and
//! renewal dates, the hidden driver (archetype), the day it starts and the renewal it leads to, and the CSM
//! roster with its departures. Everything an account draws comes from its own random stream, so an account's
//! story does not depend on the others. Self-serve books plan their accounts in [`crate::self_serve`] and have
//! no roster.

use crate::calendar::add_months;
use crate::config::{Profile, SimConfig};
use crate::names;
use crate::rng::{math, Rng};
use crate::self_serve::{self, Engagement};
use bellwether_core::time::Day;
use serde::{Deserialize, Serialize};

/// Purposes of the per-account random streams.
pub(crate) mod stream {
    pub const PLAN: u64 = 1;
    pub const USERS: u64 = 2;
    pub const USAGE: u64 = 3;
    pub const TIME: u64 = 4;
    pub const TICKETS: u64 = 5;
    pub const BILLING: u64 = 6;
    pub const TOUCH: u64 = 7;
    pub const COMMERCIAL: u64 = 8;
    /// The book-wide stream (CSM roster), keyed by an account index no account has.
    pub const BOOK_KEY: u64 = u64::MAX;
}

/// A market segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    /// Small business: $1k–15k ARR, tech-touch, monthly or annual.
    Smb,
    /// Mid-market: $15k–100k ARR, annual.
    MidMarket,
    /// Enterprise: $100k–2M ARR, annual or multi-year.
    Enterprise,
}

impl Segment {
    /// Every segment, smallest first.
    pub const ALL: [Segment; 3] = [Segment::Smb, Segment::MidMarket, Segment::Enterprise];

    /// The name written in `accounts.csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            Segment::Smb => "smb",
            Segment::MidMarket => "mid_market",
            Segment::Enterprise => "enterprise",
        }
    }

    /// 0, 1, 2 from smallest to largest.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The hidden driver of an account's story, written in the ground truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Archetype {
    /// No driver; may carry false-alarm bait.
    Healthy,
    /// Usage decays over months.
    SlowDisengagement,
    /// The champion leaves, then usage and engagement slide.
    ChampionLoss,
    /// Ticket spike, SLA breaches, negative text, low CSAT.
    SupportFrustration,
    /// Payment failures, seat reductions, QBRs ignored.
    BudgetTrouble,
    /// A new account never reaches adoption.
    FailedOnboarding,
    /// Churns with no preceding signal.
    UnwarnedChurn,
    /// Active users approach and pass the seats bought.
    SeatSaturation,
    /// A new team starts using the product: new users, invitations, a new feature cluster.
    NewTeamAdoption,
    /// Self-serve: usage stays low from the sign-up on, and each month brings a higher chance of leaving.
    LowEngagement,
}

impl Archetype {
    /// Every archetype.
    pub const ALL: [Archetype; 10] = [
        Archetype::Healthy,
        Archetype::SlowDisengagement,
        Archetype::ChampionLoss,
        Archetype::SupportFrustration,
        Archetype::BudgetTrouble,
        Archetype::FailedOnboarding,
        Archetype::UnwarnedChurn,
        Archetype::SeatSaturation,
        Archetype::NewTeamAdoption,
        Archetype::LowEngagement,
    ];

    /// The name written in the ground truth.
    pub fn as_str(self) -> &'static str {
        match self {
            Archetype::Healthy => "healthy",
            Archetype::SlowDisengagement => "slow_disengagement",
            Archetype::ChampionLoss => "champion_loss",
            Archetype::SupportFrustration => "support_frustration",
            Archetype::BudgetTrouble => "budget_trouble",
            Archetype::FailedOnboarding => "failed_onboarding",
            Archetype::UnwarnedChurn => "unwarned_churn",
            Archetype::SeatSaturation => "seat_saturation",
            Archetype::NewTeamAdoption => "new_team_adoption",
            Archetype::LowEngagement => "low_engagement",
        }
    }

    /// A driver that leads to churn or contraction.
    pub fn is_trouble(self) -> bool {
        matches!(
            self,
            Archetype::SlowDisengagement
                | Archetype::ChampionLoss
                | Archetype::SupportFrustration
                | Archetype::BudgetTrouble
                | Archetype::FailedOnboarding
                | Archetype::LowEngagement
        )
    }

    /// A driver that leads to expansion.
    pub fn is_expansion(self) -> bool {
        matches!(self, Archetype::SeatSaturation | Archetype::NewTeamAdoption)
    }
}

/// What the decisive renewal brings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Renews unchanged every time.
    Stay,
    /// Leaves.
    Churn,
    /// Renews for less.
    Contract,
    /// Renews for more.
    Expand,
}

/// Plan names from cheapest to dearest.
pub(crate) const PLANS: [&str; 5] = ["starter", "team", "growth", "business", "enterprise"];

/// One account's identity, contract and hidden story.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// 0-based position in the book.
    pub idx: usize,
    /// The account id, such as `northwind-17`.
    pub id: String,
    pub name: String,
    pub domain: String,
    pub industry: &'static str,
    pub region: &'static str,
    pub utc_offset_h: i32,
    pub segment: Segment,
    /// Index into [`PLANS`].
    pub tier: usize,
    pub seats: u32,
    /// ARR in whole dollars.
    pub arr: i64,
    /// Contract term: 1 (monthly), 12, 24 or 36 months.
    pub term_months: u32,
    /// Invoice period in months.
    pub billing_months: u32,
    pub contract_start: Day,
    /// Contract anniversaries every `term_months` after the start, up to a year past the end of data.
    pub renewals: Vec<Day>,
    pub archetype: Archetype,
    pub fate: Fate,
    /// The renewal the story leads to (may lie after the end of data).
    pub decisive: Option<Day>,
    /// When the hidden driver begins.
    pub trouble_start: Option<Day>,
    /// Healthy account carrying false-alarm bait.
    pub false_alarm: bool,
    /// Owner from each day on: (day, index into the roster); empty in a self-serve book.
    pub owners: Vec<(Day, usize)>,
    pub owner_draw: f64,
    /// Self-serve: the engagement path that drives usage and churn; `None` in a B2B book.
    pub engagement: Option<Engagement>,
}

impl Plan {
    /// First day the account has data: its start, or the first day of the window.
    pub fn first_day(&self, start: Day) -> Day {
        self.contract_start.max(start)
    }

    /// Churn day, if the account churns.
    pub fn churn_day(&self) -> Option<Day> {
        match self.fate {
            Fate::Churn => self.decisive,
            _ => None,
        }
    }

    /// Last day with activity inside `[start, end]` (the day before a churn).
    pub fn last_day(&self, end: Day) -> Day {
        match self.churn_day() {
            Some(c) => c.plus(-1).min(end),
            None => end,
        }
    }
}

/// A customer success manager of the vendor.
#[derive(Clone, Debug)]
pub(crate) struct Csm {
    pub email: String,
    pub segment: Segment,
    /// Day the CSM leaves; the book moves to `successor`.
    pub leaves: Option<Day>,
    pub successor: Option<usize>,
    weight: f64,
}

/// The planned book.
#[derive(Clone, Debug)]
pub(crate) struct Book {
    pub plans: Vec<Plan>,
    pub csms: Vec<Csm>,
}

/// Plans every account of the book and, for a B2B book, the CSM roster.
pub(crate) fn plan_book(cfg: &SimConfig) -> Book {
    match cfg.profile {
        Profile::B2b => {
            let mut plans: Vec<Plan> = (0..cfg.accounts).map(|i| plan_account(cfg, i)).collect();
            let csms = roster(cfg, &mut plans);
            Book { plans, csms }
        }
        Profile::SelfServe => Book {
            plans: (0..cfg.accounts)
                .map(|i| self_serve::plan_account(cfg, i))
                .collect(),
            csms: Vec::new(),
        },
    }
}

/// An account's name, domain, industry and region.
pub(crate) struct Identity {
    pub id: String,
    pub name: String,
    pub domain: String,
    pub industry: &'static str,
    pub region: &'static str,
    pub utc_offset_h: i32,
}

/// Draws the identity of account number `num` (1-based).
pub(crate) fn identity(r: &mut Rng, num: usize) -> Identity {
    let word = *r.pick(names::COMPANY_WORDS);
    let (industry, suffixes) = *r.pick(names::INDUSTRIES);
    let suffix = *r.pick(suffixes);
    let lower = word.to_ascii_lowercase();
    let weights: Vec<f64> = names::REGIONS.iter().map(|r| r.1).collect();
    let (region, _, offsets) = names::REGIONS[r.weighted(&weights)];
    let utc_offset_h = *r.pick(offsets);
    Identity {
        id: format!("{lower}-{num}"),
        name: format!("{word} {suffix}"),
        domain: format!("{lower}{num}.example"),
        industry,
        region,
        utc_offset_h,
    }
}

fn plan_account(cfg: &SimConfig, idx: usize) -> Plan {
    let start = cfg.start();
    let end = cfg.end;
    let mut r = Rng::stream(cfg.seed, idx as u64, stream::PLAN);
    let segment = Segment::ALL[r.weighted(&[0.72, 0.22, 0.06])];
    let who = identity(&mut r, idx + 1);

    let (median, sigma, lo, hi, pps_lo, pps_hi) = match segment {
        Segment::Smb => (4_500.0, 0.6, 1_000.0, 15_000.0, 300.0, 900.0),
        Segment::MidMarket => (38_000.0, 0.5, 15_000.0, 100_000.0, 500.0, 1_100.0),
        Segment::Enterprise => (230_000.0, 0.75, 100_000.0, 2_000_000.0, 700.0, 1_600.0),
    };
    let arr_draw = r.lognormal_median(median, sigma).clamp(lo, hi);
    let pps = r.uniform(pps_lo, pps_hi);
    let seats = ((arr_draw / pps).round() as u32).max(if segment == Segment::Smb { 2 } else { 10 });
    let arr = ((arr_draw / 10.0).round() as i64) * 10;
    let tier = match segment {
        Segment::Smb => usize::from(!r.bernoulli(0.55)),
        Segment::MidMarket => 2 + usize::from(!r.bernoulli(0.6)),
        Segment::Enterprise => 4 - usize::from(!r.bernoulli(0.85)),
    };
    let term_months = match segment {
        Segment::Smb => [1, 12][r.weighted(&[0.45, 0.55])],
        Segment::MidMarket => [1, 12][r.weighted(&[0.05, 0.95])],
        Segment::Enterprise => [12, 24, 36][r.weighted(&[0.75, 0.15, 0.10])],
    };
    let billing_months = match (segment, term_months) {
        (_, 1) => 1,
        (Segment::Smb, _) => [1, 12][r.weighted(&[0.5, 0.5])],
        (Segment::MidMarket, _) => [1, 3, 12][r.weighted(&[0.15, 0.25, 0.6])],
        (Segment::Enterprise, _) => [3, 12][r.weighted(&[0.3, 0.7])],
    };
    let history = (end.0 - start.0 + 1).max(1);
    let contract_start = if r.bernoulli(0.28) && history > 30 {
        start.plus(r.below((history - 14) as u64) as i32)
    } else {
        start.plus(-1 - (r.exponential(700.0) as i32).min(3650))
    };
    let mut renewals = Vec::new();
    let horizon = end.plus(400);
    for k in 1.. {
        let d = add_months(contract_start, k * term_months as i32);
        if d > horizon {
            break;
        }
        renewals.push(d);
    }

    let mix = &cfg.difficulty.archetype_mix;
    let unwarned = cfg.difficulty.unwarned_churn_share.clamp(0.0, 1.0);
    let contraction = mix.contraction_share.clamp(0.0, 0.95);
    let seg = segment.index();
    let new = contract_start >= start;
    let mut archetype = Archetype::Healthy;
    let mut fate = Fate::Stay;
    let mut decisive = None;
    let mut trouble_start = None;
    let fo = (mix.failed_onboarding * [1.2, 0.8, 0.5][seg]).clamp(0.0, 1.0);
    if new && r.bernoulli(fo) {
        let min_gap = if term_months == 1 { 150 } else { 1 };
        let rr = renewals
            .iter()
            .copied()
            .find(|d| d.0 - contract_start.0 >= min_gap)
            .unwrap_or(horizon);
        let ts = contract_start.plus(r.range_i32(45, 90)).max(rr.plus(-290));
        archetype = Archetype::FailedOnboarding;
        fate = Fate::Churn;
        decisive = Some(rr);
        trouble_start = Some(ts);
    } else {
        // Churn drawn at this rate leaves the configured logo churn after some warned churns turn into
        // contractions instead.
        let churn_scale = 1.0 / (1.0 - (1.0 - unwarned) * contraction);
        let lo = start.plus(45);
        let hi = end.plus(270);
        for &rr in renewals.iter().filter(|d| **d >= lo && **d <= hi) {
            let years = term_months as f64 / 12.0;
            let pc = (1.0 - math::powf(1.0 - mix.annual_churn.get(seg).clamp(0.0, 0.999), years))
                * churn_scale;
            let pe = 1.0 - math::powf(1.0 - mix.annual_expansion.get(seg).clamp(0.0, 0.999), years);
            let u = r.f64();
            if u < pc {
                decisive = Some(rr);
                fate = Fate::Churn;
                break;
            }
            if u < pc + pe {
                decisive = Some(rr);
                fate = Fate::Expand;
                break;
            }
        }
        match (fate, decisive) {
            (Fate::Churn, Some(rr)) => {
                if r.bernoulli(unwarned) {
                    archetype = Archetype::UnwarnedChurn;
                } else {
                    let w = [
                        mix.slow_disengagement,
                        mix.champion_loss,
                        mix.support_frustration,
                        mix.budget_trouble,
                    ];
                    archetype = [
                        Archetype::SlowDisengagement,
                        Archetype::ChampionLoss,
                        Archetype::SupportFrustration,
                        Archetype::BudgetTrouble,
                    ][r.weighted(&w)];
                    let gap = 90 + (180.0 * (r.f64() + r.f64()) / 2.0).round() as i32;
                    let ts = rr.plus(-gap).max(contract_start.plus(30));
                    if rr.0 - ts.0 < 60 {
                        // Too young an account for a signal to form: it leaves without warning.
                        archetype = Archetype::UnwarnedChurn;
                    } else {
                        trouble_start = Some(ts);
                        if r.bernoulli(contraction) {
                            fate = Fate::Contract;
                        }
                    }
                }
            }
            (Fate::Expand, Some(rr)) => {
                archetype = if r.weighted(&[mix.seat_saturation, mix.new_team_adoption]) == 0 {
                    Archetype::SeatSaturation
                } else {
                    Archetype::NewTeamAdoption
                };
                let gap = 60 + r.below(181) as i32;
                let mut ts = rr.plus(-gap).max(contract_start.plus(45));
                if ts.0 > rr.0 - 20 {
                    ts = Day(contract_start.0 + (rr.0 - contract_start.0) / 2);
                }
                trouble_start = Some(ts);
            }
            _ => {}
        }
    }
    let false_alarm =
        archetype == Archetype::Healthy && r.bernoulli(cfg.difficulty.false_alarm_share);
    let owner_draw = r.f64();
    Plan {
        idx,
        id: who.id,
        name: who.name,
        domain: who.domain,
        industry: who.industry,
        region: who.region,
        utc_offset_h: who.utc_offset_h,
        segment,
        tier,
        seats,
        arr,
        term_months,
        billing_months,
        contract_start,
        renewals,
        archetype,
        fate,
        decisive,
        trouble_start,
        false_alarm,
        owners: Vec::new(),
        owner_draw,
        engagement: None,
    }
}

/// Accounts per CSM by segment (SMB books are pooled, tech-touch).
const BOOK_SIZE: [f64; 3] = [300.0, 55.0, 8.0];

fn roster(cfg: &SimConfig, plans: &mut [Plan]) -> Vec<Csm> {
    let start = cfg.start();
    let end = cfg.end;
    let history = (end.0 - start.0 + 1).max(1) as u64;
    let mut r = Rng::stream(cfg.seed, stream::BOOK_KEY, 0);
    let mut csms: Vec<Csm> = Vec::new();
    let mut by_segment: [Vec<usize>; 3] = Default::default();
    let email = |n: usize| {
        let (f, l) = names::csm_name(n);
        let round = n / 3600;
        let local = names::email_local(f, l);
        if round == 0 {
            format!("{local}@vendor.example")
        } else {
            format!("{local}{}@vendor.example", round + 1)
        }
    };
    for seg in Segment::ALL {
        let count = plans.iter().filter(|p| p.segment == seg).count();
        if count == 0 {
            continue;
        }
        let n = ((count as f64 / BOOK_SIZE[seg.index()]).round() as usize).max(1);
        for _ in 0..n {
            let id = csms.len();
            let weight = r.uniform(0.6, 1.4);
            let leaves = if r.bernoulli(0.15) {
                Some(start.plus(r.below(history) as i32))
            } else {
                None
            };
            csms.push(Csm {
                email: email(id),
                segment: seg,
                leaves,
                successor: None,
                weight,
            });
            by_segment[seg.index()].push(id);
        }
    }
    // Departing CSMs hand their book to a new hire.
    for i in 0..csms.len() {
        if csms[i].leaves.is_some() {
            let id = csms.len();
            let seg = csms[i].segment;
            csms.push(Csm {
                email: email(id),
                segment: seg,
                leaves: None,
                successor: None,
                weight: 0.0,
            });
            csms[i].successor = Some(id);
        }
    }
    for p in plans.iter_mut() {
        let ids = &by_segment[p.segment.index()];
        let weights: Vec<f64> = ids.iter().map(|&i| csms[i].weight).collect();
        let total: f64 = weights.iter().sum();
        let mut x = p.owner_draw * total;
        let mut owner = ids[ids.len() - 1];
        for (k, w) in weights.iter().enumerate() {
            if x < *w {
                owner = ids[k];
                break;
            }
            x -= w;
        }
        let first = p.first_day(start);
        while let (Some(l), Some(s)) = (csms[owner].leaves, csms[owner].successor) {
            if l > first {
                break;
            }
            owner = s;
        }
        p.owners.push((first, owner));
        if let (Some(l), Some(s)) = (csms[owner].leaves, csms[owner].successor) {
            if l <= p.last_day(end) {
                p.owners.push((l, s));
            }
        }
    }
    csms
}

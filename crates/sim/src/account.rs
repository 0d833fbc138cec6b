//! One account's records: the commercial timeline (contract terms, amendments, the decisive renewal) and the
//! files that follow from it directly — `accounts.csv`, `account_changes.csv`, `subscriptions.csv`,
//! `outcomes.csv` and the ground truth — plus the orchestration of the other generators (people, usage,
//! support, billing, touchpoints) for the account. A self-serve account writes only its sign-up row
//! ([`crate::self_serve`]), usage, subscriptions and ground truth.

use crate::billing;
use crate::book::{stream, Archetype, Csm, Fate, Plan, Segment, PLANS};
use crate::calendar::Calendar;
use crate::config::{Profile, SimConfig};
use crate::out::{push_day, push_money, push_text, push_u64, File, FILES};
use crate::people;
use crate::rng::Rng;
use crate::self_serve;
use crate::support;
use crate::touch;
use crate::usage::{self, Scratch};
use bellwether_core::time::Day;

/// What every generator of an account needs to know about the book.
pub(crate) struct Ctx<'a> {
    pub cfg: &'a SimConfig,
    pub cal: &'a Calendar,
    pub csms: &'a [Csm],
    pub start: Day,
    pub end: Day,
}

/// Output buffers for a run of accounts, one per file, with line counts.
#[derive(Default)]
pub(crate) struct Bufs {
    pub files: [Vec<u8>; FILES],
    pub lines: [u64; FILES],
}

impl Bufs {
    /// The buffer of a file; counts the line about to be written.
    #[inline]
    pub fn line(&mut self, f: File) -> &mut Vec<u8> {
        self.lines[f.index()] += 1;
        &mut self.files[f.index()]
    }
}

/// What the summary needs to know about an account.
#[derive(Clone, Debug)]
pub(crate) struct AccountStat {
    pub segment: Segment,
    pub archetype: Archetype,
    /// Churned, contracted or expanded on or before the last day of data.
    pub churned: bool,
    pub contracted: bool,
    pub expanded: bool,
    pub renewed: bool,
    /// Days inside the window the account was a customer.
    pub exposure_days: i64,
}

/// A stretch of time with constant plan, seats and ARR.
#[derive(Clone, Debug)]
pub(crate) struct Period {
    pub start: Day,
    /// Exclusive end; `None` while running past the end of data.
    pub end: Option<Day>,
    pub tier: usize,
    pub seats: u32,
    /// Whole dollars.
    pub arr: i64,
}

impl Period {
    /// Monthly recurring revenue in cents.
    pub fn mrr_cents(&self) -> i64 {
        (self.arr * 100 + 6) / 12
    }
}

/// The account's story as every generator sees it.
pub(crate) struct Story<'a> {
    pub plan: &'a Plan,
    pub num: usize,
    /// First day with data.
    pub first: Day,
    /// Last day with activity (the day before a churn, or the end of data).
    pub last: Day,
    pub periods: Vec<Period>,
    /// Day of a mid-term seat reduction (budget trouble).
    pub cut_day: Option<Day>,
    /// Difficulty: depth of driver effects.
    pub s: f64,
    /// Difficulty: noise.
    pub noise: f64,
}

impl Story<'_> {
    /// How far the hidden driver has progressed on `d`: 0 before it starts, rising to 1 at the decisive renewal.
    pub fn progress(&self, d: Day) -> f64 {
        match (self.plan.trouble_start, self.plan.decisive) {
            (Some(ts), Some(dec)) if d >= ts => {
                let span = (dec.0 - ts.0).max(1) as f64;
                ((d.0 - ts.0) as f64 / span).min(1.0)
            }
            _ => 0.0,
        }
    }

    /// Is the driver running on `d` (from its start to the decisive renewal, exclusive)?
    fn driving(&self, d: Day) -> bool {
        self.plan.trouble_start.is_some_and(|ts| d >= ts)
            && self.plan.decisive.map_or(true, |dec| d < dec)
    }

    /// Is a trouble (churn or contraction) driver running on `d`? A contracted account's behaviour recovers
    /// after the renewal (its lost users and seats stay lost).
    pub fn troubled(&self, d: Day) -> bool {
        self.plan.archetype.is_trouble() && self.driving(d)
    }

    /// Is an expansion driver running on `d`?
    pub fn expanding(&self, d: Day) -> bool {
        self.plan.archetype.is_expansion() && self.driving(d)
    }

    /// The period in force on `d` (the first one before it starts).
    pub fn period_at(&self, d: Day) -> &Period {
        let i = self.periods.partition_point(|p| p.start <= d);
        &self.periods[i.saturating_sub(1)]
    }
}

/// Generates every record of one account into `bufs`.
pub(crate) fn generate(
    ctx: &Ctx,
    plan: &Plan,
    bufs: &mut Bufs,
    scratch: &mut Scratch,
) -> AccountStat {
    let story = build_story(ctx, plan);
    let people = people::build(ctx, &story);
    if ctx.cfg.profile == Profile::SelfServe {
        self_serve::write_account(&story, bufs);
        usage::write(ctx, &story, &people, bufs, scratch);
        write_subscriptions(ctx, &story, bufs);
        write_truth(ctx, &story, bufs);
        return self_serve::stat(ctx, &story);
    }
    write_account(ctx, &story, bufs);
    write_changes(ctx, &story, bufs);
    people::write_contacts(ctx, &story, &people, bufs);
    usage::write(ctx, &story, &people, bufs, scratch);
    write_subscriptions(ctx, &story, bufs);
    support::write(ctx, &story, &people, bufs);
    billing::write(ctx, &story, bufs);
    touch::write(ctx, &story, &people, bufs);
    let stat = write_outcomes(ctx, &story, bufs);
    write_truth(ctx, &story, bufs);
    stat
}

fn round10(x: f64) -> i64 {
    ((x / 10.0).round() as i64 * 10).max(10)
}

fn min_tier(seg: Segment) -> usize {
    match seg {
        Segment::Smb => 0,
        Segment::MidMarket => 2,
        Segment::Enterprise => 3,
    }
}

pub(crate) fn build_story<'a>(ctx: &Ctx, plan: &'a Plan) -> Story<'a> {
    let mut r = Rng::stream(ctx.cfg.seed, plan.idx as u64, stream::COMMERCIAL);
    let s = ctx.cfg.difficulty.signal_strength.max(0.0);
    let first = plan.first_day(ctx.start);
    let last = plan.last_day(ctx.end);
    let monthly = plan.term_months == 1;
    let mut t0 = plan.contract_start;
    if !monthly {
        for &rr in &plan.renewals {
            if rr <= first {
                t0 = rr;
            } else {
                break;
            }
        }
    }
    let mut periods = vec![Period {
        start: t0,
        end: None,
        tier: plan.tier,
        seats: plan.seats,
        arr: plan.arr,
    }];
    let mut cut_day = None;
    if let (Archetype::BudgetTrouble, Some(ts), Some(dec)) =
        (plan.archetype, plan.trouble_start, plan.decisive)
    {
        let cut = ts.plus(r.range_i32(30, 90));
        let share = r.uniform(0.65, 0.85);
        if cut.0 < dec.0 - 14 && cut > first && s > 0.0 {
            cut_day = Some((cut, share));
        }
    }
    let contract_seats = r.uniform(0.55, 0.85);
    let contract_down = r.bernoulli(0.4);
    let expand_seats = match plan.archetype {
        Archetype::NewTeamAdoption => r.uniform(1.4, 2.0),
        _ => r.uniform(1.2, 1.6),
    };
    let expand_up = plan.archetype == Archetype::NewTeamAdoption && r.bernoulli(0.5);
    let mut pending_cut = cut_day;
    let change = |periods: &mut Vec<Period>, start: Day, seats_ratio: f64, tier_delta: i32| {
        let prev = periods.last().expect("a period").clone();
        let seats = ((prev.seats as f64 * seats_ratio).round() as u32).max(1);
        // A self-serve team of a few seats still grows by one when it expands.
        let seats = if plan.engagement.is_some() && seats_ratio > 1.0 {
            seats.max(prev.seats + 1)
        } else {
            seats
        };
        let tier = (prev.tier as i32 + tier_delta).clamp(0, PLANS.len() as i32 - 1) as usize;
        let price = match tier as i32 - prev.tier as i32 {
            d if d > 0 => 1.15,
            d if d < 0 => 0.85,
            _ => 1.0,
        };
        let arr = round10(prev.arr as f64 * seats as f64 / prev.seats as f64 * price);
        periods.push(Period {
            start,
            end: None,
            tier,
            seats,
            arr,
        });
    };
    for &rr in plan.renewals.iter().filter(|d| **d > t0) {
        if let Some((cut, share)) = pending_cut {
            if cut < rr && cut <= ctx.end {
                change(&mut periods, cut, share, 0);
                pending_cut = None;
            }
        }
        if rr > ctx.end {
            break;
        }
        if Some(rr) == plan.decisive {
            match plan.fate {
                Fate::Churn => {
                    periods.last_mut().expect("a period").end = Some(rr);
                    break;
                }
                Fate::Contract => {
                    let down = contract_down
                        && periods
                            .last()
                            .is_some_and(|p| p.tier > min_tier(plan.segment));
                    change(&mut periods, rr, contract_seats, -i32::from(down));
                }
                Fate::Expand => {
                    let up = expand_up && periods.last().is_some_and(|p| p.tier + 1 < PLANS.len());
                    change(&mut periods, rr, expand_seats, i32::from(up));
                }
                Fate::Stay => {}
            }
        } else if !monthly {
            change(&mut periods, rr, 1.0, 0);
        }
    }
    for i in 1..periods.len() {
        let next = periods[i].start;
        periods[i - 1].end = Some(next);
    }
    Story {
        plan,
        num: plan.idx + 1,
        first,
        last,
        periods,
        cut_day: cut_day.map(|c| c.0),
        s,
        noise: ctx.cfg.difficulty.noise.max(0.0),
    }
}

/// Lifecycle stage on `d`.
fn stage_at(story: &Story, d: Day) -> &'static str {
    let plan = story.plan;
    if plan.churn_day().is_some_and(|c| d >= c) {
        return "churned";
    }
    let cs = plan.contract_start;
    if d.0 < cs.0 + 90 {
        return "onboarding";
    }
    if plan.term_months > 1 {
        if let Some(next) = plan.renewals.iter().find(|r| **r > d) {
            if next.0 - d.0 <= 90 && next.0 - cs.0 > 180 {
                return "renewing";
            }
        }
    }
    if d.0 < cs.0 + 365 {
        "adopting"
    } else {
        "mature"
    }
}

/// The renewal after `d` (exclusive), if the contract still runs then.
fn next_renewal(story: &Story, d: Day) -> Option<Day> {
    let r = story.plan.renewals.iter().copied().find(|r| *r > d)?;
    if story.plan.churn_day().is_some_and(|c| c < r) {
        return None;
    }
    Some(r)
}

fn write_account(ctx: &Ctx, story: &Story, bufs: &mut Bufs) {
    let plan = story.plan;
    let first = story.first;
    let p0 = story.period_at(first);
    let owner = &ctx.csms[plan.owners[0].1].email;
    let b = bufs.line(File::Accounts);
    push_text(b, &plan.id);
    b.push(b',');
    push_text(b, &plan.name);
    b.push(b',');
    push_text(b, owner);
    b.push(b',');
    b.extend_from_slice(plan.segment.as_str().as_bytes());
    b.push(b',');
    b.extend_from_slice(PLANS[p0.tier].as_bytes());
    b.push(b',');
    push_money(b, p0.arr * 100);
    b.extend_from_slice(b",USD,");
    push_u64(b, p0.seats as u64);
    b.push(b',');
    push_day(b, plan.contract_start);
    b.push(b',');
    if let Some(r) = next_renewal(story, first) {
        push_day(b, r);
    }
    b.push(b',');
    b.extend_from_slice(stage_at(story, first).as_bytes());
    b.push(b',');
    push_day(b, first);
    b.push(b',');
    b.extend_from_slice(plan.region.as_bytes());
    b.push(b',');
    b.extend_from_slice(plan.industry.as_bytes());
    b.push(b'\n');
}

/// A change of one attribute: (day, attribute, value; empty clears).
type Change = (Day, &'static str, String);

fn write_changes(ctx: &Ctx, story: &Story, bufs: &mut Bufs) {
    let plan = story.plan;
    let first = story.first;
    let end = ctx.end;
    let mut changes: Vec<Change> = Vec::new();
    for w in story.periods.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        if b.start <= first || b.start > end {
            continue;
        }
        if b.arr != a.arr {
            changes.push((b.start, "arr", money_text(b.arr)));
        }
        if b.seats != a.seats {
            changes.push((b.start, "seats", b.seats.to_string()));
        }
        if b.tier != a.tier {
            changes.push((b.start, "plan", PLANS[b.tier].to_string()));
        }
    }
    if let Some(c) = plan.churn_day() {
        if c <= end {
            changes.push((c, "arr", "0".to_string()));
        }
    }
    for &(d, owner) in plan.owners.iter().skip(1) {
        if d > first && d <= end {
            changes.push((d, "owner", ctx.csms[owner].email.clone()));
        }
    }
    for &rr in &plan.renewals {
        if rr > first && rr <= end {
            if plan.churn_day().is_some_and(|c| rr > c) {
                break;
            }
            let v = next_renewal(story, rr)
                .map(|n| n.to_string())
                .unwrap_or_default();
            changes.push((rr, "renewal_date", v));
        }
    }
    // Lifecycle stage: evaluate at every day it can change.
    let cs = plan.contract_start;
    let mut points = vec![cs.plus(90), cs.plus(365)];
    if plan.term_months > 1 {
        for &rr in &plan.renewals {
            points.push(rr.plus(-90));
            points.push(rr);
        }
    }
    if let Some(c) = plan.churn_day() {
        points.push(c);
    }
    points.retain(|d| *d > first && *d <= end);
    points.sort_unstable();
    points.dedup();
    let mut stage = stage_at(story, first);
    for d in points {
        let s = stage_at(story, d);
        if s != stage {
            changes.push((d, "lifecycle_stage", s.to_string()));
            stage = s;
        }
    }
    changes.sort_by_key(|c| c.0);
    for (d, attr, value) in changes {
        let b = bufs.line(File::AccountChanges);
        push_text(b, &plan.id);
        b.push(b',');
        b.extend_from_slice(attr.as_bytes());
        b.push(b',');
        push_text(b, &value);
        b.push(b',');
        push_day(b, d);
        b.push(b'\n');
    }
}

fn money_text(dollars: i64) -> String {
    let mut b = Vec::new();
    push_money(&mut b, dollars * 100);
    String::from_utf8(b).expect("ascii")
}

fn write_subscriptions(ctx: &Ctx, story: &Story, bufs: &mut Bufs) {
    let plan = story.plan;
    for (k, p) in story.periods.iter().enumerate() {
        if p.start > ctx.end {
            break;
        }
        let b = bufs.line(File::Subscriptions);
        b.extend_from_slice(b"sub-");
        push_u64(b, story.num as u64);
        b.push(b'-');
        push_u64(b, k as u64 + 1);
        b.push(b',');
        push_text(b, &plan.id);
        b.push(b',');
        b.extend_from_slice(PLANS[p.tier].as_bytes());
        b.push(b',');
        push_day(b, p.start);
        b.push(b',');
        if let Some(e) = p.end.filter(|e| *e <= ctx.end) {
            push_day(b, e);
        }
        b.push(b',');
        push_money(b, p.mrr_cents());
        b.push(b',');
        push_u64(b, p.seats as u64);
        b.extend_from_slice(if ctx.cfg.profile == Profile::SelfServe {
            b",USD,month\n"
        } else {
            b",USD\n"
        });
    }
}

fn outcome_line(bufs: &mut Bufs, id: &str, d: Day, kind: &str, delta_dollars: i64) {
    let b = bufs.line(File::Outcomes);
    push_text(b, id);
    b.push(b',');
    push_day(b, d);
    b.push(b',');
    b.extend_from_slice(kind.as_bytes());
    b.push(b',');
    push_money(b, delta_dollars * 100);
    b.push(b'\n');
}

fn write_outcomes(ctx: &Ctx, story: &Story, bufs: &mut Bufs) -> AccountStat {
    let plan = story.plan;
    let end = ctx.end;
    let mut stat = AccountStat {
        segment: plan.segment,
        archetype: plan.archetype,
        churned: false,
        contracted: false,
        expanded: false,
        renewed: false,
        exposure_days: (story.last.0 - story.first.0 + 1).max(0) as i64,
    };
    for (i, &rr) in plan.renewals.iter().enumerate() {
        if rr < story.first || rr > end {
            continue;
        }
        if Some(rr) == plan.decisive {
            let before = story.period_at(rr.plus(-1)).arr;
            match plan.fate {
                Fate::Churn => {
                    outcome_line(bufs, &plan.id, rr, "churned", -before);
                    stat.churned = true;
                    break;
                }
                Fate::Contract => {
                    outcome_line(
                        bufs,
                        &plan.id,
                        rr,
                        "contracted",
                        story.period_at(rr).arr - before,
                    );
                    stat.contracted = true;
                }
                Fate::Expand => {
                    outcome_line(
                        bufs,
                        &plan.id,
                        rr,
                        "expanded",
                        story.period_at(rr).arr - before,
                    );
                    stat.expanded = true;
                }
                Fate::Stay => {}
            }
        } else if plan.term_months > 1 || (i + 1) % 12 == 0 {
            outcome_line(bufs, &plan.id, rr, "renewed", 0);
            stat.renewed = true;
        }
    }
    stat
}

/// The last renewal-outcome day on or before the end of data, for accounts that stay.
fn last_renewal(story: &Story, end: Day) -> Option<Day> {
    let plan = story.plan;
    plan.renewals
        .iter()
        .enumerate()
        .filter(|(i, r)| {
            **r >= story.first && **r <= end && (plan.term_months > 1 || (i + 1) % 12 == 0)
        })
        .map(|(_, r)| *r)
        .next_back()
}

fn write_truth(ctx: &Ctx, story: &Story, bufs: &mut Bufs) {
    let plan = story.plan;
    let end = ctx.end;
    let (outcome, date): (&str, Option<Day>) = match (plan.fate, plan.decisive) {
        (Fate::Churn, Some(d)) => (if d <= end { "churned" } else { "active" }, Some(d)),
        (Fate::Contract, Some(d)) => (if d <= end { "contracted" } else { "active" }, Some(d)),
        (Fate::Expand, Some(d)) => (if d <= end { "expanded" } else { "active" }, Some(d)),
        _ if ctx.cfg.profile == Profile::SelfServe => ("active", None),
        _ => match last_renewal(story, end) {
            Some(d) => ("renewed", Some(d)),
            None => ("active", None),
        },
    };
    let arr_day = match (plan.fate, plan.decisive) {
        (Fate::Stay, _) | (_, None) => end,
        (_, Some(d)) => d.plus(-1).min(end),
    };
    let b = bufs.line(File::Truth);
    push_text(b, &plan.id);
    b.push(b',');
    b.extend_from_slice(plan.archetype.as_str().as_bytes());
    b.push(b',');
    if let Some(ts) = plan.trouble_start {
        push_day(b, ts);
    }
    b.push(b',');
    b.extend_from_slice(outcome.as_bytes());
    b.push(b',');
    if let Some(d) = date {
        push_day(b, d);
    }
    b.push(b',');
    b.extend_from_slice(plan.segment.as_str().as_bytes());
    b.push(b',');
    push_money(b, story.period_at(arr_day).arr * 100);
    b.push(b'\n');
}

/// Seconds into the UTC day of a moment in local business hours (07:00–19:00, peaking early afternoon),
/// wrapped into the same UTC day.
pub(crate) fn business_second(r: &mut Rng, utc_offset_h: i32) -> u32 {
    let local = 7.0 * 3600.0 + 12.0 * 3600.0 * (r.f64() + r.f64()) / 2.0;
    (local as i64 - utc_offset_h as i64 * 3600).rem_euclid(86_400) as u32
}

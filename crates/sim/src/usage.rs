//! Product usage: who is active each day and what they do, written as raw events (`events.csv`) or as daily
//! aggregates (`daily_metrics.csv`).
//!
//! Each day an account has a level: weekly seasonality (weekends at 15–25 % of a workday), holidays, a monthly
//! seasonal factor, slow random drift, short harmless dips, the onboarding ramp and the hidden driver's effect.
//! Each present user is active with probability (own propensity × level), less when dormant; an active user
//! logs in and performs a Poisson number of feature events drawn from their persona's weights over the features
//! the account has adopted by then (key features early, advanced ones later, some never). Invitations, SSO
//! setup and the onboarding data import are scripted events on the days they happen. In a self-serve book the
//! driver's effect is the account's engagement path instead ([`crate::self_serve`]).
//!
//! Times of day come from a separate random stream, so the daily metrics of a seed are exactly the roll-up of
//! its events (per UTC day: distinct active users, count per event name).

use crate::account::{business_second, Bufs, Ctx, Story};
use crate::book::{stream, Archetype, Segment};
use crate::calendar::{DayKind, HOLIDAY_LEVEL};
use crate::out::{push_time_of_day, push_u64, File};
use crate::people::{People, NEVER};
use crate::rng::{math, Rng};

/// Event names, in the order daily metrics are written.
pub const FEATURES: [&str; 12] = [
    "login",
    "dashboard_viewed",
    "report_exported",
    "comment_added",
    "integration_synced",
    "workflow_created",
    "api_call",
    "alert_configured",
    "user_invited",
    "data_imported",
    "export_scheduled",
    "sso_configured",
];

const LOGIN: usize = 0;
const DASHBOARD: usize = 1;
const REPORT: usize = 2;
const COMMENT: usize = 3;
const INTEGRATION: usize = 4;
const WORKFLOW: usize = 5;
const API: usize = 6;
const ALERT: usize = 7;
const INVITE: usize = 8;
const IMPORT: usize = 9;
const SCHEDULE: usize = 10;
const SSO: usize = 11;

/// Feature weights by persona (viewer, creator, admin, integrator); login, invitations and SSO are not drawn.
const WEIGHTS: [[f64; 12]; 4] = [
    [0.0, 6.0, 2.0, 2.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.2, 0.2, 0.0],
    [0.0, 3.0, 3.0, 4.0, 0.5, 2.0, 0.5, 1.0, 0.0, 1.0, 1.0, 0.0],
    [0.0, 3.0, 1.0, 1.0, 1.0, 1.0, 0.5, 2.0, 0.0, 1.5, 1.0, 0.0],
    [0.0, 1.0, 1.0, 0.5, 4.0, 1.0, 6.0, 1.0, 0.0, 1.0, 1.0, 0.0],
];

/// Buffers reused from one account to the next.
#[derive(Default)]
pub(crate) struct Scratch {
    day: Vec<(u32, u32, u32, u8)>,
    level: Vec<f64>,
    mark: Vec<i32>,
}

fn smooth(x: f64) -> f64 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

/// Writes the account's usage as events or daily metrics.
pub(crate) fn write(
    ctx: &Ctx,
    story: &Story,
    people: &People,
    bufs: &mut Bufs,
    scratch: &mut Scratch,
) {
    let plan = story.plan;
    let first = story.first.0;
    let last = story.last.0;
    if last < first {
        return;
    }
    let mut r = Rng::stream(ctx.cfg.seed, plan.idx as u64, stream::USAGE);
    let mut rt = Rng::stream(ctx.cfg.seed, plan.idx as u64, stream::TIME);
    let cs = plan.contract_start.0;
    let new = plan.contract_start >= ctx.start;
    let s = story.s;
    let arch = plan.archetype;
    let ts = plan.trouble_start.map(|d| d.0);
    let dec = plan.decisive.map(|d| d.0);

    // Feature adoption and abandonment days.
    let mut adopt = [NEVER; 12];
    let mut abandon = [NEVER; 12];
    adopt[LOGIN] = cs;
    adopt[DASHBOARD] = cs + r.range_i32(0, 3);
    adopt[REPORT] = cs + r.range_i32(2, 20);
    adopt[COMMENT] = cs + r.range_i32(5, 40);
    adopt[IMPORT] = cs + r.range_i32(0, 7);
    let maybe = |r: &mut Rng, p: f64, lo: i32, hi: i32| {
        let yes = r.bernoulli(p);
        let d = cs + r.range_i32(lo, hi);
        if yes {
            d
        } else {
            NEVER
        }
    };
    adopt[ALERT] = maybe(&mut r, 0.8, 20, 120);
    adopt[INTEGRATION] = maybe(&mut r, 0.65, 30, 240);
    adopt[WORKFLOW] = maybe(
        &mut r,
        if plan.segment == Segment::Smb {
            0.45
        } else {
            0.65
        },
        45,
        300,
    );
    adopt[SCHEDULE] = maybe(&mut r, 0.5, 60, 400);
    adopt[API] = maybe(&mut r, [0.2, 0.55, 0.75][plan.segment.index()], 90, 500);
    let report_kept = r.bernoulli(0.5);
    let core_pick = [REPORT, COMMENT, DASHBOARD][r.below(3) as usize];
    let abandon_at = r.uniform(0.2, 0.6);
    let team_adopt = r.range_i32(0, 14);
    let champion_abandon = r.bernoulli((0.6 * s).min(1.0));
    let champion_abandon_at = r.range_i32(20, 90);
    match (arch, ts, dec) {
        (Archetype::FailedOnboarding, _, _) if s > 0.0 => {
            for f in [COMMENT, INTEGRATION, WORKFLOW, API, ALERT, SCHEDULE] {
                adopt[f] = NEVER;
            }
            if !report_kept {
                adopt[REPORT] = NEVER;
            }
        }
        (Archetype::NewTeamAdoption, Some(t), _) if s > 0.0 => {
            for f in [WORKFLOW, API, INTEGRATION, SCHEDULE] {
                adopt[f] = adopt[f].min(t + team_adopt);
            }
        }
        (Archetype::SlowDisengagement, Some(t), Some(e)) if s > 0.0 => {
            abandon[core_pick] = t + ((e - t) as f64 * abandon_at) as i32;
        }
        (Archetype::ChampionLoss, Some(t), _) if champion_abandon => {
            abandon[WORKFLOW] = t + champion_abandon_at;
        }
        _ => {}
    }

    // Daily level.
    let days = (last - first + 1) as usize;
    let noise = story.noise;
    let weekend = r.uniform(0.15, 0.25);
    let years = days as f64 / 365.0;
    let mut dips: Vec<(i32, i32, f64)> = Vec::new();
    let n_dips = r.poisson(0.5 * noise * years);
    for _ in 0..n_dips {
        let start = first + r.below(days as u64) as i32;
        let len = r.range_i32(2, 6);
        dips.push((start, start + len, r.uniform(0.35, 0.7)));
    }
    if plan.false_alarm {
        let n = 1 + r.below(3);
        for _ in 0..n {
            let start = first + r.below(days as u64) as i32;
            let len = r.range_i32(7, 21);
            dips.push((start, start + len, r.uniform(0.25, 0.55)));
        }
    }
    let level = &mut scratch.level;
    level.clear();
    let mut drift = 0.0;
    let sigma = 0.04 * noise;
    for i in 0..days {
        let d = first + i as i32;
        let day = bellwether_core::time::Day(d);
        drift = 0.95 * drift + sigma * r.std_normal();
        let kind = match ctx.cal.kind(day) {
            DayKind::Workday => 1.0,
            DayKind::Weekend => weekend,
            DayKind::Holiday => HOLIDAY_LEVEL,
        };
        let mut lvl = math::exp(drift) * ctx.cal.level(day) * kind;
        if new {
            lvl *= 0.5 + 0.5 * ((d - cs) as f64 / 60.0).min(1.0);
        }
        let x = story.progress(day);
        let driver = match (&plan.engagement, arch, ts) {
            (Some(e), _, _) => math::powf(e.level(d), s),
            (None, Archetype::SlowDisengagement, _) => 1.0 - 0.35 * s * smooth(x),
            (None, Archetype::ChampionLoss, Some(t)) => {
                1.0 - 0.35 * s * smooth((d - t) as f64 / 120.0)
            }
            (None, Archetype::SupportFrustration, _) => 1.0 - 0.25 * s * x,
            (None, Archetype::BudgetTrouble, _) => 1.0 - 0.2 * s * x,
            (None, Archetype::FailedOnboarding, _) => 1.0 - 0.6 * s * smooth(x),
            (None, Archetype::SeatSaturation, _) => 1.0 + 0.15 * s * x,
            _ => 1.0,
        };
        lvl *= driver.max(0.02);
        for &(a, b, m) in &dips {
            if d >= a && d < b {
                lvl *= m;
            }
        }
        level.push(lvl);
    }

    // Scripted events: (day, user, feature).
    let users = &people.users;
    let mut scripted: Vec<(i32, usize, usize)> = Vec::new();
    for &u in &people.order {
        let j = users[u].join;
        if j > cs && j >= first && j <= last {
            let inviter = [people.admin, people.champion]
                .into_iter()
                .find(|&v| v != u && users[v].present(j))
                .or_else(|| {
                    people
                        .order
                        .iter()
                        .copied()
                        .find(|&v| v != u && users[v].present(j))
                });
            if let Some(v) = inviter {
                scripted.push((j, v, INVITE));
            }
        }
    }
    let sso_day = cs + r.range_i32(3, 40);
    let sso_n = 1 + r.below(3);
    let import_n = r.range_i32(3, 10);
    if new && plan.segment != Segment::Smb && arch != Archetype::FailedOnboarding {
        if let Some(a) = people.actor(sso_day) {
            for _ in 0..sso_n {
                scripted.push((sso_day, a, SSO));
            }
        }
    }
    if new {
        for _ in 0..import_n {
            let d = cs + r.range_i32(0, 14);
            if let Some(a) = people.actor(d) {
                scripted.push((d, a, IMPORT));
            }
        }
    }
    scripted.sort_by_key(|e| e.0);

    // The day loop.
    let daily = ctx.cfg.daily_metrics;
    let id = plan.id.as_bytes();
    let offset = plan.utc_offset_h;
    let mark = &mut scratch.mark;
    mark.clear();
    mark.resize(users.len(), i32::MIN);
    let day_events = &mut scratch.day;
    let mut cum = [[0.0f64; 12]; 4];
    let mut totals = [0.0f64; 4];
    let mut mask = u32::MAX;
    let mut ptr = 0;
    let mut sp = 0;
    for (i, &lvl) in level.iter().enumerate() {
        let d = first + i as i32;
        let mut m = 0u32;
        for f in 0..12 {
            if adopt[f] <= d && d < abandon[f] {
                m |= 1 << f;
            }
        }
        if m != mask {
            mask = m;
            for (p, w) in WEIGHTS.iter().enumerate() {
                let mut acc = 0.0;
                for f in 0..12 {
                    if m & (1 << f) != 0 {
                        acc += w[f];
                    }
                    cum[p][f] = acc;
                }
                totals[p] = acc;
            }
        }
        while ptr < people.order.len() && users[people.order[ptr]].join <= d {
            ptr += 1;
        }
        day_events.clear();
        let mut counts = [0u32; 12];
        let mut active = 0u32;
        let mut seq = 0u32;
        for &ui in &people.order[..ptr] {
            let u = &users[ui];
            if d >= u.leave {
                continue;
            }
            let mut p = u.p * lvl;
            if d >= u.dormant {
                p *= 0.05;
            }
            if r.f64() >= p.min(0.95) {
                continue;
            }
            active += 1;
            mark[ui] = d;
            let k = r.poisson_knuth(u.exp_neg_lambda);
            let persona = u.persona as usize;
            let mut sec = 0u32;
            if !daily {
                sec = business_second(&mut rt, offset);
                day_events.push((sec, seq, ui as u32, LOGIN as u8));
            }
            seq += 1;
            counts[LOGIN] += 1;
            for _ in 0..k {
                let total = totals[persona];
                if total <= 0.0 {
                    break;
                }
                let x = r.f64() * total;
                let f = cum[persona]
                    .iter()
                    .position(|c| x < *c)
                    .unwrap_or(DASHBOARD);
                counts[f] += 1;
                if !daily {
                    sec = (sec + 5 + rt.exponential(90.0) as u32) % 86_400;
                    day_events.push((sec, seq, ui as u32, f as u8));
                }
                seq += 1;
            }
        }
        while sp < scripted.len() && scripted[sp].0 < d {
            sp += 1;
        }
        while sp < scripted.len() && scripted[sp].0 == d {
            let (_, ui, f) = scripted[sp];
            sp += 1;
            if !users[ui].present(d) {
                continue;
            }
            if mark[ui] != d {
                mark[ui] = d;
                active += 1;
            }
            counts[f] += 1;
            if !daily {
                day_events.push((business_second(&mut rt, offset), seq, ui as u32, f as u8));
            }
            seq += 1;
        }
        if active == 0 {
            continue;
        }
        let date = ctx.cal.date_bytes(bellwether_core::time::Day(d));
        if daily {
            let b = bufs.line(File::DailyMetrics);
            b.extend_from_slice(id);
            b.push(b',');
            b.extend_from_slice(date);
            b.extend_from_slice(b",active_users,");
            push_u64(b, active as u64);
            b.push(b'\n');
            for (f, &c) in counts.iter().enumerate() {
                if c > 0 {
                    let b = bufs.line(File::DailyMetrics);
                    b.extend_from_slice(id);
                    b.push(b',');
                    b.extend_from_slice(date);
                    b.push(b',');
                    b.extend_from_slice(FEATURES[f].as_bytes());
                    b.push(b',');
                    push_u64(b, c as u64);
                    b.push(b'\n');
                }
            }
        } else {
            day_events.sort_unstable_by_key(|e| (e.0, e.1));
            bufs.lines[File::Events.index()] += day_events.len() as u64;
            let b = &mut bufs.files[File::Events.index()];
            for &(sec, _, ui, f) in day_events.iter() {
                b.extend_from_slice(id);
                b.push(b',');
                b.extend_from_slice(date);
                push_time_of_day(b, sec);
                b.push(b',');
                b.extend_from_slice(FEATURES[f as usize].as_bytes());
                b.push(b',');
                b.extend_from_slice(id);
                b.extend_from_slice(b"-u");
                push_u64(b, users[ui as usize].n as u64);
                b.extend_from_slice(b",1\n");
            }
        }
    }
}

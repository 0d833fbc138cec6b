//! Support tickets: how many an account opens, their priority, SLA, CSAT and escalation, and their text.
//!
//! Every account opens a few tickets (more in enterprise, more while onboarding). Support frustration multiplies
//! the rate by up to five, slows responses so SLAs breach, and turns the text and CSAT sour; other troubled
//! accounts sour a little as their driver progresses. Healthy accounts with false-alarm bait get one angry
//! one-off ticket.

use crate::account::{business_second, Bufs, Ctx, Story};
use crate::book::{stream, Archetype};
use crate::calendar::DayKind;
use crate::out::{push_day, push_text, push_time_of_day, push_u64, File};
use crate::people::People;
use crate::rng::Rng;
use crate::text::{self, Tone};
use bellwether_core::time::Day;

const PRIORITIES: [&str; 4] = ["low", "normal", "high", "urgent"];
const FIRST_RESPONSE_MEDIAN: [f64; 4] = [300.0, 120.0, 45.0, 15.0];
const RESOLUTION_MEDIAN: [f64; 4] = [2880.0, 1440.0, 600.0, 180.0];
const FIRST_RESPONSE_TARGET: [u64; 4] = [1440, 480, 240, 60];
const RESOLUTION_TARGET: [u64; 4] = [10080, 4320, 1440, 480];

/// Writes the account's tickets.
pub(crate) fn write(ctx: &Ctx, story: &Story, people: &People, bufs: &mut Bufs) {
    let plan = story.plan;
    let mut r = Rng::stream(ctx.cfg.seed, plan.idx as u64, stream::TICKETS);
    let first = story.first.0;
    let last = story.last.0;
    if last < first {
        return;
    }
    let cs = plan.contract_start.0;
    let new = plan.contract_start >= ctx.start;
    let s = story.s;
    let arch = plan.archetype;
    let base = [0.3, 0.9, 2.5][plan.segment.index()] * r.lognormal_median(1.0, 0.4) / 30.4;
    let one_off = if plan.false_alarm {
        Some(first + r.below((last - first + 1) as u64) as i32)
    } else {
        None
    };
    let end_sec = (ctx.end.0 as i64 + 1) * 86_400;
    let mut k = 0u64;
    for d in first..=last {
        let day = Day(d);
        let kind = match ctx.cal.kind(day) {
            DayKind::Workday => 1.0,
            DayKind::Weekend => 0.25,
            DayKind::Holiday => 0.3,
        };
        let mut mult = 1.0;
        if new && arch == Archetype::FailedOnboarding && d - cs < 150 {
            mult *= 2.0 + s.min(1.0);
        } else if new && d - cs < 60 {
            mult *= 2.0;
        }
        let x = story.progress(day);
        let troubled = story.troubled(day);
        if troubled {
            if arch == Archetype::SupportFrustration {
                let t = plan.trouble_start.map_or(0, |t| t.0);
                mult *= 1.0 + 4.0 * s * ((d - t) as f64 / 45.0).min(1.0);
            } else {
                mult *= 1.0 + 0.5 * s * x;
            }
        } else if story.expanding(day) {
            mult *= 1.2;
        }
        let rate = base * kind * mult;
        let mut n = if rate < 0.3 {
            u32::from(r.bernoulli(rate))
        } else {
            r.poisson(rate)
        };
        let forced = one_off == Some(d);
        if forced {
            n += 1;
        }
        for i in 0..n {
            let tone = if forced && i == n - 1 {
                Tone::Frustrated
            } else {
                let base = (0.03 * story.noise, 0.1, 0.3);
                let sm = s.min(1.0);
                let (pf, pa, pp) = if troubled && arch == Archetype::SupportFrustration {
                    (
                        base.0 + s * (0.12 + 0.6 * x),
                        base.1 + 0.15 * sm,
                        base.2 * (1.0 - 0.9 * sm),
                    )
                } else if troubled {
                    (
                        base.0 + s * (0.02 + 0.25 * x),
                        base.1 + 0.1 * sm,
                        base.2 * (1.0 - 0.7 * sm),
                    )
                } else if story.expanding(day) {
                    (
                        base.0 * (1.0 - 0.3 * sm),
                        base.1 * (1.0 - 0.2 * sm),
                        base.2 + 0.1 * sm,
                    )
                } else {
                    base
                };
                let pf = pf.min(0.9);
                let neutral = (1.0 - pf - pa - pp).max(0.0);
                [
                    Tone::Positive,
                    Tone::Neutral,
                    Tone::Annoyed,
                    Tone::Frustrated,
                ][r.weighted(&[pp, neutral, pa, pf])]
            };
            let prio = match tone {
                Tone::Frustrated => r.weighted(&[0.05, 0.4, 0.4, 0.15]),
                Tone::Annoyed => r.weighted(&[0.1, 0.55, 0.28, 0.07]),
                _ => r.weighted(&[0.25, 0.55, 0.16, 0.04]),
            };
            let slow = if troubled && arch == Archetype::SupportFrustration {
                1.0 + 2.5 * s * x
            } else {
                1.0
            };
            let frt = r
                .lognormal_median(FIRST_RESPONSE_MEDIAN[prio] * slow, 0.7)
                .round()
                .max(1.0) as u64;
            let res = (r
                .lognormal_median(RESOLUTION_MEDIAN[prio] * slow, 0.8)
                .round() as u64)
                .max(frt + 10);
            let sec = business_second(&mut r, plan.utc_offset_h);
            let opened = d as i64 * 86_400 + sec as i64;
            let closed = opened + res as i64 * 60;
            let is_closed = closed < end_sec;
            let frt_known = opened + frt as i64 * 60 < end_sec;
            let breached = (frt_known && frt > FIRST_RESPONSE_TARGET[prio])
                || (is_closed && res > RESOLUTION_TARGET[prio])
                || (!is_closed && (end_sec - opened) / 60 > RESOLUTION_TARGET[prio] as i64);
            let esc_p = match tone {
                Tone::Frustrated => 0.35,
                Tone::Annoyed => 0.1,
                _ => 0.02,
            } + if breached && prio >= 2 { 0.2 } else { 0.0 };
            let escalated = r.bernoulli(esc_p);
            let rated = r.bernoulli(0.4);
            let csat_w: [f64; 5] = match tone {
                Tone::Frustrated => [0.55, 0.3, 0.1, 0.05, 0.0],
                Tone::Annoyed => [0.2, 0.35, 0.3, 0.1, 0.05],
                Tone::Neutral => [0.02, 0.05, 0.18, 0.4, 0.35],
                Tone::Positive => [0.0, 0.02, 0.08, 0.3, 0.6],
            };
            let csat = (r.weighted(&csat_w) as u64 + 1)
                .saturating_sub(u64::from(breached))
                .max(1);
            let status = if is_closed {
                ["solved", "closed"][r.below(2) as usize]
            } else {
                ["open", "pending"][r.below(2) as usize]
            };
            let contact = if r.bernoulli(0.6) {
                people.voice(day)
            } else {
                people.any_contact(&mut r, day)
            };
            let signer = contact.map_or("The team", |c| c.first);
            let (subject, body) = text::ticket(&mut r, tone, signer);
            k += 1;

            let b = bufs.line(File::Tickets);
            b.extend_from_slice(b"t-");
            push_u64(b, story.num as u64);
            b.push(b'-');
            push_u64(b, k);
            b.push(b',');
            push_text(b, &plan.id);
            b.push(b',');
            if let Some(c) = contact {
                push_text(b, &plan.id);
                b.extend_from_slice(b"-u");
                push_u64(b, people.users[c.user].n as u64);
            }
            b.push(b',');
            push_day(b, day);
            push_time_of_day(b, sec);
            b.push(b',');
            if is_closed {
                push_day(b, Day(closed.div_euclid(86_400) as i32));
                push_time_of_day(b, closed.rem_euclid(86_400) as u32);
            }
            b.push(b',');
            b.extend_from_slice(PRIORITIES[prio].as_bytes());
            b.push(b',');
            b.extend_from_slice(status.as_bytes());
            b.push(b',');
            b.extend_from_slice(if escalated { b"true" } else { b"false" });
            b.push(b',');
            if frt_known {
                push_u64(b, frt);
            }
            b.push(b',');
            if is_closed {
                push_u64(b, res);
            }
            b.push(b',');
            b.extend_from_slice(if breached { b"true" } else { b"false" });
            b.push(b',');
            if is_closed && rated {
                push_u64(b, csat);
            }
            b.push(b',');
            push_text(b, &subject);
            b.push(b',');
            push_text(b, &body);
            b.push(b'\n');
        }
    }
}

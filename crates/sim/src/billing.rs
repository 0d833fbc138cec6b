//! Billing events: subscription created, invoices paid or failed (with retries), seat changes, upgrades and
//! downgrades, refunds and the cancellation of churned accounts.
//!
//! Invoices follow the account's billing period (monthly, quarterly or annual, from the contract start) and the
//! MRR in force. Budget trouble makes payments fail more and more often and recover slowly; healthy accounts
//! see the odd failed card payment, recovered within days.

use crate::account::{Bufs, Ctx, Story};
use crate::book::{stream, Archetype, PLANS};
use crate::calendar::add_months;
use crate::out::{push_day, push_i64, push_money, push_text, push_time_of_day, push_u64, File};
use crate::rng::Rng;
use bellwether_core::time::Day;

struct Ev {
    day: i32,
    sec: u32,
    kind: &'static str,
    amount: Option<i64>,
    mrr_delta: Option<i64>,
    seats_delta: Option<i64>,
    tier: Option<usize>,
}

/// Writes the account's billing events in time order.
pub(crate) fn write(ctx: &Ctx, story: &Story, bufs: &mut Bufs) {
    let plan = story.plan;
    let mut r = Rng::stream(ctx.cfg.seed, plan.idx as u64, stream::BILLING);
    let first = story.first;
    let last = story.last;
    let end = ctx.end;
    let s = story.s;
    let mut evs: Vec<Ev> = Vec::new();
    let night = |r: &mut Rng| 2 * 3600 + r.below(5 * 3600) as u32;
    let cs = plan.contract_start;
    if cs >= ctx.start {
        let p = story.period_at(cs);
        evs.push(Ev {
            day: cs.0,
            sec: night(&mut r),
            kind: "subscription_created",
            amount: None,
            mrr_delta: Some(p.mrr_cents()),
            seats_delta: Some(p.seats as i64),
            tier: Some(p.tier),
        });
    }
    let fa_day = if plan.false_alarm && r.bernoulli(0.5) {
        Some(first.plus(r.below((last.0 - first.0 + 1).max(1) as u64) as i32))
    } else {
        None
    };
    let mut fa_done = false;
    let budget = plan.archetype == Archetype::BudgetTrouble;
    for k in 0.. {
        let d = add_months(cs, k * plan.billing_months as i32);
        if d > last {
            break;
        }
        if d < first {
            continue;
        }
        let p = story.period_at(d);
        let amount = p.mrr_cents() * plan.billing_months as i64;
        let troubled = budget && story.troubled(d);
        let x = story.progress(d);
        let base_fail = 0.012 * story.noise;
        let mut p_fail = if troubled {
            base_fail + s * (0.19 + 0.5 * x)
        } else {
            base_fail
        };
        if fa_day.is_some_and(|f| d >= f) && !fa_done {
            p_fail = 1.0;
            fa_done = true;
        }
        let sec = night(&mut r);
        let failed = r.bernoulli(p_fail);
        let retry = if troubled {
            r.range_i32(4, 20)
        } else {
            r.range_i32(2, 6)
        };
        let second = troubled && r.bernoulli(0.3);
        let retry2 = r.range_i32(3, 10);
        let refund = r.bernoulli(0.003);
        let refund_after = r.range_i32(2, 20);
        let refund_share = r.uniform(0.1, 0.5);
        let ev = |day: i32, sec: u32, kind: &'static str, amount: i64| Ev {
            day,
            sec,
            kind,
            amount: Some(amount),
            mrr_delta: None,
            seats_delta: None,
            tier: None,
        };
        let mut paid_on = None;
        if failed {
            evs.push(ev(d.0, sec, "payment_failed", amount));
            let mut when = d.0 + retry;
            if second && when <= last.0 {
                evs.push(ev(when, sec, "payment_failed", amount));
                when += retry2;
            }
            if when <= last.0 {
                evs.push(ev(when, sec, "invoice_paid", amount));
                paid_on = Some(when);
            }
        } else {
            evs.push(ev(d.0, sec, "invoice_paid", amount));
            paid_on = Some(d.0);
        }
        if let (true, Some(pd)) = (refund, paid_on) {
            if pd + refund_after <= last.0 {
                let cents = (amount as f64 * refund_share).round() as i64;
                evs.push(ev(pd + refund_after, sec, "refund", cents));
            }
        }
    }
    for w in story.periods.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        if b.start <= first || b.start > end {
            continue;
        }
        let sec = 9 * 3600 + r.below(8 * 3600) as u32;
        let mrr_delta = b.mrr_cents() - a.mrr_cents();
        let seats_delta = b.seats as i64 - a.seats as i64;
        let tier_changed = b.tier != a.tier;
        if seats_delta != 0 {
            evs.push(Ev {
                day: b.start.0,
                sec,
                kind: "seats_changed",
                amount: None,
                mrr_delta: if tier_changed { None } else { Some(mrr_delta) },
                seats_delta: Some(seats_delta),
                tier: Some(b.tier),
            });
        }
        if tier_changed {
            evs.push(Ev {
                day: b.start.0,
                sec: sec + 60,
                kind: if b.tier > a.tier {
                    "upgrade"
                } else {
                    "downgrade"
                },
                amount: None,
                mrr_delta: Some(mrr_delta),
                seats_delta: None,
                tier: Some(b.tier),
            });
        }
    }
    if let Some(c) = plan.churn_day().filter(|c| *c <= end) {
        let p = story.period_at(c.plus(-1));
        evs.push(Ev {
            day: c.0,
            sec: night(&mut r),
            kind: "subscription_cancelled",
            amount: None,
            mrr_delta: Some(-p.mrr_cents()),
            seats_delta: Some(-(p.seats as i64)),
            tier: Some(p.tier),
        });
    }
    let mut order: Vec<usize> = (0..evs.len()).collect();
    order.sort_by_key(|&i| (evs[i].day, evs[i].sec, i));
    for (k, &i) in order.iter().enumerate() {
        let e = &evs[i];
        let b = bufs.line(File::BillingEvents);
        b.extend_from_slice(b"b-");
        push_u64(b, story.num as u64);
        b.push(b'-');
        push_u64(b, k as u64 + 1);
        b.push(b',');
        push_text(b, &plan.id);
        b.push(b',');
        push_day(b, Day(e.day));
        push_time_of_day(b, e.sec);
        b.push(b',');
        b.extend_from_slice(e.kind.as_bytes());
        b.push(b',');
        if let Some(a) = e.amount {
            push_money(b, a);
        }
        b.extend_from_slice(b",USD,");
        if let Some(m) = e.mrr_delta {
            push_money(b, m);
        }
        b.push(b',');
        if let Some(sd) = e.seats_delta {
            push_i64(b, sd);
        }
        b.push(b',');
        if let Some(t) = e.tier {
            b.extend_from_slice(PLANS[t].as_bytes());
        }
        b.push(b'\n');
    }
}

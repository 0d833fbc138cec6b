//! Point-in-time features: what was true of an account as of a day, computed only from facts that happened
//! before that day.
//!
//! One code path serves the live daily pass, training sets and backtests, so there is no train/serve skew:
//! [`compute`] takes the account's stored facts and series and an as-of day, and everything it reads is
//! filtered by event time (`< as_of`). Attributes come from their history as of the day
//! ([`bellwether_store::AccountFacts::view`]); ARR falls back to the subscriptions running that day.
//!
//! - [`usage`]: activity levels and trends from the daily series;
//! - [`adoption`]: breadth of use against the features common on the account's plan, segment or book;
//! - [`context`]: what the whole book holds (which sources, segment medians, common features), once per pass;
//! - [`sentiment`]: the tone of ticket text, from −1 (frustrated) to 1 (thankful).
#![deny(missing_docs)]

pub mod adoption;
pub mod context;
pub mod peers;
pub use bellwether_text::sentiment;
pub mod usage;

pub use context::BookContext;

use bellwether_core::model::{
    BillingKind, ContactStatus, InteractionKind, OutcomeKind, Priority, Response, Role,
};
use bellwether_core::series::AccountSeries;
use bellwether_core::{AccountId, Day, Money};
use bellwether_store::AccountFacts;
use serde::Serialize;

/// Everything the health score and the worklist read about one account as of one day. `None` means the input
/// is missing (its source holds nothing for the account), not zero.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AccountFeatures {
    /// The account.
    pub account_id: AccountId,
    /// The day (facts before it were used).
    pub as_of: Day,
    /// Owner as of the day.
    pub owner: Option<String>,
    /// Segment as of the day.
    pub segment: Option<String>,
    /// ARR in minor units as of the day (attribute, else running subscriptions × 12).
    pub arr_minor: Option<i64>,
    /// Seats purchased as of the day.
    pub seats: Option<i64>,
    /// Days since the contract started.
    pub tenure_days: Option<i64>,
    /// Days until the next renewal.
    pub days_to_renewal: Option<i64>,
    /// Length in days of the last subscription term that ended before the day (about 30 for monthly billing, 365
    /// for annual).
    pub term_days: Option<i64>,
    /// Whether the account had ended (churned) before the day.
    pub churned: bool,
    /// Usage levels and trends.
    pub usage: usage::Usage,
    /// Tickets opened in the last 28 days.
    pub tickets_28d: Option<f64>,
    /// Tickets per 28 days over the 90 days before those.
    pub tickets_baseline_28d: Option<f64>,
    /// High or urgent tickets open at the day.
    pub open_high_priority: Option<f64>,
    /// SLA breaches in the last 90 days.
    pub sla_breaches_90d: Option<f64>,
    /// Escalations in the last 90 days.
    pub escalations_90d: Option<f64>,
    /// Mean CSAT (1–5) of tickets closed in the last 90 days.
    pub csat_90d: Option<f64>,
    /// Seat utilisation divided by the median of the account's segment (1.0 = the median peer).
    pub utilisation_vs_peers: Option<f64>,
    /// Events per seat in 28 days divided by the segment's median.
    pub usage_per_seat_vs_peers: Option<f64>,
    /// The segment's median seat utilisation.
    pub peer_utilisation: Option<f64>,
    /// The share of ARR the account's expansions of the last 365 days added to the ARR before them.
    pub expansion_share_365d: Option<f64>,
    /// The segment's median of that share over its accounts that expanded ([`peers`]).
    pub peer_expansion_share: Option<f64>,
    /// Mean sentiment (−1 to 1, see [`sentiment`]) of tickets opened in the last 45 days.
    pub sentiment_45d: Option<f64>,
    /// Mean sentiment of tickets opened 45 to 365 days before the day: the account's own baseline.
    pub sentiment_baseline: Option<f64>,
    /// Whether an active champion is known.
    pub has_champion: Option<bool>,
    /// Whether an active executive sponsor is known.
    pub has_sponsor: Option<bool>,
    /// Days since a champion or sponsor left, if one did in the last 180 days.
    pub key_contact_left_days: Option<i64>,
    /// Days since the last meeting.
    pub days_since_meeting: Option<i64>,
    /// QBR invites declined or ignored in the last 180 days.
    pub qbr_missed_180d: Option<f64>,
    /// QBR invites accepted in the last 180 days.
    pub qbr_accepted_180d: Option<f64>,
    /// Latest NPS score in the last 365 days.
    pub nps_latest: Option<f64>,
    /// Payment failures in the last 90 days.
    pub payment_failures_90d: Option<f64>,
    /// Seat reductions and downgrades in the last 180 days.
    pub downgrades_180d: Option<f64>,
    /// ARR as of the day in its own currency (`arr_minor` with its currency); `None` when unknown or when the
    /// running subscriptions it falls back to are in several currencies.
    pub arr: Option<Money>,
    /// ARR in the book's reporting currency ([`BookContext::rates`]): the figure sums and rankings use.
    /// `None` when ARR is unknown or its currency has no configured rate.
    pub arr_reporting: Option<Money>,
    /// Plan as of the day.
    pub plan: Option<String>,
}

impl AccountFeatures {
    /// Whether a model scores (and learns from) the account on its day: a customer that has started (a
    /// contract or subscription began, or usage was seen) and has not churned.
    pub fn scorable(&self) -> bool {
        !self.churned && (self.tenure_days.is_some() || self.usage.days_since_first.is_some())
    }
}

fn days_between(a: Day, b: Day) -> i64 {
    (b.0 - a.0) as i64
}

/// Computes an account's features as of `as_of` from its facts and series. Reads nothing dated on or after
/// `as_of`.
pub fn compute(
    id: &AccountId,
    facts: &AccountFacts,
    series: Option<&AccountSeries>,
    as_of: Day,
    ctx: &BookContext,
) -> AccountFeatures {
    let t = as_of.start();
    let view = facts.view_current(id, as_of, ctx.current_at);
    let subs_running: Vec<_> = facts
        .subscriptions
        .iter()
        .filter(|s| s.start < as_of && s.end.is_none_or(|e| e >= as_of))
        .collect();
    // ARR: the attribute, else 12 × the running subscriptions' monthly amounts, each currency converted.
    let (arr, arr_reporting) = match view.arr {
        Some(m) => (Some(m), ctx.rates.convert(m).ok()),
        None if subs_running.is_empty() => (None, None),
        None => {
            let yearly = |s: &&bellwether_core::model::Subscription| Money {
                minor: s.mrr.minor.saturating_mul(12),
                currency: s.mrr.currency,
            };
            let first = subs_running[0].mrr.currency;
            let one_currency = subs_running.iter().all(|s| s.mrr.currency == first);
            let reporting: Option<i64> = subs_running
                .iter()
                .map(|s| ctx.rates.convert(yearly(s)).ok().map(|m| m.minor))
                .sum();
            let reporting = reporting.map(|minor| Money {
                minor,
                currency: ctx.rates.reporting(),
            });
            let own = one_currency.then(|| Money {
                minor: subs_running.iter().map(|s| yearly(s).minor).sum(),
                currency: first,
            });
            (own, reporting)
        }
    };
    let arr_minor = arr.map(|m| m.minor);
    let seats = view.seats.or_else(|| {
        (!subs_running.is_empty()).then(|| subs_running.iter().map(|s| s.quantity).sum())
    });
    let started = view.contract_start.or_else(|| {
        facts
            .subscriptions
            .iter()
            .filter(|s| s.start < as_of)
            .map(|s| s.start)
            .min()
    });
    let had_subs = facts.subscriptions.iter().any(|s| s.start < as_of);
    // The current assessment also counts a churn recorded for the day itself: an ended account leaves the list
    // at once.
    let churn_by = if ctx.current_at.is_some() {
        as_of.plus(1)
    } else {
        as_of
    };
    let churned = facts
        .outcomes
        .iter()
        .any(|o| o.kind == OutcomeKind::Churned && o.date < churn_by)
        || (had_subs
            && subs_running.is_empty()
            && !facts.subscriptions.iter().any(|s| s.start >= as_of));
    // What the last year's expansions added, against the ARR before them (today's ARR less what they added).
    let expanded: i64 = facts
        .outcomes
        .iter()
        .filter(|o| o.kind == OutcomeKind::Expanded && o.date < as_of && o.date >= as_of.plus(-365))
        .filter_map(|o| o.arr_delta.filter(|d| *d > 0))
        .sum();
    let expansion_share_365d = match arr_minor {
        Some(now) if expanded > 0 && now > expanded => {
            Some(expanded as f64 / (now - expanded) as f64)
        }
        _ => None,
    };
    let mut f = AccountFeatures {
        account_id: id.clone(),
        as_of,
        owner: view.owner.clone(),
        segment: view.segment.clone(),
        expansion_share_365d,
        arr_minor,
        seats,
        tenure_days: started.map(|s| days_between(s, as_of)),
        days_to_renewal: view
            .renewal_date
            .filter(|r| *r >= as_of)
            .map(|r| days_between(as_of, r)),
        churned,
        // The term the latest subscription started by then states, else the last completed term (a running
        // subscription's end may be a cancellation recorded later).
        term_days: facts
            .subscriptions
            .iter()
            .filter(|s| s.start < as_of)
            .filter_map(|s| s.term_days.map(|t| (s.start, i64::from(t))))
            .max()
            .or_else(|| {
                facts
                    .subscriptions
                    .iter()
                    .filter_map(|s| {
                        s.end
                            .filter(|e| *e < as_of)
                            .map(|e| (e, days_between(s.start, e)))
                    })
                    .max()
            })
            .map(|(_, d)| d),
        usage: usage::Usage::compute(series, as_of, seats),
        arr,
        arr_reporting,
        plan: view.plan.clone(),
        ..Default::default()
    };

    if ctx.has_tickets {
        let opened: Vec<_> = facts.tickets.iter().filter(|k| k.opened_at < t).collect();
        let in_days = |k: &&bellwether_core::model::Ticket, from: i32, to: i32| {
            let d = k.opened_at.day();
            d >= as_of.plus(-from) && d < as_of.plus(-to)
        };
        f.tickets_28d = Some(opened.iter().filter(|k| in_days(k, 28, 0)).count() as f64);
        f.tickets_baseline_28d =
            Some(opened.iter().filter(|k| in_days(k, 118, 28)).count() as f64 * 28.0 / 90.0);
        f.open_high_priority = Some(
            opened
                .iter()
                .filter(|k| {
                    matches!(k.priority, Priority::High | Priority::Urgent)
                        && k.closed_at.is_none_or(|c| c >= t)
                })
                .count() as f64,
        );
        f.sla_breaches_90d = Some(
            opened
                .iter()
                .filter(|k| in_days(k, 90, 0) && k.sla_breached)
                .count() as f64,
        );
        f.escalations_90d = Some(
            opened
                .iter()
                .filter(|k| in_days(k, 90, 0) && k.escalated)
                .count() as f64,
        );
        let csats: Vec<f64> = opened
            .iter()
            .filter(|k| {
                k.closed_at
                    .is_some_and(|c| c < t && c.day() >= as_of.plus(-90))
            })
            .filter_map(|k| k.csat)
            .collect();
        f.csat_90d = (!csats.is_empty()).then(|| csats.iter().sum::<f64>() / csats.len() as f64);
        let mean_sentiment = |from: i32, to: i32| {
            let scores: Vec<f64> = opened
                .iter()
                .filter(|k| in_days(k, from, to))
                .map(|k| sentiment::ticket_score(k))
                .collect();
            (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64)
        };
        f.sentiment_45d = mean_sentiment(45, 0);
        f.sentiment_baseline = mean_sentiment(365, 45);
    }

    if ctx.has_contacts {
        let contacts = facts.contacts_current(as_of, ctx.current_at);
        let active = |r: Role| {
            contacts
                .iter()
                .any(|c| c.role == Some(r) && c.status == ContactStatus::Active)
        };
        f.has_champion = Some(active(Role::Champion));
        f.has_sponsor = Some(active(Role::ExecutiveSponsor));
        // A champion or sponsor whose status turned to left/inactive in the last 180 days.
        f.key_contact_left_days = facts
            .contacts
            .iter()
            .filter_map(|c| {
                let snap_role = bellwether_core::history::snapshot(&c.attrs, t, None);
                let key = matches!(
                    snap_role.get("role").and_then(|r| Role::parse(r).ok()),
                    Some(Role::Champion | Role::ExecutiveSponsor)
                );
                if !key {
                    return None;
                }
                c.attrs
                    .iter()
                    .filter(|a| {
                        a.attr == "status"
                            && a.valid_from < t
                            && a.valid_from.day() >= as_of.plus(-180)
                    })
                    .filter(|a| {
                        a.value
                            .as_deref()
                            .and_then(|v| ContactStatus::parse(v).ok())
                            .is_some_and(|s| s != ContactStatus::Active)
                    })
                    .map(|a| days_between(a.valid_from.day(), as_of))
                    .min()
            })
            .min();
    }

    if ctx.has_interactions {
        let past: Vec<_> = facts.interactions.iter().filter(|i| i.at < t).collect();
        f.days_since_meeting = past
            .iter()
            .filter(|i| i.kind == InteractionKind::Meeting)
            .map(|i| days_between(i.at.day(), as_of))
            .min();
        let qbr = |ok: fn(Option<Response>) -> bool| {
            past.iter()
                .filter(|i| {
                    i.kind == InteractionKind::QbrInvite
                        && i.at.day() >= as_of.plus(-180)
                        && ok(i.response)
                })
                .count() as f64
        };
        f.qbr_missed_180d = Some(qbr(|r| {
            matches!(r, Some(Response::Declined | Response::Ignored))
        }));
        f.qbr_accepted_180d = Some(qbr(|r| matches!(r, Some(Response::Accepted))));
        f.nps_latest = past
            .iter()
            .rev()
            .find(|i| i.kind == InteractionKind::Nps && i.at.day() >= as_of.plus(-365))
            .and_then(|i| i.score);
    }

    if ctx.has_billing {
        let recent = |days: i32| {
            facts
                .billing
                .iter()
                .filter(move |b| b.at < t && b.at.day() >= as_of.plus(-days))
        };
        f.payment_failures_90d = Some(
            recent(90)
                .filter(|b| b.kind == BillingKind::PaymentFailed)
                .count() as f64,
        );
        f.downgrades_180d = Some(
            recent(180)
                .filter(|b| {
                    b.kind == BillingKind::Downgrade
                        || b.seats_delta.is_some_and(|s| s < 0)
                        || b.mrr_delta.is_some_and(|m| m < 0)
                })
                .count() as f64,
        );
    }
    peers::apply(&mut f, &ctx.peers);
    adoption::apply(&mut f, &ctx.common);
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use bellwether_core::model::Ticket;
    use bellwether_core::Timestamp;

    fn ticket(day: Day, subject: &str) -> Ticket {
        Ticket {
            id: format!("t{}", day.0),
            account_id: AccountId::from("a"),
            contact_id: None,
            opened_at: Timestamp(day.start().0 + 3_600_000),
            closed_at: None,
            priority: Priority::Normal,
            status: "open".into(),
            escalated: false,
            first_response_minutes: None,
            resolution_minutes: None,
            sla_breached: false,
            csat: None,
            subject: subject.into(),
            body: String::new(),
            sentiment: None,
            received_at: Timestamp(0),
        }
    }

    #[test]
    fn ticket_sentiment_windows_split_at_45_days_and_ignore_the_future() {
        let as_of = Day::ymd(2025, 6, 1);
        let facts = AccountFacts {
            tickets: vec![
                ticket(as_of.plus(-200), "Thanks, great support as always"),
                ticket(as_of.plus(-100), "Thanks so much, really helpful"),
                ticket(as_of.plus(-20), "Unacceptable: still broken, terrible"),
                ticket(as_of.plus(-3), "Frustrated and disappointed"),
                ticket(as_of, "Love it, thanks, great work"),
            ],
            ..Default::default()
        };
        let ctx = BookContext {
            has_tickets: true,
            ..Default::default()
        };
        let f = compute(&AccountId::from("a"), &facts, None, as_of, &ctx);
        let (recent, base) = (f.sentiment_45d.unwrap(), f.sentiment_baseline.unwrap());
        assert!(recent < -0.5, "{recent}");
        assert!(base > 0.5, "{base}");
        // Without any ticket source both stay missing.
        let f = compute(
            &AccountId::from("a"),
            &facts,
            None,
            as_of,
            &BookContext::default(),
        );
        assert_eq!((f.sentiment_45d, f.sentiment_baseline), (None, None));
        // A window without tickets is missing, not zero.
        let f = compute(&AccountId::from("a"), &facts, None, as_of.plus(-30), &ctx);
        assert_eq!(f.sentiment_45d, None);
    }
}

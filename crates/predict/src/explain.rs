//! Plain-words drivers from exact contributions.
//!
//! A tree model's contributions add up on the log-odds scale: `bias + Σ φ = raw score`. Users read calibrated
//! probabilities, so each reason group `g` (its columns' contributions summed, so correlated columns read as
//! one reason) is shown as its share of the move from the base probability `p₀ = calibrate(bias)` to the
//! account's probability `p = calibrate(raw)`:
//!
//! ```text
//! points(g) = (p − p₀) × Σφ(g) / Σφ      (in percentage points; Σ points(g) = p − p₀ exactly)
//! ```
//!
//! so the points shown add up to what the user sees. Calibration is non-decreasing, so `p − p₀` has the sign
//! of `Σφ` and a group that pushes the score up is shown adding risk. Each group is described by its column
//! with the largest contribution in the group's direction, in words with the account's own numbers. The five
//! largest reasons are kept by name and the rest summed into one `other` driver, so what is stored still adds up.

use crate::labels::Target;
use crate::vector::{Column, Group};
use bellwether_core::model::Driver;
use bellwether_ml::calibrate::Calibration;

/// Drivers smaller than this many percentage points are not shown.
pub const MIN_POINTS: f64 = 0.5;

/// Reasons kept by name per prediction; the others are stored summed as one `other` driver.
pub const MAX_DRIVERS: usize = 5;

/// The calibrated probability, the base probability and every group's driver (largest first) of one row.
pub fn explain(
    columns: &[Column],
    x: &[f64],
    contrib: &[f64],
    calibration: &Calibration,
    target: Target,
) -> (f64, f64, Vec<Driver>) {
    let n = columns.len();
    let bias = contrib[n];
    let total: f64 = contrib[..n].iter().sum();
    let p = calibration.apply(bias + total);
    let p0 = calibration.apply(bias);
    let mut groups: Vec<(Group, f64)> = Vec::new();
    for (c, phi) in columns.iter().zip(contrib) {
        match groups.iter_mut().find(|g| g.0 == c.group) {
            Some(g) => g.1 += phi,
            None => groups.push((c.group, *phi)),
        }
    }
    let scale = if total.abs() > 1e-12 {
        (p - p0) / total
    } else {
        0.0
    };
    let mut drivers: Vec<Driver> = groups
        .into_iter()
        .map(|(g, sum)| {
            // The column that moved the group most in its own direction.
            let lead = columns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.group == g)
                .max_by(|a, b| {
                    (contrib[a.0] * sum.signum()).total_cmp(&(contrib[b.0] * sum.signum()))
                })
                .map(|(j, c)| describe(&c.name, x[j]))
                .unwrap_or_default();
            let points = sum * scale * 100.0;
            Driver {
                reason: format!("{g:?}").to_lowercase(),
                points,
                text: format!(
                    "{} ({}{:.0} points of {})",
                    lead,
                    if points >= 0.0 { "+" } else { "−" },
                    points.abs(),
                    target.noun()
                ),
            }
        })
        .collect();
    drivers.sort_by(|a, b| b.points.abs().total_cmp(&a.points.abs()));
    // The largest reasons by name; the rest summed into one, so the stored drivers still add up.
    if drivers.len() > MAX_DRIVERS {
        let rest: f64 = drivers.drain(MAX_DRIVERS..).map(|d| d.points).sum();
        if rest.abs() >= 1e-9 {
            drivers.push(Driver {
                reason: "other".into(),
                points: rest,
                text: format!(
                    "other reasons together ({}{:.1} points of {})",
                    if rest >= 0.0 { "+" } else { "−" },
                    rest.abs(),
                    target.noun()
                ),
            });
        }
    }
    (p, p0, drivers)
}

fn pct(v: f64) -> String {
    format!("{:.0}%", v.abs() * 100.0)
}

fn change(v: f64, what: &str, against: &str) -> String {
    if v < 0.0 {
        format!("{what} fell {} against {against}", pct(v))
    } else {
        format!("{what} rose {} against {against}", pct(v))
    }
}

/// One column's value in words.
pub fn describe(name: &str, v: f64) -> String {
    if let Some(rest) = name.strip_prefix("feature:") {
        let (feature, kind) = rest.rsplit_once(':').unwrap_or((rest, ""));
        return match (kind, v.is_nan()) {
            (_, true) => format!("\"{feature}\" has no usage history"),
            ("trend", _) => change(v, &format!("use of \"{feature}\""), "its 90-day baseline"),
            _ => format!("\"{feature}\" last used {v:.0} days ago"),
        };
    }
    if let Some(seg) = name.strip_prefix("segment=") {
        return if v > 0.5 {
            format!("segment {seg}")
        } else {
            format!("not in segment {seg}")
        };
    }
    if let Some(plan) = name.strip_prefix("plan=") {
        return if v > 0.5 {
            format!("on the {plan} plan")
        } else {
            format!("not on the {plan} plan")
        };
    }
    if v.is_nan() {
        return match name {
            "usage_trend" | "usage_month_change" | "events_28d" | "events_7d" | "events_90d"
            | "days_since_active" => "no product usage history yet".into(),
            "nps" => "no NPS answer in the last year".into(),
            "csat_90d" => "no CSAT rating in 90 days".into(),
            "sentiment_45d" | "sentiment_change" => {
                "no recent tickets to read sentiment from".into()
            }
            "days_since_meeting" => "no meeting on record".into(),
            "key_contact_left_days" => "no champion or sponsor left in 180 days".into(),
            "days_to_renewal" => "renewal date unknown".into(),
            "utilisation" | "utilisation_vs_peers" => "seat utilisation unknown".into(),
            other => format!("{} unknown", other.replace('_', " ")),
        };
    }
    match name {
        "arr" => format!("ARR ${v:.0}"),
        "seats" => format!("{v:.0} seats bought"),
        "tenure_days" => format!("customer for {v:.0} days"),
        "days_to_renewal" => format!("renewal in {v:.0} days"),
        "term_days" if v < 62.0 => "billed monthly".into(),
        "term_days" => format!("on a {:.0}-month term", v / 30.4),
        "events_7d" => format!("{v:.0} product events in the last 7 days"),
        "events_28d" => format!("{v:.0} product events in the last 28 days"),
        "events_90d" => format!("{v:.0} product events in the last 90 days"),
        "usage_trend" => change(
            v,
            "product usage over the last 28 days",
            "its own 90-day baseline",
        ),
        "usage_month_change" => change(
            v,
            "product usage over the last 28 days",
            "the 28 days before",
        ),
        "usage_quarter_trend" => change(
            v,
            "product usage over the last 90 days",
            "the 90 days before",
        ),
        "active_users_quarter_trend" => change(
            v,
            "daily active users over the last 90 days",
            "the 90 days before",
        ),
        "events_per_seat" => format!("{v:.1} events per seat in 28 days"),
        "usage_per_seat_vs_peers" => {
            format!("usage per seat at {} of its segment's median", pct(v))
        }
        "days_since_active" => format!("last product activity {v:.0} days ago"),
        "dau_28d" => format!("{v:.1} daily active users on average"),
        "dau_trend" => change(v, "daily active users", "their 90-day baseline"),
        "mau" => format!("{v:.0} monthly active users"),
        "mau_trend" => change(v, "monthly active users", "the three months before"),
        "wau" => format!("{v:.0} weekly active users"),
        "stickiness" => format!("stickiness (daily ÷ monthly active users) {}", pct(v)),
        "features_used_28d" => format!("{v:.0} features used in 28 days"),
        "breadth" => format!("{} of the features common among its peers in use", pct(v)),
        "features_abandoned" => format!("{v:.0} previously used features abandoned"),
        "utilisation" => format!("{} of seats in use", pct(v)),
        "utilisation_vs_peers" => format!("seat utilisation at {} of its segment's median", pct(v)),
        "tickets_28d" => format!("{v:.0} tickets in 28 days"),
        "ticket_trend" => change(v, "ticket volume", "its 90-day baseline"),
        "open_high_priority" => format!("{v:.0} high-priority tickets open"),
        "sla_breaches_90d" => format!("{v:.0} SLA breaches in 90 days"),
        "escalations_90d" => format!("{v:.0} escalations in 90 days"),
        "csat_90d" => format!("CSAT {v:.1} over 90 days"),
        "sentiment_45d" => format!("ticket sentiment {v:+.2} over 45 days"),
        "sentiment_change" => format!("ticket sentiment {v:+.2} against its baseline"),
        "has_champion" if v > 0.5 => "an active champion".into(),
        "has_champion" => "no active champion".into(),
        "has_sponsor" if v > 0.5 => "an active executive sponsor".into(),
        "has_sponsor" => "no active executive sponsor".into(),
        "key_contact_left_days" => format!("a champion or sponsor left {v:.0} days ago"),
        "days_since_meeting" => format!("last meeting {v:.0} days ago"),
        "qbr_missed_180d" => format!("{v:.0} QBR invitations declined or ignored in 180 days"),
        "qbr_accepted_180d" => format!("{v:.0} QBRs accepted in 180 days"),
        "nps" => format!("latest NPS answer {v:.0}"),
        "payment_failures_90d" => format!("{v:.0} failed payments in 90 days"),
        "downgrades_180d" => format!("{v:.0} downgrades or seat reductions in 180 days"),
        other => format!("{} {v:.2}", other.replace('_', " ")),
    }
}

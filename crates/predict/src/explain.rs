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
use crate::vector::{change, def, Column, Def, Group};
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
    let n_groups = groups.len();
    let scale = if total.abs() > 1e-12 {
        (p - p0) / total
    } else {
        0.0
    };
    // Points for every group; words only for the ones kept by name.
    let mut ranked: Vec<(Group, f64, f64)> = groups
        .into_iter()
        .map(|(g, sum)| (g, sum, sum * scale * 100.0))
        .collect();
    ranked.sort_by(|a, b| b.2.abs().total_cmp(&a.2.abs()));
    let rest: f64 = ranked.iter().skip(MAX_DRIVERS).map(|r| r.2).sum();
    let mut drivers: Vec<Driver> = ranked
        .into_iter()
        .take(MAX_DRIVERS)
        .map(|(g, sum, points)| {
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
    // The rest summed into one, so the stored drivers still add up.
    if n_groups > MAX_DRIVERS && rest.abs() >= 1e-9 {
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
    (p, p0, drivers)
}

/// One column's value in words: a declared column by its declaration ([`crate::vector::Def`]), a learned one
/// (per-event, segment and plan columns) by its kind.
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
    match (def(name), v.is_nan()) {
        (Some(d), false) => (d.says)(v),
        (
            Some(Def {
                missing: Some(m), ..
            }),
            true,
        ) => (*m).to_string(),
        (_, true) => format!("{} unknown", name.replace('_', " ")),
        (None, false) => format!("{} {v:.2}", name.replace('_', " ")),
    }
}

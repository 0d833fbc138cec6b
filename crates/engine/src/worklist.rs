//! What people read: each CSM's worklist, ranked by ARR × risk, and a portfolio summary for the leader.
//!
//! The risk is the model's calibrated churn probability once a model is trained and has scored the day (the
//! priority is then the expected ARR lost), and before that the risk proxy, a logistic curve of the rules
//! health score (see [`crate::assess::risk_proxy`]): a proxy, not a probability. Either way the priority (in
//! dollars) says where a call protects the most revenue.

use crate::short_money;
use bellwether_core::model::Assessment;
use serde::Serialize;
use std::collections::BTreeMap;

/// The risk an account is ranked by: the model's churn probability when a model has scored the day, else
/// the rules score's risk proxy.
pub fn ranking_risk(risk_proxy: f64, churn_probability: Option<f64>) -> f64 {
    churn_probability.unwrap_or(risk_proxy)
}

/// An account's priority, the one place it is computed: ARR in the reporting currency (major units, 0 when
/// unknown) × its risk (see [`ranking_risk`]), the ARR expected to be lost. Every stored priority and every
/// printed "at stake" figure comes from here.
pub fn priority(arr_reporting: Option<bellwether_core::Money>, risk: f64) -> f64 {
    arr_reporting.map_or(0.0, |m| m.major()) * risk
}

/// One line of a worklist.
#[derive(Clone, Debug, Serialize)]
pub struct WorklistItem {
    /// 1-based rank.
    pub rank: usize,
    /// The account.
    pub account_id: String,
    /// The day of the assessment this line comes from.
    pub as_of: bellwether_core::Day,
    /// Health 0–100.
    pub health: f64,
    /// Risk proxy 0–1 (not a probability).
    pub risk_proxy: f64,
    /// The model's churn probability before renewal, when a model has scored the day.
    pub churn_probability: Option<f64>,
    /// ARR × risk (the churn probability when known, else the risk proxy), in major units (see [`priority`]).
    pub priority: f64,
    /// ARR in minor units of the reporting currency.
    pub arr_minor: Option<i64>,
    /// Why it ranks here.
    pub reason: String,
}

/// The top `limit` accounts of an owner (all owners with `None`), highest priority first.
pub fn worklist(
    assessments: &[Assessment],
    owner: Option<&str>,
    limit: usize,
) -> Vec<WorklistItem> {
    let mut rows: Vec<&Assessment> = assessments
        .iter()
        .filter(|a| owner.is_none_or(|o| a.owner.as_deref() == Some(o)))
        .collect();
    rows.sort_by(|a, b| {
        b.priority
            .total_cmp(&a.priority)
            .then_with(|| a.account_id.cmp(&b.account_id))
    });
    rows.into_iter()
        .take(limit)
        .enumerate()
        .map(|(i, a)| WorklistItem {
            rank: i + 1,
            account_id: a.account_id.to_string(),
            as_of: a.as_of,
            health: a.health,
            risk_proxy: a.risk_proxy,
            churn_probability: a.churn_probability,
            priority: a.priority,
            arr_minor: a.arr_minor,
            reason: a.reason.clone(),
        })
        .collect()
}

/// The owner with the most ARR at risk (sum of ARR × risk proxy): the demo's choice of whose list to show.
pub fn busiest_owner(assessments: &[Assessment]) -> Option<String> {
    let mut by: BTreeMap<&str, f64> = BTreeMap::new();
    for a in assessments {
        if let Some(o) = &a.owner {
            *by.entry(o).or_default() += a.priority;
        }
    }
    by.into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(o, _)| o.to_string())
}

/// A share as a percentage a reader can use: one decimal below 10% (`0.4%`), none above (`43%`).
fn share(x: f64) -> String {
    let p = x * 100.0;
    if p > 0.0 && p < 9.95 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

/// A paragraph for the leader: size of the book, health, ARR at risk and renewals in danger. ARR is summed in
/// the assessments' reporting currency, `reporting`.
pub fn portfolio_summary(
    assessments: &[Assessment],
    ended: usize,
    reporting: bellwether_core::Currency,
) -> String {
    let n = assessments.len();
    if n == 0 {
        return "No active accounts to summarise.".to_string();
    }
    let arr: i64 = assessments.iter().filter_map(|a| a.arr_minor).sum();
    let at_risk: Vec<&Assessment> = assessments.iter().filter(|a| a.health < 50.0).collect();
    let risk_arr: i64 = at_risk.iter().filter_map(|a| a.arr_minor).sum();
    let watch = assessments
        .iter()
        .filter(|a| (50.0..70.0).contains(&a.health))
        .count();
    let mean = assessments.iter().map(|a| a.health).sum::<f64>() / n as f64;
    let renewing_at_risk = at_risk
        .iter()
        .filter(|a| a.reason.contains("renews in"))
        .count();
    let owners: std::collections::BTreeSet<_> = assessments
        .iter()
        .filter_map(|a| a.owner.as_deref())
        .collect();
    let mut causes: BTreeMap<&str, usize> = BTreeMap::new();
    for a in &at_risk {
        if let Some(c) = a
            .components
            .iter()
            .min_by(|x, y| x.score.total_cmp(&y.score))
        {
            *causes.entry(c.name.as_str()).or_default() += 1;
        }
    }
    let mut causes: Vec<_> = causes.into_iter().collect();
    causes.sort_by_key(|c| std::cmp::Reverse(c.1));
    let cause_text = causes
        .iter()
        .take(3)
        .map(|(c, k)| format!("{c} ({k})"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{n} active accounts worth {} ARR across {} CSMs{}; mean health {mean:.0}. {} accounts ({} of ARR, {}) are at risk with health below 50, \
         {renewing_at_risk} of them renewing within 120 days; {watch} more are on watch (50–69). The weakest areas among at-risk accounts: {}. \
         Health here is the rules score and its risk is a proxy, not a probability.",
        short_money(bellwether_core::Money { minor: arr, currency: reporting }),
        owners.len(),
        if ended > 0 { format!(" ({ended} accounts had already ended and are not ranked)") } else { String::new() },
        at_risk.len(),
        share(if arr > 0 { risk_arr as f64 / arr as f64 } else { 0.0 }),
        short_money(bellwether_core::Money { minor: risk_arr, currency: reporting }),
        if cause_text.is_empty() { "none".to_string() } else { cause_text },
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn small_shares_keep_a_decimal() {
        assert_eq!(super::share(0.0043), "0.4%");
        assert_eq!(super::share(0.43), "43%");
        assert_eq!(super::share(0.0), "0%");
    }
}

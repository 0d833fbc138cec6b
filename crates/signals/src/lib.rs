//! Signals: behavioural changes that predict an outcome, found as of a day and explained.
//!
//! Each detector is one file in [`detectors`] implementing [`Detector`], and is registered by one line in
//! [`detectors::all`]. A detector reads one account as of one day through a [`Context`] (its point-in-time
//! features, facts and series, and the working-day [`calendar::Calendar`]) and returns at most one
//! [`Detection`]: kind, direction (risk or expansion), severity, the evidence (the numbers and what they were
//! compared with), a plain-words explanation and a suggested action. Keeping one open signal per condition,
//! cooldowns and the lifecycle are the engine's job; detectors only say whether the condition holds today.
//!
//! To add a detector: write `detectors/my_detector.rs` with a struct implementing [`Detector`], add
//! `mod my_detector;` and one line to [`detectors::all`] in `detectors/mod.rs`.
#![deny(missing_docs)]

pub mod calendar;
pub mod detectors;

use bellwether_core::model::Severity;
use bellwether_core::series::AccountSeries;
use bellwether_core::{AccountId, Day};
use bellwether_features::AccountFeatures;
use bellwether_store::AccountFacts;
use calendar::Calendar;
use serde::Serialize;

/// Whether a signal warns of churn or contraction, or points to growth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Churn or contraction risk.
    Risk,
    /// An expansion opportunity.
    Expansion,
}

/// What a detector sees of one account as of one day. Everything in it is point-in-time: facts and series are
/// the account's whole record, so a detector must only read days before `as_of` (the helpers on
/// [`Context`] do).
pub struct Context<'a> {
    /// The account.
    pub account: &'a AccountId,
    /// The day of the pass: facts before it count.
    pub as_of: Day,
    /// Features as of the day.
    pub features: &'a AccountFeatures,
    /// The account's facts (filter by time).
    pub facts: &'a AccountFacts,
    /// The account's series (filter by day).
    pub series: Option<&'a AccountSeries>,
    /// Weekends and public holidays.
    pub calendar: &'a Calendar,
}

impl Context<'_> {
    /// The account's total events per day over `[as_of - days, as_of)`, oldest first.
    pub fn daily_events(&self, days: i32) -> Vec<f64> {
        let from = self.as_of.plus(-days);
        let mut out = vec![0.0; days.max(0) as usize];
        if let Some(s) = self.series {
            for (name, ser) in &s.metrics {
                if name.starts_with(bellwether_core::series::EVENT_PREFIX) {
                    for (d, v) in ser.range(from, self.as_of) {
                        out[(d.0 - from.0) as usize] += v;
                    }
                }
            }
        }
        out
    }

    /// Values of one metric per day over `[as_of - days, as_of)`, oldest first (zero where absent).
    pub fn daily(&self, metric: &str, days: i32) -> Vec<f64> {
        let from = self.as_of.plus(-days);
        match self.series.and_then(|s| s.get(metric)) {
            Some(s) => s.dense(from, self.as_of),
            None => vec![0.0; days.max(0) as usize],
        }
    }
}

/// What a detector found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Detection {
    /// The detector's kind, such as `usage_drop`.
    pub kind: &'static str,
    /// Risk or expansion.
    pub direction: Direction,
    /// How urgent.
    pub severity: Severity,
    /// The numbers and what they were compared with.
    pub evidence: serde_json::Value,
    /// Plain words, with the account's numbers.
    pub explanation: String,
    /// What to do about it.
    pub suggested_action: String,
}

/// A detector of one kind of behavioural change.
pub trait Detector: Send + Sync {
    /// The stable kind name (snake_case), stored with every signal it raises.
    fn kind(&self) -> &'static str;
    /// Risk or expansion.
    fn direction(&self) -> Direction;
    /// Days after a signal of this kind resolves before the same condition may open a new one.
    fn cooldown_days(&self) -> i32 {
        14
    }
    /// Whether the condition holds for the account as of `cx.as_of`, and why.
    fn detect(&self, cx: &Context) -> Option<Detection>;
}

/// Runs every detector on one account.
pub fn detect_all(detectors: &[Box<dyn Detector>], cx: &Context) -> Vec<Detection> {
    detectors.iter().filter_map(|d| d.detect(cx)).collect()
}

/// Median of a slice (NaN-free), `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[m - 1] + v[m]) / 2.0
    } else {
        v[m]
    })
}

/// Median absolute deviation from the median, scaled to estimate a standard deviation (×1.4826).
pub fn mad(values: &[f64]) -> Option<f64> {
    let m = median(values)?;
    let dev: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
    median(&dev).map(|d| d * 1.4826)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robust_statistics() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        // One outlier barely moves the MAD.
        let m = mad(&[10.0, 11.0, 9.0, 10.0, 10.0, 100.0]).unwrap();
        assert!(m < 2.0, "{m}");
    }
}

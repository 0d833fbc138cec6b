//! The rolling-origin backtest: for each of several cut-offs T, train on the snapshots whose outcome was
//! knowable before T, predict the snapshots from T to the next cut-off, and pool the predictions. The same
//! rows are scored by the rules health score (its risk proxy), so the two read side by side.
//!
//! Reported for both: ROC-AUC, PR-AUC, Brier score, ECE with the reliability table, top-decile lift,
//! precision at k (the top 5% of rows), ARR-weighted recall and precision at the alert threshold, and the
//! warning time: for each account that churned after the first cut-off, the days before its churn from which
//! it stayed in the alert state at every snapshot without a break (an early alarm that lapsed does not count;
//! a churner not in alert at its last snapshot gets 0 days). The alert state has hysteresis: entered at the
//! threshold, left below [`BacktestConfig::exit_ratio`] of it. Thresholds are chosen on training rows only:
//! the model's from its calibration fold, the rules' from the training rows, each the lowest reaching the
//! target precision. Cut-offs are fitted to the history ([`fit_cutoffs`]).

use crate::bundle::{predict, train, TrainConfig};
use crate::dataset::{target_index, TrainingSet};
use crate::labels::Target;
use crate::Result;
use bellwether_core::{AccountId, Day};
use bellwether_ml::metrics::{self, ReliabilityBin};
use serde::Serialize;
use std::collections::BTreeMap;

/// Settings of a backtest.
#[derive(Clone, Debug)]
pub struct BacktestConfig {
    /// What is predicted.
    pub target: Target,
    /// The cut-offs, oldest first (see [`fit_cutoffs`]).
    pub cutoffs: Vec<Day>,
    /// Training settings.
    pub train: TrainConfig,
    /// Hysteresis of the alert state: an account stays in it while its score is at least this share of the
    /// threshold (1: no hysteresis). Warning time and the figures at the alert threshold count alert states.
    pub exit_ratio: f64,
}

/// The most cut-offs fitted when the caller names no number.
pub const MAX_CUTOFFS: usize = 3;

/// Cut-offs that fit a history from `first` to `end` whose snapshots start after `warmup_days` and whose
/// labels close `window_days` after their snapshot (window and grace period): the last cut-off leaves one
/// spacing of snapshots whose windows close before the end of data, the first leaves a window of labelled
/// training snapshots after the warm-up. The spacing (default: the room shared among the cut-offs, 14 to 60
/// days) and the number (default: as many as fit, at most [`MAX_CUTOFFS`]) may be given.
pub fn fit_cutoffs(
    first: Day,
    end: Day,
    warmup_days: i32,
    window_days: i32,
    cutoffs: Option<usize>,
    spacing_days: Option<i32>,
) -> Vec<Day> {
    let span = end.0 - first.0 + 1;
    // Days in which cut-offs can lie: after the warm-up and one window of training labels, before the last
    // window of evaluation labels.
    let room = (span - warmup_days - 2 * window_days).max(0);
    let wanted = cutoffs.unwrap_or(MAX_CUTOFFS).max(1) as i32;
    let spacing = spacing_days
        .unwrap_or_else(|| (room / (wanted + 1)).clamp(14, 60))
        .max(1);
    let n = cutoffs.unwrap_or_else(|| (room / spacing).clamp(1, MAX_CUTOFFS as i32) as usize);
    let last = end.plus(-(window_days + spacing));
    (0..n)
        .rev()
        .map(|k| last.plus(-(k as i32) * spacing))
        .collect()
}

/// Warning time over the churners.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Warning {
    /// Churners evaluated (churned at least `min_lead_days` after the first cut-off).
    pub churners: usize,
    /// Days after the first cut-off a churn must lie to be evaluated: 120, or half the evaluated span on a
    /// shorter history.
    pub min_lead_days: i32,
    /// Median days of unbroken warning.
    pub median_days: f64,
    /// Share of churners warned at least 90 days ahead.
    pub share_90_days: f64,
    /// Share warned at all (flagged at their last snapshot).
    pub share_warned: f64,
    /// The most warning any churner could get (days from the first cut-off to the churn, at most).
    pub max_possible_days: i32,
}

/// One method's pooled report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MethodReport {
    /// `model` or `rules`.
    pub method: String,
    /// Rows scored.
    pub rows: usize,
    /// Positives among them.
    pub positives: usize,
    /// ROC-AUC.
    pub auc: f64,
    /// Average precision.
    pub pr_auc: f64,
    /// Brier score.
    pub brier: f64,
    /// Expected calibration error.
    pub ece: f64,
    /// Positive rate of the top 10% over the base rate.
    pub top_decile_lift: f64,
    /// k of precision at k.
    pub k: usize,
    /// Precision of the k highest scores.
    pub precision_at_k: f64,
    /// Precision of the rows at or above the alert threshold.
    pub precision_at_threshold: f64,
    /// Share of rows flagged.
    pub flagged_share: f64,
    /// Share of the positives' ARR flagged.
    pub arr_weighted_recall: f64,
    /// Warning time.
    pub warning: Warning,
    /// Reliability table.
    pub reliability: Vec<ReliabilityBin>,
}

/// One cut-off's figures.
#[derive(Clone, Debug, Serialize)]
pub struct CutoffReport {
    /// The cut-off.
    pub cutoff: Day,
    /// Training rows with knowable labels.
    pub train_rows: usize,
    /// Evaluation rows.
    pub eval_rows: usize,
    /// Model ROC-AUC on them.
    pub model_auc: f64,
    /// Rules ROC-AUC on them.
    pub rules_auc: f64,
    /// The model's alert threshold.
    pub model_threshold: f64,
    /// The rules' alert threshold.
    pub rules_threshold: f64,
}

/// One evaluated snapshot, for the CSV.
#[derive(Clone, Debug, Serialize)]
pub struct PredictionRow {
    /// The account.
    pub account_id: AccountId,
    /// The snapshot day.
    pub as_of: Day,
    /// The target.
    pub target: &'static str,
    /// The cut-off of the model that scored it.
    pub cutoff: Day,
    /// Calibrated probability.
    pub probability: f64,
    /// The rules score's risk proxy.
    pub rules_risk: f64,
    /// The outcome (1 happened).
    pub label: u8,
    /// ARR on the day (major units).
    pub arr: f64,
}

/// The backtest's result.
#[derive(Clone, Debug, Serialize)]
pub struct BacktestReport {
    /// The target.
    pub target: &'static str,
    /// The target precision of the alert thresholds.
    pub alert_precision: f64,
    /// Per cut-off.
    pub cutoffs: Vec<CutoffReport>,
    /// The model, pooled.
    pub model: MethodReport,
    /// The rules health score, pooled.
    pub rules: MethodReport,
    /// Every evaluated snapshot.
    #[serde(skip)]
    pub predictions: Vec<PredictionRow>,
}

/// Runs the backtest over a training set.
pub fn run(set: &TrainingSet, cfg: &BacktestConfig) -> Result<BacktestReport> {
    let ti = target_index(cfg.target);
    let cutoffs = cfg.cutoffs.clone();
    if cutoffs.is_empty() {
        return Err(crate::PredictError::NotEnoughHistory(
            "a backtest needs at least one cut-off".into(),
        ));
    }
    let mut rows_out = Vec::new();
    let mut flags_model = Vec::new();
    let mut flags_rules = Vec::new();
    let mut per = Vec::new();
    for (k, &cut) in cutoffs.iter().enumerate() {
        let until = cutoffs.get(k + 1).copied().unwrap_or(set.data_end.plus(1));
        let train_cfg = TrainConfig {
            targets: vec![cfg.target],
            baseline: false,
            ..cfg.train.clone()
        };
        let bundle = train(set, Some(cut), &train_cfg).map_err(|e| match e {
            crate::PredictError::NotEnoughHistory(m) => {
                crate::PredictError::NotEnoughHistory(format!(
                "before the cut-off {cut}: {m}; use fewer or later cut-offs (--cutoffs, --spacing)"
            ))
            }
            other => other,
        })?;
        let Some(m) = bundle.target(cfg.target) else {
            return Err(crate::PredictError::NotEnoughHistory(format!(
                "too few {} outcomes before the cut-off {cut}; use fewer or later cut-offs (--cutoffs, --spacing)",
                cfg.target.as_str()
            )));
        };
        let eval: Vec<usize> = (0..set.rows.len())
            .filter(|&i| {
                let r = &set.rows[i];
                r.as_of >= cut && r.as_of < until && r.labels[ti].1 <= set.data_end
            })
            .collect();
        let (p, _) = predict(m, &set.x.take(&eval));
        // The rules threshold from the training rows.
        let train_rows: Vec<usize> = (0..set.rows.len())
            .filter(|&i| set.rows[i].labels[ti].1 <= cut)
            .collect();
        let rules_threshold = crate::bundle::rules_threshold(set, &train_rows, ti, &cfg.train);
        let model_threshold = m.info.alert_threshold;
        let y: Vec<f64> = eval
            .iter()
            .map(|&i| f64::from(u8::from(set.rows[i].labels[ti].0)))
            .collect();
        let risk: Vec<f64> = eval.iter().map(|&i| set.rows[i].rules_risk).collect();
        per.push(CutoffReport {
            cutoff: cut,
            train_rows: train_rows.len(),
            eval_rows: eval.len(),
            model_auc: metrics::roc_auc(&p, &y),
            rules_auc: metrics::roc_auc(&risk, &y),
            model_threshold,
            rules_threshold,
        });
        for (j, &i) in eval.iter().enumerate() {
            let r = &set.rows[i];
            flags_model.push(model_threshold);
            flags_rules.push(rules_threshold);
            rows_out.push(PredictionRow {
                account_id: r.account.clone(),
                as_of: r.as_of,
                target: cfg.target.as_str(),
                cutoff: cut,
                probability: p[j],
                rules_risk: r.rules_risk,
                label: u8::from(r.labels[ti].0),
                arr: r.arr,
            });
        }
    }
    let flags_model = alert_states(&rows_out, |r| r.probability, &flags_model, cfg.exit_ratio);
    let flags_rules = alert_states(&rows_out, |r| r.rules_risk, &flags_rules, cfg.exit_ratio);
    // Churn days of the churners, from the labels: the earliest knowable positive day of the 90-day churn
    // target is the churn itself.
    let churn_day = churn_days(set);
    let first_cut = cutoffs[0];
    let arr: Vec<f64> = rows_out.iter().map(|r| r.arr).collect();
    let report = |method: &str, score: Vec<f64>, flags: &[bool]| -> MethodReport {
        let y: Vec<f64> = rows_out.iter().map(|r| f64::from(r.label)).collect();
        let k = (rows_out.len() / 20).max(1);
        let flagged: Vec<f64> = flags.iter().map(|f| f64::from(u8::from(*f))).collect();
        let (precision_at_threshold, flagged_share) = metrics::precision_at(&flagged, &y, 0.5);
        MethodReport {
            method: method.into(),
            rows: y.len(),
            positives: y.iter().filter(|v| **v > 0.5).count(),
            auc: metrics::roc_auc(&score, &y),
            pr_auc: metrics::pr_auc(&score, &y),
            brier: metrics::brier(&score, &y),
            ece: metrics::ece(&score, &y),
            top_decile_lift: metrics::top_decile_lift(&score, &y),
            k,
            precision_at_k: metrics::precision_at_k(&score, &y, k),
            precision_at_threshold,
            flagged_share,
            arr_weighted_recall: metrics::weighted_recall(&flagged, &y, &arr, 0.5),
            warning: warning(&rows_out, flags, &churn_day, first_cut, set.data_end),
            reliability: metrics::reliability(&score, &y, 10),
        }
    };
    let model = report(
        "model",
        rows_out.iter().map(|r| r.probability).collect(),
        &flags_model,
    );
    let rules = report(
        "rules",
        rows_out.iter().map(|r| r.rules_risk).collect(),
        &flags_rules,
    );
    Ok(BacktestReport {
        target: cfg.target.as_str(),
        alert_precision: cfg.train.alert_precision,
        cutoffs: per,
        model,
        rules,
        predictions: rows_out,
    })
}

/// The alert state of every evaluated snapshot, with hysteresis: an account enters it at a snapshot whose
/// score reaches that snapshot's threshold, and stays in it while its score is at least `exit_ratio` × the
/// threshold.
fn alert_states(
    rows: &[PredictionRow],
    score: impl Fn(&PredictionRow) -> f64,
    thresholds: &[f64],
    exit_ratio: f64,
) -> Vec<bool> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| {
        (&rows[a].account_id, rows[a].as_of).cmp(&(&rows[b].account_id, rows[b].as_of))
    });
    let mut out = vec![false; rows.len()];
    let mut prev: Option<(&AccountId, bool)> = None;
    for i in order {
        let r = &rows[i];
        let alerted = matches!(prev, Some((a, true)) if *a == r.account_id);
        let s = score(r);
        let now = if alerted {
            s >= thresholds[i] * exit_ratio
        } else {
            s >= thresholds[i]
        };
        out[i] = now;
        prev = Some((&r.account_id, now));
    }
    out
}

/// Each churner's churn day.
fn churn_days(set: &TrainingSet) -> BTreeMap<AccountId, Day> {
    set.rows
        .iter()
        .filter_map(|r| r.churn_day.map(|d| (r.account.clone(), d)))
        .collect()
}

fn warning(
    rows: &[PredictionRow],
    flags: &[bool],
    churn: &BTreeMap<AccountId, Day>,
    first_cut: Day,
    data_end: Day,
) -> Warning {
    let min_lead = 120.min((data_end.0 - first_cut.0) / 2);
    let mut by: BTreeMap<&AccountId, Vec<(Day, bool)>> = BTreeMap::new();
    for (r, f) in rows.iter().zip(flags) {
        if let Some(c) = churn.get(&r.account_id) {
            if r.as_of < *c && c.0 - first_cut.0 >= min_lead {
                by.entry(&r.account_id).or_default().push((r.as_of, *f));
            }
        }
    }
    let mut days = Vec::new();
    let mut max_possible = 0;
    for (id, mut snaps) in by {
        let c = churn[id];
        max_possible = max_possible.max(c.0 - first_cut.0);
        snaps.sort();
        let mut start = None;
        for (d, f) in snaps.iter().rev() {
            if *f {
                start = Some(*d);
            } else {
                break;
            }
        }
        days.push(start.map_or(0.0, |s| (c.0 - s.0) as f64));
    }
    let n = days.len();
    Warning {
        churners: n,
        min_lead_days: min_lead,
        median_days: bellwether_features::peers::median(&days).unwrap_or(0.0),
        share_90_days: days.iter().filter(|d| **d >= 90.0).count() as f64 / n.max(1) as f64,
        share_warned: days.iter().filter(|d| **d > 0.0).count() as f64 / n.max(1) as f64,
        max_possible_days: max_possible,
    }
}

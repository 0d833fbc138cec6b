//! Evaluation metrics for binary predictions: ranking (ROC-AUC, PR-AUC), accuracy of the probabilities
//! (Brier score, expected calibration error and the reliability table), and what a CS team acts on
//! (top-decile lift, precision at k, value-weighted recall at a threshold).

use serde::Serialize;

/// Area under the ROC curve (ties count half). 0.5 when one class is absent.
pub fn roc_auc(score: &[f64], y: &[f64]) -> f64 {
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let pos = y.iter().filter(|v| **v > 0.5).count() as f64;
    let neg = y.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return 0.5;
    }
    // Sum of the positives' mid-ranks.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && score[idx[j + 1]] == score[idx[i]] {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += idx[i..=j].iter().filter(|&&k| y[k] > 0.5).count() as f64 * mid;
        i = j + 1;
    }
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

/// Average precision (the area under the precision-recall curve, step-wise).
pub fn pr_auc(score: &[f64], y: &[f64]) -> f64 {
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    let pos = y.iter().filter(|v| **v > 0.5).count() as f64;
    if pos == 0.0 {
        return 0.0;
    }
    let (mut tp, mut ap) = (0.0, 0.0);
    for (k, &i) in idx.iter().enumerate() {
        if y[i] > 0.5 {
            tp += 1.0;
            ap += tp / (k + 1) as f64;
        }
    }
    ap / pos
}

/// Mean squared error of the probabilities.
pub fn brier(p: &[f64], y: &[f64]) -> f64 {
    if p.is_empty() {
        return 0.0;
    }
    p.iter().zip(y).map(|(p, y)| (p - y) * (p - y)).sum::<f64>() / p.len() as f64
}

/// One bin of a reliability table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReliabilityBin {
    /// Lower edge of the predicted probability.
    pub from: f64,
    /// Upper edge.
    pub to: f64,
    /// Predictions in the bin.
    pub count: usize,
    /// Their mean predicted probability.
    pub mean_predicted: f64,
    /// The share that were positive.
    pub observed: f64,
}

/// The reliability table over `bins` equal-width bins (empty bins left out).
pub fn reliability(p: &[f64], y: &[f64], bins: usize) -> Vec<ReliabilityBin> {
    let mut acc = vec![(0usize, 0.0, 0.0); bins];
    for (p, y) in p.iter().zip(y) {
        let b = ((p * bins as f64) as usize).min(bins - 1);
        acc[b].0 += 1;
        acc[b].1 += p;
        acc[b].2 += y;
    }
    acc.iter()
        .enumerate()
        .filter(|(_, a)| a.0 > 0)
        .map(|(b, a)| ReliabilityBin {
            from: b as f64 / bins as f64,
            to: (b + 1) as f64 / bins as f64,
            count: a.0,
            mean_predicted: a.1 / a.0 as f64,
            observed: a.2 / a.0 as f64,
        })
        .collect()
}

/// Expected calibration error: the count-weighted mean gap between predicted and observed over 10 bins.
pub fn ece(p: &[f64], y: &[f64]) -> f64 {
    let n = p.len().max(1) as f64;
    reliability(p, y, 10)
        .iter()
        .map(|b| b.count as f64 / n * (b.mean_predicted - b.observed).abs())
        .sum()
}

/// The positive rate among the top 10% of scores over the overall positive rate.
pub fn top_decile_lift(score: &[f64], y: &[f64]) -> f64 {
    let base = y.iter().sum::<f64>() / y.len().max(1) as f64;
    let k = (score.len() / 10).max(1);
    if base == 0.0 {
        return 0.0;
    }
    precision_at_k(score, y, k) / base
}

/// The share of positives among the `k` highest scores.
pub fn precision_at_k(score: &[f64], y: &[f64], k: usize) -> f64 {
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    let k = k.min(idx.len());
    if k == 0 {
        return 0.0;
    }
    idx[..k].iter().map(|&i| y[i]).sum::<f64>() / k as f64
}

/// The share of the positives' total `weight` (ARR) whose score is at or above `threshold`.
pub fn weighted_recall(score: &[f64], y: &[f64], weight: &[f64], threshold: f64) -> f64 {
    let (mut hit, mut all) = (0.0, 0.0);
    for ((s, y), w) in score.iter().zip(y).zip(weight) {
        if *y > 0.5 {
            all += w;
            if *s >= threshold {
                hit += w;
            }
        }
    }
    if all > 0.0 {
        hit / all
    } else {
        0.0
    }
}

/// Precision at or above `threshold` and the share of scores flagged.
pub fn precision_at(score: &[f64], y: &[f64], threshold: f64) -> (f64, f64) {
    let flagged: Vec<f64> = score
        .iter()
        .zip(y)
        .filter(|(s, _)| **s >= threshold)
        .map(|(_, y)| *y)
        .collect();
    let precision = if flagged.is_empty() {
        0.0
    } else {
        flagged.iter().sum::<f64>() / flagged.len() as f64
    };
    (precision, flagged.len() as f64 / score.len().max(1) as f64)
}

/// The Wilson score lower bound of a proportion of `hits` in `n` at `z` standard errors (1.0: about 84%
/// one-sided).
pub fn wilson_lower(hits: f64, n: f64, z: f64) -> f64 {
    if n <= 0.0 {
        return 0.0;
    }
    let p = hits / n;
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let margin = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - margin) / (1.0 + z2 / n)).max(0.0)
}

/// The lowest threshold at which the precision over scores at or above it reaches `target` with confidence:
/// its Wilson lower bound at `z` (0: the observed precision) — so a lucky run of positives among few rows far
/// down the ranking does not set it. `None` if no threshold flagging at least `min_flagged` rows reaches it.
pub fn threshold_for_precision_at(
    score: &[f64],
    y: &[f64],
    target: f64,
    min_flagged: usize,
    z: f64,
) -> Option<f64> {
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    let mut tp = 0.0;
    let mut best = None;
    for (k, &i) in idx.iter().enumerate() {
        tp += y[i];
        if idx.get(k + 1).is_some_and(|&n| score[n] == score[i]) {
            continue;
        }
        let n = (k + 1) as f64;
        if k + 1 >= min_flagged && wilson_lower(tp, n, z) >= target {
            best = Some(score[i]);
        }
    }
    best
}

/// The lowest threshold at which precision (over scores at or above it) reaches `target`, scanning from the
/// top; `None` if no threshold flagging at least `min_flagged` rows reaches it.
pub fn threshold_for_precision(
    score: &[f64],
    y: &[f64],
    target: f64,
    min_flagged: usize,
) -> Option<f64> {
    // The Wilson bound at 0 standard errors is the observed precision.
    threshold_for_precision_at(score, y, target, min_flagged, 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_on_hand_computed_cases() {
        let s = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4];
        let y = [1.0, 0.0, 1.0, 0.0, 0.0, 0.0];
        // Positives rank 1st and 3rd of 6: pairs won 4 + 3 = 7 of 8.
        assert!((roc_auc(&s, &y) - 7.0 / 8.0).abs() < 1e-12);
        // AP = (1/1 + 2/3) / 2.
        assert!((pr_auc(&s, &y) - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        assert!((precision_at_k(&s, &y, 3) - 2.0 / 3.0).abs() < 1e-12);
        // Ties count half.
        assert!((roc_auc(&[0.5, 0.5], &[1.0, 0.0]) - 0.5).abs() < 1e-12);
        assert!((brier(&[1.0, 0.0], &[1.0, 1.0]) - 0.5).abs() < 1e-12);
        // Perfectly calibrated bins have no error; a constant 0.5 against 25% positives has 0.25.
        assert!(ece(&[0.25; 4], &[1.0, 0.0, 0.0, 0.0]) < 1e-12);
        assert!((ece(&[0.5; 4], &[1.0, 0.0, 0.0, 0.0]) - 0.25).abs() < 1e-12);
        assert!(
            (weighted_recall(&s, &y, &[10.0, 1.0, 30.0, 1.0, 1.0, 1.0], 0.8) - 0.25).abs() < 1e-12
        );
        assert_eq!(threshold_for_precision(&s, &y, 0.6, 1), Some(0.7));
        assert_eq!(threshold_for_precision(&s, &y, 1.0, 2), None);
    }
}

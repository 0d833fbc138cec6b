//! Probability calibration: maps a model's log-odds to probabilities that mean what they say ("30%" churns
//! about 30% of the time), fitted on rows the model did not train on.
//!
//! Isotonic regression (pool-adjacent-violators, interpolated linearly between block centres) when the
//! calibration set is large enough to afford it — at least 2,000 rows and 100 of each class — otherwise Platt
//! scaling (a two-parameter logistic fit with Platt's smoothed targets). Both are non-decreasing, so a higher
//! score never reads as a lower probability.

use crate::sigmoid;
use serde::{Deserialize, Serialize};

/// A fitted calibration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Calibration {
    /// `p = sigmoid(a * raw + b)`.
    Platt {
        /// Slope.
        a: f64,
        /// Offset.
        b: f64,
    },
    /// Piecewise-linear through `(raw, p)` points, flat beyond the ends.
    Isotonic {
        /// Block centres on the raw scale, increasing.
        raw: Vec<f64>,
        /// Calibrated probability at each centre, non-decreasing.
        p: Vec<f64>,
    },
}

impl Calibration {
    /// Fits the calibration of raw scores `raw` to labels `y` (0 or 1).
    pub fn fit(raw: &[f64], y: &[f64]) -> Calibration {
        let pos = y.iter().filter(|v| **v > 0.5).count();
        let neg = y.len() - pos;
        if y.len() >= 2000 && pos >= 100 && neg >= 100 {
            isotonic(raw, y)
        } else {
            platt(raw, y)
        }
    }

    /// The name of the method.
    pub fn method(&self) -> &'static str {
        match self {
            Calibration::Platt { .. } => "platt",
            Calibration::Isotonic { .. } => "isotonic",
        }
    }

    /// The calibrated probability of a raw score.
    pub fn apply(&self, raw: f64) -> f64 {
        match self {
            Calibration::Platt { a, b } => sigmoid(a * raw + b),
            Calibration::Isotonic { raw: xs, p } => {
                if xs.is_empty() {
                    return 0.5;
                }
                let k = xs.partition_point(|x| *x <= raw);
                if k == 0 {
                    p[0]
                } else if k == xs.len() {
                    p[xs.len() - 1]
                } else {
                    let (x0, x1, p0, p1) = (xs[k - 1], xs[k], p[k - 1], p[k]);
                    p0 + (p1 - p0) * (raw - x0) / (x1 - x0)
                }
            }
        }
    }
}

fn platt(raw: &[f64], y: &[f64]) -> Calibration {
    let pos = y.iter().filter(|v| **v > 0.5).count() as f64;
    let neg = y.len() as f64 - pos;
    let (hi, lo) = ((pos + 1.0) / (pos + 2.0), 1.0 / (neg + 2.0));
    let t: Vec<f64> = y.iter().map(|v| if *v > 0.5 { hi } else { lo }).collect();
    let (mut a, mut b) = (1.0, 0.0);
    // Newton's method on the two parameters, with a small ridge for stability.
    for _ in 0..50 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-9, 0.0, 1e-9);
        for (x, t) in raw.iter().zip(&t) {
            let p = sigmoid(a * x + b);
            let d = p - t;
            let w = p * (1.0 - p);
            ga += d * x;
            gb += d;
            haa += w * x * x;
            hab += w * x;
            hbb += w;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-12 {
            break;
        }
        let da = (hbb * ga - hab * gb) / det;
        let db = (haa * gb - hab * ga) / det;
        a -= da;
        b -= db;
        if da.abs() < 1e-10 && db.abs() < 1e-10 {
            break;
        }
    }
    Calibration::Platt { a, b }
}

fn isotonic(raw: &[f64], y: &[f64]) -> Calibration {
    let mut idx: Vec<usize> = (0..raw.len()).collect();
    idx.sort_by(|&i, &j| raw[i].total_cmp(&raw[j]));
    // Blocks of (sum of raw, sum of y, count), merged while they violate monotonicity.
    let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
    for i in idx {
        blocks.push((raw[i], y[i], 1.0));
        while blocks.len() > 1 {
            let n = blocks.len();
            let (a, b) = (blocks[n - 2], blocks[n - 1]);
            if a.1 / a.2 >= b.1 / b.2 {
                blocks[n - 2] = (a.0 + b.0, a.1 + b.1, a.2 + b.2);
                blocks.pop();
            } else {
                break;
            }
        }
    }
    Calibration::Isotonic {
        raw: blocks.iter().map(|b| b.0 / b.2).collect(),
        p: blocks.iter().map(|b| b.1 / b.2).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_methods_recover_a_known_miscalibration_and_stay_monotone() {
        // True probability sigmoid(2 * raw - 1): the raw score is over-confident by a factor and offset.
        let n = 20_000;
        let raw: Vec<f64> = (0..n).map(|i| -3.0 + 6.0 * i as f64 / n as f64).collect();
        let y: Vec<f64> = raw
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let p = sigmoid(2.0 * r - 1.0);
                // Deterministic "coin": the fractional part of a low-discrepancy sequence.
                let u = (i as f64 * 0.618_033_988_75).fract();
                if u < p {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let iso = Calibration::fit(&raw, &y);
        assert_eq!(iso.method(), "isotonic");
        let pl = platt(&raw, &y);
        for r in [-2.0, -0.5, 0.5, 1.0, 2.0] {
            let truth = sigmoid(2.0 * r - 1.0);
            assert!(
                (pl.apply(r) - truth).abs() < 0.02,
                "platt {r}: {}",
                pl.apply(r)
            );
            assert!(
                (iso.apply(r) - truth).abs() < 0.05,
                "isotonic {r}: {}",
                iso.apply(r)
            );
        }
        let mut last = 0.0;
        for k in 0..200 {
            let p = iso.apply(-4.0 + k as f64 * 0.04);
            assert!(p >= last);
            last = p;
        }
        // Small sets fall back to Platt.
        assert_eq!(Calibration::fit(&raw[..500], &y[..500]).method(), "platt");
    }
}

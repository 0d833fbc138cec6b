//! The baseline: L2-regularised logistic regression on signed-log, standardised features with missing values
//! imputed to the mean (plus a missing-indicator column for every feature that had any). Fitted by full-batch
//! gradient descent with momentum on at most 100k rows. Its contributions are exact: each coefficient times
//! the row's standardised value (zero for a mean-valued row), the intercept as bias.

use crate::codec::{Reader, Writer};
use crate::gbdt::par_rows;
use crate::{check_labels, sigmoid, Dataset, Learner, MlError, Model, Result};

/// The engine's name in the registry.
pub const KIND: &str = "logistic";

/// Fits the logistic baseline.
#[derive(Clone, Debug)]
pub struct LogisticLearner {
    /// L2 penalty per row.
    pub l2: f64,
    /// Gradient steps.
    pub steps: usize,
}

impl Default for LogisticLearner {
    fn default() -> Self {
        LogisticLearner {
            l2: 1e-3,
            steps: 200,
        }
    }
}

/// A fitted logistic model.
#[derive(Clone, Debug, PartialEq)]
pub struct Logistic {
    cols: usize,
    mean: Vec<f64>,
    scale: Vec<f64>,
    /// Coefficient of each column's value.
    coef: Vec<f64>,
    /// Coefficient of each column's missing indicator (0 where the column never was missing).
    coef_missing: Vec<f64>,
    /// Share of training rows missing each column.
    missing_rate: Vec<f64>,
    intercept: f64,
}

fn slog(v: f64) -> f64 {
    v.signum() * v.abs().ln_1p()
}

impl Logistic {
    /// Each column's (value term, missing term) for a row; these sum with the intercept to the score.
    fn terms(&self, x: &[f64], out: &mut [f64]) {
        for j in 0..self.cols {
            let v = x[j];
            out[j] = if v.is_nan() {
                // A missing value is the mean (zero) plus the indicator's effect, centred on its training rate.
                self.coef_missing[j] * (1.0 - self.missing_rate[j])
            } else {
                let z = ((slog(v) - self.mean[j]) / self.scale[j]).clamp(-6.0, 6.0);
                self.coef[j] * z - self.coef_missing[j] * self.missing_rate[j]
            };
        }
    }

    fn bias(&self) -> f64 {
        self.intercept
            + (0..self.cols)
                .map(|j| self.coef_missing[j] * self.missing_rate[j])
                .sum::<f64>()
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Logistic> {
        let mut r = Reader(bytes);
        if r.u32()? != 1 {
            return Err(MlError::Corrupt("unknown logistic format version".into()));
        }
        let cols = r.len(40)?;
        let mut vecs: Vec<Vec<f64>> = (0..5).map(|_| Vec::with_capacity(cols)).collect();
        for v in vecs.iter_mut() {
            for _ in 0..cols {
                v.push(r.f64()?);
            }
        }
        let intercept = r.f64()?;
        let missing_rate = vecs.pop().unwrap_or_default();
        let coef_missing = vecs.pop().unwrap_or_default();
        let coef = vecs.pop().unwrap_or_default();
        let scale = vecs.pop().unwrap_or_default();
        let mean = vecs.pop().unwrap_or_default();
        Ok(Logistic {
            cols,
            mean,
            scale,
            coef,
            coef_missing,
            missing_rate,
            intercept,
        })
    }
}

impl Learner for LogisticLearner {
    fn name(&self) -> &'static str {
        KIND
    }

    fn fit(&self, x: &Dataset, y: &[f64], _: Option<(&Dataset, &[f64])>) -> Result<Box<dyn Model>> {
        check_labels(x, y)?;
        let cols = x.cols();
        // At most 100k rows, evenly spaced: plenty for a few dozen coefficients.
        let stride = x.rows.div_ceil(100_000).max(1);
        let idx: Vec<usize> = (0..x.rows).step_by(stride).collect();
        let n = idx.len();
        let (mut mean, mut scale, mut missing_rate) =
            (vec![0.0; cols], vec![1.0; cols], vec![0.0; cols]);
        // Design matrix: standardised values then missing indicators, column-major.
        let mut z = vec![0.0; 2 * cols * n];
        for j in 0..cols {
            let c = x.col(j);
            let vals: Vec<f64> = idx
                .iter()
                .map(|&i| c[i])
                .filter(|v| !v.is_nan())
                .map(slog)
                .collect();
            missing_rate[j] = 1.0 - vals.len() as f64 / n as f64;
            if !vals.is_empty() {
                let m = vals.iter().sum::<f64>() / vals.len() as f64;
                let var = vals.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / vals.len() as f64;
                mean[j] = m;
                scale[j] = if var > 1e-12 { var.sqrt() } else { 1.0 };
            }
            for (k, &i) in idx.iter().enumerate() {
                let v = c[i];
                if v.is_nan() {
                    z[(cols + j) * n + k] = 1.0;
                } else {
                    z[j * n + k] = ((slog(v) - mean[j]) / scale[j]).clamp(-6.0, 6.0);
                }
            }
        }
        let ys: Vec<f64> = idx.iter().map(|&i| y[i]).collect();
        let p = 2 * cols;
        let mut w = vec![0.0; p];
        let base = ys.iter().sum::<f64>() / n as f64;
        let mut b = crate::logit(base);
        let (mut vw, mut vb) = (vec![0.0; p], 0.0);
        let lr = 0.5;
        let mut score = vec![0.0; n];
        let mut grad = vec![0.0; p];
        for _ in 0..self.steps {
            score.iter_mut().for_each(|s| *s = b);
            for (j, wj) in w.iter().enumerate() {
                if *wj != 0.0 {
                    for (s, zj) in score.iter_mut().zip(&z[j * n..(j + 1) * n]) {
                        *s += wj * zj;
                    }
                }
            }
            let resid: Vec<f64> = score
                .iter()
                .zip(&ys)
                .map(|(s, y)| sigmoid(*s) - y)
                .collect();
            for (j, g) in grad.iter_mut().enumerate() {
                *g = z[j * n..(j + 1) * n]
                    .iter()
                    .zip(&resid)
                    .map(|(a, r)| a * r)
                    .sum::<f64>()
                    / n as f64
                    + self.l2 * w[j];
            }
            let gb = resid.iter().sum::<f64>() / n as f64;
            for j in 0..p {
                vw[j] = 0.9 * vw[j] - lr * grad[j];
                w[j] += vw[j];
            }
            vb = 0.9 * vb - lr * gb;
            b += vb;
        }
        let coef_missing = (0..cols)
            .map(|j| {
                if missing_rate[j] > 0.0 {
                    w[cols + j]
                } else {
                    0.0
                }
            })
            .collect();
        Ok(Box::new(Logistic {
            cols,
            mean,
            scale,
            coef: w[..cols].to_vec(),
            coef_missing,
            missing_rate,
            intercept: b,
        }))
    }
}

impl Model for Logistic {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn raw(&self, x: &Dataset) -> Vec<f64> {
        let bias = self.bias();
        par_rows(x.rows, 1, |i, row, out| {
            x.row_into(i, row);
            let mut t = vec![0.0; self.cols];
            self.terms(row, &mut t);
            out[0] = bias + t.iter().sum::<f64>();
        })
    }

    fn contributions(&self, x: &Dataset) -> Vec<f64> {
        let bias = self.bias();
        par_rows(x.rows, self.cols + 1, |i, row, out| {
            x.row_into(i, row);
            self.terms(row, &mut out[..self.cols]);
            out[self.cols] = bias;
        })
    }

    fn expected_raw(&self) -> f64 {
        self.bias()
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u32(1);
        w.u32(self.cols as u32);
        for v in [
            &self.mean,
            &self.scale,
            &self.coef,
            &self.coef_missing,
            &self.missing_rate,
        ] {
            v.iter().for_each(|x| w.f64(*x));
        }
        w.f64(self.intercept);
        w.0
    }

    fn describe(&self) -> String {
        let used = self.coef.iter().filter(|c| c.abs() > 1e-3).count();
        format!(
            "logistic regression, {used} of {} coefficients non-zero",
            self.cols
        )
    }
}

//! Learning engines behind one small trait, free of any customer-success vocabulary: a [`Dataset`] of named
//! numeric columns (NaN is missing), a [`Learner`] that fits a binary classifier on it, and the fitted
//! [`Model`] that scores rows on the log-odds scale and splits every score into exact per-feature
//! contributions. Around them: probability [`calibrate`]-ion and the evaluation [`metrics`].
//!
//! Two engines are registered: [`gbdt`] (gradient-boosted trees trained by `forust-ml`, stored and evaluated
//! by this crate with an exact TreeSHAP) and [`logistic`] (an L2 logistic regression kept as the baseline).
//! A model serialises to bytes tagged with its engine's name; [`load`] reads any of them back.

pub mod calibrate;
mod codec;
pub mod gbdt;
pub mod logistic;
pub mod metrics;
mod treeshap;

/// What went wrong while fitting or loading a model.
#[derive(Debug, thiserror::Error)]
pub enum MlError {
    /// The training data cannot make a model (no rows, one class only, mismatched lengths).
    #[error("cannot train: {0}")]
    Data(String),
    /// The engine failed.
    #[error("training failed: {0}")]
    Engine(String),
    /// Stored model bytes that this version cannot read.
    #[error("unreadable model: {0}")]
    Corrupt(String),
}

/// Result with [`MlError`].
pub type Result<T> = std::result::Result<T, MlError>;

/// A matrix of numeric features stored column by column (the layout tree learners want), missing values as NaN.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dataset {
    /// Column names.
    pub names: Vec<String>,
    /// Rows.
    pub rows: usize,
    /// Values, column-major: column `j` is `data[j * rows .. (j + 1) * rows]`.
    pub data: Vec<f64>,
}

impl Dataset {
    /// Builds a dataset from rows of equal length.
    pub fn from_rows(names: Vec<String>, rows: &[Vec<f64>]) -> Dataset {
        let cols = names.len();
        let n = rows.len();
        let mut data = vec![f64::NAN; cols * n];
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(
                r.len(),
                cols,
                "row {i} has {} values for {cols} columns",
                r.len()
            );
            for (j, v) in r.iter().enumerate() {
                data[j * n + i] = *v;
            }
        }
        Dataset {
            names,
            rows: n,
            data,
        }
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.names.len()
    }

    /// Column `j`.
    pub fn col(&self, j: usize) -> &[f64] {
        &self.data[j * self.rows..(j + 1) * self.rows]
    }

    /// Row `i`, gathered into `out`.
    pub fn row_into(&self, i: usize, out: &mut Vec<f64>) {
        out.clear();
        out.extend((0..self.cols()).map(|j| self.data[j * self.rows + i]));
    }

    /// The rows at `idx`, in that order.
    pub fn take(&self, idx: &[usize]) -> Dataset {
        let mut data = Vec::with_capacity(idx.len() * self.cols());
        for j in 0..self.cols() {
            let c = self.col(j);
            data.extend(idx.iter().map(|&i| c[i]));
        }
        Dataset {
            names: self.names.clone(),
            rows: idx.len(),
            data,
        }
    }
}

/// A fitted binary classifier.
pub trait Model: Send + Sync {
    /// The engine's name, stored with the model.
    fn kind(&self) -> &'static str;
    /// Scores on the log-odds scale, one per row.
    fn raw(&self, x: &Dataset) -> Vec<f64>;
    /// Exact contributions: `cols + 1` values per row (the last is the bias, the model's expected score),
    /// summing to [`Model::raw`] of the row.
    fn contributions(&self, x: &Dataset) -> Vec<f64>;
    /// The expected score (the bias every row's contributions start from).
    fn expected_raw(&self) -> f64;
    /// The serialised model (without the engine tag; see [`save`]).
    fn to_bytes(&self) -> Vec<u8>;
    /// A one-line description (trees, depth, coefficients).
    fn describe(&self) -> String;
}

/// Something that fits a [`Model`] from labelled rows.
pub trait Learner {
    /// The engine's name.
    fn name(&self) -> &'static str;
    /// Fits on `x`/`y` (labels 0 or 1); `valid` is held out for early stopping where the engine uses it.
    fn fit(
        &self,
        x: &Dataset,
        y: &[f64],
        valid: Option<(&Dataset, &[f64])>,
    ) -> Result<Box<dyn Model>>;
}

/// A model's bytes tagged with its engine, as stored in the registry.
pub fn save(model: &dyn Model) -> Vec<u8> {
    let mut out = Vec::new();
    let kind = model.kind().as_bytes();
    out.push(kind.len() as u8);
    out.extend_from_slice(kind);
    out.extend(model.to_bytes());
    out
}

/// Reads a model written by [`save`].
pub fn load(bytes: &[u8]) -> Result<Box<dyn Model>> {
    let n = *bytes
        .first()
        .ok_or_else(|| MlError::Corrupt("empty".into()))? as usize;
    let kind = bytes
        .get(1..1 + n)
        .and_then(|k| std::str::from_utf8(k).ok())
        .ok_or_else(|| MlError::Corrupt("no engine tag".into()))?;
    let body = &bytes[1 + n..];
    match kind {
        gbdt::KIND => Ok(Box::new(gbdt::Forest::from_bytes(body)?)),
        logistic::KIND => Ok(Box::new(logistic::Logistic::from_bytes(body)?)),
        other => Err(MlError::Corrupt(format!("unknown engine {other:?}"))),
    }
}

/// The logistic function.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The log-odds of a probability.
pub fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    (p / (1.0 - p)).ln()
}

fn check_labels(x: &Dataset, y: &[f64]) -> Result<()> {
    if x.rows != y.len() {
        return Err(MlError::Data(format!(
            "{} rows but {} labels",
            x.rows,
            y.len()
        )));
    }
    let pos = y.iter().filter(|v| **v > 0.5).count();
    if pos == 0 || pos == y.len() {
        return Err(MlError::Data(format!(
            "{} rows, {pos} positive: both classes are needed",
            y.len()
        )));
    }
    Ok(())
}

//! Prediction: churn, contraction and expansion models learned from the book's own outcomes.
//!
//! The flow: [`dataset`] samples point-in-time snapshots with labels from [`labels`] and turns each into the
//! model's columns ([`vector`]); [`bundle`] fits one model per target with its calibration and the logistic
//! baseline; [`score`] scores every account on a day and words each prediction's drivers ([`explain`]);
//! [`backtest`] trains on data before each of several cut-offs, predicts after it, and compares the model
//! with the rules health score, warning time included. [`signal_report`] judges the stored signals against
//! the same outcomes: which detectors and alert rules carry information, and what they cost in alerts.

pub mod backtest;
pub mod bundle;
pub mod dataset;
pub mod explain;
pub mod labels;
pub mod score;
pub mod signal_report;
pub mod vector;

pub use bundle::{train, Bundle, TrainConfig};
pub use labels::Target;

/// What can go wrong when training or scoring.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    /// The book has too little history or too few outcomes for a model.
    #[error("not enough history to train: {0}")]
    NotEnoughHistory(String),
    /// No model is trained, or the version asked for does not exist.
    #[error("{0}")]
    NoModel(String),
    /// Training failed or a stored model could not be read.
    #[error("{0}")]
    Model(String),
    /// A stored model needs columns this version does not compute.
    #[error("{0}")]
    Incompatible(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] bellwether_store::StoreError),
}

impl PredictError {
    /// The error code shown to users.
    pub fn code(&self) -> bellwether_core::Code {
        match self {
            PredictError::NotEnoughHistory(_) => bellwether_core::Code::NotEnoughHistory,
            PredictError::NoModel(_) => bellwether_core::Code::NoModel,
            PredictError::Model(_) => bellwether_core::Code::Internal,
            PredictError::Incompatible(_) => bellwether_core::Code::ModelIncompatible,
            PredictError::Store(e) => e.code(),
        }
    }
}

/// Result with [`PredictError`].
pub type Result<T> = std::result::Result<T, PredictError>;

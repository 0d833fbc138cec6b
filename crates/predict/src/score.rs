//! Scoring: every account still a customer on a day gets, from the active model version, a calibrated
//! probability per target and its drivers in words, stored as predictions (the default target's probability
//! also lands on the day's assessment, where the worklist reads it).

use crate::bundle::{Bundle, TargetModel};
use crate::explain::explain;
use crate::vector::Column;
use crate::{PredictError, Result, Target};
use bellwether_core::model::Prediction;
use bellwether_core::series::AccountSeries;
use bellwether_core::{AccountId, Day};
use bellwether_engine::assess::{default_as_of, par_map};
use bellwether_features::AccountFeatures;
use bellwether_ml::Dataset;
use bellwether_store::Store;
use std::collections::HashMap;
use std::time::Instant;

/// The target whose probability is copied into assessments and ranks the worklist.
pub const DEFAULT_TARGET: Target = Target::ChurnRenewal;

/// The targets whose predictions carry drivers in the daily pass: the default churn target and expansion. The
/// other horizons get their probability only (their drivers are a `contributions` call away), which keeps the
/// pass's cost to two TreeSHAP passes.
pub const EXPLAINED: [Target; 2] = [Target::ChurnRenewal, Target::Expansion180];

/// What a scoring run did.
#[derive(Debug)]
pub struct ScoreOutcome {
    /// The model version used.
    pub version: i64,
    /// The day scored.
    pub as_of: Day,
    /// Accounts scored.
    pub accounts: usize,
    /// The predictions, every target.
    pub predictions: Vec<Prediction>,
    /// Seconds loading.
    pub load_seconds: f64,
    /// Seconds computing features.
    pub feature_seconds: f64,
    /// Seconds for the models, contributions and wording.
    pub explain_seconds: f64,
}

pub use crate::dataset::features_on;

/// Predictions of one target model for rows of `x` (one per entry of `ids`).
pub fn predict_rows(
    m: &TargetModel,
    columns: &[Column],
    x: &Dataset,
    ids: &[&AccountId],
    as_of: Day,
    version: i64,
) -> Vec<Prediction> {
    let n = columns.len();
    let contrib = m.model.contributions(x);
    let idx: Vec<usize> = (0..x.rows).collect();
    par_map(&idx, |&i| {
        let mut row = Vec::with_capacity(n);
        x.row_into(i, &mut row);
        let (p, p0, drivers) = explain(
            columns,
            &row,
            &contrib[i * (n + 1)..(i + 1) * (n + 1)],
            &m.info.calibration,
            m.info.target,
        );
        Prediction {
            account_id: ids[i].clone(),
            as_of,
            target: m.info.target.as_str().to_string(),
            probability: p,
            base_probability: p0,
            model_version: version,
            drivers,
        }
    })
}

/// Scores loaded accounts with a bundle.
pub fn score_features(
    bundle: &Bundle,
    version: i64,
    feats: &[(AccountFeatures, Option<String>)],
    series: &[(AccountId, AccountSeries)],
    as_of: Day,
) -> Vec<Prediction> {
    let by_id: HashMap<&AccountId, &AccountSeries> = series.iter().map(|(id, s)| (id, s)).collect();
    let columns = bundle.spec.columns();
    let rows: Vec<Vec<f64>> = par_map(feats, |(f, plan)| {
        let mut v = Vec::with_capacity(columns.len());
        bundle.spec.vectorise(
            f,
            plan.as_deref(),
            by_id.get(&f.account_id).copied(),
            &mut v,
        );
        v
    });
    let names = columns.iter().map(|c| c.name.clone()).collect();
    let x = Dataset::from_rows(names, &rows);
    let ids: Vec<&AccountId> = feats.iter().map(|f| &f.0.account_id).collect();
    let mut out = Vec::new();
    for m in &bundle.targets {
        if EXPLAINED.contains(&m.info.target) {
            out.extend(predict_rows(m, &columns, &x, &ids, as_of, version));
        } else {
            let (p, _) = crate::bundle::predict(m, &x);
            let p0 = m.info.calibration.apply(m.model.expected_raw());
            out.extend(ids.iter().zip(p).map(|(id, p)| Prediction {
                account_id: (*id).clone(),
                as_of,
                target: m.info.target.as_str().to_string(),
                probability: p,
                base_probability: p0,
                model_version: version,
                drivers: Vec::new(),
            }));
        }
    }
    out
}

/// Loads the active model (or `version`) from the registry.
pub async fn load_bundle<S: Store + ?Sized>(
    store: &S,
    version: Option<i64>,
) -> Result<(i64, Bundle)> {
    let rec = store.model(version).await?.ok_or_else(|| {
        PredictError::NoModel(match version {
            Some(v) => format!("no model version {v}; `bellwether models` lists them"),
            None => "no model is trained yet; run `bellwether train`".into(),
        })
    })?;
    Ok((rec.version, Bundle::from_bytes(&rec.bundle)?))
}

/// Scores the given accounts (every account with `None`) as of `as_of` (default: the day after the last
/// data) with the active model and stores the predictions.
pub async fn score<S: Store + ?Sized>(
    store: &S,
    accounts: Option<&[AccountId]>,
    as_of: Option<Day>,
) -> Result<ScoreOutcome> {
    let (version, bundle) = load_bundle(store, None).await?;
    let t0 = Instant::now();
    let (book, series, summary) = crate::dataset::load(store, accounts).await?;
    let as_of = as_of
        .or_else(|| default_as_of(&book, &series))
        .ok_or_else(|| PredictError::NotEnoughHistory("the book holds no data to score".into()))?;
    let stored = match accounts {
        Some(_) => Some((
            store.peer_stats(as_of).await?.into_iter().collect(),
            bellwether_features::adoption::Common::from_rows(store.common_features(as_of).await?),
        )),
        None => None,
    };
    let load_seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let feats = features_on(&book, &series, &summary, as_of, stored);
    let feature_seconds = t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    let predictions = score_features(&bundle, version, &feats, &series, as_of);
    let explain_seconds = t2.elapsed().as_secs_f64();
    store
        .save_predictions(&predictions, DEFAULT_TARGET.as_str())
        .await?;
    Ok(ScoreOutcome {
        version,
        as_of,
        accounts: feats.len(),
        predictions,
        load_seconds,
        feature_seconds,
        explain_seconds,
    })
}

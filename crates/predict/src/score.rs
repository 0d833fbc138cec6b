//! Scoring: every account still a customer on a day gets, from the active model version, a calibrated
//! probability per target and its drivers in words, stored as predictions (the probability of the bundle's
//! default churn target, chosen for the book when it was trained, also lands on the day's assessment, where the
//! worklist reads it).

use crate::bundle::{Bundle, TargetModel};
use crate::explain::explain;
use crate::vector::Column;
use crate::{PredictError, Result, Target};
use bellwether_core::model::{Prediction, Signal};
use bellwether_core::series::AccountSeries;
use bellwether_core::{AccountId, Day};
use bellwether_engine::assess::par_map;
use bellwether_engine::models::{Retrained, ScoreRow, Scored, TrainInput};
use bellwether_engine::{BookDay, ModelKit, Scorer};
use bellwether_features::AccountFeatures;
use bellwether_ml::Dataset;
use bellwether_store::{Ranking, Store};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// The target that ranks the worklist when a bundle names none (bundles stored before it was chosen per book).
pub const DEFAULT_TARGET: Target = Target::ChurnRenewal;

/// Whether a target's predictions carry drivers in the daily pass: the bundle's default churn target and
/// expansion. The other horizons get their probability only (their drivers are a `contributions` call away),
/// which keeps the pass's cost to two TreeSHAP passes.
pub fn explained(bundle: &Bundle, target: Target) -> bool {
    target == Target::Expansion180 || Some(target) == bundle.default_target
}

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

/// The columns a stored model is scored with: its own, in its own order, described by the columns this
/// version computes, with their positions among them (`None` when the two lists are the same). A model
/// needing a column this version no longer computes is refused, naming the columns.
pub fn model_columns(bundle: &Bundle, version: i64) -> Result<(Vec<Column>, Option<Vec<usize>>)> {
    let computed = bundle.spec.columns();
    if computed.len() == bundle.columns.len()
        && computed
            .iter()
            .zip(&bundle.columns)
            .all(|(c, n)| c.name == *n)
    {
        return Ok((computed, None));
    }
    let mut positions = Vec::with_capacity(bundle.columns.len());
    let mut missing = Vec::new();
    for name in &bundle.columns {
        match computed.iter().position(|c| c.name == *name) {
            Some(i) => positions.push(i),
            None => missing.push(name.as_str()),
        }
    }
    if !missing.is_empty() {
        return Err(PredictError::Incompatible(format!(
            "model version {version} was trained on {} input columns, {} of which this version of Bellwether does not compute: {}; \
             retrain with `bellwether train`, or activate a version trained by this one (`bellwether models`)",
            bundle.columns.len(),
            missing.len(),
            missing.join(", ")
        )));
    }
    let columns = positions.iter().map(|&i| computed[i].clone()).collect();
    Ok((columns, Some(positions)))
}

/// A stored version opened for scoring: its bundle and the columns each row is built with (see
/// [`model_columns`]). The engine's pass scores through it ([`bellwether_engine::Scorer`]).
pub struct Opened {
    /// The registry version.
    pub version: i64,
    /// The models.
    pub bundle: Bundle,
    columns: Vec<Column>,
    positions: Option<Vec<usize>>,
}

impl Opened {
    /// Opens a bundle; refused when it needs a column this build does not compute.
    pub fn new(version: i64, bundle: Bundle) -> Result<Opened> {
        let (columns, positions) = model_columns(&bundle, version)?;
        Ok(Opened {
            version,
            bundle,
            columns,
            positions,
        })
    }

    /// Every target's predictions for the rows (see [`score_rows`]).
    pub fn score_rows(&self, rows: &[ScoreRow<'_>], as_of: Day) -> Scored {
        score_rows(
            &self.bundle,
            self.version,
            &self.columns,
            self.positions.as_deref(),
            rows,
            as_of,
        )
    }
}

/// Every target's predictions for the rows, each row's columns built as `columns` (at `positions` among the
/// computed ones) say: the default churn target and expansion with drivers (see [`explained`]), the others
/// with their probability only.
pub fn score_rows(
    bundle: &Bundle,
    version: i64,
    columns: &[Column],
    positions: Option<&[usize]>,
    rows: &[ScoreRow<'_>],
    as_of: Day,
) -> Scored {
    let t0 = Instant::now();
    let x = vectors(bundle, columns, positions, rows);
    let ids: Vec<&AccountId> = rows.iter().map(|r| &r.features.account_id).collect();
    let vector_seconds = t0.elapsed().as_secs_f64();
    let mut model_seconds = 0.0;
    let mut explain_seconds = 0.0;
    let mut out = Vec::with_capacity(rows.len() * bundle.targets.len());
    for m in &bundle.targets {
        let t = Instant::now();
        if explained(bundle, m.info.target) {
            out.extend(predict_rows(m, columns, &x, &ids, as_of, version));
            explain_seconds += t.elapsed().as_secs_f64();
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
            model_seconds += t.elapsed().as_secs_f64();
        }
    }
    Scored {
        predictions: out,
        vector_seconds,
        model_seconds,
        explain_seconds,
    }
}

impl Scorer for Opened {
    fn version(&self) -> i64 {
        self.version
    }

    fn ranking_target(&self) -> Option<&str> {
        self.bundle.default_target.map(Target::as_str)
    }

    fn expansion_target(&self) -> Option<&str> {
        self.bundle
            .target(Target::Expansion180)
            .map(|_| Target::Expansion180.as_str())
    }

    fn describe(&self, target: &str) -> String {
        Target::parse(target).map_or_else(|| target.to_string(), Target::describe)
    }

    fn score(&self, rows: &[ScoreRow<'_>], as_of: Day) -> std::result::Result<Scored, String> {
        Ok(self.score_rows(rows, as_of))
    }

    fn explain(
        &self,
        rows: &[ScoreRow<'_>],
        as_of: Day,
    ) -> std::result::Result<Vec<Prediction>, String> {
        let x = vectors(&self.bundle, &self.columns, self.positions.as_deref(), rows);
        let ids: Vec<&AccountId> = rows.iter().map(|r| &r.features.account_id).collect();
        Ok(self
            .bundle
            .targets
            .iter()
            .flat_map(|m| predict_rows(m, &self.columns, &x, &ids, as_of, self.version))
            .collect())
    }
}

/// The model's input rows for `rows`, in the columns `columns` (at `positions` among the computed ones).
fn vectors(
    bundle: &Bundle,
    columns: &[Column],
    positions: Option<&[usize]>,
    rows: &[ScoreRow<'_>],
) -> Dataset {
    let x_rows: Vec<Vec<f64>> = par_map(rows, |r| {
        let mut v = Vec::with_capacity(columns.len());
        bundle.spec.vectorise(r.features, r.series, &mut v);
        match positions {
            None => v,
            Some(p) => p.iter().map(|&i| v[i]).collect(),
        }
    });
    let names = columns.iter().map(|c| c.name.clone()).collect();
    Dataset::from_rows(names, &x_rows)
}

/// What the engine's pass opens versions and retrains with.
pub struct Kit;

impl ModelKit for Kit {
    fn open(
        &self,
        record: &bellwether_store::ModelRecord,
    ) -> std::result::Result<Arc<dyn Scorer>, String> {
        let bundle = Bundle::from_bytes(&record.bundle).map_err(|e| e.to_string())?;
        Ok(Arc::new(
            Opened::new(record.version, bundle).map_err(|e| e.to_string())?,
        ))
    }

    fn retrain(
        &self,
        input: &TrainInput<'_>,
        active: &bellwether_store::ModelRecord,
    ) -> std::result::Result<Retrained, String> {
        let mut sampling = crate::dataset::Sampling::for_book(input.summary, None);
        sampling.rates = Some(input.rates.clone());
        sampling.adoption = input.adoption.clone();
        let set = crate::dataset::build(
            input.book,
            input.series,
            input.summary,
            input.health,
            &sampling,
        )
        .ok_or("the book holds no data to learn from")?;
        let cfg: crate::TrainConfig = serde_json::from_str(&active.params).unwrap_or_default();
        let bundle = crate::train(&set, None, &cfg).map_err(|e| e.to_string())?;
        let held_back = bundle.held_back();
        let activate = Activation::WhenBetter.activates(held_back.as_deref());
        Ok(Retrained {
            record: bundle.record(&cfg, activate),
            activate,
            held_back,
        })
    }
}

/// The engine's models: [`Kit`] under `policy`.
pub fn models(policy: bellwether_engine::ModelPolicy) -> bellwether_engine::Models {
    bellwether_engine::Models::new(Arc::new(Kit), policy)
}

/// Scores loaded accounts with a bundle (see [`Opened::score_rows`]).
pub fn score_features(
    bundle: &Bundle,
    version: i64,
    feats: &[AccountFeatures],
    series: &[(AccountId, AccountSeries)],
    as_of: Day,
) -> Result<Vec<Prediction>> {
    let by_id: HashMap<&AccountId, &AccountSeries> = series.iter().map(|(id, s)| (id, s)).collect();
    let (columns, positions) = model_columns(bundle, version)?;
    let rows: Vec<ScoreRow> = feats
        .iter()
        .map(|f| ScoreRow {
            features: f,
            series: by_id.get(&f.account_id).copied(),
        })
        .collect();
    Ok(score_rows(
        bundle,
        version,
        &columns,
        positions.as_deref(),
        &rows,
        as_of,
    )
    .predictions)
}

/// Who ranks the worklist and why: the active model version with its default churn target, or the rules score
/// (no model trained, or the latest version held back because it did not beat the rules). What `train`,
/// `account` and the API say about the model.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ModelStatus {
    /// `model` or `rules`.
    pub in_charge: &'static str,
    /// The active version.
    pub version: Option<i64>,
    /// The active version's default churn target.
    pub target: Option<Target>,
    /// Its window in days (`None` for the renewal target, whose window is each account's).
    pub horizon_days: Option<i32>,
    /// The target in words ("churn within 90 days").
    pub predicts: Option<String>,
    /// Why, in a sentence.
    pub reason: String,
}

/// The model status of a store's registry (see [`ModelStatus`]).
pub async fn status<S: Store + ?Sized>(store: &S) -> Result<ModelStatus> {
    let models = store.models().await?;
    let latest = models.iter().max_by_key(|m| m.version);
    let active = models.iter().find(|m| m.active);
    Ok(match active {
        Some(a) => {
            let m = crate::bundle::RecordMetrics::parse(&a.metrics);
            let target = m.default_target;
            let vs = target.and_then(|t| {
                m.targets
                    .iter()
                    .find(|i| i.target == t)
                    .and_then(|i| i.versus_rules.clone())
            });
            let mut reason = format!(
                "model version {} ranks by {}",
                a.version,
                target.map_or_else(|| "no churn target".to_string(), |t| t.describe())
            );
            if let Some(v) = vs {
                reason.push_str(&format!(
                    "; {} the rules score {}",
                    if v.beats { "it beat" } else { "activated by hand, it did not beat" },
                    v.sentence()
                ));
            }
            if let Some(l) = latest.filter(|l| l.version > a.version) {
                if let Some(h) = crate::bundle::RecordMetrics::parse(&l.metrics).held_back {
                    reason.push_str(&format!("; the newer version {} was not activated: {h}", l.version));
                }
            }
            ModelStatus {
                in_charge: "model",
                version: Some(a.version),
                target,
                horizon_days: target.and_then(Target::horizon),
                predicts: target.map(Target::describe),
                reason,
            }
        }
        None => ModelStatus {
            in_charge: "rules",
            version: None,
            target: None,
            horizon_days: None,
            predicts: None,
            reason: match latest {
                None => "the rules health score ranks the worklist: no model is trained yet (`bellwether train`)".into(),
                Some(l) => match crate::bundle::RecordMetrics::parse(&l.metrics).held_back {
                    Some(h) => format!("the rules health score ranks the worklist: model version {} was not activated because {h}", l.version),
                    None => format!(
                        "the rules health score ranks the worklist: no version is active (activate one with `bellwether models activate {}`)",
                        l.version
                    ),
                },
            },
        },
    })
}

/// When a newly stored version becomes the active one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// When it beats the rules score (see [`Bundle::held_back`]).
    WhenBetter,
    /// Always.
    Force,
    /// Never: stored only.
    Never,
}

impl Activation {
    /// Whether a version held back for `held_back` (`None`: it beats the rules score) becomes active.
    pub fn activates(self, held_back: Option<&str>) -> bool {
        match self {
            Activation::WhenBetter => held_back.is_none(),
            Activation::Force => true,
            Activation::Never => false,
        }
    }
}

/// A version stored in the registry.
#[derive(Clone, Debug, PartialEq)]
pub struct Registered {
    /// Its number.
    pub version: i64,
    /// Whether it is now the active one.
    pub active: bool,
    /// Why it should not be active, if it should not (also when forced).
    pub held_back: Option<String>,
}

/// Stores a trained bundle as a new version, activating it as `activation` says: the one policy of `train`,
/// scheduled retraining and whatever else trains.
pub async fn register<S: Store + ?Sized>(
    store: &S,
    bundle: &Bundle,
    cfg: &crate::TrainConfig,
    activation: Activation,
) -> Result<Registered> {
    let held_back = bundle.held_back();
    let active = activation.activates(held_back.as_deref());
    let version = store.save_model(bundle.record(cfg, active), active).await?;
    Ok(Registered {
        version,
        active,
        held_back,
    })
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

/// The worklist figures the predictions of the bundle's default churn target give, with its expansion
/// target's: each scored account's churn probability and the impact and priority computed from them, the
/// features its assessment is printed with and its active `signals`, as the pass computes them (see
/// [`bellwether_engine::worklist::impact_of`]). The health and its components are the stored assessment's
/// (`assessed`) where the day has one, so the reason agrees with the line it is printed on. Nothing when the
/// bundle has no churn target.
pub fn rankings(
    feats: &[AccountFeatures],
    predictions: &[Prediction],
    bundle: &Bundle,
    signals: &[Signal],
    assessed: &HashMap<AccountId, bellwether_core::model::Assessment>,
    engine: &bellwether_engine::Engine,
    currency: bellwether_core::Currency,
) -> Vec<Ranking> {
    use bellwether_engine::worklist::{impact_of, priority, Attention, Predicted};
    let Some(default) = bundle.default_target else {
        return Vec::new();
    };
    let growth = bundle
        .target(Target::Expansion180)
        .map(|_| Target::Expansion180);
    let of = |t: Target| -> HashMap<&AccountId, &Prediction> {
        predictions
            .iter()
            .filter(|p| p.target == t.as_str())
            .map(|p| (&p.account_id, p))
            .collect()
    };
    let churn = of(default);
    let expansion = growth.map(of).unwrap_or_default();
    let mut by: HashMap<&AccountId, Vec<&Signal>> = HashMap::new();
    for s in signals {
        by.entry(&s.account_id).or_default().push(s);
    }
    feats
        .iter()
        .filter_map(|f| {
            let p = churn.get(&f.account_id)?;
            let a = assessed
                .get(&f.account_id)
                .cloned()
                .unwrap_or_else(|| bellwether_engine::assess::assess_one(f, &engine.health));
            let mine = by.get(&f.account_id).cloned().unwrap_or_default();
            let impact = impact_of(
                f,
                &a,
                Some(Predicted {
                    prediction: p,
                    target: default.describe(),
                }),
                growth.and_then(|g| {
                    expansion.get(&f.account_id).map(|e| Predicted {
                        prediction: e,
                        target: g.describe(),
                    })
                }),
                &mine,
                currency,
            );
            let attention = Attention::of(mine.iter().copied(), p.as_of);
            Some(Ranking {
                account_id: p.account_id.clone(),
                as_of: p.as_of,
                churn_probability: p.probability,
                priority: priority(&impact, &attention),
                reason: impact.why.clone(),
                impact,
            })
        })
        .collect()
}

/// Scores the given accounts (every account with `None`) as of `day` with the active model, without
/// re-assessing them, and stores the predictions, and the priorities they give, on that day's assessments.
/// Features, ARR in the reporting currency and adoption are computed as `engine`'s pass computes them, so a
/// priority is the printed ARR × the printed risk.
pub async fn score<S: Store + ?Sized>(
    store: &S,
    accounts: Option<&[AccountId]>,
    day: BookDay,
    engine: &bellwether_engine::Engine,
) -> Result<ScoreOutcome> {
    let (version, bundle) = load_bundle(store, None).await?;
    let t0 = Instant::now();
    let (book, series, summary) = crate::dataset::load(store, accounts).await?;
    let as_of = day.day;
    let stored = match accounts {
        Some(_) => Some((
            store.peer_stats(as_of).await?.into_iter().collect(),
            bellwether_features::adoption::Common::from_rows(store.common_features(as_of).await?),
        )),
        None => None,
    };
    let load_seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let now = day.current.then(bellwether_core::Timestamp::now);
    let rates = bellwether_engine::money::rates_or_reporting(store, &engine.money, &book).await?;
    let feats = features_on(
        &book,
        &series,
        &summary,
        as_of,
        stored,
        now,
        Some(&rates),
        &engine.adoption,
    );
    let feature_seconds = t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    let predictions = score_features(&bundle, version, &feats, &series, as_of)?;
    let explain_seconds = t2.elapsed().as_secs_f64();
    let signals = store
        .signals(bellwether_store::SignalFilter {
            accounts: accounts.map(<[AccountId]>::to_vec),
            statuses: bellwether_core::model::SignalStatus::ACTIVE.to_vec(),
            ..Default::default()
        })
        .await?;
    // The day's stored assessments give the health the reasons quote (the whole day when every account is
    // scored; a few accounts' passes compute theirs).
    let assessed: HashMap<AccountId, bellwether_core::model::Assessment> = match accounts {
        None => store
            .assessments(Some(as_of))
            .await?
            .into_iter()
            .map(|a| (a.account_id.clone(), a))
            .collect(),
        Some(_) => HashMap::new(),
    };
    store
        .save_predictions(
            &predictions,
            &rankings(
                &feats,
                &predictions,
                &bundle,
                &signals,
                &assessed,
                engine,
                rates.reporting(),
            ),
        )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::FeatureSpec;

    fn bundle(columns: Vec<String>) -> Bundle {
        Bundle {
            spec: FeatureSpec::default(),
            columns,
            trained_from: Day(0),
            trained_to: Day(0),
            engine: "gbdt".into(),
            targets: Vec::new(),
            default_target: Some(Target::ChurnRenewal),
            skipped: Vec::new(),
        }
    }

    #[test]
    fn a_model_gets_its_own_columns_in_its_own_order_or_is_refused() {
        let computed: Vec<String> = FeatureSpec::default()
            .columns()
            .into_iter()
            .map(|c| c.name)
            .collect();
        let (cols, positions) = model_columns(&bundle(computed.clone()), 1).unwrap();
        assert_eq!(cols.len(), computed.len());
        assert!(positions.is_none());
        // Trained before the third column existed, and with the first two the other way round.
        let older = vec![
            computed[1].clone(),
            computed[0].clone(),
            computed[3].clone(),
        ];
        let (cols, positions) = model_columns(&bundle(older.clone()), 1).unwrap();
        assert_eq!(positions, Some(vec![1, 0, 3]));
        assert_eq!(
            cols.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
            older
        );
        let gone = vec![computed[0].clone(), "retired_column".to_string()];
        match model_columns(&bundle(gone), 4) {
            Err(PredictError::Incompatible(m)) => {
                assert!(
                    m.contains("retired_column") && m.contains("version 4"),
                    "{m}"
                )
            }
            other => panic!("{:?}", other.map(|c| c.1)),
        }
    }
}

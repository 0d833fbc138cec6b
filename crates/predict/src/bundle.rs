//! A trained model bundle: the learned columns, and for every target a fitted model, its calibration, its
//! base rate and alert threshold, and the held-out metrics it was accepted with, side by side with the
//! logistic baseline fitted on the same rows; the book's default churn target ([`choose_default`]), the targets
//! skipped with why ([`Skipped`]), and how the default target fared against the rules score ([`VersusRules`]),
//! which decides whether the version may be activated. This is what the registry stores as one version; a
//! version also travels as a file ([`to_file`], [`from_file`]).
//!
//! Rows are split by account (a hash of the id), never by row, so the snapshots of one account never sit on
//! both sides: 70% train, 15% for early stopping, 15% for calibration and the held-out metrics.

use crate::dataset::{target_index, TrainingSet};
use crate::labels::Target;
use crate::vector::FeatureSpec;
use crate::{PredictError, Result};
use bellwether_core::Day;
use bellwether_ml::calibrate::Calibration;
use bellwether_ml::gbdt::{Gbdt, GbdtParams};
use bellwether_ml::logistic::LogisticLearner;
use bellwether_ml::{metrics, Dataset, Learner, Model};
use serde::{Deserialize, Serialize};

/// Accounts with the outcome a target needs in its training rows before a model is fitted for it (each
/// contributes several positive snapshots, so rows would overstate the evidence).
pub const MIN_POSITIVES: usize = 30;

/// The default [`TrainConfig::alert_z`]: the observed precision. A Wilson lower bound at one standard error
/// raised the alert precision on the months after a cut-off by 2–5 points on the simulator's books but cut the
/// median warning by 4 to 49 days on 2,000-account books (BENCHMARKS.md), so it is a setting, not the default.
pub const DEFAULT_ALERT_Z: f64 = 0.0;

fn default_alert_z() -> f64 {
    DEFAULT_ALERT_Z
}

/// An account in the alert state leaves it only when its probability falls below this share of the alert
/// threshold (hysteresis), so a score hovering at the threshold does not open and close alerts day after day.
pub const ALERT_EXIT_RATIO: f64 = 0.75;

/// Which part of the split an account's rows go to: 0–69 train, 70–84 early stopping, 85–99 calibration.
pub fn fold(account: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(account.as_bytes()) % 100
}

/// Settings of a training run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The engine of the active models: `gbdt` or `logistic`.
    pub engine: String,
    /// Tree hyperparameters.
    pub gbdt: GbdtParams,
    /// Precision the alert threshold must reach on held-out rows.
    pub alert_precision: f64,
    /// How sure that precision must be: the threshold is the lowest whose precision's Wilson lower bound at
    /// this many standard errors reaches it (0: the observed precision).
    #[serde(default = "default_alert_z")]
    pub alert_z: f64,
    /// The targets to fit.
    pub targets: Vec<Target>,
    /// Also fit the logistic baseline and record its held-out metrics.
    pub baseline: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            engine: "gbdt".into(),
            gbdt: GbdtParams::default(),
            alert_precision: 0.5,
            alert_z: DEFAULT_ALERT_Z,
            targets: Target::ALL.to_vec(),
            baseline: true,
        }
    }
}

/// Held-out metrics of one model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HeldOut {
    /// ROC-AUC.
    pub auc: f64,
    /// Average precision.
    pub pr_auc: f64,
    /// Brier score of the calibrated probabilities.
    pub brier: f64,
    /// Expected calibration error.
    pub ece: f64,
}

/// The model against the rules health score on the latest labelled snapshots of the held-out accounts (the
/// accounts the model never trained on): what decides whether a version may be activated.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VersusRules {
    /// The first snapshot day compared.
    pub from: Day,
    /// Snapshots compared, and positives among them.
    pub rows: usize,
    /// Positives among them.
    pub positives: usize,
    /// ROC-AUC of the model.
    pub model_auc: f64,
    /// ROC-AUC of the rules score's risk.
    pub rules_auc: f64,
    /// Precision of the model at its alert threshold.
    pub model_precision: f64,
    /// Precision of the rules score over as many snapshots as the model flags (the same alert budget).
    pub rules_precision: f64,
    /// Whether the model beats the rules: a higher AUC, and a precision at least as high.
    pub beats: bool,
}

impl VersusRules {
    /// The comparison in words, for `train`, `account` and the API.
    pub fn sentence(&self) -> String {
        format!(
            "on {} held-out snapshots from {}: AUC {:.3} against the rules score's {:.3}, precision at the alert \
             threshold {:.2} against {:.2} for as many alerts by the rules",
            self.rows,
            self.from,
            self.model_auc,
            self.rules_auc,
            self.model_precision,
            self.rules_precision
        )
    }
}

/// A target training left out, and why, with the counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// The target.
    pub target: Target,
    /// Snapshots whose label was knowable by the cut-off.
    pub labelled_snapshots: usize,
    /// Accounts with the outcome among them.
    pub positive_accounts: usize,
    /// Days of history the target needs (warm-up, window and grace period).
    pub days_needed: i32,
    /// Days of history the book holds.
    pub days_held: i32,
    /// Why, in words.
    pub reason: String,
}

/// What is known about one target's model, stored as JSON with the version.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TargetInfo {
    /// The target.
    pub target: Target,
    /// Training rows and positives among them.
    pub rows: usize,
    /// Positives in the training rows.
    pub positives: usize,
    /// The share of positives over all labelled rows.
    pub base_rate: f64,
    /// The calibration.
    pub calibration: Calibration,
    /// The lowest calibrated probability whose held-out precision reached the configured precision.
    pub alert_threshold: f64,
    /// The model's description.
    pub model: String,
    /// Held-out metrics of the active model.
    pub held_out: HeldOut,
    /// Held-out metrics of the logistic baseline on the same rows.
    pub baseline: HeldOut,
    /// Seconds to fit the active model.
    pub fit_seconds: f64,
    /// The model against the rules score on the latest held-out snapshots.
    #[serde(default)]
    pub versus_rules: Option<VersusRules>,
}

/// What a registry record says of its bundle without reading the models: every target's figures, the default
/// churn target, the targets skipped and why the version was held back, if it was.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RecordMetrics {
    /// Every trained target.
    pub targets: Vec<TargetInfo>,
    /// The default churn target.
    #[serde(default = "renewal_default")]
    pub default_target: Option<Target>,
    /// The targets left out.
    #[serde(default)]
    pub skipped: Vec<Skipped>,
    /// Why the version should not be activated, if it should not.
    #[serde(default)]
    pub held_back: Option<String>,
}

impl RecordMetrics {
    /// Reads a record's metrics column (records stored before it was an object hold the target list alone).
    pub fn parse(s: &str) -> RecordMetrics {
        serde_json::from_str(s).unwrap_or_else(|_| RecordMetrics {
            targets: serde_json::from_str(s).unwrap_or_default(),
            default_target: renewal_default(),
            ..Default::default()
        })
    }
}

/// A fitted target.
pub struct TargetModel {
    /// What is known about it.
    pub info: TargetInfo,
    /// The model.
    pub model: Box<dyn Model>,
}

/// Everything one registry version holds.
pub struct Bundle {
    /// The learned columns.
    pub spec: FeatureSpec,
    /// Column names, in order.
    pub columns: Vec<String>,
    /// First snapshot day used.
    pub trained_from: Day,
    /// The cut-off: only labels knowable by this day were used.
    pub trained_to: Day,
    /// The engine.
    pub engine: String,
    /// One model per target that had enough positives.
    pub targets: Vec<TargetModel>,
    /// The churn target that ranks the worklist and lands on assessments (`None`: no churn target trained).
    pub default_target: Option<Target>,
    /// The targets left out, with why.
    pub skipped: Vec<Skipped>,
}

/// Bundles stored before the default target was chosen per book used the renewal target.
fn renewal_default() -> Option<Target> {
    Some(Target::ChurnRenewal)
}

#[derive(Serialize, Deserialize)]
struct Header {
    spec: FeatureSpec,
    columns: Vec<String>,
    trained_from: Day,
    trained_to: Day,
    engine: String,
    targets: Vec<TargetInfo>,
    #[serde(default = "renewal_default")]
    default_target: Option<Target>,
    #[serde(default)]
    skipped: Vec<Skipped>,
}

impl Bundle {
    /// The model of a target.
    pub fn target(&self, t: Target) -> Option<&TargetModel> {
        self.targets.iter().find(|m| m.info.target == t)
    }

    /// The infos of every target, as stored in the registry's metrics column.
    pub fn infos(&self) -> Vec<&TargetInfo> {
        self.targets.iter().map(|t| &t.info).collect()
    }

    /// The model of the default churn target.
    pub fn default_model(&self) -> Option<&TargetModel> {
        self.default_target.and_then(|t| self.target(t))
    }

    /// Whether the version may be activated: its default churn target beats the rules score (see
    /// [`VersusRules`]). A bundle stored before the comparison existed counts as beating it.
    pub fn beats_rules(&self) -> bool {
        self.default_model()
            .is_some_and(|m| m.info.versus_rules.as_ref().is_none_or(|v| v.beats))
    }

    /// Why the version is not to be activated, in words (`None`: it may be).
    pub fn held_back(&self) -> Option<String> {
        match self.default_model() {
            None => Some("no churn target could be trained, so the rules score stays in charge".into()),
            Some(m) => match &m.info.versus_rules {
                Some(v) if !v.beats => Some(format!(
                    "the {} model does not beat the rules score {}; the rules score stays in charge",
                    m.info.target.as_str(),
                    v.sentence()
                )),
                _ => None,
            },
        }
    }

    /// The registry record of this bundle, trained with `cfg`.
    pub fn record(&self, cfg: &TrainConfig, active: bool) -> bellwether_store::ModelRecord {
        bellwether_store::ModelRecord {
            version: 0,
            created_at: bellwether_core::Timestamp::now(),
            trained_from: self.trained_from,
            trained_to: self.trained_to,
            engine: self.engine.clone(),
            features: self.columns.clone(),
            params: serde_json::to_string(cfg).unwrap_or_default(),
            metrics: serde_json::to_string(&RecordMetrics {
                targets: self.targets.iter().map(|t| t.info.clone()).collect(),
                default_target: self.default_target,
                skipped: self.skipped.clone(),
                held_back: self.held_back(),
            })
            .unwrap_or_default(),
            active,
            bundle: self.to_bytes(),
        }
    }

    /// Serialises the bundle: a JSON header, then each model's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = Header {
            spec: self.spec.clone(),
            columns: self.columns.clone(),
            trained_from: self.trained_from,
            trained_to: self.trained_to,
            engine: self.engine.clone(),
            targets: self.targets.iter().map(|t| t.info.clone()).collect(),
            default_target: self.default_target,
            skipped: self.skipped.clone(),
        };
        let json = serde_json::to_vec(&header).expect("bundle header serialises");
        let mut out = Vec::new();
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend(json);
        for t in &self.targets {
            let b = bellwether_ml::save(t.model.as_ref());
            out.extend_from_slice(&(b.len() as u32).to_le_bytes());
            out.extend(b);
        }
        out
    }

    /// Reads a bundle written by [`Bundle::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Bundle> {
        let corrupt =
            |m: &str| PredictError::Model(format!("stored model bundle is unreadable: {m}"));
        let mut at = 0usize;
        let chunk = |at: &mut usize| -> Result<&[u8]> {
            let n = bytes
                .get(*at..*at + 4)
                .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
                .ok_or_else(|| corrupt("truncated"))?;
            let c = bytes
                .get(*at + 4..*at + 4 + n)
                .ok_or_else(|| corrupt("truncated"))?;
            *at += 4 + n;
            Ok(c)
        };
        let header: Header =
            serde_json::from_slice(chunk(&mut at)?).map_err(|e| corrupt(&e.to_string()))?;
        let mut targets = Vec::new();
        for info in header.targets {
            let model =
                bellwether_ml::load(chunk(&mut at)?).map_err(|e| corrupt(&e.to_string()))?;
            targets.push(TargetModel { info, model });
        }
        Ok(Bundle {
            spec: header.spec,
            columns: header.columns,
            trained_from: header.trained_from,
            trained_to: header.trained_to,
            engine: header.engine,
            targets,
            default_target: header.default_target,
            skipped: header.skipped,
        })
    }
}

/// The first line of a model file written by `models export`.
pub const FILE_MAGIC: &str = "bellwether-model 1";

#[derive(Serialize, Deserialize)]
struct FileHeader {
    version: i64,
    created_at: bellwether_core::Timestamp,
    trained_from: Day,
    trained_to: Day,
    engine: String,
    features: Vec<String>,
    params: String,
    metrics: String,
    exported_by: String,
}

/// A registry record as a file that carries it to another data directory: a magic line, a JSON line with the
/// record's columns, default target and metrics, then the bundle's bytes.
pub fn to_file(record: &bellwether_store::ModelRecord) -> Vec<u8> {
    let header = FileHeader {
        version: record.version,
        created_at: record.created_at,
        trained_from: record.trained_from,
        trained_to: record.trained_to,
        engine: record.engine.clone(),
        features: record.features.clone(),
        params: record.params.clone(),
        metrics: record.metrics.clone(),
        exported_by: format!("bellwether {}", env!("CARGO_PKG_VERSION")),
    };
    let mut out = format!("{FILE_MAGIC}\n").into_bytes();
    out.extend(serde_json::to_vec(&header).expect("model file header serialises"));
    out.push(b'\n');
    out.extend_from_slice(&record.bundle);
    out
}

/// Reads a model file written by [`to_file`] into a record to store (version and activation are the
/// registry's to give), checking that this build computes every column its models need.
pub fn from_file(bytes: &[u8]) -> Result<(bellwether_store::ModelRecord, Bundle)> {
    let bad = |m: String| {
        PredictError::Model(format!(
            "not a Bellwether model file: {m}; export one with `bellwether models export FILE`"
        ))
    };
    let mut lines = bytes.splitn(3, |b| *b == b'\n');
    let magic = lines.next().unwrap_or_default();
    if magic != FILE_MAGIC.as_bytes() {
        return Err(bad(format!(
            "the first line is '{}', not '{FILE_MAGIC}'",
            String::from_utf8_lossy(&magic[..magic.len().min(40)])
        )));
    }
    let header: FileHeader = serde_json::from_slice(lines.next().unwrap_or_default())
        .map_err(|e| bad(format!("its header does not read: {e}")))?;
    let bundle_bytes = lines.next().unwrap_or_default().to_vec();
    let bundle = Bundle::from_bytes(&bundle_bytes)?;
    // Refused here, naming the columns, rather than at the first scoring.
    crate::score::model_columns(&bundle, header.version)?;
    Ok((
        bellwether_store::ModelRecord {
            version: 0,
            created_at: header.created_at,
            trained_from: header.trained_from,
            trained_to: header.trained_to,
            engine: header.engine,
            features: header.features,
            params: header.params,
            metrics: header.metrics,
            active: false,
            bundle: bundle_bytes,
        },
        bundle,
    ))
}

fn held_out(p: &[f64], raw: &[f64], y: &[f64]) -> HeldOut {
    HeldOut {
        auc: metrics::roc_auc(raw, y),
        pr_auc: metrics::pr_auc(raw, y),
        brier: metrics::brier(p, y),
        ece: metrics::ece(p, y),
    }
}

/// Which part of the split an account's rows go to: 0 train, 1 early stopping, 2 calibration.
fn part(account: &str) -> usize {
    match fold(account) {
        f if f < 70 => 0,
        f if f < 85 => 1,
        _ => 2,
    }
}

/// The labelled rows of one target by `cutoff`, with the figures a skipped target is reported with.
struct Labelled {
    parts: [Vec<usize>; 3],
    positive_accounts: [usize; 3],
    days_needed: i32,
}

/// The typical days from a snapshot to the day its label of `target` is known (its window and grace period):
/// the median over a sample of the set's rows.
pub fn label_days(set: &TrainingSet, target: Target) -> i32 {
    let ti = target_index(target);
    let step = (set.rows.len() / 4096).max(1);
    let mut spans: Vec<i32> = set
        .rows
        .iter()
        .step_by(step)
        .map(|r| r.labels[ti].1 .0 - r.as_of.0)
        .collect();
    spans.sort_unstable();
    spans
        .get(spans.len() / 2)
        .copied()
        .unwrap_or_else(|| target.horizon().unwrap_or(180) + crate::labels::GRACE_DAYS)
}

/// The targets with enough outcomes to train on the labels known by the end of the data.
pub fn trainable(set: &TrainingSet) -> Vec<Target> {
    Target::ALL
        .into_iter()
        .filter(|&t| {
            let l = labelled(set, target_index(t), set.data_end);
            l.positive_accounts[0] >= MIN_POSITIVES
                && l.positive_accounts[1] + l.positive_accounts[2] >= MIN_POSITIVES / 3
        })
        .collect()
}

fn labelled(set: &TrainingSet, ti: usize, cutoff: Day) -> Labelled {
    let mut parts: [Vec<usize>; 3] = Default::default();
    let mut positives: [std::collections::HashSet<&str>; 3] = Default::default();
    for (i, r) in set.rows.iter().enumerate() {
        let (y, known) = r.labels[ti];
        if known > cutoff {
            continue;
        }
        let k = part(r.account.as_str());
        parts[k].push(i);
        if y {
            positives[k].insert(r.account.as_str());
        }
    }
    Labelled {
        parts,
        positive_accounts: positives.map(|p| p.len()),
        days_needed: set.sampling.warmup_days + label_days(set, Target::ALL[ti]),
    }
}

/// The default churn target among the trained ones: the renewal target when most customers of the latest
/// snapshot day had a known renewal (a renewal date, or a term longer than a month), otherwise the longest
/// fixed churn horizon trained, otherwise the renewal target if it trained.
pub fn choose_default(set: &TrainingSet, trained: &[Target]) -> Option<Target> {
    let latest = set.rows.iter().map(|r| r.as_of).max()?;
    let (known, n) = set
        .rows
        .iter()
        .filter(|r| r.as_of == latest)
        .fold((0usize, 0usize), |(k, n), r| {
            (k + usize::from(r.renewal_known), n + 1)
        });
    let renewal = trained.contains(&Target::ChurnRenewal);
    if renewal && 2 * known > n {
        return Some(Target::ChurnRenewal);
    }
    trained
        .iter()
        .copied()
        .filter(|t| t.is_churn() && t.horizon().is_some())
        .max_by_key(|t| t.horizon())
        .or(renewal.then_some(Target::ChurnRenewal))
}

/// The model against the rules score on the latest third of the labelled snapshot days of the held-out
/// accounts (the validation and calibration folds): AUC, and precision at the model's alert threshold against
/// the rules' precision over as many of the highest rules risks (the same alert budget).
fn versus_rules(
    set: &TrainingSet,
    ti: usize,
    l: &Labelled,
    model: &dyn Model,
    calibration: &Calibration,
    threshold: f64,
    cfg: &TrainConfig,
) -> Option<VersusRules> {
    let held: Vec<usize> = l.parts[1].iter().chain(&l.parts[2]).copied().collect();
    let mut days: Vec<Day> = held.iter().map(|&i| set.rows[i].as_of).collect();
    days.sort_unstable();
    days.dedup();
    let from = *days.get(days.len() - days.len().div_ceil(3))?;
    let rows: Vec<usize> = held
        .into_iter()
        .filter(|&i| set.rows[i].as_of >= from)
        .collect();
    let y: Vec<f64> = rows
        .iter()
        .map(|&i| f64::from(u8::from(set.rows[i].labels[ti].0)))
        .collect();
    let positives = y.iter().filter(|v| **v > 0.5).count();
    if positives == 0 || positives == y.len() {
        return None;
    }
    let raw = model.raw(&set.x.take(&rows));
    let p: Vec<f64> = raw.iter().map(|r| calibration.apply(*r)).collect();
    let risk: Vec<f64> = rows.iter().map(|&i| set.rows[i].rules_risk).collect();
    let (model_auc, rules_auc) = (metrics::roc_auc(&raw, &y), metrics::roc_auc(&risk, &y));
    let (model_precision, flagged) = metrics::precision_at(&p, &y, threshold);
    // The rules get the same alert budget: their precision over as many rows as the model flags (when the
    // model flags none, at their own threshold chosen on the training rows).
    let k = (flagged * y.len() as f64).round() as usize;
    let rules_precision = if k > 0 {
        metrics::precision_at_k(&risk, &y, k)
    } else {
        let t = rules_threshold(set, &l.parts[0], ti, cfg);
        metrics::precision_at(&risk, &y, t).0
    };
    Some(VersusRules {
        from,
        rows: rows.len(),
        positives,
        model_auc,
        rules_auc,
        model_precision,
        rules_precision,
        beats: model_auc > rules_auc && model_precision >= rules_precision,
    })
}

/// The rules score's alert threshold on `rows` (training rows) for the target at `ti`: the lowest risk proxy
/// reaching the configured precision, as the model's threshold is chosen on its calibration fold (0.5 when
/// none does).
pub fn rules_threshold(set: &TrainingSet, rows: &[usize], ti: usize, cfg: &TrainConfig) -> f64 {
    let risk: Vec<f64> = rows.iter().map(|&i| set.rows[i].rules_risk).collect();
    let y: Vec<f64> = rows
        .iter()
        .map(|&i| f64::from(u8::from(set.rows[i].labels[ti].0)))
        .collect();
    metrics::threshold_for_precision_at(&risk, &y, cfg.alert_precision, 10, cfg.alert_z)
        .unwrap_or(0.5)
}

/// Trains a bundle on the rows of `set` whose labels were knowable by `cutoff` (default: the end of data).
/// A target without enough outcomes is skipped with its counts; when none can be trained the error's advice
/// fits the book (too short a history, or too few outcomes).
pub fn train(set: &TrainingSet, cutoff: Option<Day>, cfg: &TrainConfig) -> Result<Bundle> {
    let cutoff = cutoff.unwrap_or(set.data_end).min(set.data_end);
    // The history known by the cut-off.
    let days_held = cutoff.0 - set.data_start.0 + 1;
    let mut targets = Vec::new();
    let mut skipped = Vec::new();
    let mut first_day = None;
    for &target in &cfg.targets {
        let ti = target_index(target);
        let l = labelled(set, ti, cutoff);
        let parts = &l.parts;
        let n_labelled = parts.iter().map(Vec::len).sum::<usize>();
        let label = |idx: &[usize]| -> Vec<f64> {
            idx.iter()
                .map(|&i| f64::from(u8::from(set.rows[i].labels[ti].0)))
                .collect()
        };
        let (ytr, yva, yca) = (label(&parts[0]), label(&parts[1]), label(&parts[2]));
        let pos = ytr.iter().filter(|v| **v > 0.5).count();
        let acc_tr = l.positive_accounts[0];
        let acc_held = l.positive_accounts[1] + l.positive_accounts[2];
        let reason = if n_labelled == 0 {
            Some(format!(
                "no snapshot's window had closed by {cutoff}: {} needs {} days of history (a {}-day warm-up, then \
                 its window and grace period), the book holds {days_held}{}",
                target.describe(),
                l.days_needed,
                set.sampling.warmup_days,
                if cutoff < set.data_end {
                    format!(" by then ({} in all)", set.data_end.0 - set.data_start.0 + 1)
                } else {
                    String::new()
                }
            ))
        } else if acc_tr < MIN_POSITIVES || acc_held < MIN_POSITIVES / 3 {
            Some(format!(
                "{} accounts had {} in {n_labelled} labelled snapshots ({acc_tr} among the training accounts, \
                 {acc_held} held out); a model needs {MIN_POSITIVES} and {}",
                acc_tr + acc_held,
                target.describe(),
                MIN_POSITIVES / 3
            ))
        } else if pos == ytr.len() {
            Some(format!(
                "every one of the {n_labelled} labelled snapshots had {}",
                target.describe()
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            tracing::info!(target = target.as_str(), %reason, "target skipped");
            skipped.push(Skipped {
                target,
                labelled_snapshots: n_labelled,
                positive_accounts: acc_tr + acc_held,
                days_needed: l.days_needed,
                days_held,
                reason,
            });
            continue;
        }
        for p in parts {
            for &i in p {
                let d = set.rows[i].as_of;
                first_day = Some(first_day.map_or(d, |f: Day| f.min(d)));
            }
        }
        let (xtr, xva, xca) = (
            set.x.take(&parts[0]),
            set.x.take(&parts[1]),
            set.x.take(&parts[2]),
        );
        let t0 = std::time::Instant::now();
        let fit = |engine: &str| -> Result<Box<dyn Model>> {
            let r = match engine {
                "logistic" => LogisticLearner::default().fit(&xtr, &ytr, Some((&xva, &yva))),
                _ => Gbdt {
                    params: cfg.gbdt.clone(),
                }
                .fit(&xtr, &ytr, Some((&xva, &yva))),
            };
            r.map_err(|e| PredictError::Model(format!("{}: {e}", target.as_str())))
        };
        let model = fit(&cfg.engine)?;
        let fit_seconds = t0.elapsed().as_secs_f64();
        let baseline = if cfg.engine == "logistic" || !cfg.baseline {
            None
        } else {
            Some(fit("logistic")?)
        };
        // Calibrate on the calibration fold, and measure there too.
        let raw = model.raw(&xca);
        // Calibrated on the calibration fold's latest snapshot days (the latest half, when they hold enough
        // of both classes), as the months after training resemble the latest ones most.
        let calibration = {
            let mut days: Vec<Day> = parts[2].iter().map(|&i| set.rows[i].as_of).collect();
            days.sort_unstable();
            days.dedup();
            let from = days.get(days.len() / 2).copied();
            let latest: Vec<usize> = (0..parts[2].len())
                .filter(|&k| from.is_some_and(|f| set.rows[parts[2][k]].as_of >= f))
                .collect();
            let (lr, ly): (Vec<f64>, Vec<f64>) = latest.iter().map(|&k| (raw[k], yca[k])).unzip();
            let pos = ly.iter().filter(|v| **v > 0.5).count();
            if pos >= 50 && ly.len() - pos >= 50 {
                Calibration::fit(&lr, &ly)
            } else {
                Calibration::fit(&raw, &yca)
            }
        };
        let p: Vec<f64> = raw.iter().map(|r| calibration.apply(*r)).collect();
        let alert_threshold =
            metrics::threshold_for_precision_at(&p, &yca, cfg.alert_precision, 10, cfg.alert_z)
                .unwrap_or(0.5);
        let base_rate = ytr.iter().chain(&yva).chain(&yca).sum::<f64>()
            / (ytr.len() + yva.len() + yca.len()) as f64;
        let baseline_metrics = match &baseline {
            Some(b) => {
                let braw = b.raw(&xca);
                let bcal = Calibration::fit(&braw, &yca);
                let bp: Vec<f64> = braw.iter().map(|r| bcal.apply(*r)).collect();
                held_out(&bp, &braw, &yca)
            }
            None => held_out(&p, &raw, &yca),
        };
        let versus = target
            .is_churn()
            .then(|| {
                versus_rules(
                    set,
                    ti,
                    &l,
                    model.as_ref(),
                    &calibration,
                    alert_threshold,
                    cfg,
                )
            })
            .flatten();
        targets.push(TargetModel {
            info: TargetInfo {
                target,
                rows: ytr.len(),
                positives: pos,
                base_rate,
                calibration,
                alert_threshold,
                model: model.describe(),
                held_out: held_out(&p, &raw, &yca),
                baseline: baseline_metrics,
                fit_seconds,
                versus_rules: versus,
            },
            model,
        });
    }
    if targets.is_empty() {
        return Err(PredictError::NotEnoughHistory(not_enough(
            set, cutoff, &skipped,
        )));
    }
    let trained: Vec<Target> = targets.iter().map(|t| t.info.target).collect();
    Ok(Bundle {
        spec: set.spec.clone(),
        columns: set.columns.iter().map(|c| c.name.clone()).collect(),
        trained_from: first_day.unwrap_or(cutoff),
        trained_to: cutoff,
        engine: cfg.engine.clone(),
        default_target: choose_default(set, &trained),
        targets,
        skipped,
    })
}

/// The advice when no target could be trained: a history too short for even the shortest window, or too few
/// outcomes in the windows it allows.
fn not_enough(set: &TrainingSet, cutoff: Day, skipped: &[Skipped]) -> String {
    let lines: Vec<String> = skipped
        .iter()
        .map(|s| format!("{}: {}", s.target.as_str(), s.reason))
        .collect();
    let shortest = skipped.iter().min_by_key(|s| s.days_needed);
    let advice = match shortest {
        Some(s) if s.labelled_snapshots == 0 && cutoff < set.data_end => format!(
            "by the cut-off {cutoff} the book held {} days of history and the shortest target needs {}: use a \
             later cut-off",
            s.days_held, s.days_needed
        ),
        Some(s) if s.labelled_snapshots == 0 => format!(
            "the book holds {} days of history and the shortest target needs {}: import older usage and \
             subscription history, or wait {} more days",
            s.days_held,
            s.days_needed,
            (s.days_needed - s.days_held).max(1)
        ),
        _ => format!(
            "too few accounts had an outcome in the snapshots labelled by {cutoff}: import outcomes (churns, \
             renewals, expansions) or the subscription history in which cancellations show, so that at least \
             {MIN_POSITIVES} accounts have one"
        ),
    };
    format!(
        "{advice} ({} snapshots; {})",
        set.rows.len(),
        lines.join("; ")
    )
}

/// Scores rows: the calibrated probability and raw score of every row for one target model.
pub fn predict(m: &TargetModel, x: &Dataset) -> (Vec<f64>, Vec<f64>) {
    let raw = m.model.raw(x);
    let p = raw.iter().map(|r| m.info.calibration.apply(*r)).collect();
    (p, raw)
}

/// Writes the rows of one target that training would use, split as training splits them, to
/// `dir/{train,valid,test}.csv` (the columns, then `label`; missing values empty), so another engine can be
/// trained and measured on exactly the same matrix.
pub fn export_split(
    set: &TrainingSet,
    target: Target,
    dir: &std::path::Path,
) -> std::io::Result<[usize; 3]> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let ti = target_index(target);
    let mut files = ["train", "valid", "test"]
        .map(|n| std::fs::File::create(dir.join(format!("{n}.csv"))).map(std::io::BufWriter::new));
    let mut counts = [0usize; 3];
    let header = set
        .columns
        .iter()
        .map(|c| c.name.replace([',', '"'], "_"))
        .chain(std::iter::once("label".to_string()))
        .collect::<Vec<_>>()
        .join(",");
    for f in files.iter_mut() {
        let f = f
            .as_mut()
            .map_err(|e| std::io::Error::new(e.kind(), e.to_string()))?;
        writeln!(f, "{header}")?;
    }
    let mut line = String::new();
    for (i, r) in set.rows.iter().enumerate() {
        let (y, known) = r.labels[ti];
        if known > set.data_end {
            continue;
        }
        let k = part(r.account.as_str());
        line.clear();
        for j in 0..set.x.cols() {
            let v = set.x.data[j * set.x.rows + i];
            if !v.is_nan() {
                line.push_str(&v.to_string());
            }
            line.push(',');
        }
        line.push_str(if y { "1" } else { "0" });
        let f = files[k]
            .as_mut()
            .map_err(|e| std::io::Error::new(e.kind(), e.to_string()))?;
        writeln!(f, "{line}")?;
        counts[k] += 1;
    }
    for f in files.iter_mut() {
        f.as_mut()
            .map_err(|e| std::io::Error::new(e.kind(), e.to_string()))?
            .flush()?;
    }
    Ok(counts)
}

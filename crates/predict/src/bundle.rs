//! A trained model bundle: the learned columns, and for every target a fitted model, its calibration, its
//! base rate and alert threshold, and the held-out metrics it was accepted with, side by side with the
//! logistic baseline fitted on the same rows. This is what the registry stores as one version.
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
}

#[derive(Serialize, Deserialize)]
struct Header {
    spec: FeatureSpec,
    columns: Vec<String>,
    trained_from: Day,
    trained_to: Day,
    engine: String,
    targets: Vec<TargetInfo>,
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
            metrics: serde_json::to_string(&self.infos()).unwrap_or_default(),
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
        })
    }
}

fn held_out(p: &[f64], raw: &[f64], y: &[f64]) -> HeldOut {
    HeldOut {
        auc: metrics::roc_auc(raw, y),
        pr_auc: metrics::pr_auc(raw, y),
        brier: metrics::brier(p, y),
        ece: metrics::ece(p, y),
    }
}

/// Trains a bundle on the rows of `set` whose labels were knowable by `cutoff` (default: the end of data).
pub fn train(set: &TrainingSet, cutoff: Option<Day>, cfg: &TrainConfig) -> Result<Bundle> {
    let cutoff = cutoff.unwrap_or(set.data_end).min(set.data_end);
    let mut targets = Vec::new();
    let mut first_day = None;
    for &target in &cfg.targets {
        let ti = target_index(target);
        let mut parts: [Vec<usize>; 3] = Default::default();
        for (i, r) in set.rows.iter().enumerate() {
            let (_, known) = r.labels[ti];
            if known > cutoff {
                continue;
            }
            first_day = Some(first_day.map_or(r.as_of, |d: Day| d.min(r.as_of)));
            let f = fold(r.account.as_str());
            parts[if f < 70 {
                0
            } else if f < 85 {
                1
            } else {
                2
            }]
            .push(i);
        }
        let label = |idx: &[usize]| -> Vec<f64> {
            idx.iter()
                .map(|&i| f64::from(u8::from(set.rows[i].labels[ti].0)))
                .collect()
        };
        let (ytr, yva, yca) = (label(&parts[0]), label(&parts[1]), label(&parts[2]));
        let pos = ytr.iter().filter(|v| **v > 0.5).count();
        let accounts_with = |idx: &[usize]| {
            idx.iter()
                .filter(|&&i| set.rows[i].labels[ti].0)
                .map(|&i| &set.rows[i].account)
                .collect::<std::collections::HashSet<_>>()
                .len()
        };
        let (acc_tr, acc_held) = (
            accounts_with(&parts[0]),
            accounts_with(&parts[1]) + accounts_with(&parts[2]),
        );
        if acc_tr < MIN_POSITIVES || acc_held < MIN_POSITIVES / 3 || pos == ytr.len() {
            tracing::info!(
                target = target.as_str(),
                accounts = acc_tr,
                "not enough outcomes to train; skipped"
            );
            continue;
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
        let calibration = Calibration::fit(&raw, &yca);
        let p: Vec<f64> = raw.iter().map(|r| calibration.apply(*r)).collect();
        let alert_threshold =
            metrics::threshold_for_precision(&p, &yca, cfg.alert_precision, 10).unwrap_or(0.5);
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
            },
            model,
        });
    }
    if targets.is_empty() {
        return Err(PredictError::NotEnoughHistory(format!(
            "no outcome happened to {MIN_POSITIVES} accounts in {} snapshots with labels known by {cutoff}; \
             import outcomes or subscription history covering at least a year, or wait for more renewals",
            set.rows.len()
        )));
    }
    Ok(Bundle {
        spec: set.spec.clone(),
        columns: set.columns.iter().map(|c| c.name.clone()).collect(),
        trained_from: first_day.unwrap_or(cutoff),
        trained_to: cutoff,
        engine: cfg.engine.clone(),
        targets,
    })
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
        let fo = fold(r.account.as_str());
        let k = if fo < 70 {
            0
        } else if fo < 85 {
            1
        } else {
            2
        };
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

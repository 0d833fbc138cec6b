//! What a pass asks of trained models, and the one policy that decides when to retrain and what to score.
//!
//! The pass computes each account's features once for the day; a [`Scorer`] turns them into every active
//! model's probability (and the drivers of the ranking target and expansion). A [`ModelKit`] opens a stored
//! version as a scorer and trains a new one from a loaded book; `bellwether-predict` provides it. [`Models`]
//! holds the kit, the policy and the open scorer, so every caller of [`crate::reassess`] (imports, the
//! server's live re-assessments, `assess`, the scheduled pass) scores the same way, without a second load.

use crate::health::HealthConfig;
use bellwether_core::model::Prediction;
use bellwether_core::series::AccountSeries;
use bellwether_core::{AccountId, Day, Rates};
use bellwether_features::AccountFeatures;
use bellwether_store::{Book, BookSummary, ModelRecord, Result, Store};
use std::sync::{Arc, Mutex};

/// One account to score: its features for the day and its series (for the columns read from them).
pub struct ScoreRow<'a> {
    /// The day's features, segment medians and adoption applied.
    pub features: &'a AccountFeatures,
    /// The account's series, when it has any.
    pub series: Option<&'a AccountSeries>,
}

/// What scoring produced, and where its time went.
#[derive(Debug, Default)]
pub struct Scored {
    /// Every target's prediction for every row.
    pub predictions: Vec<Prediction>,
    /// Seconds building the model's input columns.
    pub vector_seconds: f64,
    /// Seconds evaluating the trees of every target.
    pub model_seconds: f64,
    /// Seconds for the exact contributions and their wording (the explained targets).
    pub explain_seconds: f64,
}

/// A stored model version opened for scoring.
pub trait Scorer: Send + Sync {
    /// Its registry version.
    fn version(&self) -> i64;
    /// The name of the target whose probability ranks the worklist (the bundle's default churn target).
    fn ranking_target(&self) -> Option<&str>;
    /// The name of the expansion target whose probability adds the growth at stake to the priority, when
    /// the version has one.
    fn expansion_target(&self) -> Option<&str> {
        None
    }
    /// A target's prediction in words (`churn before the next renewal`), for the printed arithmetic.
    fn describe(&self, target: &str) -> String {
        target.to_string()
    }
    /// Every target's calibrated probability for each row; the ranking target and expansion with drivers.
    fn score(&self, rows: &[ScoreRow<'_>], as_of: Day) -> std::result::Result<Scored, String>;
    /// Every target's prediction for each row, each with its drivers (what an account's page shows).
    fn explain(
        &self,
        rows: &[ScoreRow<'_>],
        as_of: Day,
    ) -> std::result::Result<Vec<Prediction>, String>;
}

/// What retraining is given: the book the full pass loaded.
pub struct TrainInput<'a> {
    /// Every account's facts.
    pub book: &'a Book,
    /// Every account's series.
    pub series: &'a [(AccountId, AccountSeries)],
    /// The book's summary.
    pub summary: &'a BookSummary,
    /// The rates ARR is learned in.
    pub rates: &'a Rates,
    /// The rules health score the model is compared with.
    pub health: &'a HealthConfig,
    /// What makes a feature common, for adoption (as the pass measures it).
    pub adoption: &'a bellwether_features::adoption::AdoptionConfig,
}

/// A retrained version, ready to store.
pub struct Retrained {
    /// The registry record (bundle included).
    pub record: ModelRecord,
    /// Whether it replaces the active version (the kit's activation rule decides).
    pub activate: bool,
    /// Why it should not replace the active version (it did not beat the rules score), if so.
    pub held_back: Option<String>,
}

/// Opens stored versions and trains new ones (implemented by `bellwether-predict`).
pub trait ModelKit: Send + Sync {
    /// Opens a version (its bundle included) for scoring; an error says why it cannot score here.
    fn open(&self, record: &ModelRecord) -> std::result::Result<Arc<dyn Scorer>, String>;
    /// Trains a new version from a loaded book with the settings `active` was trained with.
    fn retrain(
        &self,
        input: &TrainInput<'_>,
        active: &ModelRecord,
    ) -> std::result::Result<Retrained, String>;
}

/// When to score and when to retrain (`[models]` in `bellwether.toml`).
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelPolicy {
    /// Score accounts with the active version in every pass.
    pub score: bool,
    /// Retrain in a full pass when the active version's cut-off is more than this many days before the day
    /// assessed (0: never).
    pub retrain_days: i32,
}

impl Default for ModelPolicy {
    fn default() -> Self {
        ModelPolicy {
            score: true,
            retrain_days: 30,
        }
    }
}

impl ModelPolicy {
    /// Whether a full pass on `as_of` retrains a version trained to `trained_to`.
    pub fn retrain_due(&self, trained_to: Day, as_of: Day) -> bool {
        self.retrain_days > 0 && as_of.0 - trained_to.0 > self.retrain_days
    }
}

/// The models a pass scores with: the kit, the policy and the active version, opened once and kept until
/// another version becomes active.
pub struct Models {
    kit: Arc<dyn ModelKit>,
    /// When to score and retrain.
    pub policy: ModelPolicy,
    open: Mutex<Option<Arc<dyn Scorer>>>,
}

/// What the model step of a pass did, in words for the command's report.
#[derive(Clone, Debug, Default)]
pub struct ModelNote {
    /// The version that scored, if one did.
    pub version: Option<i64>,
    /// A retraining this pass ran: the new version and whether it was held back.
    pub retrained: Option<(i64, Option<String>)>,
    /// Why no model scored, when one is trained but could not be used.
    pub problem: Option<String>,
}

impl Models {
    /// Models opened with `kit` under `policy`.
    pub fn new(kit: Arc<dyn ModelKit>, policy: ModelPolicy) -> Models {
        Models {
            kit,
            policy,
            open: Mutex::new(None),
        }
    }

    /// Trains a new version from a loaded book with the settings of the active one and stores it; it becomes
    /// active only where it beats the rules score. The new version and why it was held back, if it was;
    /// `None` when no version is active (the first is trained with `bellwether train`).
    pub async fn retrain<S: Store + ?Sized>(
        &self,
        store: &S,
        input: &TrainInput<'_>,
    ) -> std::result::Result<Option<(i64, Option<String>)>, String> {
        let active = store.models().await.map_err(|e| e.to_string())?;
        let Some(active) = active.into_iter().find(|v| v.active) else {
            return Ok(None);
        };
        let Some(rec) = store
            .model(Some(active.version))
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(None);
        };
        let r = self.kit.retrain(input, &rec)?;
        let version = store
            .save_model(r.record, r.activate)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Some((version, r.held_back)))
    }

    /// The scorer of the active version, or `None` when scoring is off, no version is active or a past day is
    /// on or before the active version's cut-off. In a full pass on the book's current day
    /// (`train` given) the policy may first retrain; a retrained version replaces the active one only where it
    /// beats the rules score. A version that cannot be opened is reported in the note and the pass goes on
    /// with the rules score.
    pub async fn for_pass<S: Store + ?Sized>(
        &self,
        store: &S,
        day: crate::BookDay,
        train: Option<TrainInput<'_>>,
        note: &mut ModelNote,
    ) -> Result<Option<Arc<dyn Scorer>>> {
        if !self.policy.score {
            return Ok(None);
        }
        let versions = store.models().await?;
        let Some(mut active) = versions.iter().find(|v| v.active).cloned() else {
            return Ok(None);
        };
        // Due when the newest version (active or held back) is older than the policy allows: a version held
        // back is not retrained again every pass. Only the book's current day retrains (a pass building
        // history must not learn from what came after its day).
        let newest = versions
            .iter()
            .map(|v| v.trained_to)
            .max()
            .unwrap_or(active.trained_to);
        let due = day.current && self.policy.retrain_due(newest, day.day);
        if let Some(input) = train.filter(|_| due) {
            match self.retrain(store, &input).await {
                Ok(r) => {
                    note.retrained = r;
                    if let Some(rec) = store.models().await?.into_iter().find(|v| v.active) {
                        active = rec;
                    }
                }
                Err(e) => tracing::warn!(
                    "scheduled retraining failed, keeping v{}: {e}",
                    active.version
                ),
            }
        }
        // A past day on or before the version's cut-off lies inside what it learned from (a pass building
        // history): its probabilities there would have seen the outcomes, so the rules score ranks it. The
        // book's current day is always scored.
        if !day.current && day.day <= active.trained_to {
            note.problem = Some(format!(
                "{} is on or before model version {}'s cut-off ({}): a model scores only the days after the outcomes it learned from",
                day.day, active.version, active.trained_to
            ));
            return Ok(None);
        }
        let cached = self.open.lock().expect("model cache").clone();
        if let Some(s) = cached.filter(|s| s.version() == active.version) {
            note.version = Some(s.version());
            return Ok(Some(s));
        }
        let Some(rec) = store.model(Some(active.version)).await? else {
            return Ok(None);
        };
        match self.kit.open(&rec) {
            Ok(s) => {
                *self.open.lock().expect("model cache") = Some(s.clone());
                note.version = Some(s.version());
                Ok(Some(s))
            }
            Err(e) => {
                tracing::warn!("model version {} cannot score: {e}", rec.version);
                note.problem = Some(e);
                Ok(None)
            }
        }
    }
}

/// An account's stored predictions with the drivers of every target: the pass stores drivers for the ranking
/// target and expansion only, so the others are computed here, for the stored day, as the pass computes them
/// (see [`crate::assess::explain_accounts`]). `clock` is the caller's, for whether that day is the book's
/// current one.
pub async fn with_drivers<S: Store + ?Sized>(
    store: &S,
    engine: &crate::Engine,
    account: &AccountId,
    stored: Vec<Prediction>,
    clock: crate::Clock,
) -> Result<Vec<Prediction>> {
    let Some(first) = stored.first() else {
        return Ok(stored);
    };
    if stored.iter().all(|p| !p.drivers.is_empty()) {
        return Ok(stored);
    }
    // The stored day is the book's current one when the caller's clock says so today.
    let today = crate::book_day(store, clock, None).await?;
    let day = crate::BookDay {
        day: first.as_of,
        current: today.is_some_and(|t| t.current && t.day == first.as_of),
    };
    // Explaining is a convenience of the page: when it cannot be done, the stored predictions are shown.
    let fresh = match crate::assess::explain_accounts(
        store,
        engine,
        std::slice::from_ref(account),
        day,
    )
    .await
    {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(account = %account, "the other targets' drivers could not be computed: {e}");
            return Ok(stored);
        }
    };
    Ok(stored
        .into_iter()
        .map(|p| {
            let same = fresh.iter().find(|f| {
                f.target == p.target
                    && f.model_version == p.model_version
                    && (f.probability - p.probability).abs() < 1e-9
            });
            match same {
                Some(f) if p.drivers.is_empty() => Prediction {
                    drivers: f.drivers.clone(),
                    ..p
                },
                _ => p,
            }
        })
        .collect())
}

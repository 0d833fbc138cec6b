//! The re-assessment pass, the one entry point for "these accounts changed" and for the daily full pass:
//! load the accounts' facts and series in bulk once, compute point-in-time features once per account for the
//! day, and from them health, detections, the signal lifecycle and every active model's probability with its
//! drivers (see [`crate::models`]), on all cores; then store the day's assessments, signal changes and
//! predictions.

use crate::day::BookDay;
use crate::health::{self, HealthConfig};
use crate::models::{ModelNote, Models, ScoreRow, Scorer, TrainInput};
use crate::signals::{reconcile, LifecycleConfig};
use crate::worklist::{impact_of, rank, Attention, Predicted};
use bellwether_core::model::{Assessment, Prediction, Severity, Signal};
use bellwether_core::series::AccountSeries;
use bellwether_core::{AccountId, Day};
use bellwether_features::adoption::{self, AdoptionConfig, Common};
use bellwether_features::peers::{apply as apply_peers, peer_stats, Peers};
use bellwether_features::{compute, AccountFeatures, BookContext};
use bellwether_signals::calendar::Calendar;
use bellwether_signals::{detect_all, Context, Detector};
use bellwether_store::{AccountFacts, Book, Result, SignalFilter, Store};
use std::collections::HashMap;
use std::time::Instant;

/// Everything a pass needs besides the data: health weights, the working-day calendar, the detectors and the
/// signal lifecycle settings.
pub struct Engine {
    /// Health weights.
    pub health: HealthConfig,
    /// Weekends and holidays.
    pub calendar: Calendar,
    /// The registered detectors.
    pub detectors: Vec<Box<dyn Detector>>,
    /// Signal lifecycle.
    pub lifecycle: LifecycleConfig,
    /// The reporting currency and rates ARR is ranked in.
    pub money: bellwether_core::MoneyConfig,
    /// What makes a feature common, for adoption.
    pub adoption: AdoptionConfig,
    /// The trained models the pass scores with, and when to retrain (`None`: the rules score only).
    pub models: Option<Models>,
    /// The book's currencies, kept between passes.
    pub currencies: crate::money::KnownCurrencies,
    /// What signal changes send, and where (`None`: nothing is sent).
    pub alerting: Option<std::sync::Arc<dyn Alerting>>,
}

/// What a pass changed about the signals, as alerting reads it: which opened, which grew more severe while
/// active, which closed. Its one constructor, [`SignalChanges::between`], is where those are told apart.
#[derive(Clone, Debug, Default)]
pub struct SignalChanges<'a> {
    /// Not known before this pass.
    pub opened: Vec<&'a Signal>,
    /// Active before and still, now at a higher severity: each with the severity it had.
    pub raised: Vec<(&'a Signal, Severity)>,
    /// Active before, not now.
    pub closed: Vec<&'a Signal>,
}

impl<'a> SignalChanges<'a> {
    /// The changes of `changed` (a pass's signal changes) against `before` (the signals it started from).
    pub fn between<'b>(
        before: impl IntoIterator<Item = &'b Signal>,
        changed: &'a [Signal],
    ) -> SignalChanges<'a> {
        let before: HashMap<&str, &Signal> =
            before.into_iter().map(|s| (s.id.as_str(), s)).collect();
        let mut out = SignalChanges::default();
        for s in changed {
            match before.get(s.id.as_str()) {
                None => out.opened.push(s),
                Some(b) if b.is_active() && !s.is_active() => out.closed.push(s),
                Some(b) if b.is_active() && s.severity > b.severity => {
                    out.raised.push((s, b.severity))
                }
                Some(_) => {}
            }
        }
        out
    }

    /// Whether nothing opened, grew or closed.
    pub fn is_empty(&self) -> bool {
        self.opened.is_empty() && self.raised.is_empty() && self.closed.is_empty()
    }
}

/// What a pass's alerting decided: the outbox entries to queue with the signal changes, and the signals an
/// opening alert is among them for, which the pass marks [`Signal::alerted`] in the same write.
#[derive(Clone, Debug, Default)]
pub struct Decided {
    /// The entries to queue.
    pub items: Vec<bellwether_store::OutboxItem>,
    /// The ids of the signals an opening alert was queued for.
    pub alerted: Vec<String>,
}

/// Decides the messages a pass's signal changes send (alerts), queued in the transaction that saves the
/// changes. Implemented by `bellwether-deliver`.
pub trait Alerting: Send + Sync {
    /// The outbox entries for a pass's signal `changes`, as of `as_of`, with the accounts' fresh assessments
    /// for their figures and the people the store holds (the imported directory) to route them by.
    fn alerts(
        &self,
        changes: &SignalChanges<'_>,
        assessments: &[Assessment],
        people: &[bellwether_core::people::Person],
        as_of: Day,
    ) -> Decided;

    /// Called once the alerts a pass decided are committed to the outbox, so a worker in this process can
    /// deliver them at once rather than at its next look.
    fn queued(&self) {}
}

impl Default for Engine {
    fn default() -> Self {
        Engine {
            health: HealthConfig::default(),
            calendar: Calendar::default(),
            detectors: bellwether_signals::detectors::all(),
            lifecycle: LifecycleConfig::default(),
            money: Default::default(),
            adoption: AdoptionConfig::default(),
            models: None,
            currencies: Default::default(),
            alerting: None,
        }
    }
}

impl Engine {
    /// Prepares a long-running process's passes before the first one: reads the book's currencies and opens
    /// the active model (a first live re-assessment then costs what the others do).
    pub async fn warm<S: Store + ?Sized>(&self, store: &S) -> Result<()> {
        let empty = Book::default();
        let today = BookDay {
            day: Day::today(),
            current: true,
        };
        self.currencies
            .rates(store, &self.money, &empty, today.day, true)
            .await?;
        if let Some(models) = &self.models {
            models
                .for_pass(store, today, None, &mut ModelNote::default())
                .await?;
        }
        Ok(())
    }

    /// The cooldown of a detector kind, in days (14 for a kind no registered detector has).
    pub fn cooldown(&self, kind: &str) -> i32 {
        self.detectors
            .iter()
            .find(|d| d.kind() == kind)
            .map_or(14, |d| d.cooldown_days())
    }
}

/// What a pass did and how long each part took.
#[derive(Debug, Clone)]
pub struct AssessOutcome {
    /// The day assessed.
    pub as_of: Day,
    /// Assessments made (accounts still active on the day).
    pub assessed: usize,
    /// Accounts skipped because they had ended before the day.
    pub ended: usize,
    /// Signals opened by this pass.
    pub signals_opened: usize,
    /// Signals resolved or expired by this pass.
    pub signals_closed: usize,
    /// Seconds spent loading from the store.
    pub load_seconds: f64,
    /// Seconds spent computing features, health and detections.
    pub compute_seconds: f64,
    /// Of those, seconds computing features (segment medians and adoption included).
    pub feature_seconds: f64,
    /// Seconds for the models: input columns, trees, contributions and their wording.
    pub model_seconds: f64,
    /// Of those, seconds for the exact contributions and their wording.
    pub explain_seconds: f64,
    /// Seconds spent storing assessments, signals and predictions.
    pub save_seconds: f64,
    /// Predictions stored by this pass (every target of every scored account).
    pub predictions: Vec<Prediction>,
    /// What the model step did: the version that scored, a retraining, or why none scored.
    pub model: ModelNote,
    /// The assessments, highest priority first.
    pub assessments: Vec<Assessment>,
    /// The signals that changed or opened.
    pub signal_changes: Vec<Signal>,
}

/// The risk proxy of a health score: `1 / (1 + e^((health − 55) / 6))`, near 0 above 75, 0.5 at 55, near 1 below
/// 35. A monotone stand-in for risk until a model is trained, not a probability.
pub fn risk_proxy(health: f64) -> f64 {
    1.0 / (1.0 + ((health - 55.0) / 6.0).exp())
}

/// Assesses one account from its features: health, risk proxy and the priority they give before models and
/// signals are weighed in (see [`crate::worklist::rank`], which the pass applies next).
pub fn assess_one(f: &AccountFeatures, cfg: &HealthConfig) -> Assessment {
    let h = health::score(f, cfg);
    let risk = risk_proxy(h.score);
    let mut a = Assessment {
        account_id: f.account_id.clone(),
        as_of: f.as_of,
        health: h.score,
        components: h.components,
        risk_proxy: risk,
        churn_probability: None,
        priority: 0.0,
        reason: String::new(),
        owner: f.owner.clone(),
        arr_minor: f.arr_reporting.map(|m| m.minor),
        impact: None,
    };
    let currency = f
        .arr_reporting
        .map_or(bellwether_core::Currency::USD, |m| m.currency);
    let impact = crate::worklist::impact_of(f, &a, None, None, &[], currency);
    crate::worklist::rank(&mut a, impact, &Attention::default());
    a
}

/// An account's signals after the day's changes: each changed signal replaces its stored one.
fn after_changes<'a>(stored: &'a [Signal], changes: &'a [Signal]) -> Vec<&'a Signal> {
    let changed: std::collections::HashSet<&str> = changes.iter().map(|s| s.id.as_str()).collect();
    stored
        .iter()
        .filter(|s| !changed.contains(s.id.as_str()))
        .chain(changes)
        .collect()
}

/// The result of assessing loaded data.
pub struct Assessed {
    /// Assessments of active accounts, highest priority first.
    pub assessments: Vec<Assessment>,
    /// Signals opened, updated, resolved or expired.
    pub signal_changes: Vec<Signal>,
    /// Accounts that had ended before the day.
    pub ended_ids: Vec<AccountId>,
    /// Segment medians computed by this pass (full passes only).
    pub peers: Option<Peers>,
    /// Common features found by this pass (full passes only).
    pub common: Option<Common>,
    /// Seconds computing features.
    pub feature_seconds: f64,
    /// The models' predictions and their timings (empty without a scorer).
    pub scored: crate::models::Scored,
    /// Why the scorer failed, if it did.
    pub problem: Option<String>,
}

/// The process's resident memory in MiB, for the debug log (Linux; `None` elsewhere).
pub fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Runs `f` over `items` on all cores, keeping the order.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len().max(1));
    let per = items.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(per)
            .map(|chunk| s.spawn(|| chunk.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("assessment thread panicked"))
            .collect()
    })
}

/// Phase 1 of a pass, and the features every model learns from and scores: every loaded account's features
/// for the day (the book's accounts, then accounts with series only), with the segment medians and common
/// features applied: computed from these accounts with `compare_within` (and returned), else the context's
/// stored ones.
#[allow(clippy::type_complexity)]
pub fn features_of<'a>(
    book: &'a Book,
    by_id: &HashMap<&'a AccountId, &'a AccountSeries>,
    ctx: &BookContext,
    as_of: Day,
    adoption_cfg: &AdoptionConfig,
    compare_within: bool,
) -> (
    Vec<&'a AccountId>,
    Vec<AccountFeatures>,
    Option<Peers>,
    Option<Common>,
) {
    let empty = AccountFacts::default();
    let mut ids: Vec<&AccountId> = book.accounts.keys().collect();
    for id in by_id.keys() {
        if !book.accounts.contains_key(*id) {
            ids.push(id);
        }
    }
    let mut features: Vec<AccountFeatures> = par_map(&ids, |id| {
        compute(
            id,
            book.accounts.get(*id).unwrap_or(&empty),
            by_id.get(id).copied(),
            as_of,
            ctx,
        )
    });
    let peers = compare_within.then(|| {
        let peers = peer_stats(&features);
        for f in &mut features {
            apply_peers(f, &peers);
        }
        peers
    });
    let common = compare_within.then(|| {
        let common = adoption::common_features(&features, adoption_cfg);
        for f in &mut features {
            adoption::apply(f, &common);
        }
        common
    });
    (ids, features, peers, common)
}

/// What the models score of a pass's features: every account of the book still a customer that has started
/// (as training takes them), with its series.
fn score_rows<'a>(
    book: &Book,
    features: &'a [AccountFeatures],
    by_id: &HashMap<&AccountId, &'a AccountSeries>,
) -> Vec<ScoreRow<'a>> {
    features
        .iter()
        .filter(|f| f.scorable() && book.accounts.contains_key(&f.account_id))
        .map(|f| ScoreRow {
            features: f,
            series: by_id.get(&f.account_id).copied(),
        })
        .collect()
}

/// The context of a pass on `day` over a loaded book: the book's summary, its current-day view, the rates,
/// and for a pass over some accounts (`full` false) the segment medians and common features of the latest
/// full pass not after the day.
/// What a pass reads, at once (each read on its own reader connection): the accounts' facts (every account
/// with `None`), their series, and the book's summary.
async fn load_pass_input<S: Store + ?Sized>(
    store: &S,
    accounts: Option<&[AccountId]>,
) -> Result<(
    Book,
    Vec<(AccountId, AccountSeries)>,
    bellwether_store::BookSummary,
)> {
    tokio::try_join!(
        store.load_book(accounts),
        store.load_series(accounts),
        store.book_summary()
    )
}

/// What retraining is given: a whole loaded book, the rates of its pass, and the engine's health and
/// adoption settings.
fn train_input<'a>(
    book: &'a Book,
    series: &'a [(AccountId, AccountSeries)],
    summary: &'a bellwether_store::BookSummary,
    ctx: &'a BookContext,
    engine: &'a Engine,
) -> TrainInput<'a> {
    TrainInput {
        book,
        series,
        summary,
        rates: &ctx.rates,
        health: &engine.health,
        adoption: &engine.adoption,
    }
}

async fn pass_context<S: Store + ?Sized>(
    store: &S,
    engine: &Engine,
    book: &Book,
    summary: &bellwether_store::BookSummary,
    day: BookDay,
    full: bool,
) -> Result<BookContext> {
    let as_of = day.day;
    let mut ctx = BookContext::from_summary(summary, as_of);
    if day.current {
        ctx = ctx.current(summary, bellwether_core::Timestamp::now());
    }
    ctx.rates = engine
        .currencies
        .rates(store, &engine.money, book, as_of, full)
        .await?;
    if !full {
        ctx.peers = store.peer_stats(as_of).await?.into_iter().collect();
        ctx.common = Common::from_rows(store.common_features(as_of).await?);
    }
    Ok(ctx)
}

/// Every active target's prediction for the given accounts on `day`, each with its drivers, from features
/// computed as a pass over those accounts computes them. Empty without an active model.
pub async fn explain_accounts<S: Store + ?Sized>(
    store: &S,
    engine: &Engine,
    accounts: &[AccountId],
    day: BookDay,
) -> Result<Vec<Prediction>> {
    let Some(models) = &engine.models else {
        return Ok(Vec::new());
    };
    let Some(scorer) = models
        .for_pass(store, day, None, &mut ModelNote::default())
        .await?
    else {
        return Ok(Vec::new());
    };
    let (book, series, summary) = load_pass_input(store, Some(accounts)).await?;
    let ctx = pass_context(store, engine, &book, &summary, day, false).await?;
    let by_id: HashMap<&AccountId, &AccountSeries> = series.iter().map(|(id, s)| (id, s)).collect();
    let (_, features, _, _) = features_of(&book, &by_id, &ctx, day.day, &engine.adoption, false);
    let rows = score_rows(&book, &features, &by_id);
    scorer.explain(&rows, day.day).map_err(|e| {
        bellwether_store::StoreError::Unavailable(format!("the model cannot explain: {e}"))
    })
}

/// Computes features, health, detections and signal changes for every account of a loaded book as of `as_of`,
/// on all cores, and with a `scorer` every active model's predictions from the same features. `existing` holds
/// the accounts' signals so far. With `compare_within`, the segment medians are taken from these accounts (a
/// full pass) and returned, and so are the common features adoption is measured against; otherwise the
/// context's stored ones are used. Accounts that had ended before the day are left out, and their active
/// signals resolved.
#[allow(clippy::too_many_arguments)]
pub fn assess_loaded(
    book: &Book,
    series: &[(AccountId, AccountSeries)],
    ctx: &BookContext,
    existing: &HashMap<AccountId, Vec<Signal>>,
    day: BookDay,
    engine: &Engine,
    compare_within: bool,
    scorer: Option<&dyn Scorer>,
) -> Assessed {
    let t0 = Instant::now();
    let as_of = day.day;
    // Detectors see today's facts on the current day (a payment failed an hour ago); a past day only what was
    // dated before it.
    let until = if day.current {
        bellwether_core::Timestamp::now().max(as_of.start())
    } else {
        as_of.start()
    };
    let by_id: HashMap<&AccountId, &AccountSeries> = series.iter().map(|(id, s)| (id, s)).collect();
    let empty = AccountFacts::default();
    let (ids, features, peers, common) =
        features_of(book, &by_id, ctx, as_of, &engine.adoption, compare_within);
    let feature_seconds = t0.elapsed().as_secs_f64();
    tracing::debug!(rss_mib = rss_mib(), "features computed");
    // The models read the same features: every account still a customer that has started.
    let mut scored = crate::models::Scored::default();
    let mut problem = None;
    if let Some(scorer) = scorer {
        let rows = score_rows(book, &features, &by_id);
        match scorer.score(&rows, as_of) {
            Ok(s) => scored = s,
            Err(e) => problem = Some(e),
        }
    }
    // The default churn target's predictions rank; the expansion target's add the growth at stake.
    let of_target = |target: Option<&str>| -> (HashMap<&AccountId, &Prediction>, String) {
        match (scorer, target) {
            (Some(s), Some(t)) => (
                scored
                    .predictions
                    .iter()
                    .filter(|p| p.target == t)
                    .map(|p| (&p.account_id, p))
                    .collect(),
                s.describe(t),
            ),
            _ => (HashMap::new(), String::new()),
        }
    };
    let (ranking, ranking_words) = of_target(scorer.and_then(|s| s.ranking_target()));
    let (growth, growth_words) = of_target(scorer.and_then(|s| s.expansion_target()));
    let currency = ctx.rates.reporting();
    tracing::debug!(rss_mib = rss_mib(), "scored");
    // Phase 2: health, detections and the signal lifecycle.
    let no_signals: Vec<Signal> = Vec::new();
    let work: Vec<(&AccountId, AccountFeatures)> = ids.iter().copied().zip(features).collect();
    let results: Vec<(&AccountId, Option<Assessment>, Vec<Signal>)> = par_map(&work, |(id, f)| {
        let facts = book.accounts.get(*id).unwrap_or(&empty);
        let series = by_id.get(id).copied();
        let found = if f.churned {
            Vec::new()
        } else {
            let cx = Context {
                account: id,
                as_of,
                until,
                features: f,
                facts,
                series,
                calendar: &engine.calendar,
            };
            detect_all(&engine.detectors, &cx)
        };
        let mine = existing.get(*id).unwrap_or(&no_signals);
        let changes = reconcile(
            id,
            f.owner.as_deref(),
            as_of,
            mine,
            &found,
            &|k| engine.cooldown(k),
            &engine.lifecycle,
        );
        let assessment = (!f.churned).then(|| {
            let mut a = assess_one(f, &engine.health);
            let now = after_changes(mine, &changes);
            let churn = ranking.get(id).map(|p| Predicted {
                prediction: p,
                target: ranking_words.clone(),
            });
            let expansion = growth.get(id).map(|p| Predicted {
                prediction: p,
                target: growth_words.clone(),
            });
            let impact = impact_of(f, &a, churn, expansion, &now, currency);
            rank(&mut a, impact, &Attention::of(now.iter().copied(), as_of));
            a
        });
        (*id, assessment, changes)
    });
    let mut out = Assessed {
        assessments: Vec::with_capacity(ids.len()),
        signal_changes: Vec::new(),
        ended_ids: Vec::new(),
        peers,
        common,
        feature_seconds,
        scored,
        problem,
    };
    for (id, a, changes) in results {
        match a {
            Some(a) => out.assessments.push(a),
            None => out.ended_ids.push(id.clone()),
        }
        out.signal_changes.extend(changes);
    }
    out.assessments.sort_by(|a, b| {
        b.priority
            .total_cmp(&a.priority)
            .then_with(|| a.account_id.cmp(&b.account_id))
    });
    out
}

/// Retrains the models on the whole book as of `day` (the book's current day), whatever `[models]
/// retrain_days` says: the scheduled `retrain` job. The new version and why it was held back, if it was;
/// `None` when there are no models or no active version to retrain from.
pub async fn retrain<S: Store + ?Sized>(
    store: &S,
    engine: &Engine,
    day: BookDay,
) -> std::result::Result<Option<(i64, Option<String>)>, String> {
    let Some(models) = &engine.models else {
        return Ok(None);
    };
    let err = |e: bellwether_store::StoreError| e.to_string();
    let (book, series, summary) = load_pass_input(store, None).await.map_err(err)?;
    let ctx = pass_context(store, engine, &book, &summary, day, true)
        .await
        .map_err(err)?;
    let input = train_input(&book, &series, &summary, &ctx, engine);
    models.retrain(store, &input).await
}

/// Stores what a full pass measured across the book on a day (segment medians, common features), which the
/// passes over some accounts compare with.
async fn save_book_wide<S: Store + ?Sized>(
    store: &S,
    as_of: Day,
    peers: Option<&Peers>,
    common: Option<&Common>,
) -> Result<()> {
    if let Some(peers) = peers {
        store
            .save_peer_stats(
                as_of,
                &peers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<Vec<_>>(),
            )
            .await?;
    }
    if let Some(common) = common {
        store.save_common_features(as_of, &common.rows()).await?;
    }
    Ok(())
}

/// The book-wide step of a pass split into buckets: every account's features as of `day`, from which the
/// segment medians and common features are measured and stored, as a full pass stores them. Each bucket is
/// then a [`reassess`] over its accounts, which compares with these; together they equal one full pass.
/// The retraining a full pass would run when `[models] retrain_days` finds it due runs here too, before the
/// buckets score. Returns the number of accounts measured and what the model step did.
pub async fn prepare_split_pass<S: Store + ?Sized>(
    store: &S,
    engine: &Engine,
    day: BookDay,
) -> Result<(usize, ModelNote)> {
    let (book, series, summary) = load_pass_input(store, None).await?;
    let ctx = pass_context(store, engine, &book, &summary, day, true).await?;
    let mut model = ModelNote::default();
    if let Some(models) = &engine.models {
        let train = train_input(&book, &series, &summary, &ctx, engine);
        models.for_pass(store, day, Some(train), &mut model).await?;
    }
    let by_id: HashMap<&AccountId, &AccountSeries> = series.iter().map(|(id, s)| (id, s)).collect();
    let (ids, _, peers, common) = features_of(&book, &by_id, &ctx, day.day, &engine.adoption, true);
    let n = ids.len();
    save_book_wide(store, day.day, peers.as_ref(), common.as_ref()).await?;
    Ok((n, model))
}

/// Reads the book's currencies again, as a full pass does, for the passes over some accounts that follow:
/// the buckets of a split pass then convert money as the one-process pass does.
pub async fn refresh_currencies<S: Store + ?Sized>(
    store: &S,
    engine: &Engine,
    as_of: Day,
) -> Result<()> {
    engine
        .currencies
        .rates(store, &engine.money, &Book::default(), as_of, true)
        .await
        .map(drop)
}

/// Re-assesses the given accounts (every account with `None`) as of `day` and stores their assessments and
/// signal changes. The day is decided by the caller through [`crate::day`], once; imports call it with the
/// accounts they touched, the server with the accounts its data touched, the daily pass for the whole book.
pub async fn reassess<S: Store + ?Sized>(
    store: &S,
    engine: &Engine,
    accounts: Option<&[AccountId]>,
    day: BookDay,
) -> Result<AssessOutcome> {
    let t0 = Instant::now();
    // The three reads run at once, each on its own reader connection.
    let (book, series, summary) = load_pass_input(store, accounts).await?;
    let as_of = day.day;
    let filter = SignalFilter {
        accounts: accounts.map(|a| a.to_vec()),
        ..Default::default()
    };
    let mut existing: HashMap<AccountId, Vec<Signal>> = HashMap::new();
    for s in store.signals(filter).await? {
        // Active signals, and closed ones still inside any cooldown; a signal first found after the day (a pass
        // for an earlier day) is none of its business.
        if s.detected_at <= as_of
            && (s.is_active() || s.resolved_at.is_some_and(|r| as_of.0 - r.0 < 120))
        {
            existing.entry(s.account_id.clone()).or_default().push(s);
        }
    }
    let load_seconds = t0.elapsed().as_secs_f64();
    tracing::debug!(rss_mib = rss_mib(), "loaded");
    let full = accounts.is_none();
    // A full pass compares accounts with the medians of their segment that day; a pass over a few accounts
    // uses the medians of the latest full pass not after the day.
    let ctx = pass_context(store, engine, &book, &summary, day, full).await?;
    // The active model (retrained first when a full pass finds it due), opened once and kept.
    let mut model = ModelNote::default();
    let t_model = Instant::now();
    let scorer = match &engine.models {
        Some(models) => {
            let train = full.then(|| train_input(&book, &series, &summary, &ctx, engine));
            models.for_pass(store, day, train, &mut model).await?
        }
        None => None,
    };
    tracing::debug!(
        seconds = t_model.elapsed().as_secs_f64(),
        version = model.version,
        "model ready"
    );
    let t1 = Instant::now();
    let mut done = assess_loaded(
        &book,
        &series,
        &ctx,
        &existing,
        day,
        engine,
        full,
        scorer.as_deref(),
    );
    if let Some(e) = done.problem.take() {
        tracing::warn!("the models could not score: {e}");
        model.version = None;
        model.problem = Some(e);
    }
    let compute_seconds = t1.elapsed().as_secs_f64();
    tracing::debug!(rss_mib = rss_mib(), "computed");
    let changes = SignalChanges::between(existing.values().flatten(), &done.signal_changes);
    // Alerts go out for what changes on the book's current day, not for days a pass rebuilds.
    let decided = match &engine.alerting {
        Some(a) if day.current && !changes.is_empty() => {
            let people = store.people().await?;
            a.alerts(&changes, &done.assessments, &people, as_of)
        }
        _ => Decided::default(),
    };
    let (opened, closed) = (changes.opened.len(), changes.closed.len());
    if !decided.alerted.is_empty() {
        let alerted: std::collections::HashSet<&str> =
            decided.alerted.iter().map(String::as_str).collect();
        for s in &mut done.signal_changes {
            if alerted.contains(s.id.as_str()) {
                s.alerted = true;
            }
        }
    }
    let alerts = decided.items;
    let t2 = Instant::now();
    // Three independent writes, at once: a backend with several connections (PostgreSQL) overlaps them, the
    // embedded store's one writer takes them in turn while the others encode their rows.
    let timed = |started: Instant| move |()| started.elapsed().as_secs_f64();
    let (assessments_saved, signals_saved, predictions_saved) = tokio::try_join!(
        async {
            store
                .save_assessments(as_of, day.current, &done.assessments, &done.ended_ids)
                .await
                .map(timed(t2))
        },
        async {
            store
                .save_signals(&done.signal_changes, &alerts)
                .await
                .map(timed(t2))
        },
        async {
            if done.scored.predictions.is_empty() {
                return Ok(0.0);
            }
            store
                .save_predictions(&done.scored.predictions, &[])
                .await
                .map(timed(t2))
        },
    )?;
    if let (Some(a), false) = (&engine.alerting, alerts.is_empty()) {
        a.queued();
    }
    tracing::debug!(
        assessments = assessments_saved,
        signals = signals_saved,
        predictions = predictions_saved,
        "saved (seconds from the start of the save, written at once)"
    );
    save_book_wide(store, as_of, done.peers.as_ref(), done.common.as_ref()).await?;
    let save_seconds = t2.elapsed().as_secs_f64();
    // A whole book is millions of small allocations; freeing them takes about a second, which nobody needs
    // to wait for (a pass building history frees it before loading the next day).
    if full && day.current {
        std::thread::spawn(move || drop((book, series)));
    }
    let scored = done.scored;
    let model_seconds = scored.vector_seconds + scored.model_seconds + scored.explain_seconds;
    tracing::info!(%as_of, assessed = done.assessments.len(), ended = done.ended_ids.len(), opened, closed, predictions = scored.predictions.len(), load_seconds, feature_seconds = done.feature_seconds, model_seconds, compute_seconds, save_seconds, "re-assessed");
    Ok(AssessOutcome {
        as_of,
        assessed: done.assessments.len(),
        ended: done.ended_ids.len(),
        signals_opened: opened,
        signals_closed: closed,
        load_seconds,
        compute_seconds,
        feature_seconds: done.feature_seconds,
        model_seconds,
        explain_seconds: scored.explain_seconds,
        save_seconds,
        predictions: scored.predictions,
        model,
        assessments: done.assessments,
        signal_changes: done.signal_changes,
    })
}

/// The full pass over the whole book with default settings but the given health weights, as of `as_of` or
/// the book's current day for imported files. `None` when the book holds nothing.
pub async fn assess_book<S: Store + ?Sized>(
    store: &S,
    as_of: Option<Day>,
    cfg: &HealthConfig,
) -> Result<Option<AssessOutcome>> {
    let engine = Engine {
        health: cfg.clone(),
        ..Engine::default()
    };
    let Some(day) = crate::day::book_day(store, crate::day::Clock::Files, as_of).await? else {
        return Ok(None);
    };
    reassess(store, &engine, None, day).await.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bellwether_core::model::SignalStatus;

    fn signal(id: &str, severity: Severity, status: SignalStatus) -> Signal {
        Signal {
            id: id.into(),
            account_id: AccountId::from("a1"),
            kind: "usage_drop".into(),
            direction: "risk".into(),
            severity,
            detected_at: Day(100),
            last_seen: Day(100),
            evidence: serde_json::Value::Null,
            explanation: String::new(),
            suggested_action: String::new(),
            status,
            owner: None,
            resolved_at: None,
            snoozed_until: None,
            snooze_reason: None,
            alerted: false,
        }
    }

    #[test]
    fn changes_tell_openings_growth_and_closings_apart() {
        use Severity::*;
        use SignalStatus::*;
        let before = [
            signal("grows", Medium, Open),
            signal("eases", High, Open),
            signal("holds", High, Acknowledged),
            signal("closes", Low, Snoozed),
            signal("was_closed", Low, Resolved),
        ];
        let changed = [
            signal("new", Low, Open),
            signal("grows", Critical, Acknowledged),
            signal("eases", Medium, Open),
            signal("holds", High, Acknowledged),
            signal("closes", Low, Resolved),
            signal("was_closed", Critical, Resolved),
        ];
        let c = SignalChanges::between(&before, &changed);
        let ids = |v: &[&Signal]| v.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&c.opened), ["new"]);
        assert_eq!(ids(&c.closed), ["closes"]);
        assert_eq!(c.raised.len(), 1);
        assert_eq!(
            (c.raised[0].0.id.as_str(), c.raised[0].1),
            ("grows", Medium)
        );
        assert!(!c.is_empty());
        assert!(SignalChanges::between(&before, &changed[3..4]).is_empty());
    }
}

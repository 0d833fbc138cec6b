//! The assessment pass: load the book in bulk, compute point-in-time features and health for every account
//! on all cores, and store one assessment per account for the day.

use crate::health::{self, HealthConfig};
use crate::short_money;
use bellwether_core::model::Assessment;
use bellwether_core::series::{AccountSeries, MONTHLY_ACTIVE_USERS, WEEKLY_ACTIVE_USERS};
use bellwether_core::{AccountId, Day};
use bellwether_features::{compute, AccountFeatures, BookContext};
use bellwether_store::{AccountFacts, Book, Result, Store};
use std::collections::HashMap;
use std::time::Instant;

/// What a pass did and how long each part took.
#[derive(Debug, Clone)]
pub struct AssessOutcome {
    /// The day assessed.
    pub as_of: Day,
    /// Assessments made (accounts still active on the day).
    pub assessed: usize,
    /// Accounts skipped because they had ended before the day.
    pub ended: usize,
    /// Seconds spent loading from the store.
    pub load_seconds: f64,
    /// Seconds spent computing features and health.
    pub compute_seconds: f64,
    /// Seconds spent storing assessments.
    pub save_seconds: f64,
    /// The assessments, highest priority first.
    pub assessments: Vec<Assessment>,
}

/// The day after the last day any data was recorded: the natural "today" of an imported history.
pub fn default_as_of(book: &Book, series: &[(AccountId, AccountSeries)]) -> Option<Day> {
    // Weekly and monthly series are dated by their period's last day, which may lie after the data; skip them.
    let daily = |name: &str| name != WEEKLY_ACTIVE_USERS && name != MONTHLY_ACTIVE_USERS;
    let last_series = series
        .iter()
        .flat_map(|(_, s)| {
            s.metrics
                .iter()
                .filter(|(n, _)| daily(n))
                .filter_map(|(_, m)| m.points.last().map(|p| p.0))
        })
        .max();
    let last_fact = book.last_fact_time().map(|t| t.day());
    last_series.max(last_fact).map(|d| d.plus(1))
}

/// The risk proxy of a health score: `1 / (1 + e^((health − 55) / 6))`, near 0 above 75, 0.5 at 55, near 1 below
/// 35. A monotone stand-in for risk until a model is trained, not a probability.
pub fn risk_proxy(health: f64) -> f64 {
    1.0 / (1.0 + ((health - 55.0) / 6.0).exp())
}

/// Assesses one account from its features.
pub fn assess_one(f: &AccountFeatures, cfg: &HealthConfig) -> Assessment {
    let h = health::score(f, cfg);
    let risk = risk_proxy(h.score);
    let arr_major = f.arr_minor.unwrap_or(0) as f64 / 100.0;
    let mut weak: Vec<_> = h.components.iter().filter(|c| c.score < 70.0).collect();
    // Weakest first, by the points each component costs the score.
    weak.sort_by(|a, b| ((100.0 - b.score) * b.weight).total_cmp(&((100.0 - a.score) * a.weight)));
    let mut reason = if weak.is_empty() {
        format!("healthy ({:.0}): no component below 70", h.score)
    } else {
        format!(
            "health {:.0}: {}",
            h.score,
            weak.iter()
                .take(2)
                .map(|c| c.reason.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        )
    };
    match f.arr_minor {
        Some(a) => reason.push_str(&format!(" · {} ARR", short_money(a))),
        None => reason.push_str(" · ARR unknown"),
    }
    if let Some(d) = f.days_to_renewal.filter(|d| *d <= 120) {
        reason.push_str(&format!(", renews in {d} days"));
    }
    Assessment {
        account_id: f.account_id.clone(),
        as_of: f.as_of,
        health: h.score,
        components: h.components,
        risk_proxy: risk,
        churn_probability: None,
        priority: arr_major * risk,
        reason,
        owner: f.owner.clone(),
        arr_minor: f.arr_minor,
    }
}

/// Computes features and assessments for every account of a loaded book as of `as_of`, on all cores.
/// Accounts that had ended before the day are left out.
pub fn assess_loaded(
    book: &Book,
    series: &[(AccountId, AccountSeries)],
    as_of: Day,
    cfg: &HealthConfig,
) -> (Vec<Assessment>, usize) {
    let ctx = BookContext::build(book, series.iter().map(|(_, s)| s), as_of);
    let by_id: HashMap<&AccountId, &AccountSeries> = series.iter().map(|(id, s)| (id, s)).collect();
    let empty = AccountFacts::default();
    let mut ids: Vec<&AccountId> = book.accounts.keys().collect();
    for id in by_id.keys() {
        if !book.accounts.contains_key(*id) {
            ids.push(id);
        }
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(ids.len().max(1));
    let per = ids.len().div_ceil(threads).max(1);
    let results: Vec<Vec<Option<Assessment>>> = std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .chunks(per)
            .map(|chunk| {
                let (ctx, by_id, empty) = (&ctx, &by_id, &empty);
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|id| {
                            let facts = book.accounts.get(*id).unwrap_or(empty);
                            let f = compute(id, facts, by_id.get(id).copied(), as_of, ctx);
                            (!f.churned).then(|| assess_one(&f, cfg))
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("assessment thread panicked"))
            .collect()
    });
    let mut out = Vec::with_capacity(ids.len());
    let mut ended = 0;
    for a in results.into_iter().flatten() {
        match a {
            Some(a) => out.push(a),
            None => ended += 1,
        }
    }
    out.sort_by(|a, b| {
        b.priority
            .total_cmp(&a.priority)
            .then_with(|| a.account_id.cmp(&b.account_id))
    });
    (out, ended)
}

/// Loads the whole book, assesses every account as of `as_of` (default: the day after the last data) and
/// stores the assessments.
pub async fn assess_book<S: Store + ?Sized>(
    store: &S,
    as_of: Option<Day>,
    cfg: &HealthConfig,
) -> Result<Option<AssessOutcome>> {
    let t0 = Instant::now();
    let (book, series) = (store.load_book(None).await?, store.load_series(None).await?);
    let load_seconds = t0.elapsed().as_secs_f64();
    let Some(as_of) = as_of.or_else(|| default_as_of(&book, &series)) else {
        return Ok(None);
    };
    let t1 = Instant::now();
    let (assessments, ended) = assess_loaded(&book, &series, as_of, cfg);
    let compute_seconds = t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    store.save_assessments(&assessments).await?;
    let save_seconds = t2.elapsed().as_secs_f64();
    tracing::info!(%as_of, assessed = assessments.len(), ended, load_seconds, compute_seconds, save_seconds, "assessed the book");
    Ok(Some(AssessOutcome {
        as_of,
        assessed: assessments.len(),
        ended,
        load_seconds,
        compute_seconds,
        save_seconds,
        assessments,
    }))
}

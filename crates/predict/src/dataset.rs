//! Training sets: snapshots of every account that was a customer on a sampled day, each with its
//! point-in-time features (the same [`bellwether_features::compute`] the daily pass uses, segment peers
//! included), the rules health score of that day, and one label per [`Target`] with the day it became
//! knowable. Attributes are read as of each snapshot day from the stored history, never as of today.

use crate::labels::{Target, Timeline};
use crate::vector::{Column, FeatureSpec};
use bellwether_core::series::{primary_source, source_series, AccountSeries};
use bellwether_core::{AccountId, Day};
use bellwether_engine::assess::par_map;
use bellwether_engine::health::{self, HealthConfig};
use bellwether_features::adoption::{AdoptionConfig, Common};
use bellwether_features::peers::Peers;
use bellwether_features::{AccountFeatures, BookContext};
use bellwether_ml::Dataset;
use bellwether_store::{Book, BookSummary, Store};
use std::collections::HashMap;

/// One snapshot's identity and labels (its features are the matching row of [`TrainingSet::x`]).
#[derive(Clone, Debug, PartialEq)]
pub struct RowMeta {
    /// The account.
    pub account: AccountId,
    /// The snapshot day (facts before it were used).
    pub as_of: Day,
    /// ARR on the day, in major units (0 when unknown).
    pub arr: f64,
    /// The rules score's risk on the day: the health-derived risk proxy, 0–1.
    pub rules_risk: f64,
    /// Per target (in [`Target::ALL`] order): the label and the day its window closes.
    pub labels: [(bool, Day); Target::ALL.len()],
    /// Whether the account's renewal was known on the day: a renewal date, or a term longer than a month.
    pub renewal_known: bool,
    /// The day the account churned, if it did (for evaluation only: it lies after the snapshot).
    pub churn_day: Option<Day>,
}

impl RowMeta {
    /// The label of `target` if it was knowable by `by`.
    pub fn label_by(&self, target: Target, by: Day) -> Option<bool> {
        let (y, known) = self.labels[target_index(target)];
        (known <= by).then_some(y)
    }
}

/// The index of a target in [`Target::ALL`].
pub fn target_index(t: Target) -> usize {
    Target::ALL.iter().position(|x| *x == t).unwrap_or(0)
}

/// Snapshots with their feature matrix.
pub struct TrainingSet {
    /// The learned columns.
    pub spec: FeatureSpec,
    /// The column descriptions.
    pub columns: Vec<Column>,
    /// Features, one row per snapshot.
    pub x: Dataset,
    /// Identity and labels, one per row.
    pub rows: Vec<RowMeta>,
    /// The last day with data: labels knowable after it are censored.
    pub data_end: Day,
    /// The first day with data.
    pub data_start: Day,
    /// The sampling the snapshots were taken with.
    pub sampling: Sampling,
}

/// How snapshots are sampled.
#[derive(Clone, Debug)]
pub struct Sampling {
    /// Days between snapshot days.
    pub step_days: i32,
    /// Days of history an account's first snapshot day needs in the book (for the baselines).
    pub warmup_days: i32,
    /// The last snapshot day (default: the last day with data).
    pub until: Option<Day>,
    /// The day the learned columns are chosen as of (default: `until`).
    pub spec_as_of: Option<Day>,
    /// How ARR is brought into the reporting currency, as the daily pass does (default: the book's one
    /// currency; a book in several then has no ARR values rather than sums across currencies).
    pub rates: Option<bellwether_core::Rates>,
    /// What makes a feature common, for adoption, as the daily pass measures it (`[features]`).
    pub adoption: AdoptionConfig,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            step_days: 14,
            warmup_days: 120,
            until: None,
            spec_as_of: None,
            rates: None,
            adoption: AdoptionConfig::default(),
        }
    }
}

/// The warm-up of a book with a year of history or more: the 90-day trends have their baseline.
pub const FULL_WARMUP_DAYS: i32 = 120;
/// The shortest warm-up: the 28-day usage windows are full.
pub const MIN_WARMUP_DAYS: i32 = 28;

impl Sampling {
    /// Sampling that fits a book's history of `span_days`: the full warm-up and fortnightly snapshots from a
    /// year of history; a younger book gets a warm-up of a third of its history (at least
    /// [`MIN_WARMUP_DAYS`]) and weekly snapshots, so its short horizons still have labelled rows. `step_days`
    /// overrides the spacing.
    pub fn for_span(span_days: i32, step_days: Option<i32>) -> Sampling {
        let young = span_days < 365;
        Sampling {
            step_days: step_days.unwrap_or(if young { 7 } else { 14 }).max(1),
            warmup_days: if young {
                (span_days / 3).clamp(MIN_WARMUP_DAYS, FULL_WARMUP_DAYS)
            } else {
                FULL_WARMUP_DAYS
            },
            ..Default::default()
        }
    }

    /// [`Sampling::for_span`] over the book's history (the full sampling when it holds no data).
    pub fn for_book(summary: &BookSummary, step_days: Option<i32>) -> Sampling {
        let span = data_span(summary).map_or(365, |(first, end)| end.0 - first.0 + 1);
        Sampling::for_span(span, step_days)
    }
}

/// The first day with data and the last, from the book's summary.
pub fn data_span(summary: &BookSummary) -> Option<(Day, Day)> {
    let end = summary.last_day?;
    // Usage history starts the book; without usage series, the first fact of any source does.
    let first_usage = summary.metrics.iter().map(|(_, d)| *d).min();
    let first = first_usage.or_else(|| {
        [
            summary.first_ticket,
            summary.first_contact,
            summary.first_interaction,
            summary.first_billing,
        ]
        .into_iter()
        .flatten()
        .map(|t| t.day())
        .min()
    })?;
    Some((first, end))
}

/// The features of a day's customers as the daily pass computes them (`engine::assess::features_of`): the
/// book's accounts still customers that have started, with the segment medians and
/// common features of these accounts that day, or the `stored` ones of the latest full pass (a pass over a
/// few accounts). `current_at` is set only for the book's current assessment (see
/// [`BookContext::current_at`]), and `rates` bring ARR into the reporting currency as the daily pass does
/// (without them, the book's one currency).
#[allow(clippy::too_many_arguments)]
pub fn features_on(
    book: &Book,
    series: &[(AccountId, AccountSeries)],
    summary: &BookSummary,
    as_of: Day,
    stored: Option<(Peers, Common)>,
    current_at: Option<bellwether_core::Timestamp>,
    rates: Option<&bellwether_core::Rates>,
    adoption: &AdoptionConfig,
) -> Vec<AccountFeatures> {
    let by_id: HashMap<&AccountId, &AccountSeries> = series.iter().map(|(id, s)| (id, s)).collect();
    let mut ctx = BookContext::from_summary(summary, as_of);
    // Without configured rates ARR is learned from in the book's one currency; a book in several gives no ARR
    // column values rather than sums across currencies.
    ctx.rates = match rates {
        Some(r) => r.clone(),
        None => bellwether_core::MoneyConfig::default()
            .resolve(&bellwether_engine::money::loaded_currencies(book, as_of))
            .unwrap_or_default(),
    };
    if let Some(now) = current_at {
        ctx = ctx.current(summary, now);
    }
    let compare_within = stored.is_none();
    if let Some((peers, common)) = stored {
        ctx.peers = peers;
        ctx.common = common;
    }
    let (_, features, _, _) =
        bellwether_engine::assess::features_of(book, &by_id, &ctx, as_of, adoption, compare_within);
    features
        .into_iter()
        .filter(|f| f.scorable() && book.accounts.contains_key(&f.account_id))
        .collect()
}

/// The training set of a store's whole book, sampled as [`Sampling::for_book`] fits its history (`step_days`
/// overrides the spacing) with ARR in `rates` (`None`: the book's one currency) and adoption measured under
/// `adoption`, as the daily pass measures them; `None` when the store holds no data to learn from.
pub async fn from_store<S: Store + ?Sized>(
    store: &S,
    health: &HealthConfig,
    step_days: Option<i32>,
    rates: Option<bellwether_core::Rates>,
    adoption: &AdoptionConfig,
) -> bellwether_store::Result<Option<TrainingSet>> {
    let (book, series, summary) = load(store, None).await?;
    let mut sampling = Sampling::for_book(&summary, step_days);
    sampling.rates = rates;
    sampling.adoption = adoption.clone();
    Ok(build(&book, &series, &summary, health, &sampling))
}

/// Loads what training and scoring read: the facts, the series and the book's summary, at once.
pub async fn load<S: Store + ?Sized>(
    store: &S,
    accounts: Option<&[AccountId]>,
) -> bellwether_store::Result<(Book, Vec<(AccountId, AccountSeries)>, BookSummary)> {
    tokio::try_join!(
        store.load_book(accounts),
        store.load_series(accounts),
        store.book_summary()
    )
}

/// Learns the columns as of `as_of`: segments and plans of the accounts then, events by volume before then.
pub fn learn_spec(book: &Book, series: &[(AccountId, AccountSeries)], as_of: Day) -> FeatureSpec {
    let mut volume: HashMap<String, f64> = HashMap::new();
    for (_, s) in series {
        let Some(source) = primary_source(s, as_of) else {
            continue;
        };
        for (name, ser) in source_series(s, source) {
            *volume.entry(name.to_string()).or_default() += ser.sum(Day(i32::MIN / 2), as_of);
        }
    }
    let volume: Vec<(String, f64)> = volume.into_iter().filter(|(_, v)| *v > 0.0).collect();
    let views: Vec<_> = book
        .accounts
        .iter()
        .map(|(id, f)| f.view(id, as_of))
        .collect();
    let feats: Vec<_> = views
        .iter()
        .map(|v| bellwether_features::AccountFeatures {
            segment: v.segment.clone(),
            ..Default::default()
        })
        .collect();
    FeatureSpec::learn(
        feats
            .iter()
            .zip(&views)
            .map(|(f, v)| (f, v.plan.as_deref())),
        &volume,
    )
}

/// Builds the training set: every `step_days` from the book's first day plus the warm-up to `until`.
pub fn build(
    book: &Book,
    series: &[(AccountId, AccountSeries)],
    summary: &BookSummary,
    health_cfg: &HealthConfig,
    sampling: &Sampling,
) -> Option<TrainingSet> {
    let (first, end) = data_span(summary)?;
    // The day after the last data is the natural "today" of the book; no snapshot lies beyond it.
    let until = sampling.until.unwrap_or(end).min(end.plus(1));
    let spec = learn_spec(book, series, sampling.spec_as_of.unwrap_or(until));
    let columns = spec.columns();
    let by_id: HashMap<&AccountId, &AccountSeries> = series.iter().map(|(id, s)| (id, s)).collect();
    let timelines: HashMap<&AccountId, Timeline> = book
        .accounts
        .iter()
        .map(|(id, f)| (id, Timeline::of(f)))
        .collect();
    let mut days = Vec::new();
    let mut d = until;
    while d >= first.plus(sampling.warmup_days) {
        days.push(d);
        d = d.plus(-sampling.step_days);
    }
    days.reverse();
    let mut data: Vec<Vec<f64>> = Vec::new();
    let mut rows = Vec::new();
    for day in days {
        // The customers of the day, with their segment's medians that day: what the daily pass scores.
        let customers = features_on(
            book,
            series,
            summary,
            day,
            None,
            None,
            sampling.rates.as_ref(),
            &sampling.adoption,
        );
        let built = par_map(&customers, |f| {
            let id = &f.account_id;
            let tl = &timelines[id];
            let mut v = Vec::with_capacity(columns.len());
            spec.vectorise(f, by_id.get(id).copied(), &mut v);
            let h = health::score(f, health_cfg).score;
            let labels = Target::ALL.map(|t| tl.label(t, day, f.days_to_renewal));
            let renewal_known = f.days_to_renewal.is_some()
                || tl
                    .term_days
                    .is_some_and(|t| t > crate::labels::MONTHLY_TERM_DAYS);
            (
                v,
                RowMeta {
                    account: id.clone(),
                    as_of: day,
                    arr: f.arr_reporting.map_or(0.0, |m| m.major()),
                    rules_risk: bellwether_engine::assess::risk_proxy(h),
                    labels,
                    renewal_known,
                    churn_day: tl.churn,
                },
            )
        });
        for (v, m) in built {
            data.push(v);
            rows.push(m);
        }
    }
    let names = columns.iter().map(|c| c.name.clone()).collect();
    Some(TrainingSet {
        spec,
        columns,
        x: Dataset::from_rows(names, &data),
        rows,
        data_end: end,
        data_start: first,
        sampling: sampling.clone(),
    })
}

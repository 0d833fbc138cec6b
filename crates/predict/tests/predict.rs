//! Prediction on a simulated book through the real store: training rows leak nothing from after their day,
//! explanations add up to what the user sees, the driver text of a troubled account names its true cause, and
//! a book too small to learn from gets a clear message.

use bellwether_core::series::AccountSeries;
use bellwether_core::{AccountId, Day};
use bellwether_engine::health::HealthConfig;
use bellwether_ingest::{import_dir, ImportOptions};
use bellwether_predict::dataset::{self, Sampling, TrainingSet};
use bellwether_predict::score::{features_on, score_features};
use bellwether_predict::{train, PredictError, Target, TrainConfig};
use bellwether_sim::{plan_summary, simulate, Archetype, PlannedAccount, SimConfig};
use bellwether_store::{Book, BookSummary, Store};
use bellwether_store_sqlite::SqliteStore;
use std::sync::OnceLock;

struct Fixture {
    _dir: tempfile::TempDir,
    book: Book,
    series: Vec<(AccountId, AccountSeries)>,
    summary: BookSummary,
    plans: Vec<PlannedAccount>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let cfg = SimConfig {
            accounts: 1500,
            seed: 21,
            ..SimConfig::default()
        };
        let out = dir.path().join("book");
        simulate(&cfg, &out, &mut |_| {}).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (book, series, summary) = rt.block_on(async {
            let store = SqliteStore::open(&dir.path().join("b.db")).await.unwrap();
            import_dir(&store, &out, &ImportOptions::default())
                .await
                .unwrap();
            (
                store.load_book(None).await.unwrap(),
                store.load_series(None).await.unwrap(),
                store.book_summary().await.unwrap(),
            )
        });
        Fixture {
            _dir: dir,
            book,
            series,
            summary,
            plans: plan_summary(&cfg).unwrap(),
        }
    })
}

/// Everything on or after `d` removed, and what was still open then reopened: the book as it stood on `d`.
fn as_it_stood(
    book: &Book,
    series: &[(AccountId, AccountSeries)],
    d: Day,
) -> (Book, Vec<(AccountId, AccountSeries)>) {
    let t = d.start();
    let mut b = book.clone();
    for f in b.accounts.values_mut() {
        f.attrs.retain(|a| a.valid_from < t);
        f.contacts
            .retain(|c| c.contact.first_seen.is_none_or(|s| s < t));
        for c in f.contacts.iter_mut() {
            c.attrs.retain(|a| a.valid_from < t);
        }
        f.tickets.retain(|k| k.opened_at < t);
        for k in f.tickets.iter_mut() {
            if k.closed_at.is_some_and(|c| c >= t) {
                k.closed_at = None;
                k.csat = None;
            }
        }
        f.billing.retain(|x| x.at < t);
        f.subscriptions.retain(|s| s.start < d);
        for s in f.subscriptions.iter_mut() {
            if s.end.is_some_and(|e| e >= d) {
                s.end = None;
            }
        }
        f.interactions.retain(|i| i.at < t);
        f.outcomes.retain(|o| o.date < d);
    }
    let s = series
        .iter()
        .map(|(id, s)| {
            let mut s = s.clone();
            for ser in s.metrics.values_mut() {
                ser.points.retain(|p| p.0 < d);
            }
            (id.clone(), s)
        })
        .collect();
    (b, s)
}

fn rows_on(set: &TrainingSet, d: Day) -> Vec<(String, Vec<u64>, u64)> {
    let mut out: Vec<_> = set
        .rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.as_of == d)
        .map(|(i, r)| {
            let x = (0..set.x.cols())
                .map(|j| set.x.data[j * set.x.rows + i].to_bits())
                .collect();
            (r.account.as_str().to_string(), x, r.rules_risk.to_bits())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn rewriting_everything_after_each_snapshot_day_leaves_its_training_rows_unchanged() {
    let f = fixture();
    let (_, end) = dataset::data_span(&f.summary).unwrap();
    for back in [400, 250, 90] {
        let d = end.plus(-back);
        let sampling = Sampling {
            step_days: 1000,
            until: Some(d),
            spec_as_of: Some(d),
            ..Default::default()
        };
        let cfg = HealthConfig::default();
        let full = dataset::build(&f.book, &f.series, &f.summary, &cfg, &sampling).unwrap();
        let (b, s) = as_it_stood(&f.book, &f.series, d);
        let cut = dataset::build(&b, &s, &f.summary, &cfg, &sampling).unwrap();
        let (a, c) = (rows_on(&full, d), rows_on(&cut, d));
        assert!(a.len() > 500, "{} rows on {d}", a.len());
        assert_eq!(a.len(), c.len(), "accounts on {d}");
        for (x, y) in a.iter().zip(&c) {
            assert_eq!(
                x, y,
                "{} on {d}: features differ once the future is removed",
                x.0
            );
        }
        // The labels, by contrast, come from after the day: some churned.
        let pos = full
            .rows
            .iter()
            .filter(|r| {
                r.as_of == d
                    && r.label_by(bellwether_predict::Target::Churn90, Day(i32::MAX)) == Some(true)
            })
            .count();
        assert!(pos > 0, "no churn within 90 days of {d}");
    }
}

#[test]
fn drivers_add_up_and_name_the_true_cause_of_troubled_accounts() {
    let f = fixture();
    let set = dataset::build(
        &f.book,
        &f.series,
        &f.summary,
        &HealthConfig::default(),
        &Sampling {
            step_days: 21,
            ..Default::default()
        },
    )
    .unwrap();
    let cfg = TrainConfig {
        targets: vec![Target::ChurnRenewal],
        ..Default::default()
    };
    let bundle = train(&set, None, &cfg).unwrap();
    let m = bundle.target(Target::ChurnRenewal).unwrap();
    assert!(
        m.info.held_out.auc > 0.75,
        "held-out AUC {}",
        m.info.held_out.auc
    );
    // Exact contributions: every row's sum is its score.
    let contrib = m.model.contributions(&set.x);
    let raw = m.model.raw(&set.x);
    let w = set.x.cols() + 1;
    for i in (0..set.x.rows).step_by(97) {
        let s: f64 = contrib[i * w..(i + 1) * w].iter().sum();
        assert!((s - raw[i]).abs() < 1e-6, "row {i}: {s} vs {}", raw[i]);
    }
    // Scored on a day: the drivers' points add up to the move from the base probability.
    let (_, end) = dataset::data_span(&f.summary).unwrap();
    let day = end.plus(-120);
    let feats = features_on(
        &f.book,
        &f.series,
        &f.summary,
        day,
        None,
        None,
        None,
        &Default::default(),
    );
    let preds = score_features(&bundle, 1, &feats, &f.series, day).unwrap();
    assert_eq!(preds.len(), feats.len());
    for p in &preds {
        let sum: f64 = p.drivers.iter().map(|d| d.points).sum();
        assert!(
            (sum - (p.probability - p.base_probability) * 100.0).abs() < 1e-6,
            "{}: drivers sum to {sum}, probability moved {}",
            p.account_id.as_str(),
            (p.probability - p.base_probability) * 100.0
        );
    }
    // Accounts in trouble on the day (started 60+ days before it, outcome still ahead): among the riskiest of
    // each churn archetype, the top drivers name the archetype's cause.
    let expect: &[(Archetype, &[&str])] = &[
        (Archetype::SupportFrustration, &["support", "sentiment"]),
        (
            Archetype::BudgetTrouble,
            &["billing", "seats", "engagement"],
        ),
        (
            Archetype::SlowDisengagement,
            &["usage", "activeusers", "adoption"],
        ),
    ];
    for (arch, reasons) in expect {
        let troubled: Vec<&PlannedAccount> = f
            .plans
            .iter()
            .filter(|p| {
                p.archetype == *arch
                    && p.trouble_start.is_some_and(|t| t.0 <= day.0 - 60)
                    && p.outcome_date.is_some_and(|o| o > day)
            })
            .collect();
        let mut scored: Vec<_> = preds
            .iter()
            .filter(|p| {
                troubled
                    .iter()
                    .any(|t| t.account_id == p.account_id.as_str())
            })
            .collect();
        assert!(
            scored.len() >= 3,
            "{arch:?}: {} troubled accounts scored",
            scored.len()
        );
        scored.sort_by(|a, b| b.probability.total_cmp(&a.probability));
        let named = scored
            .iter()
            .take(5)
            .filter(|p| {
                p.drivers
                    .iter()
                    .filter(|d| d.points > 0.0)
                    .take(3)
                    .any(|d| reasons.contains(&d.reason.as_str()))
            })
            .count();
        assert!(
            named >= 3,
            "{arch:?}: only {named} of the 5 riskiest name {reasons:?}: {:#?}",
            scored
                .iter()
                .take(5)
                .map(|p| &p.drivers[..3.min(p.drivers.len())])
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn a_book_too_small_to_learn_from_gets_a_clear_message() {
    let f = fixture();
    let mut small = f.book.clone();
    let keep: Vec<AccountId> = small.accounts.keys().take(40).cloned().collect();
    small.accounts.retain(|id, _| keep.contains(id));
    let series: Vec<_> = f
        .series
        .iter()
        .filter(|(id, _)| keep.contains(id))
        .cloned()
        .collect();
    let set = dataset::build(
        &small,
        &series,
        &f.summary,
        &HealthConfig::default(),
        &Sampling::default(),
    )
    .unwrap();
    match train(&set, None, &TrainConfig::default()) {
        Err(e @ PredictError::NotEnoughHistory(_)) => {
            let m = e.to_string();
            // The book's history is long enough: the advice is about outcomes, with each target's counts.
            assert!(m.contains("too few accounts had an outcome"), "{m}");
            assert!(m.contains("import outcomes"), "{m}");
            assert!(
                m.contains("churn_30d: ") && m.contains("labelled snapshots"),
                "{m}"
            );
            assert_eq!(e.code().name(), "not_enough_history");
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(b) => panic!("trained {} targets on 40 accounts", b.targets.len()),
    }
}

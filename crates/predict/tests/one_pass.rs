//! The one pass (features once, then health, signals and every model's probability from them) gives the same
//! health, signals and probabilities as the old two-step path (assess, then score with a second load and a
//! second feature computation), on a simulated book imported twice.

use bellwether_core::model::{Prediction, Signal};
use bellwether_engine::{book_day, reassess, Clock, Engine, ModelPolicy};
use bellwether_ingest::{import_dir, ImportOptions};
use bellwether_predict::dataset;
use bellwether_predict::score::{self, Activation};
use bellwether_predict::{train, Target, TrainConfig};
use bellwether_sim::{simulate, SimConfig};
use bellwether_store::{SignalFilter, Store};
use bellwether_store_sqlite::SqliteStore;
use std::collections::BTreeMap;

async fn imported(dir: &std::path::Path, book: &std::path::Path, name: &str) -> SqliteStore {
    let store = SqliteStore::open(&dir.join(format!("{name}.db")))
        .await
        .unwrap();
    import_dir(&store, book, &ImportOptions::default())
        .await
        .unwrap();
    store
}

fn by_key(preds: &[Prediction]) -> BTreeMap<(String, String), &Prediction> {
    preds
        .iter()
        .map(|p| ((p.account_id.0.clone(), p.target.clone()), p))
        .collect()
}

fn signal_states(signals: &[Signal]) -> Vec<(String, String, String, String)> {
    let mut v: Vec<_> = signals
        .iter()
        .map(|s| {
            (
                s.id.clone(),
                format!("{:?}", s.status),
                format!("{:?}", s.severity),
                s.explanation.clone(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_one_pass_gives_the_health_signals_and_probabilities_of_assess_then_score() {
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("book");
    simulate(
        &SimConfig {
            accounts: 700,
            seed: 11,
            ..Default::default()
        },
        &book,
        &mut |_| {},
    )
    .unwrap();
    let old = imported(dir.path(), &book, "old").await;
    let one = imported(dir.path(), &book, "one").await;

    // One trained version, stored active in both.
    let set = dataset::from_store(&old, &Default::default(), None, None, &Default::default())
        .await
        .unwrap()
        .unwrap();
    let cfg = TrainConfig {
        targets: vec![Target::ChurnRenewal, Target::Churn90, Target::Expansion180],
        baseline: false,
        ..Default::default()
    };
    let bundle = train(&set, None, &cfg).unwrap();
    for store in [&old, &one] {
        let r = score::register(store, &bundle, &cfg, Activation::Force)
            .await
            .unwrap();
        assert!(r.active);
    }

    // The old path: assess with the rules only, then score with a second load.
    let day = book_day(&old, Clock::Files, None).await.unwrap().unwrap();
    let rules_only = Engine::default();
    let assessed = reassess(&old, &rules_only, None, day).await.unwrap();
    assert!(assessed.predictions.is_empty());
    let scored = score::score(&old, None, day, &Engine::default())
        .await
        .unwrap();

    // The one pass.
    let engine = Engine {
        models: Some(score::models(ModelPolicy {
            score: true,
            retrain_days: 0,
        })),
        ..Engine::default()
    };
    let out = reassess(&one, &engine, None, day).await.unwrap();
    assert_eq!(out.model.version, Some(1));
    assert!(out.model.problem.is_none());

    // Every target of every scored account, with the same probability and drivers.
    assert_eq!(out.predictions.len(), scored.predictions.len());
    assert!(
        out.predictions.len() >= 3 * 400,
        "{}",
        out.predictions.len()
    );
    let (a, b) = (by_key(&scored.predictions), by_key(&out.predictions));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    let mut explained = 0;
    for (k, p) in &a {
        let q = b[k];
        assert!(
            (p.probability - q.probability).abs() < 1e-12,
            "{k:?}: {} against {}",
            p.probability,
            q.probability
        );
        assert_eq!(p.drivers, q.drivers, "{k:?}");
        explained += usize::from(!q.drivers.is_empty());
    }
    assert!(explained > 400, "drivers on {explained} predictions");

    // The stored assessments: the same health, and the model's churn probability and priority on each.
    let (old_rows, one_rows) = (
        old.assessments(None).await.unwrap(),
        one.assessments(None).await.unwrap(),
    );
    assert_eq!(old_rows.len(), one_rows.len());
    let ranked: BTreeMap<_, _> = one_rows.iter().map(|a| (a.account_id.clone(), a)).collect();
    let mut with_model = 0;
    for a in &old_rows {
        let b = ranked[&a.account_id];
        assert_eq!(a.health, b.health, "{}", a.account_id);
        assert_eq!(a.components, b.components);
        assert_eq!(a.churn_probability, b.churn_probability, "{}", a.account_id);
        assert!((a.priority - b.priority).abs() < 1e-9, "{}", a.account_id);
        with_model += usize::from(b.churn_probability.is_some());
    }
    assert!(
        with_model > 400,
        "{with_model} assessments carry a probability"
    );

    // The same signals.
    let (s1, s2) = (
        old.signals(SignalFilter::default()).await.unwrap(),
        one.signals(SignalFilter::default()).await.unwrap(),
    );
    assert!(!s1.is_empty());
    assert_eq!(signal_states(&s1), signal_states(&s2));

    // And the stored predictions are the pass's.
    let stored = one.predictions(None, Some(day.day)).await.unwrap();
    assert_eq!(stored.len(), out.predictions.len());

    // A pass on a day inside what the model learned from (building history) keeps the rules ranking.
    let past = bellwether_engine::BookDay::past(day.day.plus(-60));
    let earlier = reassess(&one, &engine, None, past).await.unwrap();
    assert!(earlier.predictions.is_empty());
    assert_eq!(earlier.model.version, None);
    let why = earlier.model.problem.unwrap();
    assert!(why.contains("cut-off"), "{why}");
    assert!(earlier
        .assessments
        .iter()
        .all(|a| a.churn_probability.is_none()));
}

//! A young self-serve book (monthly subscriptions, five and a half months of product events, no CRM) trains,
//! and on the months after each cut-off the model beats, by at least 0.02 AUC, a logistic baseline on 28-day
//! event counts and tenure fitted on the same snapshots with the same cut-offs.

use bellwether_engine::health::HealthConfig;
use bellwether_ingest::{import_dir, ImportOptions};
use bellwether_ml::logistic::LogisticLearner;
use bellwether_ml::{metrics, Dataset, Learner};
use bellwether_predict::backtest::{self, BacktestConfig};
use bellwether_predict::bundle::label_days;
use bellwether_predict::dataset::{self, Sampling};
use bellwether_predict::{Target, TrainConfig};
use bellwether_sim::{simulate, SimConfig};
use bellwether_store_sqlite::SqliteStore;
use std::collections::HashMap;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_serve_book_trains_and_beats_a_usage_and_tenure_baseline_on_later_months() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SimConfig {
        accounts: 8000,
        seed: 7,
        ..SimConfig::self_serve()
    };
    let out = dir.path().join("book");
    simulate(&cfg, &out, &mut |_| {}).unwrap();
    let store = SqliteStore::open(&dir.path().join("b.db")).await.unwrap();
    import_dir(&store, &out, &ImportOptions::default())
        .await
        .unwrap();
    let (book, series, summary) = dataset::load(&store, None).await.unwrap();
    let (first, end) = dataset::data_span(&summary).unwrap();
    let sampling = Sampling::for_book(&summary, None);
    assert_eq!(sampling.step_days, 7, "a young book is sampled weekly");
    let set = dataset::build(
        &book,
        &series,
        &summary,
        &HealthConfig::default(),
        &sampling,
    )
    .unwrap();
    let target = Target::Churn30;
    let cutoffs = backtest::fit_cutoffs(
        first,
        end,
        sampling.warmup_days,
        label_days(&set, target),
        Some(2),
        None,
    );
    assert_eq!(cutoffs.len(), 2);
    let report = backtest::run(
        &set,
        &BacktestConfig {
            target,
            cutoffs: cutoffs.clone(),
            train: TrainConfig {
                baseline: false,
                ..Default::default()
            },
            exit_ratio: 1.0,
        },
    )
    .unwrap();
    assert!(
        report.model.positives > 100,
        "{} positives",
        report.model.positives
    );

    // The baseline: logistic regression on two columns, trained on the labels knowable at each cut-off.
    let col = |name: &str| set.columns.iter().position(|c| c.name == name).unwrap();
    let (events, tenure) = (col("events_28d"), col("tenure_days"));
    let x2 = |idx: &[usize]| {
        let rows: Vec<Vec<f64>> = idx
            .iter()
            .map(|&i| vec![set.x.col(events)[i].max(0.0).ln_1p(), set.x.col(tenure)[i]])
            .collect();
        Dataset::from_rows(vec!["events_28d".into(), "tenure_days".into()], &rows)
    };
    let ti = bellwether_predict::dataset::target_index(target);
    let y = |idx: &[usize]| -> Vec<f64> {
        idx.iter()
            .map(|&i| f64::from(u8::from(set.rows[i].labels[ti].0)))
            .collect()
    };
    let by_key: HashMap<(&str, i32), usize> = set
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.account.as_str(), r.as_of.0), i))
        .collect();
    let (mut baseline_p, mut labels, mut model_p) = (Vec::new(), Vec::new(), Vec::new());
    for (k, &cut) in cutoffs.iter().enumerate() {
        let train: Vec<usize> = (0..set.rows.len())
            .filter(|&i| set.rows[i].labels[ti].1 <= cut)
            .collect();
        let model = LogisticLearner::default()
            .fit(&x2(&train), &y(&train), None)
            .unwrap();
        let eval: Vec<&backtest::PredictionRow> = report
            .predictions
            .iter()
            .filter(|p| p.cutoff == cut)
            .collect();
        assert!(!eval.is_empty(), "cut-off {k} evaluates rows");
        let idx: Vec<usize> = eval
            .iter()
            .map(|p| by_key[&(p.account_id.as_str(), p.as_of.0)])
            .collect();
        baseline_p.extend(model.raw(&x2(&idx)));
        labels.extend(y(&idx));
        model_p.extend(eval.iter().map(|p| p.probability));
    }
    let (model_auc, baseline_auc) = (
        metrics::roc_auc(&model_p, &labels),
        metrics::roc_auc(&baseline_p, &labels),
    );
    assert!((model_auc - report.model.auc).abs() < 1e-9, "the same rows");
    eprintln!(
        "{} evaluated snapshots ({} positive): model AUC {model_auc:.3}, usage-and-tenure logistic {baseline_auc:.3}, rules {:.3}",
        labels.len(),
        report.model.positives,
        report.rules.auc
    );
    assert!(
        model_auc >= baseline_auc + 0.02,
        "model AUC {model_auc:.3} against the usage-and-tenure baseline's {baseline_auc:.3}"
    );
}

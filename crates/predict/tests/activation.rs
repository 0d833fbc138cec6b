//! A version is activated only where its default churn target beats the rules score: a model that loses to
//! the rules on the latest held-out snapshots is stored but not activated, and the registry's status says the
//! rules score is in charge and why; one that wins is activated. The default target follows the book.

use bellwether_core::{AccountId, Day};
use bellwether_ml::Dataset;
use bellwether_predict::bundle::{self, TrainConfig};
use bellwether_predict::dataset::{RowMeta, Sampling, TrainingSet};
use bellwether_predict::score::{self, Activation};
use bellwether_predict::vector::FeatureSpec;
use bellwether_predict::Target;
use bellwether_store::Store;
use bellwether_store_sqlite::SqliteStore;

/// A deterministic uniform number in [0, 1) from two integers.
fn noise(a: u64, b: u64) -> f64 {
    let h = xxhash_rust::xxh3::xxh3_64(&[a.to_le_bytes(), b.to_le_bytes()].concat());
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// 800 accounts × 12 weekly snapshots; 20% churn. `informative`: the first column tells churners apart;
/// otherwise every column is noise. The rules score's risk tells them apart either way, less sharply.
fn book(informative: bool) -> TrainingSet {
    let spec = FeatureSpec::default();
    let columns = spec.columns();
    let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    let start = Day::ymd(2026, 1, 1);
    let end = start.plus(200);
    let (mut data, mut rows) = (Vec::new(), Vec::new());
    for a in 0..800u64 {
        let churner = noise(a, 0) < 0.2;
        for k in 0..12u64 {
            let as_of = start.plus(30 + 7 * k as i32);
            let mut v: Vec<f64> = (0..names.len() as u64)
                .map(|j| noise(a * 100 + k, j))
                .collect();
            if informative {
                v[0] = f64::from(u8::from(churner)) + 0.3 * noise(a, k + 7);
            }
            data.push(v);
            let known = as_of.plus(37);
            rows.push(RowMeta {
                account: AccountId(format!("acct-{a}")),
                as_of,
                arr: 10_000.0,
                rules_risk: if churner { 0.55 } else { 0.45 } + 0.5 * (noise(a, k + 99) - 0.5),
                labels: [(churner, known); Target::ALL.len()],
                renewal_known: false,
                churn_day: churner.then(|| as_of.plus(20)),
            });
        }
    }
    TrainingSet {
        spec,
        columns,
        x: Dataset::from_rows(names, &data),
        rows,
        data_end: end,
        data_start: start,
        sampling: Sampling::for_span(200, None),
    }
}

fn config() -> TrainConfig {
    TrainConfig {
        targets: vec![Target::Churn30, Target::Churn60],
        baseline: false,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_that_loses_to_the_rules_is_stored_but_not_activated() {
    let tmp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&tmp.path().join("b.db")).await.unwrap();

    let losing = bundle::train(&book(false), None, &config()).unwrap();
    // Without renewal dates or terms longer than a month, the longest fixed horizon is the default.
    assert_eq!(losing.default_target, Some(Target::Churn60));
    let vs = losing
        .default_model()
        .unwrap()
        .info
        .versus_rules
        .clone()
        .unwrap();
    assert!(vs.rules_auc > vs.model_auc + 0.1, "{vs:?}");
    assert!(!vs.beats);
    let r = score::register(&store, &losing, &config(), Activation::WhenBetter)
        .await
        .unwrap();
    assert!(!r.active, "{r:?}");
    let why = r.held_back.unwrap();
    assert!(
        why.contains("does not beat the rules score") && why.contains("AUC"),
        "{why}"
    );
    let status = score::status(&store).await.unwrap();
    assert_eq!(status.in_charge, "rules");
    assert_eq!(status.version, None);
    assert!(
        status.reason.contains("was not activated because"),
        "{}",
        status.reason
    );
    assert_eq!(
        store.models().await.unwrap().len(),
        1,
        "stored all the same"
    );

    let winning = bundle::train(&book(true), None, &config()).unwrap();
    let vs = winning
        .default_model()
        .unwrap()
        .info
        .versus_rules
        .clone()
        .unwrap();
    assert!(vs.beats && vs.model_auc > 0.95, "{vs:?}");
    let r = score::register(&store, &winning, &config(), Activation::WhenBetter)
        .await
        .unwrap();
    assert!(r.active && r.held_back.is_none(), "{r:?}");
    let status = score::status(&store).await.unwrap();
    assert_eq!(
        (
            status.in_charge,
            status.version,
            status.target,
            status.horizon_days
        ),
        ("model", Some(r.version), Some(Target::Churn60), Some(60))
    );
    assert!(
        status.reason.contains("it beat the rules score"),
        "{}",
        status.reason
    );
}

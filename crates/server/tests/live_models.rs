//! A live re-assessment scores: data arriving through the tracking API re-assesses the accounts it touched
//! in one pass that stores, beside their health, every active model's probability with its drivers, and
//! ranks them by the model's churn probability.

mod common;

use axum::http::StatusCode;
use bellwether_core::{Day, Timestamp};
use bellwether_engine::{Engine, ModelPolicy};
use bellwether_ingest::{import_dir, ImportOptions};
use bellwether_predict::score;
use bellwether_predict::Target;
use bellwether_server::ServerConfig;
use bellwether_sim::{simulate, SimConfig};
use bellwether_store::Store;
use common::{call, post, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_reassessment_stores_model_probabilities_with_drivers() {
    let engine = Engine {
        models: Some(score::models(ModelPolicy {
            score: true,
            retrain_days: 0,
        })),
        ..Engine::default()
    };
    let server = TestServer::start_with(ServerConfig::default(), engine).await;
    let store = server.store.clone();

    // A simulated book and a model trained on it, active.
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("book");
    simulate(
        &SimConfig {
            accounts: 600,
            seed: 3,
            ..Default::default()
        },
        &book,
        &mut |_| {},
    )
    .unwrap();
    import_dir(&*store, &book, &ImportOptions::default())
        .await
        .unwrap();
    let (set, bundle) = common::activate_model(
        &*store,
        vec![Target::ChurnRenewal, Target::Churn90, Target::Expansion180],
        &[],
    )
    .await;
    let customer = set.rows.last().unwrap().account.clone();
    let other = set
        .rows
        .iter()
        .map(|r| r.account.clone())
        .find(|a| *a != customer)
        .unwrap();
    let default = bundle.default_target.unwrap();
    assert!(store
        .predictions(Some(&customer), None)
        .await
        .unwrap()
        .is_empty());

    // Product use of one account arrives through the tracking API.
    let now = Timestamp::now();
    let batch: Vec<String> = (0..5)
        .map(|i| {
            format!(
                r#"{{"type":"track","userId":"u-live-{i}","event":"Report Viewed","messageId":"live-{i}","timestamp":"{}","context":{{"groupId":"{}"}}}}"#,
                now,
                customer.as_str()
            )
        })
        .collect();
    let (s, b) = call(
        &server,
        post(
            "/v1/batch",
            Some(&server.ingest_key),
            "application/json",
            format!(r#"{{"batch":[{}]}}"#, batch.join(",")),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    server.state.settle().await;

    // The live pass scored it, as of today, with every target and the drivers of the ranking target.
    let today = Day::today();
    let preds = store.predictions(Some(&customer), None).await.unwrap();
    let mut targets: Vec<&str> = preds.iter().map(|p| p.target.as_str()).collect();
    targets.sort_unstable();
    assert_eq!(
        targets,
        ["churn_90d", "churn_renewal", "expansion_180d"],
        "{preds:?}"
    );
    for p in &preds {
        assert_eq!(p.as_of, today);
        assert_eq!(p.model_version, 1);
        assert!((0.0..=1.0).contains(&p.probability));
    }
    let ranked = preds.iter().find(|p| p.target == default.as_str()).unwrap();
    assert!(!ranked.drivers.is_empty(), "{ranked:?}");
    let sum: f64 = ranked.drivers.iter().map(|d| d.points).sum();
    assert!(
        (sum / 100.0 - (ranked.probability - ranked.base_probability)).abs() < 1e-6,
        "drivers add up to the move from the base probability"
    );
    // Its assessment ranks by that probability.
    let a = store
        .assessments(Some(today))
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.account_id == customer)
        .unwrap();
    assert_eq!(a.churn_probability, Some(ranked.probability));
    // Its page explains every target: those stored without drivers are computed for the stored day.
    let (s, page) = call(
        &server,
        common::get(
            &format!("/v1/accounts/{}", customer.as_str()),
            Some(&server.read_key),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let shown = page["predictions"].as_array().unwrap();
    assert_eq!(shown.len(), 3, "{page}");
    for p in shown {
        let drivers = p["drivers"].as_array().unwrap();
        assert!(!drivers.is_empty(), "{p}");
        let points: f64 = drivers.iter().map(|d| d["points"].as_f64().unwrap()).sum();
        let moved = p["probability"].as_f64().unwrap() - p["base_probability"].as_f64().unwrap();
        assert!((points / 100.0 - moved).abs() < 1e-6, "{p}");
    }
    assert!(
        preds.iter().any(|p| p.drivers.is_empty()),
        "the pass stored some targets without drivers"
    );
    // Only the touched account was scored.
    assert!(store
        .predictions(Some(&other), None)
        .await
        .unwrap()
        .is_empty());
    server.stop().await;
}

//! Alerts from a pass to a Slack incoming webhook played on loopback: each arrives as a Block Kit message
//! that the official `slack_sdk` package parses into its block models, validates and serialises back
//! unchanged; a 429 with `Retry-After` is retried; a webhook Slack has revoked (404 `no_service`) is parked
//! with Slack's reason.

use axum::http::{HeaderMap, StatusCode};
use bellwether_deliver::channels::slack::SlackConfig;
use bellwether_deliver::worker::Worker;
use bellwether_deliver::{Alerts, Channels, DeliveryConfig};
use bellwether_engine::{Clock, Engine};
use bellwether_store::{OutboxState, Store};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The Python of `.venv-test` (made by `scripts/python-test-env.sh`, with slack_sdk).
fn python() -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::process::Command::new("bash")
        .arg(root.join("scripts/python-test-env.sh"))
        .output()
        .expect("bash runs scripts/python-test-env.sh");
    assert!(
        out.status.success(),
        "scripts/python-test-env.sh failed (the Slack test needs python3 and PyPI):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_slack_as_block_kit_that_slack_sdk_reads() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        bellwether_store_sqlite::SqliteStore::open(&dir.path().join("b.db"))
            .await
            .unwrap(),
    );
    let book = dir.path().join("book");
    bellwether_sim::simulate(
        &bellwether_sim::SimConfig {
            accounts: 300,
            seed: 4,
            ..Default::default()
        },
        &book,
        &mut |_| {},
    )
    .unwrap();
    bellwether_ingest::import_dir(&*store, &book, &Default::default())
        .await
        .unwrap();

    // Slack on loopback: the first post is answered 429 with Retry-After, the rest `ok`; a revoked webhook.
    let bodies: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let posts = Arc::new(Mutex::new(0u32));
    let app = axum::Router::new()
        .route(
            "/services/T0/B0/ok",
            axum::routing::post({
                let (bodies, posts) = (bodies.clone(), posts.clone());
                move |body: String| async move {
                    let n = {
                        let mut p = posts.lock().unwrap();
                        *p += 1;
                        *p
                    };
                    if n == 1 {
                        let mut h = HeaderMap::new();
                        h.insert("retry-after", "1".parse().unwrap());
                        return (StatusCode::TOO_MANY_REQUESTS, h, "rate_limited");
                    }
                    bodies
                        .lock()
                        .unwrap()
                        .push(serde_json::from_str(&body).unwrap());
                    (StatusCode::OK, HeaderMap::new(), "ok")
                }
            }),
        )
        .route(
            "/services/T0/B1/revoked",
            axum::routing::post(|| async { (StatusCode::NOT_FOUND, "no_service") }),
        );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });

    let config = DeliveryConfig {
        public_url: Some("https://cs.example.com".into()),
        min_severity: Some("medium".into()),
        max_alerts_per_pass: Some(8),
        slack: vec![
            SlackConfig {
                name: "cs-alerts".into(),
                webhook_url: format!("{base}/services/T0/B0/ok"),
            },
            SlackConfig {
                name: "old-channel".into(),
                webhook_url: format!("{base}/services/T0/B1/revoked"),
            },
        ],
        ..Default::default()
    };
    config.check().unwrap();
    let engine = Engine {
        alerting: Some(Arc::new(Alerts::new(config.clone()))),
        ..Engine::default()
    };
    let day = bellwether_engine::book_day(&*store, Clock::Live, None)
        .await
        .unwrap()
        .unwrap();
    bellwether_engine::reassess(&*store, &engine, None, day)
        .await
        .unwrap();
    assert_eq!(store.outbox_counts().await.unwrap().pending, 16);
    let mut worker = Worker::new(
        store.clone(),
        Channels::from_config(&config).unwrap(),
        "w1".into(),
    );
    worker.idle = Duration::from_millis(20);
    let started = Instant::now();
    loop {
        worker.run_once().await.unwrap();
        let c = store.outbox_counts().await.unwrap();
        if c.pending == 0 {
            assert_eq!((c.delivered, c.parked), (8, 8), "{c:?}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{c:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let parked = store.outbox(Some(OutboxState::Parked), 20).await.unwrap();
    assert!(parked
        .iter()
        .all(|e| e.item.destination == "old-channel" && e.last_error.contains("no_service")));
    let retried = store
        .outbox(Some(OutboxState::Delivered), 20)
        .await
        .unwrap();
    assert_eq!(
        retried.iter().filter(|e| e.attempts == 2).count(),
        1,
        "the one rate-limited post was sent again"
    );

    // Every message as Slack received it, read by slack_sdk's Block Kit models.
    let received = bodies.lock().unwrap().clone();
    assert_eq!(received.len(), 8);
    let file = dir.path().join("messages.json");
    std::fs::write(&file, serde_json::to_string(&received).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/check_blocks.py");
    let out = std::process::Command::new(python())
        .arg(script)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "slack_sdk refused a message:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["messages"], 8);
    assert_eq!(
        report["types"],
        serde_json::json!(["actions", "context", "header", "section"])
    );
    for m in &received {
        let header = m["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(
            header.contains(" on acct") || header.contains(" on "),
            "{header}"
        );
        assert!(m["text"].as_str().unwrap().starts_with(header));
    }
}

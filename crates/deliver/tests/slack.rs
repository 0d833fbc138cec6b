//! Alerts from a pass to a Slack incoming webhook played on loopback: each arrives as a Block Kit message
//! that the official `slack_sdk` package parses into its block models, validates and serialises back
//! unchanged; a 429 with `Retry-After` is retried; a webhook Slack has revoked (404 `no_service`) is parked
//! with Slack's reason.

mod common;

use axum::http::{HeaderMap, StatusCode};
use bellwether_deliver::channels::slack::SlackConfig;
use bellwether_deliver::DeliveryConfig;
use bellwether_store::{OutboxState, Store};
use std::sync::{Arc, Mutex};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_slack_as_block_kit_that_slack_sdk_reads() {
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
                channel: None,
                alerts: None,
            },
            SlackConfig {
                name: "old-channel".into(),
                webhook_url: format!("{base}/services/T0/B1/revoked"),
                channel: None,
                alerts: None,
            },
        ],
        ..Default::default()
    };
    let (dir, store) = common::embedded().await;
    let store = common::book_with_alerts(store, &config).await;
    assert_eq!(store.outbox_counts().await.unwrap().pending, 16);
    let c = common::deliver_all(&store, &config).await;
    assert_eq!((c.delivered, c.parked), (8, 8), "{c:?}");
    let parked = store
        .outbox(
            &bellwether_store::OutboxFilter::state(Some(OutboxState::Parked)),
            20,
        )
        .await
        .unwrap();
    assert!(parked
        .iter()
        .all(|e| e.item.destination == "old-channel" && e.last_error.contains("no_service")));
    let retried = store
        .outbox(
            &bellwether_store::OutboxFilter::state(Some(OutboxState::Delivered)),
            20,
        )
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
    let report = common::check_with_slack_sdk(dir.path(), &received);
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

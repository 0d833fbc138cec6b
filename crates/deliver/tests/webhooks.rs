//! Alerts from a pass through the outbox to signed webhooks on loopback, on both stores: every alert the pass
//! decided is queued with its signal changes and arrives signed (verified here as a receiver verifies it); a
//! receiver that answers 503 with `Retry-After` gets the same `webhook-id` again until it accepts; one that
//! refuses with 410 has its entries parked with the reason; a second pass queues nothing new. Every delivery
//! accepted is verified again with the official `standardwebhooks` package, under each secret of the
//! rotation, and a tampered copy refused by it.

mod common;

use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use bellwether_deliver::channels::webhook::WebhookConfig;
use bellwether_deliver::DeliveryConfig;
use bellwether_store::{OutboxState, Store};
use hmac::{Hmac, Mac};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OLD: &str = "whsec_c2VjcmV0LW9mLWxhc3QtbW9udGg=";

/// What the receiver saw: per `webhook-id`, the attempts and the body it accepted.
#[derive(Default)]
struct Seen {
    attempts: HashMap<String, u32>,
    accepted: HashMap<String, serde_json::Value>,
    bad_signatures: u32,
    /// Each accepted delivery as it came: its `webhook-*` headers and its body.
    raw: Vec<serde_json::Value>,
}

/// Checks a delivery as a receiver holding `secret` does: the signature over `id.timestamp.body`, one of the
/// space-separated `v1,` values, and a timestamp within five minutes.
fn verified(headers: &HeaderMap, body: &str, secret: &str) -> bool {
    let get = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (id, ts, sigs) = (
        get("webhook-id"),
        get("webhook-timestamp"),
        get("webhook-signature"),
    );
    let Ok(t) = ts.parse::<i64>() else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (now - t).abs() > 300 {
        return false;
    }
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.{body}").as_bytes());
    let want = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    sigs.split(' ').any(|s| s == want)
}

/// A receiver on loopback: `/ok` answers 503 with `Retry-After: 1` to each id's first attempt, then 200;
/// `/gone` answers 410.
async fn receiver(seen: Arc<Mutex<Seen>>) -> String {
    let app = axum::Router::new()
        .route(
            "/ok",
            axum::routing::post({
                let seen = seen.clone();
                move |headers: HeaderMap, body: String| async move {
                    let mut s = seen.lock().unwrap();
                    // The receiver has moved to the new secret; the old one still signs during the rotation.
                    if !verified(&headers, &body, SECRET) || !verified(&headers, &body, OLD) {
                        s.bad_signatures += 1;
                        return (StatusCode::UNAUTHORIZED, HeaderMap::new());
                    }
                    let id = headers["webhook-id"].to_str().unwrap().to_string();
                    let n = s.attempts.entry(id.clone()).or_default();
                    *n += 1;
                    if *n == 1 {
                        let mut h = HeaderMap::new();
                        h.insert("retry-after", "1".parse().unwrap());
                        return (StatusCode::SERVICE_UNAVAILABLE, h);
                    }
                    let header = |k: &str| headers[k].to_str().unwrap().to_string();
                    s.raw.push(serde_json::json!({
                        "headers": {
                            "webhook-id": header("webhook-id"),
                            "webhook-timestamp": header("webhook-timestamp"),
                            "webhook-signature": header("webhook-signature"),
                        },
                        "body": body,
                    }));
                    s.accepted.insert(id, serde_json::from_str(&body).unwrap());
                    (StatusCode::NO_CONTENT, HeaderMap::new())
                }
            }),
        )
        .route(
            "/gone",
            axum::routing::post(|| async { (StatusCode::GONE, "this endpoint was removed") }),
        );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    format!("http://{addr}")
}

async fn alerts_reach_signed_webhooks<S: Store>(store: S) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let base = receiver(seen.clone()).await;
    let config = DeliveryConfig {
        public_url: Some("https://cs.example.com".into()),
        min_severity: Some("medium".into()),
        max_alerts_per_pass: Some(12),
        webhooks: vec![
            WebhookConfig {
                name: "ops".into(),
                url: format!("{base}/ok"),
                secrets: vec![SECRET.into(), OLD.into()],
            },
            WebhookConfig {
                name: "old".into(),
                url: format!("{base}/gone"),
                secrets: vec![SECRET.into()],
            },
        ],
        ..Default::default()
    };
    let store = common::book_with_alerts(store, &config).await;
    let signals = store.signals(Default::default()).await.unwrap();
    assert!(
        signals.len() > 12,
        "the pass opened more signals than the cap"
    );
    let queued = store
        .outbox(&bellwether_store::OutboxFilter::default(), 1_000)
        .await
        .unwrap();
    assert_eq!(queued.len(), 24, "12 alerts (the cap), once per webhook");
    let ids: Vec<&str> = queued
        .iter()
        .filter(|e| e.item.destination == "ops")
        .map(|e| e.item.id.as_str())
        .collect();
    // The signals named by the alerts were saved with them.
    for e in queued.iter().filter(|e| e.item.destination == "ops") {
        let p: serde_json::Value = serde_json::from_str(&e.item.payload).unwrap();
        let sid = p["signal"]["id"].as_str().unwrap();
        assert!(signals.iter().any(|s| s.id == sid), "{sid}");
        assert!(p["signal"]["explanation"]
            .as_str()
            .is_some_and(|x| !x.is_empty()));
        assert!(p["link"]
            .as_str()
            .unwrap()
            .starts_with("https://cs.example.com/v1/accounts/"));
    }
    // A second pass the same day decides nothing new.
    common::pass(&*store, &config).await;
    assert_eq!(
        store
            .outbox(&bellwether_store::OutboxFilter::default(), 1_000)
            .await
            .unwrap()
            .len(),
        24
    );

    let c = common::deliver_all(&store, &config).await;
    assert_eq!((c.delivered, c.parked), (12, 12), "{c:?}");
    {
        let s = seen.lock().unwrap();
        assert_eq!(s.bad_signatures, 0);
        for id in &ids {
            assert_eq!(
                s.attempts.get(*id),
                Some(&2),
                "{id}: refused once, then accepted"
            );
            assert!(s.accepted.contains_key(*id), "{id}");
        }
        assert_eq!(s.accepted.len(), 12);
        verify_with_standardwebhooks(&s.raw);
    }
    let parked = store
        .outbox(
            &bellwether_store::OutboxFilter::state(Some(OutboxState::Parked)),
            100,
        )
        .await
        .unwrap();
    assert!(parked.iter().all(|e| e.item.destination == "old"
        && e.last_error.contains("410")
        && e.last_error.contains("this endpoint was removed")));
    let delivered = store
        .outbox(
            &bellwether_store::OutboxFilter::state(Some(OutboxState::Delivered)),
            100,
        )
        .await
        .unwrap();
    assert!(delivered
        .iter()
        .all(|e| e.attempts == 2 && e.last_error.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_signed_webhooks_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = bellwether_store_sqlite::SqliteStore::open(&dir.path().join("b.db"))
        .await
        .unwrap();
    alerts_reach_signed_webhooks(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_signed_webhooks_on_postgres() {
    let db = bellwether_store_postgres::testing::fresh().await;
    alerts_reach_signed_webhooks(db.store().await).await;
}

/// Verifies `deliveries` with the official `standardwebhooks` package (`tests/clients/verify_webhooks.py`):
/// each under both secrets of the rotation, and a tampered body and a foreign secret refused.
fn verify_with_standardwebhooks(deliveries: &[serde_json::Value]) {
    let dir = tempfile::tempdir().unwrap();
    let report = common::run_check(
        "verify_webhooks.py",
        dir.path(),
        deliveries,
        &[SECRET, OLD],
        "standardwebhooks refused a delivery",
    );
    assert_eq!(report["verified"], deliveries.len() * 2, "{report}");
    assert_eq!(report["refused_tampered"], deliveries.len(), "{report}");
}

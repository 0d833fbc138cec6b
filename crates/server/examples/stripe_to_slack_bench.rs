//! From a Stripe `invoice.payment_failed` to the Slack message (see BENCHMARKS.md): a server on the embedded
//! store holding a simulated book, its outbox worker, and a Slack incoming webhook played on loopback. Each
//! round posts one signed event for an account (over HTTP, as Stripe does) and waits until the Slack peer has
//! the `payment_failure` alert for it; prints p50, p90, p99 and the worst of the latencies.
//!
//! `cargo run --release -p bellwether-server --example stripe_to_slack_bench -- [ACCOUNTS] [EVENTS]`
//!
//! The path measured is the product's own: the webhook acknowledged and stored, the live re-assessment of
//! the account (the re-assessment window, 200 ms by default, included), the signal opened and its alert
//! queued in the same transaction, the worker woken by the pass (as `serve` wires it), its claim and the POST
//! to Slack.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use bellwether_core::Timestamp;
use bellwether_deliver::channels::slack::SlackConfig;
use bellwether_deliver::worker::Worker;
use bellwether_deliver::{Alerts, Channels, DeliveryConfig};
use bellwether_engine::{Clock, Engine};
use bellwether_server::ServerConfig;
use bellwether_store::Store;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "whsec_bench";

/// Posts a signed Stripe event over plain HTTP/1.1; the status line's code.
async fn post_stripe(addr: &str, event: &serde_json::Value) -> u16 {
    let body = event.to_string();
    let sig = bellwether_server::stripe::sign(SECRET, Timestamp::now().0 / 1000, body.as_bytes());
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST /webhooks/stripe HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nStripe-Signature: {sig}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let head = String::from_utf8_lossy(&out);
    head.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let accounts: usize = args.get(1).map_or(2_000, |a| a.parse().unwrap());
    let events: usize = args.get(2).map_or(100, |a| a.parse().unwrap());

    // Slack on loopback: when each message arrived, and its text.
    let got: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
    let app = axum::Router::new().route(
        "/services/T0/B0/bench",
        axum::routing::post({
            let got = got.clone();
            move |body: String| async move {
                got.lock().unwrap().push((Instant::now(), body));
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let slack = format!("http://{}/services/T0/B0/bench", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let delivery = DeliveryConfig {
        min_severity: Some("medium".into()),
        slack: vec![SlackConfig {
            name: "cs-alerts".into(),
            webhook_url: slack,
            channel: None,
            alerts: None,
        }],
        ..Default::default()
    };

    // The book, assessed once before the clock starts.
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("book");
    bellwether_sim::simulate(
        &bellwether_sim::SimConfig {
            accounts,
            seed: 23,
            ..Default::default()
        },
        &book,
        &mut |_| {},
    )
    .unwrap();
    let store = Arc::new(
        bellwether_store_sqlite::SqliteStore::open(&dir.path().join("b.db"))
            .await
            .unwrap(),
    );
    bellwether_ingest::import_dir(&*store, &book, &Default::default())
        .await
        .unwrap();
    let day = bellwether_engine::book_day(&*store, Clock::Live, None)
        .await
        .unwrap()
        .unwrap();
    bellwether_engine::reassess(&*store, &Engine::default(), None, day)
        .await
        .unwrap();
    let open_payment: std::collections::HashSet<String> = store
        .signals(bellwether_store::SignalFilter {
            kind: Some("payment_failure".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.account_id.to_string())
        .collect();
    let targets: Vec<String> = store
        .assessments(None)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.account_id.to_string())
        .filter(|a| !open_payment.contains(a))
        .take(events)
        .collect();
    assert_eq!(targets.len(), events, "not enough current accounts");

    // The server, its worker as `serve` runs it.
    let worker = Worker::new(
        store.clone(),
        Channels::from_config(&delivery).unwrap(),
        "bench".into(),
    );
    let engine = Engine {
        alerting: Some(Arc::new(
            Alerts::new(delivery.clone(), Default::default()).waking(worker.waker()),
        )),
        ..Engine::default()
    };
    let (state, tasks) = bellwether_server::start(
        store.clone(),
        engine,
        ServerConfig {
            stripe_webhook_secret: Some(SECRET.into()),
            ..ServerConfig::default()
        },
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        bellwether_server::serve(listener, state, tasks, std::future::pending())
            .await
            .unwrap()
    });
    worker.spawn();

    let mut latencies = Vec::new();
    for (n, account) in targets.iter().enumerate() {
        let now = Timestamp::now().0 / 1000;
        let event = serde_json::json!({
            "id": format!("evt_bench_{n}"), "object": "event", "type": "invoice.payment_failed",
            "created": now, "livemode": false,
            "data": {"object": {"id": format!("in_{n}"), "object": "invoice", "customer": format!("cus_{n}"),
                                "currency": "usd", "amount_due": 120_000,
                                "metadata": {"account_id": account}}},
        });
        let before = got.lock().unwrap().len();
        let t0 = Instant::now();
        assert_eq!(post_stripe(&addr, &event).await, 200);
        let needle = format!("Payment failure on {account} ");
        let arrived = loop {
            let hit = got.lock().unwrap()[before..]
                .iter()
                .find(|(_, b)| b.contains(&needle))
                .map(|(t, _)| *t);
            if let Some(t) = hit {
                break t;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "no alert for {account} within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        latencies.push(arrived.duration_since(t0).as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "accounts {accounts}, events {events}: Stripe invoice.payment_failed → Slack message, ms: p50 {:.0}, p90 {:.0}, p99 {:.0}, max {:.0}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99),
        latencies.last().unwrap()
    );
}

//! Alerts from a pass to a Slack incoming webhook played on loopback: each arrives as a Block Kit message
//! that the official `slack_sdk` package parses into its block models, validates and serialises back
//! unchanged; a 429 with `Retry-After` is retried; a webhook Slack has revoked (404 `no_service`) is parked
//! with Slack's reason. The Slack app's clearing of a message Slack will no longer edit is posted anew; a retry
//! of a message Slack took but whose answer was lost finds it in the channel's history instead of posting it
//! twice. A pass that queues alerts wakes its process's worker.

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

/// The Slack app's clearing of an alert whose message Slack will no longer edit (`chat.update` answers
/// `message_not_found`, as for a deleted message) is posted as a new message, carrying the entry's id; any
/// other refusal of the update is parked with Slack's error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clearing_slack_will_not_edit_is_posted_anew() {
    use bellwether_core::Timestamp;
    use bellwether_deliver::channels::Channel;
    use bellwether_store::{Delivery, OutboxEntry, OutboxItem};

    let calls: Arc<Mutex<Vec<(String, serde_json::Value)>>> = Arc::default();
    let api = |method: &'static str, calls: Arc<Mutex<Vec<(String, serde_json::Value)>>>| {
        move |body: String| async move {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            calls.lock().unwrap().push((method.to_string(), v.clone()));
            let answer = match (method, v["ts"].as_str()) {
                ("chat.update", Some("1700000000.000001")) => {
                    serde_json::json!({"ok": false, "error": "message_not_found"})
                }
                ("chat.update", _) => serde_json::json!({"ok": false, "error": "not_in_channel"}),
                _ => serde_json::json!({"ok": true, "channel": "D1", "ts": "1700000000.000009"}),
            };
            answer.to_string()
        }
    };
    let app = axum::Router::new()
        .route(
            "/api/chat.postMessage",
            axum::routing::post(api("chat.postMessage", calls.clone())),
        )
        .route(
            "/api/chat.update",
            axum::routing::post(api("chat.update", calls.clone())),
        );
    let slack = app_on_loopback(app).await;
    let entry = |id: &str, kind: &str, reference: Option<&str>| {
        OutboxEntry {
        item: OutboxItem {
            id: id.into(),
            channel: "slack".into(),
            destination: "user:U1".into(),
            account_id: None,
            recipient: None,
            kind: kind.into(),
            payload: serde_json::json!({
                "type": if kind == "alert_closed" { "alert.closed" } else { "alert.opened" },
                "as_of": "2026-12-01",
                "signal": {"id": "s1", "account_id": "acct-1", "kind": "payment_failure", "severity": "high",
                           "explanation": "The card was declined", "detected_at": "2026-12-01"},
            })
            .to_string(),
            created_at: Timestamp(0),
        },
        state: bellwether_store::OutboxState::Delivered,
        attempts: 1,
        next_attempt_at: Timestamp(0),
        last_error: String::new(),
        delivered_at: Some(Timestamp(0)),
        reference: reference.map(str::to_string),
    }
    };
    let gone = entry(
        "alert:s1:opened:slack:user:U1",
        "alert_opened",
        Some("D1/1700000000.000001"),
    );
    let closing = entry("alert:s1:closed:slack:user:U1", "alert_closed", None);
    assert_eq!(
        slack.deliver(&closing, Some(&gone)).await,
        Delivery::Delivered {
            reference: Some("D1/1700000000.000009".into())
        }
    );
    {
        let c = calls.lock().unwrap();
        let methods: Vec<&str> = c.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(methods, ["chat.update", "chat.postMessage"]);
        assert_eq!(c[1].1["channel"], "U1");
        assert_eq!(
            c[1].1["metadata"]["event_payload"]["id"],
            "alert:s1:closed:slack:user:U1"
        );
    }
    let elsewhere = entry(
        "alert:s2:opened:slack:user:U1",
        "alert_opened",
        Some("D1/1700000000.000002"),
    );
    match slack.deliver(&closing, Some(&elsewhere)).await {
        Delivery::Parked { error } => assert!(error.contains("not_in_channel"), "{error}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        calls.lock().unwrap().len(),
        3,
        "no new message for another refusal"
    );
}

/// A pass that queues alerts wakes the outbox worker of its process: with an idle wait of an hour, the
/// alerts still reach the Slack webhook on loopback at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_that_queues_alerts_wakes_the_worker() {
    use bellwether_deliver::worker::Worker;
    use bellwether_deliver::{Alerts, Channels};
    use bellwether_engine::{Clock, Engine};

    let bodies: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let app = axum::Router::new().route(
        "/services/T0/B0/ok",
        axum::routing::post({
            let bodies = bodies.clone();
            move |body: String| async move {
                bodies
                    .lock()
                    .unwrap()
                    .push(serde_json::from_str(&body).unwrap());
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let config = DeliveryConfig {
        min_severity: Some("high".into()),
        max_alerts_per_pass: Some(5),
        slack: vec![SlackConfig {
            name: "cs".into(),
            webhook_url: format!("http://127.0.0.1:{port}/services/T0/B0/ok"),
            channel: None,
            alerts: None,
        }],
        ..Default::default()
    };
    let (_dir, store) = common::embedded().await;
    let store = common::imported_book(store).await;
    let mut worker = Worker::new(
        store.clone(),
        Channels::from_config(&config).unwrap(),
        "w1".into(),
    );
    worker.idle = std::time::Duration::from_secs(3600);
    let engine = Engine {
        alerting: Some(Arc::new(
            Alerts::new(config.clone(), Default::default()).waking(worker.waker()),
        )),
        ..Engine::default()
    };
    let delivering = worker.spawn();
    // The worker has looked once and found nothing; it now waits its hour unless woken.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let day = bellwether_engine::book_day(&*store, Clock::Live, None)
        .await
        .unwrap()
        .unwrap();
    bellwether_engine::reassess(&*store, &engine, None, day)
        .await
        .unwrap();
    let queued = store.outbox_counts().await.unwrap();
    let want = (queued.pending + queued.delivered) as usize;
    assert!(want >= 1, "the pass queued alerts: {queued:?}");
    let started = std::time::Instant::now();
    while bodies.lock().unwrap().len() < want {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the worker was not woken: {:?}",
            store.outbox_counts().await.unwrap()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(store.outbox_counts().await.unwrap().pending, 0);
    delivering.abort();
}

/// The Slack Web API on loopback, keeping what it is posted: `chat.postMessage` stores each message with its
/// metadata in its DM channel (`U1` → `D1`) and, while `lose` is set, answers 503 after storing it, as when
/// Slack took a message but its answer never arrived; `conversations.open` and `conversations.history` (form
/// bodies, bearer token, `oldest`, `include_all_metadata`, `cursor` pages of two) read them back as Slack does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_finds_the_message_an_earlier_attempt_posted_instead_of_posting_it_twice() {
    use axum::extract::State;
    use bellwether_core::Timestamp;
    use bellwether_deliver::channels::Channel;
    use bellwether_store::{Delivery, OutboxEntry, OutboxItem};
    use std::sync::atomic::{AtomicBool, Ordering};

    #[derive(Clone, Default)]
    struct Peer {
        messages: Arc<Mutex<Vec<serde_json::Value>>>,
        calls: Arc<Mutex<Vec<String>>>,
        lose: Arc<AtomicBool>,
    }
    fn form(body: &str) -> std::collections::HashMap<String, String> {
        form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect()
    }
    fn authorised(h: &HeaderMap) -> bool {
        h.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer xoxb-1")
    }
    /// Slack's read methods take form bodies, not JSON.
    fn formed(h: &HeaderMap) -> bool {
        h.get("content-type").and_then(|v| v.to_str().ok())
            == Some("application/x-www-form-urlencoded")
    }
    async fn post(State(p): State<Peer>, h: HeaderMap, body: String) -> (StatusCode, String) {
        assert!(authorised(&h));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        p.calls.lock().unwrap().push("chat.postMessage".into());
        let mut m = p.messages.lock().unwrap();
        let ts = format!("1800000000.{:06}", m.len() + 1);
        let channel = match v["channel"].as_str().unwrap() {
            "U1" => "D1",
            other => other,
        };
        m.push(
            serde_json::json!({"type": "message", "channel": channel, "text": v["text"], "ts": ts,
                                  "metadata": v["metadata"]}),
        );
        if p.lose.load(Ordering::SeqCst) {
            return (StatusCode::SERVICE_UNAVAILABLE, "upstream timeout".into());
        }
        let answer = serde_json::json!({"ok": true, "channel": channel, "ts": ts});
        (StatusCode::OK, answer.to_string())
    }
    async fn open(State(p): State<Peer>, h: HeaderMap, body: String) -> String {
        assert!(authorised(&h) && formed(&h));
        p.calls.lock().unwrap().push("conversations.open".into());
        let f = form(&body);
        let id = format!("D{}", f["users"].trim_start_matches('U'));
        serde_json::json!({"ok": true, "channel": {"id": id}}).to_string()
    }
    async fn history(State(p): State<Peer>, h: HeaderMap, body: String) -> String {
        assert!(authorised(&h) && formed(&h));
        p.calls.lock().unwrap().push("conversations.history".into());
        let f = form(&body);
        let oldest: f64 = f["oldest"].parse().unwrap();
        let all = f.get("include_all_metadata").map(String::as_str) == Some("true");
        // Newest first, two a page.
        let mut found: Vec<serde_json::Value> = p
            .messages
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m["channel"] == f["channel"].as_str())
            .filter(|m| m["ts"].as_str().unwrap().parse::<f64>().unwrap() > oldest)
            .cloned()
            .map(|mut m| {
                if !all {
                    m.as_object_mut().unwrap().remove("metadata");
                }
                m
            })
            .collect();
        found.reverse();
        let from: usize = f.get("cursor").map_or(0, |c| c.parse().unwrap());
        let page: Vec<_> = found.iter().skip(from).take(2).cloned().collect();
        let more = found.len() > from + 2;
        serde_json::json!({"ok": true, "messages": page, "has_more": more,
                           "response_metadata": {"next_cursor": if more { (from + 2).to_string() } else { String::new() }}})
        .to_string()
    }
    let peer = Peer::default();
    let app = axum::Router::new()
        .route("/api/chat.postMessage", axum::routing::post(post))
        .route("/api/conversations.open", axum::routing::post(open))
        .route("/api/conversations.history", axum::routing::post(history))
        .with_state(peer.clone());
    let slack = app_on_loopback(app).await;
    let entry = |signal: &str, attempts: i64| {
        OutboxEntry {
        item: OutboxItem {
            id: format!("alert:{signal}:opened:slack:user:U1"),
            channel: "slack".into(),
            destination: "user:U1".into(),
            account_id: None,
            recipient: None,
            kind: "alert_opened".into(),
            payload: serde_json::json!({
                "type": "alert.opened",
                "as_of": "2026-12-01",
                "signal": {"id": signal, "account_id": "acct-1", "kind": "payment_failure", "severity": "high",
                           "explanation": "The card was declined", "detected_at": "2026-12-01"},
            })
            .to_string(),
            created_at: Timestamp(1_700_000_000_000),
        },
        state: bellwether_store::OutboxState::Pending,
        attempts,
        next_attempt_at: Timestamp(0),
        last_error: String::new(),
        delivered_at: None,
        reference: None,
    }
    };

    // Slack takes the first attempt, but its answer is lost: the outbox retries it.
    peer.lose.store(true, Ordering::SeqCst);
    let first = slack.deliver(&entry("s1", 1), None).await;
    assert!(matches!(first, Delivery::Retry { .. }), "{first:?}");
    peer.lose.store(false, Ordering::SeqCst);
    // Other messages posted since, so the look-up pages through the history.
    for s in ["s2", "s3", "s4"] {
        assert!(matches!(
            slack.deliver(&entry(s, 1), None).await,
            Delivery::Delivered { .. }
        ));
    }
    peer.calls.lock().unwrap().clear();
    // The retry finds the message the first attempt posted, and posts nothing.
    assert_eq!(
        slack.deliver(&entry("s1", 2), None).await,
        Delivery::Delivered {
            reference: Some("D1/1800000000.000001".into())
        }
    );
    assert_eq!(peer.messages.lock().unwrap().len(), 4, "s1 shows once");
    assert_eq!(
        *peer.calls.lock().unwrap(),
        [
            "conversations.open",
            "conversations.history",
            "conversations.history"
        ]
    );
    // A retry of a message Slack never took looks, finds nothing, and posts it.
    peer.calls.lock().unwrap().clear();
    let never = slack.deliver(&entry("s5", 3), None).await;
    assert_eq!(
        never,
        Delivery::Delivered {
            reference: Some("D1/1800000000.000005".into())
        }
    );
    assert_eq!(
        peer.calls.lock().unwrap().last().map(String::as_str),
        Some("chat.postMessage")
    );
    assert_eq!(peer.messages.lock().unwrap().len(), 5);
}

/// The Slack channel of an app whose Web API is `app` (its routes under `/api`), served on loopback, with the
/// bot token `xoxb-1`.
async fn app_on_loopback(app: axum::Router) -> bellwether_deliver::channels::slack::Slack {
    use bellwether_deliver::channels::slack::{Slack, SlackAppConfig};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Slack::new(
        &[],
        Some(&SlackAppConfig {
            bot_token: "xoxb-1".into(),
            api_url: format!("http://127.0.0.1:{port}/api"),
        }),
    )
    .unwrap()
}

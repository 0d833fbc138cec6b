//! Whole-request errors and key scopes, driven through the router without a socket.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bellwether_core::Timestamp;
use bellwether_engine::Engine;
use bellwether_server::ServerConfig;
use bellwether_store::{LiveStore, Store};
use common::{call, get, post, post_json, TestServer};
use std::sync::Arc;
use tower::ServiceExt;

/// Posts JSON with a key and checks that it is answered 200 with one message accepted.
async fn accept_one(server: &TestServer, path: &str, key: &str, body: impl Into<Body>) {
    let (s, b) = call(server, post(path, Some(key), "application/json", body)).await;
    assert_eq!(
        (s, b["accepted"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{path}: {b}"
    );
}

const BATCH: &str = r#"{"batch":[{"type":"track","userId":"u","event":"x","context":{"groupId":"a1"},"messageId":"m1"}]}"#;

#[tokio::test]
async fn keys_scopes_and_whole_request_errors() {
    let server = TestServer::start(ServerConfig::default()).await;
    let (ingest, read) = (server.ingest_key.clone(), server.read_key.clone());

    let (s, _) = call(&server, get("/healthz", None)).await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = call(&server, get("/metrics", None)).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    assert_eq!(body["link"], "docs/errors.md#unauthorized");
    let (s, body) = call(&server, get("/v1/accounts", Some(&ingest))).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (s, body) = call(
        &server,
        post("/v1/batch", Some(&read), "application/json", BATCH),
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (s, body) = call(
        &server,
        post(
            "/v1/batch",
            Some(&ingest),
            "application/json",
            r#"{"batch": 3}"#,
        ),
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str(), body["path"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_json"), Some("batch"))
    );
    let big = format!(r#"{{"batch":[{{"p":"{}"}}]}}"#, "a".repeat(600 * 1024));
    let (s, body) = call(
        &server,
        post("/v1/batch", Some(&ingest), "application/json", big),
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
    let (s, body) = call(
        &server,
        post(
            "/v1/track",
            Some(&ingest),
            "application/json",
            r#"{"event":"x"}"#,
        ),
    )
    .await;
    assert_eq!(
        (s, body["path"].as_str()),
        (StatusCode::BAD_REQUEST, Some("userId"))
    );

    // A good batch with a bad message: 200, the bad one listed.
    let mixed = r#"{"batch":[{"type":"track","userId":"u","event":"x","context":{"groupId":"a1"},"messageId":"m1"},{"type":"nope","userId":"u","messageId":"m2"}]}"#;
    let (s, body) = call(
        &server,
        post("/v1/batch", Some(&ingest), "application/json", mixed),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["accepted"], 1);
    assert_eq!(body["rejected"][0]["index"], 1);
    assert_eq!(body["rejected"][0]["code"], "invalid_field");
    assert_eq!(body["rejected"][0]["path"], "batch[1].type");
    let (_, body) = call(
        &server,
        post("/v1/batch", Some(&ingest), "application/json", mixed),
    )
    .await;
    assert_eq!(
        (body["accepted"].as_u64(), body["duplicates"].as_u64()),
        (Some(0), Some(1))
    );

    // writeKey in the body instead of a header.
    let with_key = format!(
        r#"{{"writeKey":"{ingest}","batch":[{{"type":"track","userId":"u","event":"x","context":{{"groupId":"a1"}},"messageId":"m3"}}]}}"#
    );
    let (s, body) = call(
        &server,
        post("/v1/batch", None, "application/json", with_key),
    )
    .await;
    assert_eq!((s, body["accepted"].as_u64()), (StatusCode::OK, Some(1)));

    // A revoked key is refused.
    let id = server
        .store
        .keys()
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.scope == bellwether_store::KeyScope::Ingest)
        .unwrap()
        .id;
    assert!(server
        .store
        .revoke_key(&id, Timestamp::now())
        .await
        .unwrap());
    let (s, _) = call(
        &server,
        post("/v1/batch", Some(&ingest), "application/json", BATCH),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    server.state.settle().await;
    let (s, body) = call(&server, get("/v1/accounts/a1", Some(&read))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body["assessment"]["health"].is_number(), "{body}");
    assert_eq!(body["predictions"], serde_json::json!([]), "no model yet");
    // The account view says who ranks the worklist, and why.
    assert_eq!(body["model"]["in_charge"], "rules", "{body}");
    assert!(
        body["model"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("no model is trained yet")),
        "{body}"
    );
    // A model's prediction for the day is served with its drivers.
    let day: bellwether_core::Day =
        serde_json::from_value(body["assessment"]["as_of"].clone()).unwrap();
    let prediction = bellwether_core::model::Prediction {
        account_id: bellwether_core::AccountId::from("a1"),
        as_of: day,
        target: "churn_renewal".into(),
        probability: 0.31,
        base_probability: 0.1,
        model_version: 1,
        drivers: vec![bellwether_core::model::Driver {
            reason: "usage".into(),
            points: 21.0,
            text: "product usage fell 40% (+21 points of churn risk)".into(),
        }],
    };
    server
        .state
        .store
        .save_predictions(
            &[prediction],
            &[bellwether_store::Ranking {
                account_id: "a1".into(),
                as_of: day,
                churn_probability: 0.31,
                priority: 0.31,
                impact: Default::default(),
                reason: "product usage fell 40%".into(),
            }],
        )
        .await
        .unwrap();
    let (_, body) = call(&server, get("/v1/accounts/a1", Some(&read))).await;
    assert_eq!(body["predictions"][0]["probability"], 0.31, "{body}");
    assert_eq!(body["assessment"]["churn_probability"], 0.31, "{body}");
    assert_eq!(body["predictions"][0]["drivers"][0]["points"], 21.0);
    // An earlier day's assessments are served by ?day=; the latest day stays the default.
    let mut earlier = server.store.assessments(Some(day)).await.unwrap().remove(0);
    earlier.as_of = day.plus(-30);
    earlier.health = 12.5;
    server
        .store
        .save_assessments(earlier.as_of, false, &[earlier], &[])
        .await
        .unwrap();
    let (s, body) = call(
        &server,
        get(&format!("/v1/accounts?day={}", day.plus(-30)), Some(&read)),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["as_of"], day.plus(-30).to_string());
    assert_eq!(body["accounts"][0]["health"], 12.5, "{body}");
    let (_, body) = call(&server, get("/v1/accounts", Some(&read))).await;
    assert_eq!(body["as_of"], day.to_string());
    let (s, body) = call(&server, get("/v1/accounts?day=someday", Some(&read))).await;
    assert_eq!(
        (s, body["code"].as_str(), body["path"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("invalid_argument"),
            Some("day")
        ),
        "{body}"
    );
    let (s, body) = call(&server, get("/v1/accounts/nobody", Some(&read))).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("account_not_found"))
    );
    let (s, body) = call(&server, get("/v1/accounts/a1/series", Some(&read))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["series"]["event:x"].as_array().unwrap().len(), 1);
    let (s, _) = call(&server, get("/v1/signals", Some(&read))).await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = call(&server, get("/nowhere", Some(&read))).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("route_not_found"))
    );
    server.stop().await;
}

#[tokio::test]
async fn interactions_and_zendesk_tickets_are_stored_and_bad_records_named() {
    let server = TestServer::start(ServerConfig::default()).await;
    let ingest = server.ingest_key.clone();
    let body = r#"{"interactions":[
        {"id":"i1","account_id":"a1","timestamp":"2026-01-10T15:00:00Z","kind":"qbr_invite","response":"declined"},
        {"id":"i2","account_id":"a1","timestamp":"2026-01-11","kind":"nps","score":4},
        {"id":"i3","account_id":"a1","timestamp":"soon","kind":"meeting"}]}"#;
    let (s, b) = call(
        &server,
        post("/v1/interactions", Some(&ingest), "application/json", body),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["accepted"], 2);
    assert_eq!(b["rejected"][0]["path"], "interactions[2].timestamp");
    // Zendesk's ticket JSON, with the account added by the trigger's body template.
    let ticket = r#"{"account_id":"a1","ticket":{"id":35436,"subject":"Export keeps failing","description":"This is terrible, the export has failed for a week.",
        "status":"open","priority":"urgent","requester_id":20978392,"organization_id":509974,"created_at":"2026-01-12T09:00:00Z",
        "updated_at":"2026-01-12T10:00:00Z","tags":["enterprise","escalated"],"satisfaction_rating":{"score":"bad"}}}"#;
    accept_one(&server, "/webhooks/zendesk", &ingest, ticket).await;
    let (_, b) = call(
        &server,
        post(
            "/webhooks/zendesk",
            Some(&ingest),
            "application/json",
            ticket,
        ),
    )
    .await;
    assert_eq!(b["accepted"], 1);
    use bellwether_store::Store;
    let id = bellwether_core::AccountId("a1".into());
    let book = server
        .store
        .load_book(Some(std::slice::from_ref(&id)))
        .await
        .unwrap();
    let facts = &book.accounts[&id];
    assert_eq!(facts.interactions.len(), 2);
    assert_eq!(
        facts.tickets.len(),
        1,
        "a resent ticket is upserted, not doubled"
    );
    let t = &facts.tickets[0];
    assert!(t.escalated);
    assert_eq!(t.csat, Some(1.0));
    assert!(
        t.sentiment.is_some_and(|s| s < 0.0),
        "ticket text is scored: {:?}",
        t.sentiment
    );
    server.stop().await;
}

#[tokio::test]
async fn zendesk_trigger_bodies_are_stored_and_unstorable_tickets_answered_4xx() {
    // Zendesk's long-form dates carry no offset: they are read in `[import] time_zone`.
    let server = TestServer::start(ServerConfig {
        time_reading: bellwether_core::time::TimeReading {
            time_zone: bellwether_core::time::UtcOffset(60),
            ..Default::default()
        },
        ..ServerConfig::default()
    })
    .await;
    let ingest = server.ingest_key.clone();
    // What the documented trigger body renders for an organization without an external id and a ticket
    // without a priority.
    let ticket = r#"{"account_id": "",
        "ticket": {"id": "4711", "subject": "Export failing", "description": "It fails.", "status": "Solved",
                   "priority": "-", "tags": "vip escalated", "requester_id": "20978392",
                   "organization_id": "509974", "created_at": "November 30, 2026 13:00",
                   "updated_at": "November 30, 2026 15:30"}}"#;
    accept_one(&server, "/webhooks/zendesk", &ingest, ticket).await;
    let id = bellwether_core::AccountId("509974".into());
    let book = server
        .store
        .load_book(Some(std::slice::from_ref(&id)))
        .await
        .unwrap();
    let t = &book.accounts[&id].tickets[0];
    assert_eq!(t.id, "4711");
    assert_eq!(t.opened_at.to_string(), "2026-11-30T12:00:00Z");
    assert_eq!(
        t.closed_at.map(|c| c.to_string()).as_deref(),
        Some("2026-11-30T14:30:00Z")
    );
    assert_eq!(t.priority, bellwether_core::model::Priority::Normal);
    assert!(t.escalated);
    // A ticket that cannot be stored is a 4xx naming its field, not a 200 Zendesk would take as delivered.
    let bad = r#"{"ticket": {"id": "4712", "status": "open", "organization_id": "509974",
        "created_at": "30/11/2026 13:00"}}"#;
    let (s, b) = call(
        &server,
        post("/webhooks/zendesk", Some(&ingest), "application/json", bad),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["code"], "invalid_field");
    assert_eq!(b["path"], "tickets[0].opened_at");
    let msg = b["message"].as_str().unwrap();
    assert!(
        msg.contains("'30/11/2026 13:00'") && msg.contains("day_order"),
        "{msg}"
    );
    let no_account =
        r#"{"account_id": "", "ticket": {"id": "4713", "created_at": "2026-11-30T13:00:00Z"}}"#;
    let (s, b) = call(
        &server,
        post(
            "/webhooks/zendesk",
            Some(&ingest),
            "application/json",
            no_account,
        ),
    )
    .await;
    assert_eq!(
        (s, b["path"].as_str()),
        (StatusCode::BAD_REQUEST, Some("tickets[0].account_id")),
        "{b}"
    );
    // The same rule on the twin record route.
    let (s, b) = call(
        &server,
        post(
            "/v1/interactions",
            Some(&ingest),
            "application/json",
            r#"{"interactions":[{"id":"i9","account_id":"a1","timestamp":"soon","kind":"meeting"}]}"#,
        ),
    )
    .await;
    assert_eq!(
        (s, b["path"].as_str()),
        (StatusCode::BAD_REQUEST, Some("interactions[0].timestamp")),
        "{b}"
    );
    server.stop().await;
}

#[tokio::test]
async fn segment_webhook_destination_checks_its_shared_secret() {
    use hmac::{Hmac, Mac};
    let server = TestServer::start(ServerConfig {
        segment_shared_secret: Some("s3cret".into()),
        ..ServerConfig::default()
    })
    .await;
    let event = r#"{"type":"track","userId":"u9","event":"Signed Up","context":{"groupId":"a9"},"messageId":"w1","timestamp":"2026-01-15T10:00:00Z"}"#;
    let sign = |secret: &str| {
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(event.as_bytes());
        bellwether_server::auth::hex(&mac.finalize().into_bytes())
    };
    let req = |sig: String| {
        Request::post("/webhooks/segment")
            .header("content-type", "application/json")
            .header("x-signature", sig)
            .body(Body::from(event))
            .unwrap()
    };
    let (s, b) = call(&server, req(sign("wrong"))).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_signature"))
    );
    let (s, b) = call(&server, req(sign("s3cret"))).await;
    assert_eq!(
        (s, b["accepted"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{b}"
    );
    let (_, b) = call(&server, req(sign("s3cret"))).await;
    assert_eq!(b["duplicates"], 1);
    // Without a signature, an ingest key is needed.
    let (s, _) = call(
        &server,
        post("/webhooks/segment", None, "application/json", event),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    server.state.settle().await;
    assert_eq!(
        server
            .point(
                "a9",
                "event:Signed Up",
                bellwether_core::Day::ymd(2026, 1, 15)
            )
            .await,
        1.0
    );
    server.stop().await;
}

#[tokio::test]
async fn stripe_customers_without_metadata_are_mapped_by_an_admin() {
    let secret = "whsec_map_test";
    let server = TestServer::start(ServerConfig {
        stripe_webhook_secret: Some(secret.into()),
        ..ServerConfig::default()
    })
    .await;
    let (admin, record) =
        bellwether_server::auth::new_key(bellwether_store::KeyScope::Admin, "ops").unwrap();
    server.store.create_key(&record).await.unwrap();
    let event = r#"{"id":"evt_9","object":"event","type":"invoice.paid","created":1768471200,"data":{"object":{"id":"in_9","object":"invoice","customer":"cus_9","currency":"eur","amount_paid":4200}}}"#;
    let now = Timestamp::now().0 / 1000;
    let req = Request::post("/webhooks/stripe")
        .header("content-type", "application/json")
        .header(
            "stripe-signature",
            bellwether_server::stripe::sign(secret, now, event.as_bytes()),
        )
        .body(Body::from(event))
        .unwrap();
    let (s, b) = call(&server, req).await;
    assert_eq!(
        (s, b["outcome"].as_str()),
        (StatusCode::OK, Some("pending")),
        "{b}"
    );
    let put = |key: &str| {
        Request::put("/v1/stripe/customers/cus_9")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {key}"))
            .body(Body::from(r#"{"account_id":"acct-9"}"#))
            .unwrap()
    };
    let (s, _) = call(&server, put(&server.ingest_key.clone())).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = call(&server, put(&admin)).await;
    assert_eq!(
        (s, b["events_stored"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{b}"
    );
    use bellwether_store::Store;
    let id = bellwether_core::AccountId("acct-9".into());
    let book = server
        .store
        .load_book(Some(std::slice::from_ref(&id)))
        .await
        .unwrap();
    let paid = &book.accounts[&id].billing[0];
    assert_eq!(
        paid.amount.map(|m| (m.minor, m.currency.to_string())),
        Some((4200, "EUR".into()))
    );
    assert_eq!(server.store.pending_count().await.unwrap(), 0);
    server.stop().await;
}

#[tokio::test]
async fn acknowledged_messages_left_in_the_inbox_are_applied_once_at_the_next_start() {
    use bellwether_store::InboxMessage;
    use bellwether_store_sqlite::SqliteStore;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bellwether.db");
    let day = bellwether_core::Day::ymd(2026, 3, 2);
    {
        // A server acknowledged these and stopped before applying them: they are only in the inbox.
        let store = SqliteStore::open(&path).await.unwrap();
        let msgs = [
            (3, r#"{"type":"group","userId":"u1","groupId":"acme","messageId":"g1","timestamp":"2026-03-01T09:00:00Z"}"#),
            // From /v1/track: the endpoint gave the type, the message does not.
            (1, r#"{"userId":"u1","event":"Report Run","messageId":"t1","timestamp":"2026-03-02T09:00:00Z"}"#),
            (1, r#"{"userId":"u2","event":"Report Run","messageId":"t2","timestamp":"2026-03-02T10:00:00Z","context":{"groupId":"acme"}}"#),
        ]
        .map(|(kind, payload)| InboxMessage {
            id: serde_json::from_str::<serde_json::Value>(payload).unwrap()["messageId"]
                .as_str()
                .unwrap()
                .to_string(),
            kind,
            payload: payload.to_string(),
        });
        let (fresh, seq) = store
            .accept("segment", Timestamp(0), msgs.to_vec())
            .await
            .unwrap();
        assert_eq!((fresh, seq.is_some()), (vec![true; 3], true));
        // A resend is known at once, and nothing new joins the inbox.
        let (fresh, seq) = store
            .accept("segment", Timestamp(0), msgs[1..].to_vec())
            .await
            .unwrap();
        assert_eq!((fresh, seq), (vec![false, false], None));
        assert_eq!(store.inbox_count().await.unwrap(), 3);
    }
    let store = Arc::new(SqliteStore::open(&path).await.unwrap());
    let (state, tasks) =
        bellwether_server::start(store.clone(), Engine::default(), ServerConfig::default())
            .await
            .unwrap();
    // The applier starts on the inbox without being asked.
    for _ in 0..200 {
        if store.inbox_count().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(store.inbox_count().await.unwrap(), 0);
    state.settle().await;
    let series = store.load_series(None).await.unwrap();
    let acme = &series
        .iter()
        .find(|(a, _)| a.as_str() == "acme")
        .expect("acme has series")
        .1;
    let at = |m: &str| acme.get(m).map_or(0.0, |s| s.sum(day, day.plus(1)));
    assert_eq!(at("event:Report Run"), 2.0);
    assert_eq!(at("users:Report Run"), 2.0);
    assert_eq!(at("active_users"), 2.0);
    drop(state);
    drop(tasks);
}

#[tokio::test]
async fn a_typeless_track_waits_for_its_users_group_and_is_then_counted() {
    let server = TestServer::start(ServerConfig::default()).await;
    let key = server.ingest_key.clone();
    let track = r#"{"userId":"late","event":"Signed In","messageId":"l1","timestamp":"2026-04-01T08:00:00Z"}"#;
    accept_one(&server, "/v1/track", &key, track).await;
    server.state.settle().await;
    assert_eq!(server.store.pending_count().await.unwrap(), 1);
    let group = r#"{"userId":"late","groupId":"globex","messageId":"l2","timestamp":"2026-04-01T07:00:00Z"}"#;
    let (s, _) = call(
        &server,
        post("/v1/group", Some(&key), "application/json", group),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    server.state.settle().await;
    assert_eq!(server.store.pending_count().await.unwrap(), 0);
    assert_eq!(
        server
            .point(
                "globex",
                "event:Signed In",
                bellwether_core::Day::ymd(2026, 4, 1)
            )
            .await,
        1.0
    );
    server.stop().await;
}

#[tokio::test]
async fn a_full_inbox_refuses_tracking_with_retry_after_and_stores_nothing() {
    // The applier reads the backlog from the store when it takes its lease and when idle for a poll: with
    // the lease taken and a poll of an hour, the backlog set below stays as set.
    let server = TestServer::start(ServerConfig {
        max_inbox_messages: 1_000,
        applier_poll: std::time::Duration::from_secs(3_600),
        ..ServerConfig::default()
    })
    .await;
    let started = std::time::Instant::now();
    while !server
        .state
        .metrics
        .applying
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the applier took no lease"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let key = server.ingest_key.clone();
    let batch = r#"{"batch":[{"type":"track","userId":"u","event":"x","context":{"groupId":"a1"},"messageId":"m1","timestamp":"2026-05-04T10:00:00Z"}]}"#;
    let depth = &server.state.metrics.inbox_depth;
    // As if 1,000 acknowledged messages were still waiting for the applier.
    depth.fetch_add(1_000, std::sync::atomic::Ordering::Relaxed);
    let resp = bellwether_server::app(server.state.clone())
        .oneshot(post("/v1/batch", Some(&key), "application/json", batch))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let b: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(b["code"], "ingest_backlog", "{b}");
    assert!(
        b["message"].as_str().unwrap().contains("1000 acknowledged"),
        "{b}"
    );
    assert_eq!(server.store.inbox_count().await.unwrap(), 0);
    // Once the backlog is applied, the same batch is taken as new: nothing of it was kept.
    depth.fetch_sub(1_000, std::sync::atomic::Ordering::Relaxed);
    let (s, b) = call(
        &server,
        post("/v1/batch", Some(&key), "application/json", batch),
    )
    .await;
    assert_eq!(
        (s, b["accepted"].as_u64(), b["duplicates"].as_u64()),
        (StatusCode::OK, Some(1), Some(0)),
        "{b}"
    );
    server.state.settle().await;
    assert_eq!(
        server
            .point("a1", "event:x", bellwether_core::Day::ymd(2026, 5, 4))
            .await,
        1.0
    );
    server.stop().await;
}

#[tokio::test]
async fn a_batch_sent_at_corrects_the_clock_of_its_device() {
    let server = TestServer::start(ServerConfig::default()).await;
    let key = server.ingest_key.clone();
    let bad = r#"{"batch":[{"type":"track","userId":"u","event":"x","context":{"groupId":"a1"},"messageId":"m1"}],"sentAt":"soon"}"#;
    let (s, b) = call(
        &server,
        post("/v1/batch", Some(&key), "application/json", bad),
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str(), b["path"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("invalid_field"),
            Some("sentAt")
        ),
        "{b}"
    );
    // The device's clock runs 3 days slow: its "sent now" is 3 days behind the server's, so an event it dates
    // an hour before sending happened an hour before now.
    let now = Timestamp::now();
    let device = |t: Timestamp| {
        let d = t.0 - 3 * bellwether_core::time::MS_PER_DAY;
        Timestamp(d).to_string()
    };
    let event_at = Timestamp(now.0 - 3_600_000);
    let body = format!(
        r#"{{"batch":[{{"type":"track","userId":"u","event":"x","context":{{"groupId":"a1"}},"messageId":"m2","timestamp":"{}"}}],"sentAt":"{}"}}"#,
        device(event_at),
        device(now)
    );
    accept_one(&server, "/v1/batch", &key, body).await;
    server.state.settle().await;
    // Counted on the day it happened by the server's clock, not 3 days earlier.
    assert_eq!(server.point("a1", "event:x", event_at.day()).await, 1.0);
    assert_eq!(
        server
            .point(
                "a1",
                "event:x",
                Timestamp(event_at.0 - 3 * bellwether_core::time::MS_PER_DAY).day()
            )
            .await,
        0.0
    );
    server.stop().await;
}

fn ranked(account: &str, owner: &str, arr: f64, churn: f64) -> bellwether_core::model::Assessment {
    bellwether_core::model::Assessment {
        account_id: account.into(),
        as_of: bellwether_core::Day::ymd(2026, 11, 2),
        health: 40.0,
        components: Vec::new(),
        risk_proxy: churn,
        churn_probability: Some(churn),
        priority: arr * churn,
        reason: format!("{account} at risk."),
        owner: Some(owner.into()),
        arr_minor: Some((arr * 100.0) as i64),
        impact: Some(bellwether_core::model::Impact {
            currency: "USD".into(),
            arr,
            churn,
            churn_target: Some("churn within 90 days".into()),
            why: format!("{account} at risk."),
            play: "Call the champion.".into(),
            ..Default::default()
        }),
    }
}

#[tokio::test]
async fn one_csms_worklist_is_ranked_by_impact_under_the_signals_statuses_of_the_moment() {
    let server = TestServer::start(ServerConfig::default()).await;
    let read = server.read_key.clone();
    let day = bellwether_core::Day::ymd(2026, 11, 2);
    let rows = [
        ranked("big", "ann@example.com", 100_000.0, 0.5),
        ranked("small", "ann@example.com", 80_000.0, 0.5),
        ranked("other", "bob@example.com", 900_000.0, 0.9),
    ];
    server
        .store
        .save_assessments(day, true, &rows, &[])
        .await
        .unwrap();
    let (s, body) = call(&server, get("/v1/worklists/ann@example.com", Some(&read))).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let ids = |b: &serde_json::Value| {
        b["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["account_id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&body), ["big", "small"], "only ann's accounts: {body}");
    assert_eq!(body["items"][0]["priority"], 50_000.0);
    assert_eq!(
        body["items"][0]["arithmetic"],
        "$100k ARR × 50.0% churn within 90 days = $50.0k"
    );
    assert_eq!(body["items"][0]["play"], "Call the champion.");
    // Someone acknowledges big's signal: it drops below small at once, and says why.
    let mut sig = bellwether_store_conformance::signal(
        "big",
        "usage_drop",
        bellwether_core::model::SignalStatus::Acknowledged,
    );
    sig.detected_at = day;
    server.store.save_signals(&[sig], &[]).await.unwrap();
    let (_, body) = call(&server, get("/v1/worklists/ann@example.com", Some(&read))).await;
    assert_eq!(ids(&body), ["small", "big"], "{body}");
    assert_eq!(body["items"][1]["acknowledged"], true);
    assert_eq!(body["items"][1]["priority"], 35_000.0);
    assert!(
        body["items"][1]["arithmetic"]
            .as_str()
            .unwrap()
            .contains("× 0.70 (acknowledged)"),
        "{body}"
    );
    // A limit, an unknown owner and a bad limit.
    let (_, body) = call(
        &server,
        get("/v1/worklists/ann@example.com?limit=1", Some(&read)),
    )
    .await;
    assert_eq!(ids(&body), ["small"]);
    let (s, body) = call(&server, get("/v1/worklists/nobody", Some(&read))).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("account_not_found")),
        "{body}"
    );
    let (s, body) = call(
        &server,
        get("/v1/worklists/ann@example.com?limit=0", Some(&read)),
    )
    .await;
    assert_eq!(
        (s, body["path"].as_str()),
        (StatusCode::BAD_REQUEST, Some("query.limit")),
        "{body}"
    );
    let (s, _) = call(&server, get("/v1/worklists/ann@example.com", None)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_signal_is_acknowledged_snoozed_with_a_reason_and_resolved_over_http() {
    let server = TestServer::start(ServerConfig::default()).await;
    let (admin, record) =
        bellwether_server::auth::new_key(bellwether_store::KeyScope::Admin, "crm").unwrap();
    server.store.create_key(&record).await.unwrap();
    let day = bellwether_core::Day::ymd(2026, 11, 2);
    server
        .store
        .save_assessments(
            day,
            true,
            &[ranked("big", "ann@example.com", 100_000.0, 0.5)],
            &[],
        )
        .await
        .unwrap();
    let sig = bellwether_store_conformance::signal(
        "big",
        "usage_drop",
        bellwether_core::model::SignalStatus::Open,
    );
    server
        .store
        .save_signals(std::slice::from_ref(&sig), &[])
        .await
        .unwrap();
    let path = |action: &str| format!("/v1/signals/{}/{action}", sig.id);
    let until = bellwether_core::Day::today().plus(14).to_string();

    // Keys: none, or a read or ingest key, may not act.
    let body = serde_json::json!({"until": until, "reason": "champion on leave"});
    let (s, _) = call(
        &server,
        post(&path("snooze"), None, "application/json", body.to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    for key in [&server.read_key, &server.ingest_key] {
        let (s, b) = post_json(&server, &path("snooze"), key, &body).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden"))
        );
        assert!(
            b["message"].as_str().unwrap().contains("scope 'admin'"),
            "{b}"
        );
    }
    // A snooze needs a later day and a reason; the field at fault is named.
    for (bad, field) in [
        (serde_json::json!({"until": until}), "reason"),
        (
            serde_json::json!({"until": until, "reason": "  "}),
            "reason",
        ),
        (serde_json::json!({"reason": "later"}), "until"),
        (
            serde_json::json!({"until": "next week", "reason": "later"}),
            "until",
        ),
        (
            serde_json::json!({"until": "2020-01-01", "reason": "later"}),
            "until",
        ),
        (
            serde_json::json!({"until": until, "reason": "x", "by": "ann"}),
            "by",
        ),
    ] {
        let (s, b) = post_json(&server, &path("snooze"), &admin, &bad).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {b}");
        assert_eq!(b["path"], field, "{bad}: {b}");
    }
    let (s, b) = post_json(
        &server,
        "/v1/signals/nope/acknowledge",
        &admin,
        &serde_json::json!({}),
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("signal_not_found"))
    );

    // Snoozed: the worklist drops it to a quarter and says until when and why.
    let (s, b) = post_json(&server, &path("snooze"), &admin, &body).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["signal"]["status"], "snoozed");
    assert_eq!(b["signal"]["snoozed_until"], until.as_str());
    assert_eq!(b["signal"]["snooze_reason"], "champion on leave");
    let (_, list) = call(
        &server,
        get("/v1/worklists/ann@example.com", Some(&server.read_key)),
    )
    .await;
    let item = &list["items"][0];
    assert_eq!(item["snooze_reason"], "champion on leave", "{list}");
    assert!(
        item["arithmetic"].as_str().unwrap().contains(&format!(
            "(snoozed until {until} — champion on leave, already alerted)"
        )),
        "{list}"
    );
    // Acknowledged: the snooze and its reason end.
    let (s, b) = post_json(
        &server,
        &path("acknowledge"),
        &admin,
        &serde_json::json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["signal"]["status"], "acknowledged");
    assert!(b["signal"]["snooze_reason"].is_null(), "{b}");
    // Resolved; after that, nothing more can be done to it.
    let (s, b) = post_json(&server, &path("resolve"), &admin, &serde_json::json!({})).await;
    assert_eq!(
        (s, b["signal"]["status"].as_str()),
        (StatusCode::OK, Some("resolved"))
    );
    let (s, b) = post_json(
        &server,
        &path("acknowledge"),
        &admin,
        &serde_json::json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(
        b["message"].as_str().unwrap().contains("is resolved"),
        "{b}"
    );
    let stored = server
        .store
        .signals(bellwether_store::SignalFilter {
            id: Some(sig.id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        stored[0].status,
        bellwether_core::model::SignalStatus::Resolved
    );
    server.stop().await;
}

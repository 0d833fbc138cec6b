//! Absurd event times through the HTTP API: a message or record dated in year 9999, year 0 or near the end of
//! `i64` milliseconds, or whose clock-skew correction overflows, is rejected with its code and field, and the
//! good ones beside it are stored.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bellwether_core::{AccountId, Day, Timestamp};
use bellwether_server::ServerConfig;
use bellwether_store::Store;
use common::{call, post_json, TestServer};
use serde_json::{json, Value};

/// The last day of any daily series of an account (weekly and monthly ones are dated by their period's end).
async fn last_series_day(server: &TestServer, account: &str) -> Option<Day> {
    let s = server
        .store
        .load_series(Some(&[AccountId(account.into())]))
        .await
        .unwrap();
    s.first()?
        .1
        .metrics
        .iter()
        .filter(|(name, _)| !name.starts_with("weekly_") && !name.starts_with("monthly_"))
        .map(|(_, m)| m)
        .filter_map(|m| m.points.last().map(|p| p.0))
        .max()
}

#[tokio::test]
async fn a_batch_keeps_its_good_message_and_names_each_absurd_time() {
    let server = TestServer::start(ServerConfig::default()).await;
    let key = server.ingest_key.clone();
    let good_at = Timestamp(Timestamp::now().0 - 3_600_000);
    let msg = |id: &str, ts: &str| {
        json!({"type": "track", "userId": "u1", "event": "report_run", "messageId": id, "timestamp": ts,
            "context": {"groupId": "acme"}})
    };
    let body = json!({"batch": [
        msg("m-9999", "9999-12-31T23:59:59Z"),
        msg("m-good", &good_at.to_string()),
        msg("m-0000", "0000-01-01T00:00:00Z"),
        msg("m-max", "9223372036854775807"),
        msg("m-1970", "0"),
    ]});
    let (s, b) = post_json(&server, "/v1/batch", &key, &body).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["accepted"], 1, "{b}");
    let rejected = b["rejected"].as_array().unwrap();
    let got: Vec<(u64, &str, &str)> = rejected
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["code"].as_str().unwrap(),
                r["path"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (0, "event_time_out_of_range", "batch[0].timestamp"),
            (2, "event_time_out_of_range", "batch[2].timestamp"),
            (3, "event_time_out_of_range", "batch[3].timestamp"),
            (4, "event_time_out_of_range", "batch[4].timestamp"),
        ],
        "{b}"
    );
    assert!(
        rejected[0]["message"]
            .as_str()
            .unwrap()
            .contains("max_ahead_hours"),
        "{b}"
    );
    assert_eq!(rejected[0]["messageId"], "m-9999");
    server.state.settle().await;
    assert_eq!(
        server
            .point("acme", "event:report_run", good_at.day())
            .await,
        1.0
    );
    // The book's latest day is the good message's: the bad ones moved nothing.
    assert_eq!(last_series_day(&server, "acme").await, Some(good_at.day()));
    server.stop().await;
}

#[tokio::test]
async fn a_sent_at_whose_correction_overflows_is_an_invalid_field_not_a_wrap() {
    let server = TestServer::start(ServerConfig::default()).await;
    let key = server.ingest_key.clone();
    // One message alone: the request fails with the message's error.
    let one = json!({"type": "track", "userId": "u1", "event": "x", "context": {"groupId": "acme"},
        "timestamp": "9223372036854775807", "sentAt": "2000-01-01T00:00:00Z"});
    let (s, b) = post_json(&server, "/v1/track", &key, &one).await;
    assert_eq!(
        (s, b["code"].as_str(), b["path"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("invalid_field"),
            Some("sentAt")
        ),
        "{b}"
    );
    // In a batch with a batch-level sentAt: the overflowing message is named, the good one corrected and kept.
    let now = Timestamp::now();
    let sent = Timestamp(now.0 - 2 * 3_600_000);
    let body = json!({"sentAt": sent.to_string(), "batch": [
        {"type": "track", "userId": "u1", "event": "x", "messageId": "ok", "context": {"groupId": "acme"},
            "timestamp": Timestamp(sent.0 - 3_600_000).to_string()},
        {"type": "track", "userId": "u1", "event": "x", "messageId": "huge", "context": {"groupId": "acme"},
            "timestamp": "9223372036854775807"},
    ]});
    let (s, b) = post_json(&server, "/v1/batch", &key, &body).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["accepted"], 1, "{b}");
    assert_eq!(b["rejected"][0]["index"], 1, "{b}");
    assert_eq!(b["rejected"][0]["code"], "invalid_field", "{b}");
    assert_eq!(b["rejected"][0]["path"], "sentAt", "{b}");
    // A batch sentAt in year 9999 with ordinary timestamps corrects them into year 0000: out of the window.
    let body = json!({"sentAt": "9999-01-01T00:00:00Z", "batch": [
        {"type": "track", "userId": "u1", "event": "x", "messageId": "skewed", "context": {"groupId": "acme"},
            "timestamp": now.to_string()},
    ]});
    let (s, b) = post_json(&server, "/v1/batch", &key, &body).await;
    assert_eq!(
        (s, b["accepted"].as_u64()),
        (StatusCode::OK, Some(0)),
        "{b}"
    );
    assert_eq!(b["rejected"][0]["code"], "event_time_out_of_range", "{b}");
    assert_eq!(b["rejected"][0]["path"], "batch[0].timestamp", "{b}");
    assert!(
        b["rejected"][0]["message"]
            .as_str()
            .unwrap()
            .contains("clock skew"),
        "{b}"
    );
    server.state.settle().await;
    let corrected = Timestamp(now.0 - 3_600_000).day();
    let total: f64 = {
        let mut t = 0.0;
        for d in -1..=1 {
            t += server.point("acme", "event:x", corrected.plus(d)).await;
        }
        t
    };
    assert_eq!(total, 1.0);
    server.stop().await;
}

#[tokio::test]
async fn interactions_and_zendesk_tickets_with_absurd_times_are_named_and_the_others_kept() {
    let server = TestServer::start(ServerConfig::default()).await;
    let key = server.ingest_key.clone();
    let yesterday = Day::today().plus(-1).to_string();
    let body = json!({"interactions": [
        {"id": "i-9999", "account_id": "acme", "timestamp": "9999-06-01T10:00:00Z", "kind": "meeting"},
        {"id": "i-good", "account_id": "acme", "timestamp": yesterday, "kind": "meeting"},
        {"id": "i-0000", "account_id": "acme", "timestamp": "0000-01-01", "kind": "meeting"},
    ]});
    let (s, b) = post_json(&server, "/v1/interactions", &key, &body).await;
    assert_eq!(
        (s, b["accepted"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{b}"
    );
    let paths: Vec<(&str, &str)> = b["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["code"].as_str().unwrap(), r["path"].as_str().unwrap()))
        .collect();
    assert_eq!(
        paths,
        [
            ("event_time_out_of_range", "interactions[0].timestamp"),
            ("event_time_out_of_range", "interactions[2].timestamp"),
        ],
        "{b}"
    );
    let tickets = json!({"tickets": [
        {"id": 1, "organization_id": "acme", "created_at": "9999-01-01T00:00:00Z", "status": "open", "subject": "x"},
        {"id": 2, "organization_id": "acme", "created_at": format!("{yesterday}T08:00:00Z"), "status": "open", "subject": "y"},
    ]});
    let (s, b) = post_json(&server, "/webhooks/zendesk", &key, &tickets).await;
    assert_eq!(
        (s, b["accepted"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{b}"
    );
    assert_eq!(b["rejected"][0]["code"], "event_time_out_of_range", "{b}");
    assert_eq!(b["rejected"][0]["path"], "tickets[0].opened_at", "{b}");
    let id = AccountId("acme".into());
    let book = server
        .store
        .load_book(Some(std::slice::from_ref(&id)))
        .await
        .unwrap();
    let a = &book.accounts[&id];
    assert_eq!(a.interactions.len(), 1);
    assert_eq!(a.tickets.len(), 1);
    // The book's data end, which decides its day, is the good records' day.
    assert_eq!(
        server.store.book_summary().await.unwrap().last_day,
        Some(Day::today().plus(-1))
    );
    server.stop().await;
}

#[tokio::test]
async fn a_stripe_event_with_an_absurd_created_is_refused_and_stores_nothing() {
    let secret = "whsec_times";
    let server = TestServer::start(ServerConfig {
        stripe_webhook_secret: Some(secret.into()),
        ..ServerConfig::default()
    })
    .await;
    let send = |id: &str, created: Value| {
        let event = json!({"id": id, "object": "event", "type": "invoice.paid", "created": created,
            "data": {"object": {"id": format!("in_{id}"), "object": "invoice", "customer": "cus_1",
                "metadata": {"account_id": "acme"}, "currency": "usd", "amount_paid": 4200}}})
        .to_string();
        let now = Timestamp::now().0 / 1000;
        Request::post("/webhooks/stripe")
            .header("content-type", "application/json")
            .header(
                "stripe-signature",
                bellwether_server::stripe::sign(secret, now, event.as_bytes()),
            )
            .body(Body::from(event))
            .unwrap()
    };
    // Year 9999 in Unix seconds.
    let (s, b) = call(&server, send("evt_9999", json!(253_402_300_799i64))).await;
    assert_eq!(
        (s, b["code"].as_str(), b["path"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("event_time_out_of_range"),
            Some("created")
        ),
        "{b}"
    );
    // Seconds whose milliseconds do not fit in 64 bits: an error, not an overflow.
    let (s, b) = call(&server, send("evt_max", json!(i64::MAX))).await;
    assert_eq!(
        (s, b["code"].as_str(), b["path"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("invalid_json"),
            Some("created")
        ),
        "{b}"
    );
    // Year 0 (negative seconds).
    let (s, b) = call(&server, send("evt_0000", json!(-62_167_219_200i64))).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("event_time_out_of_range")),
        "{b}"
    );
    let (s, b) = call(
        &server,
        send("evt_good", json!(Timestamp::now().0 / 1000 - 60)),
    )
    .await;
    assert_eq!(
        (s, b["outcome"].as_str()),
        (StatusCode::OK, Some("accepted")),
        "{b}"
    );
    let id = AccountId("acme".into());
    let book = server
        .store
        .load_book(Some(std::slice::from_ref(&id)))
        .await
        .unwrap();
    let billing = &book.accounts[&id].billing;
    assert_eq!(billing.len(), 1);
    assert_eq!(billing[0].at.day(), Day::today());
    server.stop().await;
}

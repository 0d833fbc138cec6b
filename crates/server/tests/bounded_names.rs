//! Ids and names sent to the tracking API and the record endpoints are bounded as in imports: an overlong
//! value, a control character or an impossible time-zone offset refuses that message or record alone, naming
//! its field and code, and the good ones beside it are stored.

mod common;

use axum::http::StatusCode;
use bellwether_server::ServerConfig;
use common::{call, post, TestServer};
use serde_json::json;

#[tokio::test]
async fn overlong_and_control_character_ids_and_names_are_refused_one_by_one() {
    let server = TestServer::start(ServerConfig::default()).await;
    let ingest = server.ingest_key.clone();
    let track = |id: &str, user: &str, event: &str, group: &str| {
        json!({"type": "track", "messageId": id, "userId": user, "event": event,
               "context": {"groupId": group}})
    };
    let mut late = track("m6", "u1", "login", "a1");
    late["timestamp"] = json!("2026-03-01T10:00:00+99:99");
    let batch = json!({"batch": [
        track("m0", "u1", "login", "a1"),
        track("m1", "u1", &"e".repeat(1000), "a1"),
        track("m2", "u\u{0}2", "login", "a1"),
        {"type": "group", "messageId": "m3", "userId": "u1", "groupId": "g".repeat(300)},
        {"type": "identify", "messageId": "m4", "userId": "u1", "traits": {"name": "Ann\u{7}Lee"}},
        track("m5", "u1", "login", "a1\nb"),
        late,
        track("m7", "u2", "login", "a1"),
        {"type": "track", "messageId": "m8\u{0}", "userId": "u1", "event": "login"},
    ]});
    let (s, b) = call(
        &server,
        post(
            "/v1/batch",
            Some(&ingest),
            "application/json",
            batch.to_string(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["accepted"], 2, "{b}");
    let rejected: Vec<(u64, &str, &str)> = b["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["path"].as_str().unwrap_or(""),
                r["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rejected,
        vec![
            (1, "batch[1].event", "invalid_field"),
            (2, "batch[2].userId", "invalid_field"),
            (3, "batch[3].groupId", "invalid_field"),
            (4, "batch[4].traits.name", "invalid_field"),
            (5, "batch[5].context.groupId", "invalid_field"),
            (6, "batch[6].timestamp", "invalid_field"),
            (8, "batch[8].messageId", "invalid_field"),
        ],
        "{b}"
    );
    let messages: Vec<&str> = b["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message"].as_str().unwrap())
        .collect();
    assert!(
        messages[0].contains("1000 bytes long; names are at most 200 bytes"),
        "{messages:?}"
    );
    assert!(
        messages[1].contains("control character U+0000"),
        "{messages:?}"
    );
    assert!(
        messages[2].contains("ids are at most 256 bytes"),
        "{messages:?}"
    );
    assert!(
        messages[3].contains("control character U+0007"),
        "{messages:?}"
    );
    assert!(messages[5].contains("offset out of range"), "{messages:?}");

    server.state.settle().await;
    let today = bellwether_core::Timestamp::now().day();
    assert_eq!(server.point("a1", "event:login", today).await, 2.0);
    assert_eq!(server.point("a1", "users:login", today).await, 2.0);

    // Records pushed one at a time are bounded by the same rule.
    let body = json!({"interactions": [
        {"id": "i1", "account_id": "a1", "timestamp": "2026-01-10T15:00:00Z", "kind": "meeting"},
        {"id": "i\u{0}2", "account_id": "a1", "timestamp": "2026-01-10T15:00:00Z", "kind": "meeting"},
        {"id": "i3", "account_id": "a".repeat(257), "timestamp": "2026-01-10T15:00:00Z", "kind": "meeting"},
    ]});
    let (s, b) = call(
        &server,
        post(
            "/v1/interactions",
            Some(&ingest),
            "application/json",
            body.to_string(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["accepted"], 1, "{b}");
    assert_eq!(b["rejected"][0]["path"], "interactions[1].interaction_id");
    assert_eq!(b["rejected"][0]["code"], "invalid_field");
    assert_eq!(b["rejected"][1]["path"], "interactions[2].account_id");
    server.stop().await;
}

//! Every error answer has the documented shape `{code, message, type, link, path}` and names the part of the
//! request at fault: a wrong method, an encoding the server does not take, a missing key, a broken body, a
//! message that is not an object or whose field has the wrong type, and a Stripe amount of the wrong type.

mod common;

use axum::http::{Request, StatusCode};
use bellwether_server::ServerConfig;
use common::{call, get, post, send_stripe, TestServer};
use serde_json::{json, Value};

fn assert_shape(status: StatusCode, body: &Value, code: &str, path: &str) {
    for k in ["code", "message", "type", "link", "path"] {
        assert!(body.get(k).is_some(), "{status} lacks {k}: {body}");
    }
    assert_eq!(body["code"], code, "{status}: {body}");
    assert_eq!(body["path"], path, "{status}: {body}");
    assert!(!body["message"].as_str().unwrap().is_empty(), "{body}");
}

#[tokio::test]
async fn whole_request_errors_have_the_shape_and_name_the_part_at_fault() {
    let server = TestServer::start(ServerConfig::default()).await;
    let key = server.ingest_key.clone();

    let req = Request::put("/v1/batch")
        .header("authorization", format!("Bearer {key}"))
        .body(axum::body::Body::from("{}"))
        .unwrap();
    let (s, b) = call(&server, req).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_shape(s, &b, "method_not_allowed", "method");

    let req = Request::post("/v1/batch")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .header("content-encoding", "br")
        .body(axum::body::Body::from(vec![0x1b, 0x02, 0x00]))
        .unwrap();
    let (s, b) = call(&server, req).await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_shape(s, &b, "unsupported_media_type", "content-encoding");
    assert!(b["message"].as_str().unwrap().contains("'br'"), "{b}");

    let (s, b) = call(
        &server,
        post("/v1/batch", None, "application/json", r#"{"batch":[]}"#),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_shape(s, &b, "unauthorized", "authorization");

    let (s, b) = call(
        &server,
        post("/v1/batch", Some(&key), "application/json", r#"{"batch":["#),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["path"], "$", "{b}");

    let (s, b) = call(&server, get("/v1/nothing-here", Some(&key))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_shape(s, &b, "route_not_found", "url");
    server.stop().await;
}

#[tokio::test]
async fn rejected_messages_name_their_field_even_when_they_cannot_be_read() {
    let server = TestServer::start(ServerConfig::default()).await;
    let key = server.ingest_key.clone();
    let body = json!({"batch": [
        {"type": "track", "userId": "u1", "event": "ok", "messageId": "m0", "context": {"groupId": "acme"}},
        7,
        ["not", "an", "object"],
        {"type": "track", "userId": "u1", "event": "x", "messageId": "m3", "context": {"groupId": "acme"},
         "timestamp": {"not": "a time"}},
    ]});
    let (s, b) = call(
        &server,
        post(
            "/v1/batch",
            Some(&key),
            "application/json",
            body.to_string(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["accepted"], 1, "{b}");
    let rejected = b["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 3, "{b}");
    for r in rejected {
        assert!(
            r["path"].as_str().is_some_and(|p| p.starts_with("batch[")),
            "every rejected message names where: {r}"
        );
    }
    assert_eq!(rejected[0]["path"], "batch[1]", "{b}");
    assert!(
        rejected[1]["message"]
            .as_str()
            .unwrap()
            .contains("an array"),
        "{b}"
    );
    assert_eq!(rejected[2]["path"], "batch[3].timestamp", "{b}");

    // One message that is an array, on a single-message route: the whole request fails saying so.
    let (s, b) = call(
        &server,
        post("/v1/track", Some(&key), "application/json", "[1, 2, 3]"),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["path"], "$", "{b}");
    assert!(
        b["message"].as_str().unwrap().contains("an array"),
        "not 'expected a string': {b}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_stripe_amount_of_the_wrong_type_is_named_as_such() {
    let secret = "whsec_shapes";
    let server = TestServer::start(ServerConfig {
        stripe_webhook_secret: Some(secret.into()),
        ..ServerConfig::default()
    })
    .await;
    let created = bellwether_core::Timestamp::now().0 / 1000 - 60;
    let event = json!({"id": "evt_s", "object": "event", "type": "invoice.paid", "created": created,
        "data": {"object": {"id": "in_s", "object": "invoice", "customer": "cus_1",
            "metadata": {"account_id": "acme"}, "currency": "usd", "amount_paid": "4200"}}});
    let (s, b) = send_stripe(&server, secret, &event).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["path"], "data.object.amount_paid", "{b}");
    let m = b["message"].as_str().unwrap();
    assert!(!m.contains("missing") && m.contains("not an amount"), "{b}");
    server.stop().await;
}

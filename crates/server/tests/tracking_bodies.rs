//! What the tracking endpoints take and keep: a JSON body whatever content type it claims, the features
//! advertised at `/version`, keys checked before a body is read or parsed, and keys never stored.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use bellwether_core::Day;
use bellwether_server::ServerConfig;
use bellwether_store::LiveStore;
use common::{call, get, post, TestServer};
use std::io::Write as _;
use std::path::Path;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A POST with `Authorization: Basic` (the key as user name, as Segment's and RudderStack's clients send it).
fn post_basic(path: &str, key: &str, ct: &str, gzipped: bool, body: &str) -> Request<Body> {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{key}:"));
    let mut r = Request::post(path)
        .header("content-type", ct)
        .header("authorization", format!("Basic {auth}"));
    let body = if gzipped {
        r = r.header("content-encoding", "gzip");
        gzip(body.as_bytes())
    } else {
        body.as_bytes().to_vec()
    };
    r.body(Body::from(body)).unwrap()
}

const DAY: &str = "2026-01-15T10:00:00Z";

fn track(user: &str, id: &str, extra: &str) -> String {
    format!(
        r#"{{"type":"track","userId":"{user}","event":"Report Exported","timestamp":"{DAY}","messageId":"{id}"{extra}}}"#
    )
}

#[tokio::test]
async fn a_json_body_is_taken_whatever_content_type_it_claims() {
    let server = TestServer::start(ServerConfig::default()).await;
    let key = server.ingest_key.clone();
    // RudderStack's Node SDK: a gzipped JSON batch sent as a form.
    let group = format!(
        r#"{{"type":"group","userId":"u1","groupId":"acct-ct","timestamp":"{DAY}","messageId":"g1"}}"#
    );
    let batch = format!(r#"{{"batch":[{group},{}]}}"#, track("u1", "t1", ""));
    for (ct, gzipped) in [
        ("application/x-www-form-urlencoded", true),
        ("application/x-www-form-urlencoded", false),
    ] {
        let (s, b) = call(&server, post_basic("/v1/batch", &key, ct, gzipped, &batch)).await;
        assert_eq!(s, StatusCode::OK, "{ct} gzip={gzipped}: {b}");
    }
    // Single messages with other claims, or none.
    for (i, ct) in ["text/html", "application/octet-stream", ""]
        .into_iter()
        .enumerate()
    {
        let (s, b) = call(
            &server,
            post(
                "/v1/track",
                Some(&key),
                ct,
                track("u1", &format!("s{i}"), ""),
            ),
        )
        .await;
        assert_eq!(
            (s, b["accepted"].as_u64()),
            (StatusCode::OK, Some(1)),
            "{ct}: {b}"
        );
    }
    server.state.settle().await;
    let day = Day::ymd(2026, 1, 15);
    assert_eq!(
        server.point("acct-ct", "event:Report Exported", day).await,
        4.0,
        "the batch once (its resend is a duplicate) and three single messages"
    );

    // A body that is not JSON is a 400 that says so and names the content type it claimed.
    let form = "type=track&userId=u1&event=x";
    for path in ["/v1/batch", "/v1/track"] {
        let (s, b) = call(
            &server,
            post_basic(path, &key, "application/x-www-form-urlencoded", true, form),
        )
        .await;
        assert_eq!(
            (s, b["code"].as_str(), b["path"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_json"), Some("$")),
            "{path}: {b}"
        );
        let msg = b["message"].as_str().unwrap();
        assert!(
            msg.contains("not JSON") && msg.contains("application/x-www-form-urlencoded"),
            "{msg}"
        );
    }
    let (s, b) = call(
        &server,
        post(
            "/v1/identify",
            Some(&key),
            "text/plain",
            &b"{\"userId\":\"\xff\"}"[..],
        ),
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_json")),
        "{b}"
    );
    assert!(b["message"].as_str().unwrap().contains("UTF-8"), "{b}");

    // The features RudderStack's data plane advertises, without a key.
    let (s, b) = call(&server, get("/version", None)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["Features"], serde_json::json!(["gzip-req-payload"]));
    assert!(b["Version"].is_string(), "{b}");
    server.stop().await;
}

/// Every file under `dir`, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

#[tokio::test]
async fn keys_sent_in_the_body_or_by_basic_auth_are_never_stored() {
    let server = TestServer::start(ServerConfig::default()).await;
    let key = server.ingest_key.clone();
    let wk = format!(r#","writeKey":"{key}""#);
    let group = format!(
        r#"{{"type":"group","userId":"u1","groupId":"acct-keys","timestamp":"{DAY}","messageId":"g1"{wk}}}"#
    );
    // The key at the top of a batch and in its messages; "late" has no account yet, so its message is kept
    // as pending.
    let batch = format!(
        r#"{{"writeKey":"{key}","batch":[{group},{},{}]}}"#,
        track("u1", "b1", &wk),
        track("late", "b2", &wk)
    );
    let (s, b) = call(&server, post("/v1/batch", None, "application/json", batch)).await;
    assert_eq!(
        (s, b["accepted"].as_u64()),
        (StatusCode::OK, Some(3)),
        "{b}"
    );
    // The key in single messages, as analytics.js and others send it.
    for (path, body) in [
        ("/v1/track", track("late-2", "s1", &wk)),
        (
            "/v1/identify",
            format!(
                r#"{{"writeKey":"{key}","userId":"u1","traits":{{"email":"u1@example.com"}},"messageId":"i1"}}"#
            ),
        ),
    ] {
        let (s, b) = call(&server, post(path, None, "text/plain", body)).await;
        assert_eq!(
            (s, b["accepted"].as_u64()),
            (StatusCode::OK, Some(1)),
            "{path}: {b}"
        );
    }
    // By Basic auth, gzipped, with the key also pasted into a property.
    let pasted = format!(r#","properties":{{"note":"sent with {key}"}}"#);
    let basic = format!(
        r#"{{"batch":[{},{}]}}"#,
        track("u1", "k1", &pasted),
        track("late", "k2", &pasted)
    );
    let (s, b) = call(
        &server,
        post_basic("/v1/batch", &key, "application/json", true, &basic),
    )
    .await;
    assert_eq!(
        (s, b["accepted"].as_u64()),
        (StatusCode::OK, Some(2)),
        "{b}"
    );
    server.state.settle().await;

    // The messages were kept: counted, or pending for their user's account.
    let day = Day::ymd(2026, 1, 15);
    assert_eq!(
        server
            .point("acct-keys", "event:Report Exported", day)
            .await,
        2.0
    );
    assert_eq!(server.store.pending_count().await.unwrap(), 3);
    // No file of the data directory, write-ahead logs included, holds the key.
    let all = files(server.data_dir());
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.iter().filter(|n| n.ends_with("-wal")).count() >= 2,
        "the database and the inbox each have a write-ahead log: {names:?}"
    );
    for (name, bytes) in &all {
        assert!(
            !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
            "{name} holds the ingest key"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn keys_are_checked_before_a_body_is_decompressed_or_parsed() {
    let server = TestServer::start(ServerConfig::default()).await;
    let wrong = "bw_ingest_not-a-key";
    // A wrong key in a header is refused before the body is read: a body that is not gzip, or not JSON,
    // does not matter.
    let not_gzip = |path: &str| {
        Request::post(path)
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .header("authorization", format!("Bearer {wrong}"))
            .body(Body::from(&b"\x1f\x8b not gzip at all"[..]))
            .unwrap()
    };
    for req in [
        not_gzip("/v1/batch"),
        not_gzip("/webhooks/segment"),
        post("/v1/batch", Some(wrong), "application/json", "{not json"),
        post("/v1/track", Some(wrong), "application/json", "{not json"),
    ] {
        let (s, b) = call(&server, req).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthorized")),
            "{b}"
        );
    }
    // Without a header the key is looked for in the body before it is parsed: none there, or a wrong one,
    // is a 401 even when the rest is broken.
    for body in [
        "{not json".to_string(),
        format!(r#"{{"writeKey":"{wrong}","batch":[{{"#),
        r#"{"batch":[{"writeKey":"nested-is-not-the-key"}]}"#.to_string(),
    ] {
        let (s, b) = call(&server, post("/v1/batch", None, "application/json", body)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
    }
    // The right key in the body, the rest broken: authenticated, then told what is wrong.
    let key = server.ingest_key.clone();
    let (s, b) = call(
        &server,
        post(
            "/v1/batch",
            None,
            "application/json",
            format!(r#"{{"writeKey":"{key}","batch":[{{"#),
        ),
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_json")),
        "{b}"
    );
    // A body that can only be authenticated by its content is decompressed within the size cap.
    let bomb = format!(
        r#"{{"writeKey":"{key}","batch":[],"pad":"{}"}}"#,
        " ".repeat(8 << 20)
    );
    let req = Request::post("/v1/batch")
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(Body::from(gzip(bomb.as_bytes())))
        .unwrap();
    let (s, b) = call(&server, req).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large")),
        "{b}"
    );
    server.stop().await;
}

//! The hostile-input corpus (`tests/corpus/http/*.json`, one request each: truncated and wrongly typed JSON,
//! deep nesting, oversize bodies and gzip bombs, bad UTF-8, NUL bytes, absurd times, wrong keys and methods,
//! forged, stale and replayed Stripe signatures, forged, stale and malformed Slack clicks and date picks, hostile
//! signal snoozes (wrong keys, bodies, days and reasons), good and bad records mixed) through the router: no answer is a
//! 5xx, every error has the documented shape and names the part at fault, every rejected message names its
//! field, and every good message beside the bad ones is counted exactly once.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use bellwether_core::{Day, Timestamp};
use bellwether_server::ServerConfig;
use bellwether_store::LiveStore;
use common::{call, TestServer};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

const SECRET: &str = "whsec_corpus";
const SLACK_SECRET: &str = "slack-corpus-signing-secret";

fn load() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/http");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            (p.file_name().unwrap().to_string_lossy().into_owned(), v)
        })
        .collect()
}

fn request(server: &TestServer, admin: &str, case: &Value) -> Request<Body> {
    let mut body: Vec<u8> = match (&case["body"], &case["body_b64"]) {
        (Value::String(s), _) => s.clone().into_bytes(),
        (_, Value::String(b)) => base64::engine::general_purpose::STANDARD.decode(b).unwrap(),
        _ => Vec::new(),
    };
    let mut r = Request::builder()
        .method(case["method"].as_str().unwrap())
        .uri(case["path"].as_str().unwrap());
    for (k, v) in case["headers"].as_object().unwrap() {
        r = r.header(k.as_str(), v.as_str().unwrap());
    }
    match case["auth"].as_str().unwrap() {
        "ingest" => r = r.header("authorization", format!("Bearer {}", server.ingest_key)),
        "read" => r = r.header("authorization", format!("Bearer {}", server.read_key)),
        "admin" => r = r.header("authorization", format!("Bearer {admin}")),
        "bogus" => r = r.header("authorization", "Bearer bw_ingest_0000000000000000"),
        _ => {}
    }
    if let Some(how) = case["stripe"].as_str() {
        // A fixed event time of 0 stands for "a minute ago".
        if let Ok(mut ev) = serde_json::from_slice::<Value>(&body) {
            if ev["created"] == 0 {
                ev["created"] = (Timestamp::now().0 / 1000 - 60).into();
                body = ev.to_string().into_bytes();
            }
        }
        let now = Timestamp::now().0 / 1000;
        let sig = match how {
            "forged" => bellwether_server::stripe::sign("whsec_someone_else", now, &body),
            "stale" => bellwether_server::stripe::sign(SECRET, now - 86_400, &body),
            _ => bellwether_server::stripe::sign(SECRET, now, &body),
        };
        r = r.header("stripe-signature", sig);
    }
    if let Some(how) = case["slack"].as_str() {
        let now = Timestamp::now().0 / 1000;
        let (secret, at) = match how {
            "forged" => ("someone-elses-secret", now),
            "stale" => (SLACK_SECRET, now - 600),
            _ => (SLACK_SECRET, now),
        };
        r = r
            .header("x-slack-request-timestamp", at.to_string())
            .header(
                "x-slack-signature",
                bellwether_server::routes::slack_signature(secret, at, &body),
            );
    }
    r.body(Body::from(body)).unwrap()
}

/// The ids of the good messages a request carried (listed in `good_ids` when its body is binary).
fn good_ids(case: &Value) -> Vec<String> {
    let text = case["body"].as_str().unwrap_or("");
    let mut out: Vec<String> = case["good_ids"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let mut rest = text;
    while let Some(i) = rest.find("\"good-") {
        let tail = &rest[i + 1..];
        let end = tail.find('"').unwrap();
        out.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hostile_corpus_gets_no_5xx_shaped_errors_and_keeps_the_good_records() {
    let cases = load();
    assert!(cases.len() >= 60, "{} payloads", cases.len());
    let server = TestServer::start(ServerConfig {
        stripe_webhook_secret: Some(SECRET.into()),
        slack: Some(bellwether_server::routes::SlackApp {
            signing_secret: SLACK_SECRET.into(),
            people: Default::default(),
        }),
        ..ServerConfig::default()
    })
    .await;
    let (admin, record) =
        bellwether_server::auth::new_key(bellwether_store::KeyScope::Admin, "corpus").unwrap();
    server.store.create_key(&record).await.unwrap();
    let mut expected: BTreeSet<String> = BTreeSet::new();
    for (name, case) in &cases {
        let (status, body) = call(&server, request(&server, &admin, case)).await;
        assert!(!status.is_server_error(), "{name}: {status} {body}");
        // A case may say exactly what it expects: the status, the refusal's code and path, the rejections.
        let expect = &case["expect"];
        if let Some(s) = expect["status"].as_u64() {
            assert_eq!(status.as_u16() as u64, s, "{name}: {body}");
        }
        for k in ["code", "path"] {
            if let Some(v) = expect[k].as_str() {
                assert_eq!(body[k], v, "{name}: {body}");
            }
        }
        if let Some(list) = expect["rejected"].as_array() {
            let got: Vec<(&Value, &Value)> = body["rejected"]
                .as_array()
                .map(|r| r.iter().map(|r| (&r["path"], &r["code"])).collect())
                .unwrap_or_default();
            let want: Vec<(&Value, &Value)> =
                list.iter().map(|r| (&r["path"], &r["code"])).collect();
            assert_eq!(got, want, "{name}: {body}");
        }
        if status.is_client_error() {
            for k in ["code", "message", "type", "link", "path"] {
                assert!(body.get(k).is_some(), "{name}: {status} lacks {k}: {body}");
            }
            assert!(
                body["path"].is_string(),
                "{name}: a refused request names the part at fault: {body}"
            );
            continue;
        }
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let rejected: Vec<&Value> = body["rejected"]
            .as_array()
            .map(|r| r.iter().collect())
            .unwrap_or_default();
        for r in &rejected {
            assert!(
                r["code"].is_string() && r["path"].is_string(),
                "{name}: a rejected message names its code and field: {r}"
            );
        }
        let refused: BTreeSet<&str> = rejected
            .iter()
            .filter_map(|r| r["messageId"].as_str())
            .collect();
        if case["path"].as_str().unwrap().starts_with("/v1/") {
            expected.extend(
                good_ids(case)
                    .into_iter()
                    .filter(|id| !refused.contains(id.as_str())),
            );
        }
    }
    server.state.settle().await;
    assert!(expected.len() >= 25, "{expected:?}");
    let counted = server
        .point("corpus-good", "event:Report Viewed", Day::today())
        .await;
    assert_eq!(
        counted,
        expected.len() as f64,
        "every good message beside the bad ones is counted once: {expected:?}"
    );
    server.stop().await;
}

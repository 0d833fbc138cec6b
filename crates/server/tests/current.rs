//! A running server's one current day: live re-assessments are made as of today by the clock whatever the
//! dates of the data they touched, and every active account stays in `GET /v1/accounts` with its latest
//! assessment and its age.

mod common;

use bellwether_core::time::MS_PER_DAY;
use bellwether_core::{Day, Timestamp};
use bellwether_server::ServerConfig;
use common::TestServer;

async fn post_batch(server: &TestServer, body: String) {
    let resp = reqwest_like_post(
        &server.url,
        "/v1/batch",
        &server.ingest_key,
        body.as_bytes(),
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
}

/// One HTTP/1.1 request on a fresh connection; returns the whole response.
async fn reqwest_like_post(url: &str, path: &str, key: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

async fn get_json(url: &str, path: &str, key: &str) -> serde_json::Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    let (_, body) = text.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn track(account: &str, id: &str, at: Timestamp) -> String {
    format!(
        r#"{{"type":"track","userId":"u-{account}","event":"Report Viewed","messageId":"{id}","timestamp":"{}","context":{{"groupId":"{account}"}}}}"#,
        iso(at)
    )
}

fn iso(t: Timestamp) -> String {
    let d = t.day();
    let ms = t.0 - d.start().0;
    format!(
        "{d}T{:02}:{:02}:00Z",
        ms / 3_600_000,
        (ms % 3_600_000) / 60_000
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_touched_by_old_data_are_assessed_on_todays_date_and_stay_listed() {
    let server = TestServer::start(ServerConfig::default()).await;
    let now = Timestamp::now();
    let today = Day::today();
    // One account whose newest event is five days old, in a batch of its own.
    let stale: Vec<String> = (5..30)
        .map(|d| track("stale", &format!("s{d}"), Timestamp(now.0 - d * MS_PER_DAY)))
        .collect();
    post_batch(&server, format!(r#"{{"batch":[{}]}}"#, stale.join(","))).await;
    server.state.settle().await;
    // Four accounts active today.
    let mut fresh = Vec::new();
    for a in ["a1", "a2", "a3", "a4"] {
        for d in 0..30 {
            fresh.push(track(
                a,
                &format!("{a}-{d}"),
                Timestamp(now.0 - d * MS_PER_DAY - 3_600_000),
            ));
        }
    }
    post_batch(&server, format!(r#"{{"batch":[{}]}}"#, fresh.join(","))).await;
    server.state.settle().await;

    let body = get_json(&server.url, "/v1/accounts", &server.read_key).await;
    let accounts = body["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 5, "every active account is listed: {body}");
    assert_eq!(body["as_of"], today.to_string().as_str(), "{body}");
    for a in accounts {
        assert_eq!(a["as_of"], today.0, "{a}");
        assert_eq!(a["age_days"], 0, "{a}");
    }
    server.stop().await;
}

//! One `bellwether serve` per data directory, through the binary: a second server on the same directory
//! refuses to start and names the first, while an import beside the running server works and every event,
//! sent or imported, is counted once.

mod common;

use common::{bw, free_addr};

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn serve(dir: &std::path::Path, addr: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_bellwether"))
        .arg("--data-dir")
        .arg(dir)
        .args(["serve", "--listen", addr])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn request(addr: &str, method: &str, path: &str, key: &str, body: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn json_body(response: &str) -> serde_json::Value {
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
    // Chunked replies: the JSON is the one line that starts with a brace.
    let text = body
        .lines()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or(body);
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {response}"))
}

/// Sends `n` track events of `event` for account acme, with ids from `first`.
fn send(addr: &str, key: &str, event: &str, first: usize, n: usize) {
    let day = bellwether_core::Day::today().plus(-1);
    let batch: Vec<serde_json::Value> = (first..first + n)
        .map(|i| {
            serde_json::json!({"type": "track", "messageId": format!("m{i}"), "userId": format!("u{}", i % 3),
                "event": event, "timestamp": format!("{day}T12:00:00Z"), "context": {"groupId": "acme"}})
        })
        .collect();
    let body = serde_json::json!({ "batch": batch }).to_string();
    let r = request(addr, "POST", "/v1/batch", key, &body);
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert_eq!(json_body(&r)["accepted"], n, "{r}");
}

/// The total of an account's `event:<name>` series.
fn event_total(addr: &str, key: &str, event: &str) -> f64 {
    let r = request(addr, "GET", "/v1/accounts/acme/series", key, "");
    if !r.starts_with("HTTP/1.1 200") {
        return 0.0;
    }
    json_body(&r)["series"][format!("event:{event}")]
        .as_array()
        .map(|pts| pts.iter().map(|p| p[1].as_f64().unwrap()).sum())
        .unwrap_or(0.0)
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ok() {
        assert!(started.elapsed() < Duration::from_secs(120), "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_second_server_on_one_data_directory_refuses_and_imports_beside_it_count_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = bw(dir.path(), &["keys", "create", "--scope", "admin"]);
    assert!(out.status.success(), "{out:?}");
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();

    let addr = free_addr();
    let mut first = serve(dir.path(), &addr);
    wait_for("the first server did not start", || {
        TcpStream::connect(&addr).is_ok()
    });

    // A second server on the same directory, on another port: refused, naming the directory and the first.
    let mut second = serve(dir.path(), &free_addr());
    let started = Instant::now();
    while second.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            second.kill().unwrap();
            panic!("a second server started on the data directory of a running one");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = second.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("error[data_dir_in_use]"), "{err}");
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
    assert!(err.contains(&format!("process {}", first.id())), "{err}");

    // Events sent to the running server, an import beside it, then more events.
    send(&addr, &key, "report_run", 0, 10);
    let csv = dir.path().join("events.csv");
    let day = bellwether_core::Day::today().plus(-2);
    let mut rows = String::from("account_id,timestamp,event,user_id\n");
    for i in 0..7 {
        rows.push_str(&format!("acme,{day}T09:00:00Z,export,u{i}\n"));
    }
    std::fs::write(&csv, rows).unwrap();
    let out = bw(dir.path(), &["import", csv.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    send(&addr, &key, "report_run", 10, 10);
    wait_for("the server did not apply the 20 events", || {
        event_total(&addr, &key, "report_run") >= 20.0
    });
    // Every event once: no second applier, and the import stored its rows once.
    assert_eq!(event_total(&addr, &key, "report_run"), 20.0);
    assert_eq!(event_total(&addr, &key, "export"), 7.0);

    // SAFETY: sending a signal to a child process this test started has no memory-safety preconditions.
    unsafe {
        libc::kill(first.id() as i32, libc::SIGTERM);
    }
    assert!(first.wait().unwrap().success());
    // Once the first server stopped, a server starts on the directory again.
    let addr = free_addr();
    let mut again = serve(dir.path(), &addr);
    wait_for("a server did not start after the first stopped", || {
        TcpStream::connect(&addr).is_ok()
    });
    assert_eq!(event_total(&addr, &key, "report_run"), 20.0);
    // SAFETY: as above.
    unsafe {
        libc::kill(again.id() as i32, libc::SIGTERM);
    }
    assert!(again.wait().unwrap().success());
}

//! `bellwether keys` and `bellwether serve` through the binary: a key is printed once and works against the
//! server, a revoked key is refused, and SIGTERM stops the server cleanly.

mod common;

use common::bw;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

fn get(addr: &str, path: &str, key: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn keys_are_created_listed_revoked_and_checked_by_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let out = bw(
        dir.path(),
        &["keys", "create", "--scope", "read", "--name", "dash"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(key.starts_with("bw_read_"), "{key}");
    let list = String::from_utf8(bw(dir.path(), &["keys", "list", "--json"]).stdout).unwrap();
    let keys: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(keys[0]["scope"], "read");
    assert!(
        !list.contains(&key),
        "the key itself is never stored or listed"
    );
    let id = keys[0]["id"].as_str().unwrap().to_string();
    let bad = bw(dir.path(), &["keys", "create", "--scope", "root"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not one of ingest, read, admin"));

    let addr = common::free_addr();
    let mut server = Command::new(env!("CARGO_BIN_EXE_bellwether"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", &addr])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::wait_listening(&addr);
    let ok = get(&addr, "/v1/signals", &key);
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(bw(dir.path(), &["keys", "revoke", &id]).status.success());
    let refused = get(&addr, "/v1/signals", &key);
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    assert!(refused.contains("\"code\":\"unauthorized\""));
    // SIGTERM: graceful stop with status 0.
    // SAFETY: sending a signal to a child process this test started has no memory-safety preconditions.
    unsafe {
        libc::kill(server.id() as i32, libc::SIGTERM);
    }
    let status = server.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

//! Connections a hostile or broken client leaves open: 1,100 idle connections under a 1,024 open-file limit do
//! not stop `/healthz`; a connection that never finishes its headers, stays idle, or stops half-way through a
//! body is closed or answered; connections over the limit are closed at once.

mod common;

use bellwether_server::ServerConfig;
use common::TestServer;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn addr(server: &TestServer) -> String {
    server.url.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection (a safety bound stops a server that never does).
async fn read_to_close(s: &mut TcpStream) -> Option<String> {
    let mut out = Vec::new();
    match tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut out)).await {
        Ok(_) => Some(String::from_utf8_lossy(&out).into_owned()),
        Err(_) => None,
    }
}

async fn healthz(server: &TestServer) -> String {
    let mut s = TcpStream::connect(addr(server)).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    read_to_close(&mut s).await.expect("/healthz answers")
}

/// Sets this process's soft limit of open files (the server and the test share the process).
fn set_soft_file_limit(n: libc::rlim_t) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain calls on a struct on this stack.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = n.min(lim.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_half_sent_and_surplus_connections_do_not_stop_the_server() {
    // The common default: the server must raise it itself.
    set_soft_file_limit(1_024);
    let server = TestServer::start(ServerConfig {
        header_timeout: Duration::from_secs(2),
        body_timeout: Duration::from_secs(2),
        ..ServerConfig::default()
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..1_100 {
        idle.push(TcpStream::connect(addr(&server)).await.unwrap());
    }
    let reply = healthz(&server).await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");

    // Headers that never end, and a connection that never says anything: both are closed.
    let mut half = TcpStream::connect(addr(&server)).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert!(
        read_to_close(&mut half).await.is_some(),
        "a connection that never finishes its headers is closed"
    );
    let first = idle.first_mut().unwrap();
    assert!(
        read_to_close(first).await.is_some(),
        "an idle connection is closed"
    );

    // A body that stops half-way: the request fails with request_timeout, naming the body.
    let mut body = TcpStream::connect(addr(&server)).await.unwrap();
    body.write_all(
        format!(
            "POST /v1/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"batch\":[",
            server.ingest_key
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let reply = read_to_close(&mut body)
        .await
        .expect("a stalled body is answered");
    assert!(
        reply.starts_with("HTTP/1.1 408") && reply.contains("request_timeout"),
        "{reply}"
    );
    drop(idle);
    let reply = healthz(&server).await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_the_limit_is_closed_at_once_and_counted() {
    let server = TestServer::start(ServerConfig {
        max_connections: 20,
        header_timeout: Duration::from_secs(2),
        ..ServerConfig::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(TcpStream::connect(addr(&server)).await.unwrap());
    }
    // Wait until the server has accepted them all before the one too many.
    let open = || {
        server
            .state
            .metrics
            .open_connections
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    for _ in 0..200 {
        if open() == 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(open(), 20);
    let mut extra = TcpStream::connect(addr(&server)).await.unwrap();
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let got = read_to_close(&mut extra).await;
    assert!(
        got.as_deref().is_some_and(|r| !r.contains("200 OK")),
        "the 21st connection is closed without an answer: {got:?}"
    );
    assert!(
        server
            .state
            .metrics
            .refused_connections
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    // Once the held ones are gone, the server answers again.
    drop(held);
    for _ in 0..200 {
        if open() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let reply = healthz(&server).await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    server.stop().await;
}

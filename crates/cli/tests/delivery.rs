//! Alerts survive the server and the receiver going down, through the binary: an import queues alerts in the
//! outbox while the webhook receiver is down; `serve` retries them; the server is killed with SIGKILL after
//! the receiver has taken a delivery and before the outbox could mark it; the restarted server sends that
//! alert again with the same `webhook-id`, and every alert arrives.

mod common;
use common::{bw, free_addr, ok};

use axum::http::{HeaderMap, StatusCode};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn serve(dir: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_bellwether"))
        .arg("--data-dir")
        .arg(dir)
        .args(["serve", "--listen", &free_addr()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn outbox(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&ok(bw(dir, &["outbox", "--json", "--limit", "100"]))).unwrap()
}

/// Waits until `f` holds of the outbox, failing after two minutes.
fn wait_for(dir: &std::path::Path, what: &str, f: impl Fn(&serde_json::Value) -> bool) {
    let started = Instant::now();
    loop {
        let o = outbox(dir);
        if f(&o) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{what}: {o:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What the receiver saw: every request's `webhook-id` and body, in order.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_in_the_outbox_arrive_after_restarts_and_a_kill_resends_with_the_same_key() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, book) = (tmp.path().join("data"), tmp.path().join("book"));
    std::fs::create_dir_all(&data).unwrap();
    let hook = free_addr();
    std::fs::write(
        data.join("bellwether.toml"),
        format!(
            "[schedule]\ndaily_pass = \"\"\n\n[delivery]\nmin_severity = \"medium\"\nmax_alerts_per_pass = 5\n\
             lease_seconds = 3\n\n[[delivery.webhooks]]\nname = \"ops\"\nurl = \"http://{hook}/hook\"\n\
             secrets = [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\n"
        ),
    )
    .unwrap();
    ok(bw(
        &data,
        &[
            "simulate",
            "--accounts",
            "300",
            "--seed",
            "4",
            "--out",
            book.to_str().unwrap(),
        ],
    ));
    // The import's pass opens signals and queues their alerts; nothing delivers them yet.
    ok(bw(&data, &["import", book.to_str().unwrap()]));
    let queued = outbox(&data);
    assert_eq!(queued["counts"]["pending"], 5, "{queued:#}");
    let ids: Vec<String> = queued["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["item"]["id"].as_str().unwrap().to_string())
        .collect();

    // The server starts while the receiver is down: every attempt fails and is kept for later.
    let mut server = serve(&data);
    wait_for(&data, "no attempt reached the receiver's address", |o| {
        o["entries"].as_array().unwrap().iter().all(|e| {
            e["attempts"].as_i64() >= Some(1)
                && e["last_error"]
                    .as_str()
                    .is_some_and(|x| x.contains("could not be reached"))
        })
    });

    // The receiver comes up. It takes the first delivery and holds its answer; the server is killed
    // meanwhile, so the outbox never learns that the receiver had it.
    let seen: Seen = Arc::default();
    let (first_tx, first_rx) = tokio::sync::oneshot::channel::<()>();
    let first_tx = Arc::new(Mutex::new(Some(first_tx)));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post({
            let seen = seen.clone();
            move |headers: HeaderMap, body: String| async move {
                let id = headers["webhook-id"].to_str().unwrap().to_string();
                let n = {
                    let mut s = seen.lock().unwrap();
                    s.push((id, body));
                    s.len()
                };
                if n == 1 {
                    if let Some(tx) = first_tx.lock().unwrap().take() {
                        let _ = tx.send(());
                    }
                    std::future::pending::<()>().await;
                }
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(&hook).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    tokio::time::timeout(Duration::from_secs(60), first_rx)
        .await
        .expect("no delivery reached the receiver")
        .unwrap();
    // SAFETY: signalling a child process this test started.
    unsafe {
        libc::kill(server.id() as i32, libc::SIGKILL);
    }
    let _ = server.wait();
    let held = seen.lock().unwrap()[0].clone();
    let o = outbox(&data);
    assert_eq!(
        o["counts"]["pending"], 5,
        "nothing was marked delivered: {o:#}"
    );

    // Restarted: once the dead server's lease has run out, every alert is delivered.
    let mut server = serve(&data);
    wait_for(&data, "the alerts were not all delivered", |o| {
        o["counts"]["delivered"] == 5
    });
    // SAFETY: as above.
    unsafe {
        libc::kill(server.id() as i32, libc::SIGTERM);
    }
    let _ = server.wait();

    let seen = seen.lock().unwrap().clone();
    let mut by_id: HashMap<&str, Vec<&str>> = HashMap::new();
    for (id, body) in &seen {
        by_id.entry(id.as_str()).or_default().push(body.as_str());
    }
    let mut arrived: Vec<&str> = by_id.keys().copied().collect();
    arrived.sort();
    let mut want: Vec<&str> = ids.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(arrived, want, "every alert arrived");
    let again = &by_id[held.0.as_str()];
    assert_eq!(
        again.len(),
        2,
        "the delivery the kill interrupted was sent again with the same webhook-id"
    );
    assert_eq!(again[0], again[1], "the same message");
    assert_eq!(seen.len(), 6, "and no other alert twice");
}

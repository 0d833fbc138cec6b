//! Shared set-up of the delivery tests: the Python of `.venv-test` (made by `scripts/python-test-env.sh`,
//! with slack_sdk and aiosmtpd), and a simulated book on the embedded store whose pass has queued the alerts
//! a delivery configuration decides.

#![allow(dead_code)]

use bellwether_deliver::worker::Worker;
use bellwether_deliver::{Alerts, Channels, DeliveryConfig};
use bellwether_engine::{Clock, Engine};
use bellwether_store::{OutboxCounts, Store};
use bellwether_store_sqlite::SqliteStore;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The Python of `.venv-test`, failing loudly without python3 or PyPI.
pub fn python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::process::Command::new("bash")
        .arg(root.join("scripts/python-test-env.sh"))
        .output()
        .expect("bash runs scripts/python-test-env.sh");
    assert!(
        out.status.success(),
        "scripts/python-test-env.sh failed (the delivery tests need python3 and PyPI):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().into()
}

/// A client program of `tests/clients/`.
pub fn client(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name)
}

/// The SMTP server of `tests/clients/smtp_sink.py` (aiosmtpd), writing what it accepts to `out` as JSON
/// lines; stopped when the guard drops, passing or not.
pub struct SmtpSink(std::process::Child);

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts an SMTP sink on a free loopback port (refusing the first message with 451 when `refuse_first`);
/// returns it once it listens, and its port.
pub fn smtp_sink(out: &Path, refuse_first: bool) -> (SmtpSink, u16) {
    use std::io::BufRead;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = std::process::Command::new(python());
    cmd.arg(client("smtp_sink.py"))
        .env("PORT", port.to_string())
        .env("OUT", out)
        .stdout(std::process::Stdio::piped());
    if refuse_first {
        cmd.env("REFUSE_FIRST", "1");
    }
    let mut child = cmd.spawn().unwrap();
    let mut ready = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready.trim(), "ready");
    (SmtpSink(child), port)
}

/// Runs the client check `script` (in `tests/clients/`) on `items` written as JSON to a file in `dir`, with
/// `args` after the file, failing the test with `what` when it refuses one; its JSON report.
pub fn run_check(
    script: &str,
    dir: &Path,
    items: &[serde_json::Value],
    args: &[&str],
    what: &str,
) -> serde_json::Value {
    let file = dir.join(format!("{script}.json"));
    std::fs::write(&file, serde_json::to_string(items).unwrap()).unwrap();
    let out = std::process::Command::new(python())
        .arg(client(script))
        .arg(&file)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{what}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Reads Slack message bodies with the official slack_sdk's Block Kit models
/// (`tests/clients/check_blocks.py`), failing the test on the first it refuses; its report.
pub fn check_with_slack_sdk(dir: &Path, messages: &[serde_json::Value]) -> serde_json::Value {
    run_check(
        "check_blocks.py",
        dir,
        messages,
        &[],
        "slack_sdk refused a message",
    )
}

/// A fresh embedded store, in a folder kept by the guard.
pub async fn embedded() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("b.db")).await.unwrap();
    (dir, store)
}

/// A simulated book of 300 accounts imported into `store`, after a pass whose alerts `config` decided.
pub async fn book_with_alerts<S: Store>(store: S, config: &DeliveryConfig) -> Arc<S> {
    config.check().unwrap();
    let store = imported_book(store).await;
    pass(&*store, config).await;
    store
}

/// A simulated book of 300 accounts imported into `store`, not assessed yet.
pub async fn imported_book<S: Store>(store: S) -> Arc<S> {
    let store = Arc::new(store);
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("book");
    bellwether_sim::simulate(
        &bellwether_sim::SimConfig {
            accounts: 300,
            seed: 4,
            ..Default::default()
        },
        &book,
        &mut |_| {},
    )
    .unwrap();
    bellwether_ingest::import_dir(&*store, &book, &Default::default())
        .await
        .unwrap();
    store
}

/// A full pass over `store`'s book on the current day, with the alerts `config` decides.
pub async fn pass<S: Store>(store: &S, config: &DeliveryConfig) {
    let engine = Engine {
        alerting: Some(Arc::new(Alerts::new(config.clone(), Default::default()))),
        ..Engine::default()
    };
    let day = bellwether_engine::book_day(store, Clock::Live, None)
        .await
        .unwrap()
        .unwrap();
    bellwether_engine::reassess(store, &engine, None, day)
        .await
        .unwrap();
}

/// Runs two workers of `config`'s channels until nothing is pending (a minute at most); the counts then.
pub async fn deliver_all<S: Store>(store: &Arc<S>, config: &DeliveryConfig) -> OutboxCounts {
    // Two workers at once, as two replicas run them, with the store's people (none configured), their quiet
    // hours and caps, as `serve` runs it; small batches, so one person's alerts are split between them.
    let worker = |holder: &str| {
        let mut w = Worker::new(
            store.clone(),
            Channels::from_config(config).unwrap(),
            holder.into(),
        )
        .with_people(Default::default(), jiff::tz::TimeZone::UTC);
        w.batch = 3;
        w
    };
    let (w1, w2) = (worker("w1"), worker("w2"));
    let started = Instant::now();
    loop {
        let (a, b) = tokio::join!(w1.run_once(), w2.run_once());
        a.unwrap();
        b.unwrap();
        let c = store.outbox_counts().await.unwrap();
        if c.pending == 0 {
            return c;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "still pending: {c:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

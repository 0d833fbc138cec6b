//! Several `bellwether serve` replicas on one PostgreSQL database, as real processes: tracking through
//! either, one killed with SIGKILL in the middle of the load, and every acknowledged event counted exactly
//! once after the others took over its unfinished work (the applier lease, the inbox it left).
//!
//! A replica killed while it runs the scheduled daily pass: another takes the run over once its lease has run
//! out, and the slot runs once.
//!
//! The same harness is the kill test of `scripts/kill-replicas.sh`, which kills a replica at random moments
//! many times (`KILLS`; the ignored test below) and reports acknowledged, stored, lost and double-counted events.

mod common;
use common::{bw, ok};

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Accounts the load spreads over.
const ACCOUNTS: usize = 40;
/// Events per request.
const PER_REQUEST: usize = 50;

struct Replica {
    child: Child,
    addr: String,
    dir: PathBuf,
}

impl Replica {
    /// A replica with a short applier lease, so that a killed replica's work is taken over within seconds,
    /// and no scheduled pass.
    fn start(dir: &Path, url: &str) -> Replica {
        Replica::start_with(dir, url, "[schedule]\ndaily_pass = \"\"\n")
    }

    fn start_with(dir: &Path, url: &str, settings: &str) -> Replica {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join("bellwether.toml"),
            format!("[server]\napplier_lease_seconds = 2\n\n{settings}"),
        )
        .unwrap();
        let addr = common::free_addr();
        let child = Command::new(env!("CARGO_BIN_EXE_bellwether"))
            .arg("--data-dir")
            .arg(dir)
            .args(["--database-url", url, "serve", "--listen", &addr])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        common::wait_listening(&addr);
        Replica {
            child,
            addr,
            dir: dir.to_path_buf(),
        }
    }

    fn kill(&mut self) {
        // SAFETY: sending a signal to a child process this test started has no memory-safety preconditions.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }

    fn stop(&mut self) {
        // SAFETY: as in `kill`.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

/// One POST; the status code, or `None` when the connection failed or was cut (a killed replica).
fn post(addr: &str, key: &str, body: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(
        s,
        "POST /v1/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split(' ').nth(1)?.parse().ok()
}

/// The body of request `n`: [`PER_REQUEST`] track events with ids of their own, each for one account.
fn batch(n: u64) -> String {
    let events: Vec<String> = (0..PER_REQUEST)
        .map(|i| {
            let k = n as usize * PER_REQUEST + i;
            format!(
                r#"{{"type":"track","messageId":"m{n}-{i}","userId":"u{}","event":"Report Exported","timestamp":"2026-11-20T10:00:00Z","context":{{"groupId":"acct-{}"}}}}"#,
                k % 997,
                k % ACCOUNTS
            )
        })
        .collect();
    format!(r#"{{"batch":[{}]}}"#, events.join(","))
}

/// What the load did.
#[derive(Debug, Default)]
struct Report {
    /// Events in requests answered 200 (each request is retried until it is).
    acknowledged: u64,
    /// Events the store counts.
    stored: u64,
    /// Acknowledged events the store does not count.
    lost: u64,
    /// Events the store counts more than once.
    double: u64,
    kills: u32,
    /// Requests acknowledged.
    requests: u64,
    /// Requests that failed (cut by a kill, or refused while a replica took over) and were sent again.
    retried: u64,
}

/// Sends requests from two client threads over the live replicas while one replica is killed (and another
/// started in its place) `kills` times at random moments, and for a second after; every request is retried on
/// another replica until one answers 200, as a Segment client does. Returns the counts once the inbox is
/// applied.
async fn run(kills: u32) -> Report {
    let db = bellwether_store_postgres::testing::fresh().await;
    let url = db.url.clone();
    let tmp = tempfile::tempdir().unwrap();
    let key = ok(bw(
        &tmp.path().join("admin"),
        &[
            "--database-url",
            &url,
            "keys",
            "create",
            "--scope",
            "ingest",
        ],
    ))
    .trim()
    .to_string();
    let replicas: Arc<Mutex<Vec<Replica>>> = Arc::new(Mutex::new(vec![
        Replica::start(&tmp.path().join("r0"), &url),
        Replica::start(&tmp.path().join("r1"), &url),
    ]));
    let next = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let retried = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for c in 0..2u64 {
        let (replicas, next, sent, stop, retried, key) = (
            replicas.clone(),
            next.clone(),
            sent.clone(),
            stop.clone(),
            retried.clone(),
            key.clone(),
        );
        clients.push(std::thread::spawn(move || {
            let mut turn = c as usize;
            loop {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let n = next.fetch_add(1, Ordering::SeqCst);
                let body = batch(n);
                let started = Instant::now();
                loop {
                    let addr = {
                        let r = replicas.lock().unwrap();
                        turn += 1;
                        r[turn % r.len()].addr.clone()
                    };
                    if post(&addr, &key, &body) == Some(200) {
                        break;
                    }
                    retried.fetch_add(1, Ordering::Relaxed);
                    assert!(
                        started.elapsed() < Duration::from_secs(120),
                        "request {n} was never acknowledged"
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
                sent.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    // The killer: at random moments of the load, SIGKILL one replica and start another in its place.
    let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ std::process::id() as u64;
    let mut killed = 0;
    let mut generation = 2;
    while killed < kills {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(300 + rng % 1_200));
        let mut r = replicas.lock().unwrap();
        let victim = (rng >> 20) as usize % r.len();
        r[victim].kill();
        killed += 1;
        let dir = tmp.path().join(format!("r{generation}"));
        generation += 1;
        // The replacement starts while the survivor serves (its start is outside the lock's reach of the
        // clients only for the moment it takes to bind).
        drop(r);
        let fresh = Replica::start(&dir, &url);
        let mut r = replicas.lock().unwrap();
        let old = std::mem::replace(&mut r[victim], fresh);
        let _ = std::fs::remove_dir_all(&old.dir);
    }
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    let requests = sent.load(Ordering::SeqCst);
    assert_eq!(
        requests,
        next.load(Ordering::SeqCst),
        "every request was acknowledged"
    );
    let acknowledged = requests * PER_REQUEST as u64;
    // Everything acknowledged is applied once some replica holds the applier lease and has read the inbox.
    let store = db.store().await;
    use bellwether_store::{LiveStore, Store};
    let started = Instant::now();
    while store.inbox_count().await.unwrap() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the inbox was not applied: {} messages wait",
            store.inbox_count().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let series = store.load_series(None).await.unwrap();
    let mut stored = 0.0;
    for (_, s) in &series {
        if let Some(e) = s.get("event:Report Exported") {
            stored += e.points.iter().map(|p| p.1).sum::<f64>();
        }
    }
    let stored = stored as u64;
    for r in replicas.lock().unwrap().iter_mut() {
        r.stop();
    }
    drop(db);
    Report {
        acknowledged,
        stored,
        lost: acknowledged.saturating_sub(stored),
        double: stored.saturating_sub(acknowledged),
        kills: killed,
        requests,
        retried: retried.load(Ordering::Relaxed),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_load_loses_and_doubles_nothing() {
    let r = run(1).await;
    assert_eq!(r.kills, 1, "{r:?}");
    assert!(r.requests > 0, "{r:?}");
    assert_eq!((r.lost, r.double), (0, 0), "{r:?}");
    assert_eq!(r.stored, r.requests * PER_REQUEST as u64, "{r:?}");
}

/// The long form, run by `scripts/kill-replicas.sh` (`KILLS`): prints the report as JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run by scripts/kill-replicas.sh"]
async fn replicas_killed_at_random_moments() {
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let kills = env("KILLS", 20) as u32;
    let r = run(kills).await;
    println!(
        "{{\"kills\":{},\"requests\":{},\"acknowledged\":{},\"stored\":{},\"lost\":{},\"double_counted\":{},\"retried_requests\":{}}}",
        r.kills, r.requests, r.acknowledged, r.stored, r.lost, r.double, r.retried
    );
    assert!(r.kills >= kills.min(1), "{r:?}");
    assert_eq!((r.lost, r.double), (0, 0), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_while_running_the_daily_pass_is_taken_over_and_the_slot_runs_once() {
    use bellwether_store::{JobState, LiveStore, Store};
    let db = bellwether_store_postgres::testing::fresh().await;
    let tmp = tempfile::tempdir().unwrap();
    let book = tmp.path().join("book");
    let admin = tmp.path().join("admin");
    ok(bw(
        &admin,
        &[
            "simulate",
            "--accounts",
            "1500",
            "--seed",
            "11",
            "--out",
            book.to_str().unwrap(),
        ],
    ));
    ok(bw(
        &admin,
        &["--database-url", &db.url, "import", book.to_str().unwrap()],
    ));
    // Every minute, a lease of 10 s, looked at every second.
    let schedule = "[schedule]\ndaily_pass = \"* * * * *\"\nlease_seconds = 10\ntick_seconds = 1\n";
    let mut replicas = [
        Replica::start_with(&tmp.path().join("r0"), &db.url, schedule),
        Replica::start_with(&tmp.path().join("r1"), &db.url, schedule),
    ];
    let store = db.store().await;
    // The next minute's slot: whichever replica claims it is killed while it runs.
    let started = Instant::now();
    let run = loop {
        let runs = store.job_runs(Some("daily_pass"), 1).await.unwrap();
        if let Some(r) = runs.into_iter().find(|r| r.state == JobState::Running) {
            break r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "no replica ran the daily pass"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let victim = replicas
        .iter()
        .position(|r| run.holder.ends_with(&format!(":{}", r.child.id())))
        .unwrap_or_else(|| panic!("the holder {} is no replica", run.holder));
    replicas[victim].kill();
    let after_kill = store.job_runs(Some("daily_pass"), 5).await.unwrap();
    let slot = after_kill.iter().find(|r| r.slot == run.slot).unwrap();
    assert_eq!(
        slot.state,
        JobState::Running,
        "the pass finished before the kill reached it; a larger book makes it longer: {slot:?}"
    );
    // The survivor takes it over once the lease has run out, and runs it to the end, once.
    let survivor = &replicas[1 - victim];
    let taken = loop {
        let runs = store.job_runs(Some("daily_pass"), 5).await.unwrap();
        let r = runs.into_iter().find(|r| r.slot == run.slot).unwrap();
        if r.state != JobState::Running {
            break r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(150),
            "the run was not taken over: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(taken.state, JobState::Succeeded, "{}", taken.outcome);
    assert_eq!(
        taken.attempts, 2,
        "claimed by the killed replica, then once more"
    );
    assert!(
        taken.holder.ends_with(&format!(":{}", survivor.child.id())),
        "{} took it over",
        taken.holder
    );
    assert!(taken.outcome.starts_with("assessed 1"), "{}", taken.outcome);
    assert!(!store.assessments(None).await.unwrap().is_empty());
    // What `bellwether jobs` shows of it: the next run, the run taken over, who applies the inbox.
    let shown = ok(bw(
        &survivor.dir,
        &["--database-url", &db.url, "jobs", "--limit", "50"],
    ));
    assert!(
        shown.contains("daily_pass             next run "),
        "{shown}"
    );
    let line = shown
        .lines()
        .find(|l| l.starts_with("daily_pass ") && l.contains(&run.slot.to_string()))
        .unwrap_or_else(|| panic!("no line of the run in:\n{shown}"));
    assert!(
        line.contains("ok") && line.contains("(2 attempts)"),
        "{line}"
    );
    assert!(shown.contains("apply_tracking         held by "), "{shown}");
    for r in replicas.iter_mut() {
        r.stop();
    }
}

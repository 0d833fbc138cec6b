//! Ingest benchmark (see BENCHMARKS.md and benches/server.sh): durable `/v1/batch` throughput on loopback
//! next to a raw bulk insert of the same rows into the same kind of database in the same run, then the lag
//! from an accepted event to its account's updated health under a steady trickle of small batches.
//!
//! `cargo run --release -p bellwether-server --example ingest_bench -- [EVENTS] [CONNECTIONS] [sqlite|postgres]
//! [REPLICAS]`
//!
//! With `postgres` the server runs on a fresh PostgreSQL database of the server the test harness finds
//! (`BELLWETHER_TEST_DATABASE_URL`, else 127.0.0.1:5432), and the baseline is a bare multi-row `INSERT` of the
//! same rows into one table there, committing per batch as the requests do. `REPLICAS` (default 1) servers
//! run on that one database, in this process, each with its own connection pool and applier thread; the
//! client connections are spread over them round-robin, and one of them applies (the applier lease).

use bellwether_engine::Engine;

// The same allocator as the `bellwether` binary that runs the server.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use bellwether_server::ServerConfig;
use bellwether_store::{KeyScope, LiveStore};
use bellwether_store_sqlite::SqliteStore;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ACCOUNTS: usize = 1_000;
const USERS: usize = 20_000;
const BATCH: usize = 1_000;
const EVENT_NAMES: &[&str] = &[
    "Report Exported",
    "Dashboard Viewed",
    "Login",
    "Invite Sent",
    "Search",
    "Filter Applied",
    "Comment Added",
    "File Uploaded",
    "Export CSV",
    "Settings Changed",
];

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: &str) -> Conn {
        let s = TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        Conn { s, buf: Vec::new() }
    }

    async fn post(&mut self, host: &str, key: &str, body: &[u8]) -> u16 {
        let head = format!(
            "POST /v1/batch HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.s.write_all(head.as_bytes()).await.unwrap();
        self.s.write_all(body).await.unwrap();
        self.buf.clear();
        let mut chunk = [0u8; 8192];
        loop {
            let n = self.s.read(&mut chunk).await.unwrap();
            assert!(n > 0, "server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .unwrap_or(0);
                while self.buf.len() < end + 4 + len {
                    let n = self.s.read(&mut chunk).await.unwrap();
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                return head[9..12].parse().unwrap();
            }
        }
    }
}

fn rows(n: usize, seed: u64) -> Vec<(String, String, String, String)> {
    let mut x = seed;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let user = (x % USERS as u64) as usize;
            let event = EVENT_NAMES[(x >> 20) as usize % EVENT_NAMES.len()];
            let day = 1 + (x >> 32) % 28;
            (
                format!("m-{seed}-{i}"),
                format!("user-{user}"),
                event.to_string(),
                format!("2026-01-{day:02}T12:00:00Z"),
            )
        })
        .collect()
}

fn batch_body(rows: &[(String, String, String, String)]) -> Vec<u8> {
    let msgs: Vec<serde_json::Value> = rows
        .iter()
        .map(|(id, user, event, ts)| {
            serde_json::json!({"type": "track", "messageId": id, "userId": user, "event": event, "timestamp": ts,
                "properties": {"plan": "pro"}, "context": {"library": {"name": "bench"}}})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "batch": msgs })).unwrap()
}

fn raw_sqlite(
    dir: &std::path::Path,
    rows: &[(String, String, String, String)],
    per_commit: usize,
) -> f64 {
    let path = dir.join(format!("raw-{per_commit}.db"));
    let mut c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; CREATE TABLE events (message_id TEXT PRIMARY KEY, account_id TEXT, user_id TEXT, event TEXT, ts TEXT) WITHOUT ROWID;").unwrap();
    let t = Instant::now();
    for part in rows.chunks(per_commit) {
        let tx = c.transaction().unwrap();
        {
            let mut st = tx
                .prepare_cached("INSERT INTO events VALUES (?1, ?2, ?3, ?4, ?5)")
                .unwrap();
            for (id, user, event, ts) in part {
                let account = format!("acct-{}", user[5..].parse::<usize>().unwrap() % ACCOUNTS);
                st.execute(rusqlite::params![id, account, user, event, ts])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    rows.len() as f64 / t.elapsed().as_secs_f64()
}

/// A bare PostgreSQL insert of the same rows into one keyed table: multi-row `INSERT … VALUES` statements of
/// `BATCH` rows, committing every `per_commit` rows, with the server's default durability.
async fn raw_postgres(
    url: &str,
    rows: &[(String, String, String, String)],
    per_commit: usize,
) -> f64 {
    let (mut c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let table = format!("raw_{per_commit}");
    c.batch_execute(&format!(
        "CREATE TABLE {table} (message_id TEXT PRIMARY KEY, account_id TEXT, user_id TEXT, event TEXT, ts TEXT)"
    ))
    .await
    .unwrap();
    let owned: Vec<[String; 5]> = rows
        .iter()
        .map(|(id, user, event, ts)| {
            let account = format!("acct-{}", user[5..].parse::<usize>().unwrap() % ACCOUNTS);
            [id.clone(), account, user.clone(), event.clone(), ts.clone()]
        })
        .collect();
    let t = Instant::now();
    for part in owned.chunks(per_commit) {
        let tx = c.transaction().await.unwrap();
        for stmt in part.chunks(BATCH) {
            let values: Vec<String> = (0..stmt.len())
                .map(|i| {
                    format!(
                        "(${}, ${}, ${}, ${}, ${})",
                        5 * i + 1,
                        5 * i + 2,
                        5 * i + 3,
                        5 * i + 4,
                        5 * i + 5
                    )
                })
                .collect();
            let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = stmt
                .iter()
                .flat_map(|r| {
                    r.iter()
                        .map(|v| v as &(dyn tokio_postgres::types::ToSql + Sync))
                })
                .collect();
            tx.execute(
                &format!("INSERT INTO {table} VALUES {}", values.join(", ")),
                &params,
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }
    rows.len() as f64 / t.elapsed().as_secs_f64()
}

/// User and system CPU time of the whole process so far, from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // Fields 14 and 15 (utime, stime) in clock ticks of 1/100 s; `after` starts at field 3.
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

/// Where the run's store is, for its baseline.
enum Backend {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let events: usize = args.get(1).map(|a| a.parse().unwrap()).unwrap_or(200_000);
    let conns: usize = args.get(2).map(|a| a.parse().unwrap()).unwrap_or(4);
    let dir = tempfile::tempdir().unwrap();
    match args.get(3).map(String::as_str) {
        Some("postgres") => {
            let replicas: usize = args.get(4).map(|a| a.parse().unwrap()).unwrap_or(1);
            let db = bellwether_store_postgres::testing::fresh().await;
            let mut stores = Vec::new();
            for _ in 0..replicas.max(1) {
                stores.push(Arc::new(db.store().await));
            }
            println!("backend postgres, {} replicas", stores.len());
            run(stores, events, conns, Backend::Postgres(db.url.clone())).await;
        }
        _ => {
            let store = SqliteStore::open(&dir.path().join("bellwether.db"))
                .await
                .unwrap();
            println!("backend sqlite");
            run(
                vec![Arc::new(store)],
                events,
                conns,
                Backend::Sqlite(dir.path().to_path_buf()),
            )
            .await;
        }
    }
}

async fn run<S: LiveStore>(stores: Vec<Arc<S>>, events: usize, conns: usize, backend: Backend) {
    let (key, record) = bellwether_server::auth::new_key(KeyScope::Ingest, "bench").unwrap();
    stores[0].create_key(&record).await.unwrap();
    let mut replicas = Vec::new();
    for store in &stores {
        let (state, tasks) =
            bellwether_server::start(store.clone(), Engine::default(), ServerConfig::default())
                .await
                .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        let server = tokio::spawn(async move {
            bellwether_server::serve(listener, st, tasks, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        replicas.push((state, addr, stop, server));
    }
    let addrs: Vec<String> = replicas.iter().map(|r| r.1.clone()).collect();
    let settle_all = || async {
        for r in &replicas {
            r.0.settle().await;
        }
    };
    let (state, addr) = (replicas[0].0.clone(), addrs[0].clone());

    // Every user joins an account first (group calls), so the tracks below are attributed by link.
    let mut c = Conn::open(&addr).await;
    for part in (0..USERS).collect::<Vec<_>>().chunks(BATCH) {
        let msgs: Vec<serde_json::Value> = part
            .iter()
            .map(|u| serde_json::json!({"type": "group", "messageId": format!("g-{u}"), "userId": format!("user-{u}"), "groupId": format!("acct-{}", u % ACCOUNTS), "timestamp": "2026-01-01T00:00:00Z"}))
            .collect();
        assert_eq!(
            c.post(
                &addr,
                &key,
                &serde_json::to_vec(&serde_json::json!({"batch": msgs})).unwrap()
            )
            .await,
            200
        );
    }
    state.settle().await;

    let all = rows(events, 7);
    let bodies: Vec<Vec<u8>> = all.chunks(BATCH).map(batch_body).collect();
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    let bodies = Arc::new(bodies);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    let mut workers = Vec::new();
    for w in 0..conns {
        let (bodies, next, addr, key) = (
            bodies.clone(),
            next.clone(),
            addrs[w % addrs.len()].clone(),
            key.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut c = Conn::open(&addr).await;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(b) = bodies.get(i) else { break };
                assert_eq!(c.post(&addr, &key, b).await, 200);
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let http = events as f64 / t.elapsed().as_secs_f64();
    println!(
        "http_events_per_s {http:.0} (process CPU {:.1} µs per event, client included)",
        (cpu_seconds() - cpu0) * 1e6 / events as f64
    );
    settle_all().await;
    let applied = events as f64 / t.elapsed().as_secs_f64();
    let (raw_batch, raw_one) = match &backend {
        Backend::Sqlite(dir) => (
            raw_sqlite(dir, &all, BATCH),
            raw_sqlite(dir, &all, all.len()),
        ),
        Backend::Postgres(url) => (
            raw_postgres(url, &all, BATCH).await,
            raw_postgres(url, &all, all.len()).await,
        ),
    };
    let raw = match backend {
        Backend::Sqlite(_) => "raw_sqlite",
        Backend::Postgres(_) => "raw_postgres",
    };
    println!(
        "events {events}, batches of {BATCH} ({} KB each), {conns} connections",
        bytes / bodies.len() / 1024
    );
    println!("applied_and_reassessed_events_per_s {applied:.0}");
    println!(
        "{raw}_per_batch_commit_events_per_s {raw_batch:.0} (ratio {:.2})",
        http / raw_batch
    );
    println!(
        "{raw}_one_transaction_events_per_s {raw_one:.0} (ratio {:.2})",
        http / raw_one
    );

    // Lag: 20 small batches a second for 10 s, each touching a few accounts; the server records the time from
    // accepting a batch to the end of the re-assessment pass that covers it.
    let mut c = Conn::open(&addr).await;
    let trickle = rows(2_000, 11);
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let mut lags = Vec::new();
    for (i, part) in trickle.chunks(10).enumerate() {
        tick.tick().await;
        let t = Instant::now();
        assert_eq!(c.post(&addr, &key, &batch_body(part)).await, 200);
        if i % 10 == 0 {
            // Every tenth batch is followed until its accounts are re-assessed, measured from the client side.
            state.settle().await;
            lags.push(t.elapsed().as_secs_f64());
        }
    }
    lags.sort_by(f64::total_cmp);
    let q = |p: f64| lags[((p * lags.len() as f64).ceil() as usize).clamp(1, lags.len()) - 1];
    println!(
        "lag_samples {} p50 {:.3}s p99 {:.3}s (server-side p99 over every pass of the run {:.3}s)",
        lags.len(),
        q(0.5),
        q(0.99),
        state.metrics.lag_quantile(0.99).unwrap_or(0.0)
    );
    drop(state);
    for (state, _, stop, server) in replicas {
        drop(state);
        let _ = stop.send(());
        server.await.unwrap();
    }
}

//! PostgreSQL restarted while Segment's Python library sends: requests that find the database down are
//! answered 503 with `Retry-After`, the client retries, the server reconnects by itself, and every event
//! lands exactly once. The database is a server of the test's own, so that restarting it disturbs nothing else.

mod common;

use bellwether_engine::Engine;
use bellwether_server::ServerConfig;
use bellwether_store_postgres::testing::{fresh_on, OwnServer};
use common::TestServer;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_during_ingest_by_a_real_sdk_loses_nothing_acknowledged() {
    let mut pg = OwnServer::new().unwrap();
    pg.start().unwrap();
    let db = fresh_on(&pg.admin_url()).await;
    let server = TestServer::start_on(
        db.store().await,
        tempfile::tempdir().unwrap(),
        None,
        ServerConfig::default(),
        Engine::default(),
    )
    .await;
    let (accounts, batches, per_batch) = (10, 40, 50);
    let key = server.ingest_key.clone();
    let env = [
        ("WRITE_KEY", key.as_str()),
        ("ACCOUNTS", "10"),
        ("BATCHES", "40"),
        ("PER_BATCH", "50"),
        ("PAUSE", "0.1"),
    ];
    let answered = |status: u16| {
        let prefix =
            format!("bellwether_http_requests_total{{route=\"/v1/batch\",status=\"{status}\"}}");
        server
            .state
            .metrics
            .render(None)
            .lines()
            .find(|l| l.starts_with(&prefix))
            .map_or(0, |l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
    };
    let restart = async {
        // Once the client has had a few batches acknowledged (of 40, 0.1 s apart): down for two seconds,
        // then back on the same port and data.
        let waiting = std::time::Instant::now();
        while answered(200) < 3 {
            assert!(
                waiting.elapsed() < Duration::from_secs(60),
                "the client sent nothing"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::task::block_in_place(|| pg.stop());
        tokio::time::sleep(Duration::from_secs(2)).await;
        tokio::task::block_in_place(|| pg.start()).unwrap();
    };
    let (out, ()) = tokio::join!(server.run_client("send_steady.py", &env), restart);
    let sent: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(sent["sent"], batches * per_batch, "{out}");
    let refused = answered(503);
    assert!(refused > 0, "no request found the database down");
    server.state.settle().await;
    let mut stored = 0.0;
    for a in 0..accounts {
        stored += server
            .point(
                &format!("acct-{a}"),
                "event:Report Exported",
                bellwether_core::Day::ymd(2026, 11, 20),
            )
            .await;
    }
    assert_eq!(
        stored as i64,
        batches * per_batch,
        "every event acknowledged is stored once ({refused} requests were refused and retried)"
    );
    server.stop().await;
    drop(db);
}

//! Accounts whose data a server stored but did not live to re-assess (killed between the write and its
//! pass) are re-assessed by the next server on the store: their marks are taken up at start, on the embedded
//! store and on PostgreSQL.

mod common;

use bellwether_core::Timestamp;
use bellwether_engine::Engine;
use bellwether_server::ServerConfig;
use bellwether_store::{LiveBatch, LiveStore};
use common::TestServer;
use std::time::{Duration, Instant};

async fn marks_left_behind_are_taken_up<S: LiveStore>(
    store: S,
    keep: Option<Box<dyn std::any::Any + Send + Sync>>,
) {
    // A write whose server stopped before its pass: the accounts are marked, nothing is assessed.
    store
        .write_live(LiveBatch {
            batch: bellwether_store_conformance::every_kind(),
            ..Default::default()
        })
        .await
        .unwrap();
    let later = || Timestamp(Timestamp::now().0 + 60_000);
    let due = store.due_accounts(later(), 100).await.unwrap();
    assert!(!due.is_empty());
    assert!(store.assessments(None).await.unwrap().is_empty());
    let server = TestServer::start_on(
        store,
        tempfile::tempdir().unwrap(),
        keep,
        ServerConfig::default(),
        Engine::default(),
    )
    .await;
    let started = Instant::now();
    while !server
        .store
        .due_accounts(later(), 100)
        .await
        .unwrap()
        .is_empty()
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the marks were not taken up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let assessed: Vec<_> = server
        .store
        .assessments(None)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.account_id)
        .collect();
    // Every left-behind account still a customer is assessed (one that had ended is not, though its mark is
    // cleared all the same).
    assert!(
        !assessed.is_empty() && assessed.iter().all(|a| due.contains(a)),
        "assessed {assessed:?} of {due:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marks_left_behind_are_taken_up_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = bellwether_store_sqlite::SqliteStore::open(&dir.path().join("b.db"))
        .await
        .unwrap();
    marks_left_behind_are_taken_up(store, Some(Box::new(dir))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marks_left_behind_are_taken_up_on_postgres() {
    let db = bellwether_store_postgres::testing::fresh().await;
    let store = db.store().await;
    marks_left_behind_are_taken_up(store, Some(Box::new(db))).await;
}

//! Times the incremental re-assessment of one account in a long-running process, as the server makes it
//! after data for that account arrives: features, health, signals and every active model's probability with
//! drivers, stored. The process first prepares its passes as the server does at start (`Engine::warm`: the
//! open model, the book's currencies); each run is then what a live re-assessment costs.
//!
//! `cargo run --release -p bellwether-predict --example reassess_one -- STORE ACCOUNT [RUNS]`, where STORE is
//! `DATA_DIR/bellwether.db` (the embedded store) or a `postgres://` URL.

use bellwether_core::AccountId;
use bellwether_engine::{book_day, reassess, Clock, Engine, ModelPolicy};
use bellwether_store::Store;
use bellwether_store_postgres::{PgSettings, PgStore};
use bellwether_store_sqlite::SqliteStore;
use std::time::Instant;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(db), Some(account)) = (args.next(), args.next()) else {
        eprintln!("usage: reassess_one DATABASE ACCOUNT [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        let store = PgStore::open(&PgSettings::new(&db))
            .await
            .expect("open the store");
        time(&store, &account, runs).await;
    } else {
        let store = SqliteStore::open(std::path::Path::new(&db))
            .await
            .expect("open the store");
        time(&store, &account, runs).await;
    }
}

async fn time<S: Store>(store: &S, account: &str, runs: usize) {
    let engine = Engine {
        models: Some(bellwether_predict::score::models(ModelPolicy {
            score: true,
            retrain_days: 0,
        })),
        ..Engine::default()
    };
    let t = Instant::now();
    engine.warm(store).await.expect("prepare the passes");
    println!("prepared in {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let ids = [AccountId::from(account)];
    for run in 1..=runs {
        let t = Instant::now();
        let day = book_day(store, Clock::Files, None)
            .await
            .expect("the book's day")
            .expect("a book with data");
        let out = reassess(store, &engine, Some(&ids), day)
            .await
            .expect("re-assess");
        println!(
            "run {run}: {:.1} ms in all (load {:.1} ms, compute {:.1} ms of which models {:.1} ms, save {:.1} ms); {} predictions, model version {:?}",
            t.elapsed().as_secs_f64() * 1e3,
            out.load_seconds * 1e3,
            out.compute_seconds * 1e3,
            out.model_seconds * 1e3,
            out.save_seconds * 1e3,
            out.predictions.len(),
            out.model.version
        );
    }
}

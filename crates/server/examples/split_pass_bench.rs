//! The daily pass split across replicas (see BENCHMARKS.md and benches/replicas.sh): on one PostgreSQL
//! database holding a simulated book, the pass run by one process, split into buckets over two processes'
//! schedulers, and split with one process doing every bucket, alternated `RUNS` times in the same run.
//! Prints each pass's wall time and which process ran which buckets.
//!
//! `cargo run --release -p bellwether-server --example split_pass_bench -- [ACCOUNTS] [BUCKETS] [RUNS]`
//!
//! The two "processes" are two schedulers in this process, each with its own connection pool, as two
//! replicas on one machine would share its cores.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use bellwether_core::Timestamp;
use bellwether_engine::Engine;
use bellwether_server::schedule::{ScheduleConfig, Scheduler};
use bellwether_store::LiveStore;
use std::sync::Arc;
use std::time::Instant;

/// Milliseconds of 2026-12-01T00:00:00Z.
const DEC_1: i64 = 1_796_083_200_000;
const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let accounts: usize = args.get(1).map_or(20_000, |a| a.parse().unwrap());
    let buckets: usize = args.get(2).map_or(8, |a| a.parse().unwrap());
    let runs: usize = args.get(3).map_or(3, |a| a.parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("book");
    bellwether_sim::simulate(
        &bellwether_sim::SimConfig {
            accounts,
            seed: 17,
            ..Default::default()
        },
        &book,
        &mut |_| {},
    )
    .unwrap();
    let db = bellwether_store_postgres::testing::fresh().await;
    let (a_store, b_store) = (Arc::new(db.store().await), Arc::new(db.store().await));
    let t = Instant::now();
    bellwether_ingest::import_dir(&*a_store, &book, &Default::default())
        .await
        .unwrap();
    println!(
        "accounts {accounts}, buckets {buckets}; imported in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let engine = Arc::new(Engine::default());
    let whole = ScheduleConfig {
        daily_pass: "0 6 * * *".into(),
        tick_seconds: 1,
        ..ScheduleConfig::default()
    };
    let split = ScheduleConfig {
        pass_buckets: buckets,
        ..whole.clone()
    };
    let mut one = Scheduler::new(a_store.clone(), engine.clone(), &whole, "one".into()).unwrap();
    let mut a = Scheduler::new(a_store.clone(), engine.clone(), &split, "a".into()).unwrap();
    let mut b = Scheduler::new(b_store.clone(), engine.clone(), &split, "b".into()).unwrap();
    let mut solo = Scheduler::new(a_store.clone(), engine.clone(), &split, "solo".into()).unwrap();
    // Every scheduler first looks before the first slot, so each day's 06:00 is due at its 07:00.
    let at = |day: i64, h: i64| Timestamp(DEC_1 + day * DAY + h * HOUR);
    for s in [&mut one, &mut a, &mut b, &mut solo] {
        s.tick(at(0, 5)).await.unwrap();
    }
    let mut day = 0;
    for run in 1..=runs {
        // One process, the whole pass.
        let t = Instant::now();
        let r = one.tick(at(day, 7)).await.unwrap();
        println!(
            "run {run} one_process {:.2} s: {}",
            t.elapsed().as_secs_f64(),
            r[0].outcome
        );
        day += 1;
        a.tick(at(day - 1, 7)).await.unwrap();
        b.tick(at(day - 1, 7)).await.unwrap();
        solo.tick(at(day - 1, 7)).await.unwrap();
        // Two processes share the buckets.
        let t = Instant::now();
        let slot = at(day, 6);
        let (ra, rb) = tokio::join!(
            a.tick_until_ended(at(day, 7), "daily_pass", slot),
            b.tick_until_ended(at(day, 7), "daily_pass", slot)
        );
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        let wall = t.elapsed().as_secs_f64();
        let split_runs = a_store.job_runs(None, 4 * buckets + 16).await.unwrap();
        let by = |h: &str| {
            split_runs
                .iter()
                .filter(|r| {
                    r.slot == at(day, 6)
                        && r.name.starts_with("daily_pass:bucket:")
                        && r.holder == h
                })
                .count()
        };
        let pass = ra
            .iter()
            .chain(&rb)
            .find(|r| r.name == "daily_pass")
            .unwrap();
        println!(
            "run {run} two_processes {wall:.2} s (buckets: a {}, b {}): {}",
            by("a"),
            by("b"),
            pass.outcome
        );
        day += 1;
        one.tick(at(day - 1, 7)).await.unwrap();
        solo.tick(at(day - 1, 7)).await.unwrap();
        // One process doing every bucket: what the book-wide step costs.
        let t = Instant::now();
        let r = solo.tick(at(day, 7)).await.unwrap();
        let pass = r.iter().find(|r| r.name == "daily_pass").unwrap();
        println!(
            "run {run} one_process_in_buckets {:.2} s: {}",
            t.elapsed().as_secs_f64(),
            pass.outcome
        );
        day += 1;
        one.tick(at(day - 1, 7)).await.unwrap();
        a.tick(at(day - 1, 7)).await.unwrap();
        b.tick(at(day - 1, 7)).await.unwrap();
    }
}

//! Times one CSM's worklist and every CSM's weekly digest on a stored book, against reading the whole
//! current list and filtering it (what the worklist did before it had an owner index):
//! `cargo run --release -p bellwether-deliver --example worklist_bench -- DATA_DIR/bellwether.db [RUNS]`.
//! Prints each measurement's median of RUNS (default 7) warm runs. It queues every digest in that store's
//! outbox (this week's, once): run it on a copy of the data.

use bellwether_deliver::digest;
use bellwether_deliver::people::People;
use bellwether_store::Store;
use bellwether_store_sqlite::SqliteStore;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: worklist_bench DATABASE [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(7);
    let store = SqliteStore::open(std::path::Path::new(path)).await.unwrap();
    let all = store.assessments(None).await.unwrap();
    let mut count: std::collections::HashMap<&str, usize> = Default::default();
    for a in &all {
        if let Some(o) = &a.owner {
            *count.entry(o).or_default() += 1;
        }
    }
    let (owner, n) = count.iter().max_by_key(|(o, n)| (**n, *o)).unwrap();
    let owner = owner.to_string();
    println!(
        "{} current accounts, {} owners; the largest book: {owner} with {n} accounts",
        all.len(),
        count.len()
    );
    let time = |label: &str, v: Vec<f64>| {
        let m = median(v.clone());
        println!(
            "{label}: median {:.1} ms of {runs} ({:?})",
            m * 1e3,
            v.iter()
                .map(|x| (x * 1e4).round() / 10.0)
                .collect::<Vec<_>>()
        );
        m
    };
    // Each measured in its own warm runs: a read right after the whole list's (the baseline) pays for that
    // read's memory (see BENCHMARKS.md), which a server serving one CSM's list does not.
    let mut new = Vec::new();
    for _ in 0..=runs {
        let t = Instant::now();
        let items = bellwether_engine::worklist::read(&store, Some(&owner), 10)
            .await
            .unwrap();
        assert_eq!(items.len(), 10.min(*n));
        new.push(t.elapsed().as_secs_f64());
    }
    let mut old = Vec::new();
    let mut after = Vec::new();
    for _ in 0..=runs {
        let t = Instant::now();
        let rows = store.assessments(None).await.unwrap();
        let items =
            bellwether_engine::worklist::worklist(&rows, Some(&owner), 10, &Default::default());
        assert_eq!(items.len(), 10.min(*n));
        old.push(t.elapsed().as_secs_f64());
        drop(rows);
        let t = Instant::now();
        bellwether_engine::worklist::read(&store, Some(&owner), 10)
            .await
            .unwrap();
        after.push(t.elapsed().as_secs_f64());
    }
    let t = Instant::now();
    let rows = store.owner_assessments(&owner).await.unwrap();
    let t1 = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let _ = store
        .signals(bellwether_store::SignalFilter {
            accounts: Some(rows.iter().map(|a| a.account_id.clone()).collect()),
            ..Default::default()
        })
        .await
        .unwrap();
    println!(
        "of which: the owner's assessments {:.1} ms, their signals {:.1} ms",
        t1 * 1e3,
        t.elapsed().as_secs_f64() * 1e3
    );
    // The first of each is a warm-up.
    let a = time(
        "one CSM's worklist (owner index, signals' statuses now)",
        new[1..].to_vec(),
    );
    let b = time(
        "baseline: the whole current list read and filtered",
        old[1..].to_vec(),
    );
    println!("ratio: {:.1}x", b / a);
    time(
        "one CSM's worklist right after a whole-list read",
        after[1..].to_vec(),
    );
    let mut build = Vec::new();
    for _ in 0..runs.min(3) {
        let t = Instant::now();
        let when = digest::When {
            now: bellwether_core::Timestamp::now(),
            people: &People::default(),
            fallback: &jiff::tz::TimeZone::UTC,
        };
        let d = digest::build(&store, None, &Default::default(), when)
            .await
            .unwrap();
        assert_eq!(d.len(), count.len());
        build.push(t.elapsed().as_secs_f64());
    }
    time("every CSM's digest, built", build);
    let config = bellwether_deliver::DeliveryConfig {
        smtp_url: Some("smtp://127.0.0.1:9".into()),
        ..Default::default()
    };
    let t = Instant::now();
    // Queued in the outbox of the store measured: run it on a copy.
    let (d, queued) = digest::queue(
        &store,
        None,
        &config,
        &People::default(),
        bellwether_core::Timestamp::now(),
        &jiff::tz::TimeZone::UTC,
    )
    .await
    .unwrap();
    println!(
        "every CSM's digest, built and queued in the outbox: {:.2} s ({} digests, {queued} entries)",
        t.elapsed().as_secs_f64(),
        d.len()
    );
}

//! Generates a simulated book and prints what was written and how long it took.
//!
//! `cargo run --release -p bellwether-sim --example simulate -- [ACCOUNTS] [OUT_DIR] [--self-serve] [--daily] [--seed N] [--threads N]`
//!
//! `--self-serve` writes the self-serve profile with its defaults (165 days of history).

use bellwether_sim::{simulate_threads, Profile, SimConfig};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let mut cfg = SimConfig::default();
    let mut out = PathBuf::from("bench-out/sim");
    let mut threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let mut args = std::env::args().skip(1);
    let mut positional = 0;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--self-serve" => {
                cfg = SimConfig {
                    accounts: cfg.accounts,
                    seed: cfg.seed,
                    daily_metrics: cfg.daily_metrics,
                    ..SimConfig::for_profile(Profile::SelfServe)
                }
            }
            "--daily" => cfg.daily_metrics = true,
            "--seed" => cfg.seed = args.next().and_then(|v| v.parse().ok()).expect("--seed N"),
            "--threads" => {
                threads = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--threads N")
            }
            _ if positional == 0 => {
                cfg.accounts = a.parse().expect("ACCOUNTS is a number");
                positional += 1;
            }
            _ => out = PathBuf::from(a),
        }
    }
    let t = Instant::now();
    let mut last = 0;
    let summary = simulate_threads(&cfg, &out, threads, &mut |p| {
        let pct = p.accounts_done * 10 / p.accounts_total.max(1);
        if pct != last {
            last = pct;
            eprintln!(
                "{:>3}% {} accounts, {} events",
                pct * 10,
                p.accounts_done,
                p.events_written
            );
        }
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let secs = t.elapsed().as_secs_f64();
    println!(
        "profile {} version {} accounts {} threads {} seconds {:.2}",
        summary.profile.as_str(),
        summary.version,
        summary.accounts,
        threads,
        secs
    );
    println!(
        "events {} daily_metric_rows {} tickets {} billing {} interactions {} contacts {} subscriptions {} changes {} outcomes {}",
        summary.events,
        summary.daily_metric_rows,
        summary.tickets,
        summary.billing_events,
        summary.interactions,
        summary.contacts,
        summary.subscriptions,
        summary.account_changes,
        summary.outcomes
    );
    println!(
        "bytes {} ({:.2} GB)",
        summary.bytes,
        summary.bytes as f64 / 1e9
    );
    println!(
        "churned {} contracted {} expanded {} renewed {}; customer-months {:.0}, monthly logo churn {:.4}",
        summary.churned,
        summary.contracted,
        summary.expanded,
        summary.renewed,
        summary.customer_months,
        summary.monthly_logo_churn
    );
    for (a, n) in &summary.archetypes {
        println!("  {:<22} {n}", a.as_str());
    }
    for s in &summary.segments {
        println!(
            "  {:<11} accounts {:>6} churned {:>5} contracted {:>5} expanded {:>5} customer-years {:>9.1} annual logo churn {:.3}",
            s.segment.as_str(),
            s.accounts,
            s.churned,
            s.contracted,
            s.expanded,
            s.customer_years,
            s.annual_logo_churn
        );
    }
}

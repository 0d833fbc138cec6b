//! `bellwether simulate`: writes a simulated book of business in the import formats.

use super::bar;
use crate::error::CliError;
use bellwether_core::{Code, Day};
use bellwether_sim::{simulate, Profile, SimConfig, SimSummary};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `simulate`.
#[derive(Args)]
pub struct SimulateArgs {
    /// The kind of book: `b2b` (segments, annual contracts, CRM, tickets, billing) or `self-serve` (a young
    /// book of monthly subscriptions: accounts, usage and subscriptions only).
    #[arg(long, default_value = "b2b", value_parser = |s: &str| s.parse::<Profile>())]
    pub profile: Profile,
    /// Number of accounts (default: 5000 for b2b, 15000 for self-serve).
    #[arg(long)]
    pub accounts: Option<usize>,
    /// Random seed: the same seed writes the same files.
    #[arg(long, default_value_t = SimConfig::default().seed)]
    pub seed: u64,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Last day of data (default: the simulator's fixed end date, so books are reproducible).
    #[arg(long, value_parser = |s: &str| Day::parse(s).map_err(|e| e.to_string()))]
    pub end: Option<Day>,
    /// Days of history (default: 730 for b2b, 165 for self-serve).
    #[arg(long)]
    pub days: Option<i32>,
    /// Write pre-aggregated daily metrics instead of raw events (for very large books).
    #[arg(long)]
    pub daily_metrics: bool,
}

/// Simulates with a progress bar.
pub fn run_sim(cfg: &SimConfig, out: &Path) -> Result<SimSummary, CliError> {
    let pb = bar(
        cfg.accounts as u64,
        "simulating [{bar:30}] {pos}/{len} accounts {msg} {eta}",
    );
    let p = pb.clone();
    let r = simulate(cfg, out, &mut |pr| {
        p.set_position(pr.accounts_done as u64);
        p.set_message(format!("{} events", pr.events_written));
    });
    pb.finish_and_clear();
    r.map_err(|e| {
        CliError::new(
            Code::IoError,
            format!("simulating into {}: {e}", out.display()),
        )
    })
}

/// Runs `simulate`.
pub fn run(a: SimulateArgs) -> Result<ExitCode, CliError> {
    let defaults = SimConfig::for_profile(a.profile);
    let mut cfg = SimConfig {
        accounts: a.accounts.unwrap_or(defaults.accounts),
        seed: a.seed,
        history_days: a.days.unwrap_or(defaults.history_days),
        daily_metrics: a.daily_metrics,
        ..defaults
    };
    if let Some(e) = a.end {
        cfg.end = e;
    }
    let t = std::time::Instant::now();
    let s = run_sim(&cfg, &a.out)?;
    println!(
        "wrote a {} book (version {}) of {} accounts over {} days ({} events, {} daily metric rows, {} tickets; {} churned, {:.1}% a month, {} expanded) to {} in {:.1}s",
        s.profile.as_str(),
        s.version,
        s.accounts,
        cfg.history_days,
        s.events,
        s.daily_metric_rows,
        s.tickets,
        s.churned,
        s.monthly_logo_churn * 100.0,
        s.expanded,
        a.out.display(),
        t.elapsed().as_secs_f64()
    );
    println!("import it with: bellwether import {}", a.out.display());
    Ok(ExitCode::SUCCESS)
}

//! `bellwether jobs`: when each scheduled job next runs (`[schedule]`), and the latest runs in the store
//! (claimed once per slot across every process on it) with their holder, state, attempts, duration and
//! outcome; the applier lease of the tracking inbox with the process that holds it.

use crate::config::Settings;
use crate::error::CliError;
use bellwether_store::{JobState, LiveStore};
use clap::Args;
use std::process::ExitCode;

/// Arguments of `bellwether jobs`.
#[derive(Args, Debug)]
pub struct JobsArgs {
    /// Only this job (`daily_pass`, `retrain`).
    #[arg(long)]
    pub name: Option<String>,
    /// Runs shown.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `bellwether jobs`.
pub async fn run(settings: &Settings, a: JobsArgs) -> Result<ExitCode, CliError> {
    let store = super::open_store(settings).await?;
    let runs = store.job_runs(a.name.as_deref(), a.limit).await?;
    let now = bellwether_core::Timestamp::now();
    let next: Vec<(&str, Option<bellwether_core::Timestamp>)> = settings
        .schedule
        .next_runs(now)
        .map_err(|e| CliError::new(bellwether_core::Code::InvalidConfig, e))?
        .into_iter()
        .filter(|(n, _)| a.name.as_deref().is_none_or(|want| want == *n))
        // The digest job runs only where digests have somewhere to go.
        .filter(|(n, _)| *n != "digest" || settings.delivery.reaches_people())
        .collect();
    if a.json {
        let next: Vec<serde_json::Value> = next
            .iter()
            .map(|(n, at)| serde_json::json!({"name": n, "next_run": at}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"scheduled": next, "runs": runs}))
                .unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for (n, at) in &next {
        match at {
            Some(t) => println!("{n:<22} next run {t}"),
            None => println!("{n:<22} no run ahead"),
        }
    }
    if next.is_empty() {
        println!("no job is scheduled ([schedule] in bellwether.toml)");
    }
    if runs.is_empty() {
        println!("no job has run yet");
        return Ok(ExitCode::SUCCESS);
    }
    println!();
    for r in runs {
        if r.name == bellwether_server::segment::APPLIER_JOB {
            // A lease held continuously, not a scheduled run: who applies the tracking inbox now.
            let takeovers = r.attempts - 1;
            println!(
                "{:<22} held by {}, lease until {} ({takeovers} takeover{})",
                r.name,
                r.holder,
                r.lease_until,
                if takeovers == 1 { "" } else { "s" }
            );
            continue;
        }
        let took = r
            .finished_at
            .map(|f| format!("{:.1} s", (f.0 - r.started_at.0) as f64 / 1000.0))
            .unwrap_or_else(|| format!("lease until {}", r.lease_until));
        let state = match r.state {
            JobState::Running => "running",
            JobState::Succeeded => "ok",
            JobState::Failed => "FAILED",
        };
        println!(
            "{:<22} slot {}  {:<7} on {} ({} attempt{}), {}{}",
            r.name,
            r.slot,
            state,
            r.holder,
            r.attempts,
            if r.attempts == 1 { "" } else { "s" },
            took,
            if r.outcome.is_empty() {
                String::new()
            } else {
                format!(": {}", r.outcome)
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

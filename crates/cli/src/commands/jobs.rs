//! `bellwether jobs`: the latest scheduled job runs in the store (claimed once per slot across every process
//! on it), with their holder, state, attempts, duration and outcome.

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
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&runs).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if runs.is_empty() {
        println!("no job has run yet");
        return Ok(ExitCode::SUCCESS);
    }
    for r in runs {
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
            "{:<12} slot {}  {:<7} on {} ({} attempt{}), {}{}",
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

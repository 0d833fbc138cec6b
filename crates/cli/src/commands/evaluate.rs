//! `bellwether evaluate`: replays the signal pass over the imported history against a ground-truth file (the
//! simulator writes one to `truth/ground_truth.csv`) and prints detection rate, delay and precision.

use super::open_store;
use crate::config::Settings;
use crate::error::CliError;
use bellwether_core::{AccountId, Code, Day};
use bellwether_engine::evaluate::{evaluate, Truth};
use bellwether_store::Store;
use clap::Args;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `evaluate`.
#[derive(Args)]
pub struct EvaluateArgs {
    /// Ground truth CSV: account_id, archetype, trouble_start, outcome_date.
    #[arg(long)]
    pub truth: PathBuf,
    /// Days between replayed passes.
    #[arg(long, default_value_t = 7)]
    pub step: i32,
    /// Days of history skipped at the start, so baselines exist.
    #[arg(long, default_value_t = 120)]
    pub warmup: i32,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

const RISK: &[&str] = &[
    "slow_disengagement",
    "champion_loss",
    "support_frustration",
    "budget_trouble",
    "failed_onboarding",
];
const EXPANSION: &[&str] = &["seat_saturation", "new_team_adoption"];

fn read_truth(path: &PathBuf) -> Result<HashMap<AccountId, Truth>, CliError> {
    let bad = |m: String| CliError::new(Code::InvalidRecord, format!("{}: {m}", path.display()));
    let mut rdr = csv::Reader::from_path(path)
        .map_err(|e| CliError::new(Code::FileNotFound, format!("{}: {e}", path.display())))?;
    let header = rdr.headers().map_err(|e| bad(e.to_string()))?.clone();
    let col = |n: &str| {
        header
            .iter()
            .position(|h| h == n)
            .ok_or_else(|| bad(format!("the header lacks the column {n}")))
    };
    let (id, arch, start, end) = (
        col("account_id")?,
        col("archetype")?,
        col("trouble_start")?,
        col("outcome_date")?,
    );
    let mut out = HashMap::new();
    for (i, rec) in rdr.records().enumerate() {
        let r = rec.map_err(|e| bad(e.to_string()))?;
        let day = |c: usize| -> Result<Option<Day>, CliError> {
            let v = r.get(c).unwrap_or("").trim();
            if v.is_empty() {
                Ok(None)
            } else {
                Day::parse(v)
                    .map(Some)
                    .map_err(|e| bad(format!("line {}: {e}", i + 2)))
            }
        };
        let a = r.get(arch).unwrap_or("").to_string();
        let direction = if RISK.contains(&a.as_str()) {
            "risk"
        } else if EXPANSION.contains(&a.as_str()) {
            "expansion"
        } else {
            "none"
        };
        out.insert(
            AccountId(r.get(id).unwrap_or("").to_string()),
            Truth {
                archetype: a,
                direction,
                start: day(start)?,
                end: day(end)?,
            },
        );
    }
    Ok(out)
}

/// Runs `evaluate`.
pub async fn run(settings: &Settings, a: EvaluateArgs) -> Result<ExitCode, CliError> {
    let truth = read_truth(&a.truth)?;
    let store = open_store(settings).await?;
    let (book, series, summary) = (
        store.load_book(None).await?,
        store.load_series(None).await?,
        store.book_summary().await?,
    );
    let end = bellwether_engine::day::decide(&summary, bellwether_engine::Clock::Files, None)
        .ok_or_else(|| CliError::new(Code::NoData, "nothing imported yet"))?
        .day;
    let first = summary.metrics.iter().map(|m| m.1).min().unwrap_or(end);
    let start = first.plus(a.warmup);
    let t = std::time::Instant::now();
    let report = evaluate(
        &book,
        &series,
        &summary,
        &truth,
        &settings.engine(),
        start,
        end,
        a.step.max(1),
    );
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print!("{}", report.to_markdown());
        println!(
            "\n({} accounts replayed in {:.1}s)",
            book.accounts.len(),
            t.elapsed().as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

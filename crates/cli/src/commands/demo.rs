//! `bellwether demo`: the first minute. Simulates a book into a fresh data directory, imports it through the
//! real import path, assesses every account, learns churn and expansion from the book's own outcomes (no
//! shipped model), backtests the default churn target against the rules score, and prints one CSM's
//! model-ranked worklist, a portfolio summary and the backtest's headline.

use super::assess::print_worklist;
use super::import::import_folder;
use super::simulate::run_sim;
use crate::config::Settings;
use crate::error::CliError;
use bellwether_core::Code;
use bellwether_engine::{portfolio_summary, reassess, worklist::busiest_owner};
use bellwether_predict::{score, train, Target, TrainConfig};
use bellwether_sim::SimConfig;
use clap::Args;
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// Accounts in the simulated book.
    #[arg(long, default_value_t = SimConfig::default().accounts)]
    pub accounts: usize,
    /// Random seed.
    #[arg(long, default_value_t = SimConfig::default().seed)]
    pub seed: u64,
    /// Whose worklist to print (default: the CSM with the most ARR at risk).
    #[arg(long)]
    pub csm: Option<String>,
    /// Accounts on the worklist.
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
}

/// Runs `demo`.
pub async fn run(settings: &Settings, a: DemoArgs) -> Result<ExitCode, CliError> {
    let started = Instant::now();
    let root = settings.data_dir.join("demo");
    if root.exists() {
        std::fs::remove_dir_all(&root).map_err(|e| {
            CliError::new(
                Code::IoError,
                format!("cannot clear the demo folder {}: {e}", root.display()),
            )
        })?;
    }
    let files = root.join("book");
    let cfg = SimConfig {
        accounts: a.accounts,
        seed: a.seed,
        ..SimConfig::default()
    };
    eprintln!(
        "1/5 simulating {} accounts over {} days (seed {}) into {}",
        cfg.accounts,
        cfg.history_days,
        cfg.seed,
        files.display()
    );
    let sim = run_sim(&cfg, &files)?;
    let t_sim = started.elapsed().as_secs_f64();

    eprintln!(
        "2/5 importing {} events and the CRM, support, billing and communication files",
        sim.events
    );
    // The demo's own data directory, opened as every command opens one (always the embedded store: the demo
    // starts from nothing each time, which a shared database should not).
    let demo_settings = Settings {
        data_dir: root.clone(),
        store: Default::default(),
        ..settings.clone()
    };
    let settings = &demo_settings;
    let store = super::open_store(settings).await?;
    let t = Instant::now();
    import_folder(
        &store,
        &files,
        false,
        settings.event_times,
        settings.time_reading,
    )
    .await?;
    let t_import = t.elapsed().as_secs_f64();

    eprintln!("3/5 assessing every account");
    let day = super::book_day(&store, None).await?;
    let out = reassess(&store, &settings.engine(), None, day).await?;
    let csm = a
        .csm
        .clone()
        .or_else(|| busiest_owner(&out.assessments))
        .unwrap_or_default();
    let t_assess = out.load_seconds + out.compute_seconds + out.save_seconds;

    // The book's own outcomes: the default churn target's candidates and expansion, without the logistic
    // baseline, so the whole demo stays within a minute.
    eprintln!("4/5 learning churn and expansion from this book's outcomes");
    let t = Instant::now();
    let train_cfg = TrainConfig {
        targets: vec![Target::ChurnRenewal, Target::Churn90, Target::Expansion180],
        baseline: false,
        ..Default::default()
    };
    let set = super::predict::training_set(&store, settings, None).await?;
    // A book too small to learn from keeps the rules ranking; the demo says why.
    let trained = train(&set, None, &train_cfg);
    drop(set);
    let report = match &trained {
        Ok(bundle) => {
            let registered =
                score::register(&store, bundle, &train_cfg, score::Activation::WhenBetter).await?;
            if registered.active {
                score::score(&store, None, day, &settings.engine()).await?;
            }
            Some(bundle.default_target)
        }
        Err(_) => None,
    };
    let t_train = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let report = match (report, &trained) {
        (Some(target), _) => {
            eprintln!("5/5 backtesting it against the rules score");
            // Two cut-offs, or one where a small book has too few outcomes before the earlier.
            let mut result = Err(String::new());
            for cutoffs in [2, 1] {
                result = super::predict::run_backtest(
                    &store,
                    settings,
                    super::predict::BacktestPlan {
                        target,
                        cutoffs: Some(cutoffs),
                        spacing: None,
                        step: None,
                        train: TrainConfig {
                            targets: Vec::new(),
                            ..train_cfg.clone()
                        },
                        exit_ratio: bellwether_predict::bundle::ALERT_EXIT_RATIO,
                    },
                )
                .await
                .map_err(|e| e.message);
                if result.is_ok() {
                    break;
                }
            }
            result
        }
        (None, Err(e)) => Err(format!("no model: {e}")),
        (None, Ok(_)) => Err("no model".into()),
    };
    let t_backtest = t.elapsed().as_secs_f64();

    let rates = super::assess::book_rates(&store, settings).await?;
    let items = bellwether_engine::worklist::read(&store, Some(&csm), a.limit).await?;
    let model = score::status(&store).await?;
    println!();
    println!(
        "Today's worklist for {csm} ({}): call them in this order",
        out.as_of
    );
    println!("  ranked by: {}", model.reason);
    print_worklist(&items, out.as_of);
    println!();
    println!(
        "Portfolio: {}",
        portfolio_summary(&out.assessments, out.ended, rates.reporting())
    );
    println!();
    println!(
        "Book: {} accounts, {} events over {} days. Simulated in {t_sim:.1}s, imported in {t_import:.1}s, assessed in {t_assess:.1}s, trained in {t_train:.1}s, backtested in {t_backtest:.1}s; {:.1}s in all.",
        sim.accounts,
        sim.events,
        cfg.history_days,
        started.elapsed().as_secs_f64()
    );
    println!(
        "Explore it: bellwether --data-dir {} worklist --csm {csm}   ·   bellwether --data-dir {} account {}",
        root.display(),
        root.display(),
        items.first().map(|i| i.account_id.as_str()).unwrap_or("ID")
    );
    println!(
        "Every target and the full backtest: bellwether --data-dir {} train   ·   bellwether --data-dir {} backtest",
        root.display(),
        root.display()
    );
    println!();
    match &report {
        Ok(r) => println!("Backtest: the model {}.", super::predict::headline(r)),
        Err(e) => println!("Backtest: not run ({e})."),
    }
    Ok(ExitCode::SUCCESS)
}

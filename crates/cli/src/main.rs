//! The `bellwether` binary: thin glue from the command line to the library crates.
//!
//! Exit status: 0 on success, 1 on an error, 2 when an import stored its good records but rejected some.

mod commands;
mod config;
mod error;
mod lock;
mod store;

use clap::{Parser, Subcommand};
use error::CliError;
use std::path::PathBuf;
use std::process::ExitCode;

/// Bellwether watches every customer account, explains its health, and tells each CSM whom to call first.
#[derive(Parser)]
#[command(name = "bellwether", version, about, long_about = None, after_help = "Start with `bellwether demo`. Import formats: docs/formats.md.")]
struct Cli {
    /// Data directory (default: $XDG_DATA_HOME/bellwether or ~/.local/share/bellwether).
    #[arg(long, global = true, env = "BELLWETHER_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// PostgreSQL to keep the book in (`postgres://user@host:5432/db?sslmode=prefer`); without one, the
    /// embedded store in the data directory (also `[store] url`).
    #[arg(
        long,
        global = true,
        env = "BELLWETHER_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
    /// Settings file (default: bellwether.toml in the data directory, when it exists).
    #[arg(long, global = true, env = "BELLWETHER_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log level: error, warn, info, debug or trace.
    #[arg(long, global = true, env = "BELLWETHER_LOG", value_name = "LEVEL")]
    log: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a book of business, import it, assess it and print one CSM's worklist.
    Demo(commands::demo::DemoArgs),
    /// Write a realistic simulated book of business in the import formats.
    Simulate(commands::simulate::SimulateArgs),
    /// Import a file (`import events.csv`, `import events FILE`) or every file of a folder (`import DIR`).
    Import(commands::import::ImportArgs),
    /// Compute health for every account as of a day and store it.
    Assess(commands::assess::AssessArgs),
    /// Print a CSM's ranked worklist from the latest assessment.
    Worklist(commands::assess::WorklistArgs),
    /// Show one account: attributes, health with components and reasons, open signals.
    Account(commands::assess::AccountArgs),
    /// List signals (behavioural changes), filtered by owner, kind, severity or status; `signals report`:
    /// which detectors and alert rules carry information, and the alert budget.
    Signals(commands::signals::SignalsArgs),
    /// Acknowledge, snooze or resolve a signal.
    Signal {
        #[command(subcommand)]
        action: commands::signals::SignalAction,
    },
    /// Replay the signal pass over history against a ground-truth file and score it.
    Evaluate(commands::evaluate::EvaluateArgs),
    /// Train churn, contraction and expansion models on the book's outcomes and store them as a new version.
    Train(commands::predict::TrainArgs),
    /// Score every account with the active model: probabilities with their drivers.
    Score(commands::predict::ScoreArgs),
    /// List model versions or activate one (rollback).
    Models {
        #[command(subcommand)]
        action: Option<commands::predict::ModelsAction>,
    },
    /// Rolling-origin backtest of the model against the rules health score, warning time included.
    Backtest(commands::predict::BacktestArgs),
    /// Counts of what the data directory holds.
    Stats,
    /// Run the HTTP server: Segment-compatible tracking API, webhooks and JSON reads (docs/server.md).
    Serve(commands::serve::ServeArgs),
    /// Import a Salesforce or HubSpot export (accounts, contacts, opportunities) through a mapping file.
    ImportCrm(commands::crm::CrmArgs),
    /// Scheduled job runs: last runs, holders, durations, outcomes.
    Jobs(commands::jobs::JobsArgs),
    /// The outbox of alerts and digests: what waits, what was delivered, what was parked and why.
    Outbox(commands::outbox::OutboxArgs),
    /// One CSM's weekly digest (the Monday list): show it, or send it now with --send.
    Digest(commands::digest::DigestArgs),
    /// Bring the store's schema up to date (every command also does when it opens the store).
    Migrate,
    /// Copy the embedded store into an empty PostgreSQL database, then check that every count matches.
    Copy(commands::copy::CopyArgs),
    /// Create, list and revoke API keys for the server.
    Keys {
        #[command(subcommand)]
        action: commands::keys::KeysAction,
    },
}

fn init_logging(level: &str) -> Result<(), CliError> {
    let level: tracing::Level = level.parse().map_err(|_| {
        CliError::new(
            bellwether_core::Code::InvalidConfig,
            format!("log level '{level}' is not one of error, warn, info, debug, trace"),
        )
    })?;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .init();
    Ok(())
}

async fn run(cli: Cli) -> Result<ExitCode, CliError> {
    let settings = config::load(
        cli.config.as_deref(),
        cli.data_dir.as_deref(),
        cli.log.as_deref(),
        cli.database_url.as_deref(),
    )?;
    init_logging(&settings.log)?;
    match cli.command {
        Command::Demo(a) => commands::demo::run(&settings, a).await,
        Command::Simulate(a) => commands::simulate::run(a),
        Command::Import(a) => commands::import::run(&settings, a).await,
        Command::Assess(a) => commands::assess::assess(&settings, a).await,
        Command::Worklist(a) => commands::assess::worklist(&settings, a).await,
        Command::Account(a) => commands::assess::account(&settings, a).await,
        Command::Signals(a) => commands::signals::run(&settings, a).await,
        Command::Signal { action } => commands::signals::act(&settings, action).await,
        Command::Evaluate(a) => commands::evaluate::run(&settings, a).await,
        Command::Train(a) => commands::predict::train_cmd(&settings, a).await,
        Command::Score(a) => commands::predict::score_cmd(&settings, a).await,
        Command::Models { action } => {
            commands::predict::models_cmd(
                &settings,
                action.unwrap_or(commands::predict::ModelsAction::List),
            )
            .await
        }
        Command::Backtest(a) => commands::predict::backtest_cmd(&settings, a).await,
        Command::Stats => commands::assess::stats(&settings).await,
        Command::Serve(a) => commands::serve::run(&settings, a).await,
        Command::ImportCrm(a) => commands::crm::run(&settings, a).await,
        Command::Keys { action } => commands::keys::run(&settings, action).await,
        Command::Migrate => commands::copy::migrate(&settings).await,
        Command::Jobs(a) => commands::jobs::run(&settings, a).await,
        Command::Outbox(a) => commands::outbox::run(&settings, a).await,
        Command::Digest(a) => commands::digest::run(&settings, a).await,
        Command::Copy(a) => commands::copy::copy(&settings, a).await,
    }
}

/// mimalloc: the bulk read of a book allocates millions of small strings and vectors; see BENCHMARKS.md.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Piped into `head` and the like, exit quietly when the reader goes away instead of panicking.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error[internal]: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error[{}]: {}\n  see {}", e.code, e.message, e.code.link());
            ExitCode::from(1)
        }
    }
}

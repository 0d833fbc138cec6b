//! `bellwether signals` (list, filter), `bellwether signals report` (which detectors and alert rules carry
//! information, on the book's own outcomes, and what they cost in alerts) and `bellwether signal
//! ack|snooze|resolve` (the lifecycle by hand).

use super::open_store;
use crate::config::Settings;
use crate::error::CliError;
use bellwether_core::model::{Severity, Signal, SignalStatus};
use bellwether_core::{Code, Day};
use bellwether_predict::signal_report::{self, ReportConfig};
use bellwether_store::{SignalFilter, Store};
use clap::{Args, Subcommand};
use std::process::ExitCode;

/// Arguments of `signals`: the list's filters, or a subcommand.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SignalsArgs {
    /// `report`; without one, the list.
    #[command(subcommand)]
    pub command: Option<SignalsCommand>,
    /// Only signals routed to this CSM.
    #[arg(long, alias = "csm")]
    pub owner: Option<String>,
    /// Only this kind (usage_drop, champion_left, seat_saturation, …).
    #[arg(long)]
    pub kind: Option<String>,
    /// Only this severity or higher: low, medium, high, critical.
    #[arg(long, value_parser = |s: &str| Severity::parse(s))]
    pub severity: Option<Severity>,
    /// Statuses to list, comma-separated (default: open,acknowledged).
    #[arg(long, value_delimiter = ',', value_parser = |s: &str| SignalStatus::parse(s))]
    pub status: Vec<SignalStatus>,
    /// Only this account.
    #[arg(long)]
    pub account: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// What `signals` does besides listing.
#[derive(Subcommand)]
pub enum SignalsCommand {
    /// Per detector and alert rule, on the book's own history and outcomes: precision, lift over the base rate,
    /// median warning and volume per CSM per week, with a verdict; then the alert budget and what spends it.
    Report(ReportArgs),
}

/// Arguments of `signals report`.
#[derive(Args)]
pub struct ReportArgs {
    /// Days after a signal its outcome must come within (churn or contraction for risk, expansion for
    /// expansion signals).
    #[arg(long, default_value_t = signal_report::DEFAULT_HORIZON_DAYS, value_parser = clap::value_parser!(i32).range(1..=3650))]
    pub horizon_days: i32,
    /// Alerts per CSM per week the team can act on.
    #[arg(long, default_value_t = signal_report::DEFAULT_BUDGET, value_parser = positive)]
    pub budget: f64,
    /// Only signals detected on or after this day (YYYY-MM-DD); default: from the first stored signal.
    #[arg(long, value_parser = |s: &str| Day::parse(s).map_err(|e| e.to_string()))]
    pub since: Option<Day>,
    /// The lowest severity that alerts (default: `[delivery] min_severity`, else high).
    #[arg(long, value_parser = |s: &str| Severity::parse(s))]
    pub min_severity: Option<Severity>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!(
            "'{s}' is not a positive number of alerts per CSM per week"
        )),
    }
}

/// `signal` actions.
#[derive(Subcommand)]
pub enum SignalAction {
    /// Someone is on it: keep it open without reminders.
    Ack {
        /// The signal id.
        id: String,
    },
    /// Hide it until a day, saying why; it reopens then if its condition still holds.
    Snooze {
        /// The signal id.
        id: String,
        /// The day it comes back (YYYY-MM-DD).
        #[arg(long, value_parser = |s: &str| Day::parse(s).map_err(|e| e.to_string()))]
        until: Day,
        /// Why (shown with it in the worklist and the signal list): "waiting for their budget cycle".
        #[arg(long)]
        reason: String,
    },
    /// Handled: close it (it may open again after its cooldown if the condition returns).
    Resolve {
        /// The signal id.
        id: String,
    },
}

/// Prints signals as a table with their explanations.
pub fn print_signals(rows: &[Signal]) {
    for s in rows {
        println!(
            "{:<8} {:<10} {:<24} {:<22} since {}  [{}]  {}",
            s.severity.as_str(),
            s.direction,
            s.kind,
            s.account_id,
            s.detected_at,
            s.status.as_str(),
            s.owner.as_deref().unwrap_or("-")
        );
        println!("         {}", s.explanation);
        println!("         → {}", s.suggested_action);
        if let (SignalStatus::Snoozed, Some(until)) = (s.status, s.snoozed_until) {
            match s.snooze_reason.as_deref() {
                Some(why) => println!("         snoozed until {until}: {why}"),
                None => println!("         snoozed until {until}"),
            }
        }
        println!("         id {}", s.id);
    }
}

/// Runs `signals`: the list, or its subcommand.
pub async fn run(settings: &Settings, a: SignalsArgs) -> Result<ExitCode, CliError> {
    match a.command {
        Some(SignalsCommand::Report(r)) => report(settings, r).await,
        None => list(settings, a).await,
    }
}

/// Runs `signals report`.
pub async fn report(settings: &Settings, a: ReportArgs) -> Result<ExitCode, CliError> {
    let store = open_store(settings).await?;
    let end = super::book_day(&store, None).await?.day;
    let t = std::time::Instant::now();
    let (signals, book) = tokio::try_join!(
        store.signals(SignalFilter::default()),
        store.load_book(None)
    )?;
    let read = t.elapsed().as_secs_f64();
    let cfg = ReportConfig {
        horizon_days: a.horizon_days,
        min_alert_severity: a
            .min_severity
            .or_else(|| {
                settings
                    .delivery
                    .min_severity
                    .as_deref()
                    .and_then(|s| Severity::parse(s).ok())
            })
            .unwrap_or(Severity::High),
        budget: a.budget,
        since: a.since,
    };
    let t = std::time::Instant::now();
    let r = signal_report::report(&signals, &book, end, &cfg);
    let judged = t.elapsed().as_secs_f64();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
    } else if signals.is_empty() {
        println!(
            "no signals stored yet: `bellwether assess` finds them; for a history to judge, import with \
             `import --no-assess` and run `assess --from DAY --step 7`"
        );
    } else {
        print!("{}", r.to_markdown());
        println!(
            "\n({} signals and {} accounts read in {read:.2}s, judged in {judged:.2}s)",
            signals.len(),
            book.accounts.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the list of `signals`.
pub async fn list(settings: &Settings, a: SignalsArgs) -> Result<ExitCode, CliError> {
    let store = open_store(settings).await?;
    let statuses = if a.status.is_empty() {
        vec![SignalStatus::Open, SignalStatus::Acknowledged]
    } else {
        a.status.clone()
    };
    let filter = SignalFilter {
        accounts: a.account.clone().map(|id| vec![id.into()]),
        statuses,
        kind: a.kind.clone(),
        owner: a.owner.clone(),
        id: None,
    };
    let mut rows = store.signals(filter).await?;
    if let Some(min) = a.severity {
        rows.retain(|s| s.severity >= min);
    }
    rows.sort_by(|x, y| {
        y.severity
            .cmp(&x.severity)
            .then(y.last_seen.cmp(&x.last_seen))
            .then(x.id.cmp(&y.id))
    });
    rows.truncate(a.limit);
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
    } else if rows.is_empty() {
        println!("no signals match");
    } else {
        print_signals(&rows);
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `signal ack|snooze|resolve`.
pub async fn act(settings: &Settings, action: SignalAction) -> Result<ExitCode, CliError> {
    let store = open_store(settings).await?;
    let id = match &action {
        SignalAction::Ack { id }
        | SignalAction::Snooze { id, .. }
        | SignalAction::Resolve { id } => id.clone(),
    };
    let mut s = store.signal(&id).await?.ok_or_else(|| {
        CliError::new(
            Code::SignalNotFound,
            format!("no signal '{id}'; `bellwether signals` lists them with their ids"),
        )
    })?;
    use bellwether_engine::signals::{act, SignalAct};
    let what = match action {
        SignalAction::Ack { .. } => SignalAct::Acknowledge,
        SignalAction::Snooze { until, reason, .. } => {
            SignalAct::snooze(until, &reason, Day::today())
                .map_err(|e| CliError::new(Code::InvalidArgument, e.message()))?
        }
        SignalAction::Resolve { .. } => SignalAct::Resolve,
    };
    act(&mut s, what).map_err(|e| CliError::new(Code::InvalidArgument, e))?;
    store.save_signals(std::slice::from_ref(&s), &[]).await?;
    match (&s.snoozed_until, &s.snooze_reason) {
        (Some(until), Some(why)) => println!("{} is now {} until {until}: {why}", s.id, s.status),
        _ => println!("{} is now {}", s.id, s.status),
    }
    Ok(ExitCode::SUCCESS)
}

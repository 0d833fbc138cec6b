//! `bellwether outbox`: what the durable outbox holds (alerts and digests waiting, delivered, parked), with
//! each entry's attempts, next attempt and why its last attempt failed.

use crate::config::Settings;
use crate::error::CliError;
use bellwether_core::Code;
use bellwether_store::{OutboxState, Store};
use clap::Args;
use std::process::ExitCode;

/// Arguments of `bellwether outbox`.
#[derive(Args, Debug)]
pub struct OutboxArgs {
    /// Only entries in this state: pending, delivered or parked.
    #[arg(long)]
    pub state: Option<String>,
    /// Entries shown, newest first.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `bellwether outbox`.
pub async fn run(settings: &Settings, a: OutboxArgs) -> Result<ExitCode, CliError> {
    let state = match a.state.as_deref() {
        None => None,
        Some(s) => Some(OutboxState::parse(s).ok_or_else(|| {
            CliError::new(
                Code::InvalidArgument,
                format!("--state {s} is not one of pending, delivered, parked, folded"),
            )
        })?),
    };
    let store = super::open_store(settings).await?;
    let counts = store.outbox_counts().await?;
    let entries = store
        .outbox(&bellwether_store::OutboxFilter::state(state), a.limit)
        .await?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"counts": counts, "entries": entries})
            )
            .unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} pending{}, {} delivered, {} parked, {} folded into digests",
        counts.pending,
        counts
            .oldest_pending
            .map(|t| format!(" (oldest decided {t})"))
            .unwrap_or_default(),
        counts.delivered,
        counts.parked,
        counts.folded
    );
    for e in entries {
        let how = match e.state {
            OutboxState::Delivered => format!(
                "delivered {}",
                e.delivered_at.map(|t| t.to_string()).unwrap_or_default()
            ),
            OutboxState::Pending => format!("next attempt {}", e.next_attempt_at),
            OutboxState::Parked => "PARKED".to_string(),
            OutboxState::Folded => format!(
                "folded into the digest {}",
                e.delivered_at.map(|t| t.to_string()).unwrap_or_default()
            ),
        };
        println!(
            "{:<40} {:<8} to {} ({} attempt{}), {how}{}",
            e.item.id,
            e.item.channel,
            e.item.destination,
            e.attempts,
            if e.attempts == 1 { "" } else { "s" },
            if e.last_error.is_empty() {
                String::new()
            } else {
                format!(": {}", e.last_error)
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

//! `bellwether digest --owner X [--send]`: one CSM's weekly digest (the accounts to call first, ranked by
//! expected impact with why and the play, and what changed since last week), printed, or queued in the
//! outbox and delivered now by email and Slack as `[delivery]` and `[[people]]` say.

use crate::config::Settings;
use crate::error::CliError;
use bellwether_core::Code;
use bellwether_deliver::digest;
use clap::Args;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Arguments of `bellwether digest`.
#[derive(Args, Debug)]
pub struct DigestArgs {
    /// The CSM (as the accounts' `owner`).
    #[arg(long, alias = "csm")]
    pub owner: String,
    /// Queue it in the outbox and deliver it now (a digest already sent this week is not sent again).
    #[arg(long)]
    pub send: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// How long `--send` waits for the peers before leaving what is left to the server's worker.
const SEND_WAIT: Duration = Duration::from_secs(30);

/// `bellwether digest`.
pub async fn run(settings: &Settings, a: DigestArgs) -> Result<ExitCode, CliError> {
    let store = Arc::new(super::open_store(settings).await?);
    let owners = [a.owner.clone()];
    let cfg = &settings.delivery;
    // The directory in force: the configured people over the imported ones, as the scheduler reads it.
    let people = bellwether_deliver::people::People::read(&*store, &settings.people).await?;
    // The week is the reader's: as it stands now in their time zone (else the schedule's).
    let zone = settings.schedule.zone();
    let now = bellwether_core::Timestamp::now();
    let (digests, queued) = if a.send {
        digest::queue(&*store, Some(&owners), cfg, &people, now, &zone).await?
    } else {
        let when = digest::When {
            now,
            people: &people,
            fallback: &zone,
        };
        (
            digest::build(&*store, Some(&owners), &cfg.digest, when).await?,
            0,
        )
    };
    let Some(d) = digests.into_iter().next() else {
        return Err(CliError::new(
            Code::AccountNotFound,
            format!(
                "no current accounts are owned by '{}'; `bellwether worklist` lists the owners",
                a.owner
            ),
        ));
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&d).unwrap_or_default());
    } else {
        print!("{}", digest::text(&d, None));
    }
    if !a.send {
        return Ok(ExitCode::SUCCESS);
    }
    if queued == 0 {
        return Err(CliError::new(
            Code::InvalidConfig,
            "nowhere to send it: set [delivery] smtp_url (or BELLWETHER_SMTP_URL) for email, or give the owner a [[people]] entry with slack = a [[delivery.slack]] name",
        ));
    }
    let channels = bellwether_deliver::Channels::from_config(cfg)
        .map_err(|e| CliError::new(Code::InvalidConfig, e))?;
    let worker = bellwether_deliver::worker::Worker::new(
        store.clone(),
        channels,
        format!("digest-{}", std::process::id()),
    )
    .with_people(settings.people.clone(), settings.schedule.zone());
    let started = Instant::now();
    let id = |c: &str| digest::entry_id(&d.owner, &d.week, c);
    loop {
        worker.run_once().await?;
        let of_owner = bellwether_store::OutboxFilter {
            recipient: Some(d.owner.clone()),
            kind: Some(digest::KIND.into()),
            ..Default::default()
        };
        let mine: Vec<_> = bellwether_store::Store::outbox(&*store, &of_owner, 1000)
            .await?
            .into_iter()
            .filter(|e| e.item.id.starts_with(&id("")))
            .collect();
        let pending = mine
            .iter()
            .filter(|e| e.state == bellwether_store::OutboxState::Pending)
            .count();
        if pending == 0 || started.elapsed() > SEND_WAIT {
            for e in &mine {
                eprintln!(
                    "{} to {}: {}{}",
                    e.item.channel,
                    e.item.destination,
                    e.state.as_str(),
                    if e.last_error.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", e.last_error)
                    }
                );
            }
            return Ok(if pending == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(75)
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

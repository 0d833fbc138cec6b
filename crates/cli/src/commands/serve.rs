//! `bellwether serve`: runs the HTTP server on the data directory until Ctrl-C or SIGTERM.

use crate::config::Settings;
use crate::error::CliError;
use bellwether_core::Code;
use bellwether_server::ServerConfig;
use bellwether_store::LiveStore;
use std::sync::Arc;

/// Arguments of `serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8089; `[server] listen` in the settings file).
    #[arg(long, env = "BELLWETHER_LISTEN", value_name = "ADDR")]
    listen: Option<String>,
    /// Stripe's endpoint signing secret, `whsec_...` (`[server] stripe_webhook_secret`).
    #[arg(
        long,
        env = "BELLWETHER_STRIPE_WEBHOOK_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    stripe_webhook_secret: Option<String>,
    /// The shared secret of Segment's webhook destination (`[server] segment_shared_secret`).
    #[arg(
        long,
        env = "BELLWETHER_SEGMENT_SHARED_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    segment_shared_secret: Option<String>,
}

/// Runs the server.
pub async fn run(settings: &Settings, a: ServeArgs) -> Result<std::process::ExitCode, CliError> {
    // One server per data directory, held until this function returns (the process ending releases it too).
    let _lock = crate::lock::lock_for_serving(&settings.data_dir)?;
    let store = Arc::new(super::open_store(settings).await?);
    let listen = a
        .listen
        .or(settings.server.listen.clone())
        .unwrap_or_else(|| "127.0.0.1:8089".into());
    let defaults = ServerConfig::default();
    let config = ServerConfig {
        stripe_webhook_secret: a
            .stripe_webhook_secret
            .or(settings.server.stripe_webhook_secret.clone()),
        segment_shared_secret: a
            .segment_shared_secret
            .or(settings.server.segment_shared_secret.clone()),
        max_inbox_messages: settings
            .server
            .max_inbox_messages
            .unwrap_or(defaults.max_inbox_messages),
        event_times: settings.event_times,
        header_timeout: settings
            .server
            .header_timeout_seconds
            .map_or(defaults.header_timeout, std::time::Duration::from_secs),
        body_timeout: settings
            .server
            .body_timeout_seconds
            .map_or(defaults.body_timeout, std::time::Duration::from_secs),
        max_connections: settings
            .server
            .max_connections
            .unwrap_or(defaults.max_connections),
        time_reading: settings.time_reading,
        schedule: Some(settings.schedule.clone()),
        slack: settings.slack.clone(),
        digests: Some((settings.delivery.clone(), settings.people.clone())),
        applier_lease: settings
            .server
            .applier_lease_seconds
            .filter(|s| *s > 0)
            .map_or(defaults.applier_lease, std::time::Duration::from_secs),
        ..ServerConfig::default()
    };
    let listener = tokio::net::TcpListener::bind(&listen).await.map_err(|e| {
        CliError::new(
            Code::InvalidConfig,
            format!("cannot listen on {listen}: {e}; pick another address with --listen"),
        )
    })?;
    let addr = listener.local_addr()?;
    // Alerts and digests in the outbox are delivered by every server on the store (each entry by one).
    let channels = bellwether_deliver::Channels::from_config(&settings.delivery)
        .map_err(|e| CliError::new(Code::InvalidConfig, e))?;
    let worker = (!channels.is_empty()).then(|| {
        let mut w = bellwether_deliver::worker::Worker::new(
            store.clone(),
            channels,
            bellwether_server::process_name(),
        )
        .with_people(settings.people.clone(), settings.schedule.zone());
        if let Some(l) = settings.delivery.lease_seconds {
            w.lease = std::time::Duration::from_secs(l);
        }
        w
    });
    // This server's passes wake its worker when they queue alerts, so an alert goes out at once.
    let engine = settings.engine_waking(worker.as_ref().map(|w| w.waker()));
    let outbox = worker.map(|w| w.spawn());
    let (state, tasks) = bellwether_server::start(store, engine, config).await?;
    eprintln!(
        "bellwether: listening on http://{addr} (data in {})",
        settings.data_dir.display()
    );
    if state
        .store
        .keys()
        .await
        .map(|k| k.is_empty())
        .unwrap_or(false)
    {
        eprintln!(
            "bellwether: no API keys yet; create one with `bellwether keys create --scope ingest`"
        );
    }
    bellwether_server::serve(listener, state, tasks, bellwether_server::shutdown_signal()).await?;
    // A delivery in flight stops with the process; its lease runs out and it is sent again.
    if let Some(w) = outbox {
        w.abort();
    }
    Ok(std::process::ExitCode::SUCCESS)
}

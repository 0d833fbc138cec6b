//! Bellwether's HTTP server: data in, in the formats customers already emit, and the product's reads out.
//!
//! - [`routes`]: one module per resource: health and metrics, the JSON reads, Segment's tracking API and
//!   webhook destination, Stripe webhooks;
//! - [`segment`]: checking tracking messages, the writer task that acknowledges them into a durable inbox and
//!   the applier task that attributes and stores them;
//! - [`stripe`]: Stripe's signature scheme and its events as billing facts;
//! - [`queue`]: the continuous re-assessment queue;
//! - [`auth`]: API keys; [`error`]: the error shape; [`metrics`]: Prometheus text;
//! - [`conn`]: connections: the accept loop, its limit and timeouts.
//!
//! [`start`] builds the shared state and its background tasks, [`app`] the router (testable without a
//! socket), and [`serve`] runs it on a listener until a shutdown signal, then drains the queues.
#![deny(missing_docs)]

pub mod auth;
pub mod background;
pub mod conn;
pub mod error;
pub mod metrics;
pub mod queue;
pub mod routes;
pub mod schedule;
pub mod segment;
pub mod stripe;

use axum::Router;
use bellwether_engine::Engine;
use bellwether_store::LiveStore;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Server settings.
#[derive(Clone)]
pub struct ServerConfig {
    /// Stripe's endpoint signing secret (`whsec_...`); Stripe webhooks are refused without it.
    pub stripe_webhook_secret: Option<String>,
    /// The shared secret of Segment's webhook destination (signs `X-Signature`).
    pub segment_shared_secret: Option<String>,
    /// How long the re-assessment queue collects account ids before a pass.
    pub reassess_window: Duration,
    /// A pass starts at once when this many distinct accounts are waiting.
    pub reassess_max_accounts: usize,
    /// Tracking requests are refused (503 `ingest_backlog`, with `Retry-After`) while this many acknowledged
    /// messages wait to be applied: the bound on the inbox when messages arrive faster than they are applied.
    pub max_inbox_messages: u64,
    /// The event times accepted (`[event_times]`): a message or record dated outside is rejected with
    /// `event_time_out_of_range`, naming its field.
    pub event_times: bellwether_core::time::EventTimeWindow,
    /// How the dates of records and webhooks are read where their text leaves something open (`[import]`:
    /// the day order of slash dates, the time zone of times without an offset).
    pub time_reading: bellwether_core::time::TimeReading,
    /// For tests of client retries: this many tracking requests are stored and then answered 503, as if the
    /// reply was lost. Zero in production.
    pub fail_after_commit: u32,
    /// How long a connection may take to send a request's headers, and how long it may stay idle between
    /// requests, before it is closed.
    pub header_timeout: Duration,
    /// How long a request body may pause between two parts before the request fails (408).
    pub body_timeout: Duration,
    /// Open connections at most; one more is closed at once (the limit is also kept below the process's
    /// open-file limit, which [`serve`] raises to its hard limit).
    pub max_connections: usize,
    /// Scheduled jobs (`[schedule]`), run exactly once across the processes on the store; none when `None`.
    pub schedule: Option<schedule::ScheduleConfig>,
    /// How long the applier lease lasts unrenewed: when the process applying the tracking inbox stops,
    /// another process on the store takes over within this time.
    pub applier_lease: Duration,
    /// How often the applier looks for groups acknowledged by other processes on the store.
    pub applier_poll: Duration,
    /// The Slack app whose buttons act on signals (`[slack]` and `[[people]]`); none when `None`.
    pub slack: Option<routes::SlackApp>,
    /// Where the scheduler's weekly digests go, and to whom (`[delivery]`, `[[people]]`); none when `None`.
    pub digests: Option<(
        bellwether_deliver::DeliveryConfig,
        bellwether_deliver::people::People,
    )>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            stripe_webhook_secret: None,
            segment_shared_secret: None,
            reassess_window: Duration::from_millis(200),
            reassess_max_accounts: 2_000,
            max_inbox_messages: 5_000_000,
            event_times: Default::default(),
            time_reading: Default::default(),
            fail_after_commit: 0,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            max_connections: 4_096,
            schedule: None,
            applier_lease: Duration::from_secs(15),
            applier_poll: Duration::from_millis(250),
            slack: None,
            digests: None,
        }
    }
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mask = |s: &Option<String>| s.as_ref().map(|_| "********");
        f.debug_struct("ServerConfig")
            .field("stripe_webhook_secret", &mask(&self.stripe_webhook_secret))
            .field("segment_shared_secret", &mask(&self.segment_shared_secret))
            .field("reassess_window", &self.reassess_window)
            .field("reassess_max_accounts", &self.reassess_max_accounts)
            .field("max_inbox_messages", &self.max_inbox_messages)
            .field("event_times", &self.event_times)
            .field("time_reading", &self.time_reading)
            .field("fail_after_commit", &self.fail_after_commit)
            .field("header_timeout", &self.header_timeout)
            .field("body_timeout", &self.body_timeout)
            .field("max_connections", &self.max_connections)
            .field("schedule", &self.schedule)
            .field("applier_lease", &self.applier_lease)
            .field("applier_poll", &self.applier_poll)
            .field("slack", &self.slack)
            .finish()
    }
}

/// What every handler shares.
pub struct AppState<S> {
    /// The store.
    pub store: Arc<S>,
    /// Settings.
    pub config: ServerConfig,
    /// Metrics.
    pub metrics: Arc<metrics::Metrics>,
    /// The tracking writer.
    pub writer: segment::Writer,
    /// The re-assessment queue.
    pub queue: queue::Queue,
    /// The engine the passes run (and account pages explain with).
    pub engine: Arc<Engine>,
    faults_left: AtomicU32,
    ready: AtomicBool,
}

impl<S> AppState<S> {
    /// Whether an injected fault should answer this request (see [`ServerConfig::fail_after_commit`]).
    pub fn take_fault(&self) -> bool {
        self.faults_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Waits until everything acknowledged before this call is applied and its accounts re-assessed.
    pub async fn settle(&self) {
        self.writer.settle().await;
        self.queue.settle().await;
    }

    /// Whether the server takes requests (false while stopping).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

/// Shared state.
pub type Shared<S> = Arc<AppState<S>>;

/// The background tasks of a started server.
pub struct Tasks {
    writer: tokio::task::JoinHandle<()>,
    queue: tokio::task::JoinHandle<()>,
    scheduler: Option<tokio::task::JoinHandle<()>>,
}

/// Builds the state and starts the writer and the re-assessment queue.
pub async fn start<S: LiveStore>(
    store: Arc<S>,
    engine: Engine,
    config: ServerConfig,
) -> bellwether_store::Result<(Shared<S>, Tasks)> {
    let metrics = Arc::new(metrics::Metrics::default());
    let engine = Arc::new(engine);
    let (queue, queue_task) = queue::spawn(
        store.clone(),
        engine.clone(),
        metrics.clone(),
        config.reassess_window,
        config.reassess_max_accounts,
    );
    let holder = process_name();
    let lease = segment::ApplierLease {
        holder: holder.clone(),
        lease: config.applier_lease,
        poll: config.applier_poll,
    };
    let (writer, writer_task) =
        segment::spawn(store.clone(), queue.clone(), metrics.clone(), lease).await?;
    let scheduler = match &config.schedule {
        Some(c) => {
            let mut s = schedule::Scheduler::new(store.clone(), engine.clone(), c, holder)
                .map_err(bellwether_store::StoreError::Unavailable)?;
            // The digest job runs where digests have somewhere to go: a mail server or a Slack destination.
            if let Some((d, p)) = &config.digests {
                if d.reaches_people() {
                    s = s.with_digests(d.clone(), p.clone());
                }
            }
            Some(schedule::spawn(
                s,
                Duration::from_secs(c.tick_seconds.max(1)),
            ))
        }
        None => None,
    };
    let state = Arc::new(AppState {
        store,
        faults_left: AtomicU32::new(config.fail_after_commit),
        config,
        metrics,
        writer,
        queue,
        engine,
        ready: AtomicBool::new(true),
    });
    Ok((
        state,
        Tasks {
            writer: writer_task,
            queue: queue_task,
            scheduler,
        },
    ))
}

/// The router.
pub fn app<S: LiveStore>(state: Shared<S>) -> Router {
    routes::router(state)
}

/// Serves on `listener` until `shutdown` resolves, finishes the requests in flight, then lets the writer and
/// the re-assessment queue drain. Connections are bounded and timed out (see [`conn`]).
pub async fn serve<S: LiveStore>(
    listener: tokio::net::TcpListener,
    state: Shared<S>,
    tasks: Tasks,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app(state.clone());
    let st = state.clone();
    let stopping = async move {
        shutdown.await;
        st.ready.store(false, Ordering::SeqCst);
    };
    conn::accept_loop(listener, app, &state.config, &state.metrics, stopping).await;
    // The router and its clones are gone; dropping the last handles lets the tasks finish their queues.
    drop(state);
    // A job in flight stops with the process; its lease runs out and another process takes it over.
    if let Some(s) = tasks.scheduler {
        s.abort();
    }
    let _ = tasks.writer.await;
    let _ = tasks.queue.await;
    tracing::info!("stopped");
    Ok(())
}

/// This server's name among the processes on the store, for the leases it holds: host, process id, and a
/// counter for servers started in one process (tests).
pub fn process_name() -> String {
    static STARTED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = STARTED.fetch_add(1, Ordering::Relaxed);
    let base = format!("{}:{}", hostname(), std::process::id());
    if n == 0 {
        base
    } else {
        format!("{base}:{n}")
    }
}

/// This machine's name.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

//! Settings: built-in defaults, then a TOML file, then `BELLWETHER_*` environment variables, then flags.
//!
//! The file is `--config FILE` (or `BELLWETHER_CONFIG`); without one, `bellwether.toml` in the data directory
//! is read when it exists. No file is needed: every setting has a default.

use crate::error::CliError;
use bellwether_core::time::{DayOrder, EventTimeWindow, TimeReading};
use bellwether_core::Code;
use bellwether_engine::HealthConfig;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The settings file's shape.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    /// Where data lives.
    pub data_dir: Option<PathBuf>,
    /// Log filter: error, warn, info, debug or trace.
    pub log: Option<String>,
    /// Health score weights.
    #[serde(default)]
    pub health: Option<HealthConfig>,
    /// Weekends and holidays for the detectors.
    #[serde(default)]
    pub calendar: Option<bellwether_signals::calendar::CalendarConfig>,
    /// Signal lifecycle.
    #[serde(default)]
    pub signals: Option<bellwether_engine::signals::LifecycleConfig>,
    /// Model scoring and retraining in the daily pass.
    #[serde(default)]
    pub models: Option<ModelSettings>,
    /// The HTTP server (`bellwether serve`).
    #[serde(default)]
    pub server: Option<ServerSettings>,
    /// The event times accepted, by imports and the server alike.
    #[serde(default)]
    pub event_times: Option<EventTimeWindow>,
    /// How dates are read where their text leaves something open (`[import] day_order`, `time_zone`), by
    /// imports and the server alike.
    #[serde(default)]
    pub import: Option<TimeReading>,
    /// The reporting currency and exchange rates (`[money]`, `[money.rates]`).
    #[serde(default)]
    pub money: Option<bellwether_core::MoneyConfig>,
    /// What makes a feature common, for adoption.
    #[serde(default)]
    pub features: Option<bellwether_features::adoption::AdoptionConfig>,
    /// Where the book is kept (`[store] url`, pool size, statement timeout).
    #[serde(default)]
    pub store: Option<StoreSettings>,
    /// When `serve` runs its scheduled jobs (`[schedule]`: `time_zone`, `daily_pass`, `lease_seconds`).
    #[serde(default)]
    pub schedule: Option<bellwether_server::schedule::ScheduleConfig>,
    /// Where alerts go (`[delivery]`: `public_url`, `min_severity`, `[[delivery.webhooks]]`).
    #[serde(default)]
    pub delivery: Option<bellwether_deliver::DeliveryConfig>,
    /// The Slack app whose buttons act on signals (`[slack] signing_secret`).
    #[serde(default)]
    pub slack: Option<SlackSettings>,
    /// The people alerts go to and who may act on whose accounts (`[[people]]`).
    #[serde(default)]
    pub people: Vec<bellwether_core::people::Person>,
}

/// `[slack]`: the Slack app.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackSettings {
    /// The app's signing secret (Slack's Basic Information page); `BELLWETHER_SLACK_SIGNING_SECRET` too.
    pub signing_secret: Option<String>,
    /// The app's bot token (`xoxb-…`, OAuth & Permissions, with `chat:write`): alerts are then posted as the
    /// app, to each person's direct messages and to `[[delivery.slack]]` channels given by id, and rewritten
    /// when they clear. `BELLWETHER_SLACK_BOT_TOKEN` too.
    pub bot_token: Option<String>,
    /// Slack's Web API (default `https://slack.com/api`).
    pub api_url: Option<String>,
}

impl std::fmt::Debug for SlackSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackSettings")
            .field(
                "signing_secret",
                &self.signing_secret.as_ref().map(|_| "********"),
            )
            .field("bot_token", &self.bot_token.as_ref().map(|_| "********"))
            .field("api_url", &self.api_url)
            .finish()
    }
}

/// `[store]`: the database. No URL means the embedded store in the data directory.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// A `postgres://` URL (`--database-url` and `BELLWETHER_DATABASE_URL` override it).
    pub url: Option<String>,
    /// PostgreSQL connections each process keeps open (default 8).
    pub pool_size: usize,
    /// A PostgreSQL statement running longer than this is cancelled (default 300 s).
    pub statement_timeout_seconds: u64,
}

impl Default for StoreSettings {
    fn default() -> StoreSettings {
        StoreSettings {
            url: None,
            pool_size: 8,
            statement_timeout_seconds: 300,
        }
    }
}

/// `[models]`: what every pass does with the trained models (the engine's one policy).
pub type ModelSettings = bellwether_engine::ModelPolicy;

/// The `[server]` table: where `bellwether serve` listens and the webhook secrets.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to listen on (default 127.0.0.1:8089).
    pub listen: Option<String>,
    /// Stripe's endpoint signing secret (`whsec_...`).
    pub stripe_webhook_secret: Option<String>,
    /// The shared secret of Segment's webhook destination.
    pub segment_shared_secret: Option<String>,
    /// Tracking requests are refused with 503 `ingest_backlog` while this many messages wait to be applied
    /// (default 5,000,000).
    pub max_inbox_messages: Option<u64>,
    /// Seconds a connection may take to send a request's headers, or stay idle between requests (default 30).
    pub header_timeout_seconds: Option<u64>,
    /// Seconds a request body may pause before the request fails (default 30).
    pub body_timeout_seconds: Option<u64>,
    /// Open connections at most (default 4,096).
    pub max_connections: Option<usize>,
    /// Seconds the applier lease lasts unrenewed: when the server applying the tracking inbox stops, another
    /// server on the database takes over within this time (default 15).
    pub applier_lease_seconds: Option<u64>,
}

impl std::fmt::Debug for ServerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mask = |s: &Option<String>| s.as_ref().map(|_| "********");
        f.debug_struct("ServerSettings")
            .field("listen", &self.listen)
            .field("stripe_webhook_secret", &mask(&self.stripe_webhook_secret))
            .field("segment_shared_secret", &mask(&self.segment_shared_secret))
            .field("max_inbox_messages", &self.max_inbox_messages)
            .field("header_timeout_seconds", &self.header_timeout_seconds)
            .field("body_timeout_seconds", &self.body_timeout_seconds)
            .field("max_connections", &self.max_connections)
            .field("applier_lease_seconds", &self.applier_lease_seconds)
            .finish()
    }
}

/// The resolved settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where data lives.
    pub data_dir: PathBuf,
    /// Health score weights.
    pub health: HealthConfig,
    /// Working-day calendar.
    pub calendar: bellwether_signals::calendar::Calendar,
    /// Signal lifecycle.
    pub lifecycle: bellwether_engine::signals::LifecycleConfig,
    /// Log level.
    pub log: String,
    /// Model scoring and retraining.
    pub models: ModelSettings,
    /// The HTTP server's settings from the file (flags and environment variables override them).
    pub server: ServerSettings,
    /// The event times accepted (`[event_times]`), by imports and the server alike.
    pub event_times: EventTimeWindow,
    /// How dates are read (`[import]`), by imports and the server alike.
    pub time_reading: TimeReading,
    /// The reporting currency and rates ARR is summed and ranked in.
    pub money: bellwether_core::MoneyConfig,
    /// What makes a feature common, for adoption (`[features]`).
    pub adoption: bellwether_features::adoption::AdoptionConfig,
    /// The database (`[store]`, with the URL from the flag or environment put over the file's).
    pub store: StoreSettings,
    /// The jobs `serve` runs on a schedule (`[schedule]`; by default the daily pass at 06:00 UTC).
    pub schedule: bellwether_server::schedule::ScheduleConfig,
    /// Where alerts go (`[delivery]`; none by default).
    pub delivery: bellwether_deliver::DeliveryConfig,
    /// The Slack app and the people directory, when a signing secret is set.
    pub slack: Option<bellwether_server::routes::SlackApp>,
    /// The people alerts and digests go to (`[[people]]`).
    pub people: bellwether_deliver::people::People,
}

impl Settings {
    /// The date reading of the settings, with a command's `--day-order` put over `[import] day_order`.
    pub fn time_reading_with(&self, day_order: Option<DayOrder>) -> TimeReading {
        TimeReading {
            day_order: day_order.or(self.time_reading.day_order),
            ..self.time_reading
        }
    }

    /// The engine these settings describe, with every registered detector.
    pub fn engine(&self) -> bellwether_engine::Engine {
        self.engine_waking(None)
    }

    /// The engine as [`Settings::engine`] makes it, whose passes wake `worker` (the outbox worker of this
    /// process) when they queue alerts.
    pub fn engine_waking(
        &self,
        worker: Option<std::sync::Arc<tokio::sync::Notify>>,
    ) -> bellwether_engine::Engine {
        bellwether_engine::Engine {
            health: self.health.clone(),
            calendar: self.calendar.clone(),
            detectors: bellwether_signals::detectors::all(),
            lifecycle: self.lifecycle.clone(),
            money: self.money.clone(),
            adoption: self.adoption.clone(),
            models: Some(bellwether_predict::score::models(self.models.clone())),
            currencies: Default::default(),
            alerting: self.delivery.sends_alerts().then(|| {
                let alerts =
                    bellwether_deliver::Alerts::new(self.delivery.clone(), self.people.clone());
                std::sync::Arc::new(match worker {
                    Some(w) => alerts.waking(w),
                    None => alerts,
                }) as std::sync::Arc<dyn bellwether_engine::Alerting>
            }),
        }
    }
}

/// The default data directory: `$XDG_DATA_HOME/bellwether`, else `~/.local/share/bellwether`, else
/// `./bellwether-data`.
pub fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("bellwether");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".local/share/bellwether");
    }
    PathBuf::from("bellwether-data")
}

fn read_file(path: &Path) -> Result<FileSettings, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::new(
            Code::InvalidConfig,
            format!("cannot read the config file {}: {e}", path.display()),
        )
    })?;
    toml::from_str(&text)
        .map_err(|e| CliError::new(Code::InvalidConfig, format!("{}: {e}", path.display())))
}

/// Resolves settings from the flags (which clap already merged with their environment variables).
pub fn load(
    config: Option<&Path>,
    data_dir: Option<&Path>,
    log: Option<&str>,
    database_url: Option<&str>,
) -> Result<Settings, CliError> {
    let path = match config {
        Some(p) => Some(p.to_path_buf()),
        None => Some(
            data_dir
                .map(Path::to_path_buf)
                .unwrap_or_else(default_data_dir)
                .join("bellwether.toml"),
        )
        .filter(|p| p.is_file()),
    };
    let file = match &path {
        Some(p) => read_file(p)?,
        None => FileSettings::default(),
    };
    let health = file.health.unwrap_or_default();
    health
        .validate()
        .map_err(|e| CliError::new(Code::InvalidConfig, e))?;
    let adoption = file.features.unwrap_or_default();
    adoption
        .validate()
        .map_err(|e| CliError::new(Code::InvalidConfig, e))?;
    let calendar =
        bellwether_signals::calendar::Calendar::from_config(&file.calendar.unwrap_or_default())
            .map_err(|e| CliError::new(Code::InvalidConfig, e))?;
    let money = file.money.unwrap_or_default();
    money
        .validate()
        .map_err(|e| CliError::new(Code::InvalidConfig, e))?;
    let mut store = file.store.unwrap_or_default();
    if let Some(url) = database_url {
        store.url = Some(url.to_string());
    }
    crate::store::backend(store.url.as_deref())?;
    let schedule = file.schedule.unwrap_or_default();
    schedule
        .check()
        .map_err(|e| CliError::new(Code::InvalidConfig, e))?;
    let mut delivery = file.delivery.unwrap_or_default();
    // A templates folder is where the config file says, whatever the working directory.
    if let (Some(t), Some(dir)) = (
        delivery.templates.as_mut(),
        path.as_deref().and_then(Path::parent),
    ) {
        if t.is_relative() {
            *t = dir.join(&*t);
        }
    }
    let env = |k: &str| std::env::var(k).ok().filter(|s| !s.trim().is_empty());
    delivery.slack_app = file
        .slack
        .as_ref()
        .and_then(|s| s.bot_token.clone())
        .or_else(|| env("BELLWETHER_SLACK_BOT_TOKEN"))
        .filter(|t| !t.trim().is_empty())
        .map(
            |bot_token| bellwether_deliver::channels::slack::SlackAppConfig {
                bot_token,
                api_url: file
                    .slack
                    .as_ref()
                    .and_then(|s| s.api_url.clone())
                    .unwrap_or_else(|| "https://slack.com/api".into()),
            },
        );
    delivery
        .check()
        .map_err(|e| CliError::new(Code::InvalidConfig, e))?;
    let people = bellwether_deliver::people::People(file.people.clone());
    people
        .check()
        .and_then(|()| delivery.check_people(&people))
        .map_err(|e| CliError::new(Code::InvalidConfig, e))?;
    let slack = file
        .slack
        .and_then(|s| s.signing_secret)
        .or_else(|| std::env::var("BELLWETHER_SLACK_SIGNING_SECRET").ok())
        .filter(|s| !s.trim().is_empty())
        .map(|signing_secret| bellwether_server::routes::SlackApp {
            signing_secret,
            people: people.clone(),
        });
    Ok(Settings {
        people,
        slack,
        delivery,
        schedule,
        store,
        money,
        calendar,
        lifecycle: file.signals.unwrap_or_default(),
        models: file.models.unwrap_or_default(),
        server: file.server.unwrap_or_default(),
        event_times: file.event_times.unwrap_or_default(),
        time_reading: file.import.unwrap_or_default(),
        adoption,
        data_dir: data_dir
            .map(Path::to_path_buf)
            .or(file.data_dir)
            .unwrap_or_else(default_data_dir),
        health,
        log: log
            .map(String::from)
            .or(file.log)
            .unwrap_or_else(|| "warn".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_apply_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.toml");
        std::fs::write(
            &p,
            "data_dir = \"/srv/bw\"\nlog = \"debug\"\n[health.weights]\nusage = 0.5\n",
        )
        .unwrap();
        let s = load(Some(&p), None, None, None).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/srv/bw"));
        assert_eq!(s.log, "debug");
        assert_eq!(s.health.weights["usage"], 0.5);
        assert_eq!(s.event_times, EventTimeWindow::default());
        std::fs::write(
            &p,
            "[event_times]\nearliest = \"1995-06-01\"\nmax_ahead_hours = 2\n",
        )
        .unwrap();
        let w = load(Some(&p), None, None, None).unwrap().event_times;
        assert_eq!(w.earliest, bellwether_core::Day::ymd(1995, 6, 1));
        assert_eq!(w.max_ahead_hours, 2);
        std::fs::write(&p, "data_dir = \"/srv/bw\"\nlog = \"debug\"\n").unwrap();
        let s = load(Some(&p), Some(Path::new("/tmp/x")), Some("info"), None).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(s.log, "info");
    }

    #[test]
    fn features_settings_apply_and_bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.toml");
        std::fs::write(&p, "[features]\ncommon_share = 0.3\n").unwrap();
        let s = load(Some(&p), None, None, None).unwrap();
        assert_eq!((s.adoption.common_share, s.adoption.min_accounts), (0.3, 5));
        assert_eq!(s.engine().adoption, s.adoption);
        std::fs::write(&p, "[features]\ncommon_share = 0\n").unwrap();
        let e = load(Some(&p), None, None, None).unwrap_err();
        assert_eq!(e.code, Code::InvalidConfig);
        assert!(e.message.contains("features.common_share"), "{}", e.message);
    }

    #[test]
    fn a_templates_folder_is_read_beside_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("mail")).unwrap();
        std::fs::write(dir.path().join("mail/alert_subject.txt"), "{{ account }}").unwrap();
        let p = dir.path().join("b.toml");
        std::fs::write(&p, "[delivery]\ntemplates = \"mail\"\n").unwrap();
        let s = load(Some(&p), None, None, None).unwrap();
        assert_eq!(s.delivery.templates, Some(dir.path().join("mail")));
        std::fs::write(dir.path().join("mail/alert_subjet.txt"), "{{ account }}").unwrap();
        let e = load(Some(&p), None, None, None).unwrap_err();
        assert!(
            e.message.contains("alert_subjet.txt is not a template"),
            "{}",
            e.message
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.toml");
        std::fs::write(&p, "datadir = \"/srv/bw\"\n").unwrap();
        let e = load(Some(&p), None, None, None).unwrap_err();
        assert_eq!(e.code, Code::InvalidConfig);
        assert!(e.message.contains("datadir"), "{}", e.message);
    }
}

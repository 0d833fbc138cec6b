//! The channels that carry outbox entries, each a small component behind [`Channel`], registered in one place
//! ([`Channels::from_config`]). A channel delivers one entry with the entry's id as the idempotency key the
//! peer sees, and classifies what happened: delivered, retry later (5xx, timeouts, 408, 429, the peer
//! unreachable; after its `Retry-After` when it sent one) or parked (any other refusal).

pub mod email;
pub mod slack;
pub mod webhook;

use bellwether_core::Timestamp;
use bellwether_store::{Delivery, OutboxEntry};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// One way of delivering outbox entries.
#[async_trait::async_trait]
pub trait Channel: Send + Sync {
    /// The channel's name, as outbox entries name it.
    fn name(&self) -> &'static str;
    /// Delivers one entry and says how it went; `prior` is the entry it follows up, when there is one (the
    /// opening alert a clearing one closes, on the same destination), for a channel that edits what it sent.
    async fn deliver(&self, entry: &OutboxEntry, prior: Option<&OutboxEntry>) -> Delivery;
}

/// The configured channels, by name.
#[derive(Clone, Default)]
pub struct Channels(HashMap<&'static str, Arc<dyn Channel>>);

impl Channels {
    /// Every channel `config` configures.
    pub fn from_config(config: &crate::DeliveryConfig) -> Result<Channels, String> {
        let mut all = Channels::default();
        if !config.webhooks.is_empty() {
            all.add(Arc::new(webhook::Webhooks::new(&config.webhooks)?));
        }
        if !config.slack.is_empty() || config.slack_app.is_some() {
            all.add(Arc::new(slack::Slack::new(
                &config.slack,
                config.slack_app.as_ref(),
            )?));
        }
        // A mail server alone is enough: digests go to each owner's address.
        if !config.email.is_empty() || config.smtp_url().is_some() {
            let url = config.smtp_url().ok_or(
                "[[delivery.email]] needs a mail server: set [delivery] smtp_url or BELLWETHER_SMTP_URL (smtp://host:port)",
            )?;
            let templates = crate::templates::Templates::load(config.templates.as_deref())?;
            all.add(Arc::new(email::Email::new(&config.email, &url, templates)?));
        }
        Ok(all)
    }

    /// Adds (or replaces) a channel.
    pub fn add(&mut self, c: Arc<dyn Channel>) {
        self.0.insert(c.name(), c);
    }

    /// The channel of that name.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Channel>> {
        self.0.get(name)
    }

    /// Whether none is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The HTTP client the channels send with: bounded connect and request times, Bellwether's user agent.
pub fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("Bellwether/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("the HTTP client could not be built: {e}"))
}

/// Sends `body` as JSON to `url` with `headers` and says how it went ([`classify`], [`unreachable`]).
pub async fn post_json(
    http: &reqwest::Client,
    url: &str,
    headers: &[(&str, String)],
    body: String,
    attempts: i64,
) -> Delivery {
    post_json_answer(http, url, headers, body, attempts).await.0
}

/// [`post_json`], with the body the peer answered (empty when it could not be reached).
pub async fn post_json_answer(
    http: &reqwest::Client,
    url: &str,
    headers: &[(&str, String)],
    body: String,
    attempts: i64,
) -> (Delivery, String) {
    let mut req = http.post(url).header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    match req.body(body).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let retry_after = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let text = r.text().await.unwrap_or_default();
            let d = classify(
                status,
                retry_after.as_deref(),
                &text,
                attempts,
                Timestamp::now(),
            );
            (d, text)
        }
        Err(e) => (unreachable(e, attempts, Timestamp::now()), String::new()),
    }
}

/// The destination `entry` names among `known` (`what` names the setting), and its alert read back; a
/// delivery to park when either is missing.
pub fn destination_and_alert<'a, T>(
    known: &'a HashMap<String, T>,
    entry: &OutboxEntry,
    what: &str,
) -> Result<(&'a T, serde_json::Value), Delivery> {
    let d = known
        .get(&entry.item.destination)
        .ok_or_else(|| Delivery::Parked {
            error: format!("no destination named {} in {what}", entry.item.destination),
        })?;
    let alert = serde_json::from_str(&entry.item.payload).map_err(|e| Delivery::Parked {
        error: format!("the alert is not JSON: {e}"),
    })?;
    Ok((d, alert))
}

/// The account's figures an alert shows, as `(label, value)`, in order: health, priority, churn probability,
/// ARR and owner, each when the alert has it.
pub fn account_facts(alert: &serde_json::Value) -> Vec<(&'static str, String)> {
    let a = &alert["account"];
    let mut out = Vec::new();
    if let Some(h) = a["health"].as_f64() {
        out.push(("Health", format!("{h:.0}")));
    }
    if let Some(p) = a["priority"].as_f64() {
        out.push(("Priority", format!("{p:.1}")));
    }
    if let Some(p) = a["churn_probability"].as_f64() {
        out.push(("Churn probability", format!("{:.0}%", p * 100.0)));
    }
    if let Some(m) = a["arr_minor"].as_i64() {
        out.push(("ARR", format!("{:.0}", m as f64 / 100.0)));
    }
    if let Some(o) = a["owner"].as_str().filter(|o| !o.is_empty()) {
        out.push(("Owner", o.to_string()));
    }
    out
}

/// The line an alert opens with when its signal grew into it while open: `Raised from medium to high
/// while open`.
pub fn raised_line(alert: &serde_json::Value) -> Option<String> {
    let from = alert["raised_from"].as_str()?;
    let now = alert["signal"]["severity"]
        .as_str()
        .unwrap_or("a higher severity");
    Some(format!("Raised from {from} to {now} while open"))
}

/// The line an escalated alert opens with, saying why its reader gets it: `Escalated to you as
/// ana@example.com's leader: critical severity`.
pub fn escalation_line(alert: &serde_json::Value) -> Option<String> {
    let why = alert["escalation"].as_str()?;
    let owner = alert["signal"]["owner"].as_str().unwrap_or("the owner");
    Some(format!("Escalated to you as {owner}'s leader: {why}"))
}

/// How long to wait before attempt `attempts + 1`: 5 s, doubling, at most an hour.
pub fn backoff(attempts: i64) -> Duration {
    let n = attempts.clamp(1, 20) as u32 - 1;
    Duration::from_secs((5u64 << n.min(10)).min(3_600))
}

/// What an HTTP answer means for delivery: 2xx delivered; 408, 429 and 5xx retried (after `Retry-After`
/// seconds when given, else the backoff); other statuses parked with the status and the start of the body.
pub fn classify(
    status: u16,
    retry_after: Option<&str>,
    body: &str,
    attempts: i64,
    now: Timestamp,
) -> Delivery {
    let excerpt: String = body.chars().take(200).collect();
    match status {
        200..=299 => Delivery::Delivered { reference: None },
        408 | 429 | 500..=599 => {
            let wait = retry_after
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
                .unwrap_or_else(|| backoff(attempts));
            Delivery::Retry {
                at: Timestamp(now.0 + wait.as_millis() as i64),
                error: format!("the peer answered {status}: {excerpt}"),
            }
        }
        _ => Delivery::Parked {
            error: format!("the peer refused it with {status}: {excerpt}"),
        },
    }
}

/// A failure to reach the peer at all (refused, timed out, cut): retried after the backoff.
pub fn unreachable(error: impl std::fmt::Display, attempts: i64, now: Timestamp) -> Delivery {
    Delivery::Retry {
        at: Timestamp(now.0 + backoff(attempts).as_millis() as i64),
        error: format!("the peer could not be reached: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_delivered_retried_or_parked() {
        let now = Timestamp(1_000_000);
        assert_eq!(
            classify(204, None, "", 1, now),
            Delivery::Delivered { reference: None }
        );
        for s in [408, 429, 500, 503] {
            assert!(
                matches!(classify(s, None, "", 1, now), Delivery::Retry { .. }),
                "{s}"
            );
        }
        match classify(429, Some("30"), "slow down", 1, now) {
            Delivery::Retry { at, error } => {
                assert_eq!(at, Timestamp(now.0 + 30_000), "Retry-After is kept");
                assert!(error.contains("429") && error.contains("slow down"));
            }
            d => panic!("{d:?}"),
        }
        match classify(503, None, "", 3, now) {
            Delivery::Retry { at, .. } => {
                assert_eq!(at, Timestamp(now.0 + 20_000), "5 s doubled twice")
            }
            d => panic!("{d:?}"),
        }
        assert!(matches!(
            classify(404, None, "gone", 1, now),
            Delivery::Parked { .. }
        ));
        assert!(matches!(
            classify(400, None, "", 1, now),
            Delivery::Parked { .. }
        ));
        assert_eq!(backoff(1), Duration::from_secs(5));
        assert_eq!(backoff(50), Duration::from_secs(3_600));
    }
}

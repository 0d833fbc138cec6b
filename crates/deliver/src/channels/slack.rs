//! Slack through incoming webhooks (`[[delivery.slack]]`): each alert as a Block Kit message, POSTed to the
//! destination's webhook URL. The message carries the cause as a header and text, the suggested play, the
//! account's figures as fields, the signal and its day in a context line, and a button that opens the account
//! when `public_url` is set. An opened alert also has Acknowledge and Snooze buttons, which the Slack app's
//! interactivity endpoint of `serve` (`/slack/interactivity`) answers. Slack answers 200 `ok`. A 429 (with `Retry-After`) or a 5xx is retried. A 400, 403,
//! 404 or 410 (invalid payload, webhook revoked, channel archived) is parked with Slack's reason.
//!
//! An incoming webhook takes no idempotency key: a delivery sent again after a crash between Slack's answer
//! and the outbox's mark shows twice. The Slack app mode, which updates the message it posted, avoids that.

use super::Channel;
use bellwether_store::{Delivery, OutboxEntry};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The channel's name in outbox entries.
pub const NAME: &str = "slack";

/// One incoming webhook (`[[delivery.slack]]`).
#[derive(Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// Its name, which alerts are queued under.
    pub name: String,
    /// The incoming webhook's URL (`https://hooks.slack.com/services/…`): a secret, never logged.
    pub webhook_url: String,
    /// Whether alerts go to it (default true); `false` for a person's own destination that only their
    /// digest goes to (`[[people]] slack`).
    #[serde(default)]
    pub alerts: Option<bool>,
}

impl std::fmt::Debug for SlackConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackConfig")
            .field("name", &self.name)
            .field("webhook_url", &"********")
            .finish()
    }
}

impl SlackConfig {
    /// Checks the webhook; the error names the setting.
    pub fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("[[delivery.slack]] name is empty".into());
        }
        if !(self.webhook_url.starts_with("https://") || self.webhook_url.starts_with("http://")) {
            return Err(format!(
                "[[delivery.slack]] {}: webhook_url is not an https:// address (Slack's incoming webhook URL)",
                self.name
            ));
        }
        Ok(())
    }
}

/// Text cut to `max` characters (Block Kit's limits), with an ellipsis when cut.
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// A signal kind in words: `payment_failure` → `Payment failure`.
fn kind_words(kind: &str) -> String {
    let words = kind.replace('_', " ");
    let mut c = words.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// The Block Kit message of an alert (the outbox entry's payload, as [`crate::alerts`] writes it).
pub fn message(alert: &Value) -> Value {
    let s = &alert["signal"];
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let account = text(&s["account_id"]);
    let kind = kind_words(&text(&s["kind"]));
    let closed = alert["type"] == "alert.closed";
    let title = if closed {
        format!("Cleared: {kind} on {account}")
    } else {
        format!("{kind} on {account} ({})", text(&s["severity"]))
    };
    let mut body = text(&s["explanation"]);
    let play = text(&s["suggested_action"]);
    if !closed && !play.is_empty() {
        body.push_str(&format!("\n*Play:* {play}"));
    }
    let fields: Vec<Value> = super::account_facts(alert)
        .into_iter()
        .map(|(label, value)| {
            json!({"type": "mrkdwn", "text": cut(&format!("*{label}*\n{value}"), 2000)})
        })
        .collect();
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": cut(&title, 150)}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&body, 3000)}}),
    ];
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    blocks.push(
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": cut(&format!(
        "Signal `{}` · detected {} · as of {}",
        text(&s["id"]),
        text(&s["detected_at"]),
        text(&alert["as_of"])
    ), 3000)}]}),
    );
    // Buttons the Slack app's interactivity answers (`/slack/interactivity`), and a link to the account.
    let mut buttons = Vec::new();
    if !closed {
        for (action, label) in [
            ("bellwether_ack", "Acknowledge"),
            ("bellwether_snooze", "Snooze 7 days"),
        ] {
            buttons.push(json!({
                "type": "button",
                "action_id": action,
                "text": {"type": "plain_text", "text": label},
                "value": text(&s["id"]),
            }));
        }
    }
    if let Some(link) = alert["link"].as_str() {
        buttons.push(json!({
            "type": "button",
            "action_id": "open_account",
            "text": {"type": "plain_text", "text": "Open account"},
            "url": link,
        }));
    }
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    json!({"text": cut(&format!("{title}: {}", text(&s["explanation"])), 3000), "blocks": blocks})
}

/// The Slack channel: every configured incoming webhook, by name.
pub struct Slack {
    hooks: HashMap<String, String>,
    http: reqwest::Client,
}

impl Slack {
    /// The channel of these webhooks (checked first).
    pub fn new(config: &[SlackConfig]) -> Result<Slack, String> {
        let mut hooks = HashMap::new();
        for c in config {
            c.check()?;
            hooks.insert(c.name.clone(), c.webhook_url.clone());
        }
        Ok(Slack {
            hooks,
            http: super::http_client()?,
        })
    }
}

#[async_trait::async_trait]
impl Channel for Slack {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn deliver(&self, entry: &OutboxEntry) -> Delivery {
        let (url, alert) =
            match super::destination_and_alert(&self.hooks, entry, "[[delivery.slack]]") {
                Ok(d) => d,
                Err(park) => return park,
            };
        // A digest comes with its blocks; an alert is rendered here.
        let body = if alert["type"] == "digest" {
            json!({"text": alert["subject"], "blocks": alert["blocks"]})
        } else {
            message(&alert)
        };
        super::post_json(&self.http, url, &[], body.to_string(), entry.attempts).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_becomes_blocks_within_slacks_limits() {
        let alert = json!({
            "type": "alert.opened", "as_of": "2026-12-01",
            "signal": {"id": "s1", "account_id": "acct-9", "kind": "payment_failure", "severity": "high",
                       "explanation": "x".repeat(5000), "suggested_action": "Call the billing contact",
                       "detected_at": "2026-12-01"},
            "account": {"health": 41.6, "priority": 12.34, "churn_probability": 0.27, "arr_minor": 4_800_000,
                        "owner": "ana@example.com"},
            "link": "https://cs.example.com/v1/accounts/acct-9",
        });
        let m = message(&alert);
        let blocks = m["blocks"].as_array().unwrap();
        assert_eq!(
            blocks[0]["text"]["text"],
            "Payment failure on acct-9 (high)"
        );
        assert_eq!(
            blocks[1]["text"]["text"].as_str().unwrap().chars().count(),
            3000
        );
        let fields: Vec<&str> = blocks[2]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["text"].as_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "*Health*\n42",
                "*Priority*\n12.3",
                "*Churn probability*\n27%",
                "*ARR*\n48000",
                "*Owner*\nana@example.com"
            ]
        );
        let buttons = blocks.last().unwrap()["elements"].as_array().unwrap();
        assert_eq!(buttons[0]["action_id"], "bellwether_ack");
        assert_eq!(buttons[0]["value"], "s1");
        assert_eq!(
            buttons[2]["url"],
            "https://cs.example.com/v1/accounts/acct-9"
        );
        let closed = message(
            &json!({"type": "alert.closed", "signal": {"kind": "usage_drop", "account_id": "a"}}),
        );
        assert_eq!(
            closed["blocks"][0]["text"]["text"],
            "Cleared: Usage drop on a"
        );
    }
}

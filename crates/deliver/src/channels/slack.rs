//! Slack (`[[delivery.slack]]`, and the Slack app of `[slack] bot_token`): each alert as a Block Kit message.
//! The message carries the cause as a header and text, the suggested play, the account's figures as fields,
//! the signal and its day in a context line, and a button that opens the account when `public_url` is set.
//! An opened alert also has Acknowledge, Snooze and Mark contacted buttons, which the Slack app's
//! interactivity endpoint of `serve` (`/slack/interactivity`) answers.
//!
//! Two ways to post:
//! - an incoming webhook (`webhook_url`): POSTed to the URL; Slack answers 200 `ok`. A 429 (with
//!   `Retry-After`) or a 5xx is retried; a 400, 403, 404 or 410 (invalid payload, webhook revoked, channel
//!   archived) is parked with Slack's reason. An incoming webhook takes no idempotency key: a delivery sent
//!   again after a crash between Slack's answer and the outbox's mark shows twice.
//! - the Slack app (`channel = "C…"` on a destination, and each person's direct messages, destination
//!   `user:U…`): `chat.postMessage` with the bot token, the outbox entry's id in the message's metadata (a
//!   retry first looks for the message an earlier attempt posted, by that id, so a crash between Slack's
//!   answer and the outbox's mark does not post twice); the channel and `ts` Slack returns are kept as the
//!   entry's reference, and when the alert clears the same
//!   message is rewritten with `chat.update` to say so. Slack's `ok: false` answers are sorted as its Web API
//!   documents them: `ratelimited` and Slack's own failures are retried, the rest (`channel_not_found`,
//!   `invalid_auth`, …) parked with the error.

use super::Channel;
use bellwether_core::Timestamp;
use bellwether_store::{Delivery, OutboxEntry};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The channel's name in outbox entries.
pub const NAME: &str = "slack";

/// The prefix of a destination that is one Slack user's direct messages from the app (`user:U012AB3CD`).
pub const USER: &str = "user:";

/// How long the Snooze button hides a signal.
pub const SNOOZE_DAYS: i32 = 7;

/// A control of an opened alert's message, which the Slack app's interactivity endpoint of `serve`
/// (`/slack/interactivity`) answers: the one list both sides read. The buttons carry the signal's id as their
/// value; the date picker, which has none, finds it in its block's id ([`BLOCK_PREFIX`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Button {
    /// Acknowledge the signal.
    Acknowledge,
    /// Snooze it for [`SNOOZE_DAYS`].
    Snooze,
    /// Mark the account contacted today (a call is recorded) and acknowledge the signal.
    Contacted,
    /// Snooze it until the day picked (a date picker).
    SnoozeUntil,
}

/// The prefix of the `block_id` of an alert's actions: the signal's id follows it.
pub const BLOCK_PREFIX: &str = "bellwether:";

/// The longest `block_id` Slack takes: a longer signal id gets no date picker (its buttons still work).
const MAX_BLOCK_ID: usize = 255;

impl Button {
    /// Every button, in the message's order.
    pub const ALL: [Button; 4] = [
        Button::Acknowledge,
        Button::Snooze,
        Button::Contacted,
        Button::SnoozeUntil,
    ];

    /// Its `action_id` in the message and in Slack's click payload.
    pub fn action_id(self) -> &'static str {
        match self {
            Button::Acknowledge => "bellwether_ack",
            Button::Snooze => "bellwether_snooze",
            Button::Contacted => "bellwether_contacted",
            Button::SnoozeUntil => "bellwether_snooze_until",
        }
    }

    /// The button's words.
    pub fn label(self) -> String {
        match self {
            Button::Acknowledge => "Acknowledge".into(),
            Button::Snooze => format!("Snooze {SNOOZE_DAYS} days"),
            Button::Contacted => "Mark contacted".into(),
            Button::SnoozeUntil => "Snooze until…".into(),
        }
    }

    /// The button of an `action_id`, if it is one of ours.
    pub fn parse(action_id: &str) -> Option<Button> {
        Button::ALL.into_iter().find(|b| b.action_id() == action_id)
    }
}

/// One Slack destination (`[[delivery.slack]]`): an incoming webhook, or a channel the Slack app posts to.
#[derive(Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// Its name, which alerts are queued under.
    pub name: String,
    /// The incoming webhook's URL (`https://hooks.slack.com/services/…`): a secret, never logged.
    #[serde(default)]
    pub webhook_url: String,
    /// Or the channel id (`C…`) the Slack app posts to (needs `[slack] bot_token`).
    #[serde(default)]
    pub channel: Option<String>,
    /// Whether alerts go to it (default true); `false` for a person's own destination that only their
    /// messages go to (`[[people]] slack`).
    #[serde(default)]
    pub alerts: Option<bool>,
}

impl std::fmt::Debug for SlackConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackConfig")
            .field("name", &self.name)
            .field("webhook_url", &"********")
            .field("channel", &self.channel)
            .finish()
    }
}

impl SlackConfig {
    /// Checks the destination where the Slack app is set up (`app`) or not: a `channel` needs it. The error
    /// names the setting.
    pub fn check_for(&self, app: bool) -> Result<(), String> {
        self.check()?;
        match &self.channel {
            Some(ch) if !app => Err(format!(
                "[[delivery.slack]] {}: channel = \"{ch}\" needs the Slack app: set [slack] bot_token (or BELLWETHER_SLACK_BOT_TOKEN), or give webhook_url instead",
                self.name
            )),
            _ => Ok(()),
        }
    }

    /// Checks the destination on its own; the error names the setting.
    fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("[[delivery.slack]] name is empty".into());
        }
        match (&self.channel, self.webhook_url.is_empty()) {
            (Some(_), false) => Err(format!(
                "[[delivery.slack]] {}: give webhook_url (an incoming webhook) or channel (the Slack app posts), not both",
                self.name
            )),
            (Some(c), true) if c.trim().is_empty() => Err(format!(
                "[[delivery.slack]] {}: channel is empty (a channel id such as C0123456789)",
                self.name
            )),
            (Some(_), true) => Ok(()),
            (None, _) if !(self.webhook_url.starts_with("https://") || self.webhook_url.starts_with("http://")) => Err(format!(
                "[[delivery.slack]] {}: webhook_url is not an https:// address (Slack's incoming webhook URL); or give channel = \"C…\" for the Slack app",
                self.name
            )),
            (None, _) => Ok(()),
        }
    }
}

/// The Slack app's posting settings (`[slack] bot_token`, `api_url`).
#[derive(Clone, PartialEq, Eq)]
pub struct SlackAppConfig {
    /// The bot token (`xoxb-…`): a secret, never logged.
    pub bot_token: String,
    /// Slack's Web API (default `https://slack.com/api`).
    pub api_url: String,
}

impl std::fmt::Debug for SlackAppConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackAppConfig")
            .field("bot_token", &"********")
            .field("api_url", &self.api_url)
            .finish()
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
    if let Some(line) = super::raised_line(alert).filter(|_| !closed) {
        body = format!("_{line}_\n{body}");
    }
    if let Some(line) = super::escalation_line(alert) {
        body = format!("_{line}_\n{body}");
    }
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
    let block_id = format!("{BLOCK_PREFIX}{}", text(&s["id"]));
    let picker = block_id.len() <= MAX_BLOCK_ID;
    if !closed {
        for b in Button::ALL {
            buttons.push(match b {
                Button::SnoozeUntil if !picker => continue,
                Button::SnoozeUntil => json!({
                    "type": "datepicker",
                    "action_id": b.action_id(),
                    "placeholder": {"type": "plain_text", "text": b.label()},
                }),
                _ => json!({
                    "type": "button",
                    "action_id": b.action_id(),
                    "text": {"type": "plain_text", "text": b.label()},
                    "value": text(&s["id"]),
                }),
            });
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
        let mut actions = json!({"type": "actions", "elements": buttons});
        if picker && !closed {
            actions["block_id"] = json!(block_id);
        }
        blocks.push(actions);
    }
    json!({"text": cut(&format!("{title}: {}", text(&s["explanation"])), 3000), "blocks": blocks})
}

/// Where a named destination posts.
enum Target {
    /// An incoming webhook's URL.
    Webhook(String),
    /// A channel the app posts to.
    Channel(String),
}

/// The Slack channel: every configured destination by name, and the app's direct messages.
pub struct Slack {
    targets: HashMap<String, Target>,
    app: Option<SlackAppConfig>,
    http: reqwest::Client,
}

impl Slack {
    /// The channel of these destinations (checked first), posting through `app` where it is set up.
    pub fn new(config: &[SlackConfig], app: Option<&SlackAppConfig>) -> Result<Slack, String> {
        let mut targets = HashMap::new();
        for c in config {
            c.check_for(app.is_some())?;
            let t = match &c.channel {
                Some(ch) => Target::Channel(ch.trim().to_string()),
                None => Target::Webhook(c.webhook_url.clone()),
            };
            targets.insert(c.name.clone(), t);
        }
        Ok(Slack {
            targets,
            app: app.cloned(),
            http: super::http_client()?,
        })
    }

    /// Posts (or, with `update` = the channel and `ts` of the message it replaces, rewrites) a message
    /// through the app's Web API; how it went, and the error Slack named when it answered `ok: false`.
    async fn post(
        &self,
        app: &SlackAppConfig,
        channel: &str,
        update: Option<(&str, &str)>,
        mut body: Value,
        entry: &OutboxEntry,
    ) -> (Delivery, Option<String>) {
        let method = if update.is_some() {
            "chat.update"
        } else {
            "chat.postMessage"
        };
        match update {
            Some((ch, ts)) => {
                body["channel"] = json!(ch);
                body["ts"] = json!(ts);
            }
            None => {
                // A retry may follow an attempt Slack took whose answer never reached the outbox.
                if entry.attempts > 1 {
                    if let Some(reference) = self.posted_before(app, channel, entry).await {
                        let reference = Some(reference);
                        return (Delivery::Delivered { reference }, None);
                    }
                }
                body["channel"] = json!(channel);
                body["metadata"] = json!({
                    "event_type": METADATA_EVENT,
                    "event_payload": {"id": entry.item.id},
                });
            }
        }
        let url = format!("{}/{method}", app.api_url.trim_end_matches('/'));
        let auth = [("authorization", format!("Bearer {}", app.bot_token))];
        match super::post_json_answer(&self.http, &url, &auth, body.to_string(), entry.attempts)
            .await
        {
            (Delivery::Delivered { .. }, text) => (
                web_api_answer(method, &text, entry.attempts, Timestamp::now()),
                serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| v["error"].as_str().map(str::to_string)),
            ),
            (other, _) => (other, None),
        }
    }
}

/// The `event_type` of the metadata that marks a message as an outbox entry's (`event_payload.id`).
const METADATA_EVENT: &str = "bellwether_outbox";

/// How many pages of a channel's history a retry reads looking for what an earlier attempt posted.
const HISTORY_PAGES: usize = 5;

impl Slack {
    /// Calls Web API `method` of the app with a form body (the encoding Slack's read methods take); its
    /// answer when Slack said `ok`, else the error, in words.
    async fn call(
        &self,
        app: &SlackAppConfig,
        method: &str,
        form: &[(&str, &str)],
    ) -> Result<Value, String> {
        let url = format!("{}/{method}", app.api_url.trim_end_matches('/'));
        let answer = self
            .http
            .post(&url)
            .bearer_auth(&app.bot_token)
            .form(form)
            .send()
            .await
            .map_err(|e| format!("{method}: {e}"))?;
        let status = answer.status();
        let text = answer.text().await.map_err(|e| format!("{method}: {e}"))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|_| format!("{method} answered {status} without JSON"))?;
        if v["ok"] == true {
            Ok(v)
        } else {
            Err(format!(
                "{method} answered {}",
                v["error"].as_str().unwrap_or("an error")
            ))
        }
    }

    /// The message (`<channel>/<ts>`) an earlier attempt of `entry` posted to `channel`, if Slack holds
    /// one: the app's messages since the entry was decided, read with their metadata, for the entry's id
    /// (`conversations.history`; a person's direct messages found by `conversations.open`). When the app
    /// cannot read the channel (scopes `channels:history`, `groups:history`, `im:history`), `None`: the
    /// message is posted again, as at-least-once delivery allows.
    async fn posted_before(
        &self,
        app: &SlackAppConfig,
        channel: &str,
        entry: &OutboxEntry,
    ) -> Option<String> {
        let found = async {
            // A user id (`U…`, `W…`) posts to their direct messages, whose history is the DM channel's.
            let channel = if channel.starts_with(['U', 'W']) {
                let v = self
                    .call(app, "conversations.open", &[("users", channel)])
                    .await?;
                v["channel"]["id"]
                    .as_str()
                    .ok_or("conversations.open answered without a channel id")?
                    .to_string()
            } else {
                channel.to_string()
            };
            // A minute of leeway for clocks that differ.
            let oldest = format!("{}", (entry.item.created_at.0 / 1000 - 60).max(0));
            let mut cursor = String::new();
            for _ in 0..HISTORY_PAGES {
                let mut form = vec![
                    ("channel", channel.as_str()),
                    ("oldest", oldest.as_str()),
                    ("include_all_metadata", "true"),
                    ("limit", "200"),
                ];
                if !cursor.is_empty() {
                    form.push(("cursor", cursor.as_str()));
                }
                let v = self.call(app, "conversations.history", &form).await?;
                let mine = v["messages"].as_array().into_iter().flatten().find(|m| {
                    m["metadata"]["event_type"] == METADATA_EVENT
                        && m["metadata"]["event_payload"]["id"] == entry.item.id.as_str()
                });
                if let Some(ts) = mine.and_then(|m| m["ts"].as_str()) {
                    return Ok(Some(format!("{channel}/{ts}")));
                }
                cursor = v["response_metadata"]["next_cursor"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                if v["has_more"] != true || cursor.is_empty() {
                    break;
                }
            }
            Ok::<_, String>(None)
        };
        match found.await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(id = %entry.item.id, "could not look for the message an earlier attempt may have posted, so it is posted again: {e}");
                None
            }
        }
    }
}

/// The errors of `chat.update` that say the message cannot be rewritten (deleted, too old to edit).
const UNEDITABLE: [&str; 3] = [
    "message_not_found",
    "cant_update_message",
    "edit_window_closed",
];

/// What a 2xx answer of Slack's Web API means: `ok: true` delivered, with `<channel>/<ts>` as the reference;
/// `ok: false` retried for Slack's own and rate-limit failures, parked with the error otherwise.
pub fn web_api_answer(method: &str, body: &str, attempts: i64, now: Timestamp) -> Delivery {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    if v["ok"] == true {
        let reference = match (v["channel"].as_str(), v["ts"].as_str()) {
            (Some(c), Some(t)) => Some(format!("{c}/{t}")),
            _ => None,
        };
        return Delivery::Delivered { reference };
    }
    let error = v["error"].as_str().unwrap_or("no error given");
    match error {
        "ratelimited"
        | "internal_error"
        | "fatal_error"
        | "service_unavailable"
        | "request_timeout"
        | "team_added_to_org" => Delivery::Retry {
            at: Timestamp(now.0 + super::backoff(attempts).as_millis() as i64),
            error: format!("Slack's {method} answered {error}"),
        },
        _ => Delivery::Parked {
            error: format!("Slack's {method} refused it: {error}"),
        },
    }
}

#[async_trait::async_trait]
impl Channel for Slack {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn deliver(&self, entry: &OutboxEntry, prior: Option<&OutboxEntry>) -> Delivery {
        let dest = entry.item.destination.as_str();
        let target = match dest.strip_prefix(USER) {
            Some(user) => Target::Channel(user.to_string()),
            None => match self.targets.get(dest) {
                Some(Target::Webhook(u)) => Target::Webhook(u.clone()),
                Some(Target::Channel(c)) => Target::Channel(c.clone()),
                None => {
                    return Delivery::Parked {
                        error: format!("no destination named {dest} in [[delivery.slack]]"),
                    }
                }
            },
        };
        let alert: Value = match serde_json::from_str(&entry.item.payload) {
            Ok(v) => v,
            Err(e) => {
                return Delivery::Parked {
                    error: format!("the alert is not JSON: {e}"),
                }
            }
        };
        // A digest comes with its blocks; an alert is rendered here.
        let body = if alert["type"] == "digest" {
            json!({"text": alert["subject"], "blocks": alert["blocks"]})
        } else {
            message(&alert)
        };
        match target {
            Target::Webhook(url) => {
                super::post_json(&self.http, &url, &[], body.to_string(), entry.attempts).await
            }
            Target::Channel(channel) => {
                let Some(app) = &self.app else {
                    return Delivery::Parked {
                        error: format!(
                            "{dest} needs the Slack app: set [slack] bot_token (or BELLWETHER_SLACK_BOT_TOKEN)"
                        ),
                    };
                };
                // A clearing rewrites the message its opening posted, where Slack said which it was.
                let update = prior
                    .and_then(|p| p.reference.as_deref())
                    .and_then(|r| r.split_once('/'));
                let (sent, error) = self.post(app, &channel, update, body.clone(), entry).await;
                // A message Slack will not edit (deleted, too old) gets the clearing as a new message.
                if update.is_some() && error.is_some_and(|e| UNEDITABLE.contains(&e.as_str())) {
                    return self.post(app, &channel, None, body, entry).await.0;
                }
                sent
            }
        }
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
        let actions = blocks.last().unwrap();
        let buttons = actions["elements"].as_array().unwrap();
        assert_eq!(buttons[0]["action_id"], "bellwether_ack");
        assert_eq!(buttons[0]["value"], "s1");
        assert_eq!(buttons[2]["action_id"], "bellwether_contacted");
        // The date picker has no value: its block's id names the signal.
        assert_eq!(buttons[3]["type"], "datepicker");
        assert_eq!(buttons[3]["action_id"], "bellwether_snooze_until");
        assert_eq!(actions["block_id"], "bellwether:s1");
        assert_eq!(
            buttons[4]["url"],
            "https://cs.example.com/v1/accounts/acct-9"
        );
        // A signal id too long for a block id keeps its buttons, without the picker.
        let mut long = alert.clone();
        long["signal"]["id"] = json!("a".repeat(300));
        let m = message(&long);
        let last = m["blocks"].as_array().unwrap().last().unwrap().clone();
        assert!(last.get("block_id").is_none());
        assert!(last["elements"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] == "button"));
        let closed = message(
            &json!({"type": "alert.closed", "signal": {"kind": "usage_drop", "account_id": "a"}}),
        );
        assert_eq!(
            closed["blocks"][0]["text"]["text"],
            "Cleared: Usage drop on a"
        );
        let escalated = message(
            &json!({"type": "alert.opened", "escalation": "critical severity",
            "signal": {"kind": "payment_failure", "account_id": "a", "owner": "ana@example.com",
                       "explanation": "Two invoices failed"}}),
        );
        assert_eq!(
            escalated["blocks"][1]["text"]["text"],
            "_Escalated to you as ana@example.com's leader: critical severity_\nTwo invoices failed"
        );
    }

    #[test]
    fn web_api_answers_are_delivered_retried_or_parked() {
        let now = Timestamp(1_000);
        assert_eq!(
            web_api_answer(
                "chat.postMessage",
                r#"{"ok":true,"channel":"D024BE91L","ts":"1503435956.000247"}"#,
                1,
                now
            ),
            Delivery::Delivered {
                reference: Some("D024BE91L/1503435956.000247".into())
            }
        );
        assert!(matches!(
            web_api_answer(
                "chat.postMessage",
                r#"{"ok":false,"error":"ratelimited"}"#,
                1,
                now
            ),
            Delivery::Retry { .. }
        ));
        match web_api_answer(
            "chat.update",
            r#"{"ok":false,"error":"channel_not_found"}"#,
            1,
            now,
        ) {
            Delivery::Parked { error } => assert!(error.contains("channel_not_found"), "{error}"),
            d => panic!("{d:?}"),
        }
        assert!(matches!(
            web_api_answer("chat.update", "not json", 1, now),
            Delivery::Parked { .. }
        ));
    }
}

//! Email over SMTP (`[[delivery.email]]`, the server at `[delivery] smtp_url` or `BELLWETHER_SMTP_URL`):
//! each alert as a message with a text and an HTML part, and a `Message-ID` made from the outbox entry's id,
//! the same on every retry, so a mail system that sees it twice can tell. `smtp://host:port` sends in plain
//! (for a relay on loopback), `smtp://host:587?tls=required` upgrades with STARTTLS, `smtps://host` connects
//! over TLS; credentials go in the URL (`smtp://user:password@host`). A transient refusal (4xx) or an
//! unreachable server is retried; a permanent one (5xx: no such mailbox, relaying denied) is parked with the
//! server's answer.

use super::{backoff, Channel};
use crate::templates::Templates;
use bellwether_core::Timestamp;
use bellwether_store::{Delivery, OutboxEntry};
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::Value;
use std::collections::HashMap;

/// The channel's name in outbox entries.
pub const NAME: &str = "email";

/// The prefix of a destination that is one person's address (`person:ana@example.com`) rather than a
/// `[[delivery.email]]` list.
pub const PERSON: &str = "person:";

/// Who messages come from when nothing says.
const DEFAULT_FROM: &str = "Bellwether <bellwether@localhost>";

/// One list of recipients (`[[delivery.email]]`).
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// Its name, which alerts are queued under.
    pub name: String,
    /// Who receives the alerts.
    pub to: Vec<String>,
    /// Who they come from (default `Bellwether <bellwether@localhost>`).
    pub from: Option<String>,
}

impl EmailConfig {
    /// Checks the addresses; the error names the setting.
    pub fn check(&self) -> Result<(), String> {
        if self.to.is_empty() {
            return Err(format!("[[delivery.email]] {}: to is empty", self.name));
        }
        for a in self.to.iter().chain(self.from.iter()) {
            a.parse::<Mailbox>().map_err(|e| {
                format!(
                    "[[delivery.email]] {}: \"{a}\" is not an email address ({e})",
                    self.name
                )
            })?;
        }
        Ok(())
    }
}

/// HTML-escapes text.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// What an alert's templates see (the outbox entry's payload, as [`crate::alerts`] writes it, read into the
/// names [`crate::templates`] documents).
pub fn template_context(alert: &Value) -> Value {
    let s = &alert["signal"];
    let t = |v: &Value| v.as_str().unwrap_or("").to_string();
    let facts: Vec<Value> = super::account_facts(alert)
        .into_iter()
        .map(|(label, value)| serde_json::json!({"label": label, "value": value}))
        .collect();
    serde_json::json!({
        "closed": alert["type"] == "alert.closed",
        "kind": t(&s["kind"]).replace('_', " "),
        "account": t(&s["account_id"]),
        "severity": t(&s["severity"]),
        "explanation": t(&s["explanation"]),
        "play": t(&s["suggested_action"]),
        "facts": facts,
        "signal_id": t(&s["id"]),
        "detected_at": t(&s["detected_at"]),
        "as_of": t(&alert["as_of"]),
        "link": alert["link"].as_str().unwrap_or(""),
        "escalation": super::escalation_line(alert).unwrap_or_default(),
        "raised": super::raised_line(alert).unwrap_or_default(),
    })
}

/// The subject, text and HTML of an alert, from `templates`.
pub fn render(templates: &Templates, alert: &Value) -> Result<(String, String, String), String> {
    let mut cx = template_context(alert);
    let subject = templates
        .render("alert_subject.txt", &cx)?
        .trim()
        .to_string();
    cx["subject"] = Value::String(subject.clone());
    Ok((
        subject,
        templates.render("alert.txt", &cx)?,
        templates.render("alert.html", &cx)?,
    ))
}

/// The `Message-ID` of an outbox entry: its id with what an address may not hold replaced.
pub fn message_id(entry_id: &str) -> String {
    let local: String = entry_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '.'
            }
        })
        .collect();
    format!("<{local}@bellwether>")
}

/// The email channel: the SMTP server and every configured list of recipients, by name.
pub struct Email {
    lists: HashMap<String, (Vec<Mailbox>, Mailbox)>,
    smtp: AsyncSmtpTransport<Tokio1Executor>,
    templates: Templates,
}

impl Email {
    /// The channel of these lists, sending through the server of `smtp_url`, writing alerts with
    /// `templates`.
    pub fn new(
        config: &[EmailConfig],
        smtp_url: &str,
        templates: Templates,
    ) -> Result<Email, String> {
        let smtp = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|e| {
                format!("[delivery] smtp_url cannot be used: {e}; it looks like smtp://host:2525 or smtp://user:pass@host:587?tls=required")
            })?
            .timeout(Some(std::time::Duration::from_secs(15)))
            .build();
        let mut lists = HashMap::new();
        for c in config {
            c.check()?;
            let to = c.to.iter().map(|a| a.parse().expect("checked")).collect();
            let from = c
                .from
                .as_deref()
                .unwrap_or(DEFAULT_FROM)
                .parse()
                .expect("checked");
            lists.insert(c.name.clone(), (to, from));
        }
        Ok(Email {
            lists,
            smtp,
            templates,
        })
    }
}

#[async_trait::async_trait]
impl Channel for Email {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn deliver(&self, entry: &OutboxEntry, _prior: Option<&OutboxEntry>) -> Delivery {
        let person;
        let ((to, from), alert) = match entry.item.destination.strip_prefix(PERSON) {
            Some(address) => {
                let alert: Value = match serde_json::from_str(&entry.item.payload) {
                    Ok(v) => v,
                    Err(e) => {
                        return Delivery::Parked {
                            error: format!("the message is not JSON: {e}"),
                        }
                    }
                };
                let to: Mailbox = match address.parse() {
                    Ok(m) => m,
                    Err(e) => {
                        return Delivery::Parked {
                            error: format!("\"{address}\" is not an email address ({e}); fix the owner or its [[people]] entry"),
                        }
                    }
                };
                let from: Mailbox = alert["from"]
                    .as_str()
                    .and_then(|f| f.parse().ok())
                    .unwrap_or_else(|| DEFAULT_FROM.parse().expect("a mailbox"));
                person = (vec![to], from);
                ((&person.0, &person.1), alert)
            }
            None => match super::destination_and_alert(&self.lists, entry, "[[delivery.email]]") {
                Ok(((to, from), alert)) => ((to, from), alert),
                Err(park) => return park,
            },
        };
        // A digest comes rendered; an alert is rendered here.
        let (subject, text, html) = if alert["type"] == "digest" {
            let t = |k: &str| alert[k].as_str().unwrap_or("").to_string();
            (t("subject"), t("text"), t("html"))
        } else {
            match render(&self.templates, &alert) {
                Ok(r) => r,
                Err(e) => {
                    return Delivery::Parked {
                        error: format!("the message could not be written: {e}; fix the template in [delivery] templates"),
                    }
                }
            }
        };
        let mut b = Message::builder()
            .from(from.clone())
            .subject(subject)
            .message_id(Some(message_id(&entry.item.id)));
        for t in to {
            b = b.to(t.clone());
        }
        let message = match b.multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html),
                ),
        ) {
            Ok(m) => m,
            Err(e) => {
                return Delivery::Parked {
                    error: format!("the message could not be built: {e}"),
                }
            }
        };
        match self.smtp.send(message).await {
            Ok(_) => Delivery::Delivered { reference: None },
            Err(e) if e.is_permanent() => Delivery::Parked {
                error: format!("the mail server refused it: {e}"),
            },
            Err(e) => Delivery::Retry {
                at: Timestamp(Timestamp::now().0 + backoff(entry.attempts).as_millis() as i64),
                error: format!("the mail server could not take it now: {e}"),
            },
        }
    }
}

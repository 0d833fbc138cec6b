//! Delivery: the last step of the flow (ingest → store → … → prioritise → deliver). Signal changes become
//! alerts ([`alerts`]), queued in the outbox in the transaction that saves the changes; a worker
//! ([`worker`]) claims due entries and hands each to its channel ([`channels`]), which delivers it with the
//! entry's id as its idempotency key and says whether it went, should be retried or must be parked.
//!
//! Settings are `[delivery]` in `bellwether.toml` ([`DeliveryConfig`]); docs/delivery.md describes them.
#![deny(missing_docs)]

pub mod alerts;
pub mod channels;
pub mod digest;
pub mod people;
pub mod templates;
pub mod worker;

pub use alerts::Alerts;
pub use channels::{Channel, Channels};

/// `[delivery]`: where alerts go.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// The address people open Bellwether's pages at (`https://cs.example.com`), for the links in messages.
    pub public_url: Option<String>,
    /// The lowest severity that sends an alert (`low`, `medium`, `high`, `critical`; default `high`).
    pub min_severity: Option<String>,
    /// At most this many alerts opened by one pass (default 200); the rest are counted in the log, and show in
    /// the worklist.
    pub max_alerts_per_pass: Option<usize>,
    /// Seconds a worker holds an entry it is delivering (default 60): an entry whose server stopped
    /// mid-delivery is sent again, with the same idempotency key, once this has passed.
    pub lease_seconds: Option<u64>,
    /// Signed outbound webhooks (`[[delivery.webhooks]]`).
    pub webhooks: Vec<channels::webhook::WebhookConfig>,
    /// Slack incoming webhooks (`[[delivery.slack]]`).
    pub slack: Vec<channels::slack::SlackConfig>,
    /// The SMTP server email goes through (`smtp://host:2525`, `smtp://user:pass@host:587?tls=required`,
    /// `smtps://host`); `BELLWETHER_SMTP_URL` is used when this is not set.
    pub smtp_url: Option<String>,
    /// Lists of email recipients (`[[delivery.email]]`).
    pub email: Vec<channels::email::EmailConfig>,
    /// The weekly digest (`[delivery.digest]`).
    pub digest: digest::DigestConfig,
    /// A folder of templates over the built-in ones (`alert_subject.txt`, `alert.txt`, `alert.html`): how
    /// email alerts read ([`templates`]). A relative folder is read beside the config file.
    pub templates: Option<std::path::PathBuf>,
    /// Alerts of this severity or higher also go to the owner's leader (default `critical`).
    pub escalate_severity: Option<String>,
    /// Alerts on accounts of at least this ARR (in the reporting currency) also go to the owner's leader.
    pub escalate_arr: Option<f64>,
    /// The Slack app that posts as a bot (`[slack] bot_token`), when set up: set from `[slack]`, not here.
    #[serde(skip)]
    pub slack_app: Option<channels::slack::SlackAppConfig>,
}

impl DeliveryConfig {
    /// Whether any channel is configured.
    pub fn any(&self) -> bool {
        !self.destinations().is_empty()
    }

    /// Every destination alerts go to: `(channel, name)` (a Slack destination with `alerts = false` takes
    /// digests only).
    pub fn destinations(&self) -> Vec<(&'static str, &str)> {
        let hooks = self
            .webhooks
            .iter()
            .map(|w| (channels::webhook::NAME, w.name.as_str()));
        let slack = self
            .slack
            .iter()
            .filter(|s| s.alerts != Some(false))
            .map(|s| (channels::slack::NAME, s.name.as_str()));
        let email = self
            .email
            .iter()
            .map(|e| (channels::email::NAME, e.name.as_str()));
        hooks.chain(slack).chain(email).collect()
    }

    /// Checks that each of `people` who names a Slack destination of their own names a configured one.
    pub fn check_people(&self, people: &people::People) -> Result<(), String> {
        for p in &people.0 {
            if let Some(name) = &p.slack {
                if !self.slack.iter().any(|s| &s.name == name) {
                    return Err(format!(
                        "[[people]] {}: slack = \"{name}\" names no [[delivery.slack]] destination (those configured: {})",
                        p.email,
                        if self.slack.is_empty() {
                            "none".to_string()
                        } else {
                            self.slack.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
                        }
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether a pass has anywhere to send alerts: a team destination, or people's own channels.
    pub fn sends_alerts(&self) -> bool {
        self.any() || self.reaches_people()
    }

    /// Whether a person's own messages (their alerts, their weekly digest) have somewhere to go: a mail
    /// server, a Slack destination or the Slack app. The one place that decides whether the scheduler's
    /// `digest` job runs.
    pub fn reaches_people(&self) -> bool {
        self.smtp_url().is_some() || !self.slack.is_empty() || self.slack_app.is_some()
    }

    /// The SMTP server's URL: `smtp_url`, else `BELLWETHER_SMTP_URL`.
    pub fn smtp_url(&self) -> Option<String> {
        self.smtp_url
            .clone()
            .or_else(|| std::env::var("BELLWETHER_SMTP_URL").ok())
            .filter(|u| !u.trim().is_empty())
    }

    /// Checks the settings; the error names the one at fault.
    pub fn check(&self) -> Result<(), String> {
        if let Some(s) = &self.min_severity {
            alerts::severity_rank(s).ok_or_else(|| {
                format!(
                    "[delivery] min_severity = \"{s}\" is not one of low, medium, high, critical"
                )
            })?;
        }
        if self.lease_seconds.is_some_and(|l| l < 2) {
            return Err("[delivery] lease_seconds must be 2 or more (default 60): longer than one delivery takes".into());
        }
        for w in &self.webhooks {
            w.check()?;
        }
        for s in &self.slack {
            s.check_for(self.slack_app.is_some())?;
        }
        for e in &self.email {
            e.check()?;
        }
        self.digest.check()?;
        templates::Templates::load(self.templates.as_deref())?;
        if let Some(s) = &self.escalate_severity {
            alerts::severity_rank(s).ok_or_else(|| {
                format!(
                    "[delivery] escalate_severity = \"{s}\" is not one of low, medium, high, critical"
                )
            })?;
        }
        if let Some(a) = self.escalate_arr.filter(|a| !a.is_finite() || *a < 0.0) {
            return Err(format!(
                "[delivery] escalate_arr = {a} must be an ARR of 0 or more, in the reporting currency"
            ));
        }
        let mut names: Vec<(&str, &str)> = self.destinations();
        names.sort();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!(
                "[delivery] two {} destinations are named {}",
                w[0].0, w[0].1
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_that_cannot_deliver_are_refused_with_the_setting_named() {
        let app_channel = DeliveryConfig {
            slack: vec![channels::slack::SlackConfig {
                name: "cs-team".into(),
                webhook_url: String::new(),
                channel: Some("C0123".into()),
                alerts: None,
            }],
            ..Default::default()
        };
        let e = app_channel.check().unwrap_err();
        assert!(e.contains("cs-team") && e.contains("bot_token"), "{e}");
        let with_app = DeliveryConfig {
            slack_app: Some(channels::slack::SlackAppConfig {
                bot_token: "xoxb-1".into(),
                api_url: "https://slack.com/api".into(),
            }),
            ..app_channel
        };
        with_app.check().unwrap();
        let people = people::People(vec![people::Person {
            email: "ana@example.com".into(),
            slack: Some("ana-dm".into()),
            ..Default::default()
        }]);
        let e = with_app.check_people(&people).unwrap_err();
        assert!(e.contains("ana-dm") && e.contains("cs-team"), "{e}");
    }
}

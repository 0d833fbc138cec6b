//! Signed outbound webhooks, as the Standard Webhooks specification signs them: each delivery carries
//! `webhook-id` (the outbox entry's id, the same on every retry), `webhook-timestamp` (Unix seconds) and
//! `webhook-signature`, `v1,` and the Base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under the endpoint's
//! secret (`whsec_` and Base64). Several secrets sign at once, space-separated, so a receiver can rotate:
//! add the new secret, move the receiver to it, then drop the old one.

use super::Channel;
use base64::Engine as _;
use bellwether_core::Timestamp;
use bellwether_store::{Delivery, OutboxEntry};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;

/// The channel's name in outbox entries.
pub const NAME: &str = "webhook";

/// One endpoint (`[[delivery.webhooks]]`).
#[derive(Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Its name, which alerts are queued under.
    pub name: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The signing secrets (`whsec_…`), newest first; each signs every delivery.
    pub secrets: Vec<String>,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("secrets", &format!("{} hidden", self.secrets.len()))
            .finish()
    }
}

impl WebhookConfig {
    /// Checks the endpoint; the error names the setting.
    pub fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("[[delivery.webhooks]] name is empty".into());
        }
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(format!(
                "[[delivery.webhooks]] {}: url = \"{}\" is not an http:// or https:// address",
                self.name, self.url
            ));
        }
        if self.secrets.is_empty() {
            return Err(format!(
                "[[delivery.webhooks]] {}: secrets is empty; give at least one whsec_ secret",
                self.name
            ));
        }
        for s in &self.secrets {
            key(s).map_err(|e| format!("[[delivery.webhooks]] {}: {e}", self.name))?;
        }
        Ok(())
    }
}

/// The key bytes of a `whsec_` secret.
fn key(secret: &str) -> Result<Vec<u8>, String> {
    let b64 = secret
        .strip_prefix("whsec_")
        .ok_or("a secret must start with whsec_ followed by Base64")?;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("a secret's part after whsec_ is not Base64: {e}"))
}

/// The `webhook-signature` value of a delivery under every key.
pub fn signature(keys: &[Vec<u8>], id: &str, timestamp: i64, body: &str) -> String {
    keys.iter()
        .map(|k| {
            let mut mac = Hmac::<Sha256>::new_from_slice(k).expect("HMAC takes any key length");
            mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
            format!(
                "v1,{}",
                base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The webhook channel: every configured endpoint, by name.
pub struct Webhooks {
    endpoints: HashMap<String, (String, Vec<Vec<u8>>)>,
    http: reqwest::Client,
}

impl Webhooks {
    /// The channel of these endpoints (checked first).
    pub fn new(config: &[WebhookConfig]) -> Result<Webhooks, String> {
        let mut endpoints = HashMap::new();
        for w in config {
            w.check()?;
            let keys = w.secrets.iter().map(|s| key(s)).collect::<Result<_, _>>()?;
            endpoints.insert(w.name.clone(), (w.url.clone(), keys));
        }
        Ok(Webhooks {
            endpoints,
            http: super::http_client()?,
        })
    }
}

#[async_trait::async_trait]
impl Channel for Webhooks {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn deliver(&self, entry: &OutboxEntry, _prior: Option<&OutboxEntry>) -> Delivery {
        let Some((url, keys)) = self.endpoints.get(&entry.item.destination) else {
            return Delivery::Parked {
                error: format!(
                    "no destination named {} in [[delivery.webhooks]]",
                    entry.item.destination
                ),
            };
        };
        let ts = Timestamp::now().0 / 1000;
        let body = &entry.item.payload;
        let headers = [
            ("webhook-id", entry.item.id.clone()),
            ("webhook-timestamp", ts.to_string()),
            (
                "webhook-signature",
                signature(keys, &entry.item.id, ts, body),
            ),
        ];
        super::post_json(&self.http, url, &headers, body.clone(), entry.attempts).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let k = key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = signature(
            &[k],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(key("nope").is_err());
        let bad = WebhookConfig {
            name: "ops".into(),
            url: "ftp://x".into(),
            secrets: vec!["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()],
        };
        assert!(bad.check().unwrap_err().contains("not an http"));
    }
}

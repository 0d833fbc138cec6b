//! Which signal changes send an alert, and what it says: one alert when a condition starts (the signal opens)
//! and one when it clears (it closes), each with its cause in words, its evidence and the account's figures.
//! An alert's id is its dedupe key: the signal (one per account, kind and reason) and the event, so a
//! decision made twice is queued once.

use crate::DeliveryConfig;
use bellwether_core::model::{Assessment, Signal};
use bellwether_core::{Day, Timestamp};
use bellwether_store::OutboxItem;
use std::collections::HashMap;

/// The rank of a severity name (higher is more severe), `None` for a name that is not one.
pub fn severity_rank(s: &str) -> Option<u8> {
    Some(match s {
        "low" => 0,
        "medium" => 1,
        "high" => 2,
        "critical" => 3,
        _ => return None,
    })
}

/// The alerting of a configured delivery: every channel destination gets the alerts at or above the
/// configured severity.
#[derive(Clone, Debug)]
pub struct Alerts {
    config: DeliveryConfig,
}

impl Alerts {
    /// Alerts as `config` says (checked with [`DeliveryConfig::check`]).
    pub fn new(config: DeliveryConfig) -> Alerts {
        Alerts { config }
    }

    fn payload(&self, event: &str, s: &Signal, a: Option<&Assessment>, as_of: Day) -> String {
        let link = self.config.public_url.as_ref().map(|u| {
            format!(
                "{}/v1/accounts/{}",
                u.trim_end_matches('/'),
                s.account_id.as_str()
            )
        });
        serde_json::json!({
            "type": event,
            "as_of": as_of.to_string(),
            "signal": {
                "id": s.id,
                "account_id": s.account_id.as_str(),
                "kind": s.kind,
                "severity": s.severity.as_str(),
                "direction": s.direction.as_str(),
                "explanation": s.explanation,
                "evidence": s.evidence,
                "suggested_action": s.suggested_action,
                "detected_at": s.detected_at.to_string(),
                "resolved_at": s.resolved_at.map(|d| d.to_string()),
                "owner": s.owner,
            },
            "account": a.map(|a| serde_json::json!({
                "health": a.health,
                "priority": a.priority,
                "churn_probability": a.churn_probability,
                "arr_minor": a.arr_minor,
                "reason": a.reason,
                "owner": a.owner,
            })),
            "link": link,
        })
        .to_string()
    }
}

impl bellwether_engine::Alerting for Alerts {
    fn alerts(
        &self,
        opened: &[&Signal],
        closed: &[&Signal],
        assessments: &[Assessment],
        as_of: Day,
    ) -> Vec<OutboxItem> {
        if !self.config.any() {
            return Vec::new();
        }
        let min = self
            .config
            .min_severity
            .as_deref()
            .and_then(severity_rank)
            .unwrap_or(2);
        let cap = self.config.max_alerts_per_pass.unwrap_or(200);
        let by_account: HashMap<&str, &Assessment> = assessments
            .iter()
            .map(|a| (a.account_id.as_str(), a))
            .collect();
        let loud = |s: &&&Signal| severity_rank(s.severity.as_str()).is_some_and(|r| r >= min);
        // The most urgent first, so a cap keeps the ones that matter.
        let mut opening: Vec<&Signal> = opened.iter().filter(loud).copied().collect();
        opening.sort_by(|a, b| {
            let p = |s: &Signal| {
                by_account
                    .get(s.account_id.as_str())
                    .map_or(0.0, |a| a.priority)
            };
            severity_rank(b.severity.as_str())
                .cmp(&severity_rank(a.severity.as_str()))
                .then(p(b).total_cmp(&p(a)))
                .then(a.id.cmp(&b.id))
        });
        if opening.len() > cap {
            tracing::warn!(
                opened = opening.len(),
                cap,
                "more alerts than [delivery] max_alerts_per_pass: the most urgent are sent"
            );
            opening.truncate(cap);
        }
        let closing = closed.iter().filter(loud).copied();
        let now = Timestamp::now();
        let mut out = Vec::new();
        for (event, s) in opening
            .into_iter()
            .map(|s| ("alert.opened", s))
            .chain(closing.map(|s| ("alert.closed", s)))
        {
            let payload = self.payload(
                event,
                s,
                by_account.get(s.account_id.as_str()).copied(),
                as_of,
            );
            let suffix = if event == "alert.opened" {
                "opened"
            } else {
                "closed"
            };
            for (channel, name) in self.config.destinations() {
                out.push(OutboxItem {
                    id: format!("alert:{}:{suffix}:{channel}:{name}", s.id),
                    channel: channel.into(),
                    destination: name.to_string(),
                    account_id: Some(s.account_id.clone()),
                    kind: event.replace('.', "_"),
                    payload: payload.clone(),
                    created_at: now,
                });
            }
        }
        out
    }
}

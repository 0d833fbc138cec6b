//! Which signal changes send an alert, to whom, and what it says: one alert when a condition starts (the
//! signal opens at the alerting severity, or grows to it while open, which the alert says; the pass marks
//! the signal alerted) and one when an alerted signal clears (it closes, whatever its severity then), each
//! with its cause in words, its evidence and the
//! account's figures. An alert goes to every team destination (`[[delivery.webhooks]]`, `[[delivery.slack]]`,
//! `[[delivery.email]]`), and to the account's owner where the people directory knows them (their email,
//! their Slack), and, when it is critical or the account large (`[delivery] escalate_severity`,
//! `escalate_arr`), to the owner's leader too. An alert's id is its dedupe key: the signal (one per account,
//! kind and reason), the event and the destination, so a decision made twice is queued once.
//!
//! Alerts routed to a person carry them as the entry's recipient: the worker folds those beyond the person's
//! daily cap or inside their quiet hours into their next digest instead of sending them ([`crate::worker`]).

use crate::people::{People, Person};
use crate::DeliveryConfig;
use bellwether_core::model::{Assessment, Severity, Signal};
use bellwether_core::{Day, Timestamp};
use bellwether_engine::{Decided, SignalChanges};
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

/// The outbox kind of the alert a signal's opening sends (its condition started).
pub const OPENED: &str = "alert_opened";
/// The outbox kind of the alert a signal's closing sends (its condition cleared).
pub const CLOSED: &str = "alert_closed";

/// The outbox id of the alert that signal `signal` `event`ed (`opened`, `closed`) for one destination: the
/// alert's dedupe key, and how a clearing finds the opening it follows up.
pub fn entry_id(signal: &str, event: &str, channel: &str, destination: &str) -> String {
    format!("alert:{signal}:{event}:{channel}:{destination}")
}

/// The opening alert a clearing one follows up on the same destination (its id), if `e` is a clearing.
pub fn opening_of(e: &bellwether_store::OutboxItem) -> Option<String> {
    if e.kind != CLOSED {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&e.payload).ok()?;
    let signal = v["signal"]["id"].as_str()?;
    Some(entry_id(signal, "opened", &e.channel, &e.destination))
}

/// Whether alert `e` goes to an owner's leader as an escalation (its payload says why).
pub fn escalated(e: &OutboxItem) -> bool {
    serde_json::from_str::<serde_json::Value>(&e.payload).is_ok_and(|v| v["escalation"].is_string())
}

/// Where one person's own messages go: `(channel, destination)` for each channel configured that they can
/// be reached on. By email at their address when a mail server is set; on Slack as a direct message from the
/// Slack app when it is set up and they have a Slack user id, else at the `[[delivery.slack]]` destination
/// their entry names. `alerts_only` keeps only the channels their `channels` setting takes alerts on.
pub fn personal_routes(
    config: &DeliveryConfig,
    email: &str,
    person: Option<&Person>,
    alerts_only: bool,
) -> Vec<(&'static str, String)> {
    let wants = |c: &str| !alerts_only || person.is_some_and(|p| p.wants(c));
    let mut out = Vec::new();
    if config.smtp_url().is_some() && email.contains('@') && wants(crate::channels::email::NAME) {
        out.push((
            crate::channels::email::NAME,
            format!("{}{}", crate::channels::email::PERSON, email.trim()),
        ));
    }
    if wants(crate::channels::slack::NAME) {
        let dm = person
            .and_then(|p| p.slack_user_id.as_deref())
            .filter(|_| config.slack_app.is_some());
        let slack = match dm {
            Some(user) => Some(format!("{}{user}", crate::channels::slack::USER)),
            None => person.and_then(|p| p.slack.clone()),
        };
        if let Some(d) = slack {
            out.push((crate::channels::slack::NAME, d));
        }
    }
    out
}

/// An alert to open (or, for a closing signal, to clear): the signal, the severity it grew from, and whether
/// only the owner's leader gets it (the others had it when it opened).
struct Opening<'a> {
    signal: &'a Signal,
    raised_from: Option<Severity>,
    leader_only: bool,
}

/// The alerting of a configured delivery: every team destination, the owner and, for what escalates, the
/// owner's leader get the alerts at or above the configured severity.
#[derive(Clone, Debug)]
pub struct Alerts {
    config: DeliveryConfig,
    people: People,
    wake: Option<std::sync::Arc<tokio::sync::Notify>>,
}

impl Alerts {
    /// Alerts as `config` says (checked with [`DeliveryConfig::check`]), to the people of `people` (the
    /// configured directory; the store's people are added at each pass).
    pub fn new(config: DeliveryConfig, people: People) -> Alerts {
        Alerts {
            config,
            people,
            wake: None,
        }
    }

    /// Wakes the outbox worker of this process ([`crate::worker::Worker::waker`]) when a pass has queued
    /// alerts, so they go out at once.
    pub fn waking(mut self, worker: std::sync::Arc<tokio::sync::Notify>) -> Alerts {
        self.wake = Some(worker);
        self
    }

    /// Why an alert of `severity` also goes to the owner's leader, if it does: its severity, or the
    /// account's ARR.
    fn escalation(&self, severity: Severity, a: Option<&Assessment>) -> Option<String> {
        let min = self
            .config
            .escalate_severity
            .as_deref()
            .and_then(severity_rank)
            .unwrap_or(3);
        if severity_rank(severity.as_str()).is_some_and(|r| r >= min) {
            return Some(format!("{} severity", severity.as_str()));
        }
        // ARR in the reporting currency's major units, as the assessment's impact figures hold it.
        let arr = a?.impact.as_ref()?.arr;
        let floor = self.config.escalate_arr?;
        (arr >= floor).then(|| format!("ARR {arr:.0} is at or above {floor:.0}"))
    }

    fn payload(
        &self,
        event: &str,
        s: &Signal,
        a: Option<&Assessment>,
        as_of: Day,
        raised_from: Option<Severity>,
        escalation: Option<&str>,
    ) -> String {
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
            "raised_from": raised_from.map(|r| r.as_str()),
            "escalation": escalation,
        })
        .to_string()
    }
}

impl bellwether_engine::Alerting for Alerts {
    fn queued(&self) {
        if let Some(w) = &self.wake {
            w.notify_one();
        }
    }

    fn alerts(
        &self,
        changes: &SignalChanges<'_>,
        assessments: &[Assessment],
        people: &[Person],
        as_of: Day,
    ) -> Decided {
        if !self.config.sends_alerts() {
            return Decided::default();
        }
        let people = People::over(&self.people, people.to_vec());
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
        let loud = |s: Severity| severity_rank(s.as_str()).is_some_and(|r| r >= min);
        // An alert opens when its signal opens loud enough, or grows loud enough while active (saying from
        // what) without having been alerted; a signal that was alerted and grows into an escalation opens it
        // for the leader only.
        let mut opening: Vec<Opening> = changes
            .opened
            .iter()
            .filter(|s| loud(s.severity))
            .map(|&s| Opening {
                signal: s,
                raised_from: None,
                leader_only: false,
            })
            .collect();
        for &(s, was) in &changes.raised {
            let account = by_account.get(s.account_id.as_str()).copied();
            if !loud(s.severity) {
                continue;
            }
            let leader_only = s.alerted;
            if leader_only
                && (self.escalation(was, account).is_some()
                    || self.escalation(s.severity, account).is_none())
            {
                continue;
            }
            opening.push(Opening {
                signal: s,
                raised_from: Some(was),
                leader_only,
            });
        }
        // The most urgent first, so a cap keeps the ones that matter.
        opening.sort_by(|a, b| {
            let p = |s: &Signal| {
                by_account
                    .get(s.account_id.as_str())
                    .map_or(0.0, |a| a.priority)
            };
            let (a, b) = (a.signal, b.signal);
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
        // A clearing follows what was alerted, whatever its severity now; nothing else clears.
        let closing = changes
            .closed
            .iter()
            .filter(|s| s.alerted)
            .map(|&s| Opening {
                signal: s,
                raised_from: None,
                leader_only: false,
            });
        let now = Timestamp::now();
        let mut out = Vec::new();
        // The signals an opening reached someone for (not a leader alone: the others had it before).
        let mut alerted = Vec::new();
        // The event as webhooks name it, the outbox kind, and the event in the entry's id.
        for ((event, kind, suffix), o) in opening
            .into_iter()
            .map(|o| (("alert.opened", OPENED, "opened"), o))
            .chain(closing.map(|o| (("alert.closed", CLOSED, "closed"), o)))
        {
            let s = o.signal;
            let account = by_account.get(s.account_id.as_str()).copied();
            let queued_before = out.len();
            let mut queue =
                |payload: &String, channel: &str, name: &str, recipient: Option<&str>| {
                    out.push(OutboxItem {
                        id: entry_id(&s.id, suffix, channel, name),
                        channel: channel.into(),
                        destination: name.to_string(),
                        account_id: Some(s.account_id.clone()),
                        kind: kind.into(),
                        payload: payload.clone(),
                        created_at: now,
                        recipient: recipient.map(bellwether_core::people::key),
                    });
                };
            let payload = self.payload(event, s, account, as_of, o.raised_from, None);
            'routes: {
                if !o.leader_only {
                    for (channel, name) in self.config.destinations() {
                        queue(&payload, channel, name, None);
                    }
                }
                let Some(owner) = s.owner.as_deref().filter(|o| !o.trim().is_empty()) else {
                    break 'routes;
                };
                let person = people.get(owner);
                if person.is_some() && !o.leader_only {
                    for (channel, name) in personal_routes(&self.config, owner, person, true) {
                        queue(&payload, channel, &name, Some(owner));
                    }
                }
                let leader = person.and_then(|p| p.leader.as_deref());
                if let (Some(leader), Some(why)) = (leader, self.escalation(s.severity, account)) {
                    if bellwether_core::people::key(leader) != bellwether_core::people::key(owner) {
                        let payload =
                            self.payload(event, s, account, as_of, o.raised_from, Some(&why));
                        let lp = people.get(leader);
                        for (channel, name) in
                            personal_routes(&self.config, leader, lp, lp.is_some())
                        {
                            queue(&payload, channel, &name, Some(leader));
                        }
                    }
                }
            }
            if kind == OPENED && !o.leader_only && out.len() > queued_before {
                alerted.push(s.id.clone());
            }
        }
        Decided {
            items: out,
            alerted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bellwether_core::model::SignalStatus;
    use bellwether_core::AccountId;
    use bellwether_engine::Alerting;

    const OWNER: &str = "ana@example.com";
    const LEADER: &str = "lea@example.com";

    fn alerts() -> Alerts {
        let config = DeliveryConfig {
            smtp_url: Some("smtp://127.0.0.1:2525".into()),
            webhooks: vec![crate::channels::webhook::WebhookConfig {
                name: "ops".into(),
                url: "http://127.0.0.1:9/hook".into(),
                secrets: vec!["whsec_c2VjcmV0".into()],
            }],
            ..Default::default()
        };
        config.check().unwrap();
        let people = People(vec![
            Person {
                email: OWNER.into(),
                leader: Some(LEADER.into()),
                ..Default::default()
            },
            Person {
                email: LEADER.into(),
                ..Default::default()
            },
        ]);
        Alerts::new(config, people)
    }

    fn signal(id: &str, severity: Severity, status: SignalStatus) -> Signal {
        Signal {
            id: id.into(),
            account_id: AccountId::from("a1"),
            kind: "usage_drop".into(),
            direction: "risk".into(),
            severity,
            detected_at: Day(100),
            last_seen: Day(110),
            evidence: serde_json::Value::Null,
            explanation: "Weekly active users fell by half.".into(),
            suggested_action: "Call the champion.".into(),
            status,
            owner: Some(OWNER.into()),
            resolved_at: None,
            snoozed_until: None,
            snooze_reason: None,
            alerted: false,
        }
    }

    fn alerted(mut s: Signal) -> Signal {
        s.alerted = true;
        s
    }

    /// Each alert queued, as `(recipient or destination, raised_from, escalation)`, sorted.
    fn routed(before: &[Signal], now: &[Signal]) -> Vec<(String, String, String)> {
        let changes = SignalChanges::between(before, now);
        let mut out: Vec<(String, String, String)> = alerts()
            .alerts(&changes, &[], &[], Day(110))
            .items
            .into_iter()
            .map(|e| {
                let v: serde_json::Value = serde_json::from_str(&e.payload).unwrap();
                let text = |k: &str| v[k].as_str().unwrap_or("-").to_string();
                (
                    e.recipient.unwrap_or(e.destination),
                    text("raised_from"),
                    text("escalation"),
                )
            })
            .collect();
        out.sort();
        out
    }

    fn row(to: &str, raised: &str, escalation: &str) -> (String, String, String) {
        (to.into(), raised.into(), escalation.into())
    }

    #[test]
    fn a_signal_that_grows_loud_while_open_alerts_saying_from_what() {
        use Severity::*;
        use SignalStatus::*;
        // Opened quiet (no alert), then high: the team and the owner hear of it now.
        assert_eq!(
            routed(&[signal("s", Medium, Open)], &[signal("s", High, Open)]),
            [row(OWNER, "medium", "-"), row("ops", "medium", "-")]
        );
        // Quiet still: nothing.
        assert!(routed(&[signal("s", Low, Open)], &[signal("s", Medium, Open)]).is_empty());
        // Straight to critical from quiet: the leader too, saying why.
        assert_eq!(
            routed(
                &[signal("s", Medium, Acknowledged)],
                &[signal("s", Critical, Acknowledged)]
            ),
            [
                row(OWNER, "medium", "-"),
                row(LEADER, "medium", "critical severity"),
                row("ops", "medium", "-")
            ]
        );
    }

    #[test]
    fn an_alerted_signal_that_grows_critical_reaches_only_the_leader_anew() {
        use Severity::*;
        use SignalStatus::*;
        assert_eq!(
            routed(
                &[alerted(signal("s", High, Open))],
                &[alerted(signal("s", Critical, Open))]
            ),
            [row(LEADER, "high", "critical severity")]
        );
        // Alerted at high, eased to medium, high again: its alert never closed, so nothing new.
        assert!(routed(
            &[alerted(signal("s", Medium, Open))],
            &[alerted(signal("s", High, Open))]
        )
        .is_empty());
        // Opened critical at once: everyone, the leader included, with nothing raised.
        assert_eq!(
            routed(&[], &[signal("s", Critical, Open)]),
            [
                row(OWNER, "-", "-"),
                row(LEADER, "-", "critical severity"),
                row("ops", "-", "-")
            ]
        );
        // Eased, or unchanged: nothing new.
        assert!(routed(&[signal("s", Critical, Open)], &[signal("s", High, Open)]).is_empty());
        assert!(routed(&[signal("s", High, Open)], &[signal("s", High, Open)]).is_empty());
    }

    #[test]
    fn a_clearing_follows_what_was_alerted_whatever_its_severity_then() {
        use Severity::*;
        use SignalStatus::*;
        let closed = |s: Signal| Signal {
            status: Resolved,
            resolved_at: Some(Day(110)),
            ..s
        };
        // Alerted at high, eased to medium before it cleared: the clearing still goes out.
        assert_eq!(
            routed(
                &[alerted(signal("s", Medium, Open))],
                &[closed(alerted(signal("s", Medium, Open)))]
            ),
            [row(OWNER, "-", "-"), row("ops", "-", "-")]
        );
        // Loud but never alerted (beyond a pass's cap, or before alerting was set up): nothing to clear.
        assert!(routed(
            &[signal("s", High, Open)],
            &[closed(signal("s", High, Open))]
        )
        .is_empty());
        // What the pass marks alerted: the signals an opening went out for, not those a leader alone heard of.
        let before = [signal("a", Medium, Open), alerted(signal("b", High, Open))];
        let now = [
            signal("a", High, Open),
            alerted(signal("b", Critical, Open)),
            signal("c", Critical, Open),
            signal("d", Low, Open),
        ];
        let changes = SignalChanges::between(&before, &now);
        let mut marked = alerts().alerts(&changes, &[], &[], Day(110)).alerted;
        marked.sort();
        assert_eq!(marked, ["a", "c"]);
        // An opening that reaches nobody (no team destination, an owner outside the directory) marks nothing.
        let nobody = Alerts::new(
            DeliveryConfig {
                smtp_url: Some("smtp://127.0.0.1:2525".into()),
                ..Default::default()
            },
            People::default(),
        );
        let decided = nobody.alerts(&changes, &[], &[], Day(110));
        assert!(
            decided.items.is_empty() && decided.alerted.is_empty(),
            "{decided:?}"
        );
    }

    #[test]
    fn the_raise_is_said_in_the_message() {
        let changes_before = [signal("s", Severity::Medium, SignalStatus::Open)];
        let now = [signal("s", Severity::High, SignalStatus::Open)];
        let changes = SignalChanges::between(&changes_before, &now);
        let e = alerts()
            .alerts(&changes, &[], &[], Day(110))
            .items
            .into_iter()
            .find(|e| e.channel == crate::channels::email::NAME)
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&e.payload).unwrap();
        assert_eq!(
            crate::channels::raised_line(&v).as_deref(),
            Some("Raised from medium to high while open")
        );
        let slack = crate::channels::slack::message(&v).to_string();
        assert!(
            slack.contains("Raised from medium to high while open"),
            "{slack}"
        );
    }
}

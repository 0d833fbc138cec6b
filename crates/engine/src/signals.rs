//! The signal lifecycle: one signal per condition, not a new one every day.
//!
//! Each pass hands the detections of an account to [`reconcile`] together with the account's signals so far:
//!
//! - a condition found again updates its active signal (open, acknowledged or snoozed): latest evidence,
//!   explanation and severity, `last_seen`; a snooze that has run out turns it back to open;
//! - a condition found anew opens a signal, unless a signal of the same kind was resolved or expired within the
//!   detector's cooldown;
//! - an active signal whose condition is no longer found is resolved ("the condition cleared");
//! - an open signal nobody acknowledged for `expire_after_days` while its condition held expires, and may open
//!   again after the cooldown, as a reminder.

use bellwether_core::model::{Signal, SignalStatus};
use bellwether_core::{AccountId, Day};
use bellwether_signals::{Detection, Direction};

/// What a person does to a signal (from the command line or a Slack button).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignalAct {
    /// Someone is on it.
    Acknowledge,
    /// Hidden until the day, for the reason given.
    Snooze(Day, String),
    /// Handled: closed as of its last sighting.
    Resolve,
}

/// The longest snooze reason taken, in characters.
pub const MAX_SNOOZE_REASON: usize = 500;

/// Why a snooze cannot be set as asked, with what to do, in words ([`SignalAct::snooze`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnoozeRefused {
    /// Its end is not after today.
    NotLater(String),
    /// It gives no reason in words.
    NoReason(String),
    /// Its reason is longer than [`MAX_SNOOZE_REASON`].
    TooLong(String),
    /// Its reason holds what no text may (a control character other than tabs and line breaks).
    NotText(String),
}

impl SnoozeRefused {
    /// What is wrong, and what to do.
    pub fn message(&self) -> &str {
        match self {
            SnoozeRefused::NotLater(m)
            | SnoozeRefused::NoReason(m)
            | SnoozeRefused::TooLong(m)
            | SnoozeRefused::NotText(m) => m,
        }
    }
}

impl SignalAct {
    /// A snooze until `until` for `reason` (trimmed), checked as every way of snoozing (the command line,
    /// the API, Slack) checks it: the end after `today`, a reason in words of at most
    /// [`MAX_SNOOZE_REASON`] characters, text as every stored text is ([`bellwether_core::text`]).
    pub fn snooze(until: Day, reason: &str, today: Day) -> Result<SignalAct, SnoozeRefused> {
        if until <= today {
            return Err(SnoozeRefused::NotLater(format!(
                "{until} is not after today ({today}): a snooze ends on a later day"
            )));
        }
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(SnoozeRefused::NoReason(
                "the reason is empty: say why in words, as the owner's worklist will show it"
                    .into(),
            ));
        }
        if reason.chars().count() > MAX_SNOOZE_REASON {
            return Err(SnoozeRefused::TooLong(format!(
                "the reason is longer than {MAX_SNOOZE_REASON} characters; say it in a sentence"
            )));
        }
        bellwether_core::text::check(bellwether_core::text::Bound::Text, reason)
            .map_err(|e| SnoozeRefused::NotText(format!("the reason {e}")))?;
        Ok(SignalAct::Snooze(until, reason.to_string()))
    }
}

/// Applies a person's action to a signal: the one place the statuses they set are decided. A snooze keeps
/// its end and reason while it lasts; any other action ends it. A signal that is over (resolved, expired)
/// is left as it is, and the error says so: acting on it would bring back a condition the lifecycle closed.
pub fn act(s: &mut Signal, action: SignalAct) -> Result<(), String> {
    if !s.is_active() {
        return Err(format!(
            "signal {} is {}{}: only an open, acknowledged or snoozed signal can be acted on",
            s.id,
            s.status,
            s.resolved_at
                .map(|d| format!(" since {d}"))
                .unwrap_or_default()
        ));
    }
    s.snoozed_until = None;
    s.snooze_reason = None;
    match action {
        SignalAct::Acknowledge => s.status = SignalStatus::Acknowledged,
        SignalAct::Snooze(until, reason) => {
            s.status = SignalStatus::Snoozed;
            s.snoozed_until = Some(until);
            s.snooze_reason = Some(reason);
        }
        SignalAct::Resolve => {
            s.status = SignalStatus::Resolved;
            s.resolved_at = Some(s.last_seen);
        }
    }
    Ok(())
}

/// Lifecycle settings.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifecycleConfig {
    /// Days an open, unacknowledged signal stays open while its condition holds.
    pub expire_after_days: i32,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            expire_after_days: 60,
        }
    }
}

/// Reconciles one account's detections of the day with its signals; returns the signals that changed or
/// were opened. `cooldown` gives each kind's cooldown in days.
pub fn reconcile(
    account: &AccountId,
    owner: Option<&str>,
    as_of: Day,
    existing: &[Signal],
    found: &[Detection],
    cooldown: &dyn Fn(&str) -> i32,
    cfg: &LifecycleConfig,
) -> Vec<Signal> {
    let mut changed = Vec::new();
    for d in found {
        let active = existing
            .iter()
            .filter(|s| s.kind == d.kind && s.is_active())
            .max_by_key(|s| s.detected_at);
        match active {
            Some(s) => {
                let mut s = s.clone();
                s.last_seen = as_of;
                s.evidence = d.evidence.clone();
                s.explanation = d.explanation.clone();
                s.severity = d.severity;
                if s.status == SignalStatus::Snoozed && s.snoozed_until.is_none_or(|u| u <= as_of) {
                    s.status = SignalStatus::Open;
                    s.snoozed_until = None;
                    s.snooze_reason = None;
                }
                if s.status == SignalStatus::Open
                    && as_of.0 - s.detected_at.0 >= cfg.expire_after_days
                {
                    s.status = SignalStatus::Expired;
                    s.resolved_at = Some(as_of);
                }
                changed.push(s);
            }
            None => {
                let cooling = existing.iter().any(|s| {
                    s.kind == d.kind
                        && !s.is_active()
                        && s.resolved_at
                            .is_some_and(|r| as_of.0 - r.0 < cooldown(d.kind))
                });
                if cooling {
                    continue;
                }
                changed.push(Signal {
                    id: format!("{account}:{}:{as_of}", d.kind),
                    account_id: account.clone(),
                    kind: d.kind.to_string(),
                    direction: match d.direction {
                        Direction::Risk => "risk".into(),
                        Direction::Expansion => "expansion".into(),
                    },
                    severity: d.severity,
                    detected_at: as_of,
                    last_seen: as_of,
                    evidence: d.evidence.clone(),
                    explanation: d.explanation.clone(),
                    suggested_action: d.suggested_action.clone(),
                    status: SignalStatus::Open,
                    owner: owner.map(String::from),
                    resolved_at: None,
                    snoozed_until: None,
                    snooze_reason: None,
                    alerted: false,
                });
            }
        }
    }
    for s in existing
        .iter()
        .filter(|s| s.is_active() && !found.iter().any(|d| d.kind == s.kind))
    {
        let mut s = s.clone();
        s.status = SignalStatus::Resolved;
        s.resolved_at = Some(as_of);
        changed.push(s);
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use bellwether_core::model::Severity;

    fn det(kind: &'static str) -> Detection {
        Detection {
            kind,
            direction: Direction::Risk,
            severity: Severity::High,
            evidence: serde_json::json!({}),
            explanation: format!("{kind} now"),
            suggested_action: "call".into(),
        }
    }

    /// Runs `days` daily passes where `fires(day)` says whether the condition holds; returns all signals.
    fn run(
        days: i32,
        fires: impl Fn(i32) -> bool,
        tweak: impl Fn(i32, &mut Vec<Signal>),
    ) -> Vec<Signal> {
        let id = AccountId::from("a");
        let mut all: Vec<Signal> = Vec::new();
        for day in 0..days {
            tweak(day, &mut all);
            let found = if fires(day) {
                vec![det("usage_drop")]
            } else {
                vec![]
            };
            for c in reconcile(
                &id,
                Some("csm"),
                Day(day),
                &all,
                &found,
                &|_| 14,
                &LifecycleConfig::default(),
            ) {
                match all.iter_mut().find(|s| s.id == c.id) {
                    Some(s) => *s = c,
                    None => all.push(c),
                }
            }
        }
        all
    }

    #[test]
    fn a_snooze_ends_on_a_later_day_and_says_why_in_words() {
        let today = Day(100);
        assert_eq!(
            SignalAct::snooze(Day(107), "  on leave ", today),
            Ok(SignalAct::Snooze(Day(107), "on leave".into()))
        );
        for (until, reason) in [(Day(100), "on leave"), (Day(90), "on leave")] {
            assert!(matches!(
                SignalAct::snooze(until, reason, today),
                Err(SnoozeRefused::NotLater(_))
            ));
        }
        assert!(matches!(
            SignalAct::snooze(Day(107), " ", today),
            Err(SnoozeRefused::NoReason(_))
        ));
        assert!(matches!(
            SignalAct::snooze(Day(107), "on\u{0}leave", today),
            Err(SnoozeRefused::NotText(_))
        ));
        let long = "x".repeat(MAX_SNOOZE_REASON + 1);
        assert!(matches!(
            SignalAct::snooze(Day(107), &long, today),
            Err(SnoozeRefused::TooLong(_))
        ));
    }

    #[test]
    fn one_signal_per_condition_then_resolved_then_cooldown() {
        // Fires days 0-9, clears 10-14, fires again 15-19 (inside the 14-day cooldown), then again from 30.
        let all = run(
            40,
            |d| d < 10 || (15..20).contains(&d) || d >= 30,
            |_, _| {},
        );
        assert_eq!(all.len(), 2, "{all:#?}");
        assert_eq!(
            (all[0].status, all[0].resolved_at, all[0].last_seen),
            (SignalStatus::Resolved, Some(Day(10)), Day(9))
        );
        assert_eq!(
            (all[1].detected_at, all[1].status, all[1].owner.as_deref()),
            (Day(30), SignalStatus::Open, Some("csm"))
        );
    }

    #[test]
    fn acknowledged_signals_stay_and_snoozes_wake_up_and_open_ones_expire() {
        let ack = run(
            100,
            |_| true,
            |day, all| {
                if day == 5 {
                    all[0].status = SignalStatus::Acknowledged;
                }
            },
        );
        assert_eq!(ack.len(), 1);
        assert_eq!(
            ack[0].status,
            SignalStatus::Acknowledged,
            "acknowledged signals do not expire"
        );
        let snoozed = run(
            30,
            |_| true,
            |day, all| {
                if day == 5 {
                    act(&mut all[0], SignalAct::Snooze(Day(20), "on holiday".into())).unwrap();
                    assert_eq!(all[0].snooze_reason.as_deref(), Some("on holiday"));
                }
            },
        );
        assert_eq!(
            (
                snoozed[0].status,
                snoozed[0].snoozed_until,
                snoozed[0].snooze_reason.as_deref()
            ),
            (SignalStatus::Open, None, None),
            "a snooze that ran out leaves no end or reason behind"
        );
        let ignored = run(80, |_| true, |_, _| {});
        assert_eq!(ignored[0].status, SignalStatus::Expired);
        assert_eq!(ignored[0].resolved_at, Some(Day(60)));
        assert_eq!(
            ignored.len(),
            2,
            "a reminder opens after the cooldown: {ignored:#?}"
        );
        assert_eq!(ignored[1].detected_at, Day(74));
    }
}

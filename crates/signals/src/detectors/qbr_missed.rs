//! QBR missed: a quarterly business review invitation was declined or ignored in the last 90 days, and no QBR
//! has been accepted since.
//!
//! One missed invitation is medium. Severity goes up one step when two or more were missed, and one more when
//! the executive sponsor (the contact's role as of the invitation) was the one who declined or ignored it: an
//! executive who will not give the vendor an hour a quarter is rarely planning to renew.

use crate::{Context, Detection, Detector, Direction};
use bellwether_core::model::{InteractionKind, Response, Role, Severity};
use serde_json::json;

/// Fires on QBR invitations declined or ignored within `window_days` and not made up for since.
pub struct QbrMissed {
    /// Days a missed invitation stays news.
    pub window_days: i32,
    /// Missed invitations needed (with no accepted one since).
    pub min_missed: usize,
}

impl Default for QbrMissed {
    fn default() -> Self {
        QbrMissed {
            window_days: 90,
            min_missed: 1,
        }
    }
}

impl Detector for QbrMissed {
    fn kind(&self) -> &'static str {
        "qbr_missed"
    }
    fn direction(&self) -> Direction {
        Direction::Risk
    }
    fn cooldown_days(&self) -> i32 {
        45
    }
    fn detect(&self, cx: &Context) -> Option<Detection> {
        let invites: Vec<_> = cx
            .interactions()
            .filter(|i| i.kind == InteractionKind::QbrInvite && cx.within(i.at, self.window_days))
            .collect();
        let missed: Vec<_> = invites
            .iter()
            .filter(|i| matches!(i.response, Some(Response::Declined | Response::Ignored)))
            .collect();
        let last_missed = missed.iter().map(|i| i.at).max()?;
        if invites
            .iter()
            .any(|i| i.response == Some(Response::Accepted) && i.at > last_missed)
        {
            return None;
        }
        if missed.len() < self.min_missed {
            return None;
        }
        let mut sponsor = None;
        let described: Vec<String> = missed
            .iter()
            .rev()
            .map(|i| {
                let verb = if i.response == Some(Response::Declined) {
                    "declined"
                } else {
                    "ignored"
                };
                let who = i.contact_id.as_ref().map(|c| {
                    let name = cx.contact_label(c);
                    match cx.contact_role_at(c, i.at) {
                        Some(Role::ExecutiveSponsor) => {
                            sponsor.get_or_insert(name.clone());
                            format!(" by the executive sponsor, {name},")
                        }
                        Some(Role::Champion) => format!(" by the champion, {name},"),
                        _ => format!(" by {name}"),
                    }
                });
                format!(
                    "{verb}{} {} days ago (on {})",
                    who.unwrap_or_default(),
                    cx.days_since(i.at),
                    i.at.day()
                )
            })
            .collect();
        let mut severity = Severity::Medium;
        if missed.len() >= 2 {
            severity = Severity::High;
        }
        if sponsor.is_some() {
            severity = if severity == Severity::High {
                Severity::Critical
            } else {
                Severity::High
            };
        }
        let count = if missed.len() == 1 {
            "One QBR invitation in the last 90 days was".to_string()
        } else {
            format!(
                "{} QBR invitations in the last {} days were declined or ignored:",
                missed.len(),
                self.window_days
            )
        };
        let explanation = if missed.len() == 1 {
            format!(
                "{count} {}, and no QBR has been accepted since.",
                described[0]
            )
        } else {
            format!(
                "{count} {}; no QBR has been accepted since.",
                described.join("; ")
            )
        };
        Some(Detection {
            kind: self.kind(),
            direction: self.direction(),
            severity,
            evidence: json!({
                "missed": missed.iter().map(|i| json!({
                    "on": i.at.day().to_string(), "response": i.response.map(|r| r.as_str()),
                    "contact": i.contact_id.as_ref().map(|c| c.to_string()),
                })).collect::<Vec<_>>(),
                "invites_90d": invites.len(), "sponsor": sponsor,
            }),
            explanation,
            suggested_action: if sponsor.is_some() {
                "Ask the champion to help re-book the QBR around what the sponsor cares about (results delivered, next quarter's goals), and offer a peer call between the sponsor and one of your executives.".into()
            } else {
                "Re-book the QBR with a short, outcome-focused agenda (value delivered, next quarter's goals) and confirm who from the customer's leadership will attend.".into()
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testkit::Kit;
    use bellwether_core::Day;

    fn kit() -> Kit {
        let mut k = Kit::new(Day::ymd(2025, 6, 16));
        k.contact("ann", "Ann Smith", &[(-300, "role", "executive_sponsor")])
            .contact("dana", "Dana Lee", &[(-300, "role", "champion")]);
        k
    }

    #[test]
    fn one_ignored_invite_is_medium() {
        let mut k = kit();
        k.interaction(
            -20,
            InteractionKind::QbrInvite,
            Some(Response::Ignored),
            Some("dana"),
        );
        let d = k.run(&QbrMissed::default()).expect("fires");
        assert_eq!(d.severity, Severity::Medium);
        assert_eq!(
            d.explanation,
            "One QBR invitation in the last 90 days was ignored by the champion, Dana Lee, 20 days ago (on 2025-05-27), and no QBR has been accepted since."
        );
    }

    #[test]
    fn two_missed_with_the_sponsor_declining_is_critical() {
        let mut k = kit();
        k.interaction(
            -70,
            InteractionKind::QbrInvite,
            Some(Response::Ignored),
            Some("dana"),
        );
        k.interaction(
            -10,
            InteractionKind::QbrInvite,
            Some(Response::Declined),
            Some("ann"),
        );
        let d = k.run(&QbrMissed::default()).expect("fires");
        assert_eq!(d.severity, Severity::Critical);
        assert!(
            d.explanation.starts_with("2 QBR invitations in the last 90 days were declined or ignored: declined by the executive sponsor, Ann Smith, 10 days ago"),
            "{}",
            d.explanation
        );
        // The sponsor alone is high.
        let mut k = kit();
        k.interaction(
            -10,
            InteractionKind::QbrInvite,
            Some(Response::Declined),
            Some("ann"),
        );
        assert_eq!(
            k.run(&QbrMissed::default()).unwrap().severity,
            Severity::High
        );
    }

    #[test]
    fn accepted_since_old_or_future_misses_do_not_fire() {
        let mut k = kit();
        k.interaction(
            -40,
            InteractionKind::QbrInvite,
            Some(Response::Declined),
            Some("ann"),
        );
        k.interaction(
            -15,
            InteractionKind::QbrInvite,
            Some(Response::Accepted),
            None,
        );
        assert!(k.run(&QbrMissed::default()).is_none());
        let mut k = kit();
        k.interaction(
            -95,
            InteractionKind::QbrInvite,
            Some(Response::Declined),
            None,
        );
        k.interaction(
            0,
            InteractionKind::QbrInvite,
            Some(Response::Declined),
            None,
        );
        k.interaction(5, InteractionKind::QbrInvite, Some(Response::Ignored), None);
        assert!(k.run(&QbrMissed::default()).is_none());
    }
}

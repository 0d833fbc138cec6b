//! Champion left: the customer's champion or executive sponsor left or went inactive in the last 60 days, or
//! the champion has gone silent.
//!
//! A departure is a contact whose role (as of the change, or now) is `champion` or `executive_sponsor` and whose
//! status turned to `left` or `inactive` in the last 60 days and is still so. It is critical when no other
//! active champion or sponsor is on record, high otherwise.
//!
//! "Gone silent" is the quieter version: the account still has an active champion on record, it used to engage
//! (a meeting, an accepted QBR invitation or an email from the customer in the year before), but none of those
//! has happened for 120 days. An account with no interaction history at all never fires this way, since
//! silence cannot be told from a missing source. Gone silent is medium.

use crate::{capitalise, Context, Detection, Detector, Direction};
use bellwether_core::history::{self, attr};
use bellwether_core::model::{ContactStatus, InteractionKind, Response, Role, Severity};
use bellwether_core::{Day, Timestamp};
use serde_json::json;

/// Fires on a key contact's departure within `window_days`, or on `silence_days` without engagement.
pub struct ChampionLeft {
    /// Days a departure stays news.
    pub window_days: i32,
    /// Days without a meeting, accepted QBR or customer email that count as gone silent.
    pub silence_days: i32,
}

impl Default for ChampionLeft {
    fn default() -> Self {
        ChampionLeft {
            window_days: 60,
            silence_days: 120,
        }
    }
}

fn role_words(r: Role) -> &'static str {
    match r {
        Role::ExecutiveSponsor => "executive sponsor",
        _ => "champion",
    }
}

fn is_key(r: Option<Role>) -> bool {
    matches!(r, Some(Role::Champion | Role::ExecutiveSponsor))
}

struct Departure {
    name: String,
    role: Role,
    status: ContactStatus,
    day: Day,
}

impl ChampionLeft {
    fn departures(&self, cx: &Context) -> Vec<Departure> {
        let t = cx.until;
        let mut out = Vec::new();
        for c in &cx.facts.contacts {
            let now = history::snapshot(&c.attrs, t, None);
            let status = now
                .get(attr::STATUS)
                .and_then(|s| ContactStatus::parse(s).ok())
                .unwrap_or(ContactStatus::Active);
            if status == ContactStatus::Active {
                continue;
            }
            // The change that set the current status.
            let Some(change) = c
                .attrs
                .iter()
                .filter(|a| a.attr == attr::STATUS && a.valid_from < t)
                .max_by_key(|a| (a.valid_from, a.received_at))
            else {
                continue;
            };
            if !cx.within(change.valid_from, self.window_days) {
                continue;
            }
            let role_then = history::snapshot(&c.attrs, Timestamp(change.valid_from.0 + 1), None)
                .get(attr::ROLE)
                .and_then(|r| Role::parse(r).ok());
            let role_now = now.get(attr::ROLE).and_then(|r| Role::parse(r).ok());
            let Some(role) = [role_then, role_now]
                .into_iter()
                .find(|r| is_key(*r))
                .flatten()
            else {
                continue;
            };
            out.push(Departure {
                name: cx.contact_label(&c.contact.id),
                role,
                status,
                day: change.valid_from.day(),
            });
        }
        out.sort_by_key(|d| (d.role != Role::ExecutiveSponsor, std::cmp::Reverse(d.day)));
        out
    }

    fn gone_silent(&self, cx: &Context) -> Option<Detection> {
        let contacts = cx.facts.contacts_as_of(cx.as_of);
        let champion = contacts
            .iter()
            .find(|c| c.role == Some(Role::Champion) && c.status == ContactStatus::Active)?;
        let engaged = |i: &&bellwether_core::model::Interaction| match i.kind {
            InteractionKind::Meeting | InteractionKind::EmailReceived => true,
            InteractionKind::QbrInvite => i.response == Some(Response::Accepted),
            _ => false,
        };
        let last = cx.interactions().filter(engaged).max_by_key(|i| i.at)?;
        let days = cx.days_since(last.at);
        if days < self.silence_days || days > self.silence_days + 365 {
            return None;
        }
        let name = cx.contact_label(&champion.contact.id);
        let what = match last.kind {
            InteractionKind::Meeting => "a meeting",
            InteractionKind::EmailReceived => "an email from the customer",
            _ => "an accepted QBR invitation",
        };
        Some(Detection {
            kind: self.kind(),
            direction: self.direction(),
            severity: Severity::Medium,
            evidence: json!({
                "reason": "gone_silent", "champion": name, "days_since_engagement": days,
                "last_engagement": last.at.day().to_string(), "last_engagement_kind": last.kind.as_str(),
            }),
            explanation: format!(
                "The champion, {name}, is still on record, but there has been no meeting, accepted QBR or email from the account for {days} days: the last was {what} on {}.",
                last.at.day()
            ),
            suggested_action: format!(
                "Check with {name} directly whether they are still in the role and still own the relationship; if not, find the new owner through the admin or the sponsor before the renewal."
            ),
        })
    }
}

impl Detector for ChampionLeft {
    fn kind(&self) -> &'static str {
        "champion_left"
    }
    fn direction(&self) -> Direction {
        Direction::Risk
    }
    fn cooldown_days(&self) -> i32 {
        60
    }
    fn detect(&self, cx: &Context) -> Option<Detection> {
        let gone = self.departures(cx);
        let Some(first) = gone.first() else {
            return self.gone_silent(cx);
        };
        let remaining: Vec<String> = cx
            .facts
            .contacts_as_of(cx.as_of)
            .iter()
            .filter(|c| c.status == ContactStatus::Active && is_key(c.role))
            .map(|c| {
                format!(
                    "{} ({})",
                    cx.contact_label(&c.contact.id),
                    role_words(c.role.unwrap_or(Role::Champion))
                )
            })
            .collect();
        let severity = if remaining.is_empty() {
            Severity::Critical
        } else {
            Severity::High
        };
        let said: Vec<String> = gone
            .iter()
            .map(|d| {
                let how = match d.status {
                    ContactStatus::Left => "left the company",
                    _ => "became inactive",
                };
                format!(
                    "the {}, {}, {how} {} days ago (on {})",
                    role_words(d.role),
                    d.name,
                    cx.as_of.0 - d.day.0,
                    d.day
                )
            })
            .collect();
        let mut explanation = format!("{}.", capitalise(&said.join("; ")));
        if remaining.is_empty() {
            explanation.push_str(" No other active champion or executive sponsor is on record.");
        } else {
            explanation.push_str(&format!(" Still active: {}.", remaining.join(", ")));
        }
        Some(Detection {
            kind: self.kind(),
            direction: self.direction(),
            severity,
            evidence: json!({
                "reason": "departed",
                "departed": gone.iter().map(|d| json!({
                    "name": d.name, "role": d.role.as_str(), "status": d.status.as_str(), "on": d.day.to_string(),
                })).collect::<Vec<_>>(),
                "remaining_key_contacts": remaining,
            }),
            explanation,
            suggested_action: format!(
                "Find and meet the {}'s successor within two weeks: ask the remaining contacts who now owns the decision, re-present the value delivered, and rebuild the success plan with them.",
                role_words(first.role)
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testkit::Kit;

    fn as_of() -> Day {
        Day::ymd(2025, 6, 16)
    }

    #[test]
    fn a_sponsor_leaving_with_nobody_left_is_critical() {
        let mut k = Kit::new(as_of());
        k.contact(
            "ann",
            "Ann Smith",
            &[(-300, "role", "executive_sponsor"), (-12, "status", "left")],
        )
        .contact("bob", "Bob Jones", &[(-300, "role", "user")]);
        let d = k.run(&ChampionLeft::default()).expect("fires");
        assert_eq!(d.severity, Severity::Critical);
        assert!(
            d.explanation.starts_with(
                "The executive sponsor, Ann Smith, left the company 12 days ago (on 2025-06-04)."
            ) && d.explanation.contains("No other active"),
            "{}",
            d.explanation
        );
    }

    #[test]
    fn a_champion_going_inactive_with_a_sponsor_still_there_is_high() {
        let mut k = Kit::new(as_of());
        k.contact(
            "dana",
            "Dana Lee",
            &[(-300, "role", "champion"), (-40, "status", "inactive")],
        )
        .contact("ann", "Ann Smith", &[(-300, "role", "executive_sponsor")]);
        let d = k.run(&ChampionLeft::default()).expect("fires");
        assert_eq!(d.severity, Severity::High);
        assert!(
            d.explanation.starts_with(
                "The champion, Dana Lee, became inactive 40 days ago (on 2025-05-07)."
            ),
            "{}",
            d.explanation
        );
        assert!(d
            .explanation
            .contains("Still active: Ann Smith (executive sponsor)."));
    }

    #[test]
    fn old_future_reversed_and_non_key_departures_do_not_fire() {
        let run = |attrs: &[(i32, &str, &str)]| {
            let mut k = Kit::new(as_of());
            k.contact("dana", "Dana Lee", attrs);
            k.run(&ChampionLeft::default())
        };
        assert!(run(&[(-300, "role", "champion"), (-75, "status", "left")]).is_none());
        assert!(run(&[(-300, "role", "champion"), (3, "status", "left")]).is_none());
        assert!(run(&[(-300, "role", "champion"), (0, "status", "left")]).is_none());
        assert!(run(&[
            (-300, "role", "champion"),
            (-20, "status", "inactive"),
            (-5, "status", "active")
        ])
        .is_none());
        assert!(run(&[(-300, "role", "user"), (-10, "status", "left")]).is_none());
    }

    #[test]
    fn a_champion_gone_silent_fires_only_after_engagement_stopped() {
        let mut k = Kit::new(as_of());
        k.contact("dana", "Dana Lee", &[(-300, "role", "champion")]);
        k.interaction(-200, InteractionKind::Meeting, None, Some("dana"));
        k.interaction(
            -150,
            InteractionKind::QbrInvite,
            Some(Response::Accepted),
            None,
        );
        // Emails the vendor sends and ignored invites are not engagement.
        k.interaction(-30, InteractionKind::EmailSent, None, None);
        k.interaction(
            -20,
            InteractionKind::QbrInvite,
            Some(Response::Ignored),
            None,
        );
        // A reply after the day does not count yet.
        k.interaction(2, InteractionKind::EmailReceived, None, Some("dana"));
        let d = k.run(&ChampionLeft::default()).expect("fires");
        assert_eq!(d.severity, Severity::Medium);
        assert!(
            d.explanation.contains("Dana Lee, is still on record")
                && d.explanation.contains("for 150 days")
                && d.explanation
                    .contains("an accepted QBR invitation on 2025-01-17"),
            "{}",
            d.explanation
        );
        k.interaction(-30, InteractionKind::EmailReceived, None, Some("dana"));
        assert!(k.run(&ChampionLeft::default()).is_none());
        // No interaction history at all: silence cannot be told from a missing source.
        let mut k = Kit::new(as_of());
        k.contact("dana", "Dana Lee", &[(-300, "role", "champion")]);
        assert!(k.run(&ChampionLeft::default()).is_none());
    }
}

//! The people alerts and digests go to: their email (how the book names owners), Slack user id, time zone,
//! leader, the channels they take alerts on, their quiet hours and daily alert cap, and whether their Monday
//! list arrives. They come from `[[people]]` in `bellwether.toml` and from the `people` import kind; the
//! store keeps the imported ones. Owners in the book are matched to people by email, case-insensitively.

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// The channels a person can take their own alerts on.
pub const PERSONAL_CHANNELS: &[&str] = &["email", "slack"];

/// How an email is compared and stored as a key: trimmed, in lower case. The one place that decides when two
/// addresses name one person (the book's owners, the directory, the outbox's recipients, both stores).
pub fn key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// One person.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// Their email: how the book names owners.
    pub email: String,
    /// Their name, for greetings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Their Slack user id (`U…`): who clicks the buttons, and where the Slack app sends their alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack_user_id: Option<String>,
    /// Their leader's email: who may act on their accounts too, and who gets their escalated alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    /// The IANA time zone their day is read in (default: `[schedule] time_zone`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// The `[[delivery.slack]]` destination their own messages go to (their incoming webhook), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<String>,
    /// Whether they get the weekly digest (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<bool>,
    /// The channels their own alerts go to, of `email` and `slack` (default: each they can be reached on;
    /// empty: none, the digest only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<String>>,
    /// Hours in their time zone when alerts wait for the next digest instead (`22:00-07:00`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<String>,
    /// At most this many alerts a day (in their time zone); the rest wait for the next digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_cap: Option<u32>,
}

impl Person {
    /// Checks the settings; the error names the person and the setting, and what to write instead.
    pub fn check(&self) -> Result<(), String> {
        self.check_field().map_err(|(_, e)| e)
    }

    /// [`Person::check`], with the field at fault apart (`email`, `time_zone`, `quiet_hours`, `channels`,
    /// `leader`).
    pub fn check_field(&self) -> Result<(), (&'static str, String)> {
        let is_email = |e: &str| {
            let e = e.trim();
            !e.is_empty() && e.contains('@') && !e.contains(char::is_whitespace)
        };
        if !is_email(&self.email) {
            return Err((
                "email",
                format!(
                    "email = \"{}\" is not an email address (the owner name the book uses, e.g. ana@example.com)",
                    self.email
                ),
            ));
        }
        if let Some(l) = self.leader.as_deref().filter(|l| !is_email(l)) {
            return Err((
                "leader",
                format!(
                    "{}: leader = \"{l}\" is not an email address (the leader's email, as their own entry gives it)",
                    self.email
                ),
            ));
        }
        if let Some(tz) = &self.time_zone {
            TimeZone::get(tz).map_err(|err| {
                (
                    "time_zone",
                    format!(
                        "{}: time_zone = \"{tz}\" is not an IANA time zone such as Europe/Berlin ({err})",
                        self.email
                    ),
                )
            })?;
        }
        if let Some(q) = &self.quiet_hours {
            QuietHours::parse(q)
                .map_err(|err| ("quiet_hours", format!("{}: quiet_hours: {err}", self.email)))?;
        }
        for c in self.channels.iter().flatten() {
            if !PERSONAL_CHANNELS.contains(&c.as_str()) {
                return Err((
                    "channels",
                    format!(
                        "{}: channels has \"{c}\", which is not one of {}",
                        self.email,
                        PERSONAL_CHANNELS.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Their time zone, else `fallback`.
    pub fn zone(&self, fallback: &TimeZone) -> TimeZone {
        self.time_zone
            .as_deref()
            .and_then(|t| TimeZone::get(t).ok())
            .unwrap_or_else(|| fallback.clone())
    }

    /// Whether their own alerts go to `channel` (`email`, `slack`).
    pub fn wants(&self, channel: &str) -> bool {
        self.channels
            .as_ref()
            .is_none_or(|c| c.iter().any(|c| c == channel))
    }

    /// Their quiet hours, when set and valid.
    pub fn quiet(&self) -> Option<QuietHours> {
        self.quiet_hours
            .as_deref()
            .and_then(|q| QuietHours::parse(q).ok())
    }
}

/// A span of the day in minutes after midnight, `from` inclusive to `to` exclusive; it runs over midnight
/// when `to` is before `from` (`22:00-07:00`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuietHours {
    /// Start, minutes after midnight.
    pub from: u16,
    /// End, minutes after midnight.
    pub to: u16,
}

impl QuietHours {
    /// Reads `HH:MM-HH:MM`.
    pub fn parse(s: &str) -> Result<QuietHours, String> {
        let bad = || format!("\"{s}\" is not a span of the day such as 22:00-07:00");
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let minutes = |t: &str| -> Option<u16> {
            let (h, m) = t.trim().split_once(':')?;
            let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
            (h < 24 && m < 60).then_some(h * 60 + m)
        };
        let (from, to) = (minutes(a).ok_or_else(bad)?, minutes(b).ok_or_else(bad)?);
        if from == to {
            return Err(format!("\"{s}\" starts and ends at the same time"));
        }
        Ok(QuietHours { from, to })
    }

    /// Whether the minute of the day `minute` falls inside.
    pub fn contains(self, minute: u16) -> bool {
        if self.from < self.to {
            (self.from..self.to).contains(&minute)
        } else {
            minute >= self.from || minute < self.to
        }
    }
}

impl std::fmt::Display for QuietHours {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:02}:{:02}–{:02}:{:02}",
            self.from / 60,
            self.from % 60,
            self.to / 60,
            self.to % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_run_over_midnight() {
        let q = QuietHours::parse("22:00-07:00").unwrap();
        assert!(q.contains(23 * 60) && q.contains(0) && q.contains(6 * 60 + 59));
        assert!(!q.contains(7 * 60) && !q.contains(12 * 60) && !q.contains(21 * 60 + 59));
        let day = QuietHours::parse("12:30-13:30").unwrap();
        assert!(day.contains(12 * 60 + 30) && !day.contains(13 * 60 + 30));
        assert_eq!(day.to_string(), "12:30–13:30");
        for bad in ["22-07", "25:00-07:00", "07:00-07:00", "", "22:00"] {
            assert!(QuietHours::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn people_are_checked() {
        let p = Person {
            email: "ana@example.com".into(),
            time_zone: Some("Europe/Berlin".into()),
            quiet_hours: Some("22:00-07:00".into()),
            channels: Some(vec!["email".into()]),
            ..Default::default()
        };
        p.check().unwrap();
        assert!(p.wants("email") && !p.wants("slack"));
        assert!(Person::default().wants("slack"));
        let bad = |f: fn(&mut Person)| {
            let mut q = p.clone();
            f(&mut q);
            q.check().unwrap_err()
        };
        assert!(bad(|p| p.email = "ana".into()).contains("not an email"));
        assert!(bad(|p| p.time_zone = Some("Mars/Base".into())).contains("time_zone"));
        assert!(bad(|p| p.quiet_hours = Some("late".into())).contains("quiet_hours"));
        assert!(bad(|p| p.channels = Some(vec!["pager".into()])).contains("pager"));
    }
}

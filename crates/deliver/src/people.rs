//! The people alerts and digests go to (`[[people]]` in `bellwether.toml`): their email (how the book names
//! owners), Slack user id, time zone, leader, the channels they want, and when their Monday list arrives.
//! Owners in the book are matched to it by email, case-insensitively.

use jiff::tz::TimeZone;

/// One person.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// Their email: how the book names owners.
    pub email: String,
    /// Their name, for greetings.
    pub name: Option<String>,
    /// Their Slack user id (`U…`), for the buttons they click.
    pub slack_user_id: Option<String>,
    /// Their leader's email, who may act on their accounts too.
    pub leader: Option<String>,
    /// The IANA time zone their day is read in (default: `[schedule] time_zone`).
    pub time_zone: Option<String>,
    /// The `[[delivery.slack]]` destination their digest is posted to (their own incoming webhook, or a
    /// team channel's), if any.
    pub slack: Option<String>,
    /// Whether they get the weekly digest (default true).
    pub digest: Option<bool>,
}

impl Person {
    /// Checks the settings; the error names the person and the setting.
    pub fn check(&self) -> Result<(), String> {
        if !self.email.contains('@') {
            return Err(format!(
                "[[people]] email = \"{}\" is not an email address",
                self.email
            ));
        }
        if let Some(tz) = &self.time_zone {
            TimeZone::get(tz).map_err(|e| {
                format!(
                    "[[people]] {}: time_zone = \"{tz}\" is not an IANA time zone such as Europe/Berlin ({e})",
                    self.email
                )
            })?;
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
}

/// The directory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct People(pub Vec<Person>);

impl People {
    /// The person an owner names (by email, case-insensitively).
    pub fn get(&self, owner: &str) -> Option<&Person> {
        self.0.iter().find(|p| p.email.eq_ignore_ascii_case(owner))
    }

    /// Checks every person, and that no email comes twice.
    pub fn check(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for p in &self.0 {
            p.check()?;
            if !seen.insert(p.email.to_ascii_lowercase()) {
                return Err(format!("[[people]] {} comes twice", p.email));
            }
        }
        Ok(())
    }
}

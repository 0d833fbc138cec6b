//! Signals: behavioural changes that predict an outcome, found as of a day and explained.
//!
//! Each detector is one file in [`detectors`] implementing [`Detector`], and is registered by one line in
//! [`detectors::all`]. A detector reads one account as of one day through a [`Context`] (its point-in-time
//! features, facts and series, and the working-day [`calendar::Calendar`]) and returns at most one
//! [`Detection`]: kind, direction (risk or expansion), severity, the evidence (the numbers and what they were
//! compared with), a plain-words explanation and a suggested action. Keeping one open signal per condition,
//! cooldowns and the lifecycle are the engine's job; detectors only say whether the condition holds today.
//!
//! To add a detector: write `detectors/my_detector.rs` with a struct implementing [`Detector`], add
//! `mod my_detector;` and one line to [`detectors::all`] in `detectors/mod.rs`.
#![deny(missing_docs)]

pub mod calendar;
pub mod detectors;

use bellwether_core::model::{BillingEvent, Interaction, Role, Severity, Ticket};
use bellwether_core::series::{AccountSeries, UsageSource};
use bellwether_core::{AccountId, ContactId, Day, Timestamp};
use bellwether_features::AccountFeatures;
use bellwether_store::AccountFacts;
use calendar::Calendar;
use serde::Serialize;

/// Whether a signal warns of churn or contraction, or points to growth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Churn or contraction risk.
    Risk,
    /// An expansion opportunity.
    Expansion,
}

/// What a detector sees of one account as of one day. Everything in it is point-in-time: facts and series are
/// the account's whole record, so a detector must only read days before `as_of` (the helpers on
/// [`Context`] do).
pub struct Context<'a> {
    /// The account.
    pub account: &'a AccountId,
    /// The day of the pass.
    pub as_of: Day,
    /// Dated facts (billing events, tickets, contact changes) before this moment count: the start of
    /// `as_of`, or, on the book's current day, the moment of the pass, so what happened today (a payment that
    /// failed an hour ago) is seen today. Series are by day and stop before `as_of` either way.
    pub until: bellwether_core::Timestamp,
    /// Features as of the day.
    pub features: &'a AccountFeatures,
    /// The account's facts (filter by time).
    pub facts: &'a AccountFacts,
    /// The account's series (filter by day).
    pub series: Option<&'a AccountSeries>,
    /// Weekends and public holidays.
    pub calendar: &'a Calendar,
}

impl Context<'_> {
    /// The usage sources the account has (product events, imported daily metrics), events first. Usage
    /// detectors judge each against its own baseline and never add the two together.
    pub fn usage_sources(&self) -> Vec<UsageSource> {
        self.series
            .map(bellwether_core::series::sources)
            .unwrap_or_default()
    }

    /// One source's total usage per day over `[as_of - days, as_of)`, oldest first: the sum of its
    /// per-feature series (event counts, or imported daily metrics other than `active_users`).
    pub fn daily_usage(&self, source: UsageSource, days: i32) -> Vec<f64> {
        let from = self.as_of.plus(-days);
        let mut out = vec![0.0; days.max(0) as usize];
        if let Some(s) = self.series {
            for (_, ser) in bellwether_core::series::source_series(s, source) {
                for (d, v) in ser.range(from, self.as_of) {
                    out[(d.0 - from.0) as usize] += v;
                }
            }
        }
        out
    }

    /// Values of one metric per day over `[as_of - days, as_of)`, oldest first (zero where absent).
    pub fn daily(&self, metric: &str, days: i32) -> Vec<f64> {
        let from = self.as_of.plus(-days);
        match self.series.and_then(|s| s.get(metric)) {
            Some(s) => s.dense(from, self.as_of),
            None => vec![0.0; days.max(0) as usize],
        }
    }
}

impl<'a> Context<'a> {
    /// Tickets opened before the pass ([`Context::until`]).
    pub fn tickets(&self) -> impl Iterator<Item = &'a Ticket> + 'a {
        let t = self.until;
        self.facts.tickets.iter().filter(move |k| k.opened_at < t)
    }

    /// Interactions that happened before the pass.
    pub fn interactions(&self) -> impl Iterator<Item = &'a Interaction> + 'a {
        let t = self.until;
        self.facts.interactions.iter().filter(move |i| i.at < t)
    }

    /// Billing events that happened before the pass.
    pub fn billing(&self) -> impl Iterator<Item = &'a BillingEvent> + 'a {
        let t = self.until;
        self.facts.billing.iter().filter(move |b| b.at < t)
    }

    /// Whole days from the day of `t` to the as-of day.
    pub fn days_since(&self, t: Timestamp) -> i32 {
        self.as_of.0 - t.day().0
    }

    /// Whether `t` falls within the `days` days before the as-of day, `[as_of - days, as_of)`, or on the current
    /// day before the pass.
    pub fn within(&self, t: Timestamp, days: i32) -> bool {
        t < self.until && t.day() >= self.as_of.plus(-days)
    }

    /// Working days in `[from, to)`.
    pub fn working_days(&self, from: Day, to: Day) -> i32 {
        (from.0..to.0)
            .filter(|d| self.calendar.is_workday(Day(*d)))
            .count() as i32
    }

    /// The last days of the `n` whole calendar months before the as-of day, oldest first (monthly series are
    /// dated by these days).
    pub fn month_ends(&self, n: usize) -> Vec<Day> {
        let mut out = Vec::with_capacity(n);
        let mut d = self.as_of;
        for _ in 0..n {
            let (y, m, _) = d.civil();
            d = Day::ymd(y, m, 1).plus(-1);
            out.push(d);
        }
        out.reverse();
        out
    }

    /// A contact's display name: the name, else the email, else `contact <id>`.
    pub fn contact_label(&self, id: &ContactId) -> String {
        self.facts
            .contacts
            .iter()
            .find(|c| &c.contact.id == id)
            .and_then(|c| c.contact.name.clone().or_else(|| c.contact.email.clone()))
            .unwrap_or_else(|| format!("contact {id}"))
    }

    /// A contact's role as of an instant (attribute changes before it), read only up to the as-of day.
    pub fn contact_role_at(&self, id: &ContactId, at: Timestamp) -> Option<Role> {
        let at = at.min(self.as_of.start());
        let c = self.facts.contacts.iter().find(|c| &c.contact.id == id)?;
        bellwether_core::history::snapshot(&c.attrs, at, None)
            .get(bellwether_core::history::attr::ROLE)
            .and_then(|r| Role::parse(r).ok())
    }

    /// Names the person behind an interaction for the start of a sentence, with their role when it is a key
    /// one: "Ana Ruiz (the executive sponsor)", or "A respondent" when nobody is named.
    pub fn respondent(&self, contact: Option<&ContactId>, at: Timestamp) -> String {
        let who = match contact {
            Some(c) => {
                let name = self.contact_label(c);
                match self.contact_role_at(c, at) {
                    Some(Role::ExecutiveSponsor) => format!("{name} (the executive sponsor)"),
                    Some(Role::Champion) => format!("{name} (the champion)"),
                    _ => name,
                }
            }
            None => "A respondent".to_string(),
        };
        capitalise(&who)
    }

    /// One NPS answer in words: who answered what, when, a description of the score (such as "a detractor
    /// score (0 to 6)") and the comment, ending in a full stop.
    pub fn nps_answer(
        &self,
        answer: &bellwether_core::model::Interaction,
        score: f64,
        description: &str,
    ) -> String {
        let who = self.respondent(answer.contact_id.as_ref(), answer.at);
        let mut text = format!(
            "{who} answered {score:.0} to the NPS survey {} days ago (on {}){description}",
            self.days_since(answer.at),
            answer.at.day()
        );
        let note = answer.note.trim();
        if !note.is_empty() {
            text.push_str(&format!(
                ", with the comment \"{}\"",
                note.trim_end_matches('.')
            ));
        }
        text.push('.');
        text
    }
}

/// What a detector found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Detection {
    /// The detector's kind, such as `usage_drop`.
    pub kind: &'static str,
    /// Risk or expansion.
    pub direction: Direction,
    /// How urgent.
    pub severity: Severity,
    /// The numbers and what they were compared with.
    pub evidence: serde_json::Value,
    /// Plain words, with the account's numbers.
    pub explanation: String,
    /// What to do about it.
    pub suggested_action: String,
}

/// A detector of one kind of behavioural change.
pub trait Detector: Send + Sync {
    /// The stable kind name (snake_case), stored with every signal it raises.
    fn kind(&self) -> &'static str;
    /// Risk or expansion.
    fn direction(&self) -> Direction;
    /// Days after a signal of this kind resolves before the same condition may open a new one.
    fn cooldown_days(&self) -> i32 {
        14
    }
    /// Whether the condition holds for the account as of `cx.as_of`, and why.
    fn detect(&self, cx: &Context) -> Option<Detection>;
}

/// Runs every detector on one account.
pub fn detect_all(detectors: &[Box<dyn Detector>], cx: &Context) -> Vec<Detection> {
    detectors.iter().filter_map(|d| d.detect(cx)).collect()
}

/// A month in words, such as `June 2025`, for the month `d` falls in.
pub fn month_label(d: Day) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let (y, m, _) = d.civil();
    format!("{} {y}", MONTHS[(m as usize).clamp(1, 12) - 1])
}

/// A span of months in words, such as `March to May 2025` or `November 2024 to January 2025`.
pub fn months_label(first: Day, last: Day) -> String {
    let (a, b) = (month_label(first), month_label(last));
    match (a.split_once(' '), b.split_once(' ')) {
        (Some((ma, ya)), Some((_, yb))) if ya == yb => format!("{ma} to {b}"),
        _ => format!("{a} to {b}"),
    }
}

/// The text with its first letter in upper case, to start a sentence.
pub fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Mean of a slice, `None` when empty.
pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

pub use bellwether_features::peers::median;

/// Median absolute deviation from the median, scaled to estimate a standard deviation (×1.4826).
pub fn mad(values: &[f64]) -> Option<f64> {
    let m = median(values)?;
    let dev: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
    median(&dev).map(|d| d * 1.4826)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robust_statistics() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        // One outlier barely moves the MAD.
        let m = mad(&[10.0, 11.0, 9.0, 10.0, 10.0, 100.0]).unwrap();
        assert!(m < 2.0, "{m}");
    }
}

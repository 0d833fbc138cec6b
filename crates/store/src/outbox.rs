//! The durable outbox: every alert and digest, written in the transaction that decided it, waits here until a
//! channel (email, Slack, a signed webhook) has delivered it. Delivery is at least once: a worker claims due
//! entries under a lease, delivers them with the entry's id as the idempotency key the peer sees
//! (`Message-ID`, `webhook-id`, the Slack message it updates), and records how it went; an entry whose worker
//! stopped is claimed again once the lease runs out.

use bellwether_core::{AccountId, Timestamp};

/// A message to deliver.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct OutboxItem {
    /// Its id: stable for the decision it carries (`alert:<signal>:opened`, `digest:<owner>:<week>`), so a
    /// decision made twice is queued once, and the idempotency key of every delivery attempt.
    pub id: String,
    /// The channel that delivers it (`email`, `slack`, `webhook`).
    pub channel: String,
    /// Where, in the channel's terms (an address, a Slack channel or user id, a webhook's name).
    pub destination: String,
    /// The account it is about, if one.
    pub account_id: Option<AccountId>,
    /// The person it is routed to (their email, lower case), if it goes to one person rather than a list or a
    /// channel: their quiet hours and daily cap apply, and what they hold back folds into their digest.
    pub recipient: Option<String>,
    /// What it is (`alert_opened`, `alert_closed`, `digest`).
    pub kind: String,
    /// The message as the channel renders it (JSON).
    pub payload: String,
    /// When it was decided.
    pub created_at: Timestamp,
}

/// How an entry stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Not delivered yet (due at its next attempt).
    Pending,
    /// The peer accepted it.
    Delivered,
    /// The peer refused it for good (a 4xx other than 408 and 429): kept with the reason, not retried.
    Parked,
    /// Held back for the recipient's next digest (inside their quiet hours, beyond their daily cap): not sent
    /// on its own.
    Folded,
}

impl OutboxState {
    /// The state's name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Delivered => "delivered",
            OutboxState::Parked => "parked",
            OutboxState::Folded => "folded",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<OutboxState> {
        match s {
            "pending" => Some(OutboxState::Pending),
            "delivered" => Some(OutboxState::Delivered),
            "parked" => Some(OutboxState::Parked),
            "folded" => Some(OutboxState::Folded),
            _ => None,
        }
    }
}

/// An entry with how its delivery stands.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct OutboxEntry {
    /// The message.
    pub item: OutboxItem,
    /// How it stands.
    pub state: OutboxState,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// When it is next due (pending entries).
    pub next_attempt_at: Timestamp,
    /// Why the last attempt failed, in words (empty when none did).
    pub last_error: String,
    /// When the peer accepted it, or it was folded into the digest.
    pub delivered_at: Option<Timestamp>,
    /// What the peer returned to refer to it later (the Slack message's `ts`, say).
    pub reference: Option<String>,
}

/// How one delivery attempt went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Accepted; with what the peer returned to refer to it, if anything.
    Delivered {
        /// The peer's reference.
        reference: Option<String>,
    },
    /// Failed for now (a 5xx, a timeout, 408, 429, the peer unreachable): due again at `at`.
    Retry {
        /// When to try again (after the peer's `Retry-After` when it sent one).
        at: Timestamp,
        /// Why, in words.
        error: String,
    },
    /// Refused for good: parked with the reason.
    Parked {
        /// Why, in words.
        error: String,
    },
    /// Not sent: held back for the recipient's next digest.
    Folded {
        /// Why, in words (`inside quiet hours 22:00–07:00`).
        reason: String,
    },
}

/// What counting an alert against a person's daily cap found ([`crate::Store::count_alert`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapCheck {
    /// The person already had this alert (by another channel, or an earlier attempt): it does not count again.
    AlreadyCounted,
    /// Counted now: the `n`th alert of their day.
    Counted(u32),
    /// Their cap is spent: `n` alerts counted since the start of their day.
    Full(u32),
}

/// What the outbox holds, by state.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboxCounts {
    /// Entries waiting to be delivered.
    pub pending: u64,
    /// Entries delivered.
    pub delivered: u64,
    /// Entries parked.
    pub parked: u64,
    /// Entries folded into digests.
    pub folded: u64,
    /// When the oldest pending entry was decided.
    pub oldest_pending: Option<Timestamp>,
}

/// Which outbox entries to list: every condition given must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboxFilter {
    /// In this state.
    pub state: Option<OutboxState>,
    /// Routed to this person (an email, any case).
    pub recipient: Option<String>,
    /// Of this kind (`alert_opened`, `alert_closed`, `digest`).
    pub kind: Option<String>,
    /// This entry.
    pub id: Option<String>,
    /// One of these entries.
    pub ids: Option<Vec<String>>,
    /// Delivered or folded at or after this.
    pub finished_since: Option<Timestamp>,
}

impl OutboxFilter {
    /// Entries in `state`.
    pub fn state(state: Option<OutboxState>) -> OutboxFilter {
        OutboxFilter {
            state,
            ..Default::default()
        }
    }
}

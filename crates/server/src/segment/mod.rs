//! Segment's HTTP Tracking API: messages (`track`, `identify`, `group`, `page`, `screen`, `alias`) are read and
//! checked one by one, then handed to one writer task that acknowledges them into the durable inbox; an
//! applier task then attributes them to accounts and stores their effects.
//!
//! - `group` links its user (`userId` and `anonymousId`) to the account `groupId` and records the group's
//!   traits as account attributes;
//! - `identify` records the user as a contact of their account, with traits `email`, `name`, `title`, `role`;
//! - `track`, `page` and `screen` count into the account's daily series like imported events (`event:<name>`,
//!   `users:<name>`, `active_users`, weekly and monthly active users; `page` counts as `page_viewed`, `screen`
//!   as `screen_viewed`), attributed through `context.groupId` or the user's link;
//! - `alias` links a new id to the account of the previous one.
//!
//! A message whose user has no account yet is kept as pending and handled when the user's `group` (or an
//! `alias` to a linked id) arrives. The writer commits one group of requests at a time; the requests that
//! arrive meanwhile form the next group and share its transaction and fsync (group commit). A message id
//! already acknowledged is a resend and is skipped. The applier, background work at a lower CPU priority
//! ([`crate::background`]), reads the inbox in order and records each group as applied in the transaction
//! that stores its effects, so nothing is stored twice.
//!
//! By job: `wire` reads and checks messages, `writer` acknowledges them by group commit, `apply` hands the
//! inbox over, attributes and rolls the messages up, and stores their effects.

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::queue::Queue;
use bellwether_core::series::{
    ACTIVE_USERS, EVENT_PREFIX, MONTHLY_ACTIVE_USERS, USERS_PREFIX, WEEKLY_ACTIVE_USERS,
};
use bellwether_core::text::{self, Bound};
use bellwether_core::time::{EventTimeWindow, TimeReading};
use bellwether_core::{AccountId, Code, Day, Timestamp};
use bellwether_ingest::kind::{self, Kind};
use bellwether_ingest::records::records_batch;
use bellwether_store::{
    DistinctUsers, InboxEntry, InboxMessage, LiveBatch, LiveStore, PendingMessage, SeriesDelta,
};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};

mod apply;
mod wire;
mod writer;

use apply::*;
pub use apply::{ApplierLease, APPLIER_JOB};
pub use wire::*;
pub use writer::*;

#[cfg(test)]
mod tests {
    use super::*;

    /// A message read as a request at time 0 reads it (also for the applier's tests).
    pub(super) fn parse(raw: &str) -> Result<Message, Rejected> {
        parse_message(
            3,
            raw,
            None,
            Some(3),
            Timestamp(0),
            None,
            &EventTimeWindow::ANY,
        )
    }

    #[test]
    fn messages_are_checked_field_by_field() {
        let m = parse(r#"{"type":"track","userId":"u1","event":"Report Exported","timestamp":"2026-01-05T10:00:00Z","messageId":"m1"}"#).unwrap();
        assert_eq!(m.ty, MsgType::Track);
        assert_eq!(m.event.as_deref(), Some("Report Exported"));
        assert_eq!(m.at.day(), Day::ymd(2026, 1, 5));
        let e = parse(r#"{"type":"track","userId":"u1","event":"x","timestamp":"yesterday"}"#)
            .unwrap_err();
        assert_eq!(e.code, Code::InvalidField);
        assert_eq!(e.path.as_deref(), Some("batch[3].timestamp"));
        let e = parse(r#"{"type":"bogus","userId":"u1"}"#).unwrap_err();
        assert_eq!(e.path.as_deref(), Some("batch[3].type"));
        let e = parse(r#"{"type":"track","event":"x"}"#).unwrap_err();
        assert_eq!(e.path.as_deref(), Some("batch[3].userId"));
        let e =
            parse(r#"{"type":"group","userId":"u1","groupId":"acme","traits":{"seats":"many"}}"#)
                .unwrap_err();
        assert_eq!(e.path.as_deref(), Some("batch[3].traits.seats"));
        let big = format!(
            r#"{{"type":"track","userId":"u","event":"x","properties":{{"p":"{}"}}}}"#,
            "a".repeat(40_000)
        );
        assert_eq!(parse(&big).unwrap_err().code, Code::MessageTooLarge);
    }

    #[test]
    fn clock_skew_is_corrected_by_sent_at_as_segment_does() {
        let now = Timestamp::parse("2026-03-10T12:00:00Z").unwrap();
        let at = |raw: &str, batch: Option<(&str, Timestamp)>| {
            parse_message(
                0,
                raw,
                None,
                Some(0),
                now,
                batch,
                &EventTimeWindow::default(),
            )
            .map(|m| (m.at, m.raw))
            .unwrap()
        };
        // The device's clock is 2 hours behind: it sent at 10:00 by its clock, the server got it at 12:00.
        let own = r#"{"type":"track","userId":"u","event":"e","timestamp":"2026-03-10T09:30:00Z","sentAt":"2026-03-10T10:00:00Z"}"#;
        assert_eq!(
            at(own, None).0,
            Timestamp::parse("2026-03-10T11:30:00Z").unwrap()
        );
        // The batch's sentAt serves messages without their own, and is written into the kept message, so that
        // reading it again (after a restart, or when its user is linked) dates it the same.
        let bare =
            r#"{"type":"track","userId":"u","event":"e","timestamp":"2026-03-09T23:30:00Z"}"#;
        let sent = "2026-03-10T10:00:00Z";
        let (t, raw) = at(bare, Some((sent, Timestamp::parse(sent).unwrap())));
        assert_eq!(t, Timestamp::parse("2026-03-10T01:30:00Z").unwrap());
        assert!(
            raw.starts_with(r#"{"sentAt":"2026-03-10T10:00:00Z","type""#),
            "{raw}"
        );
        assert_eq!(at(&raw, None).0, t);
        // Relayed by Segment (receivedAt present): corrected upstream already.
        let relayed = r#"{"type":"track","userId":"u","event":"e","timestamp":"2026-03-10T09:30:00Z","sentAt":"2026-03-10T10:00:00Z","receivedAt":"2026-03-10T12:00:01Z"}"#;
        assert_eq!(
            at(relayed, None).0,
            Timestamp::parse("2026-03-10T09:30:00Z").unwrap()
        );
        // Without its own timestamp a message happens when it is received.
        let untimed =
            r#"{"type":"track","userId":"u","event":"e","sentAt":"2026-03-10T10:00:00Z"}"#;
        assert_eq!(at(untimed, None).0, now);
        // A bad sentAt is the message's fault, named by its path.
        let bad = r#"{"type":"track","userId":"u","event":"e","timestamp":"2026-03-10T09:30:00Z","sentAt":"yesterday"}"#;
        let e = parse_message(
            0,
            bad,
            None,
            Some(4),
            now,
            None,
            &EventTimeWindow::default(),
        )
        .unwrap_err();
        assert_eq!(e.path.as_deref(), Some("batch[4].sentAt"));
        // A sentAt whose correction leaves the range of time is refused, not wrapped around.
        let w = EventTimeWindow::default();
        let huge = r#"{"type":"track","userId":"u","event":"e","timestamp":"9223372036854775807","sentAt":"2000-01-01T00:00:00Z"}"#;
        let e = parse_message(0, huge, None, Some(1), now, None, &w).unwrap_err();
        assert_eq!(e.code, Code::InvalidField);
        assert_eq!(e.path.as_deref(), Some("batch[1].sentAt"));
        // A plausible correction that still lands in year 9999 is out of the window, at the timestamp.
        let far = r#"{"type":"track","userId":"u","event":"e","timestamp":"9999-01-01T00:00:00Z","sentAt":"2026-03-10T11:00:00Z"}"#;
        let e = parse_message(0, far, None, Some(2), now, None, &w).unwrap_err();
        assert_eq!(e.code, Code::EventTimeOutOfRange);
        assert_eq!(e.path.as_deref(), Some("batch[2].timestamp"));
        assert!(e.message.contains("clock skew"), "{}", e.message);
    }

    #[test]
    fn a_write_key_is_left_out_of_the_kept_message() {
        let bare = r#"{"type":"track","userId":"u","event":"e","properties":{"writeKey":"inner"}}"#;
        let keyed = r#"{"writeKey":"secret", "type":"track","userId":"u","event":"e","properties":{"writeKey":"inner"}}"#;
        let (a, b) = (parse(bare).unwrap(), parse(keyed).unwrap());
        assert_eq!(
            b.raw, bare,
            "top-level members kept in order, nested ones untouched"
        );
        assert_eq!(
            a.id, b.id,
            "a message without messageId is identified without its key"
        );
        // Read again from the inbox, the kept message is the same message.
        assert_eq!(parse(&b.raw).unwrap().id, b.id);
        let e = parse(r#"{"type":"track","userId":"u","event":"e","writeKey":"a","writeKey":"b"}"#)
            .unwrap_err();
        assert_eq!(e.code, Code::InvalidMessage);
    }
}

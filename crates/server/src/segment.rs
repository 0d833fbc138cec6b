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

/// The source name under which Segment message ids and user links are stored.
pub const SOURCE: &str = "segment";
/// Segment's limit for one message.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;
/// Segment's limit for one batch request (about 500 KB), after decompression.
pub const MAX_BATCH_BYTES: usize = 512 * 1024;
/// Messages the writer acknowledges in one transaction at most.
const MAX_GROUP_MESSAGES: usize = 20_000;
/// Messages the writer hands to the applier in memory at most; beyond, the applier reads the inbox file.
const MAX_HELD_MESSAGES: usize = 2 * MAX_APPLY_MESSAGES;
/// Messages the applier applies in one transaction at most. A pass costs about the same whatever its size
/// (it rewrites the touched accounts' series), so under a burst the applier takes what has piled up.
const MAX_APPLY_MESSAGES: usize = 100_000;
/// Distinct-user facts remembered as stored.
const MAX_SEEN_DISTINCT: usize = 4_000_000;

/// The identity of a distinct-user fact (account, series, day, user), to remember it as stored.
fn distinct_hash(account: &str, metric: &str, day: Day, user_hash: i64) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(account.as_bytes());
    h.update(&[0]);
    h.update(metric.as_bytes());
    h.update(&day.0.to_le_bytes());
    h.update(&user_hash.to_le_bytes());
    h.digest()
}

/// A message type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsgType {
    /// An action.
    Track,
    /// Who the user is.
    Identify,
    /// The account the user belongs to.
    Group,
    /// A web page view.
    Page,
    /// A mobile screen view.
    Screen,
    /// A new id for a known user.
    Alias,
}

impl MsgType {
    /// Reads a type name.
    pub fn parse(s: &str) -> Option<MsgType> {
        Some(match s {
            "track" => MsgType::Track,
            "identify" => MsgType::Identify,
            "group" => MsgType::Group,
            "page" => MsgType::Page,
            "screen" => MsgType::Screen,
            "alias" => MsgType::Alias,
            _ => return None,
        })
    }
}

/// A checked message.
#[derive(Clone, Debug)]
pub struct Message {
    /// Its position in the request.
    pub index: usize,
    /// Its id (`messageId`, or a hash of the message when it has none).
    pub id: String,
    /// Its type.
    pub ty: MsgType,
    /// `userId`.
    pub user_id: Option<String>,
    /// `anonymousId`.
    pub anonymous_id: Option<String>,
    /// When it happened.
    pub at: Timestamp,
    /// The account it names itself (`groupId` of a group, `context.groupId` of others).
    pub group: Option<AccountId>,
    /// The event name of a track, page or screen.
    pub event: Option<String>,
    /// `previousId` of an alias.
    pub previous_id: Option<String>,
    /// Account or contact fields from traits.
    pub record: Vec<(String, String)>,
    /// The message as received.
    pub raw: String,
}

impl Message {
    fn users(&self) -> impl Iterator<Item = &String> {
        self.user_id.iter().chain(self.anonymous_id.iter())
    }
}

/// A message left out of a batch, with why.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Rejected {
    /// Its position in the batch.
    pub index: usize,
    /// Its `messageId`, when it had one.
    #[serde(rename = "messageId", skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The error code.
    pub code: Code,
    /// What is wrong.
    pub message: String,
    /// The field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// What kind of JSON value `raw` starts as, for messages that are not objects.
pub(crate) fn json_kind(raw: &str) -> &'static str {
    match raw.trim_start().as_bytes().first() {
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        Some(b'-' | b'0'..=b'9') => "a number",
        _ => "not JSON",
    }
}

/// `raw` (a JSON object) with `"sentAt": sent` as its first member.
fn with_sent_at(raw: &str, sent: &str) -> String {
    let body = raw.trim_start().strip_prefix('{').unwrap_or(raw);
    let sent = serde_json::to_string(sent).unwrap_or_else(|_| "\"\"".into());
    let sep = if body.trim_start().starts_with('}') {
        ""
    } else {
        ","
    };
    format!("{{\"sentAt\":{sent}{sep}{body}")
}

impl From<Rejected> for ApiError {
    /// A single-message request's only message was rejected: the whole request fails with its error.
    fn from(r: Rejected) -> ApiError {
        let e = ApiError::new(r.code, r.message);
        match r.path {
            Some(p) => e.at(p),
            None => e,
        }
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A top-level field of a message as read: strings are borrowed from the request when they hold no escapes,
/// and objects or arrays are skipped without being built.
#[derive(Debug)]
enum Field<'a> {
    Str(Cow<'a, str>),
    Scalar(String),
    Null,
    Composite,
}

impl Field<'_> {
    /// The field as an identifier or name: trimmed text, numbers and booleans as written; none when blank.
    fn text(&self) -> Option<String> {
        match self {
            Field::Str(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Field::Scalar(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl std::fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Field::Str(s) => write!(f, "{s:?}"),
            Field::Scalar(s) => f.write_str(s),
            Field::Null => f.write_str("null"),
            Field::Composite => f.write_str("an object or array"),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Field<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Field<'de>, E> {
                Ok(Field::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Field<'de>, E> {
                Ok(Field::Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Field<'de>, E> {
                Ok(Field::Str(Cow::Owned(v)))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Field<'de>, E> {
                Ok(Field::Scalar(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Field<'de>, E> {
                Ok(Field::Scalar(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Field<'de>, E> {
                Ok(Field::Scalar(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Field<'de>, E> {
                Ok(Field::Scalar(
                    serde_json::Number::from_f64(v)
                        .map_or_else(|| v.to_string(), |n| n.to_string()),
                ))
            }
            fn visit_unit<E>(self) -> Result<Field<'de>, E> {
                Ok(Field::Null)
            }
            fn visit_none<E>(self) -> Result<Field<'de>, E> {
                Ok(Field::Null)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Field<'de>, A::Error> {
                while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Field::Composite)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Field<'de>, A::Error> {
                while a
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Field::Composite)
            }
        }
        d.deserialize_any(V)
    }
}

/// `context`: only the account it names and its traits are read; any other shape is ignored.
#[derive(Default)]
struct Context<'a> {
    group_id: Option<Field<'a>>,
    traits: Option<&'a RawValue>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Context<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Context<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Context<'de>, A::Error> {
                let mut c = Context::default();
                while let Some(k) = a.next_key::<Field<'de>>()? {
                    let key = match &k {
                        Field::Str(s) => &**s,
                        _ => "",
                    };
                    match key {
                        "groupId" => c.group_id = Some(a.next_value()?),
                        "traits" => c.traits = Some(a.next_value()?),
                        _ => {
                            a.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(c)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Context<'de>, A::Error> {
                while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Context::default())
            }
            fn visit_str<E>(self, _: &str) -> Result<Context<'de>, E> {
                Ok(Context::default())
            }
            fn visit_bool<E>(self, _: bool) -> Result<Context<'de>, E> {
                Ok(Context::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<Context<'de>, E> {
                Ok(Context::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<Context<'de>, E> {
                Ok(Context::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<Context<'de>, E> {
                Ok(Context::default())
            }
            fn visit_unit<E>(self) -> Result<Context<'de>, E> {
                Ok(Context::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// The fields of a message that Bellwether reads; the rest (`properties`, `integrations` …) is skipped while
/// parsing and kept in the stored message as received.
#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(rename = "type", borrow)]
    ty: Option<Field<'a>>,
    #[serde(rename = "messageId", borrow)]
    message_id: Option<Field<'a>>,
    #[serde(rename = "userId", borrow)]
    user_id: Option<Field<'a>>,
    #[serde(rename = "anonymousId", borrow)]
    anonymous_id: Option<Field<'a>>,
    #[serde(borrow)]
    timestamp: Option<Field<'a>>,
    #[serde(rename = "originalTimestamp", borrow)]
    original_timestamp: Option<Field<'a>>,
    #[serde(rename = "sentAt", borrow)]
    sent_at: Option<Field<'a>>,
    #[serde(rename = "receivedAt", borrow)]
    received_at: Option<Field<'a>>,
    #[serde(borrow)]
    event: Option<Field<'a>>,
    #[serde(rename = "groupId", borrow)]
    group_id: Option<Field<'a>>,
    #[serde(rename = "previousId", borrow)]
    previous_id: Option<Field<'a>>,
    #[serde(borrow)]
    context: Option<Context<'a>>,
    #[serde(borrow)]
    traits: Option<&'a RawValue>,
    /// A write key sent inside the message: read only to be left out of the kept message.
    #[serde(rename = "writeKey")]
    write_key: Option<serde::de::IgnoredAny>,
}

/// The members of a JSON object in order, values as written.
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Members<'de>, A::Error> {
                let mut m = Vec::new();
                while let Some(e) = a.next_entry::<String, &'de RawValue>()? {
                    m.push(e);
                }
                Ok(Members(m))
            }
        }
        d.deserialize_map(V)
    }
}

/// `raw` (a JSON object) without its top-level `writeKey` members, the others kept in order as written: an
/// API key is never stored with the message.
fn without_write_key(raw: &str) -> Result<String, serde_json::Error> {
    let Members(members) = serde_json::from_str(raw)?;
    let mut out = String::with_capacity(raw.len());
    out.push('{');
    for (k, v) in members
        .iter()
        .filter(|(k, _)| k != crate::auth::WRITE_KEY_FIELD)
    {
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(k)?);
        out.push(':');
        out.push_str(v.get());
    }
    out.push('}');
    Ok(out)
}

/// Checks one message. `batch_index` is its position in a `/v1/batch` request, which prefixes the paths of
/// its errors (`batch[3].timestamp`); none for a single message. `now` is when it was received and
/// `batch_sent_at` the `sentAt` of its batch, as sent and as read, if the batch has one.
///
/// Clock skew is corrected as Segment does: a message with its own `timestamp` and a `sentAt` (its own or
/// its batch's) happened at `timestamp + (now − sentAt)`, so a device whose clock is off dates its events by
/// the server's clock. A message that already carries `receivedAt` (relayed by Segment's webhook
/// destination) was corrected upstream and keeps its `timestamp`. A batch's `sentAt` is written into the
/// kept message, so that reading it again later dates it the same. A correction that leaves the range of
/// time is an `invalid_field` at `sentAt`; a time outside `window` (as of `now`), corrected or not, is
/// `event_time_out_of_range` at the field it came from. Messages read back after they were acknowledged are
/// parsed with [`EventTimeWindow::ANY`]: they were checked on arrival. A `writeKey` member is left out of the
/// kept message (and of the hash that identifies a message without `messageId`).
pub fn parse_message(
    index: usize,
    raw: &str,
    implied: Option<MsgType>,
    batch_index: Option<usize>,
    now: Timestamp,
    batch_sent_at: Option<(&str, Timestamp)>,
    window: &EventTimeWindow,
) -> Result<Message, Rejected> {
    let p = |f: &str| match batch_index {
        Some(i) => format!("batch[{i}].{f}"),
        None => f.to_string(),
    };
    let reject = |code: Code, message: String, path: Option<String>, id: Option<String>| Rejected {
        index,
        message_id: id,
        code,
        message,
        path,
    };
    if raw.len() > MAX_MESSAGE_BYTES {
        return Err(reject(
            Code::MessageTooLarge,
            format!("the message is {} bytes; Segment's limit is 32 KB per message: drop large properties", raw.len()),
            Some(batch_index.map_or_else(|| "$".to_string(), |i| format!("batch[{i}]"))),
            None,
        ));
    }
    let whole = || batch_index.map_or_else(|| "$".to_string(), |i| format!("batch[{i}]"));
    if !raw.trim_start().starts_with('{') {
        return Err(reject(
            Code::InvalidMessage,
            format!(
                "the message is not a JSON object but {}; send one object per message",
                json_kind(raw)
            ),
            Some(whole()),
            None,
        ));
    }
    let w: Wire = serde_json::from_str(raw).map_err(|e| {
        // Parsed again only to name the field at fault.
        let at = serde_path_to_error::deserialize::<_, Wire>(
            &mut serde_json::Deserializer::from_str(raw),
        )
        .err()
        .map(|e| e.path().to_string())
        .filter(|p| !p.is_empty() && p != ".");
        // A field of the wrong type is that field's fault; JSON that does not parse is the message's.
        let code = if at.is_some() {
            Code::InvalidField
        } else {
            Code::InvalidMessage
        };
        reject(
            code,
            format!("the message is not valid: {e}"),
            Some(at.map_or_else(whole, |f| p(&f))),
            None,
        )
    })?;
    let stripped = match w.write_key {
        Some(_) => Some(without_write_key(raw).map_err(|e| {
            reject(
                Code::InvalidMessage,
                format!("the message is not valid: {e}"),
                None,
                None,
            )
        })?),
        None => None,
    };
    let raw = stripped.as_deref().unwrap_or(raw);
    let id_given = w.message_id.as_ref().and_then(Field::text);
    // Ids and names are bounded as in imports: too long, or holding a control character, is refused.
    let bounded = |field: &str, v: Option<String>, bound: Bound| match v {
        Some(v) => match text::check(bound, &v) {
            Ok(()) => Ok(Some(v)),
            Err(e) => Err(reject(
                Code::InvalidField,
                format!("{field} {e}"),
                Some(p(field)),
                None,
            )),
        },
        None => Ok(None),
    };
    let id_given = bounded("messageId", id_given, Bound::Id)?;
    let bounded = |field: &str, v: Option<String>, bound: Bound| {
        bounded(field, v, bound).map_err(|r| Rejected {
            message_id: id_given.clone(),
            ..r
        })
    };
    // A named field is missing or holds a value of the wrong form.
    let bad = |field: &str, message: String| {
        reject(
            Code::InvalidField,
            message,
            Some(p(field)),
            id_given.clone(),
        )
    };
    let ty = match &w.ty {
        Some(t) => {
            let name = match t {
                Field::Str(s) => &**s,
                _ => "",
            };
            match MsgType::parse(name) {
                Some(ty) if implied.is_none_or(|i| i == ty) => ty,
                Some(_) => return Err(bad("type", format!("type '{name}' does not belong on this endpoint; send it to /v1/{name} or /v1/batch"))),
                None => return Err(bad("type", format!("type '{t}' is not one of track, identify, group, page, screen, alias"))),
            }
        }
        None => implied.ok_or_else(|| {
            bad(
                "type",
                "the message has no type; give one of track, identify, group, page, screen, alias"
                    .into(),
            )
        })?,
    };
    let user_id = bounded(
        "userId",
        w.user_id.as_ref().and_then(Field::text),
        Bound::Id,
    )?;
    let anonymous_id = bounded(
        "anonymousId",
        w.anonymous_id.as_ref().and_then(Field::text),
        Bound::Id,
    )?;
    if user_id.is_none() && anonymous_id.is_none() {
        return Err(bad(
            "userId",
            "the message has neither userId nor anonymousId; give at least one".into(),
        ));
    }
    let (at_field, at) = match [
        ("timestamp", &w.timestamp),
        ("originalTimestamp", &w.original_timestamp),
    ]
    .into_iter()
    .find_map(|(f, v)| v.as_ref().map(|v| (f, v)))
    {
        Some((f, Field::Str(s))) => (f, Timestamp::parse(s).map_err(|e| bad(f, e.to_string()))?),
        Some((f, other)) => {
            return Err(bad(
                f,
                format!("{other} is not a timestamp; use ISO 8601, such as 2026-01-31T12:00:00Z"),
            ))
        }
        None => ("timestamp", now),
    };
    let own_sent_at = match &w.sent_at {
        Some(Field::Str(s)) => Some(&**s),
        _ => None,
    };
    let explicit = w.timestamp.is_some() || w.original_timestamp.is_some();
    let mut corrected = false;
    let at = if explicit && w.received_at.is_none() {
        let sent = match (own_sent_at, batch_sent_at) {
            (Some(s), _) => Some(Timestamp::parse(s).map_err(|e| bad("sentAt", e.to_string()))?),
            (None, b) => b.map(|(_, t)| t),
        };
        match sent {
            None => at,
            Some(sent) => {
                corrected = true;
                now.0
                    .checked_sub(sent.0)
                    .and_then(|skew| at.0.checked_add(skew))
                    .map(Timestamp)
                    .ok_or_else(|| {
                        reject(
                            Code::InvalidField,
                            format!(
                                "sentAt {sent} is not a plausible time of sending: correcting {at_field} by it \
                                 ({at_field} + (received − sentAt)) leaves the range of time; send the client's \
                                 clock time as sentAt, or leave it out"
                            ),
                            Some(if own_sent_at.is_some() { p("sentAt") } else { "sentAt".into() }),
                            id_given.clone(),
                        )
                    })?
            }
        }
    } else {
        at
    };
    let at = window.check(at, now).map_err(|e| {
        let how = if corrected {
            format!(
                "{at_field} corrected for clock skew by sentAt ({at_field} + (received − sentAt)): "
            )
        } else {
            format!("{at_field}: ")
        };
        reject(
            Code::EventTimeOutOfRange,
            format!("{how}{e}"),
            Some(p(at_field)),
            id_given.clone(),
        )
    })?;
    let id = id_given
        .clone()
        .unwrap_or_else(|| format!("h:{:032x}", xxhash_rust::xxh3::xxh3_128(raw.as_bytes())));
    let context = w.context.unwrap_or_default();
    let context_group = bounded(
        "context.groupId",
        context.group_id.as_ref().and_then(Field::text),
        Bound::Id,
    )?
    .map(AccountId);
    let traits = || -> Option<serde_json::Map<String, Value>> {
        let raw = w.traits.or(context.traits)?;
        match serde_json::from_str(raw.get()) {
            Ok(Value::Object(m)) => Some(m),
            _ => None,
        }
    };
    let mut m = Message {
        index,
        id,
        ty,
        user_id,
        anonymous_id,
        at,
        group: context_group,
        event: None,
        previous_id: None,
        record: Vec::new(),
        raw: match (own_sent_at, batch_sent_at) {
            (None, Some((sent, _))) => with_sent_at(raw, sent),
            _ => raw.to_string(),
        },
    };
    match ty {
        MsgType::Track => {
            m.event = Some(
                bounded("event", w.event.as_ref().and_then(Field::text), Bound::Name)?
                    .ok_or_else(|| bad("event", "a track message needs an event name".into()))?,
            );
        }
        MsgType::Page => m.event = Some("page_viewed".into()),
        MsgType::Screen => m.event = Some("screen_viewed".into()),
        MsgType::Alias => {
            m.previous_id = Some(
                bounded(
                    "previousId",
                    w.previous_id.as_ref().and_then(Field::text),
                    Bound::Id,
                )?
                .ok_or_else(|| bad("previousId", "an alias message needs previousId".into()))?,
            );
            if m.user_id.is_none() {
                return Err(bad("userId", "an alias message needs userId".into()));
            }
        }
        MsgType::Group => {
            let g = bounded(
                "groupId",
                w.group_id.as_ref().and_then(Field::text),
                Bound::Id,
            )?
            .ok_or_else(|| {
                bad(
                    "groupId",
                    "a group message needs groupId (the account id)".into(),
                )
            })?;
            m.group = Some(AccountId(g.clone()));
            let mut rec = vec![("account_id".to_string(), g)];
            if let Some(t) = traits() {
                for (k, v) in &t {
                    let Some(val) = text(v) else { continue };
                    // Traits that would stand for the record's own id or time are not attributes.
                    let col = kind::resolve(Kind::Accounts, std::slice::from_ref(k))
                        .iter()
                        .position(|c| c.is_some());
                    let name = col.map(|i| Kind::Accounts.columns()[i].name);
                    if matches!(name, Some("account_id" | "valid_from")) {
                        continue;
                    }
                    rec.push((k.clone(), val));
                }
            }
            rec.push(("valid_from".into(), at.to_string()));
            check_record(Kind::Accounts, &rec, &p("traits"), &bad)?;
            m.record = rec;
        }
        MsgType::Identify => {
            let contact = m
                .user_id
                .clone()
                .or_else(|| m.anonymous_id.clone())
                .unwrap_or_default();
            let mut rec = vec![("contact_id".to_string(), contact)];
            if let Some(t) = traits() {
                let get = |k: &str| t.get(k).and_then(text);
                if let Some(e) = get("email") {
                    rec.push(("email".into(), e));
                }
                let name = get("name").or_else(|| {
                    let parts: Vec<String> = ["firstName", "lastName"]
                        .iter()
                        .filter_map(|k| get(k))
                        .collect();
                    (!parts.is_empty()).then(|| parts.join(" "))
                });
                if let Some(n) = name {
                    rec.push(("name".into(), n));
                }
                if let Some(title) = get("title") {
                    rec.push(("title".into(), title));
                }
                if let Some(role) =
                    get("role").filter(|r| bellwether_core::model::Role::parse(r).is_ok())
                {
                    rec.push(("role".into(), role));
                }
            }
            rec.push(("valid_from".into(), at.to_string()));
            let mut probe = rec.clone();
            probe.push(("account_id".into(), "probe".into()));
            check_record(Kind::Contacts, &probe, &p("traits"), &bad)?;
            m.record = rec;
        }
    }
    Ok(m)
}

fn check_record(
    kind: Kind,
    rec: &[(String, String)],
    traits_path: &str,
    bad: &dyn Fn(&str, String) -> Rejected,
) -> Result<(), Rejected> {
    let (_, errs) = records_batch(
        kind,
        std::slice::from_ref(&rec.to_vec()),
        Timestamp(0),
        &EventTimeWindow::ANY,
        &TimeReading::DEFAULT,
    );
    match errs.into_iter().next() {
        None => Ok(()),
        Some(e) => {
            let field = e.field.unwrap_or("traits");
            let mut r = bad("traits", format!("trait {field}: {}", e.message));
            r.path = Some(format!("{traits_path}.{field}"));
            Err(r)
        }
    }
}

/// What became of one request's messages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Messages acknowledged: durable in the inbox, to be attributed (or kept pending) by the applier.
    pub accepted: usize,
    /// Messages received before (skipped).
    pub duplicates: usize,
}

struct Job {
    messages: Vec<Message>,
    at: Instant,
    reply: oneshot::Sender<Result<Outcome, ApiError>>,
}

/// The handle requests use to reach the writer.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
    accepted: Arc<watch::Sender<i64>>,
    applied: watch::Receiver<i64>,
}

impl Writer {
    /// Stores checked messages; returns once they are durable.
    pub async fn submit(&self, messages: Vec<Message>) -> Result<Outcome, ApiError> {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            messages,
            at: Instant::now(),
            reply,
        };
        let stopped = || {
            ApiError::new(
                Code::ServiceUnavailable,
                "the server is stopping; nothing was stored, retry later",
            )
        };
        self.tx.send(job).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// Waits until every message acknowledged before this call has been applied (or the applier stopped).
    pub async fn settle(&self) {
        let target = *self.accepted.borrow();
        let mut applied = self.applied.clone();
        let _ = applied.wait_for(|a| *a >= target).await;
    }
}

/// The code a message type is kept under in the inbox.
fn kind_code(ty: MsgType) -> u8 {
    match ty {
        MsgType::Track => 1,
        MsgType::Identify => 2,
        MsgType::Group => 3,
        MsgType::Page => 4,
        MsgType::Screen => 5,
        MsgType::Alias => 6,
    }
}

fn kind_type(code: u8) -> Option<MsgType> {
    Some(match code {
        1 => MsgType::Track,
        2 => MsgType::Identify,
        3 => MsgType::Group,
        4 => MsgType::Page,
        5 => MsgType::Screen,
        6 => MsgType::Alias,
        _ => return None,
    })
}

/// When each inbox group was acknowledged, for the lag metric.
type AcceptTimes = Arc<std::sync::Mutex<std::collections::VecDeque<(i64, Instant)>>>;

/// Starts the writer task, which acknowledges messages into the inbox, and the applier task, which attributes
/// and stores them; both end when every [`Writer`] is dropped, the applier once the inbox is empty.
pub async fn spawn<S: LiveStore>(
    store: Arc<S>,
    queue: Queue,
    metrics: Arc<Metrics>,
) -> bellwether_store::Result<(Writer, tokio::task::JoinHandle<()>)> {
    let links = store.links(SOURCE).await?;
    metrics.inbox_depth.store(
        store.inbox_count().await?,
        std::sync::atomic::Ordering::Relaxed,
    );
    let (tx, mut rx) = mpsc::channel::<Job>(256);
    let (wake, wakes) = mpsc::channel::<()>(1);
    let (accepted, _) = watch::channel(0i64);
    let accepted = Arc::new(accepted);
    let (applied_tx, applied) = watch::channel(0i64);
    let times: AcceptTimes = Default::default();
    let accounts = links.values().cloned().collect();
    let state = Applier {
        store: store.clone(),
        links,
        accounts,
        seen_distinct: FxHashSet::default(),
        queue,
        metrics: metrics.clone(),
    };
    let handoff = Arc::new(std::sync::Mutex::new(Handoff::new(MAX_HELD_MESSAGES)));
    let hand = handoff.clone();
    let applier = crate::background::spawn(
        "bellwether-apply",
        apply_loop(state, wakes, applied_tx, times.clone(), handoff),
    );
    let acc = accepted.clone();
    // The committer acknowledges one group at a time; the gatherer forms the next group while it works, so
    // requests that arrive during a commit share the next one (group commit without an idle writer).
    let (groups, mut to_commit) = mpsc::channel::<(Vec<Job>, OwnedSemaphorePermit)>(1);
    let committer = tokio::spawn(async move {
        while let Some((mut jobs, permit)) = to_commit.recv().await {
            match accept(&*store, &mut jobs, &metrics).await {
                Ok((outcomes, group)) => {
                    if let Some(group) = group {
                        let seq = group.seq;
                        let first = jobs.iter().map(|j| j.at).min().unwrap_or_else(Instant::now);
                        times.lock().expect("accept times").push_back((seq, first));
                        hand.lock().expect("handoff").push(group);
                        acc.send_replace(seq);
                        let _ = wake.try_send(());
                    }
                    for (j, o) in jobs.into_iter().zip(outcomes) {
                        let _ = j.reply.send(Ok(o));
                    }
                }
                Err(e) => {
                    let e: ApiError = e.into();
                    for j in jobs {
                        let _ = j.reply.send(Err(e.clone()));
                    }
                }
            }
            drop(permit);
        }
        // Dropping `wake` tells the applier to finish the inbox and stop.
    });
    let idle = Arc::new(Semaphore::new(1));
    let writer = tokio::spawn(async move {
        let mut open = true;
        while open {
            let Some(first) = rx.recv().await else { break };
            let mut n = first.messages.len();
            let mut jobs = vec![first];
            // Requests that arrive while the previous group is being committed share the next transaction and
            // its fsync (group commit); a request that finds the writer idle is committed at once.
            let permit = loop {
                tokio::select! {
                    biased;
                    j = rx.recv(), if open && n < MAX_GROUP_MESSAGES => match j {
                        Some(j) => {
                            n += j.messages.len();
                            jobs.push(j);
                        }
                        None => open = false,
                    },
                    p = idle.clone().acquire_owned() => break p.expect("the semaphore is never closed"),
                }
            };
            if groups.send((jobs, permit)).await.is_err() {
                break;
            }
        }
        drop(groups);
        let _ = committer.await;
    });
    let task = tokio::spawn(async move {
        let _ = writer.await;
        let _ = applier.await;
    });
    Ok((
        Writer {
            tx,
            accepted,
            applied,
        },
        task,
    ))
}

/// Acknowledges one group of requests: marks their message ids received and appends the new messages to the
/// inbox, in one durable transaction.
async fn accept<S: LiveStore>(
    store: &S,
    jobs: &mut [Job],
    metrics: &Metrics,
) -> bellwether_store::Result<(Vec<Outcome>, Option<Group>)> {
    let counts: Vec<usize> = jobs.iter().map(|j| j.messages.len()).collect();
    let parsed: Vec<Message> = jobs
        .iter_mut()
        .flat_map(|j| std::mem::take(&mut j.messages))
        .collect();
    let messages: Vec<InboxMessage> = parsed
        .iter()
        .map(|m| InboxMessage {
            id: m.id.clone(),
            kind: kind_code(m.ty),
            payload: m.raw.clone(),
        })
        .collect();
    let received_at = Timestamp::now();
    let (fresh, seq) = store.accept(SOURCE, received_at, messages).await?;
    let group = seq.map(|seq| Group {
        seq,
        received_at,
        messages: parsed
            .into_iter()
            .zip(&fresh)
            .filter(|(_, f)| **f)
            .map(|(m, _)| m)
            .collect(),
    });
    let mut fresh = fresh.into_iter();
    let outcomes: Vec<Outcome> = counts
        .iter()
        .map(|n| {
            let mut o = Outcome::default();
            for _ in 0..*n {
                if fresh.next().unwrap_or(false) {
                    o.accepted += 1;
                } else {
                    o.duplicates += 1;
                }
            }
            o
        })
        .collect();
    let total = |f: fn(&Outcome) -> usize| outcomes.iter().map(f).sum::<usize>() as u64;
    metrics.messages(SOURCE, "accepted", total(|o| o.accepted));
    metrics
        .inbox_depth
        .fetch_add(total(|o| o.accepted), std::sync::atomic::Ordering::Relaxed);
    metrics.messages(SOURCE, "duplicate", total(|o| o.duplicates));
    Ok((outcomes, group))
}

/// One acknowledged group of messages, parsed, as the applier takes it.
struct Group {
    seq: i64,
    received_at: Timestamp,
    messages: Vec<Message>,
}

/// Groups the writer acknowledged, handed to the applier in memory so that it neither reads nor parses them
/// again. The inbox file stays the record: after a restart, or when more than [`MAX_HELD_MESSAGES`] wait, the
/// applier reads from it instead.
struct Handoff {
    groups: std::collections::VecDeque<Group>,
    held: usize,
    /// [`MAX_HELD_MESSAGES`], but for tests.
    max_held: usize,
    /// A group was not kept because too many were held; the applier goes back to the inbox file.
    lost: bool,
}

impl Handoff {
    fn new(max_held: usize) -> Handoff {
        Handoff {
            groups: Default::default(),
            held: 0,
            max_held,
            lost: false,
        }
    }

    fn push(&mut self, g: Group) {
        if self.lost || self.held + g.messages.len() > self.max_held {
            self.lost = true;
            self.groups.clear();
            self.held = 0;
        } else {
            self.held += g.messages.len();
            self.groups.push_back(g);
        }
    }

    /// Up to [`MAX_APPLY_MESSAGES`] messages' worth of the groups after `last` (at least one group), when
    /// they follow it without a gap; `None` when the applier must read the inbox file. `synced` says the
    /// file held nothing unapplied when the applier last looked, so every later group was pushed here.
    fn take(&mut self, last: Option<i64>, synced: &mut bool) -> Option<Vec<Group>> {
        if self.lost {
            self.lost = false;
            *synced = false;
            return None;
        }
        while let (Some(g), Some(l)) = (self.groups.front(), last) {
            if g.seq > l {
                break;
            }
            self.held -= g.messages.len();
            self.groups.pop_front();
        }
        if !*synced {
            return None;
        }
        let front = self.groups.front()?.seq;
        if last.is_some_and(|l| front != l + 1) {
            *synced = false;
            return None;
        }
        let mut out = Vec::new();
        let mut n = 0;
        while let Some(g) = self.groups.front() {
            if !out.is_empty() && n + g.messages.len() > MAX_APPLY_MESSAGES {
                break;
            }
            n += g.messages.len();
            self.held -= g.messages.len();
            out.extend(self.groups.pop_front());
        }
        Some(out)
    }
}

/// Applies acknowledged groups in order, a bounded number of messages per transaction, whenever the writer
/// wakes it: from memory when the writer handed them over, else from the inbox file. After a failure it waits a
/// second and tries again, so nothing acknowledged is skipped.
async fn apply_loop<S: LiveStore>(
    mut state: Applier<S>,
    mut wakes: mpsc::Receiver<()>,
    applied: watch::Sender<i64>,
    times: AcceptTimes,
    handoff: Arc<std::sync::Mutex<Handoff>>,
) {
    let mut last: Option<i64> = None;
    let mut synced = false;
    loop {
        loop {
            let taken = handoff.lock().expect("handoff").take(last, &mut synced);
            let groups = match taken {
                Some(g) => g,
                None if synced => break,
                None => match state.store.inbox(SOURCE, MAX_APPLY_MESSAGES).await {
                    Ok(e) if e.is_empty() => {
                        synced = true;
                        continue;
                    }
                    Ok(e) => e.iter().map(parse_entry).collect(),
                    Err(e) => {
                        tracing::error!(error = %e, "reading the tracking inbox failed; retrying in 1 s");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        continue;
                    }
                },
            };
            let Some(seq) = groups.last().map(|g| g.seq) else {
                break;
            };
            let first_at = {
                let mut t = times.lock().expect("accept times");
                let mut first = None;
                while t.front().is_some_and(|(s, _)| *s <= seq) {
                    let (_, at) = t.pop_front().expect("front");
                    first.get_or_insert(at);
                }
                first.unwrap_or_else(Instant::now)
            };
            let mut done = false;
            while !done {
                match state.apply(&groups, first_at).await {
                    Ok(()) => done = true,
                    Err(e) => {
                        tracing::error!(error = %e, seq, "applying tracking messages failed; retrying in 1 s");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
            last = Some(seq);
            let n: usize = groups.iter().map(|g| g.messages.len()).sum();
            // Wrapping: the writer may count a group in just after the applier has taken it out.
            state
                .metrics
                .inbox_depth
                .fetch_sub(n as u64, std::sync::atomic::Ordering::Relaxed);
            applied.send_replace(seq);
        }
        if wakes.recv().await.is_none() {
            // The writer stopped; whatever it acknowledged last is applied by the pass above or the next one.
            synced = false;
            if state.store.inbox_count().await.unwrap_or(0) == 0 {
                break;
            }
        }
    }
}

/// Parses a group read back from the inbox file; a message this version can no longer read is logged and
/// skipped (it was checked before it was acknowledged).
fn parse_entry(e: &InboxEntry) -> Group {
    let mut messages = Vec::with_capacity(e.messages.len());
    for (i, (code, raw)) in e.messages.iter().enumerate() {
        match parse_message(
            i,
            raw,
            kind_type(*code),
            None,
            e.received_at,
            None,
            &EventTimeWindow::ANY,
        ) {
            Ok(m) => messages.push(m),
            Err(r) => tracing::error!(
                seq = e.seq,
                index = i,
                message = %r.message,
                "an acknowledged message could not be read again and is skipped"
            ),
        }
    }
    Group {
        seq: e.seq,
        received_at: e.received_at,
        messages,
    }
}

struct Applier<S> {
    store: Arc<S>,
    links: FxHashMap<String, AccountId>,
    /// Accounts named by a group call so far.
    accounts: FxHashSet<AccountId>,
    /// Hashes of distinct-user facts already stored, so a user's later events that day skip the store's
    /// insert; cleared when it grows past [`MAX_SEEN_DISTINCT`].
    seen_distinct: FxHashSet<u64>,
    queue: Queue,
    metrics: Arc<Metrics>,
}

/// The distinct-user series of every event, by code: codes beyond any index into `Build::series`.
const PERIOD_SERIES: [(u32, &str); 3] = [
    (u32::MAX - 2, ACTIVE_USERS),
    (u32::MAX - 1, WEEKLY_ACTIVE_USERS),
    (u32::MAX, MONTHLY_ACTIVE_USERS),
];

/// The position of an account's distinct-user series (by code) in `b.distinct.series`, added when new.
fn distinct_series_index(b: &mut Build, account: &AccountId, code: u32) -> u32 {
    if let Some(i) = b.distinct_series.get(account).and_then(|m| m.get(&code)) {
        return *i;
    }
    let name = b.series_name(code).to_string();
    let i = b.distinct.series.len() as u32;
    b.distinct.series.push((account.clone(), name));
    b.distinct_series
        .entry(account.clone())
        .or_default()
        .insert(code, i);
    i
}

/// The last day of the week (Sunday) and of the month `day` falls in, as the import dates them.
fn period_ends(day: Day) -> [Day; 2] {
    let week_end = day.plus(6 - day.weekday() as i32);
    let (y, m, _) = day.civil();
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    [
        week_end,
        Day(bellwether_core::time::days_from_civil(ny, nm, 1) - 1),
    ]
}

#[derive(Default)]
struct Build {
    /// Event counts: account → (series, day) → count.
    counts: FxHashMap<AccountId, FxHashMap<(u32, Day), f64>>,
    /// Series names of `counts`, and each event name's `(event:…, users:…)` series as indices into it.
    series: Vec<String>,
    event_series: FxHashMap<String, (u32, u32)>,
    /// Distinct-user facts not known to be stored, and their hashes.
    distinct: DistinctUsers,
    distinct_seen: FxHashSet<u64>,
    /// Each account's distinct-user series in `distinct.series`: series code (an index into `series`, or one
    /// of [`PERIOD_SERIES`]) → position.
    distinct_series: FxHashMap<AccountId, FxHashMap<u32, u32>>,
    accounts: Vec<Vec<(String, String)>>,
    contacts: Vec<Vec<(String, String)>>,
    links: FxHashMap<String, AccountId>,
    pending_add: Vec<PendingMessage>,
    pending_remove: Vec<(String, String, String)>,
    new_accounts: FxHashSet<AccountId>,
}

impl Build {
    /// The name of a series by code: an index into `series`, or one of [`PERIOD_SERIES`].
    fn series_name(&self, code: u32) -> &str {
        match PERIOD_SERIES.iter().find(|p| p.0 == code) {
            Some(p) => p.1,
            None => &self.series[code as usize],
        }
    }
}

impl<S: LiveStore> Applier<S> {
    fn link(&self, b: &Build, user: &str) -> Option<AccountId> {
        self.link_ref(b, user).cloned()
    }

    fn link_ref<'b>(&'b self, b: &'b Build, user: &str) -> Option<&'b AccountId> {
        b.links.get(user).or_else(|| self.links.get(user))
    }

    /// Applies a group or alias; returns the users it newly linked.
    fn bind(&self, b: &mut Build, m: &Message) -> Vec<String> {
        let mut newly = Vec::new();
        let (account, users): (Option<AccountId>, Vec<String>) = match m.ty {
            MsgType::Group => (m.group.clone(), m.users().cloned().collect()),
            MsgType::Alias => {
                let prev = m.previous_id.clone().unwrap_or_default();
                let user = m.user_id.clone().unwrap_or_default();
                match (self.link(b, &prev), self.link(b, &user)) {
                    (Some(a), _) => (Some(a), vec![user]),
                    (None, Some(a)) => (Some(a), vec![prev]),
                    (None, None) => (None, Vec::new()),
                }
            }
            _ => (None, Vec::new()),
        };
        if let Some(a) = account {
            for u in users {
                if self.link(b, &u).as_ref() != Some(&a) {
                    b.links.insert(u.clone(), a.clone());
                    newly.push(u);
                }
            }
        }
        if let (MsgType::Group, Some(a)) = (m.ty, &m.group) {
            // A group without traits only makes the account exist; for a known account it says nothing new.
            let bare = m.record.len() <= 2;
            if !bare || (!self.accounts.contains(a) && !b.new_accounts.contains(a)) {
                b.accounts.push(m.record.clone());
            }
            b.new_accounts.insert(a.clone());
        }
        newly
    }

    /// Attributes a track, page, screen or identify; false when its user has no account yet.
    fn attribute(&self, b: &mut Build, m: &Message) -> bool {
        let account = match &m.group {
            Some(g) => g.clone(),
            None => match m.users().find_map(|u| self.link_ref(b, u)) {
                Some(a) => a.clone(),
                None => return false,
            },
        };
        match m.ty {
            MsgType::Identify => {
                let mut rec = m.record.clone();
                rec.push(("account_id".into(), account.0.clone()));
                b.contacts.push(rec);
            }
            _ => {
                let event = m.event.as_deref().unwrap_or_default();
                let (event_idx, users_idx) = match b.event_series.get(event) {
                    Some(i) => *i,
                    None => {
                        let i = b.series.len() as u32;
                        b.series.push(format!("{EVENT_PREFIX}{event}"));
                        b.series.push(format!("{USERS_PREFIX}{event}"));
                        b.event_series.insert(event.to_string(), (i, i + 1));
                        (i, i + 1)
                    }
                };
                let day = m.at.day();
                let user = m.users().next().map_or("", String::as_str);
                let user_hash = (xxhash_rust::xxh3::xxh3_64(user.as_bytes()) | 1) as i64;
                let [week, month] = period_ends(day);
                for (code, d) in [
                    (users_idx, day),
                    (PERIOD_SERIES[0].0, day),
                    (PERIOD_SERIES[1].0, week),
                    (PERIOD_SERIES[2].0, month),
                ] {
                    let h = distinct_hash(account.as_str(), b.series_name(code), d, user_hash);
                    if !self.seen_distinct.contains(&h) && b.distinct_seen.insert(h) {
                        let i = distinct_series_index(b, &account, code);
                        b.distinct.facts.push((i, d, user_hash));
                    }
                }
                *b.counts
                    .entry(account)
                    .or_default()
                    .entry((event_idx, day))
                    .or_default() += 1.0;
            }
        }
        true
    }

    /// Applies inbox groups in one transaction that also removes them from the inbox: links, account and
    /// contact records, event counts and exact distinct users; messages whose user has no account yet are
    /// kept as pending. `first_at` is when the oldest of them was acknowledged.
    async fn apply(&mut self, groups: &[Group], first_at: Instant) -> bellwether_store::Result<()> {
        let t0 = Instant::now();
        let kept: Vec<(Timestamp, &Message)> = groups
            .iter()
            .flat_map(|g| g.messages.iter().map(|m| (g.received_at, m)))
            .collect();
        let mut b = Build::default();
        // Links first, so events sent before their user's group in the same request are attributed.
        let mut newly: Vec<String> = Vec::new();
        for (_, m) in &kept {
            newly.extend(self.bind(&mut b, m));
        }
        // Messages kept earlier for users linked now, in rounds (a replayed alias may link further users).
        let mut replay: Vec<Message> = Vec::new();
        let mut asked: FxHashSet<String> = FxHashSet::default();
        let mut replayed: FxHashSet<String> = FxHashSet::default();
        for _ in 0..4 {
            newly.retain(|u| asked.insert(u.clone()));
            if newly.is_empty() {
                break;
            }
            let waiting = self.store.pending(SOURCE, &newly).await?;
            newly.clear();
            for p in waiting {
                if !replayed.insert(p.id.clone()) {
                    b.pending_remove
                        .push((p.source.clone(), p.user_key.clone(), p.id.clone()));
                    continue;
                }
                let Ok(m) = parse_message(
                    0,
                    &p.payload,
                    kind_type(p.kind),
                    None,
                    p.received_at,
                    None,
                    &EventTimeWindow::ANY,
                ) else {
                    continue;
                };
                if matches!(m.ty, MsgType::Alias | MsgType::Group) {
                    newly.extend(self.bind(&mut b, &m));
                    b.pending_remove
                        .push((p.source.clone(), p.user_key.clone(), p.id.clone()));
                } else if m.group.is_some() || m.users().any(|u| self.link(&b, u).is_some()) {
                    b.pending_remove
                        .push((p.source.clone(), p.user_key.clone(), p.id.clone()));
                    replay.push(m);
                }
            }
        }
        let mut pending = 0u64;
        for (now, m) in &kept {
            let now = *now;
            let attributed = match m.ty {
                MsgType::Group => true,
                MsgType::Alias => {
                    let linked = self
                        .link(&b, m.previous_id.as_deref().unwrap_or(""))
                        .is_some();
                    if !linked {
                        for u in [m.previous_id.clone(), m.user_id.clone()]
                            .into_iter()
                            .flatten()
                        {
                            b.pending_add.push(PendingMessage {
                                source: SOURCE.into(),
                                user_key: u,
                                id: m.id.clone(),
                                received_at: now,
                                payload: m.raw.clone(),
                                kind: kind_code(m.ty),
                            });
                        }
                    }
                    true
                }
                _ => self.attribute(&mut b, m),
            };
            if !attributed {
                let user = m
                    .user_id
                    .clone()
                    .or_else(|| m.anonymous_id.clone())
                    .unwrap_or_default();
                b.pending_add.push(PendingMessage {
                    source: SOURCE.into(),
                    user_key: user.clone(),
                    id: m.id.clone(),
                    received_at: now,
                    payload: m.raw.clone(),
                    kind: kind_code(m.ty),
                });
                // An anonymous message waits under both ids, so either's link releases it.
                if let (Some(_), Some(anon)) = (&m.user_id, &m.anonymous_id) {
                    b.pending_add.push(PendingMessage {
                        source: SOURCE.into(),
                        user_key: anon.clone(),
                        id: m.id.clone(),
                        received_at: now,
                        payload: m.raw.clone(),
                        kind: kind_code(m.ty),
                    });
                }
                pending += 1;
            }
        }
        for m in &replay {
            self.attribute(&mut b, m);
        }
        // A message pending under two ids and released by one is released under both.
        let released: FxHashSet<String> = b.pending_remove.iter().map(|r| r.2.clone()).collect();
        let mut also: Vec<(String, String, String)> = Vec::new();
        for m in &replay {
            for u in m.users() {
                also.push((SOURCE.into(), u.clone(), m.id.clone()));
            }
        }
        b.pending_remove
            .extend(also.into_iter().filter(|r| released.contains(&r.2)));
        b.pending_remove.sort();
        b.pending_remove.dedup();

        let now = groups.last().map_or_else(Timestamp::now, |g| g.received_at);
        // Acknowledged records were checked on arrival.
        let any = &EventTimeWindow::ANY;
        let utc = &TimeReading::DEFAULT;
        let (mut batch, _) = records_batch(Kind::Accounts, &b.accounts, now, any, utc);
        let (contacts, _) = records_batch(Kind::Contacts, &b.contacts, now, any, utc);
        batch.contacts = contacts.contacts;
        batch.contact_attrs = contacts.contact_attrs;
        for (account, points) in std::mem::take(&mut b.counts) {
            let mut delta = SeriesDelta::new();
            for ((metric, day), n) in points {
                delta
                    .entry(b.series[metric as usize].clone())
                    .or_default()
                    .push((day, n));
            }
            for pts in delta.values_mut() {
                pts.sort_unstable_by_key(|p| p.0);
            }
            batch.series.insert(account, delta);
        }
        batch.source = "/v1/batch".into();
        batch.kind = SOURCE.into();
        batch.received_at = Some(now);
        batch.records = kept.len() as u64;
        let mut touched = batch.accounts();
        touched.extend(b.distinct_series.keys().cloned());
        touched.sort();
        touched.dedup();
        let live = LiveBatch {
            batch,
            messages: Vec::new(),
            links: b
                .links
                .iter()
                .map(|(u, a)| (SOURCE.to_string(), u.clone(), a.clone()))
                .collect(),
            pending_add: std::mem::take(&mut b.pending_add),
            pending_remove: std::mem::take(&mut b.pending_remove),
            distinct: std::mem::take(&mut b.distinct),
            crm_seen: None,
            applied: groups.last().map(|g| (SOURCE.to_string(), g.seq)),
        };
        let t1 = Instant::now();
        self.store.write_live(live).await?;
        tracing::debug!(
            messages = kept.len(),
            build_ms = (t1 - t0).as_secs_f64() * 1e3,
            write_ms = t1.elapsed().as_secs_f64() * 1e3,
            "applied tracking messages"
        );
        if self.seen_distinct.len() + b.distinct_seen.len() > MAX_SEEN_DISTINCT {
            self.seen_distinct.clear();
        }
        self.seen_distinct.extend(b.distinct_seen.drain());
        self.links.extend(b.links);
        self.accounts.extend(b.new_accounts);
        self.queue.push(touched, first_at);
        self.metrics.messages(SOURCE, "pending", pending);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Message, Rejected> {
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

    fn group(seq: i64, n: usize) -> Group {
        let m = parse(r#"{"type":"track","userId":"u","event":"e","messageId":"m"}"#).unwrap();
        Group {
            seq,
            received_at: Timestamp(0),
            messages: vec![m; n],
        }
    }

    fn seqs(g: Option<Vec<Group>>) -> Option<Vec<i64>> {
        g.map(|g| g.iter().map(|g| g.seq).collect())
    }

    #[test]
    fn handoff_gives_groups_in_order_and_sends_the_applier_back_to_the_file_when_unsure() {
        let mut h = Handoff::new(10);
        let mut synced = false;
        h.push(group(1, 2));
        // Not synced with the file yet: read it first.
        assert!(h.take(None, &mut synced).is_none());
        synced = true;
        h.push(group(2, 3));
        // Group 1 was applied from the file; 2 follows it.
        assert_eq!(seqs(h.take(Some(1), &mut synced)), Some(vec![2]));
        assert_eq!(h.held, 0);
        // A gap (group 4 after 2) sends the applier back to the file.
        h.push(group(4, 1));
        assert!(h.take(Some(2), &mut synced).is_none());
        assert!(!synced);
        // Too many held: the handoff drops what it holds and says so once.
        let mut h = Handoff::new(10);
        let mut synced = true;
        h.push(group(1, 6));
        h.push(group(2, 6));
        assert!(h.take(Some(0), &mut synced).is_none());
        assert!(!synced && h.groups.is_empty() && h.held == 0);
        synced = true;
        h.push(group(3, 1));
        assert_eq!(seqs(h.take(Some(2), &mut synced)), Some(vec![3]));
    }

    #[test]
    fn handoff_takes_at_most_a_pass_of_messages_but_always_one_group() {
        let mut h = Handoff::new(10 * MAX_APPLY_MESSAGES);
        let mut synced = true;
        h.push(group(1, MAX_APPLY_MESSAGES + 5));
        h.push(group(2, 1));
        assert_eq!(seqs(h.take(None, &mut synced)), Some(vec![1]));
        assert_eq!(seqs(h.take(Some(1), &mut synced)), Some(vec![2]));
        assert_eq!(seqs(h.take(Some(2), &mut synced)), None);
        assert!(synced);
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

    #[test]
    fn periods_end_on_sunday_and_month_end() {
        // 2026-01-07 is a Wednesday.
        assert_eq!(
            period_ends(Day::ymd(2026, 1, 7)),
            [Day::ymd(2026, 1, 11), Day::ymd(2026, 1, 31)]
        );
        assert_eq!(
            period_ends(Day::ymd(2026, 12, 31))[1],
            Day::ymd(2026, 12, 31)
        );
    }
}

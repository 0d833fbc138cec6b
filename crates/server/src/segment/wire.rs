//! The wire format: one Segment message read and checked field by field into a [`Message`], with the
//! limits on message and batch sizes.

use super::*;

/// The source name under which Segment message ids and user links are stored.
pub const SOURCE: &str = "segment";
/// Segment's limit for one message.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;
/// Segment's limit for one batch request (about 500 KB), after decompression.
pub const MAX_BATCH_BYTES: usize = 512 * 1024;
/// Messages the writer acknowledges in one transaction at most.
pub(crate) const MAX_GROUP_MESSAGES: usize = 20_000;
/// Messages the writer hands to the applier in memory at most; beyond, the applier reads the inbox file.
pub(crate) const MAX_HELD_MESSAGES: usize = 2 * MAX_APPLY_MESSAGES;
/// Messages the applier applies in one transaction at most. A pass costs about the same whatever its size
/// (it rewrites the touched accounts' series), so under a burst the applier takes what has piled up.
pub(crate) const MAX_APPLY_MESSAGES: usize = 100_000;
/// Distinct-user facts remembered as stored.
pub(crate) const MAX_SEEN_DISTINCT: usize = 4_000_000;

/// The identity of a distinct-user fact (account, series, day, user), to remember it as stored.
pub(crate) fn distinct_hash(account: &str, metric: &str, day: Day, user_hash: i64) -> u64 {
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
    pub(crate) fn users(&self) -> impl Iterator<Item = &String> {
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
pub(crate) fn with_sent_at(raw: &str, sent: &str) -> String {
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

pub(crate) fn text(v: &Value) -> Option<String> {
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
pub(crate) enum Field<'a> {
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
pub(crate) struct Context<'a> {
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
pub(crate) struct Wire<'a> {
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
pub(crate) struct Members<'a>(Vec<(String, &'a RawValue)>);

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
pub(crate) fn without_write_key(raw: &str) -> Result<String, serde_json::Error> {
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

pub(crate) fn check_record(
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

//! Segment's HTTP Tracking API: `POST /v1/batch` and the single-message endpoints `/v1/track`,
//! `/v1/identify`, `/v1/group`, `/v1/page`, `/v1/screen` and `/v1/alias`. The write key comes by HTTP Basic
//! auth (key as user name), a bearer token, or `writeKey` in the body; a key in a header is checked before the
//! body is read, a key in the body before it is parsed, and the key is never stored. The body is JSON
//! whatever its `Content-Type` claims (RudderStack's Node SDK sends gzipped JSON as a form). Bad messages
//! inside a good batch are listed in the 200 response and the others stored; the reply is sent once the
//! stored messages are durable in the inbox, from which the applier attributes them to accounts moments
//! later.

use crate::auth::{self, Need};
use crate::error::{ApiError, ApiResult};
use crate::segment::{self, Message, MsgType, Rejected, MAX_BATCH_BYTES};
use crate::Shared;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::routing::post;
use axum::{Json, Router};
use bellwether_core::time::EventTimeWindow;
use bellwether_core::{Code, Timestamp};
use bellwether_store::LiveStore;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

pub(super) fn routes<S: LiveStore>() -> Router<Shared<S>> {
    let one = |ty: MsgType| post(move |st, h, b| single::<S>(st, h, b, ty));
    Router::new()
        .route("/v1/batch", post(batch::<S>))
        .route("/v1/import", post(batch::<S>))
        .route("/v1/track", one(MsgType::Track))
        .route("/v1/identify", one(MsgType::Identify))
        .route("/v1/group", one(MsgType::Group))
        .route("/v1/page", one(MsgType::Page))
        .route("/v1/screen", one(MsgType::Screen))
        .route("/v1/alias", one(MsgType::Alias))
}

#[derive(Deserialize)]
struct BatchBody<'a> {
    #[serde(borrow)]
    batch: Vec<&'a RawValue>,
    /// When the client sent the batch (Segment's libraries set it here rather than in each message).
    #[serde(rename = "sentAt")]
    sent_at: Option<Value>,
}

/// Reads a tracking body of an authenticated request, and the key it was authenticated by. A key in a header
/// is checked before the body is read (and decompressed); otherwise the body is read within
/// [`MAX_BATCH_BYTES`] after decompression and its `writeKey` found before it is parsed.
async fn authenticated_body<S: LiveStore>(
    st: &Shared<S>,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<(Bytes, String)> {
    if let Some(key) = auth::header_key(headers) {
        auth::check(&*st.store, Some(&key), Need::Write).await?;
        return Ok((super::read_body(body, MAX_BATCH_BYTES).await?, key));
    }
    let bytes = super::read_body(body, MAX_BATCH_BYTES).await?;
    let key = auth::body_key(&bytes);
    auth::check(&*st.store, key.as_deref(), Need::Write).await?;
    Ok((bytes, key.unwrap_or_default()))
}

/// Reads a Segment batch body (`{"batch": [messages], "sentAt": …}`, sent as `content_type`) into the
/// messages to store and the ones rejected, each with its index and path; an `Err` refuses the whole body.
/// The route's own parse step, public for the fuzz targets.
pub fn read_batch(
    bytes: &[u8],
    content_type: Option<&str>,
    now: Timestamp,
    window: &EventTimeWindow,
) -> ApiResult<(Vec<Message>, Vec<Rejected>)> {
    let parsed: BatchBody = serde_json::from_slice(bytes).map_err(|e| {
        if e.classify() == serde_json::error::Category::Data {
            ApiError::new(
                Code::InvalidJson,
                format!("the body is not a Segment batch: {e}; send {{\"batch\": [messages]}}"),
            )
            .at("batch")
        } else {
            not_json(
                e,
                content_type,
                "a JSON object such as {\"batch\": [messages]}",
            )
        }
    })?;
    let sent_at = match &parsed.sent_at {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_str().map(|s| (s, Timestamp::parse(s))) {
            Some((s, Ok(t))) => Some((s, t)),
            _ => {
                return Err(ApiError::new(
                    Code::InvalidField,
                    format!("the batch's sentAt {v} is not a timestamp; use ISO 8601, such as 2026-01-31T12:00:00Z, or leave it out"),
                )
                .at("sentAt"))
            }
        },
    };
    let mut messages = Vec::with_capacity(parsed.batch.len());
    let mut rejected = Vec::new();
    for (i, raw) in parsed.batch.iter().enumerate() {
        match segment::parse_message(i, raw.get(), None, Some(i), now, sent_at, window) {
            Ok(m) => messages.push(m),
            Err(r) => rejected.push(r),
        }
    }
    Ok((messages, rejected))
}

/// The answer to a tracking body that is not JSON, naming the content type it claimed.
fn not_json(e: impl std::fmt::Display, content_type: Option<&str>, expected: &str) -> ApiError {
    let ct = content_type.unwrap_or("(none)");
    ApiError::new(
        Code::InvalidJson,
        format!(
            "the body is not JSON: {e} (it was sent as Content-Type '{ct}'; whatever the content type, send {expected})"
        ),
    )
    .at("$")
}

/// Leaves the key out of the kept messages wherever a client put it (the `writeKey` member is already
/// dropped when a message is read).
fn redact_key(messages: &mut [Message], key: &str) {
    if key.is_empty() {
        return;
    }
    for m in messages {
        if m.raw.contains(key) {
            // A key is made of URL-safe base64 characters, so replacing it keeps the JSON valid.
            m.raw = m.raw.replace(key, "[redacted]");
        }
    }
}

/// Stores checked messages, without the `key` their request was authenticated by, and builds the 200
/// answer, or the injected fault of a retry test.
pub(crate) async fn store_messages<S: LiveStore>(
    st: &Shared<S>,
    mut messages: Vec<Message>,
    rejected: Vec<Rejected>,
    key: Option<&str>,
) -> ApiResult<Json<Value>> {
    if let Some(key) = key {
        redact_key(&mut messages, key);
    }
    st.metrics
        .messages(segment::SOURCE, "rejected", rejected.len() as u64);
    let waiting = st.metrics.inbox_waiting();
    if !messages.is_empty() && waiting >= st.config.max_inbox_messages {
        st.metrics
            .messages(segment::SOURCE, "refused", messages.len() as u64);
        return Err(ApiError::new(
            Code::IngestBacklog,
            format!(
                "{waiting} acknowledged messages wait to be applied (the limit is {}); nothing was stored, send \
                 the batch again after the Retry-After seconds",
                st.config.max_inbox_messages
            ),
        )
        .retry_after(5));
    }
    let outcome = if messages.is_empty() {
        Default::default()
    } else {
        st.writer.submit(messages).await?
    };
    if st.take_fault() {
        return Err(ApiError::new(
            Code::ServiceUnavailable,
            "injected fault: the messages were stored but this reply reports failure (fail_after_commit)",
        ));
    }
    Ok(Json(json!({
        "success": true,
        "accepted": outcome.accepted,
        "duplicates": outcome.duplicates,
        "rejected": rejected,
    })))
}

async fn batch<S: LiveStore>(
    State(st): State<Shared<S>>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let (bytes, key) = authenticated_body(&st, &headers, body).await?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let (messages, rejected) = read_batch(&bytes, ct, Timestamp::now(), &st.config.event_times)?;
    store_messages(&st, messages, rejected, Some(&key)).await
}

async fn single<S: LiveStore>(
    State(st): State<Shared<S>>,
    headers: HeaderMap,
    body: Body,
    ty: MsgType,
) -> ApiResult<Json<Value>> {
    let (bytes, key) = authenticated_body(&st, &headers, body).await?;
    let expected = "a JSON object, one message";
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| not_json(format!("it is not UTF-8 text ({e})"), ct, expected))?;
    serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|e| not_json(e, ct, expected))?;
    let m = segment::parse_message(
        0,
        text,
        Some(ty),
        None,
        Timestamp::now(),
        None,
        &st.config.event_times,
    )?;
    store_messages(&st, vec![m], Vec::new(), Some(&key)).await
}

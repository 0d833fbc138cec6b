//! Segment's HTTP Tracking API: `POST /v1/batch` and the single-message endpoints `/v1/track`,
//! `/v1/identify`, `/v1/group`, `/v1/page`, `/v1/screen` and `/v1/alias`. The write key comes by HTTP Basic
//! auth (key as user name), a bearer token, or `writeKey` in the body. Bad messages inside a good batch are
//! listed in the 200 response and the others stored; the reply is sent once the stored messages are durable
//! in the inbox, from which the applier attributes them to accounts moments later.

use crate::auth::{self, Need};
use crate::error::{ApiError, ApiResult};
use crate::segment::{self, Message, MsgType, Rejected, MAX_BATCH_BYTES};
use crate::Shared;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
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
    #[serde(rename = "writeKey")]
    write_key: Option<String>,
    /// When the client sent the batch (Segment's libraries set it here rather than in each message).
    #[serde(rename = "sentAt")]
    sent_at: Option<Value>,
}

#[derive(Deserialize)]
struct KeyOnly {
    #[serde(rename = "writeKey")]
    write_key: Option<String>,
}

/// Stores checked messages and builds the 200 answer, or the injected fault of a retry test.
pub(crate) async fn store_messages<S: LiveStore>(
    st: &Shared<S>,
    messages: Vec<Message>,
    rejected: Vec<Rejected>,
) -> ApiResult<Json<Value>> {
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
    super::require_json(&headers)?;
    let bytes = super::read_body(body, MAX_BATCH_BYTES).await?;
    let parsed: BatchBody = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            Code::InvalidJson,
            format!("the body is not a Segment batch: {e}; send {{\"batch\": [messages]}}"),
        )
        .at("batch")
    })?;
    let key = auth::header_key(&headers).or(parsed.write_key.clone());
    auth::check(&*st.store, key.as_deref(), Need::Write).await?;
    let now = Timestamp::now();
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
        match segment::parse_message(
            i,
            raw.get(),
            None,
            Some(i),
            now,
            sent_at,
            &st.config.event_times,
        ) {
            Ok(m) => messages.push(m),
            Err(r) => rejected.push(r),
        }
    }
    store_messages(&st, messages, rejected).await
}

async fn single<S: LiveStore>(
    State(st): State<Shared<S>>,
    headers: HeaderMap,
    body: Body,
    ty: MsgType,
) -> ApiResult<Json<Value>> {
    super::require_json(&headers)?;
    let bytes = super::read_body(body, MAX_BATCH_BYTES).await?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::new(Code::InvalidJson, "the body is not UTF-8 text"))?;
    let k: KeyOnly = serde_json::from_str(text).map_err(|e| {
        if text.trim_start().starts_with('{') {
            ApiError::new(
                Code::InvalidJson,
                format!("the body is not a JSON message: {e}"),
            )
        } else {
            ApiError::new(
                Code::InvalidJson,
                format!(
                    "the body is {}, not a JSON object; send one message as an object, or several to /v1/batch",
                    segment::json_kind(text)
                ),
            )
            .at("$")
        }
    })?;
    let key = auth::header_key(&headers).or(k.write_key);
    auth::check(&*st.store, key.as_deref(), Need::Write).await?;
    let m = segment::parse_message(
        0,
        text,
        Some(ty),
        None,
        Timestamp::now(),
        None,
        &st.config.event_times,
    )?;
    store_messages(&st, vec![m], Vec::new()).await
}

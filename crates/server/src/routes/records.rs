//! Records pushed one at a time, converted by the import's own validation (`bellwether_ingest::records`):
//! communications (`POST /v1/interactions`: meetings, QBR invites and responses, email activity, NPS) and
//! Zendesk tickets (`POST /webhooks/zendesk`, Zendesk's ticket JSON as a trigger's webhook sends it). Both need
//! an `ingest` key; records are upserted by id, so a resend changes nothing.

use crate::auth::{self, Need};
use crate::error::{ApiError, ApiResult};
use crate::Shared;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use bellwether_core::{Code, Timestamp};
use bellwether_ingest::records::records_batch;
use bellwether_ingest::Kind;
use bellwether_store::{LiveBatch, LiveStore};
use serde_json::{json, Map, Value};
use std::time::Instant;

const MAX_BODY: usize = 1024 * 1024;

pub(super) fn routes<S: LiveStore>() -> Router<Shared<S>> {
    Router::new()
        .route("/v1/interactions", post(interactions::<S>))
        .route("/webhooks/zendesk", post(zendesk::<S>))
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn fields(o: &Map<String, Value>) -> Vec<(String, String)> {
    o.iter()
        .filter_map(|(k, v)| Some((k.clone(), scalar(v)?)))
        .collect()
}

async fn read_json<S: LiveStore>(
    st: &Shared<S>,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<Value> {
    super::require_json(headers)?;
    auth::check(
        &*st.store,
        auth::header_key(headers).as_deref(),
        Need::Write,
    )
    .await?;
    let bytes = super::read_body(body, MAX_BODY).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(Code::InvalidJson, format!("the body is not JSON: {e}")))
}

/// Stores the records of one kind; bad ones are listed with their path, the good ones kept. When none could
/// be stored the answer is the first one's error (4xx, with its code and path), so a sender that sends one
/// record at a time (a Zendesk trigger) sees the failure and can retry or show it.
async fn store<S: LiveStore>(
    st: &Shared<S>,
    kind: Kind,
    source: &'static str,
    records: Vec<Vec<(String, String)>>,
    path: &str,
) -> ApiResult<Json<Value>> {
    let started = Instant::now();
    let (batch, errors) = records_batch(
        kind,
        &records,
        Timestamp::now(),
        &st.config.event_times,
        &st.config.time_reading,
    );
    let mut live = LiveBatch {
        batch,
        ..Default::default()
    };
    let touched = live.touched();
    live.batch.source = source.into();
    let accepted = records.len() - errors.len();
    let at = |e: &bellwether_ingest::records::RecordError| {
        format!(
            "{path}[{}]{}",
            e.index,
            e.field.map(|f| format!(".{f}")).unwrap_or_default()
        )
    };
    if accepted == 0 {
        if let Some(e) = errors.first() {
            st.metrics.messages(source, "rejected", errors.len() as u64);
            let more = match errors.len() {
                1 => String::new(),
                n => format!(" ({n} records, none stored; this is the first)"),
            };
            return Err(ApiError::new(e.code, format!("{}: {}{more}", at(e), e.message)).at(at(e)));
        }
    }
    if accepted > 0 {
        st.store.write_live(live).await?;
        st.queue.push(touched, started);
    }
    st.metrics.messages(source, "accepted", accepted as u64);
    st.metrics.messages(source, "rejected", errors.len() as u64);
    let rejected: Vec<Value> = errors
        .iter()
        .map(|e| {
            json!({
                "index": e.index,
                "code": e.code,
                "message": e.message,
                "path": at(e),
            })
        })
        .collect();
    Ok(Json(
        json!({"success": true, "accepted": accepted, "rejected": rejected}),
    ))
}

/// The records of a `POST /v1/interactions` body (`{"interactions": [records]}`); the route's own parse
/// step, public for the fuzz targets.
pub fn interaction_records(v: &Value) -> ApiResult<Vec<Vec<(String, String)>>> {
    let list = v["interactions"].as_array().ok_or_else(|| {
        ApiError::new(
            Code::InvalidJson,
            "the body needs an `interactions` array of records (docs/formats.md, interactions)",
        )
        .at("interactions")
    })?;
    let mut records = Vec::with_capacity(list.len());
    for (i, r) in list.iter().enumerate() {
        let o = r.as_object().ok_or_else(|| {
            ApiError::new(Code::InvalidJson, "each interaction must be an object")
                .at(format!("interactions[{i}]"))
        })?;
        records.push(fields(o));
    }
    Ok(records)
}

async fn interactions<S: LiveStore>(
    State(st): State<Shared<S>>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let v = read_json(&st, &headers, body).await?;
    let records = interaction_records(&v)?;
    store(
        &st,
        Kind::Interactions,
        "interactions",
        records,
        "interactions",
    )
    .await
}

/// Zendesk's ticket as canonical ticket fields. The account is `account_id` when the webhook body adds it
/// (a trigger can send `{{ticket.organization.external_id}}`, which is empty for an organization without an
/// external id), else the ticket's organization id. Tags come as an array (the API) or as one space-separated
/// string (`{{ticket.tags}}`); the ticket reader finds `escalated` among them.
fn zendesk_ticket(t: &Map<String, Value>, extra_account: Option<String>) -> Vec<(String, String)> {
    let get = |k: &str| t.get(k).and_then(scalar).filter(|v| !v.trim().is_empty());
    let mut r: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            r.push((k.to_string(), v));
        }
    };
    put("ticket_id", get("id"));
    put(
        "account_id",
        extra_account
            .filter(|v| !v.trim().is_empty())
            .or_else(|| get("account_id"))
            .or_else(|| get("organization_id")),
    );
    put("opened_at", get("created_at"));
    let status = get("status");
    let closed = status
        .as_deref()
        .map(|s| s.trim().to_ascii_lowercase())
        .is_some_and(|s| s == "solved" || s == "closed");
    if closed {
        put("closed_at", get("solved_at").or_else(|| get("updated_at")));
    }
    put("status", status);
    put("priority", get("priority"));
    put("subject", get("subject").or_else(|| get("raw_subject")));
    put("body", get("description"));
    put("contact_id", get("requester_id"));
    let score = t
        .get("satisfaction_rating")
        .and_then(|s| s.get("score"))
        .and_then(Value::as_str);
    put(
        "csat",
        match score {
            Some("good") => Some("5".into()),
            Some("bad") => Some("1".into()),
            _ => None,
        },
    );
    let tags = match t.get("tags") {
        Some(Value::Array(tags)) => Some(
            tags.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    put("tags", tags);
    r
}

/// The ticket records of a Zendesk webhook body (`{"ticket": {…}}` or `{"tickets": [...]}`, with an optional
/// top-level `account_id`); the route's own parse step, public for the fuzz targets.
pub fn zendesk_records(v: &Value) -> ApiResult<Vec<Vec<(String, String)>>> {
    let account = v.get("account_id").and_then(scalar);
    let tickets: Vec<&Map<String, Value>> = if let Some(list) = v["tickets"].as_array() {
        // Every entry keeps its index, so a rejection's path points at the entry that was sent.
        list.iter()
            .enumerate()
            .map(|(i, t)| {
                t.as_object().ok_or_else(|| {
                    ApiError::new(
                        Code::InvalidJson,
                        "each ticket must be an object (Zendesk's ticket JSON)",
                    )
                    .at(format!("tickets[{i}]"))
                })
            })
            .collect::<ApiResult<_>>()?
    } else if let Some(t) = v["ticket"].as_object() {
        vec![t]
    } else {
        return Err(ApiError::new(
            Code::InvalidJson,
            "the body needs a `ticket` object (Zendesk's ticket JSON) or a `tickets` array",
        )
        .at("ticket"));
    };
    let records = tickets
        .iter()
        .map(|t| zendesk_ticket(t, account.clone()))
        .collect();
    Ok(records)
}

async fn zendesk<S: LiveStore>(
    State(st): State<Shared<S>>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let v = read_json(&st, &headers, body).await?;
    let records = zendesk_records(&v)?;
    store(&st, Kind::Tickets, "zendesk", records, "tickets").await
}

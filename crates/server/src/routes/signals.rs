//! Acting on a signal over HTTP, as the command line's `signal ack|snooze|resolve` and the Slack buttons do:
//! `POST /v1/signals/{id}/acknowledge`, `/snooze` (`{"until": "YYYY-MM-DD", "reason": "…"}`) and `/resolve`,
//! each answering the signal as it now stands. They change what people work on, so they need an `admin` key.
//! The change goes through the lifecycle's one owner of such actions ([`bellwether_engine::signals::act`]).

use crate::auth::{self, Need};
use crate::error::{ApiError, ApiResult};
use crate::Shared;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use bellwether_core::{Code, Day};
use bellwether_engine::signals::{act, SignalAct, SnoozeRefused};
use bellwether_store::LiveStore;
use serde_json::{json, Value};

const MAX_BODY: usize = 16 * 1024;

pub(super) fn routes<S: LiveStore>() -> Router<Shared<S>> {
    Router::new()
        .route("/v1/signals/{id}/acknowledge", post(acknowledge::<S>))
        .route("/v1/signals/{id}/snooze", post(snooze::<S>))
        .route("/v1/signals/{id}/resolve", post(resolve::<S>))
}

async fn acknowledge<S: LiveStore>(
    State(st): State<Shared<S>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    apply(&st, &headers, &id, SignalAct::Acknowledge).await
}

async fn resolve<S: LiveStore>(
    State(st): State<Shared<S>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    apply(&st, &headers, &id, SignalAct::Resolve).await
}

async fn snooze<S: LiveStore>(
    State(st): State<Shared<S>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    auth::check(&*st.store, auth::header_key(&headers).as_deref(), Need::Act).await?;
    super::require_json(&headers)?;
    let bytes = super::read_body(body, MAX_BODY).await?;
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(Code::InvalidJson, format!("the body is not JSON: {e}")))?;
    let Some(o) = v.as_object() else {
        return Err(ApiError::new(
            Code::InvalidJson,
            "the body must be an object: {\"until\": \"YYYY-MM-DD\", \"reason\": \"…\"}",
        )
        .at("$"));
    };
    if let Some(k) = o
        .keys()
        .find(|k| !["until", "reason"].contains(&k.as_str()))
    {
        return Err(ApiError::new(
            Code::InvalidArgument,
            format!("unknown field '{k}': a snooze takes until and reason"),
        )
        .at(k.clone()));
    }
    let until = match o.get("until").and_then(Value::as_str) {
        Some(d) => Day::parse(d).map_err(|e| {
            ApiError::new(
                Code::InvalidField,
                format!("until = {d:?} is not a day (YYYY-MM-DD): {e}"),
            )
            .at("until")
        })?,
        None => {
            return Err(ApiError::new(
                Code::InvalidArgument,
                "until is missing: the day the signal comes back, \"YYYY-MM-DD\"",
            )
            .at("until"))
        }
    };
    let reason = o.get("reason").and_then(Value::as_str).ok_or_else(|| {
        ApiError::new(
            Code::InvalidArgument,
            "reason is missing: say why in words, as the owner's worklist will show it",
        )
        .at("reason")
    })?;
    let what = SignalAct::snooze(until, reason, Day::today()).map_err(|e| {
        let (code, at) = match e {
            SnoozeRefused::NotLater(_) => (Code::InvalidField, "until"),
            SnoozeRefused::NoReason(_) => (Code::InvalidArgument, "reason"),
            SnoozeRefused::TooLong(_) | SnoozeRefused::NotText(_) => (Code::InvalidField, "reason"),
        };
        ApiError::new(code, e.message()).at(at)
    })?;
    act_on(&st, &id, what).await
}

async fn apply<S: LiveStore>(
    st: &Shared<S>,
    headers: &HeaderMap,
    id: &str,
    what: SignalAct,
) -> ApiResult<Json<Value>> {
    auth::check(&*st.store, auth::header_key(headers).as_deref(), Need::Act).await?;
    act_on(st, id, what).await
}

async fn act_on<S: LiveStore>(st: &Shared<S>, id: &str, what: SignalAct) -> ApiResult<Json<Value>> {
    let mut signal = st.store.signal(id).await?.ok_or_else(|| {
        ApiError::new(
            Code::SignalNotFound,
            format!("no signal {id:?}; GET /v1/signals lists them with their ids"),
        )
        .at("url")
    })?;
    act(&mut signal, what).map_err(|e| ApiError::new(Code::InvalidArgument, e).at("url"))?;
    st.store
        .save_signals(std::slice::from_ref(&signal), &[])
        .await?;
    Ok(Json(json!({ "signal": signal })))
}

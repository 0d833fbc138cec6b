//! Webhooks pushed by other services: Segment's webhook destination (`POST /webhooks/segment`, one event per
//! request, signed with the destination's shared secret as `X-Signature`, or carrying an ingest key) and
//! Stripe (`POST /webhooks/stripe`, verified by `Stripe-Signature`). Both are idempotent on the event id.

use crate::auth::{self, Need};
use crate::error::{ApiError, ApiResult};
use crate::segment;
use crate::stripe;
use crate::Shared;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use bellwether_core::text::{self, Bound};
use bellwether_core::{AccountId, Code, Timestamp};
use bellwether_store::{LiveBatch, LiveStore, PendingMessage, StoreError};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use std::time::Instant;
use subtle::ConstantTimeEq;

/// Largest webhook body taken.
const MAX_WEBHOOK_BYTES: usize = 1024 * 1024;

pub(super) fn routes<S: LiveStore>() -> Router<Shared<S>> {
    Router::new()
        .route("/webhooks/segment", post(segment_hook::<S>))
        .route("/webhooks/stripe", post(stripe_hook::<S>))
        .route(
            "/v1/stripe/customers/{id}",
            axum::routing::put(stripe_customer::<S>),
        )
}

async fn segment_hook<S: LiveStore>(
    State(st): State<Shared<S>>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    super::require_json(&headers)?;
    let signature = headers.get("x-signature").and_then(|v| v.to_str().ok());
    let signed = st.config.segment_shared_secret.is_some() && signature.is_some();
    let key = if signed {
        None
    } else {
        // Authenticated by a key in a header: checked before the body is read.
        let key = auth::header_key(&headers);
        auth::check(&*st.store, key.as_deref(), Need::Write).await?;
        key
    };
    let bytes = super::read_body(body, segment::MAX_BATCH_BYTES).await?;
    if let (Some(secret), Some(sig)) = (&st.config.segment_shared_secret, signature) {
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
            .map_err(|e| ApiError::new(Code::Internal, e.to_string()))?;
        mac.update(&bytes);
        let expected = auth::hex(&mac.finalize().into_bytes());
        if !bool::from(
            expected
                .as_bytes()
                .ct_eq(sig.trim().to_ascii_lowercase().as_bytes()),
        ) {
            return Err(ApiError::new(
                Code::InvalidSignature,
                "X-Signature does not match the body under the configured segment_shared_secret; copy the destination's shared secret into the settings",
            ));
        }
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::new(Code::InvalidJson, "the body is not UTF-8 text"))?;
    let m = segment::parse_message(
        0,
        text,
        None,
        None,
        Timestamp::now(),
        None,
        &st.config.event_times,
    )?;
    super::tracking::store_messages(&st, vec![m], Vec::new(), key.as_deref()).await
}

async fn stripe_hook<S: LiveStore>(
    State(st): State<Shared<S>>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let started = Instant::now();
    let Some(secret) = st.config.stripe_webhook_secret.clone() else {
        return Err(ApiError::new(
            Code::InvalidSignature,
            "Stripe webhooks are not set up: put the endpoint's signing secret (whsec_...) in `[server] stripe_webhook_secret` or BELLWETHER_STRIPE_WEBHOOK_SECRET",
        ));
    };
    let bytes = super::read_body(body, MAX_WEBHOOK_BYTES).await?;
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                Code::InvalidSignature,
                "the request has no Stripe-Signature header",
            )
        })?;
    stripe::verify(&secret, header, &bytes, Timestamp::now().0 / 1000)
        .map_err(|e| ApiError::new(Code::InvalidSignature, e))?;
    let ev: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            Code::InvalidJson,
            format!("the body is not a Stripe event: {e}"),
        )
    })?;
    let id = ev["id"]
        .as_str()
        .ok_or_else(|| ApiError::new(Code::InvalidJson, "the event has no id").at("id"))?
        .to_string();
    let kind = ev["type"]
        .as_str()
        .ok_or_else(|| ApiError::new(Code::InvalidJson, "the event has no type").at("type"))?
        .to_string();
    if !st
        .store
        .known_messages(stripe::SOURCE, std::slice::from_ref(&id))
        .await?
        .is_empty()
    {
        st.metrics.messages(stripe::SOURCE, "duplicate", 1);
        return Ok(Json(json!({"received": true, "duplicate": true})));
    }
    let received = Timestamp::now();
    let mut live = LiveBatch::default();
    live.messages.push((stripe::SOURCE.into(), id.clone()));
    let mut outcome = "ignored";
    let mut warnings: Vec<stripe::FieldError> = Vec::new();
    if stripe::handled(&kind) {
        // The event's time dates its facts: checked before it is stored or kept waiting for its customer.
        let created = stripe::created(&ev).map_err(|e| {
            ApiError::new(Code::InvalidJson, format!("event {id}: {e}")).at("created")
        })?;
        st.config
            .event_times
            .check(created, received)
            .map_err(|e| {
                ApiError::new(
                    Code::EventTimeOutOfRange,
                    format!("event {id}: created: {e}"),
                )
                .at("created")
            })?;
        let customer = stripe::customer_of(&ev);
        let links = st.store.links(stripe::CUSTOMER_LINKS).await?;
        let hint = stripe::account_hint(&ev);
        if let Some(a) = &hint {
            text::check(Bound::Id, a.as_str()).map_err(|e| {
                ApiError::new(
                    Code::InvalidField,
                    format!("event {id}: metadata.account_id {e}"),
                )
                .at("metadata.account_id")
            })?;
        }
        let account = hint
            .clone()
            .or_else(|| customer.as_ref().and_then(|c| links.get(c).cloned()));
        match (account, &customer) {
            (Some(account), _) => {
                let existing = stored_subscriptions(&st, &account).await?;
                let w = add_facts(&mut live, &ev, &account, received, &existing).map_err(|e| {
                    ApiError::new(
                        Code::InvalidField,
                        format!("event {id}: {}: {}", e.field, e.message),
                    )
                    .at(&e.field)
                })?;
                warnings.extend(w);
                outcome = "accepted";
                if let Some(c) = &customer {
                    if links.get(c) != Some(&account) {
                        link_customer(&st, &mut live, c, &account, received).await?;
                    }
                }
            }
            (None, Some(c)) => {
                outcome = "pending";
                live.pending_add.push(PendingMessage {
                    source: stripe::SOURCE.into(),
                    user_key: c.clone(),
                    id: id.clone(),
                    received_at: received,
                    payload: String::from_utf8_lossy(&bytes).into_owned(),
                    kind: 0,
                });
            }
            (None, None) => {
                return Err(ApiError::new(
                    Code::InvalidJson,
                    format!("event {id} names no customer"),
                )
                .at("data.object.customer"));
            }
        }
    }
    live.batch.source = "/webhooks/stripe".into();
    live.batch.kind = stripe::SOURCE.into();
    live.batch.received_at = Some(received);
    live.batch.records = 1;
    let touched = live.touched();
    match st.store.write_live(live).await {
        Ok(_) => {}
        // A conflict is a duplicate only when the event is now stored (a concurrent delivery of it won);
        // otherwise (a deadlock, a serialization failure) nothing was written and Stripe is asked to retry.
        Err(StoreError::Conflict(m))
            if !st
                .store
                .known_messages(stripe::SOURCE, std::slice::from_ref(&id))
                .await?
                .is_empty() =>
        {
            tracing::debug!(event = %id, conflict = %m, "a concurrent delivery stored the event");
            st.metrics.messages(stripe::SOURCE, "duplicate", 1);
            return Ok(Json(json!({"received": true, "duplicate": true})));
        }
        Err(e) => return Err(e.into()),
    }
    st.metrics.messages(stripe::SOURCE, outcome, 1);
    st.queue.push(touched, started);
    if warnings.is_empty() {
        return Ok(Json(json!({"received": true, "outcome": outcome})));
    }
    for w in &warnings {
        tracing::warn!(event = %id, field = %w.field, "{}", w.message);
    }
    let warnings: Vec<Value> = warnings
        .iter()
        .map(|w| json!({"field": w.field, "message": w.message}))
        .collect();
    Ok(Json(
        json!({"received": true, "outcome": outcome, "warnings": warnings}),
    ))
}

/// The account's stored subscriptions, which the account's ARR after a subscription event is summed from.
async fn stored_subscriptions<S: LiveStore>(
    st: &Shared<S>,
    account: &AccountId,
) -> ApiResult<Vec<bellwether_core::model::Subscription>> {
    let mut book = st
        .store
        .load_book(Some(std::slice::from_ref(account)))
        .await?;
    Ok(book
        .accounts
        .remove(account)
        .map(|a| a.subscriptions)
        .unwrap_or_default())
}

/// Links a Stripe customer to an account and adds the events that waited for it.
async fn link_customer<S: LiveStore>(
    st: &Shared<S>,
    live: &mut LiveBatch,
    customer: &str,
    account: &AccountId,
    received: Timestamp,
) -> ApiResult<()> {
    live.links.push((
        stripe::CUSTOMER_LINKS.into(),
        customer.to_string(),
        account.clone(),
    ));
    let customer = customer.to_string();
    let mut existing = stored_subscriptions(st, account).await?;
    for p in st
        .store
        .pending(stripe::SOURCE, std::slice::from_ref(&customer))
        .await?
    {
        if let Ok(old) = serde_json::from_str::<Value>(&p.payload) {
            // Subscriptions written by earlier waiting events replace their stored versions.
            for sub in &live.batch.subscriptions {
                existing.retain(|s| s.id != sub.id);
                existing.push(sub.clone());
            }
            if add_facts(live, &old, account, received, &existing).is_ok() {
                live.pending_remove.push((p.source, p.user_key, p.id));
            }
        }
    }
    Ok(())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    account_id: String,
}

/// `PUT /v1/stripe/customers/{id}` with `{"account_id": …}` (admin key): maps a Stripe customer without
/// `metadata.account_id` to an account; its waiting events are stored at once.
async fn stripe_customer<S: LiveStore>(
    State(st): State<Shared<S>>,
    headers: HeaderMap,
    axum::extract::Path(customer): axum::extract::Path<String>,
    body: Body,
) -> ApiResult<Json<Value>> {
    super::require_json(&headers)?;
    let key = auth::check(
        &*st.store,
        auth::header_key(&headers).as_deref(),
        Need::Write,
    )
    .await?;
    if key.scope != bellwether_store::KeyScope::Admin {
        return Err(ApiError::new(
            Code::Forbidden,
            format!(
                "key {} has scope '{}'; mapping customers needs an admin key",
                key.id,
                key.scope.name()
            ),
        ));
    }
    let bytes = super::read_body(body, 64 * 1024).await?;
    let b: LinkBody = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            Code::InvalidJson,
            format!("the body must be {{\"account_id\": \"...\"}}: {e}"),
        )
        .at("account_id")
    })?;
    let account = AccountId(b.account_id.trim().to_string());
    if account.0.is_empty() {
        return Err(ApiError::new(Code::InvalidJson, "account_id is blank").at("account_id"));
    }
    text::check(Bound::Id, account.as_str()).map_err(|e| {
        ApiError::new(Code::InvalidField, format!("account_id {e}")).at("account_id")
    })?;
    let started = Instant::now();
    let received = Timestamp::now();
    let mut live = LiveBatch::default();
    link_customer(&st, &mut live, &customer, &account, received).await?;
    let stored = live.pending_remove.len();
    live.batch.source = "/v1/stripe/customers".into();
    live.batch.received_at = Some(received);
    let touched = live.touched();
    st.store.write_live(live).await?;
    st.queue.push(touched, started);
    Ok(Json(
        json!({"customer": customer, "account_id": account.0, "events_stored": stored}),
    ))
}

/// Adds an event's facts to the batch; returns its warnings.
fn add_facts(
    live: &mut LiveBatch,
    ev: &Value,
    account: &AccountId,
    received: Timestamp,
    existing: &[bellwether_core::model::Subscription],
) -> Result<Vec<stripe::FieldError>, stripe::FieldError> {
    let f = stripe::facts(ev, account, received, existing)?;
    live.batch.billing.extend(f.billing);
    live.batch.subscriptions.extend(f.subscriptions);
    live.batch.account_attrs.extend(f.attrs);
    live.batch.outcomes.extend(f.outcomes);
    Ok(f.warnings)
}

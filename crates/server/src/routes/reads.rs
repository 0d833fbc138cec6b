//! The reads the CLI offers, as JSON: the current list of active accounts, each with its latest assessment
//! and how many days old it is against the book's current day (`/v1/accounts`), or one day's assessments
//! (`?day=`), one account with
//! attributes, health history and open signals (`/v1/accounts/{id}`), its daily series
//! (`/v1/accounts/{id}/series`), signals (`/v1/signals`) and one CSM's ranked worklist
//! (`/v1/worklists/{owner}`). All need a `read` or `admin` key.

use crate::auth::{self, Need};
use crate::error::{ApiError, ApiResult};
use crate::Shared;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use bellwether_core::model::SignalStatus;
use bellwether_core::{AccountId, Code, Day};
use bellwether_store::{LiveStore, SignalFilter};
use serde::Deserialize;
use serde_json::{json, Value};

pub(super) fn routes<S: LiveStore>() -> Router<Shared<S>> {
    Router::new()
        .route("/v1/accounts", get(accounts::<S>))
        .route("/v1/accounts/{id}", get(account::<S>))
        .route("/v1/accounts/{id}/series", get(series::<S>))
        .route("/v1/signals", get(signals::<S>))
        .route("/v1/worklists/{owner}", get(owner_worklist::<S>))
}

async fn reader<S: LiveStore>(st: &Shared<S>, headers: &HeaderMap) -> ApiResult<()> {
    auth::check(&*st.store, auth::header_key(headers).as_deref(), Need::Read).await?;
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountsQuery {
    owner: Option<String>,
    limit: Option<usize>,
    day: Option<String>,
}

/// A query string read into `T`, or `invalid_argument` naming the parameters the endpoint takes.
fn query<T>(
    q: Result<Query<T>, axum::extract::rejection::QueryRejection>,
    takes: &str,
) -> ApiResult<T> {
    q.map(|Query(q)| q).map_err(|e| {
        // The parameter at fault when the message names it ("drop: unknown field …"), else the query.
        let text = e.body_text();
        let param = text
            .strip_prefix("Failed to deserialize query string: ")
            .and_then(|r| r.split_once(':'))
            .map(|(p, _)| p.trim())
            .filter(|p| !p.is_empty() && !p.contains(' '))
            .map_or_else(|| "query".to_string(), |p| format!("query.{p}"));
        ApiError::new(
            Code::InvalidArgument,
            format!("{text}; the query takes {takes}"),
        )
        .at(param)
    })
}

async fn accounts<S: LiveStore>(
    State(st): State<Shared<S>>,
    headers: HeaderMap,
    q: Result<Query<AccountsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    reader(&st, &headers).await?;
    let q = query(q, "owner, limit and day")?;
    let day = match &q.day {
        Some(d) => Some(bellwether_core::Day::parse(d).map_err(|e| {
            ApiError::new(
                Code::InvalidArgument,
                format!("day: {e}; give a day as YYYY-MM-DD, or leave it out for the latest day assessed"),
            )
            .at("day")
        })?),
        None => None,
    };
    let mut rows = st.store.assessments(day).await?;
    if let Some(o) = &q.owner {
        rows.retain(|a| a.owner.as_deref() == Some(o.as_str()));
    }
    rows.truncate(q.limit.unwrap_or(usize::MAX));
    let as_of = match day {
        Some(d) => Some(d),
        None => bellwether_engine::book_day(&*st.store, bellwether_engine::Clock::Live, None)
            .await?
            .map(|d| d.day),
    };
    let accounts: Vec<Value> = rows
        .iter()
        .map(|a| {
            let mut v = json!(a);
            v["age_days"] = json!(as_of.map_or(0, |d| (d.0 - a.as_of.0).max(0)));
            v
        })
        .collect();
    Ok(Json(
        json!({ "as_of": as_of.map(|d| d.to_string()), "accounts": accounts }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorklistQuery {
    limit: Option<usize>,
}

/// The most a worklist returns, and its default length.
const WORKLIST_MAX: usize = 500;
const WORKLIST_DEFAULT: usize = 20;

/// One CSM's worklist: their accounts ranked by expected impact under the signals' statuses now, each with
/// the arithmetic, why and the play (see `bellwether_engine::worklist`).
async fn owner_worklist<S: LiveStore>(
    State(st): State<Shared<S>>,
    headers: HeaderMap,
    Path(owner): Path<String>,
    q: Result<Query<WorklistQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    reader(&st, &headers).await?;
    bellwether_core::text::check(bellwether_core::text::Bound::Id, &owner).map_err(|e| {
        ApiError::new(
            Code::InvalidArgument,
            format!(
                "owner {e}; give the owner's email, as the accounts' `owner` attribute holds it"
            ),
        )
        .at("owner")
    })?;
    let q = query(q, "limit")?;
    let limit = q.limit.unwrap_or(WORKLIST_DEFAULT);
    if limit == 0 || limit > WORKLIST_MAX {
        return Err(ApiError::new(
            Code::InvalidArgument,
            format!("limit: {limit} is out of range; give 1 to {WORKLIST_MAX}"),
        )
        .at("query.limit"));
    }
    let items = bellwether_engine::worklist::read(&*st.store, Some(&owner), limit).await?;
    if items.is_empty() {
        return Err(ApiError::new(
            Code::AccountNotFound,
            format!("no current accounts are owned by '{owner}'; owners are the accounts' `owner` attribute, as `/v1/accounts` shows them"),
        )
        .at("owner"));
    }
    let as_of = items.iter().map(|i| i.as_of).max();
    Ok(Json(json!({
        "owner": owner,
        "as_of": as_of.map(|d| d.to_string()),
        "items": items,
    })))
}

async fn account<S: LiveStore>(
    State(st): State<Shared<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    reader(&st, &headers).await?;
    let aid = AccountId(id.clone());
    let book = st.store.load_book(Some(std::slice::from_ref(&aid))).await?;
    let Some(facts) = book.accounts.get(&aid) else {
        return Err(ApiError::new(
            Code::AccountNotFound,
            format!("no account '{id}'; GET /v1/accounts lists them"),
        )
        .at("id"));
    };
    let history = st.store.assessment_history(&aid).await?;
    let as_of = match history.last() {
        Some(h) => h.as_of,
        None => bellwether_engine::book_day(&*st.store, bellwether_engine::Clock::Live, None)
            .await?
            .map_or_else(Day::today, |d| d.day),
    };
    let signals = st
        .store
        .signals(SignalFilter {
            accounts: Some(vec![aid.clone()]),
            statuses: SignalStatus::ACTIVE.to_vec(),
            ..Default::default()
        })
        .await?;
    // Every target with its drivers: those the pass stores without are computed for the stored day.
    let stored = st.store.predictions(Some(&aid), None).await?;
    let predictions = bellwether_engine::models::with_drivers(
        &*st.store,
        &st.engine,
        &aid,
        stored,
        bellwether_engine::Clock::Live,
    )
    .await?;
    let model = bellwether_predict::score::status(&*st.store)
        .await
        .map_err(|e| ApiError::new(e.code(), e.to_string()))?;
    Ok(Json(json!({
        "account": facts.view_current(&aid, as_of, Some(bellwether_core::Timestamp::now())),
        "assessment": history.last(),
        "signals": signals,
        "predictions": predictions,
        "model": model,
        "health_history": history.iter().map(|h| json!({"as_of": h.as_of.to_string(), "health": h.health})).collect::<Vec<_>>(),
    })))
}

async fn series<S: LiveStore>(
    State(st): State<Shared<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    reader(&st, &headers).await?;
    let aid = AccountId(id.clone());
    let loaded = st
        .store
        .load_series(Some(std::slice::from_ref(&aid)))
        .await?;
    let Some((_, s)) = loaded.into_iter().next() else {
        return Err(ApiError::new(
            Code::AccountNotFound,
            format!("account '{id}' has no series yet"),
        )
        .at("id"));
    };
    let metrics: serde_json::Map<String, Value> = s
        .metrics
        .iter()
        .map(|(name, ser)| {
            (
                name.clone(),
                ser.points
                    .iter()
                    .map(|(d, v)| json!([d.to_string(), v]))
                    .collect::<Vec<_>>()
                    .into(),
            )
        })
        .collect();
    Ok(Json(json!({ "account_id": id, "series": metrics })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignalsQuery {
    account: Option<String>,
    status: Option<String>,
    kind: Option<String>,
    owner: Option<String>,
}

async fn signals<S: LiveStore>(
    State(st): State<Shared<S>>,
    headers: HeaderMap,
    q: Result<Query<SignalsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    reader(&st, &headers).await?;
    let q = query(q, "account, status, kind and owner")?;
    let statuses = match &q.status {
        None => vec![SignalStatus::Open, SignalStatus::Acknowledged, SignalStatus::Snoozed],
        Some(s) if s == "all" => Vec::new(),
        Some(s) => s
            .split(',')
            .map(|x| {
                SignalStatus::parse(x).map_err(|_| {
                    ApiError::new(Code::InvalidArgument, format!("status '{x}' is not open, acknowledged, snoozed, resolved, expired or all")).at("status")
                })
            })
            .collect::<ApiResult<_>>()?,
    };
    let rows = st
        .store
        .signals(SignalFilter {
            accounts: q.account.map(|a| vec![AccountId(a)]),
            statuses,
            kind: q.kind,
            owner: q.owner,
            id: None,
        })
        .await?;
    Ok(Json(json!({ "signals": rows })))
}

//! `/healthz` (the process answers), `/readyz` (it takes requests and its store answers), `/version` (the
//! version and the features RudderStack's data plane advertises there, for clients that discover them) and
//! `/metrics` (Prometheus text; needs a read key like every endpoint but these three).

use crate::auth::{self, Need};
use crate::error::{ApiError, ApiResult};
use crate::Shared;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use bellwether_core::Code;
use bellwether_store::LiveStore;

pub(super) fn routes<S: LiveStore>() -> Router<Shared<S>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz::<S>))
        .route("/version", get(version))
        .route("/metrics", get(metrics::<S>))
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// What RudderStack's data plane answers at `GET /version`: its version and `Features`, of which Bellwether
/// has `gzip-req-payload` (gzipped request bodies).
async fn version() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "Features": ["gzip-req-payload"],
    }))
}

async fn readyz<S: LiveStore>(State(st): State<Shared<S>>) -> ApiResult<&'static str> {
    if !st.is_ready() {
        return Err(ApiError::new(
            Code::ServiceUnavailable,
            "the server is stopping",
        ));
    }
    st.store.pending_count().await?;
    Ok("ready\n")
}

async fn metrics<S: LiveStore>(
    State(st): State<Shared<S>>,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    auth::check(
        &*st.store,
        auth::header_key(&headers).as_deref(),
        Need::Read,
    )
    .await?;
    let pending = st.store.pending_count().await.ok();
    let mut text = st.metrics.render(pending);
    if let Ok(runs) = st.store.job_runs(None, 200).await {
        text.push_str(&crate::schedule::render_metrics(&runs));
    }
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        text,
    ))
}

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
    if let Ok(c) = st.store.outbox_counts().await {
        text.push_str(&outbox_metrics(&c, bellwether_core::Timestamp::now()));
    }
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        text,
    ))
}

/// The outbox's lines of `/metrics`: entries by state, and how long the oldest pending one has waited.
fn outbox_metrics(c: &bellwether_store::OutboxCounts, now: bellwether_core::Timestamp) -> String {
    let mut out = String::from(
        "# HELP bellwether_outbox_entries Alerts and digests in the outbox, by state.\n# TYPE bellwether_outbox_entries gauge\n",
    );
    for (state, n) in [
        ("pending", c.pending),
        ("delivered", c.delivered),
        ("parked", c.parked),
        ("folded", c.folded),
    ] {
        out.push_str(&format!(
            "bellwether_outbox_entries{{state=\"{state}\"}} {n}\n"
        ));
    }
    let waited = c
        .oldest_pending
        .map_or(0.0, |t| ((now.0 - t.0).max(0)) as f64 / 1000.0);
    out.push_str(&format!(
        "# HELP bellwether_outbox_oldest_pending_seconds How long the oldest undelivered entry has waited (0 when none).\n\
         # TYPE bellwether_outbox_oldest_pending_seconds gauge\nbellwether_outbox_oldest_pending_seconds {waited:.3}\n"
    ));
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_outbox_metrics_show_each_state_and_the_oldest_wait() {
        let c = bellwether_store::OutboxCounts {
            pending: 2,
            delivered: 5,
            parked: 1,
            folded: 3,
            oldest_pending: Some(bellwether_core::Timestamp(1_000)),
        };
        let m = super::outbox_metrics(&c, bellwether_core::Timestamp(4_500));
        assert!(
            m.contains("bellwether_outbox_entries{state=\"pending\"} 2\n"),
            "{m}"
        );
        assert!(
            m.contains("bellwether_outbox_entries{state=\"parked\"} 1\n"),
            "{m}"
        );
        assert!(
            m.contains("bellwether_outbox_entries{state=\"folded\"} 3\n"),
            "{m}"
        );
        assert!(
            m.contains("bellwether_outbox_oldest_pending_seconds 3.500\n"),
            "{m}"
        );
    }
}

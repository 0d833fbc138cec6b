//! The router: one module per resource, the file tree following the URL tree, and the layers every request
//! passes (request id, structured trace, gzip in and out, metrics, the JSON 404).

mod health;
mod reads;
mod records;
mod signals;
mod slack;
mod tracking;
mod webhooks;

pub use records::{interaction_records, zendesk_records};
pub use slack::{parse_click, slack_signature, Button, Click, People, Person, SlackApp};
pub use tracking::read_batch;

use crate::error::{ApiError, ApiResult};
use crate::Shared;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use bellwether_core::Code;
use bellwether_store::LiveStore;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tower_http::compression::CompressionLayer;
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

/// Request ids: a per-process random prefix and a counter.
#[derive(Clone)]
struct Ids {
    prefix: std::sync::Arc<str>,
    next: std::sync::Arc<AtomicU64>,
}

impl MakeRequestId for Ids {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// The whole router.
pub fn router<S: LiveStore>(state: Shared<S>) -> Router {
    let mut seed = [0u8; 4];
    let _ = getrandom::fill(&mut seed);
    let ids = Ids {
        prefix: crate::auth::hex(&seed).into(),
        next: Default::default(),
    };
    Router::new()
        .merge(health::routes())
        .merge(reads::routes())
        .merge(records::routes())
        .merge(signals::routes())
        .merge(tracking::routes())
        .merge(webhooks::routes())
        .merge(slack::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), measure::<S>))
        .layer(RequestDecompressionLayer::new().gzip(true).pass_through_unaccepted(false))
        .layer(axum::middleware::from_fn(crate::error::shape))
        .layer(CompressionLayer::new().gzip(true))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<Body>| {
            let id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path())
        }).on_response(DefaultOnResponse::new().level(tracing::Level::INFO)))
        .layer(SetRequestIdLayer::x_request_id(ids))
        .with_state(state)
}

async fn not_found(req: Request) -> ApiError {
    ApiError::route_not_found(req.method(), req.uri().path())
}

async fn measure<S: LiveStore>(State(st): State<Shared<S>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let t = Instant::now();
    let resp = next.run(req).await;
    st.metrics
        .request(&route, resp.status().as_u16(), t.elapsed().as_secs_f64());
    resp
}

/// Reads a request body of at most `limit` bytes (after decompression).
pub(crate) async fn read_body(body: Body, limit: usize) -> ApiResult<Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if c.is::<tower_http::timeout::TimeoutError>() {
                return ApiError::new(
                    Code::RequestTimeout,
                    "the request body stopped arriving before it was complete; nothing was stored, resend it",
                );
            }
            cause = c.source();
        }
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.to_string().contains("length limit"))
            || e.to_string().contains("length limit");
        if too_large {
            ApiError::new(
                Code::PayloadTooLarge,
                format!(
                    "the body is larger than {} KB after decompression; send smaller batches",
                    limit / 1024
                ),
            )
        } else {
            ApiError::new(
                Code::InvalidJson,
                format!("the body could not be read: {e}; check its Content-Encoding"),
            )
        }
    })
}

/// Requires a JSON body (`application/json`, or `text/plain` as browsers send to avoid a preflight).
pub(crate) fn require_json(headers: &HeaderMap) -> ApiResult<()> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let base = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if base == "application/json" || base == "text/plain" || base.ends_with("+json") {
        Ok(())
    } else {
        Err(ApiError::new(
            Code::UnsupportedMediaType,
            format!(
                "the body's content type is '{}'; send JSON with `Content-Type: application/json`",
                if ct.is_empty() { "(none)" } else { ct }
            ),
        ))
    }
}

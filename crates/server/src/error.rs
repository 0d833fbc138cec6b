//! The API's error: a product [`Code`] with a message that says what to do and the part of the request at
//! fault. Rendered as `{"code", "message", "type", "link", "path"}` with the code's HTTP status; `path` is the
//! JSON path of the field at fault (`batch[3].timestamp`), the request part for whole-request errors
//! (`authorization`, `content-type`, `body`, `method` …), or `null` when nothing in the request is at fault
//! (the server is unavailable). [`shape`] gives every other error answer (a 405, a 415 from the decompression
//! layer) the same shape.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bellwether_core::Code;
use bellwether_store::StoreError;

/// An error answered to an HTTP client.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The stable code.
    pub code: Code,
    /// A full sentence naming the bad value and what to do.
    pub message: String,
    /// The JSON path of the field at fault, when there is one (`batch[3].timestamp`).
    pub path: Option<String>,
    /// Seconds to wait before retrying, sent as `Retry-After`.
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// An error with a code and message.
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            path: None,
            retry_after: None,
        }
    }

    /// No endpoint answers `method` on `path`.
    pub fn route_not_found(method: &impl std::fmt::Display, path: &str) -> ApiError {
        ApiError::new(
            Code::RouteNotFound,
            format!("no endpoint answers {method} {path}; see docs/ for the source guides"),
        )
    }

    /// The same error, asking the client to retry after `seconds`.
    pub fn retry_after(mut self, seconds: u32) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }

    /// The same error, naming the field at fault.
    pub fn at(mut self, path: impl Into<String>) -> ApiError {
        self.path = Some(path.into());
        self
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.code.name(),
            "message": self.message,
            "type": self.code.error_type(),
            "link": self.code.link(),
            "path": self.path.as_deref().or_else(|| request_part(self.code)),
        })
    }
}

/// The part of a request a whole-request error is about, when its code says (`None`: nothing the client
/// sent is at fault).
fn request_part(code: Code) -> Option<&'static str> {
    Some(match code {
        Code::Unauthorized | Code::Forbidden => "authorization",
        Code::InvalidSignature => "signature",
        Code::UnsupportedMediaType => "content-type",
        Code::PayloadTooLarge | Code::InvalidJson | Code::RequestTimeout => "body",
        Code::MethodNotAllowed => "method",
        Code::RouteNotFound => "url",
        _ => return None,
    })
}

/// Gives an error answer made outside the handlers (axum's 405, the decompression layer's 415, a body limit's
/// 413) the documented JSON shape; answers that already are JSON pass unchanged.
pub async fn shape(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use axum::http::header;
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let encoding = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let resp = next.run(req).await;
    let status = resp.status();
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if json || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let allow = resp.headers().get(header::ALLOW).cloned();
    let err = match status.as_u16() {
        405 => ApiError::new(
            Code::MethodNotAllowed,
            format!(
                "{path} does not take {method}{}",
                allow
                    .as_ref()
                    .and_then(|a| a.to_str().ok())
                    .map(|a| format!("; it takes {a}"))
                    .unwrap_or_default()
            ),
        ),
        415 => match &encoding {
            Some(e) => ApiError::new(
                Code::UnsupportedMediaType,
                format!("Content-Encoding '{e}' is not taken; send the body as is or gzip-compressed"),
            )
            .at("content-encoding"),
            None => ApiError::new(
                Code::UnsupportedMediaType,
                "the body's content type is not taken here; send JSON",
            ),
        },
        413 => ApiError::new(
            Code::PayloadTooLarge,
            "the body is larger than this endpoint takes; send smaller batches",
        ),
        408 => ApiError::new(
            Code::RequestTimeout,
            "the request did not arrive in time; resend it",
        ),
        404 => ApiError::route_not_found(&method, &path),
        s if s >= 500 => ApiError::new(
            Code::Internal,
            "the request failed inside Bellwether; please report it with the request id",
        ),
        _ => ApiError::new(
            Code::InvalidArgument,
            format!("the request was refused ({status}); see docs/server.md for what this endpoint takes"),
        ),
    };
    let mut out = err.into_response();
    *out.status_mut() = status;
    if let Some(a) = allow {
        out.headers_mut().insert(header::ALLOW, a);
    }
    out
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// The `Retry-After` of a request the store could not serve.
pub const STORE_RETRY_SECONDS: u32 = 2;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            // The database restarting, a connection lost, a deadlock: the client comes back shortly.
            StoreError::Conflict(_) | StoreError::Unavailable(_) => ApiError::new(
                Code::ServiceUnavailable,
                format!("{e}; nothing was stored, retrying is safe"),
            )
            .retry_after(STORE_RETRY_SECONDS),
            _ => ApiError::new(e.code(), e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(code = %self.code, message = %self.message, "request failed");
        }
        let retry = self.retry_after;
        let mut r = (status, axum::Json(self.body())).into_response();
        if let Some(s) = retry {
            r.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, s.into());
        }
        r
    }
}

/// The result alias of handlers.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_that_cannot_serve_asks_the_client_to_retry() {
        for e in [
            StoreError::Unavailable("connection refused".into()),
            StoreError::Conflict("deadlock detected (40P01)".into()),
        ] {
            let r = ApiError::from(e).into_response();
            assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(
                r.headers()
                    .get(axum::http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()),
                Some(STORE_RETRY_SECONDS.to_string().as_str())
            );
        }
        let nf = ApiError::from(StoreError::NotFound("account a1".into())).into_response();
        assert!(nf.headers().get(axum::http::header::RETRY_AFTER).is_none());
    }
}

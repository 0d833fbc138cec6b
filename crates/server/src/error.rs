//! The API's error: a product [`Code`] with a message that says what to do and, where one field is at fault,
//! its path. Rendered as `{"code", "message", "type", "link", "path"?}` with the code's HTTP status.

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
        let mut v = serde_json::json!({
            "code": self.code.name(),
            "message": self.message,
            "type": self.code.error_type(),
            "link": self.code.link(),
        });
        if let Some(p) = &self.path {
            v["path"] = p.clone().into();
        }
        v
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(_) | StoreError::Unavailable(_) => ApiError::new(
                Code::ServiceUnavailable,
                format!("{e}; nothing was stored, retrying is safe"),
            ),
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

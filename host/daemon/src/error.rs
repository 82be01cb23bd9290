//! Errors as HTTP responses: every one is a JSON [`ApiError`] body with a
//! status that matches its code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::api::ApiError;

/// The HTTP status of an error code.
///
/// ```
/// use axum::http::StatusCode;
/// assert_eq!(plugwire_daemon::error::http_status("not_found"), StatusCode::NOT_FOUND);
/// assert_eq!(plugwire_daemon::error::http_status("rate_limited"), StatusCode::TOO_MANY_REQUESTS);
/// ```
pub fn http_status(code: &str) -> StatusCode {
    match code {
        "invalid_argument" | "malformed_request" | "usage" => StatusCode::BAD_REQUEST,
        "unauthenticated" => StatusCode::UNAUTHORIZED,
        "permission_denied" | "forbidden" => StatusCode::FORBIDDEN,
        "not_found" => StatusCode::NOT_FOUND,
        "method_not_allowed" => StatusCode::METHOD_NOT_ALLOWED,
        "request_timeout" => StatusCode::REQUEST_TIMEOUT,
        "conflict" | "failed_precondition" => StatusCode::CONFLICT,
        "payload_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        "tool_error" => StatusCode::UNPROCESSABLE_ENTITY,
        "unsupported_media_type" => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "rate_limited" | "resource_exhausted" => StatusCode::TOO_MANY_REQUESTS,
        "cancelled" => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        "unimplemented" => StatusCode::NOT_IMPLEMENTED,
        "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        "deadline_exceeded" => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (http_status(&self.code), axum::Json(self)).into_response()
    }
}

impl From<tonic::Status> for ApiError {
    fn from(status: tonic::Status) -> Self {
        Self::from_status(&status)
    }
}

/// What the handlers return.
pub type ApiResult<T> = Result<T, ApiError>;

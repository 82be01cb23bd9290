//! What one client may ask of the daemon: body sizes, how long it may take
//! to send them, connections at once. A slow or stuck client meets these
//! instead of holding the daemon.

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

use crate::api::ApiError;

/// The daemon's limits on clients.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, except a command's stdin (streamed).
    pub max_body: usize,
    /// Time a client has to send a request's headers.
    pub header_timeout: Duration,
    /// Time a client has to send a whole (non-streamed) body.
    pub body_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// Requests per second one token may make over TCP (a burst of twice
    /// that is allowed).
    pub token_rate: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body: 1 << 20,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 256,
            token_rate: 50,
        }
    }
}

/// Reads a whole body within the size cap and the deadline.
pub(crate) async fn read_body(body: Body, limits: &Limits) -> Result<Bytes, ApiError> {
    let limited = http_body_util::Limited::new(body, limits.max_body);
    match tokio::time::timeout(limits.body_timeout, limited.collect()).await {
        Err(_) => Err(ApiError::new(
            "request_timeout",
            format!(
                "the request body did not arrive within {:?}",
                limits.body_timeout
            ),
        )
        .with_hint("send the whole body at once")),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::new(
            "payload_too_large",
            format!("the request body is over {} bytes", limits.max_body),
        )
        .with_hint("send a smaller body; the limit is the daemon's --max-body")),
        Ok(Err(e)) => Err(ApiError::new(
            "malformed_request",
            format!("cannot read the request body: {e}"),
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

/// Parses a JSON body; an empty body is `{}`.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new("malformed_request", format!("the body is not {what}: {e}"))
            .with_hint("the OpenAPI document (GET /v1/openapi.json) describes each body")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_oversized_body_is_refused() {
        let limits = Limits {
            max_body: 8,
            ..Limits::default()
        };
        let e = read_body(Body::from("0123456789"), &limits)
            .await
            .unwrap_err();
        assert_eq!(e.code, "payload_too_large");
        assert_eq!(
            read_body(Body::from("01234567"), &limits).await.unwrap(),
            "01234567"
        );
    }

    #[test]
    fn json_errors_say_what_was_expected() {
        let e = parse_json::<crate::api::CallRequest>(b"{", "a call request").unwrap_err();
        assert_eq!(e.code, "malformed_request");
        assert!(
            e.message.starts_with("the body is not a call request"),
            "{}",
            e.message
        );
        let empty: crate::api::CallRequest = parse_json(b"", "a call request").unwrap();
        assert_eq!(empty.arguments, serde_json::json!({}));
    }
}

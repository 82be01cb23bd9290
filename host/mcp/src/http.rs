//! The bridge over MCP's streamable HTTP transport, as a tower service to
//! mount at a path of an HTTP server (the daemon serves it at `/mcp`).
//!
//! The service does no authentication and no `Host` check of its own: the
//! server that mounts it does both (the daemon's Unix socket is its user's
//! alone; its TCP listener wants a bearer token and a loopback `Host`).
//! Sessions are kept in memory, one bridge each, and end with the service.

use std::sync::Arc;

use plugwire_host::Host;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::Bridge;

/// The streamable HTTP service of [`http_service`].
pub type McpHttpService = StreamableHttpService<Bridge, LocalSessionManager>;

/// MCP over HTTP for `host`'s plugins, taking request bodies of up to
/// `max_body` bytes, until `shutdown` is cancelled (which ends open event
/// streams).
///
/// ```no_run
/// # async fn f(host: plugwire_host::Host) {
/// let shutdown = tokio_util::sync::CancellationToken::new();
/// let service = plugwire_mcp::http::http_service(host, 1 << 20, shutdown.clone());
/// let app = axum::Router::new().nest_service("/mcp", service);
/// # let _app: axum::Router = app;
/// # }
/// ```
pub fn http_service(host: Host, max_body: usize, shutdown: CancellationToken) -> McpHttpService {
    let mut config = StreamableHttpServerConfig::default().disable_allowed_hosts();
    config.cancellation_token = shutdown;
    config.max_request_body_bytes = max_body;
    StreamableHttpService::new(
        move || Ok(Bridge::new(host.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    )
}

//! `/mcp`: every plugin tool for MCP clients, over MCP's streamable HTTP
//! transport (docs/mcp.md): `POST` sends requests, `GET` opens the event
//! stream, `DELETE` ends a session. Calling tools needs the `call` scope.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::http::Method;
use axum::response::Response;
use tower::ServiceExt;

use super::Routes;
use crate::need::Need;
use crate::state::State;
use crate::tokens::Scope;

pub(super) fn add(routes: Routes) -> Routes {
    let call = Need::Scope(Scope::Call);
    routes
        .add(Method::POST, "/mcp", call, mcp)
        .add(Method::GET, "/mcp", call, mcp)
        .add(Method::DELETE, "/mcp", call, mcp)
}

async fn mcp(AxumState(state): AxumState<Arc<State>>, request: Request) -> Response {
    match state.mcp.clone().oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    }
}

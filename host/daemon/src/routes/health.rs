//! `GET /v1/health` and `GET /v1/openapi.json`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State as AxumState;
use axum::http::{Method, header};
use axum::response::IntoResponse;

use super::Routes;
use crate::api::Health;
use crate::need::Need;
use crate::state::State;
use crate::tokens::Scope;

pub(super) fn add(routes: Routes) -> Routes {
    routes
        .add(Method::GET, "/v1/health", Need::Scope(Scope::Read), health)
        .add(Method::GET, "/v1/openapi.json", Need::Public, openapi)
}

async fn health(AxumState(state): AxumState<Arc<State>>) -> Json<Health> {
    let status = state.host.status();
    let count = |wanted: &str| {
        status
            .iter()
            .filter(|s| s.state.to_string() == wanted)
            .count()
    };
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        pid: std::process::id(),
        uptime_ms: state.started.elapsed().as_millis() as u64,
        plugins: status.len(),
        ready: count("ready"),
        failed: count("failed"),
    })
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], crate::OPENAPI)
}

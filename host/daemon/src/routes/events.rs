//! Events: emit one, and follow the bus (lifecycle and emitted events) as
//! server-sent events.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State as AxumState};
use axum::http::Method;
use axum::response::IntoResponse;
use axum::response::sse::{KeepAlive, Sse};
use serde_json::Value;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::Routes;
use super::tools::json_event;
use crate::api::{EmitView, EventView, PluginHook};
use crate::error::ApiResult;
use crate::limits::{parse_json, read_body};
use crate::need::Need;
use crate::state::State;
use crate::tokens::Scope::{Call, Read};

pub(super) fn add(routes: Routes) -> Routes {
    routes
        .add(Method::GET, "/v1/events", Need::Scope(Read), follow)
        .add(Method::POST, "/v1/events/{name}", Need::Scope(Call), emit)
        .add(Method::GET, "/v1/hooks", Need::Scope(Read), hooks)
}

/// Every plugin's hook subscriptions.
async fn hooks(AxumState(state): AxumState<Arc<State>>) -> Json<Vec<PluginHook>> {
    Json(
        state
            .host
            .hooks()
            .await
            .iter()
            .map(PluginHook::from)
            .collect(),
    )
}

async fn emit(
    AxumState(state): AxumState<Arc<State>>,
    Path(name): Path<String>,
    body: Body,
) -> ApiResult<Json<EmitView>> {
    let bytes = read_body(body, &state.limits).await?;
    let payload: Value = parse_json(&bytes, "the event's payload as JSON")?;
    let outcome = state.host.emit(&name, payload).await?;
    Ok(Json(EmitView::from(&outcome)))
}

/// Every event from now on; a client too slow to keep up is told how many
/// it missed (`event: lagged`) rather than holding the bus.
async fn follow(AxumState(state): AxumState<Arc<State>>) -> impl IntoResponse {
    let events = BroadcastStream::new(state.host.subscribe()).map(|item| {
        Ok::<_, Infallible>(match item {
            Ok(event) => json_event("event", &EventView::from(&event)),
            Err(BroadcastStreamRecvError::Lagged(missed)) => {
                json_event("lagged", &serde_json::json!({"missed": missed}))
            }
        })
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

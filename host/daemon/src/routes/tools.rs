//! Tools: list them, call one (with progress as server-sent events when
//! the client accepts `text/event-stream`).

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, Method, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use plugwire_host::{CallOptions, Progress};
use tokio_stream::wrappers::ReceiverStream;

use super::Routes;
use crate::api::{ApiError, CallRequest, CallResult, ProgressView, ToolView};
use crate::error::ApiResult;
use crate::limits::{parse_json, read_body};
use crate::need::Need;
use crate::state::State;
use crate::tokens::Scope::{Call, Read};

pub(super) fn add(routes: Routes) -> Routes {
    routes
        .add(Method::GET, "/v1/tools", Need::Scope(Read), list)
        .add(
            Method::POST,
            "/v1/tools/{tool}/call",
            Need::Scope(Call),
            call,
        )
}

async fn list(AxumState(state): AxumState<Arc<State>>) -> Json<Vec<ToolView>> {
    Json(
        state
            .host
            .tools()
            .await
            .iter()
            .map(ToolView::from)
            .collect(),
    )
}

pub(crate) fn wants_events(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"))
}

async fn call(
    AxumState(state): AxumState<Arc<State>>,
    Path(tool): Path<String>,
    caller: Option<axum::Extension<crate::auth::Caller>>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let bytes = read_body(body, &state.limits).await?;
    let request: CallRequest = parse_json(&bytes, "a call request {\"arguments\": {...}}")?;
    let mut options = CallOptions::default();
    if let Some(axum::Extension(caller)) = caller {
        options = options.actor(caller.actor());
    }
    if let Some(t) = request.timeout() {
        options = options.timeout(t);
    }
    if !wants_events(&headers) {
        let output = state
            .host
            .call_tool(&tool, request.arguments, options)
            .await?;
        return Ok(Json(CallResult {
            is_error: output.is_error,
            content: output.content,
        })
        .into_response());
    }
    // Progress first, then the result (or the error) as the last event.
    // A client that goes away drops the stream, and with it the call.
    let (progress_tx, progress_rx) = tokio::sync::mpsc::channel::<Progress>(64);
    let (events_tx, events_rx) = tokio::sync::mpsc::channel::<Event>(64);
    let options = options.progress(progress_tx);
    let call = async move {
        let result = state
            .host
            .call_tool(&tool, request.arguments, options)
            .await;
        match result {
            Ok(output) => json_event(
                "result",
                &CallResult {
                    is_error: output.is_error,
                    content: output.content,
                },
            ),
            Err(status) => json_event("error", &ApiError::from_status(&status)),
        }
    };
    let watch = events_tx.clone();
    tokio::spawn(async move {
        let forward = ReceiverStream::new(progress_rx).for_each(|p| {
            let events = events_tx.clone();
            async move {
                let view = ProgressView {
                    progress: p.progress,
                    total: p.total,
                    message: p.message,
                };
                let _ = events.send(json_event("progress", &view)).await;
            }
        });
        tokio::select! {
            (last, ()) = async { tokio::join!(call, forward) } => {
                let _ = watch.send(last).await;
            }
            // The client left: dropping the call cancels it in the plugin.
            () = watch.closed() => {}
        }
    });
    let stream = ReceiverStream::new(events_rx).map(Ok::<_, Infallible>);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// A server-sent event whose data is `value` as JSON.
pub(crate) fn json_event(name: &str, value: &impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .data(serde_json::to_string(value).unwrap_or_default())
}

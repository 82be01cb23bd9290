//! Logs: the recent records as JSON, or, with `follow=true`, those and
//! every new one as server-sent events.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State as AxumState};
use axum::http::Method;
use axum::response::sse::{KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::Routes;
use super::tools::json_event;
use crate::api::LogView;
use crate::need::Need;
use crate::state::State;
use crate::tokens::Scope::Read;

/// How often a follower looks for new records.
const POLL: Duration = Duration::from_millis(200);

pub(super) fn add(routes: Routes) -> Routes {
    routes.add(Method::GET, "/v1/logs", Need::Scope(Read), logs)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogQuery {
    /// Only this plugin's.
    plugin: Option<String>,
    /// Only records after this one.
    #[serde(default)]
    after: u64,
    /// Keep the stream open for new records.
    #[serde(default)]
    follow: bool,
}

fn since(state: &State, plugin: Option<&str>, after: u64) -> Vec<LogView> {
    state
        .host
        .logs(plugin)
        .iter()
        .filter(|r| r.seq > after)
        .map(LogView::from)
        .collect()
}

async fn logs(AxumState(state): AxumState<Arc<State>>, Query(q): Query<LogQuery>) -> Response {
    if !q.follow {
        return Json(since(&state, q.plugin.as_deref(), q.after)).into_response();
    }
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        let mut after = q.after;
        loop {
            for record in since(&state, q.plugin.as_deref(), after) {
                after = record.seq;
                if tx.send(json_event("log", &record)).await.is_err() {
                    return;
                }
            }
            tokio::select! {
                () = tx.closed() => return,
                () = tokio::time::sleep(POLL) => {}
            }
        }
    });
    let stream = tokio_stream::StreamExt::map(
        tokio_stream::wrappers::ReceiverStream::new(rx),
        Ok::<_, Infallible>,
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

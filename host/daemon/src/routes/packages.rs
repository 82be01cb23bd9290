//! `POST /v1/packages` and `POST /v1/plugins/{name}/update`: package
//! changes through the application's [`PackageManager`], then the live
//! host brought up to date (a new plugin added, a replaced one reloaded,
//! dropping no call).

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State as AxumState};
use axum::http::{Method, StatusCode};

use super::Routes;
use crate::api::{ApiError, PluginView};
use crate::error::ApiResult;
use crate::limits::{parse_json, read_body};
use crate::need::Need;
use crate::packages::{
    InstallOutcome, InstallRequest, PackageManager, UpdateOutcome, UpdateRequest,
};
use crate::state::State;
use crate::tokens::Scope::Admin;

pub(super) fn add(routes: Routes) -> Routes {
    routes
        .add(Method::POST, "/v1/packages", Need::Scope(Admin), install)
        .add(
            Method::POST,
            "/v1/plugins/{name}/update",
            Need::Scope(Admin),
            update,
        )
}

fn manager(state: &State) -> ApiResult<Arc<dyn PackageManager>> {
    state.packages.clone().ok_or_else(|| {
        ApiError::new(
            "unimplemented",
            "this daemon was started without a package manager",
        )
        .with_hint(
            "`plugwire serve` has one; an embedding application passes DaemonOptions::packages",
        )
    })
}

async fn install(
    AxumState(state): AxumState<Arc<State>>,
    body: Body,
) -> ApiResult<(StatusCode, Json<Vec<InstallOutcome>>)> {
    let bytes = read_body(body, &state.limits).await?;
    let request: InstallRequest = parse_json(&bytes, "an install request {\"source\": ...}")?;
    let installed = manager(&state)?.install(request).await?;
    let mut outcomes = Vec::new();
    for plugin in installed {
        let started = match state.add_running(&plugin.name, &plugin.dir).await {
            Ok((_, started)) => started,
            Err(e) => Err(e),
        };
        let status = state
            .host
            .status()
            .iter()
            .find(|s| s.name == plugin.name)
            .map(PluginView::from);
        let start_error = started.err().map(|e| ApiError::from_status(&e));
        outcomes.push(InstallOutcome {
            installed: plugin,
            status,
            start_error,
        });
    }
    Ok((StatusCode::CREATED, Json(outcomes)))
}

async fn update(
    AxumState(state): AxumState<Arc<State>>,
    Path(name): Path<String>,
    body: Body,
) -> ApiResult<Json<UpdateOutcome>> {
    let bytes = read_body(body, &state.limits).await?;
    let request: UpdateRequest = parse_json(&bytes, "an update request")?;
    let updated = manager(&state)?.update(name.clone(), request).await?;
    let status = match &updated {
        None => None,
        Some(_) => Some(PluginView::from(&state.reload_running(&name).await?)),
    };
    Ok(Json(UpdateOutcome { updated, status }))
}

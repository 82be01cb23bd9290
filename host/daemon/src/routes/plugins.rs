//! Plugins: list, details, reload, enable, disable, remove, add, and
//! their configuration.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State as AxumState};
use axum::http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use super::Routes;
use crate::api::{ApiError, PluginDetail, PluginList, PluginView};
use crate::error::ApiResult;
use crate::limits::{parse_json, read_body};
use crate::need::Need;
use crate::state::State;
use crate::tokens::Scope::{Admin, Read};
use crate::views::{detail as plugin_detail, no_plugin, plugin_list};

pub(super) fn add(routes: Routes) -> Routes {
    routes
        .add(Method::GET, "/v1/plugins", Need::Scope(Read), list)
        .add(Method::POST, "/v1/plugins", Need::Scope(Admin), add_dir)
        .add(Method::GET, "/v1/plugins/{name}", Need::Scope(Read), detail)
        .add(
            Method::DELETE,
            "/v1/plugins/{name}",
            Need::Scope(Admin),
            remove,
        )
        .add(
            Method::POST,
            "/v1/plugins/{name}/reload",
            Need::Scope(Admin),
            reload,
        )
        .add(
            Method::POST,
            "/v1/plugins/{name}/enable",
            Need::Scope(Admin),
            enable,
        )
        .add(
            Method::POST,
            "/v1/plugins/{name}/disable",
            Need::Scope(Admin),
            disable,
        )
        .add(
            Method::GET,
            "/v1/plugins/{name}/config",
            Need::Scope(Read),
            get_config,
        )
        .add(
            Method::PUT,
            "/v1/plugins/{name}/config",
            Need::Scope(Admin),
            set_config,
        )
}

async fn list(AxumState(state): AxumState<Arc<State>>) -> Json<PluginList> {
    Json(plugin_list(&state.host))
}

async fn detail(
    AxumState(state): AxumState<Arc<State>>,
    Path(name): Path<String>,
) -> ApiResult<Json<PluginDetail>> {
    plugin_detail(&state.host, &name).await.map(Json)
}

fn view_of(state: &State, name: &str) -> ApiResult<Json<PluginView>> {
    state
        .host
        .status()
        .iter()
        .find(|s| s.name == name)
        .map(|s| Json(PluginView::from(s)))
        .ok_or_else(|| no_plugin(name))
}

async fn reload(
    AxumState(state): AxumState<Arc<State>>,
    Path(name): Path<String>,
) -> ApiResult<Json<PluginView>> {
    let status = state.reload_running(&name).await?;
    Ok(Json(PluginView::from(&status)))
}

async fn enable(
    AxumState(state): AxumState<Arc<State>>,
    Path(name): Path<String>,
) -> ApiResult<Json<PluginView>> {
    state.refresh_grants();
    state.host.set_enabled(&name, true).await?;
    remember(&state, &name, true).await?;
    view_of(&state, &name)
}

async fn disable(
    AxumState(state): AxumState<Arc<State>>,
    Path(name): Path<String>,
) -> ApiResult<Json<PluginView>> {
    state.host.set_enabled(&name, false).await?;
    remember(&state, &name, false).await?;
    view_of(&state, &name)
}

async fn remove(
    AxumState(state): AxumState<Arc<State>>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    state.host.remove_plugin(&name).await?;
    // An installed plugin is uninstalled too: it would come back at the
    // daemon's next start otherwise.
    if let Some(packages) = &state.packages {
        packages.uninstall(name).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// An installed plugin's enabled state, remembered for the next start.
async fn remember(state: &State, name: &str, enabled: bool) -> ApiResult<()> {
    if let Some(packages) = &state.packages {
        packages.remember_enabled(name.to_owned(), enabled).await?;
    }
    Ok(())
}

/// The body of `POST /v1/plugins`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddRequest {
    /// The plugin's directory on the daemon's machine.
    dir: std::path::PathBuf,
}

/// Adds the plugin in a directory, or reloads it when one of that name is
/// already there (the directory was just installed over).
async fn add_dir(
    AxumState(state): AxumState<Arc<State>>,
    body: Body,
) -> ApiResult<(StatusCode, Json<PluginView>)> {
    let bytes = read_body(body, &state.limits).await?;
    let request: AddRequest = parse_json(&bytes, "{\"dir\": PATH}")?;
    let manifest = plugwire_host::manifest::Manifest::load(&request.dir).map_err(|e| {
        ApiError::new("invalid_argument", e.to_string())
            .with_hint("the directory must hold a plugin.toml (docs/manifest.md)")
    })?;
    // A start failure of a new plugin shows in its status.
    let (created, _) = state.add_running(&manifest.name, &request.dir).await?;
    let code = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    view_of(&state, &manifest.name).map(|view| (code, view))
}

async fn get_config(
    AxumState(state): AxumState<Arc<State>>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(state.host.plugin_config(&name)?))
}

async fn set_config(
    AxumState(state): AxumState<Arc<State>>,
    Path(name): Path<String>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let bytes = read_body(body, &state.limits).await?;
    let config: Value = parse_json(&bytes, "the plugin's configuration as a JSON object")?;
    state.host.configure_plugin(&name, config).await?;
    Ok(Json(state.host.plugin_config(&name)?))
}

//! Dashboard panels: the list of them, a token for one, and their static
//! files, served from the plugin's own directory inside a sandbox (the
//! `sandbox` directive of their content security policy gives each an
//! opaque origin of its own, whoever frames it or opens it).

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State as AxumState};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};

use super::Routes;
use crate::api::{ApiError, PanelToken, PanelView};
use crate::need::Need;
use crate::state::{PANEL_TOKEN_LIFE, State};
use crate::tokens::Scope::Read;

/// Largest panel file served.
const MAX_FILE: u64 = 4 << 20;

/// Panels run scripts from their own folder and reach the daemon only
/// through `fetch`, with the token they were given.
const PANEL_POLICY: &str = "sandbox allow-scripts allow-forms; default-src 'none'; \
     script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

pub(super) fn add(routes: Routes) -> Routes {
    routes
        .add(Method::GET, "/v1/panels", Need::Scope(Read), list)
        .add(
            Method::POST,
            "/v1/panels/{name}/token",
            Need::Scope(Read),
            token,
        )
        .add(Method::GET, "/panels/{name}/{*path}", Need::Public, file)
}

async fn list(AxumState(state): AxumState<Arc<State>>) -> Json<Vec<PanelView>> {
    let panels = state
        .host
        .status()
        .iter()
        .filter(|s| s.enabled)
        .filter_map(|s| {
            let manifest = state.host.manifest(&s.name).ok()?;
            let panel = manifest.http.panel?;
            Some(PanelView {
                plugin: s.name.clone(),
                title: panel.title.unwrap_or_else(|| s.name.clone()),
                url: format!(
                    "/panels/{}/index.html",
                    crate::client::encode_segment(&s.name)
                ),
            })
        })
        .collect();
    Json(panels)
}

async fn token(
    AxumState(state): AxumState<Arc<State>>,
    Path(name): Path<String>,
) -> Result<Json<PanelToken>, ApiError> {
    let manifest = state
        .host
        .manifest(&name)
        .map_err(|_| crate::views::no_plugin(&name))?;
    if manifest.http.panel.is_none() {
        return Err(ApiError::new(
            "not_found",
            format!("plugin {name:?} has no panel"),
        ));
    }
    let token = state
        .panels
        .issue(&name)
        .map_err(|why| ApiError::new("internal", why))?;
    Ok(Json(PanelToken {
        token,
        expires_in_ms: PANEL_TOKEN_LIFE.as_millis() as u64,
    }))
}

async fn file(
    AxumState(state): AxumState<Arc<State>>,
    Path((name, path)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let manifest = state
        .host
        .manifest(&name)
        .map_err(|_| crate::views::no_plugin(&name))?;
    let panel = manifest
        .http
        .panel
        .ok_or_else(|| ApiError::new("not_found", format!("plugin {name:?} has no panel")))?;
    let found = inside(&manifest.dir.join(&panel.dir), &path).ok_or_else(|| {
        ApiError::new("not_found", format!("{name}'s panel has no file {path:?}"))
    })?;
    let bytes = read_capped(&found).map_err(|why| ApiError::new("not_found", why))?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type(&found)),
            (header::CONTENT_SECURITY_POLICY, PANEL_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        bytes,
    )
        .into_response())
}

/// `path` under `base`, as a regular file that is really inside it (no
/// `..`, no link that leads out).
fn inside(base: &FsPath, path: &str) -> Option<PathBuf> {
    if path.is_empty()
        || path.starts_with('/')
        || path.contains('\0')
        || path
            .split('/')
            .any(|p| p == ".." || p == "." || p.is_empty())
    {
        return None;
    }
    let base = base.canonicalize().ok()?;
    let found = base.join(path).canonicalize().ok()?;
    (found.starts_with(&base) && found.is_file()).then_some(found)
}

fn read_capped(path: &FsPath) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read the panel file: {e}"))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(format!("the panel file is over {MAX_FILE} bytes"));
    }
    Ok(bytes)
}

fn content_type(path: &FsPath) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_outside_the_panel_are_not_served() {
        let root = tempfile::tempdir().unwrap();
        let panel = root.path().join("panel");
        std::fs::create_dir(&panel).unwrap();
        std::fs::write(panel.join("index.html"), "<p>hi</p>").unwrap();
        std::fs::write(root.path().join("secret"), "key").unwrap();
        std::os::unix::fs::symlink(root.path().join("secret"), panel.join("link")).unwrap();
        assert!(inside(&panel, "index.html").is_some());
        assert!(inside(&panel, "../secret").is_none());
        assert!(inside(&panel, "link").is_none(), "a link that leads out");
        assert!(inside(&panel, "/etc/passwd").is_none());
        assert!(inside(&panel, "").is_none(), "a directory");
    }
}

//! Who is asking, and whether they may. Over the Unix socket the peer is
//! the daemon's own user (checked when the connection is accepted) and
//! may do everything; over TCP every request needs a bearer token whose
//! scope covers the route, within the token's rate.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State as AxumState};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::ApiError;
use crate::need::Need;
use crate::state::State;
use crate::tokens::{PANEL_PREFIX, Scope};

/// How a request reached the daemon, set on each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// The Unix socket, from a peer with the daemon's uid.
    Local,
    /// The TCP listener, on this port.
    Tcp(u16),
}

/// Who a request comes from, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Caller {
    /// The daemon's own user, over the Unix socket.
    Local,
    /// A token holder.
    Token {
        /// The token's id.
        id: String,
        /// Its scope.
        scope: Scope,
    },
    /// A dashboard panel, with the token the dashboard gave it: it may
    /// reach its own plugin only.
    Panel {
        /// The plugin.
        plugin: String,
    },
    /// Nobody in particular (a public route over TCP).
    Anonymous,
}

impl Caller {
    /// How the audit log names it.
    pub(crate) fn actor(&self) -> String {
        match self {
            Self::Local => "user".into(),
            Self::Token { id, .. } => format!("token:{id}"),
            Self::Panel { plugin } => format!("panel:{plugin}"),
            Self::Anonymous => "anonymous".into(),
        }
    }
}

/// Checks a request against what its route needs: the layer in front of
/// every management route.
pub(crate) async fn authorize(
    AxumState(state): AxumState<Arc<State>>,
    matched: Option<MatchedPath>,
    mut request: Request,
    next: Next,
) -> Response {
    let need = matched
        .as_ref()
        .and_then(|m| {
            state
                .needs
                .get(&(request.method().clone(), m.as_str()))
                .copied()
        })
        // A route missing from the table is a bug; fail closed.
        .unwrap_or(Need::Scope(Scope::Admin));
    let transport = request
        .extensions()
        .get::<Transport>()
        .copied()
        .unwrap_or(Transport::Tcp(0));
    let target = (request.method().clone(), request.uri().path().to_owned());
    match check(&state, transport, request.headers(), need, &target) {
        Ok(caller) => {
            let actor = caller.actor();
            request.extensions_mut().insert(caller);
            plugwire_host::audit::acting_as(actor, next.run(request)).await
        }
        Err(e) => e.into_response(),
    }
}

/// The caller of a request that needs `need`, or why it is refused.
pub(crate) fn check(
    state: &State,
    transport: Transport,
    headers: &HeaderMap,
    need: Need,
    target: &(Method, String),
) -> Result<Caller, ApiError> {
    let port = match transport {
        Transport::Local => return Ok(Caller::Local),
        Transport::Tcp(port) => port,
    };
    loopback_host(headers, port)?;
    let token = bearer(headers);
    let Need::Scope(wanted) = need else {
        return Ok(Caller::Anonymous);
    };
    if let Some(token) = token.filter(|t| t.starts_with(PANEL_PREFIX)) {
        let plugin = state.panels.plugin_of(token).ok_or_else(|| {
            ApiError::new("unauthenticated", "the panel token is unknown or expired")
                .with_hint("reload the dashboard for a new one")
        })?;
        if wanted > Scope::Call || !panel_may(&plugin, target) {
            return Err(ApiError::new(
                "permission_denied",
                format!(
                    "a panel of {plugin:?} may reach only its own plugin, not {} {}",
                    target.0, target.1
                ),
            ));
        }
        return Ok(Caller::Panel { plugin });
    }
    let token = token.ok_or_else(|| {
        ApiError::new(
            "unauthenticated",
            "this listener needs a bearer token (Authorization: Bearer pwt_...)",
        )
        .with_hint("`plugwire token create --scope read` makes one")
    })?;
    let tokens = state.tokens.current();
    let record = tokens.check(token).ok_or_else(|| {
        ApiError::new("unauthenticated", "the token is not one this daemon knows")
            .with_hint("`plugwire token list` shows the tokens; a revoked one stops working")
    })?;
    if record.scope < wanted {
        return Err(ApiError::new(
            "permission_denied",
            format!(
                "token {:?} has scope {}; this needs {wanted}",
                record.name, record.scope
            ),
        )
        .with_hint(format!(
            "`plugwire token create --scope {wanted}` makes a token that may"
        )));
    }
    if state.token_rate.check_key(&record.id).is_err() {
        return Err(ApiError::new(
            "rate_limited",
            format!(
                "token {:?} made more than {} requests a second",
                record.name, state.limits.token_rate
            ),
        )
        .with_hint("slow down and retry after a second"));
    }
    Ok(Caller::Token {
        id: record.id.clone(),
        scope: record.scope,
    })
}

/// What a panel of `plugin` may ask: its plugin's details, calls to its
/// plugin's tools, and its plugin's own routes.
fn panel_may(plugin: &str, (method, path): &(Method, String)) -> bool {
    let own_tool = path
        .strip_prefix("/v1/tools/")
        .and_then(|rest| rest.strip_suffix("/call"))
        .and_then(|tool| tool.split_once('.'))
        .is_some_and(|(p, _)| p == plugin);
    let details = path
        .strip_prefix("/v1/plugins/")
        .is_some_and(|p| p == plugin);
    let route = path
        .strip_prefix("/plugins/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(p, _)| p == plugin);
    (*method == Method::POST && own_tool) || (*method == Method::GET && details) || route
}

/// The token in `Authorization: Bearer TOKEN`.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (kind, token) = value.split_once(' ')?;
    kind.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A page on another site that resolves its own name to 127.0.0.1 (DNS
/// rebinding) sends its own name as the Host: only loopback names pass.
fn loopback_host(headers: &HeaderMap, port: u16) -> Result<(), ApiError> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let allowed = ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .any(|name| host == *name || host == format!("{name}:{port}"));
    if allowed {
        Ok(())
    } else {
        Err(ApiError::new(
            "permission_denied",
            format!("Host {host:?} is not this loopback listener"),
        )
        .with_hint(format!("address it as 127.0.0.1:{port}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer pwt_x_y".parse().unwrap());
        assert_eq!(bearer(&h), Some("pwt_x_y"));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn a_panel_reaches_its_own_plugin_only() {
        let may = |m: Method, p: &str| panel_may("echo", &(m, p.to_owned()));
        assert!(may(Method::POST, "/v1/tools/echo.echo/call"));
        assert!(may(Method::GET, "/v1/plugins/echo"));
        assert!(may(Method::GET, "/plugins/echo/say/hi"));
        assert!(!may(Method::POST, "/v1/tools/kv.get/call"));
        assert!(!may(Method::POST, "/v1/tools/echoes.x/call"));
        assert!(!may(Method::POST, "/v1/plugins/echo/reload"));
        assert!(!may(Method::GET, "/v1/plugins"));
        assert!(!may(Method::GET, "/v1/logs"));
        assert!(!may(Method::GET, "/plugins/kv/x"));
    }

    #[test]
    fn only_loopback_names_pass() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        assert!(loopback_host(&h, 8080).is_ok());
        h.insert(header::HOST, "evil.example:8080".parse().unwrap());
        assert_eq!(
            loopback_host(&h, 8080).unwrap_err().code,
            "permission_denied"
        );
        h.insert(header::HOST, "127.0.0.1:9".parse().unwrap());
        assert!(loopback_host(&h, 8080).is_err(), "another port");
    }
}

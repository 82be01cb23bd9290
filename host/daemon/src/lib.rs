//! The plugwire daemon: one live [`Host`] behind a management API (HTTP
//! and JSON on a Unix socket for the daemon's own user; on a loopback TCP
//! port, when asked, for holders of a token), and a client for it.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use plugwire_daemon::{Client, Daemon, DaemonOptions};
//! let host = plugwire_host::Host::start(plugwire_host::HostConfig::new("app", "1.0.0")).await?;
//! let daemon = Daemon::bind(host, DaemonOptions::new("/run/user/1000/plugwire/daemon.sock")).await?;
//! let socket = daemon.socket().to_owned();
//! tokio::spawn(daemon.run(async { tokio::signal::ctrl_c().await.ok(); }));
//!
//! let client = Client::connect(&socket).await?;
//! let health: plugwire_daemon::api::Health = client.get("/v1/health").await?;
//! assert_eq!(health.status, "ok");
//! # Ok(()) }
//! ```
//!
//! The routes, their bodies and their errors: `docs/daemon.md` and the
//! OpenAPI document the daemon serves at `/v1/openapi.json`.

pub mod api;
mod auth;
pub mod client;
pub mod error;
mod limits;
mod listen;
mod need;
pub mod packages;
mod routes;
mod state;
pub mod tokens;
pub mod views;
mod watch;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::server::graceful::GracefulShutdown;
use plugwire_host::Host;

pub use client::Client;
pub use limits::Limits;
pub use listen::{default_socket, private_dir};
pub use need::Need;
pub use routes::RouteInfo;

/// The OpenAPI document of the management API, as served at
/// `/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// How long open streams (event and log followers) get to finish at
/// shutdown before the daemon closes them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The routes the daemon serves: method, path and what a caller needs.
///
/// ```
/// let routes = plugwire_daemon::routes();
/// assert!(routes.iter().any(|r| r.path == "/v1/plugins" && r.method == "GET"));
/// ```
pub fn routes() -> Vec<RouteInfo> {
    routes::table()
}

/// The user's grants file, re-read before the daemon starts or reloads a
/// plugin (`plugwire grant` writes it while the daemon runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantsFile {
    /// Its path.
    pub path: PathBuf,
    /// Grant everything anyway (`plugwire serve --yes`).
    pub all: bool,
    /// Up to this risk only (`--max-risk`).
    pub max_risk: Option<plugwire_host::grants::Risk>,
}

/// How to run the daemon.
#[derive(Clone)]
pub struct DaemonOptions {
    /// The Unix socket.
    pub socket: PathBuf,
    /// Also serve on this loopback address, for token holders.
    pub listen: Option<SocketAddr>,
    /// Reload a plugin when its directory changes.
    pub watch: bool,
    /// The tokens file.
    pub tokens: PathBuf,
    /// Limits on clients.
    pub limits: Limits,
    /// How to install and update packages (`POST /v1/packages`); without
    /// one those routes answer `unimplemented`.
    pub packages: Option<Arc<dyn packages::PackageManager>>,
    /// The grants file to follow, if any.
    pub grants: Option<GrantsFile>,
}

impl DaemonOptions {
    /// Options with the socket at `socket` and everything else default.
    ///
    /// ```
    /// let options = plugwire_daemon::DaemonOptions::new("/tmp/d.sock");
    /// assert_eq!(options.socket, std::path::Path::new("/tmp/d.sock"));
    /// assert!(options.listen.is_none(), "TCP is off unless asked");
    /// ```
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Self {
            socket: socket.into(),
            listen: None,
            watch: false,
            tokens: tokens::Tokens::default_path(),
            limits: Limits::default(),
            packages: None,
            grants: None,
        }
    }
}

/// Why the daemon cannot run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The socket cannot be made.
    #[error("cannot listen on {path}: {why}", path = .0.display(), why = .1)]
    Socket(PathBuf, String),
    /// Another daemon answers on the socket.
    #[error("a daemon already runs at {}; `plugwire status` shows it", .0.display())]
    Running(PathBuf),
    /// The TCP address is refused.
    #[error("cannot listen on {0}: {1}")]
    Tcp(SocketAddr, String),
    /// Watching plugin directories failed.
    #[error("cannot watch plugin directories: {0}")]
    Watch(String),
}

/// A bound daemon, ready to serve.
pub struct Daemon {
    host: Host,
    options: DaemonOptions,
    unix: tokio::net::UnixListener,
    tcp: Option<tokio::net::TcpListener>,
}

impl Daemon {
    /// Binds the listeners. TCP is allowed on loopback addresses only.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) -> Result<(), plugwire_daemon::DaemonError> {
    /// let mut options = plugwire_daemon::DaemonOptions::new("/tmp/plugwire-1000/daemon.sock");
    /// options.listen = Some("0.0.0.0:7411".parse().unwrap());
    /// let refused = plugwire_daemon::Daemon::bind(host, options).await;
    /// assert!(matches!(refused, Err(plugwire_daemon::DaemonError::Tcp(..))), "not loopback");
    /// # Ok(()) }
    /// ```
    pub async fn bind(host: Host, options: DaemonOptions) -> Result<Self, DaemonError> {
        let unix = listen::bind_unix(&options.socket).await?;
        let tcp = match options.listen {
            None => None,
            Some(addr) if !addr.ip().is_loopback() => {
                return Err(DaemonError::Tcp(
                    addr,
                    "only loopback addresses are served (put a TLS proxy in front for more)".into(),
                ));
            }
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| DaemonError::Tcp(addr, e.to_string()))?,
            ),
        };
        Ok(Self {
            host,
            options,
            unix,
            tcp,
        })
    }

    /// The Unix socket it listens on.
    pub fn socket(&self) -> &Path {
        &self.options.socket
    }

    /// The TCP address it listens on, once bound (the port chosen for `:0`).
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) -> Result<(), plugwire_daemon::DaemonError> {
    /// let mut options = plugwire_daemon::DaemonOptions::new("/tmp/plugwire-1000/daemon.sock");
    /// options.listen = Some("127.0.0.1:0".parse().unwrap());
    /// let daemon = plugwire_daemon::Daemon::bind(host, options).await?;
    /// assert_ne!(daemon.tcp_addr().unwrap().port(), 0);
    /// # Ok(()) }
    /// ```
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` completes, then lets requests finish (open
    /// streams for a few seconds) and stops every plugin.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), DaemonError> {
        let (routes, table) = routes::all();
        let state = Arc::new(state::State::new(
            self.host.clone(),
            &self.options,
            routes::needs(&table),
        ));
        let app = app(routes, state.clone());
        let graceful = Arc::new(GracefulShutdown::new());
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let watcher = if self.options.watch {
            Some(watch::start(self.host.clone()).map_err(DaemonError::Watch)?)
        } else {
            None
        };
        let mut servers = vec![tokio::spawn(listen::serve_unix(
            self.unix,
            app.clone(),
            self.options.limits.clone(),
            graceful.clone(),
            stopped.clone(),
        ))];
        if let Some(tcp) = self.tcp {
            servers.push(tokio::spawn(listen::serve_tcp(
                tcp,
                app,
                self.options.limits.clone(),
                graceful.clone(),
                stopped,
            )));
        }
        tracing::info!(socket = %self.options.socket.display(), "serving");
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop.send(true);
        state.mcp_shutdown.cancel();
        for server in servers {
            let _ = server.await;
        }
        drop(watcher);
        if let Some(graceful) = Arc::into_inner(graceful) {
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
        }
        let _ = std::fs::remove_file(&self.options.socket);
        self.host.shutdown().await;
        Ok(())
    }
}

/// The whole application: routes behind the authorization layer, JSON
/// errors for everything else.
fn app(routes: Router<Arc<state::State>>, state: Arc<state::State>) -> Router {
    routes
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authorize,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(panel_origin))
        .with_state(state)
}

/// Dashboard panels run in sandboxed frames, whose origin is `null`: the
/// browser sends their requests cross-origin, so the daemon answers
/// their preflights and marks its answers readable to them. Nothing is
/// opened by this: every route still needs a bearer token, which a page
/// has only if it was given one.
async fn panel_origin(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{HeaderValue, Method, StatusCode, header};
    use axum::response::IntoResponse;
    let from_panel = request
        .headers()
        .get(header::ORIGIN)
        .is_some_and(|o| o == "null");
    if !from_panel {
        return next.run(request).await;
    }
    let mut response = if request.method() == Method::OPTIONS {
        let mut preflight = StatusCode::NO_CONTENT.into_response();
        let headers = preflight.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        preflight
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("null"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    response
}

async fn not_found(uri: axum::http::Uri) -> api::ApiError {
    api::ApiError::new("not_found", format!("no route {}", uri.path()))
        .with_hint("GET /v1/openapi.json lists the routes")
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> api::ApiError {
    api::ApiError::new(
        "method_not_allowed",
        format!("{} does not take {method}", uri.path()),
    )
    .with_hint("GET /v1/openapi.json lists each route's methods")
}

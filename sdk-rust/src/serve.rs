//! Serving a plugin: the plugin side of the bootstrap (PW-BOOT-1..7) and
//! the shutdown sequence (PW-SHUT-1..3).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use plugwire_proto::bootstrap::BootstrapLine;
use plugwire_proto::constants::{
    ENV_HOST_SOCKET, ENV_MULTIPLEX_GRPC, ENV_PROTOCOL_VERSIONS, ENV_UNIX_SOCKET_DIR,
    HEALTH_SERVICE_NAME, MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE, MAX_SOCKET_PATH_LEN,
    SUPPORTED_APP_VERSIONS,
};
use plugwire_proto::version::{negotiate, parse_protocol_versions};
use tokio::net::UnixListener;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::UnixListenerStream;
use tonic_health::ServingStatus;

use crate::auto_mtls::AutoMtls;
use crate::error::ServeError;
use crate::plugin::Plugin;
use crate::service::Runtime;

/// File name of the plugin's socket inside `PLUGIN_UNIX_SOCKET_DIR`.
pub const SOCKET_FILE_NAME: &str = "plugin.sock";

/// Grace used on SIGTERM/SIGINT (PW-SHUT-2).
const SIGNAL_GRACE: Duration = Duration::from_secs(5);

/// How long connections get to close after the drain before the server is
/// dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Serves `plugin` as the host asked through the environment, until the host
/// sends `Shutdown` or the process gets SIGTERM/SIGINT. Startup problems
/// (no magic cookie, no common protocol version, a bad declaration) are
/// printed on stderr and the process exits with status 1, as the protocol
/// requires; use [`try_serve`] to handle them yourself.
///
/// ```no_run
/// # use plugwire_sdk::Plugin;
/// #[tokio::main]
/// async fn main() {
///     plugwire_sdk::serve(Plugin::new("hello", env!("CARGO_PKG_VERSION"))).await;
/// }
/// ```
pub async fn serve(plugin: Plugin) {
    if let Err(e) = try_serve(plugin).await {
        eprintln!("{}: {e}", program_name());
        std::process::exit(1);
    }
}

/// [`serve`] on a new current-thread tokio runtime, for a plain `fn main`.
///
/// One thread serves every call: on a small machine this avoids the
/// cross-CPU wake-ups a multi-threaded runtime pays on each call (measured
/// 45k against 35k calls/s at 16 in flight on 2 cores). A tool that computes
/// for long should move that work to `tokio::task::spawn_blocking`, or the
/// plugin can run [`serve`] inside its own `#[tokio::main]` multi-threaded
/// runtime instead.
///
/// ```no_run
/// fn main() {
///     plugwire_sdk::serve_blocking(plugwire_sdk::Plugin::new("hello", "0.1.0"));
/// }
/// ```
pub fn serve_blocking(plugin: Plugin) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| {
            eprintln!("{}: cannot start the async runtime: {e}", program_name());
            std::process::exit(1);
        });
    runtime.block_on(serve(plugin));
}

/// Like [`serve`], but returns startup errors instead of exiting.
///
/// ```no_run
/// # async fn f() {
/// if let Err(e) = plugwire_sdk::try_serve(plugwire_sdk::Plugin::new("x", "0.1.0")).await {
///     eprintln!("cannot serve: {e}");
/// }
/// # }
/// ```
pub async fn try_serve(plugin: Plugin) -> Result<(), ServeError> {
    if std::env::var(MAGIC_COOKIE_KEY).as_deref() != Ok(MAGIC_COOKIE_VALUE) {
        return Err(ServeError::NoCookie);
    }
    let offered = std::env::var(ENV_PROTOCOL_VERSIONS).unwrap_or_default();
    let host_versions =
        parse_protocol_versions(&offered).map_err(|e| ServeError::Version(e.to_string()))?;
    let version = negotiate(&host_versions, SUPPORTED_APP_VERSIONS).ok_or_else(|| {
        ServeError::Version(format!(
            "no common protocol version: the host offers {offered:?} (PLUGIN_PROTOCOL_VERSIONS), this plugin speaks {SUPPORTED_APP_VERSIONS:?}; upgrade the older side"
        ))
    })?;
    let socket = match std::env::var_os(ENV_UNIX_SOCKET_DIR) {
        // PW-BOOT-14: go-plugin's clients do not set it; its servers use
        // the temporary directory, and so does this.
        None => std::env::temp_dir().join(format!("plugwire-{}.sock", std::process::id())),
        Some(dir) => Some(PathBuf::from(dir))
            .filter(|d| d.is_absolute() && d.is_dir())
            .ok_or_else(|| {
                ServeError::Environment(format!(
                    "{ENV_UNIX_SOCKET_DIR} must name an existing absolute directory; run the plugin through a plugwire host"
                ))
            })?
            .join(SOCKET_FILE_NAME),
    };
    let host_socket = std::env::var_os(ENV_HOST_SOCKET).map(PathBuf::from);
    let tls = AutoMtls::from_env().map_err(ServeError::Environment)?;
    crate::logging::init();

    // Installed before the bootstrap line: a host may send SIGTERM as soon
    // as it has read the line, and the default action would kill us dirty.
    let termination = Termination::install().map_err(|source| ServeError::Io {
        context: "cannot install the SIGTERM/SIGINT handlers".into(),
        source,
    })?;
    let server_cert = tls.as_ref().map(|t| t.server_cert.clone());
    let running = RunningPlugin::start(plugin, socket, version, host_socket, tls).await?;
    tracing::info!(socket = %running.socket.display(), version, tls = server_cert.is_some(), "serving");
    // PW-BOOT-2/5: the one line, only once serving, flushed.
    let mut line = BootstrapLine::new(version, running.socket.display().to_string());
    line.server_cert = server_cert;
    // PW-GP-4: a client that asks for go-plugin's multiplexed broker learns
    // that this plugin has none, and says so, rather than misreading it.
    if std::env::var_os(ENV_MULTIPLEX_GRPC).is_some_and(|v| !v.is_empty()) {
        line.multiplex = Some(false);
    }
    let line = line.to_line();
    {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(line.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(|source| ServeError::Io {
                context: "cannot print the bootstrap line on stdout".into(),
                source,
            })?;
    }
    running.run_until_stopped(Some(termination)).await
}

/// A plugin serving on a socket: used by [`try_serve`] and by the test
/// harness, so both run exactly the same services.
pub(crate) struct RunningPlugin {
    pub(crate) socket: PathBuf,
    runtime: Arc<Runtime>,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl RunningPlugin {
    pub(crate) async fn start(
        mut plugin: Plugin,
        socket: PathBuf,
        version: u32,
        host_socket: Option<PathBuf>,
        tls: Option<AutoMtls>,
    ) -> Result<Self, ServeError> {
        plugin.validate().map_err(ServeError::Declaration)?;
        if socket.as_os_str().len() > MAX_SOCKET_PATH_LEN {
            return Err(ServeError::Environment(format!(
                "the socket path {} is {} bytes, over the {MAX_SOCKET_PATH_LEN}-byte limit of Unix sockets; the host must pass a shorter {ENV_UNIX_SOCKET_DIR}",
                socket.display(),
                socket.as_os_str().len()
            )));
        }
        // A stale socket from a killed predecessor would make bind fail.
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket).map_err(|source| ServeError::Io {
            context: format!("cannot bind {}", socket.display()),
            source,
        })?;

        let (health, health_service) = tonic_health::server::health_reporter();
        health
            .set_service_status(HEALTH_SERVICE_NAME, ServingStatus::Serving)
            .await;
        health.set_service_status("", ServingStatus::Serving).await;
        let descriptors = std::mem::take(&mut plugin.descriptors);
        let (runtime, providers) = Runtime::new(plugin, version, host_socket, health);
        let routes = runtime.routes(health_service, &descriptors, providers);

        let stop = runtime.clone();
        let stopped = async move { stop.lifecycle.stopped().await };
        let server = tonic::transport::Server::builder().add_routes(routes);
        let server = match tls {
            None => tokio::spawn(
                server.serve_with_incoming_shutdown(UnixListenerStream::new(listener), stopped),
            ),
            Some(tls) => {
                tokio::spawn(server.serve_with_incoming_shutdown(tls.incoming(listener), stopped))
            }
        };
        Ok(Self {
            socket,
            runtime,
            server,
        })
    }

    /// Waits for `Shutdown` (or, with `termination`, SIGTERM/SIGINT),
    /// drains, stops the server and removes the socket (PW-SHUT-3).
    pub(crate) async fn run_until_stopped(
        self,
        termination: Option<Termination>,
    ) -> Result<(), ServeError> {
        let lifecycle = &self.runtime.lifecycle;
        let signal = async {
            match termination {
                Some(mut t) => t.recv().await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = lifecycle.stopped() => {}
            _ = signal => {
                tracing::info!("termination signal; shutting down");
                lifecycle.drain(SIGNAL_GRACE).await;
                lifecycle.request_stop();
            }
        }
        self.finish().await
    }

    /// Stops at once (drain with `grace`), for the test harness.
    pub(crate) async fn stop(self, grace: Duration) -> Result<(), ServeError> {
        self.runtime.lifecycle.drain(grace).await;
        self.runtime.lifecycle.request_stop();
        self.finish().await
    }

    async fn finish(self) -> Result<(), ServeError> {
        let mut server = self.server;
        let result = match tokio::time::timeout(CLOSE_GRACE, &mut server).await {
            Ok(Ok(result)) => result.map_err(ServeError::from),
            Ok(Err(_join)) => Ok(()),
            Err(_) => {
                // A client that keeps its connection open must not keep the
                // plugin alive.
                server.abort();
                Ok(())
            }
        };
        let _ = std::fs::remove_file(&self.socket);
        result
    }
}

/// SIGTERM, SIGINT and SIGHUP handlers, installed early: each shuts the
/// plugin down the same way (PW-SHUT-2).
pub(crate) struct Termination {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Termination {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
            _ = self.hup.recv() => {}
        }
    }
}

fn program_name() -> String {
    std::env::args()
        .next()
        .and_then(|p| {
            Path::new(&p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "plugin".to_owned())
}

impl RunningPlugin {
    /// Stops without draining, for a harness being dropped.
    pub(crate) fn abort(self) {
        self.runtime.lifecycle.request_stop();
        self.server.abort();
        let _ = std::fs::remove_file(&self.socket);
    }
}

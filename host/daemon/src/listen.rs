//! The listeners: a Unix socket for the daemon's own user, and, when
//! asked, a loopback TCP port for token holders. Each connection is served
//! by hyper with a deadline on its headers, under a cap on connections at
//! once, and is told at shutdown to finish.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::DaemonError;
use crate::auth::Transport;
use crate::limits::Limits;

/// Binds the Unix socket at `path`: its directory made 0700 (and refused
/// when another user owns it or others may write to it), a stale socket
/// replaced, a live one refused, the socket itself 0600.
pub(crate) async fn bind_unix(path: &Path) -> Result<UnixListener, DaemonError> {
    let dir = path
        .parent()
        .ok_or_else(|| DaemonError::Socket(path.to_owned(), "has no directory".into()))?;
    private_dir(dir).map_err(|why| DaemonError::Socket(path.to_owned(), why))?;
    if path.exists() {
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            return Err(DaemonError::Running(path.to_owned()));
        }
        std::fs::remove_file(path)
            .map_err(|e| DaemonError::Socket(path.to_owned(), e.to_string()))?;
    }
    let listener = UnixListener::bind(path)
        .map_err(|e| DaemonError::Socket(path.to_owned(), e.to_string()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| DaemonError::Socket(path.to_owned(), e.to_string()))?;
    Ok(listener)
}

/// Makes `dir` (0700) or checks that it is ours alone.
pub fn private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    if !dir.exists() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot protect {}: {e}", dir.display()))?;
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let uid = nix::unistd::geteuid().as_raw();
    if !meta.is_dir() || meta.uid() != uid {
        return Err(format!(
            "{} is not a directory of this user (uid {uid}); remove it or choose another --socket",
            dir.display()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{} may be written by others (mode {:o}); `chmod 700` it",
            dir.display(),
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

/// Serves the Unix socket until `shutdown`: only peers with our uid.
pub(crate) async fn serve_unix(
    listener: UnixListener,
    app: Router,
    limits: Limits,
    graceful: Arc<GracefulShutdown>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let listener = Arc::new(listener);
    let uid = nix::unistd::geteuid().as_raw();
    let accept = move || {
        let listener = listener.clone();
        async move {
            let (stream, _) = listener.accept().await.ok()?;
            match stream.peer_cred() {
                Ok(cred) if cred.uid() == uid => Some(stream),
                Ok(cred) => {
                    tracing::warn!(
                        peer_uid = cred.uid(),
                        "refused a connection from another user"
                    );
                    None
                }
                Err(e) => {
                    tracing::warn!("refused a connection whose peer is unknown: {e}");
                    None
                }
            }
        }
    };
    serve(accept, Transport::Local, app, limits, graceful, shutdown).await;
}

/// Serves the TCP listener until `shutdown`.
pub(crate) async fn serve_tcp(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    graceful: Arc<GracefulShutdown>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let port = listener.local_addr().map_or(0, |a| a.port());
    let listener = Arc::new(listener);
    let accept = move || {
        let listener = listener.clone();
        async move {
            let (stream, _) = listener.accept().await.ok()?;
            let _ = stream.set_nodelay(true);
            Some(stream)
        }
    };
    serve(
        accept,
        Transport::Tcp(port),
        app,
        limits,
        graceful,
        shutdown,
    )
    .await;
}

/// Accepts connections (those `accept` lets through) until `shutdown`,
/// at most `max_connections` served at once.
async fn serve<S, F, Fut>(
    mut accept: F,
    transport: Transport,
    app: Router,
    limits: Limits,
    graceful: Arc<GracefulShutdown>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<S>>,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let accepted = tokio::select! {
            a = accept() => a,
            _ = shutdown.changed() => return,
        };
        if let Some(stream) = accepted {
            serve_connection(stream, app.clone(), transport, &limits, &graceful, permit);
        }
    }
}

fn serve_connection<S>(
    stream: S,
    app: Router,
    transport: Transport,
    limits: &Limits,
    graceful: &GracefulShutdown,
    permit: tokio::sync::OwnedSemaphorePermit,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = app.map_request(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(transport);
        request
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(64 * 1024);
    let connection =
        builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    let connection = graceful.watch(connection);
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("connection ended: {e}");
        }
        drop(permit);
    });
}

/// Where the daemon listens by default:
/// `$XDG_RUNTIME_DIR/plugwire/daemon.sock`, else
/// `$TMPDIR/plugwire-<uid>/daemon.sock`.
///
/// ```
/// let path = plugwire_daemon::default_socket();
/// assert!(path.ends_with("daemon.sock"));
/// ```
pub fn default_socket() -> PathBuf {
    if let Some(runtime) = plugwire_host::dirs::runtime() {
        return runtime.join("plugwire").join("daemon.sock");
    }
    std::env::temp_dir()
        .join(format!("plugwire-{}", nix::unistd::geteuid().as_raw()))
        .join("daemon.sock")
}

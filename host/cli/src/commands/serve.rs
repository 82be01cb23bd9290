//! `plugwire serve`: run the host as a daemon until SIGTERM or SIGINT,
//! serving the management API (docs/daemon.md).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use plugwire_daemon::{Daemon, DaemonOptions};
use plugwire_host::{Host, HostConfig};

use crate::output::Failure;

/// What `serve` was asked for.
pub(crate) struct ServeOptions {
    pub(crate) socket: PathBuf,
    pub(crate) listen: Option<SocketAddr>,
    pub(crate) watch: bool,
}

pub(crate) async fn run(config: HostConfig, options: ServeOptions) -> Result<ExitCode, Failure> {
    let packages = crate::daemon_packages::CliPackages {
        config: config.clone(),
    };
    let grants = plugwire_daemon::GrantsFile {
        path: plugwire_host::grants::Grants::default_path(),
        all: config.grants.all,
        max_risk: config.grants.max_risk,
    };
    let host = Host::start(config)
        .await
        .map_err(|e| Failure::new(e.to_string()))?;
    host.start_all().await;
    let mut daemon_options = DaemonOptions::new(options.socket);
    daemon_options.listen = options.listen;
    daemon_options.watch = options.watch;
    daemon_options.packages = Some(std::sync::Arc::new(packages));
    daemon_options.grants = Some(grants);
    let daemon = match Daemon::bind(host.clone(), daemon_options).await {
        Ok(d) => d,
        Err(e) => {
            host.shutdown().await;
            return Err(Failure::new(e.to_string())
                .hint("`plugwire status` shows a running daemon; --socket PATH picks another"));
        }
    };
    // Logs only (stderr): stdout stays empty, so a supervisor's log is the log.
    if let Some(addr) = daemon.tcp_addr() {
        eprintln!("listening on http://{addr} (bearer tokens only)");
    }
    eprintln!("serving on {}", daemon.socket().display());
    daemon
        .run(terminated())
        .await
        .map_err(|e| Failure::new(e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM or SIGINT.
pub(crate) async fn terminated() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

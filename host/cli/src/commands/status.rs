//! `plugwire status`: whether commands go to a daemon or run the host in
//! this process, and why.

use std::path::Path;
use std::process::ExitCode;

use plugwire_daemon::api::Health;
use serde_json::json;

use crate::backend::Backend;
use crate::output::{Failure, print_json};

pub(crate) async fn run(
    backend: &Backend,
    socket: &Path,
    why_local: Option<&str>,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let health = match backend {
        Backend::Daemon(client) => Some(client.get::<Health>("/v1/health").await?),
        Backend::Local(_) => None,
    };
    if as_json {
        print_json(&json!({
            "mode": if health.is_some() { "daemon" } else { "in-process" },
            "socket": socket,
            "reason": why_local,
            "daemon": health,
        }));
        return Ok(ExitCode::SUCCESS);
    }
    match health {
        Some(h) => {
            println!(
                "daemon: running at {} (pid {}, version {})",
                socket.display(),
                h.pid,
                h.version
            );
            println!(
                "  up {:.0} s; {} plugins, {} ready, {} failed",
                h.uptime_ms as f64 / 1000.0,
                h.plugins,
                h.ready,
                h.failed
            );
            println!("commands use the daemon; --no-daemon runs plugins in-process instead");
        }
        None => {
            println!("daemon: not in use ({})", why_local.unwrap_or("none runs"));
            println!(
                "commands run plugins in-process; `plugwire serve` starts a daemon at {}",
                socket.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

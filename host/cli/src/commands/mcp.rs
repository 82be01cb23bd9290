//! `plugwire mcp`: every plugin tool for an MCP client, on stdin and
//! stdout (docs/mcp.md). The plugins run in a host of this process's own,
//! stopped with it; a daemon's plugins are reached at its `/mcp` route.

use std::process::ExitCode;

use plugwire_host::{Host, HostConfig};

use crate::output::Failure;

pub(crate) async fn run(config: HostConfig) -> Result<ExitCode, Failure> {
    let host = Host::start(config)
        .await
        .map_err(|e| Failure::new(e.to_string()))?;
    let bridge = plugwire_mcp::Bridge::new(host.clone());
    // stdout is the MCP channel: whatever else is said goes to stderr.
    let served = tokio::select! {
        served = bridge.serve_stdio() => served.map_err(|e| Failure::new(e.to_string())),
        () = crate::commands::serve::terminated() => Ok(()),
    };
    host.shutdown().await;
    served.map(|()| ExitCode::SUCCESS)
}

//! The plugwire conformance suite: checks that a plugin, in any language,
//! speaks `docs/protocol.md` correctly, and reports in formats CI reads.
//!
//! This first part attaches to a plugin that is already serving (for
//! example one started by hand for debugging) and checks health, the
//! handshake, configuration, tools and commands. Spawning plugins the way
//! the host does, the bootstrap and shutdown checks, and the fixture
//! profile are still to come.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let report = plugwire_conformance::attach("unix:///tmp/pw-x/plugin.sock", &serde_json::json!({})).await?;
//! print!("{}", report.summary());
//! assert!(report.passed());
//! # Ok(()) }
//! ```

pub mod checks;
pub mod report;

/// Every requirement id in `docs/protocol.md` starts with this prefix.
pub const REQUIREMENT_PREFIX: &str = "PW-";

/// Connects to `endpoint` (`unix:///path`) and runs the checks.
pub async fn attach(endpoint: &str, config: &serde_json::Value) -> Result<report::Report, String> {
    let path = endpoint
        .strip_prefix("unix://")
        .ok_or_else(|| format!("endpoint {endpoint:?}: expected unix:///path/to/plugin.sock"))?;
    let channel = tonic::transport::Endpoint::from_shared(format!("unix:{path}"))
        .map_err(|e| e.to_string())?
        .origin(tonic::transport::Uri::from_static("http://localhost"))
        .connect_timeout(std::time::Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| format!("cannot connect to {path}: {e}"))?;
    Ok(checks::run(channel, config).await)
}

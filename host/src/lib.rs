//! The plugwire host: the side of the protocol that applications embed.
//!
//! A [`Host`] discovers plugins (directories holding a `plugin.toml`,
//! `docs/manifest.md`), starts them (eagerly or on first use) as child
//! processes, speaks the protocol of `docs/protocol.md` with them, and
//! offers their tools, commands, hooks and providers to the application.
//! It supervises them: a crash fails in-flight calls at once with
//! `UNAVAILABLE`, the plugin restarts with backoff, and repeated crashes
//! mark it failed.
//!
//! ```no_run
//! use plugwire_host::{CallOptions, Host, HostConfig};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let host = Host::start(HostConfig::new("acme", "1.0.0").plugin_dir("plugins")).await?;
//!     let out = host.call_tool("echo.echo", serde_json::json!({"text": "hi"}), CallOptions::default()).await?;
//!     println!("{}", out.content);
//!     let outcome = host.emit("request.before", serde_json::json!({"token": "t"})).await?;
//!     println!("final payload: {}", outcome.payload);
//!     host.shutdown().await;
//!     Ok(())
//! }
//! ```

pub mod app_services;
mod atomic_file;
pub mod audit;
mod call_chains;
mod calls;
mod changes;
#[cfg(feature = "clap")]
pub mod clap_commands;
pub mod compatibility;
pub mod config;
mod connection_limit;
mod context;
mod core;
mod debris;
mod dependencies;
pub mod dirs;
pub mod discovery;
mod dispatch;
pub mod egress;
mod events;
pub mod grants;
mod host;
mod host_service;
mod in_flight;
mod instance;
pub mod logs;
pub mod manifest;
pub mod packages;
mod peer;
pub mod plugin_config;
mod plugin_socket;
mod process;
mod registry;
pub mod sandbox;
pub mod secrets;
mod storage;
pub mod trust;
pub mod usage;

/// Entry points for the fuzz targets in `fuzz/`: the host's decoders of
/// what plugins send and write, which are otherwise private.
#[doc(hidden)]
pub mod fuzzing {
    /// Checks a `ListTools` answer as the host does at start.
    pub fn tool_list(
        declared: &[String],
        listed: Vec<plugwire_proto::pb::Tool>,
    ) -> Result<usize, String> {
        crate::instance::listing::tool_entries(declared, listed).map(|t| t.len())
    }

    /// Replays a storage log as the host does when it opens one.
    pub fn storage_log(bytes: &[u8]) -> Result<usize, String> {
        crate::storage::replay(bytes).map(|(data, _)| data.len())
    }
}

pub use calls::{
    CallOptions, CommandInfo, CommandSignal, Progress, RunOptions, ToolInfo, ToolOutput,
};
pub use config::{FailurePolicy, HostConfig, RestartPolicy, StartPolicy, Timeouts};
pub use events::{
    Denial, EmitOutcome, HookInfo, HookOutcome, HookRecord, HostEvent, MAX_EVENT_PAYLOAD,
};
pub use host::{Host, HostError};
pub use instance::{PluginState, PluginStatus};
pub use process::{LAUNCHER_NAME, interpreter, launch};
pub use usage::Usage;

/// The app protocol versions this host offers plugins, lowest first.
///
/// ```
/// assert_eq!(plugwire_host::PROTOCOL_VERSIONS, &[1]);
/// ```
pub const PROTOCOL_VERSIONS: &[u32] = plugwire_proto::constants::SUPPORTED_APP_VERSIONS;

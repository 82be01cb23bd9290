//! What a plugin instance needs from its host, passed down to it: the
//! configuration, the spawner, the sandbox's view of the machine, the call
//! chains, and a narrow way back up ([`HostCallbacks`]) for what a plugin
//! may ask of the host and for lifecycle events. An instance never holds
//! the host itself.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use serde_json::Value;
use tonic::Status;

use crate::call_chains::CallChains;
use crate::calls::{CallOptions, ToolOutput};
use crate::config::HostConfig;
use crate::events::EmitOutcome;
use crate::process::Spawner;
use crate::sandbox::{SandboxLevel, Support};

/// A boxed future, for the async methods of [`HostCallbacks`].
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the host does for its plugins: run a tool a plugin calls back
/// (PW-HOST-3), emit an event a plugin emits (PW-HOST-4), and announce
/// lifecycle events.
pub(crate) trait HostCallbacks: Send + Sync {
    /// Announces a lifecycle event (`plugin.started`, ...).
    fn lifecycle(&self, name: &str, payload: Value);
    /// Calls a tool on behalf of a plugin.
    fn call_tool(
        &self,
        tool: String,
        arguments: Value,
        options: CallOptions,
    ) -> BoxFuture<'_, Result<ToolOutput, Status>>;
    /// Starts `dependency`, which `plugin` needs at `requirement`, or says
    /// why it cannot be had (missing, disabled, another version, a cycle).
    fn start_dependency<'a>(
        &'a self,
        plugin: &'a str,
        dependency: &'a str,
        requirement: &'a semver::VersionReq,
    ) -> BoxFuture<'a, Result<(), String>>;
    /// Emits an event on behalf of `source` (`plugin:<name>`).
    fn emit(
        &self,
        name: String,
        payload: Value,
        source: String,
    ) -> BoxFuture<'_, Result<EmitOutcome, Status>>;
}

/// The host's share of every instance.
pub(crate) struct Context {
    pub(crate) config: HostConfig,
    pub(crate) spawner: Spawner,
    pub(crate) launcher: Option<PathBuf>,
    /// `plugwire-mcp-adapter`, looked for when an MCP server first starts.
    mcp_adapter: OnceLock<Option<PathBuf>>,
    /// What the machine offers the sandbox, detected on first use.
    support: OnceLock<Support>,
    /// Tool calls in flight into each plugin, for the call-depth limit.
    pub(crate) call_chains: CallChains,
    /// The way back up; gone once the host is.
    host: Weak<dyn HostCallbacks>,
    /// Whether the host has said what its best-effort sandbox lacks.
    sandbox_warned: AtomicBool,
    /// What the user granted: the configuration's at first, replaced by
    /// [`crate::Host::set_grants`] (a long-running host re-reads them).
    grants: std::sync::RwLock<Arc<crate::grants::Grants>>,
    /// The audit trail (docs/security.md, "Audit log").
    pub(crate) audit: crate::audit::Audit,
}

impl Context {
    /// The grants a plugin starting now is checked against.
    pub(crate) fn grants(&self) -> Arc<crate::grants::Grants> {
        self.grants
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the grants; plugins already running keep running.
    pub(crate) fn set_grants(&self, grants: crate::grants::Grants) {
        *self.grants.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(grants);
    }

    pub(crate) fn new(
        config: HostConfig,
        spawner: Spawner,
        launcher: Option<PathBuf>,
        host: Weak<dyn HostCallbacks>,
    ) -> Self {
        let grants = std::sync::RwLock::new(Arc::new(config.grants.clone()));
        let audit = crate::audit::Audit::new(config.audit.clone());
        Self {
            grants,
            audit,
            config,
            spawner,
            launcher,
            mcp_adapter: OnceLock::new(),
            support: OnceLock::new(),
            call_chains: CallChains::default(),
            host,
            sandbox_warned: AtomicBool::new(false),
        }
    }

    /// `plugwire-mcp-adapter`, if there is one.
    pub(crate) fn mcp_adapter(&self) -> Option<&std::path::Path> {
        self.mcp_adapter
            .get_or_init(|| crate::launch::find_mcp_adapter(self.config.mcp_adapter.as_deref()))
            .as_deref()
    }

    /// The host, unless it is shutting down.
    pub(crate) fn host(&self) -> Option<Arc<dyn HostCallbacks>> {
        self.host.upgrade()
    }

    /// Announces a lifecycle event, if the host is still there to hear it.
    pub(crate) fn lifecycle(&self, name: &str, payload: Value) {
        if let Some(host) = self.host() {
            host.lifecycle(name, payload);
        }
    }

    /// What the machine offers the sandbox (detected once).
    pub(crate) fn support(&self) -> &Support {
        self.support.get_or_init(Support::detect)
    }

    /// Says once per host what a best-effort sandbox cannot enforce here.
    pub(crate) fn warn_once_about(&self, level: SandboxLevel) {
        let missing = self.support().missing(level);
        if !missing.is_empty()
            && self.config.sandbox.best_effort
            && !self.sandbox_warned.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                "sandbox level {level} without {} on this machine (best effort; `plugwire doctor` explains)",
                missing.join(", ")
            );
        }
    }
}

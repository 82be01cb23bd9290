//! [`HostConfig`]: how a host finds, starts, supervises and talks to plugins.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

/// When plugins start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartPolicy {
    /// All plugins start when the host starts.
    Eager,
    /// A plugin starts on first use (the default).
    #[default]
    Lazy,
}

/// What an intercepting hook's failure means when its subscription does not
/// say (PW-HOOK-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    /// Continue with the unchanged payload.
    #[default]
    Open,
    /// Deny the event.
    Closed,
}

/// Deadlines of the protocol's steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    /// From spawn to the bootstrap line (PW-BOOT-8).
    pub bootstrap: Duration,
    /// Connect, health, handshake and configure, each.
    pub handshake: Duration,
    /// Default per call (PW-DL-1).
    pub call: Duration,
    /// Per intercepting-hook delivery (PW-HOOK-5).
    pub hook: Duration,
    /// Grace given to `Shutdown` (PW-SHUT-4).
    pub shutdown_grace: Duration,
    /// The most stopping one plugin takes, from `Shutdown` to `SIGKILL` of
    /// its whole tree (PW-SHUT-4): the grace comes out of it.
    pub stop: Duration,
    /// How long calls on a replaced, removed or disabled instance may run
    /// on before it is stopped anyway.
    pub drain: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            bootstrap: Duration::from_secs(10),
            handshake: Duration::from_secs(5),
            call: Duration::from_secs(30),
            hook: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(2),
            stop: Duration::from_secs(5),
            drain: Duration::from_secs(30),
        }
    }
}

/// How crashed plugins are restarted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Crashes within `window` after which the plugin is marked failed.
    pub max_crashes: u32,
    /// The window crashes are counted in.
    pub window: Duration,
    /// First restart delay; doubles per crash.
    pub initial_backoff: Duration,
    /// Largest restart delay.
    pub max_backoff: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            max_crashes: 5,
            window: Duration::from_secs(60),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// Host configuration.
///
/// ```
/// use plugwire_host::HostConfig;
/// let config = HostConfig::new("acme", "1.0.0")
///     .plugin_dir("/opt/acme/plugins")
///     .without_standard_dirs();
/// assert_eq!(config.plugin_dirs.len(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Name of the embedding application.
    pub app_name: String,
    /// Version of the embedding application.
    pub app_version: String,
    /// Explicit plugin directories, searched after the standard ones.
    pub plugin_dirs: Vec<PathBuf>,
    /// Search user, local and system directories (docs/manifest.md).
    pub standard_dirs: bool,
    /// When plugins start.
    pub start: StartPolicy,
    /// Deadlines.
    pub timeouts: Timeouts,
    /// Crash handling.
    pub restart: RestartPolicy,
    /// Default for hooks that do not choose a failure policy.
    pub hook_failure: FailurePolicy,
    /// Per-plugin queue of observer deliveries (PW-HOOK-7).
    pub observer_queue: usize,
    /// Stop plugins idle this long; `None` keeps them running.
    pub idle_timeout: Option<Duration>,
    /// Where plugin storage lives.
    pub data_dir: PathBuf,
    /// Configuration per plugin name, merged over the configuration file
    /// and the schema's defaults, sent in `Configure` (docs/manifest.md).
    pub plugin_config: BTreeMap<String, Value>,
    /// Where per-plugin configuration files are read from,
    /// `<dir>/<plugin>.toml` or `.json`; `None` reads none.
    pub config_dir: Option<PathBuf>,
    /// Plugins known but switched off from the start.
    pub disabled: BTreeSet<String>,
    /// Host environment variables passed to every plugin (by name).
    pub pass_env: Vec<String>,
    /// The `plugwire-launcher` executable; found next to the current
    /// executable or on `PATH` when `None`.
    pub launcher: Option<PathBuf>,
    /// The `plugwire-mcp-adapter` executable, which runs MCP servers
    /// (`kind = "mcp"`, docs/mcp.md); found where the launcher is when
    /// `None`.
    pub mcp_adapter: Option<PathBuf>,
    /// Most log lines per second read from one plugin (PW-LOG-4).
    pub log_rate: u32,
    /// How plugins are isolated (docs/sandbox.md).
    pub sandbox: crate::sandbox::SandboxPolicy,
    /// Permissions the user granted; a plugin requesting more is refused.
    pub grants: crate::grants::Grants,
    /// The application's own gRPC services that plugins may call on their
    /// host socket, each gated by `host.service:<name>`.
    pub app_services: crate::app_services::AppServices,
    /// Where the audit log is appended; `None` keeps no file (subscribers
    /// of [`Host::audit`](crate::Host::audit) still get every record).
    pub audit: Option<crate::audit::AuditConfig>,
}

impl HostConfig {
    /// A configuration for application `app_name` at `app_version`, with
    /// the defaults of `docs/protocol.md`.
    ///
    /// ```
    /// let config = plugwire_host::HostConfig::new("acme", "1.0.0");
    /// assert!(config.standard_dirs);
    /// ```
    pub fn new(app_name: impl Into<String>, app_version: impl Into<String>) -> Self {
        Self {
            app_name: app_name.into(),
            app_version: app_version.into(),
            plugin_dirs: Vec::new(),
            standard_dirs: true,
            start: StartPolicy::default(),
            timeouts: Timeouts::default(),
            restart: RestartPolicy::default(),
            hook_failure: FailurePolicy::default(),
            observer_queue: 256,
            idle_timeout: None,
            data_dir: default_data_dir(),
            plugin_config: BTreeMap::new(),
            config_dir: None,
            disabled: BTreeSet::new(),
            pass_env: Vec::new(),
            launcher: None,
            mcp_adapter: None,
            log_rate: 1000,
            sandbox: crate::sandbox::SandboxPolicy::default(),
            grants: crate::grants::Grants::default(),
            app_services: crate::app_services::AppServices::default(),
            audit: None,
        }
    }

    /// Adds an explicit plugin directory.
    ///
    /// ```
    /// let config = plugwire_host::HostConfig::new("a", "1.0.0").plugin_dir("./more-plugins");
    /// # let _ = config;
    /// ```
    pub fn plugin_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.plugin_dirs.push(dir.into());
        self
    }

    /// Searches only explicit directories.
    ///
    /// ```
    /// let config = plugwire_host::HostConfig::new("a", "1.0.0").without_standard_dirs();
    /// assert!(!config.standard_dirs);
    /// ```
    pub fn without_standard_dirs(mut self) -> Self {
        self.standard_dirs = false;
        self
    }

    /// Starts every plugin with the host.
    ///
    /// ```
    /// let config = plugwire_host::HostConfig::new("a", "1.0.0").eager();
    /// # let _ = config;
    /// ```
    pub fn eager(mut self) -> Self {
        self.start = StartPolicy::Eager;
        self
    }

    /// Sets a plugin's configuration.
    ///
    /// ```
    /// let config = plugwire_host::HostConfig::new("a", "1.0.0")
    ///     .configure("greeter", serde_json::json!({"greeting": "hey"}));
    /// # let _ = config;
    /// ```
    pub fn configure(mut self, plugin: impl Into<String>, config: Value) -> Self {
        self.plugin_config.insert(plugin.into(), config);
        self
    }

    /// Reads each plugin's configuration file from `dir`:
    /// `<dir>/<plugin>.toml` or `<dir>/<plugin>.json`.
    ///
    /// ```
    /// let config = plugwire_host::HostConfig::new("a", "1.0.0").config_dir("/etc/acme/plugins.d");
    /// assert_eq!(config.config_dir.as_deref(), Some("/etc/acme/plugins.d".as_ref()));
    /// ```
    pub fn config_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config_dir = Some(dir.into());
        self
    }

    /// Knows `plugin` but keeps it switched off until
    /// [`Host::set_enabled`](crate::Host::set_enabled) turns it on.
    ///
    /// ```
    /// let config = plugwire_host::HostConfig::new("a", "1.0.0").disable("audit");
    /// assert!(config.disabled.contains("audit"));
    /// ```
    pub fn disable(mut self, plugin: impl Into<String>) -> Self {
        self.disabled.insert(plugin.into());
        self
    }

    /// Isolates plugins at `level` (docs/sandbox.md), required in full: a
    /// plugin whose level this machine cannot provide is refused with what
    /// is missing. Without this call the host runs the standard level as
    /// far as the machine allows (best effort).
    ///
    /// ```
    /// use plugwire_host::sandbox::SandboxLevel;
    /// let config = plugwire_host::HostConfig::new("a", "1.0.0");
    /// assert_eq!(config.sandbox.level, SandboxLevel::Standard);
    /// assert!(config.sandbox.best_effort);
    /// let config = config.sandbox(SandboxLevel::Strict);
    /// assert!(!config.sandbox.best_effort);
    /// ```
    pub fn sandbox(mut self, level: crate::sandbox::SandboxLevel) -> Self {
        self.sandbox.level = level;
        self.sandbox.best_effort = false;
        self
    }

    /// Grants every permission every plugin requests (for trusted plugin
    /// sets and tests; the CLI's `--yes`).
    ///
    /// ```
    /// let config = plugwire_host::HostConfig::new("a", "1.0.0").grant_all();
    /// assert!(config.grants.all);
    /// ```
    pub fn grant_all(mut self) -> Self {
        self.grants.all = true;
        self
    }

    /// Serves `service` (any tonic server, e.g. `SessionsServer::new(..)`)
    /// to every plugin granted `host.service:<its name>`; its handlers find
    /// the calling plugin as a
    /// [`PluginCaller`](crate::app_services::PluginCaller) in each request's
    /// extensions.
    ///
    /// ```
    /// # let (_, health) = tonic_health::server::health_reporter();
    /// let config = plugwire_host::HostConfig::new("acme", "2.1.0").app_service(health);
    /// assert_eq!(config.app_services.names(), ["grpc.health.v1.Health"]);
    /// ```
    pub fn app_service<S>(mut self, service: S) -> Self
    where
        S: tower::Service<
                tonic::codegen::http::Request<tonic::body::Body>,
                Response = tonic::codegen::http::Response<tonic::body::Body>,
                Error = std::convert::Infallible,
            > + tonic::server::NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.app_services.add(service);
        self
    }

    /// Where plugin data (storage) is kept.
    ///
    /// ```
    /// let config = plugwire_host::HostConfig::new("a", "1.0.0").data_dir("/var/lib/acme");
    /// # let _ = config;
    /// ```
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = dir.into();
        self
    }
}

fn default_data_dir() -> PathBuf {
    crate::dirs::data().unwrap_or_else(|| std::env::temp_dir().join("plugwire-data"))
}

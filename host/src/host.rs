//! [`Host`]: the API applications embed. A thin front: each method
//! delegates to the part that does the work (`dispatch`, `changes`, the
//! registry in `core`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use futures_util::future::join_all;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{broadcast, watch};
use tonic::Status;
use tonic::transport::Channel;

use crate::calls::{CallOptions, CommandInfo, RunOptions, ToolInfo, ToolOutput};
use crate::config::{HostConfig, StartPolicy};
use crate::context::{BoxFuture, Context, HostCallbacks};
use crate::core::Core;
use crate::discovery::Problem;
use crate::events::{EmitOutcome, HostEvent};
use crate::instance::{Instance, PluginStatus, Shared};
use crate::logs::LogRecord;
use crate::process::{Spawner, find_launcher};
use crate::registry::Registry;

/// A plugin host.
///
/// ```no_run
/// use plugwire_host::{CallOptions, Host, HostConfig};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let host = Host::start(HostConfig::new("acme", "1.0.0").plugin_dir("plugins")).await?;
/// for tool in host.tools().await {
///     println!("{}: {}", tool.qualified, tool.description);
/// }
/// let out = host.call_tool("echo.echo", serde_json::json!({"text": "hi"}), CallOptions::default()).await?;
/// assert_eq!(out.content, "hi");
/// host.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Host {
    inner: Arc<Core>,
}

/// Why a host could not start.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The spawner thread could not start.
    #[error("cannot start the plugin spawner: {0}")]
    Spawner(#[from] std::io::Error),
}

impl Host {
    /// Discovers plugins and, with [`StartPolicy::Eager`], starts them.
    /// Invalid or conflicting plugins are reported in [`Host::problems`]
    /// and skipped; a plugin that fails to start is marked failed.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), plugwire_host::HostError> {
    /// let host = plugwire_host::Host::start(plugwire_host::HostConfig::new("acme", "1.0.0")).await?;
    /// for problem in host.problems() { eprintln!("{problem}"); }
    /// # Ok(()) }
    /// ```
    pub async fn start(config: HostConfig) -> Result<Self, HostError> {
        crate::connection_limit::raise_fd_limit();
        crate::process::reclaim_debris();
        if config.sandbox.level == crate::sandbox::SandboxLevel::None {
            tracing::warn!(
                "sandbox level none: plugins run unsandboxed, with all of this user's rights (docs/sandbox.md)"
            );
        }
        let (manifests, problems) = crate::discovery::find(&config);
        for problem in &problems {
            // A target of their own, so that an application that shows
            // `Host::problems` itself (the CLI's `list`) can leave them out
            // of its log.
            tracing::warn!(target: "plugwire_host::discovery", "{problem}");
        }
        let launcher = find_launcher(config.launcher.as_deref());
        if launcher.is_none() {
            tracing::warn!(
                "plugwire-launcher not found next to this executable or on PATH: plugins will not be killed if the host dies"
            );
        }
        let spawner = Spawner::new()?;
        let (bus, _) = broadcast::channel(1024);
        let eager = config.start == StartPolicy::Eager;
        let inner = Arc::new_cyclic(|weak: &std::sync::Weak<Core>| {
            let callbacks: std::sync::Weak<dyn HostCallbacks> = weak.clone();
            let ctx = Arc::new(Context::new(config, spawner, launcher, callbacks));
            Core {
                ctx,
                registry: Registry::default(),
                bus,
                problems: Mutex::new(problems),
                overrides: Mutex::new(BTreeMap::new()),
                changes: tokio::sync::Mutex::new(()),
            }
        });
        for (manifest, origin) in manifests {
            let name = manifest.name.clone();
            let shared = Shared::new(&inner.ctx, &name);
            let config = inner.plugin_config(&manifest, None);
            let enabled = !inner.ctx.config.disabled.contains(&name);
            let instance =
                Instance::new(manifest, origin, inner.ctx.clone(), shared, config, enabled);
            // Discovery already kept only the first plugin of each name.
            let _ = inner.registry.insert(Arc::new(instance));
        }
        let host = Self { inner };
        if eager {
            host.start_all().await;
        }
        Ok(host)
    }

    /// Starts every plugin that is not running, concurrently.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) { host.start_all().await; }
    /// ```
    pub async fn start_all(&self) {
        self.inner.start_all().await;
    }

    /// Problems found while discovering plugins, plus tool and command name
    /// conflicts among the running ones.
    ///
    /// ```no_run
    /// # fn f(host: plugwire_host::Host) { for p in host.problems() { eprintln!("{p}"); } }
    /// ```
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = self
            .inner
            .problems
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        problems.extend(self.inner.conflicts());
        problems
    }

    /// The status of every plugin.
    ///
    /// ```no_run
    /// # fn f(host: plugwire_host::Host) {
    /// for s in host.status() { println!("{} {} {:?}", s.name, s.state, s.pid); }
    /// # }
    /// ```
    pub fn status(&self) -> Vec<PluginStatus> {
        self.inner
            .registry
            .all()
            .iter()
            .map(|i| i.status())
            .collect()
    }

    /// Recent log records of a plugin (or of all, with `None`).
    ///
    /// ```no_run
    /// # fn f(host: plugwire_host::Host) { for r in host.logs(Some("echo")) { println!("{}", r.message); } }
    /// ```
    pub fn logs(&self, plugin: Option<&str>) -> Vec<LogRecord> {
        let mut records: Vec<LogRecord> = self
            .inner
            .registry
            .all()
            .iter()
            .filter(|i| plugin.is_none_or(|p| p == i.name()))
            .flat_map(|i| i.logs().recent())
            .collect();
        records.sort_by_key(|r| r.seq);
        records
    }

    /// Subscribes to the event bus: emitted events and lifecycle events.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) {
    /// let mut events = host.subscribe();
    /// while let Ok(event) = events.recv().await { println!("{}", event.name); }
    /// # }
    /// ```
    pub fn subscribe(&self) -> broadcast::Receiver<HostEvent> {
        self.inner.bus.subscribe()
    }

    /// Every tool of every plugin (starting plugins that are not running).
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) {
    /// let n = host.tools().await.len();
    /// # let _ = n; }
    /// ```
    pub async fn tools(&self) -> Vec<ToolInfo> {
        self.inner.start_all().await;
        self.inner.tools()
    }

    /// The input schema of one plugin's tool, starting that plugin (only)
    /// if it is not running; `None` when it offers no such tool.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) -> Result<(), tonic::Status> {
    /// let schema = host.tool_schema("echo", "echo").await?.unwrap();
    /// assert_eq!(schema["properties"]["text"]["type"], "string");
    /// # Ok(()) }
    /// ```
    pub async fn tool_schema(&self, plugin: &str, tool: &str) -> Result<Option<Value>, Status> {
        let conn = self.inner.instance(plugin)?.ensure_ready().await?;
        Ok(conn
            .tools_by_name
            .get(tool)
            .map(|&i| conn.tools[i].input_schema.clone()))
    }

    /// Calls a tool by `<plugin>.<tool>` or by its bare name when that is
    /// unambiguous. Arguments are validated against the tool's schema first.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) -> Result<(), tonic::Status> {
    /// let out = host.call_tool("echo", serde_json::json!({"text": "hi"}), Default::default()).await?;
    /// # let _ = out; Ok(()) }
    /// ```
    pub async fn call_tool(
        &self,
        tool: &str,
        arguments: Value,
        options: CallOptions,
    ) -> Result<ToolOutput, Status> {
        self.inner.call_tool(tool, arguments, options).await
    }

    /// Every command of every plugin.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) { for c in host.commands().await { println!("{}", c.full_name); } }
    /// ```
    pub async fn commands(&self) -> Vec<CommandInfo> {
        self.inner.start_all().await;
        self.inner.commands()
    }

    /// Runs a command: `line` is the command's name (`wc`, `remote add`, or
    /// `<plugin>.wc`) and its arguments. Flags are parsed against the
    /// declaration; stdin is streamed in and stdout/stderr out as they
    /// come. Returns the exit code.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) -> Result<(), tonic::Status> {
    /// let code = host.run_command(
    ///     &["wc".into(), "--lines".into()],
    ///     &b"a\nb\n"[..], tokio::io::stdout(), tokio::io::stderr(),
    ///     Default::default(),
    /// ).await?;
    /// # let _ = code; Ok(()) }
    /// ```
    pub async fn run_command<I, O, E>(
        &self,
        line: &[String],
        stdin: I,
        stdout: O,
        stderr: E,
        options: RunOptions,
    ) -> Result<i32, Status>
    where
        I: AsyncRead + Unpin + Send + 'static,
        O: AsyncWrite + Unpin,
        E: AsyncWrite + Unpin,
    {
        self.inner
            .run_command(line, stdin, stdout, stderr, options)
            .await
    }

    /// Emits an event: intercepting hooks run in order and may modify or
    /// deny it; then observers get it without blocking this call.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) -> Result<(), tonic::Status> {
    /// let outcome = host.emit("request.before", serde_json::json!({"password": "x"})).await?;
    /// if let Some(denial) = outcome.denied { eprintln!("denied by {}: {}", denial.plugin, denial.reason); }
    /// # Ok(()) }
    /// ```
    pub async fn emit(&self, name: &str, payload: Value) -> Result<EmitOutcome, Status> {
        if name.starts_with("plugin.") {
            return Err(Status::invalid_argument(
                "event names starting with \"plugin.\" are reserved for lifecycle events",
            ));
        }
        self.inner.emit_from(name, payload, "host").await
    }

    /// The channel of the plugin providing `service` as provider `name`.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) -> Result<(), tonic::Status> {
    /// let channel = host.provider_channel("examples.kv.v1.KeyValue", "memory").await?;
    /// # let _ = channel; Ok(()) }
    /// ```
    pub async fn provider_channel(&self, service: &str, name: &str) -> Result<Channel, Status> {
        self.inner.provider_channel(service, name).await
    }

    /// A typed client for a provider: `make` is the generated client's
    /// `new`, e.g. `KeyValueClient::new`.
    ///
    /// ```ignore
    /// let kv = host.provider("examples.kv.v1.KeyValue", "memory", KeyValueClient::new).await?;
    /// ```
    pub async fn provider<C>(
        &self,
        service: &str,
        name: &str,
        make: impl FnOnce(Channel) -> C,
    ) -> Result<C, Status> {
        Ok(make(self.provider_channel(service, name).await?))
    }

    /// Providers of every running plugin: (plugin, service, name).
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) { for (p, s, n) in host.providers().await { println!("{p}: {s} as {n}"); } }
    /// ```
    pub async fn providers(&self) -> Vec<(String, String, String)> {
        self.inner.providers().await
    }

    /// Every hook subscription of every plugin, starting them first.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) {
    /// let hooks = host.hooks().await;
    /// assert!(hooks.iter().any(|h| h.plugin == "audit" && h.intercept));
    /// # }
    /// ```
    pub async fn hooks(&self) -> Vec<crate::HookInfo> {
        self.inner.hooks().await
    }

    /// Starts one plugin now (clearing a previous failure).
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) -> Result<(), tonic::Status> { host.start_plugin("echo").await }
    /// ```
    pub async fn start_plugin(&self, name: &str) -> Result<(), Status> {
        let instance = self.inner.instance(name)?;
        instance.reset();
        instance.ensure_ready().await.map(|_| ())
    }

    /// Stops one plugin gracefully; it starts again on next use.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) -> Result<(), tonic::Status> { host.stop_plugin("echo").await }
    /// ```
    pub async fn stop_plugin(&self, name: &str) -> Result<(), Status> {
        let instance = self.inner.instance(name)?;
        instance.stop().await;
        Ok(())
    }

    /// Adds the plugin in `dir` (the directory holding its `plugin.toml`)
    /// while the host runs, with every check discovery makes; it starts
    /// now under [`StartPolicy::Eager`], on first use otherwise. Emits
    /// `plugin.added`.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) -> Result<(), tonic::Status> {
    /// let status = host.add_plugin("/opt/acme/plugins/echo".as_ref()).await?;
    /// assert_eq!(status.name, "echo");
    /// assert!(host.status().iter().any(|s| s.name == "echo"));
    /// # Ok(()) }
    /// ```
    pub async fn add_plugin(&self, dir: &Path) -> Result<PluginStatus, Status> {
        let started = std::time::Instant::now();
        let result = self.inner.add_plugin(dir).await;
        let name = result.as_ref().ok().map(|s| s.name.clone());
        self.audit_change(
            "add",
            name.as_deref(),
            Some(dir.display().to_string()),
            started,
            &result,
        );
        result
    }

    /// Removes a plugin: new calls no longer reach it, calls running on it
    /// finish (up to [`Timeouts::drain`](crate::Timeouts::drain)), then it
    /// stops. Emits `plugin.removed`.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) -> Result<(), tonic::Status> {
    /// host.remove_plugin("echo").await?;
    /// assert!(host.status().iter().all(|s| s.name != "echo"));
    /// # Ok(()) }
    /// ```
    pub async fn remove_plugin(&self, name: &str) -> Result<(), Status> {
        let started = std::time::Instant::now();
        let result = self.inner.remove_plugin(name).await;
        self.audit_change("remove", Some(name), None, started, &result);
        result
    }

    /// Re-reads a plugin's manifest and executable from its directory and
    /// replaces the running version without dropping a call: the new
    /// version starts beside the old, takes new calls once it is ready,
    /// and the old one stops once its calls have finished. If the new
    /// version fails to start or to configure, the old one keeps serving
    /// and this returns the new one's error. Emits `plugin.reloaded`
    /// (or `plugin.reload_failed`).
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) -> Result<(), tonic::Status> {
    /// let before = host.status().into_iter().find(|s| s.name == "echo").unwrap();
    /// let after = host.reload_plugin("echo").await?;
    /// assert_ne!(after.pid, before.pid, "a new process serves it");
    /// # Ok(()) }
    /// ```
    pub async fn reload_plugin(&self, name: &str) -> Result<PluginStatus, Status> {
        let started = std::time::Instant::now();
        let result = self.inner.reload_plugin(name).await;
        self.audit_change("reload", Some(name), None, started, &result);
        result
    }

    /// Sets a plugin's run-time configuration, merged over its file and
    /// [`HostConfig::configure`] (docs/manifest.md). It is checked
    /// against the plugin's schema first, and refused whole if it does not
    /// match; a running plugin restarts with it by the rules of
    /// [`Host::reload_plugin`]. Emits `plugin.configured`.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) -> Result<(), tonic::Status> {
    /// let refused = host.configure_plugin("echo", serde_json::json!({"prefix": 5})).await;
    /// assert_eq!(refused.unwrap_err().code(), tonic::Code::InvalidArgument);
    /// host.configure_plugin("echo", serde_json::json!({"prefix": "> "})).await?;
    /// # Ok(()) }
    /// ```
    pub async fn configure_plugin(
        &self,
        name: &str,
        config: Value,
    ) -> Result<PluginStatus, Status> {
        let started = std::time::Instant::now();
        // Which fields changed, never their values (they may be secret).
        let fields = config
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>().join(","));
        let result = self.inner.configure_plugin(name, config).await;
        self.audit_change("configure", Some(name), fields, started, &result);
        result
    }

    /// The configuration a plugin runs with: its schema's defaults, its
    /// file, the host's and the run-time settings merged (docs/manifest.md),
    /// or why there is none (`INVALID_ARGUMENT` when it fails the schema).
    /// Secret fields (docs/manifest.md) read as
    /// [`secrets::PLACEHOLDER`](crate::secrets::PLACEHOLDER): only the
    /// plugin is sent their values.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) -> Result<(), tonic::Status> {
    /// host.configure_plugin("probe", serde_json::json!({"loud": true})).await?;
    /// assert_eq!(host.plugin_config("probe")?["loud"], true);
    /// # Ok(()) }
    /// ```
    pub fn plugin_config(&self, name: &str) -> Result<Value, Status> {
        let instance = self.inner.instance(name)?;
        let config = instance
            .config()
            .map_err(|why| Status::invalid_argument(why.to_owned()))?;
        Ok(match &instance.manifest.config_schema {
            Some(schema) => crate::secrets::redacted(schema, config),
            None => config.clone(),
        })
    }

    /// Replaces what the user granted (a long-running host re-reads the
    /// grants file when it changes). Plugins already running keep running;
    /// a plugin starting, restarting or reloading from now on is checked
    /// against these.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) -> Result<(), tonic::Status> {
    /// use plugwire_host::grants::Grants;
    /// let grants = Grants::load(&Grants::default_path()).map_err(tonic::Status::internal)?;
    /// host.set_grants(grants);
    /// host.reload_plugin("audit").await?;
    /// # Ok(()) }
    /// ```
    pub fn set_grants(&self, grants: crate::grants::Grants) {
        self.inner.ctx.set_grants(grants);
    }

    /// What a plugin requests that is not granted now (what it would be
    /// refused for at its next start).
    ///
    /// ```no_run
    /// # fn f(host: plugwire_host::Host) -> Result<(), tonic::Status> {
    /// let missing = host.missing_grants("wordcount")?;
    /// assert!(missing.iter().all(|p| p.to_string().starts_with("read:")));
    /// # Ok(()) }
    /// ```
    pub fn missing_grants(&self, name: &str) -> Result<Vec<crate::grants::Permission>, Status> {
        let instance = self.inner.instance(name)?;
        Ok(self.inner.ctx.grants().missing(&instance.manifest))
    }

    /// A plugin's manifest as the host read it.
    ///
    /// ```no_run
    /// # fn f(host: plugwire_host::Host) -> Result<(), tonic::Status> {
    /// let manifest = host.manifest("echo")?;
    /// assert_eq!(manifest.name, "echo");
    /// # Ok(()) }
    /// ```
    pub fn manifest(&self, name: &str) -> Result<crate::manifest::Manifest, Status> {
        Ok(self.inner.instance(name)?.manifest.clone())
    }

    /// Switches a plugin off or on. A disabled plugin stays listed (state
    /// [`PluginState::Disabled`](crate::PluginState::Disabled)) and is never
    /// started; calls to it fail with `FAILED_PRECONDITION`. Emits
    /// `plugin.disabled` or `plugin.enabled`.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) -> Result<(), tonic::Status> {
    /// host.set_enabled("echo", false).await?;
    /// let call = host.call_tool("echo.echo", serde_json::json!({"text": "hi"}), Default::default()).await;
    /// assert_eq!(call.unwrap_err().code(), tonic::Code::FailedPrecondition);
    /// host.set_enabled("echo", true).await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<(), Status> {
        let started = std::time::Instant::now();
        let result = self.inner.set_enabled(name, enabled).await;
        let action = if enabled { "enable" } else { "disable" };
        self.audit_change(action, Some(name), None, started, &result);
        result
    }

    /// The audit trail: subscribe to get every record as it is made (the
    /// same records the audit log file gets, docs/security.md).
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) {
    /// let mut records = host.audit().subscribe();
    /// while let Ok(record) = records.recv().await {
    ///     println!("{} {} {:?} {}", record.actor, record.action, record.plugin, record.outcome);
    /// }
    /// # }
    /// ```
    pub fn audit(&self) -> &crate::audit::Audit {
        &self.inner.ctx.audit
    }

    fn audit_change<T>(
        &self,
        action: &str,
        plugin: Option<&str>,
        target: Option<String>,
        started: std::time::Instant,
        result: &Result<T, Status>,
    ) {
        let audit = &self.inner.ctx.audit;
        if !audit.enabled() {
            return;
        }
        let actor = crate::audit::current_actor();
        let mut record = crate::audit::AuditRecord::new(&actor, action, plugin)
            .outcome(result)
            .took(started.elapsed());
        record.target = target;
        audit.record(record);
    }

    /// Follows the plugin set: the value changes with every addition,
    /// removal, replacement, and enabling or disabling.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) -> Result<(), tonic::Status> {
    /// let mut changes = host.watch_plugins();
    /// let seen = *changes.borrow_and_update();
    /// host.set_enabled("echo", false).await?;
    /// assert!(*changes.borrow() > seen);
    /// # Ok(()) }
    /// ```
    pub fn watch_plugins(&self) -> watch::Receiver<u64> {
        self.inner.registry.watch()
    }

    /// Stops every plugin: `Shutdown`, then SIGTERM, then SIGKILL of each
    /// process tree (PW-SHUT-4).
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) { host.shutdown().await; }
    /// ```
    pub async fn shutdown(&self) {
        let all = self.inner.registry.all();
        join_all(all.iter().map(|i| i.stop())).await;
        // What was done is on disk before the process may exit.
        let audit = self.inner.ctx.audit.clone();
        let _ = tokio::task::spawn_blocking(move || audit.flush(std::time::Duration::from_secs(2)))
            .await;
    }
}

/// What plugins may ask of the host, through the host service.
impl HostCallbacks for Core {
    fn lifecycle(&self, name: &str, payload: Value) {
        Core::lifecycle(self, name, payload);
    }

    fn call_tool(
        &self,
        tool: String,
        arguments: Value,
        options: CallOptions,
    ) -> BoxFuture<'_, Result<ToolOutput, Status>> {
        Box::pin(async move { Core::call_tool(self, &tool, arguments, options).await })
    }

    fn start_dependency<'a>(
        &'a self,
        plugin: &'a str,
        dependency: &'a str,
        requirement: &'a semver::VersionReq,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(Core::start_dependency(
            self,
            plugin,
            dependency,
            requirement,
        ))
    }

    fn emit(
        &self,
        name: String,
        payload: Value,
        source: String,
    ) -> BoxFuture<'_, Result<EmitOutcome, Status>> {
        Box::pin(async move { self.emit_from(&name, payload, &source).await })
    }
}

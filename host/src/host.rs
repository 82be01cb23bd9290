//! [`Host`]: the API applications embed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::future::join_all;
use plugwire_proto::cli::parse_invocation;
use plugwire_proto::constants::{CALL_CHAIN_METADATA, CALL_DEPTH_METADATA, MAX_STDIO_CHUNK};
use plugwire_proto::names::{command_full_name, pattern_matches, validate_event_name};
use plugwire_proto::pb;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tonic::Status;
use tonic::transport::Channel;

use crate::config::{FailurePolicy, HostConfig, StartPolicy};
use crate::discovery::Problem;
use crate::instance::{Connection, Instance, PluginState, PluginStatus, pointer};
use crate::logs::LogRecord;
use crate::process::{Spawner, find_launcher};

/// Largest event payload accepted by [`Host::emit`].
pub const MAX_EVENT_PAYLOAD: usize = 4 << 20;

/// Options of one tool call.
///
/// ```
/// use std::time::Duration;
/// let options = plugwire_host::CallOptions::default().timeout(Duration::from_secs(5));
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    timeout: Option<Duration>,
    cancel: Option<CancellationToken>,
    progress: Option<mpsc::Sender<Progress>>,
    /// How deep in a chain of tool calls this one is (PW-HOST-6), and in
    /// which chain; `None` starts a new chain.
    pub(crate) depth: u32,
    pub(crate) chain: Option<crate::call_chains::ChainId>,
}

impl CallOptions {
    /// The call's deadline (capped by the host's and the manifest's).
    ///
    /// ```
    /// let o = plugwire_host::CallOptions::default().timeout(std::time::Duration::from_millis(500));
    /// # let _ = o;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Cancels the call when `token` is cancelled.
    ///
    /// ```
    /// let token = tokio_util::sync::CancellationToken::new();
    /// let o = plugwire_host::CallOptions::default().cancel(token.clone());
    /// # let _ = o;
    /// ```
    pub fn cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Receives progress reports, when the plugin sends them.
    ///
    /// ```
    /// let (tx, _rx) = tokio::sync::mpsc::channel(16);
    /// let o = plugwire_host::CallOptions::default().progress(tx);
    /// # let _ = o;
    /// ```
    pub fn progress(mut self, sender: mpsc::Sender<Progress>) -> Self {
        self.progress = Some(sender);
        self
    }
}

/// A progress report of a running tool.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Work done.
    pub progress: f64,
    /// Total work, when known.
    pub total: Option<f64>,
    /// Status text.
    pub message: String,
}

/// A tool's result.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// The tool reported a failure of its own (PW-TOOL-6).
    pub is_error: bool,
    /// The result content.
    pub content: Value,
}

/// A tool offered by a loaded plugin.
#[derive(Debug, Clone)]
pub struct ToolInfo {
    /// The plugin offering it.
    pub plugin: String,
    /// The tool's own name.
    pub name: String,
    /// `<plugin>.<name>`.
    pub qualified: String,
    /// Whether the bare name is unambiguous.
    pub bare_ok: bool,
    /// Description.
    pub description: String,
    /// Input JSON Schema.
    pub input_schema: Value,
    /// Output JSON Schema, if declared.
    pub output_schema: Option<Value>,
    /// Behaviour hints.
    pub annotations: pb::ToolAnnotations,
}

/// A command offered by a loaded plugin.
#[derive(Debug, Clone)]
pub struct CommandInfo {
    /// The plugin offering it.
    pub plugin: String,
    /// Full name (parent path and name).
    pub full_name: String,
    /// The declaration.
    pub declaration: pb::Command,
}

/// An event on the host's bus: emitted by the application or a plugin, or a
/// lifecycle event (`plugin.started`, `plugin.stopped`, `plugin.crashed`,
/// `plugin.failed`).
#[derive(Debug, Clone, PartialEq)]
pub struct HostEvent {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Payload (final, after interception).
    pub payload: Value,
    /// `host`, `plugin:<name>`, or `lifecycle`.
    pub source: String,
    /// When it was emitted.
    pub time: SystemTime,
}

/// Who denied an event, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The denying plugin.
    pub plugin: String,
    /// Its reason.
    pub reason: String,
}

/// What one intercepting hook did.
#[derive(Debug, Clone, PartialEq)]
pub enum HookOutcome {
    /// Let it through unchanged.
    Continued,
    /// Replaced the payload.
    Modified,
    /// Denied it.
    Denied(String),
    /// Failed; `denied` says whether its failure policy denied the event.
    Failed {
        /// What went wrong.
        error: String,
        /// True under fail-closed.
        denied: bool,
    },
}

/// One intercepting hook's decision.
#[derive(Debug, Clone, PartialEq)]
pub struct HookRecord {
    /// The plugin.
    pub plugin: String,
    /// The matching subscription.
    pub pattern: String,
    /// Its priority.
    pub priority: i32,
    /// What it did.
    pub outcome: HookOutcome,
}

/// The result of [`Host::emit`].
#[derive(Debug, Clone, PartialEq)]
pub struct EmitOutcome {
    /// The event's id.
    pub id: String,
    /// The final payload.
    pub payload: Value,
    /// Set when an intercepting hook denied the event.
    pub denied: Option<Denial>,
    /// Every intercepting hook's decision, in order.
    pub decisions: Vec<HookRecord>,
    /// Observers the event was queued for.
    pub observers: Vec<String>,
}

/// A signal to forward to a running command.
pub use plugwire_proto::pb::Signal as CommandSignal;

/// Options of a command run.
#[derive(Debug, Default)]
pub struct RunOptions {
    /// Environment passed to the command (an allow-list chosen by the caller).
    pub env: BTreeMap<String, String>,
    /// Terminal size (columns, rows) when stdout is a terminal.
    pub terminal: Option<(u32, u32)>,
    /// Signals to forward while it runs.
    pub signals: Option<mpsc::Receiver<CommandSignal>>,
}

pub(crate) struct HostInner {
    pub(crate) config: HostConfig,
    pub(crate) instances: BTreeMap<String, Arc<Instance>>,
    pub(crate) problems: Vec<Problem>,
    pub(crate) bus: broadcast::Sender<HostEvent>,
    pub(crate) spawner: Spawner,
    pub(crate) launcher: Option<PathBuf>,
    /// What the machine offers the sandbox, detected on first use.
    pub(crate) support: std::sync::OnceLock<crate::sandbox::Support>,
    /// Tool calls in flight into each plugin, for the call-depth limit.
    pub(crate) call_chains: crate::call_chains::CallChains,
    /// Whether the host has said what its best-effort sandbox lacks.
    sandbox_warned: std::sync::atomic::AtomicBool,
}

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
    inner: Arc<HostInner>,
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
            tracing::warn!("{problem}");
        }
        let launcher = find_launcher(config.launcher.as_deref());
        if launcher.is_none() {
            tracing::warn!(
                "plugwire-launcher not found next to this executable or on PATH: plugins will not be killed if the host dies"
            );
        }
        let spawner = Spawner::new()?;
        let (bus, _) = broadcast::channel(1024);
        let inner = Arc::new_cyclic(|weak| {
            let instances = manifests
                .into_iter()
                .map(|(manifest, origin)| {
                    let name = manifest.name.clone();
                    (
                        name,
                        Arc::new(Instance::new(
                            manifest,
                            origin,
                            weak.clone(),
                            &config.data_dir,
                            config.log_rate,
                        )),
                    )
                })
                .collect();
            HostInner {
                config,
                instances,
                problems,
                bus,
                spawner,
                launcher,
                support: std::sync::OnceLock::new(),
                call_chains: Default::default(),
                sandbox_warned: Default::default(),
            }
        });
        let host = Self { inner };
        if host.inner.config.start == StartPolicy::Eager {
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
        let mut problems = self.inner.problems.clone();
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
        self.inner.instances.values().map(|i| i.status()).collect()
    }

    /// Recent log records of a plugin (or of all, with `None`).
    ///
    /// ```no_run
    /// # fn f(host: plugwire_host::Host) { for r in host.logs(Some("echo")) { println!("{}", r.message); } }
    /// ```
    pub fn logs(&self, plugin: Option<&str>) -> Vec<LogRecord> {
        let mut records: Vec<LogRecord> = self
            .inner
            .instances
            .values()
            .filter(|i| plugin.is_none_or(|p| p == i.name()))
            .flat_map(|i| i.logs.recent())
            .collect();
        records.sort_by_key(|r| r.time);
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
        self.inner.start_all().await;
        for instance in self.inner.instances.values() {
            if let Some(conn) = instance.current()
                && conn
                    .providers()
                    .iter()
                    .any(|p| p.service == service && p.name == name)
            {
                instance.touch();
                return Ok(conn.channel.clone());
            }
        }
        Err(Status::not_found(format!(
            "no plugin provides {service} as {name:?}"
        )))
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
        self.inner.start_all().await;
        let mut out = Vec::new();
        for instance in self.inner.instances.values() {
            if let Some(conn) = instance.current() {
                for p in conn.providers() {
                    out.push((
                        instance.name().to_owned(),
                        p.service.clone(),
                        p.name.clone(),
                    ));
                }
            }
        }
        out
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

    /// Stops every plugin: `Shutdown`, then SIGTERM, then SIGKILL of each
    /// process tree (PW-SHUT-4).
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) { host.shutdown().await; }
    /// ```
    pub async fn shutdown(&self) {
        join_all(self.inner.instances.values().map(|i| i.stop())).await;
    }
}

impl HostInner {
    /// Says once per host what a best-effort sandbox cannot enforce here.
    pub(crate) fn warn_once_about(
        &self,
        level: crate::sandbox::SandboxLevel,
        support: &crate::sandbox::Support,
    ) {
        let missing = support.missing(level);
        if !missing.is_empty()
            && self.config.sandbox.best_effort
            && !self
                .sandbox_warned
                .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            tracing::warn!(
                "sandbox level {level} without {} on this machine (best effort; `plugwire doctor` explains)",
                missing.join(", ")
            );
        }
    }

    pub(crate) fn instance(&self, name: &str) -> Result<&Arc<Instance>, Status> {
        self.instances.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.instances.keys().map(String::as_str).collect();
            Status::not_found(format!(
                "no plugin named {name:?}; loaded: {}",
                known.join(", ")
            ))
        })
    }

    async fn start_all(&self) {
        join_all(
            self.instances
                .values()
                .filter(|i| i.phase() == PluginState::Stopped)
                .map(|i| async move {
                    let _ = i.ensure_ready().await;
                }),
        )
        .await;
    }

    fn running(&self) -> Vec<(&Arc<Instance>, Arc<Connection>)> {
        self.instances
            .values()
            .filter_map(|i| i.current().filter(|c| !c.has_exited()).map(|c| (i, c)))
            .collect()
    }

    fn tools(&self) -> Vec<ToolInfo> {
        let running = self.running();
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for (_, conn) in &running {
            for tool in &conn.tools {
                *counts.entry(tool.decl.name.clone()).or_default() += 1;
            }
        }
        running
            .iter()
            .flat_map(|(instance, conn)| {
                conn.tools.iter().map(|tool| ToolInfo {
                    plugin: instance.name().to_owned(),
                    name: tool.decl.name.clone(),
                    qualified: format!("{}.{}", instance.name(), tool.decl.name),
                    bare_ok: counts.get(&tool.decl.name) == Some(&1),
                    description: tool.decl.description.clone(),
                    input_schema: tool.input_schema.clone(),
                    output_schema: tool.output_schema.clone(),
                    annotations: tool.decl.annotations.unwrap_or_default(),
                })
            })
            .collect()
    }

    fn commands(&self) -> Vec<CommandInfo> {
        self.running()
            .iter()
            .flat_map(|(instance, conn)| {
                conn.commands.iter().map(|c| CommandInfo {
                    plugin: instance.name().to_owned(),
                    full_name: command_full_name(c),
                    declaration: c.clone(),
                })
            })
            .collect()
    }

    fn conflicts(&self) -> Vec<Problem> {
        let mut tools: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut commands: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (instance, conn) in self.running() {
            for tool in &conn.tools {
                tools
                    .entry(tool.decl.name.clone())
                    .or_default()
                    .push(instance.name().to_owned());
            }
            for command in &conn.commands {
                commands
                    .entry(command_full_name(command))
                    .or_default()
                    .push(instance.name().to_owned());
            }
        }
        let mut problems = Vec::new();
        for (name, plugins) in tools.into_iter().filter(|(_, p)| p.len() > 1) {
            problems.push(Problem::Conflict(format!(
                "tool {name:?} is offered by {}; call it as {}",
                plugins.join(" and "),
                plugins
                    .iter()
                    .map(|p| format!("{p}.{name}"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )));
        }
        for (name, plugins) in commands.into_iter().filter(|(_, p)| p.len() > 1) {
            problems.push(Problem::Conflict(format!(
                "command {name:?} is offered by {}; run it as {}",
                plugins.join(" and "),
                plugins
                    .iter()
                    .map(|p| format!("{p}.{name}"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )));
        }
        problems
    }

    /// Finds the plugin serving `tool` (qualified or bare).
    async fn resolve_tool(
        &self,
        tool: &str,
    ) -> Result<(Arc<Instance>, Arc<Connection>, String), Status> {
        if let Some((plugin, name)) = tool.split_once('.') {
            let instance = self.instance(plugin)?.clone();
            let conn = instance.ensure_ready().await?;
            if !conn.tools_by_name.contains_key(name) {
                let known: Vec<&str> = conn.tools.iter().map(|t| t.decl.name.as_str()).collect();
                return Err(Status::not_found(format!(
                    "plugin {plugin:?} has no tool {name:?}; it has {}",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                )));
            }
            return Ok((instance, conn, name.to_owned()));
        }
        // A bare name resolves against every plugin's tools, running or
        // not: matching only the running ones would hand the call to
        // whichever plugin happened to start first (an impostor's `echo`
        // while the real one is stopped). Plugins never started yet are
        // started once to learn what they offer.
        if self.instances.values().any(|i| i.known_tools().is_none()) {
            self.start_all().await;
        }
        let owners: Vec<&Arc<Instance>> = self
            .instances
            .values()
            .filter(|i| i.known_tools().is_some_and(|t| t.iter().any(|n| n == tool)))
            .collect();
        match owners.as_slice() {
            [] => Err(Status::not_found(format!(
                "no tool named {tool:?}; `plugwire tools` lists them, addressed as <plugin>.<tool>"
            ))),
            [instance] => {
                let instance = (*instance).clone();
                let conn = instance.ensure_ready().await?;
                if !conn.tools_by_name.contains_key(tool) {
                    return Err(Status::not_found(format!(
                        "plugin {:?} no longer offers tool {tool:?} since it restarted",
                        instance.name()
                    )));
                }
                instance.touch();
                Ok((instance, conn, tool.to_owned()))
            }
            _ => Err(Status::failed_precondition(format!(
                "tool name {tool:?} is ambiguous: use {}",
                owners
                    .iter()
                    .map(|i| format!("{}.{tool}", i.name()))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ))),
        }
    }

    pub(crate) async fn call_tool(
        &self,
        tool: &str,
        arguments: Value,
        options: CallOptions,
    ) -> Result<ToolOutput, Status> {
        let (instance, conn, name) = self.resolve_tool(tool).await?;
        let entry = &conn.tools[conn.tools_by_name[&name]];
        if !arguments.is_object() {
            return Err(Status::invalid_argument(format!(
                "arguments: expected a JSON object, saw {arguments}"
            )));
        }
        // `is_valid` is the fast check; errors are collected only to explain.
        let validator = entry.validator();
        let problems: Vec<String> = if validator.is_valid(&arguments) {
            Vec::new()
        } else {
            validator
                .iter_errors(&arguments)
                .take(3)
                .map(|e| format!("arguments {}: {e}", pointer(&e.instance_path().to_string())))
                .collect()
        };
        if !problems.is_empty() {
            return Err(Status::invalid_argument(format!(
                "{} (tool {}.{name}; `plugwire tools --json` shows its schema)",
                problems.join("; "),
                instance.name()
            )));
        }
        let limit = instance.call_timeout(&self.config);
        let timeout = options.timeout.map_or(limit, |t| t.min(limit));
        let arguments_json = arguments.to_string();
        let depth = depth_metadata(options.depth + 1);
        let chain = options
            .chain
            .unwrap_or_else(|| self.call_chains.new_chain());
        let _in_flight = self
            .call_chains
            .enter(instance.name(), chain, options.depth + 1);
        let chain = tonic::metadata::MetadataValue::from(chain);
        let use_stream = options.progress.is_some() && conn.progress;
        let call = async {
            if use_stream {
                let mut request = tonic::Request::new(pb::CallToolStreamRequest {
                    name: name.clone(),
                    arguments_json,
                });
                request.set_timeout(timeout);
                let metadata = request.metadata_mut();
                metadata.insert(CALL_DEPTH_METADATA, depth.clone());
                metadata.insert(CALL_CHAIN_METADATA, chain.clone());
                let mut stream = tools_client(&conn)
                    .call_tool_stream(request)
                    .await?
                    .into_inner();
                let progress = options.progress.as_ref().expect("checked above");
                while let Some(message) = stream.next().await {
                    match message?.event {
                        Some(pb::call_tool_stream_response::Event::Progress(p)) => {
                            let _ = progress
                                .send(Progress {
                                    progress: p.progress,
                                    total: p.total,
                                    message: p.message,
                                })
                                .await;
                        }
                        Some(pb::call_tool_stream_response::Event::Result(r)) => return Ok(r),
                        None => {}
                    }
                }
                Err(Status::internal(format!(
                    "plugin {:?} ended the stream without a result (PW-TOOL-10)",
                    instance.name()
                )))
            } else {
                let mut request = tonic::Request::new(pb::CallToolRequest {
                    name: name.clone(),
                    arguments_json,
                });
                request.set_timeout(timeout);
                let metadata = request.metadata_mut();
                metadata.insert(CALL_DEPTH_METADATA, depth.clone());
                metadata.insert(CALL_CHAIN_METADATA, chain.clone());
                tools_client(&conn)
                    .call_tool(request)
                    .await?
                    .into_inner()
                    .result
                    .ok_or_else(|| {
                        Status::internal(format!("plugin {:?} sent no result", instance.name()))
                    })
            }
        };
        let cancelled = async {
            match &options.cancel {
                Some(token) => token.cancelled().await,
                None => std::future::pending().await,
            }
        };
        // `resolve_tool` touched the plugin as the call began; touching it
        // again at the end keeps a long call from counting as idle time.
        let result = tokio::select! {
            biased;
            status = conn.exited() => Err(Status::unavailable(format!(
                "plugin {:?} crashed during the call ({status})", instance.name()
            ))),
            _ = cancelled => Err(Status::cancelled("the call was cancelled")),
            r = by_our_clock(timeout, call) => r.map_err(|s| if s.code() == tonic::Code::DeadlineExceeded {
                Status::deadline_exceeded(format!("tool {}.{name} did not answer within {timeout:?}", instance.name()))
            } else {
                s
            }),
        };
        instance.touch();
        let result = match result {
            Ok(r) => r,
            Err(s) => return Err(self.explain(&instance, &conn, s).await),
        };
        let content = serde_json::from_str(&result.content_json).map_err(|e| {
            Status::internal(format!(
                "plugin {:?} sent a result that is not JSON (PW-TOOL-7): {e}",
                instance.name()
            ))
        })?;
        Ok(ToolOutput {
            is_error: result.is_error,
            content,
        })
    }

    /// A transport failure because the plugin died reads as UNAVAILABLE
    /// naming the plugin and its exit status, not as a broken pipe. The
    /// broken connection is often noticed a moment before the exit, so wait
    /// briefly for the status.
    async fn explain(&self, instance: &Instance, conn: &Connection, status: Status) -> Status {
        let transport = matches!(
            status.code(),
            tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Internal
        ) && (conn.has_exited()
            || status.message().contains("transport")
            || status.message().contains("connection"));
        if transport {
            let how = tokio::time::timeout(Duration::from_millis(500), conn.exited())
                .await
                .unwrap_or_else(|_| "its connection broke".to_owned());
            return Status::unavailable(format!(
                "plugin {:?} crashed during the call ({how})",
                instance.name()
            ));
        }
        status
    }

    pub(crate) fn lifecycle(&self, name: &str, payload: Value) {
        let event = HostEvent {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_owned(),
            payload,
            source: "lifecycle".to_owned(),
            time: SystemTime::now(),
        };
        self.observe(&event);
        let _ = self.bus.send(event);
    }

    /// Queues an event for every matching observer, never blocking.
    fn observe(&self, event: &HostEvent) -> Vec<String> {
        let mut queued = Vec::new();
        // Encoded once, whatever the number of observers.
        let encoded = to_pb(event);
        for (instance, conn) in self.running() {
            let Some(sub) = conn.hooks().iter().find(|s| {
                s.mode == pb::HookMode::Observe as i32 && pattern_matches(&s.pattern, &event.name)
            }) else {
                continue;
            };
            match conn
                .observer
                .try_send((sub.pattern.clone(), encoded.clone()))
            {
                Ok(()) => queued.push(instance.name().to_owned()),
                Err(_) => {
                    instance
                        .dropped_events
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        queued
    }

    pub(crate) async fn emit_from(
        &self,
        name: &str,
        payload: Value,
        source: &str,
    ) -> Result<EmitOutcome, Status> {
        validate_event_name(name).map_err(Status::invalid_argument)?;
        let size = payload.to_string().len();
        if size > MAX_EVENT_PAYLOAD {
            return Err(Status::invalid_argument(format!(
                "payload: {size} bytes, over the {MAX_EVENT_PAYLOAD}-byte limit"
            )));
        }
        // Subscriptions are only known from handshakes.
        self.start_all().await;
        let mut event = HostEvent {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_owned(),
            payload,
            source: source.to_owned(),
            time: SystemTime::now(),
        };
        let mut chain: Vec<Link> = Vec::new();
        for (instance, conn) in self.running() {
            if let Some(sub) = conn.hooks().iter().find(|s| {
                s.mode == pb::HookMode::Intercept as i32 && pattern_matches(&s.pattern, name)
            }) {
                chain.push((
                    sub.priority,
                    instance.name().to_owned(),
                    instance.clone(),
                    conn.clone(),
                    sub.clone(),
                ));
            }
        }
        chain.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let mut decisions = Vec::new();
        for (priority, plugin, instance, conn, sub) in chain {
            instance.touch();
            let outcome = self.intercept(&conn, &sub, &event).await;
            let (record, denial) = match outcome {
                Ok(Intercepted::Continue) => (HookOutcome::Continued, None),
                Ok(Intercepted::Modify(payload)) => {
                    event.payload = payload;
                    (HookOutcome::Modified, None)
                }
                Ok(Intercepted::Deny(reason)) => {
                    (HookOutcome::Denied(reason.clone()), Some(reason))
                }
                Err(error) => {
                    let closed = match pb::FailurePolicy::try_from(sub.failure_policy) {
                        Ok(pb::FailurePolicy::Closed) => true,
                        Ok(pb::FailurePolicy::Open) => false,
                        _ => self.config.hook_failure == FailurePolicy::Closed,
                    };
                    tracing::warn!(plugin = %plugin, event = name, "intercepting hook failed: {error}");
                    let reason = format!("hook of plugin {plugin:?} failed: {error}");
                    (
                        HookOutcome::Failed {
                            error,
                            denied: closed,
                        },
                        closed.then_some(reason),
                    )
                }
            };
            decisions.push(HookRecord {
                plugin: plugin.clone(),
                pattern: sub.pattern.clone(),
                priority,
                outcome: record,
            });
            if let Some(reason) = denial {
                return Ok(EmitOutcome {
                    id: event.id,
                    payload: event.payload,
                    denied: Some(Denial { plugin, reason }),
                    decisions,
                    observers: Vec::new(),
                });
            }
        }
        let observers = self.observe(&event);
        let outcome = EmitOutcome {
            id: event.id.clone(),
            payload: event.payload.clone(),
            denied: None,
            decisions,
            observers,
        };
        let _ = self.bus.send(event);
        Ok(outcome)
    }

    async fn intercept(
        &self,
        conn: &Connection,
        sub: &pb::HookSubscription,
        event: &HostEvent,
    ) -> Result<Intercepted, String> {
        let timeout = self.config.timeouts.hook;
        let mut request = tonic::Request::new(pb::HandleEventRequest {
            event: Some(to_pb(event)),
            mode: pb::HookMode::Intercept as i32,
            pattern: sub.pattern.clone(),
        });
        request.set_timeout(timeout);
        let mut client = pb::hook_service_client::HookServiceClient::new(conn.channel.clone());
        let response = tokio::select! {
            status = conn.exited() => return Err(format!("the plugin crashed ({status})")),
            r = by_our_clock(timeout, client.handle_event(request)) => match r {
                Err(status) if status.code() == tonic::Code::DeadlineExceeded => return Err(format!("no decision within {timeout:?}")),
                Err(status) => return Err(format!("{:?}: {}", status.code(), status.message())),
                Ok(response) => response.into_inner(),
            },
        };
        match pb::Decision::try_from(response.decision) {
            Ok(pb::Decision::Continue) => Ok(Intercepted::Continue),
            Ok(pb::Decision::Modify) => serde_json::from_str(&response.payload_json)
                .map(Intercepted::Modify)
                .map_err(|e| format!("MODIFY with a payload that is not JSON: {e}")),
            Ok(pb::Decision::Deny) if !response.reason.is_empty() => {
                Ok(Intercepted::Deny(response.reason))
            }
            Ok(pb::Decision::Deny) => Err("DENY without a reason (PW-HOOK-4)".into()),
            _ => Err(format!(
                "invalid decision {} (PW-HOOK-4)",
                response.decision
            )),
        }
    }

    async fn run_command<I, O, E>(
        &self,
        line: &[String],
        mut stdin: I,
        mut stdout: O,
        mut stderr: E,
        mut options: RunOptions,
    ) -> Result<i32, Status>
    where
        I: AsyncRead + Unpin + Send + 'static,
        O: AsyncWrite + Unpin,
        E: AsyncWrite + Unpin,
    {
        let (instance, conn, command, words) = self.resolve_command(line).await?;
        let invocation = parse_invocation(&command, &words)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let (tx, rx) = mpsc::channel::<pb::RunCommandRequest>(8);
        tx.send(pb::RunCommandRequest {
            message: Some(pb::run_command_request::Message::Start(pb::CommandStart {
                command: command_full_name(&command),
                argv: words,
                flags_json: invocation.flags_json(),
                args: invocation.args,
                env: options.env.clone().into_iter().collect(),
                terminal: options
                    .terminal
                    .map(|(columns, rows)| pb::TerminalSize { columns, rows }),
                stdin_is_terminal: false,
            })),
        })
        .await
        .map_err(|_| Status::internal("the request stream closed"))?;
        let input = tx.clone();
        let feeder = tokio::spawn(async move {
            let mut buf = vec![0u8; MAX_STDIO_CHUNK];
            loop {
                match stdin.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let message = pb::run_command_request::Message::Stdin(buf[..n].to_vec());
                        if input
                            .send(pb::RunCommandRequest {
                                message: Some(message),
                            })
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
            let close = pb::run_command_request::Message::StdinClose(pb::StdinClose {});
            let _ = input
                .send(pb::RunCommandRequest {
                    message: Some(close),
                })
                .await;
        });
        if let Some(mut signals) = options.signals.take() {
            let input = tx.clone();
            tokio::spawn(async move {
                while let Some(signal) = signals.recv().await {
                    let message = pb::run_command_request::Message::Signal(signal as i32);
                    if input
                        .send(pb::RunCommandRequest {
                            message: Some(message),
                        })
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut client =
            pb::command_service_client::CommandServiceClient::new(conn.channel.clone());
        instance.touch();
        let run =
            async {
                let mut responses = client
                    .run_command(tokio_stream::wrappers::ReceiverStream::new(rx))
                    .await?
                    .into_inner();
                while let Some(message) = responses.next().await {
                    match message?.message {
                        Some(pb::run_command_response::Message::Stdout(b)) => {
                            stdout.write_all(&b).await.map_err(|e| {
                                Status::aborted(format!("cannot write stdout: {e}"))
                            })?;
                            stdout.flush().await.ok();
                        }
                        Some(pb::run_command_response::Message::Stderr(b)) => {
                            stderr.write_all(&b).await.map_err(|e| {
                                Status::aborted(format!("cannot write stderr: {e}"))
                            })?;
                            stderr.flush().await.ok();
                        }
                        Some(pb::run_command_response::Message::Exit(exit)) => return Ok(exit.code),
                        None => {}
                    }
                }
                Err(Status::internal(format!(
                    "plugin {:?} ended the command without an exit code (PW-CMD-7)",
                    instance.name()
                )))
            };
        let result = tokio::select! {
            biased;
            status = conn.exited() => Err(Status::unavailable(format!(
                "plugin {:?} crashed while running {:?} ({status})", instance.name(), command.name
            ))),
            r = run => r,
        };
        feeder.abort();
        instance.touch();
        match result {
            Ok(code) => Ok(code),
            Err(s) => Err(self.explain(&instance, &conn, s).await),
        }
    }

    async fn resolve_command(
        &self,
        line: &[String],
    ) -> Result<(Arc<Instance>, Arc<Connection>, pb::Command, Vec<String>), Status> {
        let first = line
            .first()
            .ok_or_else(|| Status::invalid_argument("no command given"))?;
        let (only, line): (Option<&str>, Vec<String>) = match first.split_once('.') {
            Some((plugin, rest)) => {
                let mut words = vec![rest.to_owned()];
                words.extend(line[1..].iter().cloned());
                (Some(plugin), words)
            }
            None => (None, line.to_vec()),
        };
        match only {
            Some(plugin) => {
                self.instance(plugin)?.ensure_ready().await?;
            }
            None => self.start_all().await,
        }
        let mut best: Vec<(usize, Arc<Instance>, Arc<Connection>, pb::Command)> = Vec::new();
        for (instance, conn) in self.running() {
            if only.is_some_and(|p| p != instance.name()) {
                continue;
            }
            for command in &conn.commands {
                let mut names = vec![command.name.clone()];
                names.extend(command.aliases.iter().cloned());
                for name in names {
                    let mut words: Vec<&str> = command
                        .parent
                        .split(' ')
                        .filter(|w| !w.is_empty())
                        .collect();
                    words.push(&name);
                    if line.len() >= words.len() && line.iter().zip(&words).all(|(a, b)| a == b) {
                        best.push((words.len(), instance.clone(), conn.clone(), command.clone()));
                    }
                }
            }
        }
        let longest = best.iter().map(|b| b.0).max().unwrap_or(0);
        best.retain(|b| b.0 == longest);
        best.dedup_by(|a, b| {
            a.1.name() == b.1.name() && command_full_name(&a.3) == command_full_name(&b.3)
        });
        match best.len() {
            0 => Err(Status::not_found(format!(
                "no command {:?}; `plugwire list` shows the plugins and `plugwire info <plugin>` their commands",
                line.join(" ")
            ))),
            1 => {
                let (n, instance, conn, command) = best.remove(0);
                Ok((instance, conn, command, line[n..].to_vec()))
            }
            _ => Err(Status::failed_precondition(format!(
                "command {:?} is ambiguous: use {}",
                line[..longest].join(" "),
                best.iter()
                    .map(|b| format!("{}.{}", b.1.name(), b.3.name))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ))),
        }
    }
}

/// One intercepting subscriber: priority, plugin name, the plugin, its
/// connection and the matching subscription.
type Link = (
    i32,
    String,
    Arc<Instance>,
    Arc<Connection>,
    pb::HookSubscription,
);

enum Intercepted {
    Continue,
    Modify(Value),
    Deny(String),
}

/// Runs a call under `timeout`, judged by our own clock: a call that fails
/// once the deadline has passed failed because of it, whatever the plugin's
/// own timer answered a moment earlier (tonic's server says CANCELLED).
async fn by_our_clock<T>(
    timeout: Duration,
    call: impl std::future::Future<Output = Result<T, Status>>,
) -> Result<T, Status> {
    let started = std::time::Instant::now();
    let expired = || Status::deadline_exceeded(format!("no answer within {timeout:?}"));
    match tokio::time::timeout(timeout, call).await {
        Err(_) => Err(expired()),
        Ok(Err(_)) if started.elapsed() >= timeout => Err(expired()),
        Ok(result) => result,
    }
}

/// The call-depth header's value: static for the depths that can occur, so
/// no call allocates it.
fn depth_metadata(depth: u32) -> tonic::metadata::MetadataValue<tonic::metadata::Ascii> {
    const DEPTHS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    usize::try_from(depth)
        .ok()
        .and_then(|d| DEPTHS.get(d))
        .map_or_else(
            || depth.into(),
            |d| tonic::metadata::MetadataValue::from_static(d),
        )
}

fn tools_client(conn: &Connection) -> pb::tool_service_client::ToolServiceClient<Channel> {
    pb::tool_service_client::ToolServiceClient::new(conn.channel.clone())
        .max_decoding_message_size(plugwire_proto::constants::MAX_MESSAGE_SIZE)
        .max_encoding_message_size(plugwire_proto::constants::MAX_MESSAGE_SIZE)
}

fn to_pb(event: &HostEvent) -> pb::Event {
    pb::Event {
        id: event.id.clone(),
        name: event.name.clone(),
        payload_json: event.payload.to_string(),
        time: Some(prost_types::Timestamp::from(event.time)),
        source: event.source.clone(),
    }
}

//! One plugin's lifecycle: start (spawn → bootstrap → health → handshake →
//! configure → ready), supervision (crash → restart with backoff → failed),
//! idle stop, and shutdown (PW-SHUT-4).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

use plugwire_proto::constants::{HEALTH_SERVICE_NAME, MAX_MESSAGE_SIZE, features};
use plugwire_proto::names::{self, command_full_name};
use plugwire_proto::pb;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tonic::Status;
use tonic::transport::Channel;
use tracing::Instrument;

use crate::discovery::Origin;
use crate::host::HostInner;
use crate::host_service::PluginHostService;
use crate::launch::{ExitWatch, Launch, Started};
use crate::logs::{LogSink, Stream, pump};
use crate::manifest::Manifest;
use crate::process::{runtime_dir, signal_group};
use crate::storage::Storage;

/// Where a plugin is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginState {
    /// Not running (not started yet, idle-stopped, or shut down).
    Stopped,
    /// Being started.
    Starting,
    /// Serving calls.
    Ready,
    /// Crashed; a restart is scheduled.
    Restarting,
    /// Given up on; see the last error.
    Failed,
    /// Being shut down.
    Stopping,
}

impl std::fmt::Display for PluginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Stopped => "stopped",
            Self::Starting => "starting",
            Self::Ready => "ready",
            Self::Restarting => "restarting",
            Self::Failed => "failed",
            Self::Stopping => "stopping",
        })
    }
}

/// A tool of a running plugin, with its validator compiled once, on its
/// first call: compiling every tool's validator was most of the host's
/// share of a plugin's start.
pub(crate) struct ToolEntry {
    pub(crate) decl: pb::Tool,
    pub(crate) input_schema: Value,
    pub(crate) output_schema: Option<Value>,
    validator: std::sync::OnceLock<jsonschema::Validator>,
}

impl ToolEntry {
    /// The input validator. The schema was checked against its
    /// meta-schema at start, so compiling it cannot fail but for a bug in
    /// the validator; then any object is accepted, as the plugin checks
    /// its arguments too (PW-TOOL-5).
    pub(crate) fn validator(&self) -> &jsonschema::Validator {
        self.validator.get_or_init(|| {
            jsonschema::validator_for(&self.input_schema).unwrap_or_else(|e| {
                tracing::warn!(tool = %self.decl.name, "input schema does not compile: {e}");
                jsonschema::validator_for(&serde_json::json!({"type": "object"}))
                    .expect("the trivial object schema compiles")
            })
        })
    }
}

/// A running plugin process and its gRPC channel.
pub(crate) struct Connection {
    pub(crate) generation: u64,
    pub(crate) channel: Channel,
    pub(crate) handshake: pb::HandshakeResponse,
    pub(crate) tools: Vec<ToolEntry>,
    pub(crate) tools_by_name: HashMap<String, usize>,
    pub(crate) commands: Vec<pb::Command>,
    pub(crate) progress: bool,
    pub(crate) pid: u32,
    pub(crate) started: Instant,
    pub(crate) started_at: SystemTime,
    pub(crate) startup: Duration,
    exit: ExitWatch,
    pub(crate) observer: mpsc::Sender<(String, pb::Event)>,
    tasks: Vec<JoinHandle<()>>,
    pub(crate) sandbox: Option<crate::sandbox::Prepared>,
    /// Without a sandbox, the cgroup that holds every process of the plugin.
    containment: Option<Arc<crate::sandbox::cgroup::Cgroup>>,
    /// The process is the launcher's reaper (no sandbox, no cgroup).
    reaper: bool,
    _runtime_dir: tempfile::TempDir,
}

impl Connection {
    /// Resolves with how the process ended, once it has.
    pub(crate) async fn exited(&self) -> String {
        self.exit.wait().await
    }

    pub(crate) fn has_exited(&self) -> bool {
        self.exit.status().is_some()
    }

    /// The cgroup holding all the plugin's processes, if it has one.
    pub(crate) fn cgroup(&self) -> Option<Arc<crate::sandbox::cgroup::Cgroup>> {
        self.sandbox
            .as_ref()
            .and_then(|p| p.cgroup.clone())
            .or_else(|| self.containment.clone())
    }

    pub(crate) fn hooks(&self) -> &[pb::HookSubscription] {
        self.handshake
            .capabilities
            .as_ref()
            .map_or(&[], |c| c.hooks.as_slice())
    }

    pub(crate) fn providers(&self) -> &[pb::ProviderDeclaration] {
        self.handshake
            .capabilities
            .as_ref()
            .map_or(&[], |c| c.providers.as_slice())
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

struct State {
    phase: PluginState,
    conn: Option<Arc<Connection>>,
    restarts: u32,
    crashes: VecDeque<Instant>,
    last_error: Option<String>,
    stopping: bool,
    generation: u64,
}

/// One plugin known to the host, across restarts.
pub(crate) struct Instance {
    pub(crate) manifest: Manifest,
    pub(crate) origin: Origin,
    host: Weak<HostInner>,
    pub(crate) logs: Arc<LogSink>,
    pub(crate) storage: Arc<Storage>,
    state: Mutex<State>,
    start_lock: tokio::sync::Mutex<()>,
    changed: watch::Sender<u64>,
    pub(crate) dropped_events: AtomicU64,
    /// When the plugin was last used, in nanoseconds since `created`: an
    /// atomic, since every call touches it twice.
    last_used: AtomicU64,
    created: Instant,
    /// Tool names from the last successful handshake, kept across stops so
    /// that a bare tool name resolves against every plugin, not only the
    /// ones that happen to be running.
    known_tools: Mutex<Option<Arc<[String]>>>,
}

/// A snapshot of a plugin's status.
#[derive(Debug, Clone)]
pub struct PluginStatus {
    /// Name.
    pub name: String,
    /// Version from the manifest.
    pub version: String,
    /// Language from the manifest.
    pub language: Option<String>,
    /// Description from the manifest.
    pub description: String,
    /// Where it was found.
    pub origin: Origin,
    /// Its directory.
    pub dir: std::path::PathBuf,
    /// Lifecycle state.
    pub state: PluginState,
    /// Process id while running.
    pub pid: Option<u32>,
    /// Time since it became ready.
    pub uptime: Option<Duration>,
    /// Spawn-to-ready time of the current process.
    pub startup: Option<Duration>,
    /// When the current process became ready.
    pub started_at: Option<SystemTime>,
    /// Restarts after crashes.
    pub restarts: u32,
    /// The last error (start failure or crash).
    pub last_error: Option<String>,
    /// Observer deliveries dropped because the queue was full.
    pub dropped_events: u64,
    /// Log lines dropped (too long or too fast).
    pub dropped_logs: u64,
    /// The SDK the plugin reported.
    pub sdk: Option<String>,
    /// Times the CPU limit throttled the plugin (sandboxed, with a CPU limit).
    pub cpu_throttled: Option<u64>,
    /// The cgroup directories of the running plugin (sandboxed only).
    pub cgroups: Vec<std::path::PathBuf>,
}

impl Instance {
    pub(crate) fn new(
        manifest: Manifest,
        origin: Origin,
        host: Weak<HostInner>,
        data_dir: &std::path::Path,
        log_rate: u32,
    ) -> Self {
        let logs = Arc::new(LogSink::new(&manifest.name, log_rate));
        let storage = Arc::new(Storage::new(data_dir, &manifest.name));
        Self {
            manifest,
            origin,
            host,
            logs,
            storage,
            state: Mutex::new(State {
                phase: PluginState::Stopped,
                conn: None,
                restarts: 0,
                crashes: VecDeque::new(),
                last_error: None,
                stopping: false,
                generation: 0,
            }),
            start_lock: tokio::sync::Mutex::new(()),
            changed: watch::channel(0).0,
            dropped_events: AtomicU64::new(0),
            last_used: AtomicU64::new(0),
            created: Instant::now(),
            known_tools: Mutex::new(None),
        }
    }

    /// The tools it offered when it last started, if it ever did.
    pub(crate) fn known_tools(&self) -> Option<Arc<[String]>> {
        self.known_tools
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn name(&self) -> &str {
        &self.manifest.name
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn phase(&self) -> PluginState {
        self.state().phase
    }

    pub(crate) fn current(&self) -> Option<Arc<Connection>> {
        self.state().conn.clone()
    }

    pub(crate) fn touch(&self) {
        let now = u64::try_from(self.created.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last_used.store(now, Ordering::Relaxed);
    }

    /// How long since the plugin was last used.
    fn idle_for(&self) -> Duration {
        let last = Duration::from_nanos(self.last_used.load(Ordering::Relaxed));
        self.created.elapsed().saturating_sub(last)
    }

    pub(crate) fn status(&self) -> PluginStatus {
        let state = self.state();
        let conn = state.conn.as_ref();
        PluginStatus {
            name: self.manifest.name.clone(),
            version: self.manifest.version.to_string(),
            language: self.manifest.language.clone(),
            description: self.manifest.description.clone(),
            origin: self.origin,
            dir: self.manifest.dir.clone(),
            state: state.phase,
            pid: conn.map(|c| c.pid),
            uptime: conn.map(|c| c.started.elapsed()),
            startup: conn.map(|c| c.startup),
            started_at: conn.map(|c| c.started_at),
            restarts: state.restarts,
            last_error: state.last_error.clone(),
            dropped_events: self.dropped_events.load(Ordering::Relaxed),
            dropped_logs: self.logs.dropped.load(Ordering::Relaxed),
            sdk: conn
                .and_then(|c| c.handshake.sdk.as_ref())
                .map(|s| format!("{} {}", s.name, s.version)),
            cpu_throttled: conn
                .and_then(|c| c.sandbox.as_ref()?.cgroup.as_ref()?.throttled())
                .filter(|_| self.manifest.limits.cpu.is_some()),
            cgroups: conn
                .and_then(|c| c.sandbox.as_ref()?.cgroup.as_ref().map(|g| g.dirs()))
                .unwrap_or_default(),
        }
    }

    fn unavailable(&self, why: &str) -> Status {
        Status::unavailable(format!("plugin {:?} {why}", self.manifest.name))
    }

    /// The running connection, starting the plugin if needed; waits for a
    /// scheduled restart.
    pub(crate) async fn ensure_ready(self: &Arc<Self>) -> Result<Arc<Connection>, Status> {
        self.touch();
        // The hot path: a ready plugin, no waiting, nothing to set up.
        {
            let state = self.state();
            if let (PluginState::Ready, Some(conn)) = (state.phase, &state.conn)
                && !conn.has_exited()
            {
                return Ok(conn.clone());
            }
        }
        let timeouts = self.timeouts();
        let deadline = Instant::now() + timeouts.bootstrap + timeouts.handshake * 4;
        let mut changed = self.changed.subscribe();
        loop {
            let phase = {
                let state = self.state();
                if let (PluginState::Ready, Some(conn)) = (state.phase, &state.conn)
                    && !conn.has_exited()
                {
                    return Ok(conn.clone());
                }
                if state.phase == PluginState::Failed {
                    let reason = state.last_error.clone().unwrap_or_default();
                    return Err(self.unavailable(&format!("has failed: {reason}")));
                }
                state.phase
            };
            match phase {
                // Exited but not yet recorded as a crash: wait for that.
                PluginState::Ready => {
                    let _ =
                        tokio::time::timeout(Duration::from_millis(50), changed.changed()).await;
                }
                PluginState::Stopped => {
                    self.start().await?;
                }
                _ => {
                    let wait = deadline.saturating_duration_since(Instant::now());
                    if wait.is_zero() {
                        return Err(self.unavailable(&format!("is still {phase}")));
                    }
                    let _ = tokio::time::timeout(wait, changed.changed()).await;
                }
            }
        }
    }

    fn timeouts(&self) -> crate::config::Timeouts {
        self.host
            .upgrade()
            .map(|h| h.config.timeouts.clone())
            .unwrap_or_default()
    }

    fn set_phase(&self, state: &mut State, phase: PluginState) {
        state.phase = phase;
        self.changed.send_modify(|g| *g += 1);
    }

    /// Starts the plugin if it is stopped. A failure marks it failed.
    pub(crate) async fn start(self: &Arc<Self>) -> Result<(), Status> {
        let _guard = self.start_lock.lock().await;
        {
            let mut state = self.state();
            match state.phase {
                PluginState::Ready | PluginState::Failed => return Ok(()),
                _ => {}
            }
            state.stopping = false;
            state.generation += 1;
            self.set_phase(&mut state, PluginState::Starting);
        }
        match self.launch().await {
            Ok(conn) => {
                let conn = Arc::new(conn);
                {
                    let mut state = self.state();
                    state.conn = Some(conn.clone());
                    state.last_error = None;
                    self.set_phase(&mut state, PluginState::Ready);
                }
                self.spawn_watch(conn.clone());
                if let Some(host) = self.host.upgrade() {
                    host.lifecycle(
                        "plugin.started",
                        serde_json::json!({"plugin": self.name(), "pid": conn.pid, "startup_ms": conn.startup.as_secs_f64() * 1000.0}),
                    );
                }
                Ok(())
            }
            Err(message) => {
                {
                    let mut state = self.state();
                    state.last_error = Some(message.clone());
                    self.set_phase(&mut state, PluginState::Failed);
                }
                tracing::error!(plugin = self.name(), "{message}");
                if let Some(host) = self.host.upgrade() {
                    host.lifecycle(
                        "plugin.failed",
                        serde_json::json!({"plugin": self.name(), "reason": message}),
                    );
                }
                Err(Status::unavailable(format!(
                    "plugin {:?} failed to start: {message}",
                    self.name()
                )))
            }
        }
    }

    /// Spawn → bootstrap → health → handshake → configure → list.
    async fn launch(self: &Arc<Self>) -> Result<Connection, String> {
        let host = self.host.upgrade().ok_or("the host is shutting down")?;
        let config = &host.config;
        let timeouts = &config.timeouts;
        let started = Instant::now();
        let manifest = &self.manifest;
        let span = tracing::info_span!("plugin", name = %manifest.name);
        self.logs.clear_tail();
        let missing = config.grants.missing(manifest);
        if !missing.is_empty() {
            let mut why = crate::grants::refusal(&manifest.name, &missing);
            if let Some(mismatch) = config.grants.mismatch(manifest) {
                why.push_str(&format!("\n({mismatch})"));
            }
            return Err(why);
        }
        let level = config.sandbox.level_for(&manifest.name);

        let dir = runtime_dir().map_err(|e| e.to_string())?;
        let host_socket = dir.path().join("host.sock");
        let pgid = Arc::new(AtomicU32::new(0));
        let peer_uid = Arc::new(AtomicU32::new(nix::unistd::geteuid().as_raw()));
        let mut tasks = Vec::new();
        let listener = tokio::net::UnixListener::bind(&host_socket).map_err(|e| {
            format!(
                "cannot bind the host service socket {}: {e}",
                host_socket.display()
            )
        })?;
        let service = PluginHostService {
            plugin: manifest.name.clone(),
            permissions: manifest.permissions.clone(),
            storage: self.storage.clone(),
            host: self.host.clone(),
            pgid: pgid.clone(),
            uid: peer_uid.clone(),
        };
        let plugin_name = manifest.name.clone();
        tasks.push(tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(
                    pb::host_service_server::HostServiceServer::new(service)
                        .max_decoding_message_size(MAX_MESSAGE_SIZE)
                        .max_encoding_message_size(MAX_MESSAGE_SIZE),
                )
                .serve_with_incoming(crate::connection_limit::accept_limited(
                    listener,
                    crate::connection_limit::MAX_HOST_CONNECTIONS,
                    plugin_name,
                ))
                .await;
        }));

        // Unsandboxed plugins still get a cgroup where the host can make
        // one: a plugin that leaves its process group (setsid) is killed
        // with it all the same.
        let containment = if level == crate::sandbox::SandboxLevel::None && host.launcher.is_some()
        {
            let support = host.support.get_or_init(crate::sandbox::Support::detect);
            match &support.cgroups {
                Ok(layout) if !layout.controllers().is_empty() => {
                    let name = format!("{}-{}", manifest.name, uuid::Uuid::new_v4().simple());
                    crate::sandbox::cgroup::Cgroup::create(layout, &name, Default::default())
                        .map(Arc::new)
                        .inspect_err(|e| {
                            tracing::debug!(plugin = %manifest.name, "no containment cgroup: {e}")
                        })
                        .ok()
                }
                _ => None,
            }
        } else {
            None
        };
        let reap = level == crate::sandbox::SandboxLevel::None
            && containment.is_none()
            && host.launcher.is_some();
        let sandbox = if level == crate::sandbox::SandboxLevel::None {
            None
        } else {
            if host.launcher.is_none() {
                return Err(format!(
                    "sandbox level {level} needs {}, which was not found next to this executable or on PATH; install it beside the host, or choose --sandbox none",
                    crate::LAUNCHER_NAME
                ));
            }
            let support = host.support.get_or_init(crate::sandbox::Support::detect);
            host.warn_once_about(level, support);
            let prepared = crate::launch::prepare_sandbox(
                manifest,
                level,
                config.sandbox.best_effort,
                dir.path(),
                &config.data_dir,
                support,
            )?;
            peer_uid.store(prepared.host_uid, Ordering::Release);
            Some(prepared)
        };
        let instance_id = uuid::Uuid::new_v4().to_string();
        let versions: Vec<u32> = crate::PROTOCOL_VERSIONS
            .iter()
            .copied()
            .filter(|v| manifest.protocol_versions.contains(v))
            .collect();
        let launch = Launch {
            host_socket: &host_socket,
            instance_id: &instance_id,
            protocol_versions: &versions,
            pass_env: &config.pass_env,
            sandbox: sandbox.as_ref(),
            containment: containment.as_ref(),
            reap,
            bootstrap_timeout: timeouts.bootstrap,
            ..Launch::new(manifest, dir.path(), host.launcher.as_deref())
        };
        let logs = self.logs.clone();
        let stderr_span = span.clone();
        let spawned = host
            .spawner
            .start(&launch, |stderr| {
                tasks.push(tokio::spawn(
                    pump(stderr, Stream::Stderr, logs).instrument(stderr_span),
                ));
            })
            .await;
        let Started {
            pid,
            line,
            stdout,
            exit,
        } = match spawned {
            Ok(started) => started,
            Err(failure) => {
                return Err(match (failure.pid, failure.exit) {
                    (Some(pid), Some(exit)) => self.abort_start(failure.message, pid, &exit).await,
                    _ => failure.message,
                });
            }
        };
        pgid.store(pid, Ordering::Release);
        tasks.push(tokio::spawn(
            pump(stdout, Stream::Stdout, self.logs.clone()).instrument(span.clone()),
        ));

        let limit = timeouts.handshake;
        let handshake_steps = async {
            let owner = peer_uid.load(Ordering::Acquire);
            let channel = crate::plugin_socket::connect(
                std::path::Path::new(&line.socket_path),
                dir.path(),
                owner,
                limit,
            )
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", line.socket_path))?;
            let mut health_client =
                tonic_health::pb::health_client::HealthClient::new(channel.clone());
            let health = within(
                limit,
                "the health check",
                health_client.check(tonic_health::pb::HealthCheckRequest {
                    service: HEALTH_SERVICE_NAME.to_owned(),
                }),
            )
            .await?
            .into_inner();
            if health.status
                != tonic_health::pb::health_check_response::ServingStatus::Serving as i32
            {
                return Err(format!(
                    "health check: the plugin is not SERVING (status {})",
                    health.status
                ));
            }
            let mut plugin = pb::plugin_service_client::PluginServiceClient::new(channel.clone());
            let handshake = within(
                limit,
                "the handshake",
                plugin.handshake(pb::HandshakeRequest {
                    host: Some(pb::HostInfo {
                        name: "plugwire-host".into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        app_name: config.app_name.clone(),
                        app_version: config.app_version.clone(),
                    }),
                    protocol_version: line.app_version,
                    features: vec![
                        features::HOST_SERVICE.to_owned(),
                        features::TOOL_PROGRESS.to_owned(),
                    ],
                    instance_id: instance_id.clone(),
                    plugin_name: manifest.name.clone(),
                    default_call_timeout: prost_types::Duration::try_from(
                        self.call_timeout(config),
                    )
                    .ok(),
                }),
            )
            .await?
            .into_inner();
            check_handshake(manifest, &handshake)?;
            let plugin_config = config
                .plugin_config
                .get(&manifest.name)
                .cloned()
                .unwrap_or_else(|| Value::Object(Default::default()));
            check_config(manifest, &plugin_config)?;
            within(
                limit,
                "Configure",
                plugin.configure(pb::ConfigureRequest {
                    config_json: plugin_config.to_string(),
                }),
            )
            .await?;
            let caps = handshake.capabilities.clone().unwrap_or_default();
            let tools = if caps.tools.is_empty() {
                Vec::new()
            } else {
                let mut client = pb::tool_service_client::ToolServiceClient::new(channel.clone())
                    .max_decoding_message_size(plugwire_proto::constants::MAX_TOOL_LIST_BYTES);
                let listed = within(
                    limit,
                    "ListTools",
                    client.list_tools(pb::ListToolsRequest {}),
                )
                .await?
                .into_inner()
                .tools;
                tool_entries(&caps.tools, listed)?
            };
            let commands = if caps.commands.is_empty() {
                Vec::new()
            } else {
                let mut client =
                    pb::command_service_client::CommandServiceClient::new(channel.clone());
                let listed = within(
                    limit,
                    "ListCommands",
                    client.list_commands(pb::ListCommandsRequest {}),
                )
                .await?
                .into_inner()
                .commands;
                check_commands(&caps.commands, &listed)?;
                listed
            };
            Ok::<_, String>((channel, handshake, tools, commands))
        };
        // Each step has its own deadline through the channel; the whole
        // sequence is bounded too, and a process that dies mid-way is
        // reported as such.
        let total = timeouts.handshake * 4;
        let outcome = tokio::select! {
            r = tokio::time::timeout(total, handshake_steps) => r.unwrap_or_else(|_| Err(format!("the handshake did not complete within {total:?}"))),
            status = exit.wait() => Err(format!("the plugin exited ({status}) during the handshake")),
        };
        let (channel, handshake, tools, commands) = match outcome {
            Ok(parts) => parts,
            Err(why) => return Err(self.abort_start(why, pid, &exit).await),
        };

        let progress = handshake
            .features
            .iter()
            .any(|f| f == features::TOOL_PROGRESS);
        let (observer, queue) = mpsc::channel(config.observer_queue.max(1));
        tasks.push(tokio::spawn(
            deliver_observed(channel.clone(), queue, config.timeouts.hook).instrument(span),
        ));
        let tools_by_name = tools
            .iter()
            .enumerate()
            .map(|(i, t)| (t.decl.name.clone(), i))
            .collect();
        let generation = self.state().generation;
        *self.known_tools.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(tools.iter().map(|t| t.decl.name.clone()).collect());
        Ok(Connection {
            generation,
            channel,
            handshake,
            tools,
            tools_by_name,
            commands,
            progress,
            pid,
            started: Instant::now(),
            started_at: SystemTime::now(),
            startup: started.elapsed(),
            exit,
            observer,
            tasks,
            sandbox,
            containment,
            reaper: reap,
            _runtime_dir: dir,
        })
    }

    pub(crate) fn call_timeout(&self, config: &crate::HostConfig) -> Duration {
        self.manifest
            .limits
            .call_timeout
            .map_or(config.timeouts.call, |t| t.min(config.timeouts.call))
    }

    /// Ends a failed start: the process gets a moment to exit by itself
    /// (so its status and last words are known), then its whole group is
    /// killed; the message gains the exit status and the stderr tail
    /// (PW-BOOT-9).
    async fn abort_start(&self, why: String, pid: u32, exit: &ExitWatch) -> String {
        let mut status = tokio::time::timeout(Duration::from_millis(300), exit.wait())
            .await
            .ok();
        signal_group(pid, nix::sys::signal::Signal::SIGKILL);
        if status.is_none() {
            status = tokio::time::timeout(Duration::from_millis(500), exit.wait())
                .await
                .ok()
                .map(|s| format!("{s} (the host killed it; it did not exit by itself)"));
        }
        // Let the stderr pump catch up with what was written before the end.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut message = why;
        match status {
            Some(status) if !message.contains(&status) => {
                message.push_str(&format!("\n  process: {status}"))
            }
            None => message.push_str("\n  process: still running; killed"),
            _ => {}
        }
        let tail = self.logs.stderr_tail();
        if tail.is_empty() {
            message.push_str("\n  stderr: (empty)");
        } else {
            let start = tail.len().saturating_sub(2048);
            let start = (start..tail.len())
                .find(|i| tail.is_char_boundary(*i))
                .unwrap_or(tail.len());
            message.push_str(&format!(
                "\n  stderr (last {} bytes):\n    {}",
                tail.len() - start,
                plugwire_proto::text::escape_controls(&tail[start..]).replace('\n', "\n    ")
            ));
        }
        message
    }

    /// Watches a running process: an exit that was not asked for is a crash.
    fn spawn_watch(self: &Arc<Self>, conn: Arc<Connection>) {
        let this = Arc::downgrade(self);
        let idle = self.host.upgrade().and_then(|h| h.config.idle_timeout);
        tokio::spawn(async move {
            let status = match idle {
                None => conn.exited().await,
                Some(idle) => loop {
                    tokio::select! {
                        status = conn.exited() => break status,
                        _ = tokio::time::sleep(idle / 4) => {
                            let Some(this) = this.upgrade() else { return };
                            let quiet = this.idle_for();
                            if quiet >= idle {
                                tracing::info!(plugin = this.name(), "idle for {quiet:?}; stopping");
                                this.stop().await;
                            }
                        }
                    }
                },
            };
            if let Some(this) = this.upgrade() {
                let cgroup = conn.cgroup();
                this.on_exit(conn.generation, conn.pid, status, cgroup)
                    .await;
            }
        });
    }

    async fn on_exit(
        self: &Arc<Self>,
        generation: u64,
        pid: u32,
        status: String,
        cgroup: Option<Arc<crate::sandbox::cgroup::Cgroup>>,
    ) {
        // Whatever the plugin left in its group, or its cgroup, goes with it.
        signal_group(pid, nix::sys::signal::Signal::SIGKILL);
        if let Some(cgroup) = cgroup {
            let _ = tokio::task::spawn_blocking(move || cgroup.kill()).await;
        }
        let Some(host) = self.host.upgrade() else {
            return;
        };
        let policy = host.config.restart.clone();
        let (crashed, failed, backoff) = {
            let mut state = self.state();
            if state.conn.as_ref().map(|c| c.generation) != Some(generation) {
                return;
            }
            state.conn = None;
            if state.stopping {
                self.set_phase(&mut state, PluginState::Stopped);
                (false, false, Duration::ZERO)
            } else {
                let now = Instant::now();
                state.crashes.push_back(now);
                while state
                    .crashes
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > policy.window)
                {
                    state.crashes.pop_front();
                }
                let count = state.crashes.len() as u32;
                let reason = format!("crashed ({status})");
                if count >= policy.max_crashes {
                    state.last_error = Some(format!(
                        "{reason}; {count} crashes within {:?}, giving up",
                        policy.window
                    ));
                    self.set_phase(&mut state, PluginState::Failed);
                    (true, true, Duration::ZERO)
                } else {
                    state.last_error = Some(reason);
                    state.restarts += 1;
                    self.set_phase(&mut state, PluginState::Restarting);
                    let backoff = policy
                        .initial_backoff
                        .saturating_mul(1 << (count - 1).min(16))
                        .min(policy.max_backoff);
                    (true, false, backoff)
                }
            }
        };
        if !crashed {
            host.lifecycle(
                "plugin.stopped",
                serde_json::json!({"plugin": self.name(), "status": status}),
            );
            return;
        }
        tracing::warn!(plugin = self.name(), %status, "plugin crashed");
        host.lifecycle(
            "plugin.crashed",
            serde_json::json!({"plugin": self.name(), "status": status}),
        );
        if failed {
            let reason = self.state().last_error.clone().unwrap_or_default();
            tracing::error!(plugin = self.name(), "{reason}");
            host.lifecycle(
                "plugin.failed",
                serde_json::json!({"plugin": self.name(), "reason": reason}),
            );
            return;
        }
        drop(host);
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(backoff).await;
            {
                let mut state = this.state();
                if state.phase != PluginState::Restarting {
                    return;
                }
                self_set_stopped(&this, &mut state);
            }
            if let Err(e) = this.start().await {
                tracing::error!(plugin = this.name(), "restart failed: {}", e.message());
            }
        });
    }

    /// Stops the plugin: `Shutdown` → SIGTERM → SIGKILL of the group.
    pub(crate) async fn stop(self: &Arc<Self>) {
        let conn = {
            let mut state = self.state();
            state.stopping = true;
            match state.phase {
                PluginState::Ready => self.set_phase(&mut state, PluginState::Stopping),
                PluginState::Restarting | PluginState::Starting => {
                    self_set_stopped(self, &mut state)
                }
                _ => {}
            }
            state.conn.clone()
        };
        let Some(conn) = conn else { return };
        // One budget bounds the whole escalation (PW-SHUT-4): the grace for
        // `Shutdown`, then SIGTERM, then SIGKILL with a moment to take
        // effect.
        let timeouts = self.timeouts();
        let (grace, wait, term, kill) = stop_schedule(timeouts.shutdown_grace, timeouts.stop);
        let mut plugin = pb::plugin_service_client::PluginServiceClient::new(conn.channel.clone());
        let mut request = tonic::Request::new(pb::ShutdownRequest {
            grace: prost_types::Duration::try_from(grace).ok(),
        });
        request.set_timeout(wait);
        let asked = async {
            let _ = plugin.shutdown(request).await;
            conn.exited().await
        };
        let exited = |d| tokio::time::timeout(d, conn.exited());
        if tokio::time::timeout(wait, asked).await.is_err() {
            signal_group(conn.pid, nix::sys::signal::Signal::SIGTERM);
            if exited(term).await.is_err() {
                if conn.reaper {
                    // The reaper must outlive the plugin to kill what it
                    // left outside its group; it ends by itself right after.
                    crate::process::signal_group_but_leader(
                        conn.pid,
                        nix::sys::signal::Signal::SIGKILL,
                    );
                    let _ = exited(kill / 2).await;
                }
                signal_group(conn.pid, nix::sys::signal::Signal::SIGKILL);
                if let Some(cgroup) = conn.cgroup() {
                    let _ = tokio::task::spawn_blocking(move || cgroup.kill()).await;
                }
                let _ = exited(kill).await;
            }
        }
        signal_group(conn.pid, nix::sys::signal::Signal::SIGKILL);
        // The watcher records the stop; wait for it so callers see Stopped.
        let mut changed = self.changed.subscribe();
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while self
                .state()
                .conn
                .as_ref()
                .is_some_and(|c| c.generation == conn.generation)
            {
                if changed.changed().await.is_err() {
                    break;
                }
            }
        })
        .await;
    }

    /// Clears a failure so the plugin may be started again.
    pub(crate) fn reset(&self) {
        let mut state = self.state();
        if state.phase == PluginState::Failed {
            state.crashes.clear();
            self_set_stopped(self, &mut state);
        }
    }
}

fn self_set_stopped(instance: &Instance, state: &mut State) {
    instance.set_phase(state, PluginState::Stopped);
}

/// Runs one protocol step under its own deadline.
async fn within<T>(
    limit: Duration,
    what: &str,
    step: impl std::future::Future<Output = Result<T, Status>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, step).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(status)) => Err(format!(
            "{what} failed: {:?}: {}",
            status.code(),
            status.message()
        )),
        Err(_) => Err(format!("{what} did not answer within {limit:?}")),
    }
}

/// PW-HS-3, PW-HS-6, PW-HS-7: identity and well-formed capabilities.
fn check_handshake(manifest: &Manifest, handshake: &pb::HandshakeResponse) -> Result<(), String> {
    let plugin = handshake
        .plugin
        .as_ref()
        .ok_or("the handshake answer has no plugin info")?;
    if plugin.name != manifest.name {
        return Err(format!(
            "the plugin calls itself {:?} but its manifest says {:?}; make them agree",
            plugin.name, manifest.name
        ));
    }
    let caps = handshake.capabilities.clone().unwrap_or_default();
    names::validate_capabilities(&caps)
        .map_err(|problems| format!("invalid capabilities: {}", problems.join("; ")))
}

/// PW-CFG-3: the configuration must match the manifest's schema.
fn check_config(manifest: &Manifest, config: &Value) -> Result<(), String> {
    let Some(schema) = &manifest.config_schema else {
        return Ok(());
    };
    let validator = jsonschema::validator_for(schema).map_err(|e| format!("config schema: {e}"))?;
    let problems: Vec<String> = validator
        .iter_errors(config)
        .take(5)
        .map(|e| format!("config {}: {e}", pointer(&e.instance_path().to_string())))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the configuration does not match the plugin's schema: {}",
            problems.join("; ")
        ))
    }
}

pub(crate) fn pointer(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

/// PW-TOOL-1..3: the listed tools equal the declared ones and carry valid
/// schemas; validators are compiled here, once.
pub(crate) fn tool_entries(
    declared: &[String],
    listed: Vec<pb::Tool>,
) -> Result<Vec<ToolEntry>, String> {
    let mut listed_names: Vec<&str> = listed.iter().map(|t| t.name.as_str()).collect();
    let mut declared_sorted: Vec<&str> = declared.iter().map(String::as_str).collect();
    listed_names.sort_unstable();
    declared_sorted.sort_unstable();
    if listed_names != declared_sorted {
        return Err(format!(
            "ListTools returned {listed_names:?} but the handshake declared {declared_sorted:?} (PW-HS-5)"
        ));
    }
    listed
        .into_iter()
        .map(|decl| {
            check_schema_size(&decl.name, "input", &decl.input_schema_json)?;
            check_schema_size(&decl.name, "output", &decl.output_schema_json)?;
            let input_schema: Value = serde_json::from_str(&decl.input_schema_json)
                .map_err(|e| format!("tool {:?}: input schema is not JSON: {e}", decl.name))?;
            check_schema_depth(&decl.name, "input", &input_schema)?;
            if input_schema.get("type").and_then(Value::as_str) != Some("object") {
                return Err(format!(
                    "tool {:?}: input schema must have \"type\": \"object\" (PW-TOOL-3)",
                    decl.name
                ));
            }
            // The meta-schema check uses validators compiled once per
            // process; the tool's own validator waits for its first call.
            jsonschema::meta::validate(&input_schema).map_err(|e| {
                format!(
                    "tool {:?}: input schema is not a valid JSON Schema: {e}",
                    decl.name
                )
            })?;
            let output_schema = if decl.output_schema_json.is_empty() {
                None
            } else {
                let schema: Value = serde_json::from_str(&decl.output_schema_json)
                    .map_err(|e| format!("tool {:?}: output schema is not JSON: {e}", decl.name))?;
                check_schema_depth(&decl.name, "output", &schema)?;
                jsonschema::meta::validate(&schema).map_err(|e| {
                    format!(
                        "tool {:?}: output schema is not a valid JSON Schema: {e}",
                        decl.name
                    )
                })?;
                Some(schema)
            };
            Ok(ToolEntry {
                decl,
                input_schema,
                output_schema,
                validator: std::sync::OnceLock::new(),
            })
        })
        .collect()
}

/// How a stop budget is spent: `Shutdown` and the wait for the exit (the
/// grace plus the 1 s PW-SHUT-1 allows, at most 60% of the budget, the grace
/// sent shrunk to fit), then the wait after SIGTERM, then a reserve for
/// SIGKILL to take effect (a tenth of the budget, at least 100 ms). Returns
/// (grace sent, wait for it, wait after SIGTERM, wait after SIGKILL); the
/// waits add up to the budget.
fn stop_schedule(grace: Duration, budget: Duration) -> (Duration, Duration, Duration, Duration) {
    let kill = (budget / 10).max(Duration::from_millis(100)).min(budget);
    let wait = (grace + Duration::from_secs(1)).min(budget.mul_f64(0.6));
    let grace = grace.min(wait.saturating_sub(Duration::from_secs(1)));
    let term = budget.saturating_sub(wait).saturating_sub(kill);
    (grace, wait, term, kill)
}

fn check_schema_size(tool: &str, which: &str, text: &str) -> Result<(), String> {
    use plugwire_proto::constants::MAX_SCHEMA_BYTES;
    if text.len() > MAX_SCHEMA_BYTES {
        return Err(format!(
            "tool {tool:?}: its {which} schema is {} bytes, over the {MAX_SCHEMA_BYTES}-byte limit (PW-TOOL-14); move large enumerations into the tool's own checks",
            text.len()
        ));
    }
    Ok(())
}

fn check_schema_depth(tool: &str, which: &str, schema: &Value) -> Result<(), String> {
    use plugwire_proto::constants::MAX_SCHEMA_DEPTH;
    let mut pending = vec![(schema, 1usize)];
    while let Some((value, depth)) = pending.pop() {
        if depth > MAX_SCHEMA_DEPTH {
            return Err(format!(
                "tool {tool:?}: its {which} schema nests deeper than {MAX_SCHEMA_DEPTH} levels (PW-TOOL-14); flatten it or use `$defs` references"
            ));
        }
        match value {
            Value::Array(items) => pending.extend(items.iter().map(|v| (v, depth + 1))),
            Value::Object(fields) => pending.extend(fields.values().map(|v| (v, depth + 1))),
            _ => {}
        }
    }
    Ok(())
}

fn check_commands(declared: &[String], listed: &[pb::Command]) -> Result<(), String> {
    let mut listed_names: Vec<String> = listed.iter().map(command_full_name).collect();
    let mut declared_sorted = declared.to_vec();
    listed_names.sort();
    declared_sorted.sort();
    if listed_names != declared_sorted {
        return Err(format!(
            "ListCommands returned {listed_names:?} but the handshake declared {declared_sorted:?} (PW-HS-5)"
        ));
    }
    names::validate_commands(listed)
        .map_err(|problems| format!("invalid commands: {}", problems.join("; ")))
}

/// Delivers observed events one at a time (PW-HOOK-7).
async fn deliver_observed(
    channel: Channel,
    mut queue: mpsc::Receiver<(String, pb::Event)>,
    timeout: Duration,
) {
    let mut hooks = pb::hook_service_client::HookServiceClient::new(channel);
    while let Some((pattern, event)) = queue.recv().await {
        let mut request = tonic::Request::new(pb::HandleEventRequest {
            pattern,
            mode: pb::HookMode::Observe as i32,
            event: Some(event),
        });
        request.set_timeout(timeout);
        if let Err(status) = tokio::time::timeout(timeout, hooks.handle_event(request))
            .await
            .unwrap_or_else(|_| Err(Status::deadline_exceeded("observer deadline")))
        {
            tracing::debug!(code = ?status.code(), "observer failed: {}", status.message());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(schema: String) -> pb::Tool {
        pb::Tool {
            name: "t".into(),
            input_schema_json: schema,
            ..Default::default()
        }
    }

    #[test]
    fn the_stop_schedule_fits_the_budget() {
        let ms = Duration::from_millis;
        let s = |g, b| stop_schedule(ms(g), ms(b));
        assert_eq!(s(2000, 5000), (ms(2000), ms(3000), ms(1500), ms(500)));
        assert_eq!(
            s(10_000, 5000),
            (ms(2000), ms(3000), ms(1500), ms(500)),
            "grace shrunk"
        );
        assert_eq!(s(500, 500).0, ms(0), "no time for a grace");
        for (g, b) in [
            (2000, 5000),
            (10_000, 3000),
            (0, 50),
            (500, 500),
            (0, 60_000),
        ] {
            let (_, wait, term, kill) = s(g, b);
            assert!(wait + term + kill <= ms(b).max(ms(100)), "{g} {b}");
        }
    }

    #[test]
    fn huge_or_deep_schemas_are_refused() {
        let names = ["t".to_owned()];
        let big = format!(
            r#"{{"type":"object","description":"{}"}}"#,
            "x".repeat(plugwire_proto::constants::MAX_SCHEMA_BYTES)
        );
        let err = tool_entries(&names, vec![tool(big)]).err().unwrap();
        assert!(err.contains("over the"), "{err}");
        let mut deep = r#"{"type":"object"}"#.to_owned();
        for _ in 0..40 {
            deep = format!(r#"{{"type":"object","properties":{{"a":{deep}}}}}"#);
        }
        let err = tool_entries(&names, vec![tool(deep)]).err().unwrap();
        assert!(err.contains("nests deeper"), "{err}");
        let fine = r#"{"type":"object","properties":{"a":{"type":"string"}}}"#;
        assert_eq!(
            tool_entries(&names, vec![tool(fine.into())]).unwrap().len(),
            1
        );
    }
}

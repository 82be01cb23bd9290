//! One plugin known to the host, across restarts: its state machine
//! (stopped → starting → ready → crashed → restarting → failed; disabled;
//! retired once replaced or removed), starting through `connect`,
//! supervision's decisions from `supervise`, and stopping through `stop`.

mod connect;
mod go_plugin;
pub(crate) mod listing;
mod stop;
mod supervise;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use tokio::sync::watch;
use tonic::Status;

pub(crate) use connect::Connection;
use connect::{Plan, connect};
use supervise::{Verdict, after_crash, idle_expired};

use crate::context::Context;
use crate::discovery::Origin;
use crate::in_flight::InFlight;
use crate::logs::LogSink;
use crate::manifest::Manifest;
use crate::process::signal_group;
use crate::registry::Member;
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
    /// Known but switched off ([`Host::set_enabled`](crate::Host::set_enabled)):
    /// never started until enabled again.
    Disabled,
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
            Self::Disabled => "disabled",
        })
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
    /// Replaced or removed: it finishes its calls, then stops for good.
    retired: bool,
    /// Switched off: never started; rests as [`PluginState::Disabled`].
    disabled: bool,
}

/// What survives a reload: the plugin's logs, storage and counters, which
/// belong to the plugin, not to one version of it.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) logs: Arc<LogSink>,
    pub(crate) storage: Arc<Storage>,
    dropped_events: Arc<AtomicU64>,
    /// Tool calls answered, and of those how many failed or reported an
    /// error, since the host first knew the plugin (across restarts and
    /// reloads).
    calls: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
}

impl Shared {
    pub(crate) fn new(ctx: &Context, name: &str) -> Self {
        Self {
            logs: Arc::new(LogSink::new(name, ctx.config.log_rate)),
            storage: Arc::new(Storage::new(&ctx.config.data_dir, name)),
            dropped_events: Arc::default(),
            calls: Arc::default(),
            errors: Arc::default(),
        }
    }
}

/// One plugin known to the host, across restarts.
pub(crate) struct Instance {
    pub(crate) manifest: Manifest,
    pub(crate) origin: Origin,
    ctx: Arc<Context>,
    shared: Shared,
    /// The configuration `Configure` sends, or why there is none: a
    /// configuration that fails the schema never starts a process.
    config: Result<Value, String>,
    state: Mutex<State>,
    start_lock: tokio::sync::Mutex<()>,
    changed: watch::Sender<u64>,
    in_flight: Arc<InFlight>,
    /// Whether its lifecycle events are announced: not while it is a
    /// reload's candidate, whose failure is the reload's.
    announce: AtomicBool,
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
    /// False once disabled ([`PluginState::Disabled`]).
    pub enabled: bool,
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
    /// Memory and CPU time in use while running: its cgroup's when it has
    /// one, else its process's.
    pub usage: crate::usage::Usage,
    /// Tool calls answered since the host first knew it.
    pub calls: u64,
    /// Of those, calls that failed or whose result was an error.
    pub errors: u64,
}

impl Member for Instance {
    fn name(&self) -> &str {
        &self.manifest.name
    }

    fn in_flight(&self) -> &Arc<InFlight> {
        &self.in_flight
    }
}

impl Instance {
    pub(crate) fn new(
        manifest: Manifest,
        origin: Origin,
        ctx: Arc<Context>,
        shared: Shared,
        config: Result<Value, String>,
        enabled: bool,
    ) -> Self {
        Self {
            manifest,
            origin,
            ctx,
            shared,
            config,
            state: Mutex::new(State {
                phase: if enabled {
                    PluginState::Stopped
                } else {
                    PluginState::Disabled
                },
                conn: None,
                restarts: 0,
                crashes: VecDeque::new(),
                last_error: None,
                stopping: false,
                generation: 0,
                retired: false,
                disabled: !enabled,
            }),
            start_lock: tokio::sync::Mutex::new(()),
            changed: watch::channel(0).0,
            in_flight: Arc::default(),
            announce: AtomicBool::new(true),
            last_used: AtomicU64::new(0),
            created: Instant::now(),
            known_tools: Mutex::new(None),
        }
    }

    /// What a successor of this instance keeps.
    pub(crate) fn shared(&self) -> Shared {
        self.shared.clone()
    }

    pub(crate) fn logs(&self) -> &LogSink {
        &self.shared.logs
    }

    /// The configuration it starts with, or why it cannot start.
    pub(crate) fn config(&self) -> Result<&Value, &str> {
        self.config.as_ref().map_err(String::as_str)
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

    pub(crate) fn enabled(&self) -> bool {
        !self.state().disabled
    }

    pub(crate) fn current(&self) -> Option<Arc<Connection>> {
        self.state().conn.clone()
    }

    /// Counts a dropped observer delivery.
    pub(crate) fn drop_event(&self) {
        self.shared.dropped_events.fetch_add(1, Ordering::Relaxed);
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

    fn lifecycle(&self, name: &str, payload: Value) {
        if self.announce.load(Ordering::Acquire) {
            self.ctx.lifecycle(name, payload);
        }
    }

    /// Holds back its lifecycle events (a reload's candidate), or lets them
    /// through again.
    pub(crate) fn set_announce(&self, announce: bool) {
        self.announce.store(announce, Ordering::Release);
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
            enabled: !state.disabled,
            pid: conn.map(|c| c.pid),
            uptime: conn.map(|c| c.started.elapsed()),
            startup: conn.map(|c| c.startup),
            started_at: conn.map(|c| c.started_at),
            restarts: state.restarts,
            last_error: state.last_error.clone(),
            dropped_events: self.shared.dropped_events.load(Ordering::Relaxed),
            dropped_logs: self.shared.logs.dropped.load(Ordering::Relaxed),
            sdk: conn
                .and_then(|c| c.handshake.sdk.as_ref())
                .map(|s| format!("{} {}", s.name, s.version)),
            cpu_throttled: conn
                .and_then(|c| c.sandbox.as_ref()?.cgroup.as_ref()?.throttled())
                .filter(|_| self.manifest.limits.cpu.is_some()),
            cgroups: conn
                .and_then(|c| c.sandbox.as_ref()?.cgroup.as_ref().map(|g| g.dirs()))
                .unwrap_or_default(),
            usage: conn.map_or_else(Default::default, |c| {
                match c.sandbox.as_ref().and_then(|s| s.cgroup.as_ref()) {
                    Some(cgroup) => cgroup.usage(),
                    None => crate::usage::Usage::of_process(c.pid),
                }
            }),
            calls: self.shared.calls.load(Ordering::Relaxed),
            errors: self.shared.errors.load(Ordering::Relaxed),
        }
    }

    /// Counts one answered tool call, and whether it failed.
    pub(crate) fn count_call(&self, failed: bool) {
        self.shared.calls.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.shared.errors.fetch_add(1, Ordering::Relaxed);
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
        let timeouts = &self.ctx.config.timeouts;
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
                if state.retired {
                    return Err(self
                        .unavailable("was replaced or removed while the call began; call again"));
                }
                if state.disabled {
                    return Err(Status::failed_precondition(format!(
                        "plugin {:?} is disabled; enable it first",
                        self.name()
                    )));
                }
                match state.phase {
                    PluginState::Failed => {
                        let reason = state.last_error.clone().unwrap_or_default();
                        return Err(self.unavailable(&format!("has failed: {reason}")));
                    }
                    phase => phase,
                }
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

    fn set_phase(&self, state: &mut State, phase: PluginState) {
        state.phase = phase;
        self.changed.send_modify(|g| *g += 1);
    }

    pub(crate) fn call_timeout(&self) -> Duration {
        let call = self.ctx.config.timeouts.call;
        self.manifest
            .limits
            .call_timeout
            .map_or(call, |t| t.min(call))
    }

    /// Starts the plugin if it is stopped. A failure marks it failed.
    pub(crate) async fn start(self: &Arc<Self>) -> Result<(), Status> {
        let _guard = self.start_lock.lock().await;
        let generation = {
            let mut state = self.state();
            match state.phase {
                PluginState::Ready | PluginState::Failed | PluginState::Disabled => {
                    return Ok(());
                }
                _ if state.retired || state.disabled => return Ok(()),
                _ => {}
            }
            state.stopping = false;
            state.generation += 1;
            self.set_phase(&mut state, PluginState::Starting);
            state.generation
        };
        let connected = match (&self.config, self.start_dependencies().await) {
            // PW-CFG-3: a configuration the schema refuses spawns nothing.
            (Err(why), _) => Err(why.clone()),
            (_, Err(why)) => Err(why),
            (Ok(config), Ok(())) => {
                connect(&Plan {
                    manifest: &self.manifest,
                    ctx: &self.ctx,
                    logs: &self.shared.logs,
                    storage: &self.shared.storage,
                    config,
                    generation,
                    call_timeout: self.call_timeout(),
                })
                .await
            }
        };
        match connected {
            Ok(conn) => {
                let conn = Arc::new(conn);
                *self.known_tools.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(conn.tools.iter().map(|t| t.decl.name.clone()).collect());
                {
                    let mut state = self.state();
                    state.conn = Some(conn.clone());
                    state.last_error = None;
                    self.set_phase(&mut state, PluginState::Ready);
                }
                self.spawn_watch(conn.clone());
                self.lifecycle(
                    "plugin.started",
                    serde_json::json!({
                        "plugin": self.name(),
                        "pid": conn.pid,
                        "startup_ms": conn.startup.as_secs_f64() * 1000.0,
                        "tools": conn.tools.iter().map(|t| t.decl.name.as_str()).collect::<Vec<_>>(),
                        "commands": conn.commands.iter().map(plugwire_proto::names::command_full_name).collect::<Vec<_>>(),
                    }),
                );
                Ok(())
            }
            Err(message) => {
                {
                    let mut state = self.state();
                    state.last_error = Some(message.clone());
                    self.set_phase(&mut state, PluginState::Failed);
                }
                if self.announce.load(Ordering::Acquire) {
                    tracing::error!(plugin = self.name(), "{message}");
                }
                self.lifecycle(
                    "plugin.failed",
                    serde_json::json!({"plugin": self.name(), "reason": message}),
                );
                Err(Status::unavailable(format!(
                    "plugin {:?} failed to start: {message}",
                    self.name()
                )))
            }
        }
    }

    /// Starts the plugins this one needs, first; why not, if one cannot be
    /// had.
    async fn start_dependencies(&self) -> Result<(), String> {
        if self.manifest.dependencies.is_empty() {
            return Ok(());
        }
        let host = self.ctx.host().ok_or("the host is shutting down")?;
        for (dependency, requirement) in &self.manifest.dependencies {
            host.start_dependency(self.name(), dependency, requirement)
                .await?;
        }
        Ok(())
    }

    /// Watches a running process: an exit that was not asked for is a
    /// crash; with an idle timeout, an unused plugin is stopped.
    fn spawn_watch(self: &Arc<Self>, conn: Arc<Connection>) {
        let this = Arc::downgrade(self);
        let idle = self.ctx.config.idle_timeout;
        tokio::spawn(async move {
            let status = match idle {
                None => conn.exited().await,
                Some(every) => loop {
                    tokio::select! {
                        status = conn.exited() => break status,
                        _ = tokio::time::sleep(every / 4) => {
                            let Some(this) = this.upgrade() else { return };
                            let quiet = this.idle_for();
                            if idle_expired(quiet, idle) && this.in_flight.count() == 0 {
                                tracing::info!(plugin = this.name(), "idle for {quiet:?}; stopping");
                                this.stop().await;
                            }
                        }
                    }
                },
            };
            if let Some(this) = this.upgrade() {
                this.on_exit(&conn, status).await;
            }
        });
    }

    async fn on_exit(self: &Arc<Self>, conn: &Connection, status: String) {
        // Whatever the plugin left in its group, or its cgroup, goes with it.
        signal_group(conn.pid, nix::sys::signal::Signal::SIGKILL);
        if let Some(cgroup) = conn.cgroup() {
            let _ = tokio::task::spawn_blocking(move || cgroup.kill()).await;
        }
        let policy = &self.ctx.config.restart;
        let verdict = {
            let mut state = self.state();
            if state.conn.as_ref().map(|c| c.generation) != Some(conn.generation) {
                return;
            }
            state.conn = None;
            if state.stopping || state.retired || state.disabled {
                self.at_rest(&mut state);
                None
            } else {
                let reason = format!("crashed ({status})");
                let verdict = after_crash(policy, &mut state.crashes, Instant::now());
                match verdict {
                    Verdict::GiveUp { crashes } => {
                        state.last_error = Some(format!(
                            "{reason}; {crashes} crashes within {:?}, giving up",
                            policy.window
                        ));
                        self.set_phase(&mut state, PluginState::Failed);
                    }
                    Verdict::Restart(_) => {
                        state.last_error = Some(reason);
                        state.restarts += 1;
                        self.set_phase(&mut state, PluginState::Restarting);
                    }
                }
                Some(verdict)
            }
        };
        let Some(verdict) = verdict else {
            self.lifecycle(
                "plugin.stopped",
                serde_json::json!({"plugin": self.name(), "status": status}),
            );
            return;
        };
        tracing::warn!(plugin = self.name(), %status, "plugin crashed");
        self.lifecycle(
            "plugin.crashed",
            serde_json::json!({"plugin": self.name(), "status": status}),
        );
        let backoff = match verdict {
            Verdict::GiveUp { .. } => {
                let reason = self.state().last_error.clone().unwrap_or_default();
                tracing::error!(plugin = self.name(), "{reason}");
                self.lifecycle(
                    "plugin.failed",
                    serde_json::json!({"plugin": self.name(), "reason": reason}),
                );
                return;
            }
            Verdict::Restart(backoff) => backoff,
        };
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(backoff).await;
            {
                let mut state = this.state();
                if state.phase != PluginState::Restarting || state.retired {
                    return;
                }
                this.at_rest(&mut state);
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
                PluginState::Restarting | PluginState::Starting => self.at_rest(&mut state),
                _ => {}
            }
            state.conn.clone()
        };
        let Some(conn) = conn else { return };
        stop::escalate(&conn, &self.ctx.config.timeouts).await;
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

    /// Replaced or removed: no new start, no restart; calls already on it
    /// finish (the caller drains it, then stops it).
    pub(crate) fn retire(&self) {
        self.state().retired = true;
    }

    /// Switches the plugin off or on. Off, it is never started; one that
    /// is running keeps serving until the caller drains and stops it, and
    /// then rests as disabled.
    pub(crate) fn set_enabled(&self, enabled: bool) {
        let mut state = self.state();
        state.disabled = !enabled;
        match (enabled, state.phase) {
            (true, PluginState::Disabled) => self.set_phase(&mut state, PluginState::Stopped),
            (false, PluginState::Stopped | PluginState::Failed | PluginState::Restarting) => {
                state.crashes.clear();
                self.set_phase(&mut state, PluginState::Disabled);
            }
            _ => {}
        }
    }

    /// The phase of a plugin that is not running: stopped, or disabled.
    fn at_rest(&self, state: &mut State) {
        let phase = if state.disabled {
            PluginState::Disabled
        } else {
            PluginState::Stopped
        };
        self.set_phase(state, phase);
    }

    /// Clears a failure so the plugin may be started again.
    pub(crate) fn reset(&self) {
        let mut state = self.state();
        if state.phase == PluginState::Failed {
            state.crashes.clear();
            self.at_rest(&mut state);
        }
    }
}

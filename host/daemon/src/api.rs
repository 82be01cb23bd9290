//! The management API's bodies: what the daemon sends and the client reads,
//! built from the host's own types in one place so that the CLI prints the
//! same thing whether it asked a daemon or ran the host itself.
//!
//! No I/O here: these are plain serde types.

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use plugwire_host::logs::{LogRecord, Stream};
use plugwire_host::{CommandInfo, EmitOutcome, HookOutcome, HostEvent, PluginStatus, ToolInfo};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The caller's environment a command may see: what shapes its output,
/// not the caller's secrets.
pub const PASSED_ENV: [&str; 6] = ["TERM", "LANG", "LC_ALL", "NO_COLOR", "COLUMNS", "PWD"];

/// One plugin and its status (`GET /v1/plugins`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginView {
    /// Name.
    pub name: String,
    /// Version from the manifest.
    pub version: String,
    /// Language from the manifest.
    pub language: Option<String>,
    /// Description from the manifest.
    pub description: String,
    /// Its directory.
    pub dir: PathBuf,
    /// Where it was found: `user`, `project`, `system`, `explicit`, ...
    pub origin: String,
    /// Lifecycle state: `ready`, `stopped`, `failed`, `disabled`, ...
    pub state: String,
    /// False once disabled.
    pub enabled: bool,
    /// Process id while running.
    pub pid: Option<u32>,
    /// Milliseconds since it became ready.
    pub uptime_ms: Option<u64>,
    /// Spawn-to-ready time of the current process, in milliseconds.
    pub startup_ms: Option<f64>,
    /// Restarts after crashes.
    pub restarts: u32,
    /// The last error (start failure or crash).
    pub last_error: Option<String>,
    /// Observer deliveries dropped because its queue was full.
    pub dropped_events: u64,
    /// Log lines dropped (too long or too fast).
    pub dropped_logs: u64,
    /// The SDK the plugin reported.
    pub sdk: Option<String>,
    /// Resident memory while running, in bytes (its cgroup's when it has one).
    pub memory_bytes: Option<u64>,
    /// CPU time used while running, in milliseconds.
    pub cpu_ms: Option<f64>,
    /// Tool calls answered.
    pub calls: u64,
    /// Of those, calls that failed or returned an error result.
    pub errors: u64,
}

impl From<&PluginStatus> for PluginView {
    fn from(s: &PluginStatus) -> Self {
        Self {
            name: s.name.clone(),
            version: s.version.clone(),
            language: s.language.clone(),
            description: s.description.clone(),
            dir: s.dir.clone(),
            origin: format!("{:?}", s.origin).to_lowercase(),
            state: s.state.to_string(),
            enabled: s.enabled,
            pid: s.pid,
            uptime_ms: s.uptime.map(|d| d.as_millis() as u64),
            startup_ms: s.startup.map(|d| d.as_secs_f64() * 1000.0),
            restarts: s.restarts,
            last_error: s.last_error.clone(),
            dropped_events: s.dropped_events,
            dropped_logs: s.dropped_logs,
            sdk: s.sdk.clone(),
            memory_bytes: s.usage.memory_bytes,
            cpu_ms: s.usage.cpu_time.map(|d| d.as_secs_f64() * 1000.0),
            calls: s.calls,
            errors: s.errors,
        }
    }
}

/// Every plugin, and what was found wrong while discovering them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginList {
    /// The plugins.
    pub plugins: Vec<PluginView>,
    /// Manifests that could not be used, and why.
    pub problems: Vec<String>,
}

/// Behaviour hints of a tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Annotations {
    /// Changes nothing.
    pub read_only: bool,
    /// May destroy data.
    pub destructive: bool,
    /// Calling twice does what calling once does.
    pub idempotent: bool,
    /// Reaches outside the machine.
    pub open_world: bool,
}

/// A tool (`GET /v1/tools`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolView {
    /// The plugin offering it.
    pub plugin: String,
    /// Its own name.
    pub name: String,
    /// `<plugin>.<name>`.
    pub qualified: String,
    /// Whether the bare name is unambiguous.
    pub bare_name_ok: bool,
    /// Description.
    pub description: String,
    /// Input JSON Schema.
    pub input_schema: Value,
    /// Output JSON Schema, if declared.
    pub output_schema: Option<Value>,
    /// Behaviour hints.
    pub annotations: Annotations,
}

impl From<&ToolInfo> for ToolView {
    fn from(t: &ToolInfo) -> Self {
        Self {
            plugin: t.plugin.clone(),
            name: t.name.clone(),
            qualified: t.qualified.clone(),
            bare_name_ok: t.bare_ok,
            description: t.description.clone(),
            input_schema: t.input_schema.clone(),
            output_schema: t.output_schema.clone(),
            annotations: Annotations {
                read_only: t.annotations.read_only,
                destructive: t.annotations.destructive,
                idempotent: t.annotations.idempotent,
                open_world: t.annotations.open_world,
            },
        }
    }
}

/// A command (`GET /v1/commands`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandView {
    /// The plugin offering it.
    pub plugin: String,
    /// Full name (parent path and name).
    pub name: String,
    /// Usage line.
    pub usage: String,
    /// One-line description.
    pub short: String,
}

impl From<&CommandInfo> for CommandView {
    fn from(c: &CommandInfo) -> Self {
        Self {
            plugin: c.plugin.clone(),
            name: c.full_name.clone(),
            usage: c.declaration.usage.clone(),
            short: c.declaration.short.clone(),
        }
    }
}

/// A gRPC service a plugin provides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderView {
    /// The service's full name.
    pub service: String,
    /// The provider's name.
    pub name: String,
}

/// What a plugin's manifest says of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AboutView {
    /// Its authors.
    pub authors: Vec<String>,
    /// Its license.
    pub license: Option<String>,
    /// Where to read about it.
    pub homepage: Option<String>,
    /// Its source.
    pub repository: Option<String>,
    /// Words catalogs search.
    pub keywords: Vec<String>,
}

/// One permission a plugin requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PermissionView {
    /// As grants write it: `network`, `read:~/notes`, `host.storage`.
    pub permission: String,
    /// What granting it risks.
    pub risk: String,
    /// Its risk level: `low`, `medium` or `high`.
    pub level: String,
    /// Whether it is granted now.
    pub granted: bool,
}

/// A plugin's resource limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitsView {
    /// Bytes of memory.
    pub memory_bytes: Option<u64>,
    /// Processes and threads.
    pub pids: Option<u32>,
    /// CPUs.
    pub cpu: Option<f64>,
    /// Open files.
    pub open_files: Option<u32>,
    /// Longest call, in milliseconds.
    pub call_timeout_ms: Option<u64>,
}

/// One hook subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookView {
    /// The event pattern.
    pub pattern: String,
    /// `observe` or `intercept`.
    pub mode: String,
    /// Lower runs first among intercepting hooks.
    pub priority: i32,
    /// `open` (a failure continues) or `closed` (a failure denies).
    pub on_failure: String,
}

/// One hook subscription and its plugin (`GET /v1/hooks`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginHook {
    /// The plugin.
    pub plugin: String,
    /// The subscription.
    #[serde(flatten)]
    pub hook: HookView,
}

impl From<&plugwire_host::HookInfo> for PluginHook {
    fn from(h: &plugwire_host::HookInfo) -> Self {
        Self {
            plugin: h.plugin.clone(),
            hook: HookView::from(h),
        }
    }
}

impl From<&plugwire_host::HookInfo> for HookView {
    fn from(h: &plugwire_host::HookInfo) -> Self {
        Self {
            pattern: h.pattern.clone(),
            mode: if h.intercept { "intercept" } else { "observe" }.into(),
            priority: h.priority,
            on_failure: if h.fail_closed { "closed" } else { "open" }.into(),
        }
    }
}

/// One plugin in full (`GET /v1/plugins/{name}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginDetail {
    /// Its status.
    pub status: PluginView,
    /// What its manifest says of it.
    pub about: AboutView,
    /// What it requests, and whether each is granted.
    pub permissions: Vec<PermissionView>,
    /// Its resource limits.
    pub limits: LimitsView,
    /// Its hook subscriptions.
    pub hooks: Vec<HookView>,
    /// Its tools.
    pub tools: Vec<ToolView>,
    /// Its commands.
    pub commands: Vec<CommandView>,
    /// Its providers.
    pub providers: Vec<ProviderView>,
    /// Why it could not be started to list what it offers, if it could not.
    pub start_error: Option<ApiError>,
}

/// The body of `POST /v1/tools/{tool}/call`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRequest {
    /// The tool's arguments: a JSON object its input schema accepts.
    #[serde(default = "empty_object")]
    pub arguments: Value,
    /// A deadline shorter than the plugin's own, in milliseconds.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

impl CallRequest {
    /// The deadline asked for.
    ///
    /// ```
    /// let request = plugwire_daemon::api::CallRequest {
    ///     arguments: serde_json::json!({}),
    ///     timeout_ms: Some(1500),
    /// };
    /// assert_eq!(request.timeout(), Some(std::time::Duration::from_millis(1500)));
    /// ```
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout_ms.map(Duration::from_millis)
    }
}

/// A tool's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallResult {
    /// The tool reported a failure of its own.
    pub is_error: bool,
    /// The result content.
    pub content: Value,
}

/// One progress report of a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressView {
    /// Work done.
    pub progress: f64,
    /// Total work, when known.
    pub total: Option<f64>,
    /// Status text.
    pub message: String,
}

/// One intercepting hook's decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionView {
    /// The plugin.
    pub plugin: String,
    /// The pattern that matched.
    pub pattern: String,
    /// Its priority.
    pub priority: i32,
    /// `continue`, `modify`, `deny: REASON` or `failed (...): ERROR`.
    pub outcome: String,
}

/// Who denied an event, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenialView {
    /// The denying plugin.
    pub plugin: String,
    /// Its reason.
    pub reason: String,
}

/// What an emitted event went through (`POST /v1/events/{name}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmitView {
    /// The event's id.
    pub id: String,
    /// The payload after interception.
    pub payload: Value,
    /// Set when a hook denied it.
    pub denied: Option<DenialView>,
    /// Each intercepting hook's decision, in order.
    pub decisions: Vec<DecisionView>,
    /// The plugins it was delivered to as observers.
    pub observers: Vec<String>,
}

impl From<&EmitOutcome> for EmitView {
    fn from(o: &EmitOutcome) -> Self {
        Self {
            id: o.id.clone(),
            payload: o.payload.clone(),
            denied: o.denied.as_ref().map(|d| DenialView {
                plugin: d.plugin.clone(),
                reason: d.reason.clone(),
            }),
            decisions: o
                .decisions
                .iter()
                .map(|d| DecisionView {
                    plugin: d.plugin.clone(),
                    pattern: d.pattern.clone(),
                    priority: d.priority,
                    outcome: outcome_text(&d.outcome),
                })
                .collect(),
            observers: o.observers.clone(),
        }
    }
}

fn outcome_text(outcome: &HookOutcome) -> String {
    match outcome {
        HookOutcome::Continued => "continue".into(),
        HookOutcome::Modified => "modify".into(),
        HookOutcome::Denied(reason) => format!("deny: {reason}"),
        HookOutcome::Failed { error, denied } => format!(
            "failed ({}): {error}",
            if *denied {
                "fail-closed, denied"
            } else {
                "fail-open"
            }
        ),
    }
}

/// One log record (`GET /v1/logs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogView {
    /// Its place among all records; ask for `after=SEQ` to follow.
    pub seq: u64,
    /// When the host read it, in milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The plugin.
    pub plugin: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// `trace` to `error`.
    pub level: String,
    /// The message.
    pub message: String,
    /// Structured fields.
    pub fields: serde_json::Map<String, Value>,
}

impl From<&LogRecord> for LogView {
    fn from(r: &LogRecord) -> Self {
        Self {
            seq: r.seq,
            time_ms: unix_ms(r.time),
            plugin: r.plugin.clone(),
            stream: match r.stream {
                Stream::Stdout => "stdout",
                Stream::Stderr => "stderr",
            }
            .into(),
            level: r.level.as_str().into(),
            message: r.message.clone(),
            fields: r.fields.iter().cloned().collect(),
        }
    }
}

/// One event on the bus, lifecycle or emitted (`GET /v1/events`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventView {
    /// Its id.
    pub id: String,
    /// Its name, e.g. `plugin.reloaded`.
    pub name: String,
    /// Its payload.
    pub payload: Value,
    /// `host`, `plugin:<name>` or `lifecycle`.
    pub source: String,
    /// When, in milliseconds since the Unix epoch.
    pub time_ms: u64,
}

impl From<&HostEvent> for EventView {
    fn from(e: &HostEvent) -> Self {
        Self {
            id: e.id.clone(),
            name: e.name.clone(),
            payload: e.payload.clone(),
            source: e.source.clone(),
            time_ms: unix_ms(e.time),
        }
    }
}

/// The last frame of a command run's output stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunFrame {
    /// Bytes the command wrote to stdout (base64).
    Stdout(String),
    /// Bytes the command wrote to stderr (base64).
    Stderr(String),
    /// The command's exit code; the stream ends.
    Exit(i32),
    /// The run failed before an exit code; the stream ends.
    Error(ApiError),
}

/// One plugin's panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PanelView {
    /// The plugin.
    pub plugin: String,
    /// Its title.
    pub title: String,
    /// Where its page is.
    pub url: String,
}

/// A token for a panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PanelToken {
    /// The token, for `Authorization: Bearer`.
    pub token: String,
    /// How long it lasts, in milliseconds.
    pub expires_in_ms: u64,
}

/// The daemon's answer to `GET /v1/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// `ok` while serving.
    pub status: String,
    /// The daemon's version.
    pub version: String,
    /// Its process id.
    pub pid: u32,
    /// Milliseconds since it started.
    pub uptime_ms: u64,
    /// Plugins known, and of those ready.
    pub plugins: usize,
    /// Plugins ready now.
    pub ready: usize,
    /// Plugins that failed.
    pub failed: usize,
}

/// An error: a stable code to match on, a message for people, and a hint
/// that says what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// Stable: `not_found`, `invalid_argument`, `unavailable`, ... (docs/daemon.md).
    pub code: String,
    /// What went wrong.
    pub message: String,
    /// What to try.
    pub hint: Option<String>,
}

impl ApiError {
    /// An error with a code and a message.
    ///
    /// ```
    /// let e = plugwire_daemon::api::ApiError::new("not_found", "no plugin named \"x\"")
    ///     .with_hint("`plugwire list` shows the plugins");
    /// assert_eq!(e.code, "not_found");
    /// assert_eq!(e.hint.as_deref(), Some("`plugwire list` shows the plugins"));
    /// ```
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            hint: None,
        }
    }

    /// The same error with a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The API's form of a host error, with the hint the CLI gives for it.
    ///
    /// ```
    /// use plugwire_daemon::api::ApiError;
    /// let e = ApiError::from_status(&tonic::Status::not_found("no tool named \"x\""));
    /// assert_eq!(e.code, "not_found");
    /// assert!(e.hint.unwrap().contains("plugwire tools"));
    /// ```
    pub fn from_status(status: &tonic::Status) -> Self {
        use tonic::Code;
        let usage = status
            .metadata()
            .get(plugwire_proto::constants::USAGE_METADATA)
            .is_some_and(|v| v == "usage");
        let (code, hint) = match status.code() {
            Code::InvalidArgument if usage => (
                "usage",
                Some("`plugwire run COMMAND --help` shows the command's flags and arguments"),
            ),
            Code::NotFound => (
                "not_found",
                Some(
                    "`plugwire list` shows the plugins, `plugwire tools` their tools, `plugwire info PLUGIN` the rest",
                ),
            ),
            Code::InvalidArgument => (
                "invalid_argument",
                Some("`plugwire tools --json` shows each tool's input schema"),
            ),
            Code::Unavailable => (
                "unavailable",
                Some("`plugwire list` shows plugin states; `plugwire -v ...` shows plugin logs"),
            ),
            Code::DeadlineExceeded => (
                "deadline_exceeded",
                Some(
                    "raise the deadline with --timeout, or check the plugin with `plugwire -v ...`",
                ),
            ),
            Code::FailedPrecondition => (
                "failed_precondition",
                Some("qualify the name as <plugin>.<name>"),
            ),
            Code::Cancelled => ("cancelled", None),
            Code::PermissionDenied => ("permission_denied", None),
            Code::AlreadyExists => ("conflict", None),
            Code::ResourceExhausted => ("resource_exhausted", None),
            Code::Unimplemented => ("unimplemented", None),
            _ => ("internal", None),
        };
        Self {
            code: code.to_owned(),
            message: status.message().to_owned(),
            hint: hint.map(str::to_owned),
        }
    }
}

fn unix_ms(t: std::time::SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_round_trip_as_json() {
        let e = ApiError::new("payload_too_large", "body over 1 MiB").with_hint("send less");
        let text = serde_json::to_string(&e).unwrap();
        assert_eq!(
            text,
            r#"{"code":"payload_too_large","message":"body over 1 MiB","hint":"send less"}"#
        );
        assert_eq!(serde_json::from_str::<ApiError>(&text).unwrap(), e);
    }

    #[test]
    fn run_frames_are_tagged() {
        let text = serde_json::to_string(&RunFrame::Exit(3)).unwrap();
        assert_eq!(text, r#"{"exit":3}"#);
        let frame: RunFrame = serde_json::from_str(r#"{"stdout":"aGk="}"#).unwrap();
        assert_eq!(frame, RunFrame::Stdout("aGk=".into()));
    }

    #[test]
    fn a_call_request_defaults_to_no_arguments() {
        let request: CallRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(request.arguments, serde_json::json!({}));
        assert_eq!(request.timeout(), None);
    }
}

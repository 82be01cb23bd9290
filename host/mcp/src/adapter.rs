//! The adapter: an MCP server run as a plugwire plugin.
//!
//! The host starts `plugwire-mcp-adapter --name N --version V -- SERVER
//! ARGS...` where it would start a plugin, inside the plugin's sandbox.
//! The adapter starts the server with pipes for stdin and stdout (stderr
//! goes to the host's log of the plugin), performs MCP's initialization,
//! lists the server's tools, and serves them over plugwire's protocol with
//! the Rust SDK: calls become `tools/call`, the plugwire call's progress
//! and cancellation become MCP's, and the host's deadline cancels the MCP
//! request. Everything the server writes is parsed here, inside the
//! sandbox, with the server's rights only.
//!
//! When the server exits or closes its stdout, the adapter exits with
//! status 1, so the host treats it as any crashed plugin (restart with
//! backoff, then failed). When the host stops the plugin, the server's
//! stdin is closed, then it is killed if it has not exited within
//! [`SERVER_GRACE`] (MCP's stdio shutdown).

use std::collections::HashSet;
use std::ffi::OsString;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use plugwire_proto::constants::{
    ENV_CLIENT_CERT, ENV_HOST_SOCKET, ENV_INSTANCE_ID, ENV_MULTIPLEX_GRPC, ENV_PROTOCOL_VERSIONS,
    ENV_UNIX_SOCKET_DIR, MAGIC_COOKIE_KEY, MAX_MESSAGE_SIZE,
};
use plugwire_sdk::{Plugin, Tool, ToolContext, ToolError};
use rmcp::handler::client::progress::ProgressDispatcher;
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation, NumberOrString,
    ProgressNotificationParam, ProgressToken, RequestMetaObject,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::{ClientHandler, Peer, RoleClient, ServiceError, ServiceExt};
use serde_json::Value;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use crate::convert::{error_to_status, from_mcp_result};

/// How long the server gets for `initialize` and for listing its tools.
pub const START_DEADLINE: Duration = Duration::from_secs(30);

/// How long the server gets to exit once its stdin is closed.
pub const SERVER_GRACE: Duration = Duration::from_secs(2);

/// The most tools one server may offer.
pub const MAX_TOOLS: usize = 1024;

/// What the adapter was asked to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterArgs {
    /// The plugin's name (from its manifest).
    pub name: String,
    /// The plugin's version (from its manifest).
    pub version: String,
    /// The MCP server's command and its arguments.
    pub command: Vec<OsString>,
}

impl AdapterArgs {
    /// Parses `--name N --version V -- SERVER [ARGS...]`.
    ///
    /// ```
    /// let args = plugwire_mcp::adapter::AdapterArgs::parse(
    ///     ["--name", "time", "--version", "1.0.0", "--", "mcp-server-time", "--local-timezone", "UTC"].map(Into::into),
    /// ).unwrap();
    /// assert_eq!(args.name, "time");
    /// assert_eq!(args.command.len(), 3);
    /// ```
    pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Self, String> {
        let mut args = args.into_iter();
        let (mut name, mut version) = (None, None);
        loop {
            let Some(arg) = args.next() else {
                return Err(USAGE.into());
            };
            match arg.to_str() {
                Some("--name") => name = args.next().and_then(|v| v.into_string().ok()),
                Some("--version") => version = args.next().and_then(|v| v.into_string().ok()),
                Some("--") => break,
                _ => return Err(format!("unexpected argument {arg:?}; {USAGE}")),
            }
        }
        let command: Vec<OsString> = args.collect();
        match (name, version, command.is_empty()) {
            (Some(name), Some(version), false) => Ok(Self {
                name,
                version,
                command,
            }),
            _ => Err(USAGE.into()),
        }
    }
}

const USAGE: &str = "usage: plugwire-mcp-adapter --name PLUGIN --version VERSION -- SERVER [ARGS...] (a plugwire host runs it for manifests with kind = \"mcp\")";

/// Why the adapter stopped.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// The server could not be started.
    #[error("cannot start the MCP server {command:?}: {why}")]
    Spawn {
        /// The command.
        command: OsString,
        /// Why.
        why: std::io::Error,
    },
    /// Initialization or the tool listing failed or took too long.
    #[error("the MCP server did not start: {0}")]
    Initialize(String),
    /// The server exited or closed its output while serving.
    #[error("the MCP server stopped: {0}")]
    ServerStopped(String),
    /// Serving plugwire's protocol failed.
    #[error("{0}")]
    Serve(String),
}

/// Receives the server's progress notifications for the calls awaiting
/// them.
#[derive(Clone)]
struct Client {
    progress: ProgressDispatcher,
    name: String,
}

impl ClientHandler for Client {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new(
                format!("plugwire-mcp-adapter ({})", self.name),
                env!("CARGO_PKG_VERSION"),
            ),
        )
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress.handle_notification(params).await;
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        // plugwire lists a plugin's tools once, at start (PW-TOOL-1).
        tracing::warn!(
            "the MCP server's tool list changed; `plugwire reload {}` offers the new one",
            self.name
        );
    }
}

/// Runs the server named by `args` and serves its tools until the host
/// stops the plugin or the server stops.
///
/// ```no_run
/// # async fn f() -> Result<(), plugwire_mcp::adapter::AdapterError> {
/// let args = plugwire_mcp::adapter::AdapterArgs::parse(std::env::args_os().skip(1)).unwrap();
/// plugwire_mcp::adapter::run(args).await?;
/// # Ok(()) }
/// ```
pub async fn run(args: AdapterArgs) -> Result<(), AdapterError> {
    let mut child = spawn_server(&args.command)?;
    let stdout = child.stdout.take().expect("piped");
    let stdin = child.stdin.take().expect("piped");
    let transport =
        AsyncRwTransport::new_client(stdout, stdin).with_max_line_length(MAX_MESSAGE_SIZE);
    let handler = Client {
        progress: ProgressDispatcher::new(),
        name: args.name.clone(),
    };
    let progress = handler.progress.clone();
    let started = tokio::time::timeout(START_DEADLINE, async {
        let client = handler
            .serve(transport)
            .await
            .map_err(|e| AdapterError::Initialize(e.to_string()))?;
        let tools = client
            .list_all_tools()
            .await
            .map_err(|e| AdapterError::Initialize(format!("tools/list failed: {e}")))?;
        Ok::<_, AdapterError>((client, tools))
    });
    let (client, tools) = tokio::select! {
        started = started => started.map_err(|_| AdapterError::Initialize(format!(
            "no answer to initialize and tools/list within {START_DEADLINE:?}"
        )))??,
        status = child.wait() => return Err(AdapterError::Initialize(format!(
            "it exited first ({})", describe(status)
        ))),
    };
    let plugin = plugin(&args, client.peer(), &progress, tools);
    serve(plugin, client, child).await
}

fn spawn_server(command: &[OsString]) -> Result<Child, AdapterError> {
    let mut server = Command::new(&command[0]);
    server
        .args(&command[1..])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true);
    // The server needs none of plugwire's variables: it never speaks
    // plugwire's protocol, and the host socket is the adapter's business.
    for name in [
        MAGIC_COOKIE_KEY,
        ENV_PROTOCOL_VERSIONS,
        ENV_UNIX_SOCKET_DIR,
        ENV_CLIENT_CERT,
        ENV_MULTIPLEX_GRPC,
        ENV_HOST_SOCKET,
        ENV_INSTANCE_ID,
    ] {
        server.env_remove(name);
    }
    server.spawn().map_err(|why| AdapterError::Spawn {
        command: command[0].clone(),
        why,
    })
}

/// Serves `plugin` until the host stops it (then stops the server), or
/// until the server stops (an error, so the host restarts the plugin).
async fn serve(
    plugin: Plugin,
    client: RunningService<RoleClient, Client>,
    mut child: Child,
) -> Result<(), AdapterError> {
    let closed = client.cancellation_token();
    let session = tokio::spawn(client.waiting());
    let outcome = tokio::select! {
        served = plugwire_sdk::try_serve(plugin) => served.map_err(|e| AdapterError::Serve(e.to_string())),
        status = child.wait() => return Err(AdapterError::ServerStopped(describe(status))),
        _ = session => Err(AdapterError::ServerStopped("it closed its output".into())),
    };
    // Closing the session closes the server's stdin: MCP's way to ask a
    // stdio server to exit.
    closed.cancel();
    if tokio::time::timeout(SERVER_GRACE, child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
    outcome
}

fn describe(status: std::io::Result<std::process::ExitStatus>) -> String {
    match status {
        Ok(status) => status.to_string(),
        Err(e) => format!("lost track of it: {e}"),
    }
}

/// The plugin offering the server's tools under names plugwire accepts.
fn plugin(
    args: &AdapterArgs,
    peer: &Peer<RoleClient>,
    progress: &ProgressDispatcher,
    tools: Vec<rmcp::model::Tool>,
) -> Plugin {
    let description = peer
        .peer_info()
        .and_then(|info| info.server_info.clone())
        .map_or_else(
            || "MCP server".to_owned(),
            |server| format!("MCP server {} {}", server.name, server.version),
        );
    let mut plugin = Plugin::new(&args.name, &args.version).description(description);
    let tokens = Arc::new(AtomicU64::new(1));
    let mut taken = HashSet::new();
    if tools.len() > MAX_TOOLS {
        tracing::warn!(
            "the MCP server offers {} tools; the first {MAX_TOOLS} are kept",
            tools.len()
        );
    }
    for tool in tools.into_iter().take(MAX_TOOLS) {
        let Some(name) = plugwire_name(&tool.name, &taken) else {
            tracing::warn!(tool = %tool.name, "skipped: no plugwire tool name is left for it");
            continue;
        };
        let call = McpCall {
            peer: peer.clone(),
            progress: progress.clone(),
            tokens: tokens.clone(),
            mcp_name: tool.name.to_string(),
        };
        match to_plugwire_tool(&name, &tool, call) {
            Ok(t) => {
                taken.insert(name);
                plugin = plugin.tool(t);
            }
            Err(why) => tracing::warn!(tool = %tool.name, "skipped: {why}"),
        }
    }
    plugin
}

/// A plugwire tool name for an MCP one: the same where it is valid
/// (PW-TOOL-2), else with every other character made `_` and cut to 64
/// bytes; `None` when that name is taken.
///
/// ```
/// # use std::collections::HashSet;
/// use plugwire_mcp::adapter::plugwire_name;
/// assert_eq!(plugwire_name("get-time", &HashSet::new()).as_deref(), Some("get-time"));
/// assert_eq!(plugwire_name("files/read", &HashSet::new()).as_deref(), Some("files_read"));
/// let taken = HashSet::from(["files_read".to_owned()]);
/// assert_eq!(plugwire_name("files.read", &taken), None);
/// ```
pub fn plugwire_name(mcp_name: &str, taken: &HashSet<String>) -> Option<String> {
    let mut name: String = mcp_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    name.truncate(64);
    (!name.is_empty() && !taken.contains(&name)).then_some(name)
}

fn to_plugwire_tool(name: &str, tool: &rmcp::model::Tool, call: McpCall) -> Result<Tool, String> {
    let description = tool
        .description
        .as_deref()
        .or(tool.title.as_deref())
        .unwrap_or_default()
        .to_owned();
    let schema = Value::Object((*tool.input_schema).clone());
    let call = Arc::new(call);
    let mut out = Tool::raw(name, description, schema, move |arguments, cx| {
        let call = call.clone();
        async move { call.call(arguments, cx).await }
    })?;
    if let Some(output) = &tool.output_schema {
        out = out.output_schema(&Value::Object((**output).clone()));
    }
    // MCP's absent hints are not plugwire's `false`; only a given `true`
    // is a hint plugwire can carry.
    if let Some(hints) = &tool.annotations {
        let given = |hint: Option<bool>| hint == Some(true);
        if given(hints.read_only_hint) {
            out = out.read_only();
        }
        if given(hints.destructive_hint) {
            out = out.destructive();
        }
        if given(hints.idempotent_hint) {
            out = out.idempotent();
        }
        if given(hints.open_world_hint) {
            out = out.open_world();
        }
    }
    Ok(out)
}

/// One MCP tool, as called from plugwire.
struct McpCall {
    peer: Peer<RoleClient>,
    progress: ProgressDispatcher,
    tokens: Arc<AtomicU64>,
    mcp_name: String,
}

impl McpCall {
    async fn call(&self, arguments: Value, cx: ToolContext) -> Result<Value, ToolError> {
        let mut params = CallToolRequestParams::new(self.mcp_name.clone());
        params.arguments = arguments.as_object().cloned();
        let mut subscription = None;
        if cx.reports_progress() {
            let token = ProgressToken(NumberOrString::Number(
                self.tokens.fetch_add(1, Ordering::Relaxed) as i64,
            ));
            params.meta = Some(RequestMetaObject::with_progress_token(token.clone()));
            subscription = Some(self.progress.subscribe(token).await);
        }
        // Dropping the request (cancelled, or the deadline passed) sends
        // MCP's notifications/cancelled for it.
        let request = self.peer.call_tool(params);
        tokio::pin!(request);
        let cancelled: CancellationToken = cx.cancellation_token();
        let result = loop {
            tokio::select! {
                result = &mut request => break result,
                () = cancelled.cancelled() => return Err(ToolError::new("the call was cancelled")),
                Some(report) = next_progress(&mut subscription) => {
                    cx.progress(report.progress, report.total, report.message.unwrap_or_default()).await;
                }
            }
        };
        match result {
            Ok(result) => {
                let output = from_mcp_result(result);
                if output.is_error {
                    Err(ToolError::with_content(output.content))
                } else {
                    Ok(output.content)
                }
            }
            Err(ServiceError::McpError(error)) => Err(ToolError::status(error_to_status(&error))),
            Err(other) => Err(ToolError::status(tonic::Status::unavailable(format!(
                "the MCP server did not answer: {other}"
            )))),
        }
    }
}

async fn next_progress(
    subscription: &mut Option<rmcp::handler::client::progress::ProgressSubscriber>,
) -> Option<ProgressNotificationParam> {
    use tokio_stream::StreamExt;
    match subscription {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_need_a_name_a_version_and_a_command() {
        for bad in [
            vec!["--name", "x", "--version", "1.0.0"],
            vec!["--name", "x", "--", "server"],
            vec!["--version", "1.0.0", "--", "server"],
            vec!["--name", "x", "--version", "1.0.0", "--"],
            vec!["--verbose", "--", "server"],
        ] {
            let parsed = AdapterArgs::parse(bad.iter().map(OsString::from));
            assert!(parsed.unwrap_err().contains("usage:"), "{bad:?}");
        }
    }

    #[test]
    fn names_are_cut_to_what_plugwire_accepts() {
        let long = "x".repeat(100);
        assert_eq!(plugwire_name(&long, &HashSet::new()).unwrap().len(), 64);
        assert_eq!(plugwire_name("", &HashSet::new()), None);
        assert_eq!(
            plugwire_name("héllo", &HashSet::new()).as_deref(),
            Some("h_llo")
        );
    }
}

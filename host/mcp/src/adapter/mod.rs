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

use std::ffi::OsString;
use std::sync::Arc;
use std::time::Duration;

use plugwire_proto::constants::{
    ENV_CLIENT_CERT, ENV_HOST_SOCKET, ENV_INSTANCE_ID, ENV_MULTIPLEX_GRPC, ENV_PROTOCOL_VERSIONS,
    ENV_UNIX_SOCKET_DIR, MAGIC_COOKIE_KEY, MAX_MESSAGE_SIZE,
};
use plugwire_sdk::Plugin;
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, ProgressNotificationParam};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use tokio::process::{Child, Command};

mod progress;
mod tools;

use progress::ProgressRouter;
pub use tools::{MAX_TOOLS, plugwire_name};

/// How long the server gets for `initialize` and for listing its tools,
/// unless the host says otherwise (`--start-within-ms`, just under its
/// own deadline for the plugin's start).
pub const START_DEADLINE: Duration = Duration::from_secs(9);

/// How long a server whose session broke as it started gets to be seen
/// exiting.
const EXIT_GRACE: Duration = Duration::from_millis(200);

/// How long the server gets to exit once its stdin is closed.
pub const SERVER_GRACE: Duration = Duration::from_secs(2);

/// What the adapter was asked to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterArgs {
    /// The plugin's name (from its manifest).
    pub name: String,
    /// The plugin's version (from its manifest).
    pub version: String,
    /// How long the server gets to start.
    pub start_within: Duration,
    /// The MCP server's command and its arguments.
    pub command: Vec<OsString>,
}

impl AdapterArgs {
    /// Parses `--name N --version V [--start-within-ms MS] -- SERVER [ARGS...]`.
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
        let mut start_within = START_DEADLINE;
        loop {
            let Some(arg) = args.next() else {
                return Err(USAGE.into());
            };
            match arg.to_str() {
                Some("--name") => name = args.next().and_then(|v| v.into_string().ok()),
                Some("--version") => version = args.next().and_then(|v| v.into_string().ok()),
                Some("--start-within-ms") => {
                    let ms = args.next().and_then(|v| v.to_str()?.parse().ok());
                    start_within = Duration::from_millis(ms.ok_or_else(|| {
                        format!("--start-within-ms takes a number of milliseconds; {USAGE}")
                    })?);
                }
                Some("--") => break,
                _ => return Err(format!("unexpected argument {arg:?}; {USAGE}")),
            }
        }
        let command: Vec<OsString> = args.collect();
        match (name, version, command.is_empty()) {
            (Some(name), Some(version), false) => Ok(Self {
                name,
                version,
                start_within,
                command,
            }),
            _ => Err(USAGE.into()),
        }
    }
}

const USAGE: &str = "usage: plugwire-mcp-adapter --name PLUGIN --version VERSION [--start-within-ms MS] -- SERVER [ARGS...] (a plugwire host runs it for manifests with kind = \"mcp\")";

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

/// The adapter's side of the MCP session: routes the server's progress
/// reports to their calls, and looks into its tool-list changes.
#[derive(Clone)]
struct Client {
    progress: ProgressRouter,
    name: String,
    /// The tools served, as listed at start.
    served: Arc<std::sync::OnceLock<Vec<rmcp::model::Tool>>>,
    relist: Arc<Interval>,
}

/// Lets something happen at most once per [`RELIST_INTERVAL`].
#[derive(Default)]
struct Interval(std::sync::Mutex<Option<std::time::Instant>>);

/// How often a server's "tool list changed" is looked into.
const RELIST_INTERVAL: Duration = Duration::from_secs(10);

impl Interval {
    fn allow(&self) -> bool {
        let mut last = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|at| at.elapsed() < RELIST_INTERVAL) {
            return false;
        }
        *last = Some(std::time::Instant::now());
        true
    }
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
        self.progress.route(params);
    }

    async fn on_tool_list_changed(&self, context: NotificationContext<RoleClient>) {
        // plugwire lists a plugin's tools once, at start (PW-TOOL-1), so a
        // change can only be reported. Servers that register their tools
        // as they start say "changed" for the list already served: only a
        // list that differs is worth the operator's attention.
        //
        // Some answer every tools/list with another "changed" (the
        // reference server does): one look per interval keeps that from
        // becoming a loop.
        if !self.relist.allow() {
            return;
        }
        let (served, name) = (self.served.clone(), self.name.clone());
        tokio::spawn(async move {
            let Ok(now) = context.peer.list_all_tools().await else {
                return;
            };
            if served.get().is_some_and(|served| *served != now) {
                tracing::warn!(
                    "the MCP server's tool list changed; `plugwire reload {name}` offers the new one"
                );
            }
        });
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
        progress: ProgressRouter::default(),
        name: args.name.clone(),
        served: Arc::default(),
        relist: Arc::default(),
    };
    let progress = handler.progress.clone();
    let served = handler.served.clone();
    let started = tokio::time::timeout(args.start_within, async {
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
    let exited =
        |status| AdapterError::Initialize(format!("it exited first ({})", describe(status)));
    let (client, tools) = tokio::select! {
        started = started => match started {
            Ok(Ok(started)) => started,
            // A server that exits as it starts fails rmcp's write or read
            // first; its exit status says more than the broken pipe.
            Ok(Err(failed)) => {
                return Err(match tokio::time::timeout(EXIT_GRACE, child.wait()).await {
                    Ok(status) => exited(status),
                    Err(_) => failed,
                });
            }
            Err(_) => return Err(AdapterError::Initialize(format!(
                "no answer to initialize and tools/list within {:?}; is it an MCP server speaking on stdio?",
                args.start_within
            ))),
        },
        status = child.wait() => return Err(exited(status)),
    };
    let _ = served.set(tools.clone());
    let plugin = tools::plugin(&args.name, &args.version, client.peer(), &progress, tools);
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
}

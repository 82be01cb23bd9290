//! The bridge: an MCP server offering every tool of a [`Host`]'s plugins.
//!
//! Calls go through [`Host::call_tool`], so they get what any call gets:
//! schema validation, the deadline, the call-depth limit, the sandbox.
//! The client's cancellation cancels the plugin's call; its progress token
//! turns the plugin's progress reports into `notifications/progress`.
//! When plugins are added, removed, reloaded, enabled or disabled, the
//! client is told the tool list changed: by a direct notification in a
//! session that began with `initialize`, and through `subscriptions/listen`
//! from protocol 2026-07-28 on.

use std::time::Duration;

use plugwire_host::{CallOptions, Host, HostEvent, Progress};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult,
    PaginatedRequestParams, ProgressNotificationParam, ProgressToken, ServerCapabilities,
    ServerConfig, SubscriptionFilter,
};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{ErrorData, Peer, RoleServer, ServerHandler, ServiceExt};
use serde_json::Value;
use tokio::sync::{broadcast, mpsc};

use crate::convert::{status_to_mcp, to_mcp_result, to_mcp_tool};
use crate::names;

/// The lifecycle events after which a plugin's tools may differ. Starts
/// and stops are not among them: listing starts every plugin, so a stop
/// for idleness or a restart after a crash offers the same tools.
const LIST_CHANGING: [&str; 5] = [
    "plugin.added",
    "plugin.removed",
    "plugin.reloaded",
    "plugin.enabled",
    "plugin.disabled",
];

/// Changes arriving this close together are told as one.
const SETTLE: Duration = Duration::from_millis(50);

/// How often a session's notification task looks whether the session has
/// ended.
const SESSION_LOOK: Duration = Duration::from_secs(5);

/// Progress reports queued for one call before the plugin waits.
const PROGRESS_QUEUE: usize = 64;

/// An MCP server (an rmcp [`ServerHandler`]) over a plugwire host.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let host = plugwire_host::Host::start(plugwire_host::HostConfig::new("acme", "1.0.0").plugin_dir("plugins")).await?;
/// // Serves MCP on stdin and stdout until the client closes them.
/// plugwire_mcp::Bridge::new(host.clone()).serve_stdio().await?;
/// host.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Bridge {
    host: Host,
}

/// Why the bridge stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The client's `initialize` did not arrive or was refused.
    #[error("the MCP session did not start: {0}")]
    Initialize(String),
    /// The session's task ended abnormally.
    #[error("the MCP session ended abnormally: {0}")]
    Session(String),
}

impl Bridge {
    /// A bridge over `host`'s plugins.
    ///
    /// ```no_run
    /// # fn f(host: plugwire_host::Host) {
    /// let bridge = plugwire_mcp::Bridge::new(host);
    /// # let _keep = bridge; }
    /// ```
    pub fn new(host: Host) -> Self {
        Self { host }
    }

    /// Serves one MCP session on this process's stdin and stdout, until
    /// the client closes stdin.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_host::Host) -> Result<(), plugwire_mcp::BridgeError> {
    /// plugwire_mcp::Bridge::new(host).serve_stdio().await?;
    /// # Ok(()) }
    /// ```
    pub async fn serve_stdio(self) -> Result<(), BridgeError> {
        let running = self
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| BridgeError::Initialize(e.to_string()))?;
        running
            .waiting()
            .await
            .map_err(|e| BridgeError::Session(e.to_string()))?;
        Ok(())
    }

    /// The `<plugin>.<tool>` an MCP tool name stands for. A shortened name
    /// (one of [`names::MAX_NAME`] bytes) is found in the listing.
    async fn resolve(&self, name: &str) -> Result<String, ErrorData> {
        if name.len() == names::MAX_NAME {
            let tools = self.host.tools().await;
            if let Some(tool) = tools
                .iter()
                .find(|t| names::mcp_name(&t.plugin, &t.name) == name)
            {
                return Ok(tool.qualified.clone());
            }
        }
        names::qualified(name).ok_or_else(|| {
            ErrorData::invalid_params(
                format!(
                    "unknown tool {name:?}: plugwire tools are named <plugin>__<tool>; tools/list lists them"
                ),
                None,
            )
        })
    }
}

impl ServerHandler for Bridge {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .build();
        let mut info = ServerConfig::new(capabilities);
        info.server_info = Implementation::new("plugwire", env!("CARGO_PKG_VERSION"));
        info.instructions = Some(
            "The tools of plugwire plugins, each plugin a process of its own. A tool is named <plugin>__<tool>.".into(),
        );
        info
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = self.host.tools().await;
        Ok(ListToolsResult::with_all_items(
            tools.iter().map(to_mcp_tool).collect(),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let tool = self.resolve(&request.name).await?;
        let arguments = Value::Object(request.arguments.unwrap_or_default());
        let mut options = CallOptions::default()
            .cancel(context.ct.clone())
            .actor("mcp");
        let token = context.meta.get_progress_token();
        let mut reports = token.as_ref().map(|_| {
            let (sender, receiver) = mpsc::channel(PROGRESS_QUEUE);
            options = std::mem::take(&mut options).progress(sender);
            receiver
        });
        // Reports are forwarded from this task as they come; those still
        // queued when the call ends go out before the result.
        let call = self.host.call_tool(&tool, arguments, options);
        tokio::pin!(call);
        let result = loop {
            tokio::select! {
                biased;
                Some(report) = next_report(&mut reports) => notify_progress(&context.peer, token.as_ref(), report).await,
                result = &mut call => break result,
            }
        };
        if let Some(queued) = reports.as_mut() {
            while let Ok(report) = queued.try_recv() {
                notify_progress(&context.peer, token.as_ref(), report).await;
            }
        }
        match result {
            Ok(output) => Ok(to_mcp_result(output).into()),
            Err(status) => status_to_mcp(status).map(Into::into),
        }
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let mut events = self.host.subscribe();
        let peer = context.peer;
        tokio::spawn(async move {
            // rmcp says when a session has closed only when asked: the
            // task looks now and then, so that sessions that end while the
            // plugins stay as they are do not leave their tasks behind.
            let mut look = tokio::time::interval(SESSION_LOOK);
            loop {
                // Kept across looks: a change that is settling is not lost.
                let change = next_list_change(&mut events);
                tokio::pin!(change);
                let changed = loop {
                    tokio::select! {
                        changed = &mut change => break changed,
                        _ = look.tick() => if peer.is_transport_closed() {
                            return;
                        },
                    }
                };
                if !changed || peer.notify_tool_list_changed().await.is_err() {
                    return;
                }
            }
        });
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = SubscriptionFilter::new();
        accepted.tools_list_changed = requested.tools_list_changed.filter(|&on| on);
        Some(accepted)
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let mut events = self.host.subscribe();
        loop {
            tokio::select! {
                () = context.cancelled() => return Ok(()),
                changed = next_list_change(&mut events) => {
                    if !changed || context.sink().notify_tool_list_changed().await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }
}

async fn next_report(reports: &mut Option<mpsc::Receiver<Progress>>) -> Option<Progress> {
    match reports {
        Some(reports) => reports.recv().await,
        None => std::future::pending().await,
    }
}

async fn notify_progress(peer: &Peer<RoleServer>, token: Option<&ProgressToken>, report: Progress) {
    let Some(token) = token else { return };
    let mut notification = ProgressNotificationParam::new(token.clone(), report.progress);
    notification.total = report.total;
    notification.message = (!report.message.is_empty()).then_some(report.message);
    // A client that has gone is the session's end, which rmcp tells.
    let _ = peer.notify_progress(notification).await;
}

/// Waits for a change to the offered tools, and lets a burst of them
/// settle. `false` once the host has shut down.
async fn next_list_change(events: &mut broadcast::Receiver<HostEvent>) -> bool {
    let changes = |event: &HostEvent| LIST_CHANGING.contains(&event.name.as_str());
    loop {
        match events.recv().await {
            Ok(event) if changes(&event) => break,
            Ok(_) => {}
            // Events were missed: one of them may have changed the list.
            Err(broadcast::error::RecvError::Lagged(_)) => break,
            Err(broadcast::error::RecvError::Closed) => return false,
        }
    }
    let settle = tokio::time::sleep(SETTLE);
    tokio::pin!(settle);
    loop {
        tokio::select! {
            () = &mut settle => return true,
            event = events.recv() => if let Err(broadcast::error::RecvError::Closed) = event {
                return true;
            },
        }
    }
}

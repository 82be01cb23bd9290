//! The MCP server's tools as plugwire tools, and one call of them.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use plugwire_sdk::{Plugin, Tool, ToolContext, ToolError};
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CancelledNotificationParam, ClientRequest,
    ProgressNotificationParam, RequestId, ServerResult,
};
use rmcp::service::PeerRequestOptions;
use rmcp::{Peer, RoleClient, ServiceError};
use serde_json::Value;

use super::progress::ProgressRouter;
use crate::convert::{error_to_status, from_mcp_result};

/// The most tools one server may offer.
pub const MAX_TOOLS: usize = 1024;

/// How long a call that has reported progress waits, after its result,
/// for a report sent before it: rmcp hands notifications to the handler apart
/// from responses, so such a report may arrive just after the result.
const LATE_PROGRESS: Duration = Duration::from_millis(5);

/// The plugin offering the server's tools under names plugwire accepts.
/// A tool whose name is taken or whose schema plugwire cannot use is left
/// out, with a warning in the plugin's log.
pub(super) fn plugin(
    name: &str,
    version: &str,
    peer: &Peer<RoleClient>,
    progress: &ProgressRouter,
    tools: Vec<rmcp::model::Tool>,
) -> Plugin {
    let description = peer
        .peer_info()
        .and_then(|info| info.server_info.clone())
        .map_or_else(
            || "MCP server".to_owned(),
            |server| format!("MCP server {} {}", server.name, server.version),
        );
    let mut plugin = Plugin::new(name, version).description(description);
    if tools.len() > MAX_TOOLS {
        tracing::warn!(
            "the MCP server offers {} tools; the first {MAX_TOOLS} are kept",
            tools.len()
        );
    }
    let mut taken = HashSet::new();
    for tool in tools.into_iter().take(MAX_TOOLS) {
        let Some(name) = plugwire_name(&tool.name, &taken) else {
            tracing::warn!(tool = %tool.name, "skipped: no plugwire tool name is left for it");
            continue;
        };
        let call = McpCall {
            peer: peer.clone(),
            progress: progress.clone(),
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
    progress: ProgressRouter,
    mcp_name: String,
}

impl McpCall {
    async fn call(&self, arguments: Value, cx: ToolContext) -> Result<Value, ToolError> {
        let mut params = CallToolRequestParams::new(self.mcp_name.clone());
        params.arguments = arguments.as_object().cloned();
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        let handle = self
            .peer
            .send_request_with_option(request, PeerRequestOptions::no_options())
            .await
            .map_err(|e| unanswered(&e))?;
        // The SDK drops this call when plugwire's caller cancels or its
        // deadline passes; the guard tells the server.
        let mut unfinished = CancelOnDrop {
            peer: self.peer.clone(),
            id: Some(handle.id.clone()),
        };
        let mut reports = cx
            .reports_progress()
            .then(|| self.progress.subscribe(handle.progress_token.clone()));
        let response = handle.await_response();
        tokio::pin!(response);
        let mut reported = false;
        let response = loop {
            tokio::select! {
                biased;
                Some(report) = next_report(&mut reports) => {
                    reported = true;
                    report_progress(&cx, report).await;
                }
                response = &mut response => break response,
            }
        };
        unfinished.id = None;
        // Only a call that has been reporting waits for a last report: a
        // quick call (every call through the bridge asks for progress) is
        // not held up, and a report after the result adds nothing to it.
        if let Some(reports) = reports.as_mut().filter(|_| reported) {
            while let Ok(Some(report)) = tokio::time::timeout(LATE_PROGRESS, reports.next()).await {
                report_progress(&cx, report).await;
            }
        }
        match response {
            Ok(ServerResult::CallToolResult(result)) => {
                let output = from_mcp_result(result);
                if output.is_error {
                    Err(ToolError::with_content(output.content))
                } else {
                    Ok(output.content)
                }
            }
            Ok(_) => Err(ToolError::status(tonic::Status::unknown(
                "the MCP server answered tools/call with something other than a tool result",
            ))),
            Err(ServiceError::McpError(error)) => Err(ToolError::status(error_to_status(&error))),
            Err(other) => Err(unanswered(&other)),
        }
    }
}

fn unanswered(error: &ServiceError) -> ToolError {
    ToolError::status(tonic::Status::unavailable(format!(
        "the MCP server did not answer: {error}"
    )))
}

/// Sends `notifications/cancelled` for a request dropped unanswered.
struct CancelOnDrop {
    peer: Peer<RoleClient>,
    id: Option<RequestId>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let peer = self.peer.clone();
        let notice = CancelledNotificationParam::new(
            Some(id),
            Some("cancelled by the plugwire caller, or its deadline passed".into()),
        );
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { peer.notify_cancelled(notice).await });
        }
    }
}

async fn report_progress(cx: &ToolContext, report: ProgressNotificationParam) {
    cx.progress(
        report.progress,
        report.total,
        report.message.unwrap_or_default(),
    )
    .await;
}

async fn next_report(
    reports: &mut Option<super::progress::Subscription>,
) -> Option<ProgressNotificationParam> {
    match reports {
        Some(reports) => reports.next().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

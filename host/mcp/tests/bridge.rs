//! The bridge seen by rmcp's own client, in process: what an MCP client
//! gets for each kind of plugwire tool, result and failure, and the
//! notifications it receives.

mod common;

use std::time::Duration;

use plugwire_host::Host;
use plugwire_mcp::Bridge;
use rmcp::model::{
    CallToolRequestParams, ErrorCode, ProgressNotificationParam, ProgressToken, RequestMetaObject,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::json;
use tokio::sync::mpsc;

/// A client that records what the server tells it.
struct Recorder {
    progress: mpsc::UnboundedSender<ProgressNotificationParam>,
    changed: mpsc::UnboundedSender<()>,
}

impl ClientHandler for Recorder {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let _ = self.progress.send(params);
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        let _ = self.changed.send(());
    }
}

struct Session {
    client: RunningService<RoleClient, Recorder>,
    progress: mpsc::UnboundedReceiver<ProgressNotificationParam>,
    changed: mpsc::UnboundedReceiver<()>,
}

async fn connect(host: &Host) -> Session {
    let (client_io, server_io) = tokio::io::duplex(1 << 20);
    let bridge = Bridge::new(host.clone());
    tokio::spawn(async move {
        if let Ok(server) = bridge.serve(server_io).await {
            let _ = server.waiting().await;
        }
    });
    let (progress_tx, progress) = mpsc::unbounded_channel();
    let (changed_tx, changed) = mpsc::unbounded_channel();
    let recorder = Recorder {
        progress: progress_tx,
        changed: changed_tx,
    };
    let client = recorder.serve(client_io).await.expect("initialize");
    Session {
        client,
        progress,
        changed,
    }
}

/// A host over copies of `examples`, and an MCP session with its bridge.
async fn start(examples: &[&str]) -> (common::Plugins, Host, Session) {
    let plugins = common::Plugins::new(examples);
    let host = Host::start(plugins.config()).await.unwrap();
    let session = connect(&host).await;
    (plugins, host, session)
}

fn call(name: &str, arguments: serde_json::Value) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new(name.to_owned());
    params.arguments = arguments.as_object().cloned();
    params
}

#[tokio::test]
async fn every_tool_is_listed_with_its_schemas_and_hints() {
    // wordcount offers commands only: no tools of its own to list.
    let (_plugins, host, session) = start(&["echo", "wordcount"]).await;
    let tools = session.client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    for expected in ["echo__echo", "echo__slow", "echo__fail"] {
        assert!(names.contains(&expected), "{names:?}");
    }
    assert_eq!(names.len(), host.tools().await.len());
    let echo = tools.iter().find(|t| t.name == "echo__echo").unwrap();
    assert_eq!(echo.title.as_deref(), Some("echo.echo"));
    assert_eq!(echo.input_schema["properties"]["text"]["type"], "string");
    let hints = echo.annotations.as_ref().unwrap();
    assert_eq!(hints.read_only_hint, Some(true));
    assert_eq!(hints.idempotent_hint, Some(true));
    // Not said by the plugin, so left to MCP's default.
    assert_eq!(hints.destructive_hint, None);
    let slow = tools.iter().find(|t| t.name == "echo__slow").unwrap();
    let output = slow
        .output_schema
        .as_ref()
        .expect("slow declares its output");
    assert_eq!(output["type"], "object");
    session.client.cancel().await.unwrap();
    host.shutdown().await;
}

#[tokio::test]
async fn results_errors_and_unknown_tools_reach_the_client_as_mcp_says() {
    let (_plugins, host, session) = start(&["echo"]).await;
    let peer = session.client.peer();

    let text = peer
        .call_tool(call("echo__echo", json!({"text": "hi"})))
        .await
        .unwrap();
    assert_eq!(text.is_error, Some(false));
    assert_eq!(text.content[0].as_text().unwrap().text, "hi");

    let structured = peer
        .call_tool(call("echo__slow", json!({"steps": 1, "delay_ms": 1})))
        .await
        .unwrap();
    assert_eq!(
        structured.structured_content.as_ref().unwrap()["completed"],
        1
    );

    let failed = peer
        .call_tool(call("echo__fail", json!({"message": "on purpose"})))
        .await
        .unwrap();
    assert_eq!(failed.is_error, Some(true));
    assert!(
        failed.content[0]
            .as_text()
            .unwrap()
            .text
            .contains("on purpose")
    );

    // The schema's refusal is for the model to read and correct.
    let invalid = peer
        .call_tool(call("echo__echo", json!({"text": 5})))
        .await
        .unwrap();
    assert_eq!(invalid.is_error, Some(true));
    let why = &invalid.content[0].as_text().unwrap().text;
    assert!(why.contains("/text"), "{why}");

    for unknown in ["echo__nope", "nope__echo", "no-separator"] {
        let err = peer.call_tool(call(unknown, json!({}))).await.unwrap_err();
        let rmcp::ServiceError::McpError(error) = err else {
            panic!("{unknown}: expected a JSON-RPC error, got {err:?}");
        };
        assert_eq!(error.code, ErrorCode::INVALID_PARAMS, "{unknown}");
    }
    session.client.cancel().await.unwrap();
    host.shutdown().await;
}

#[tokio::test]
async fn progress_reports_arrive_before_the_result() {
    let (_plugins, host, mut session) = start(&["echo"]).await;
    let mut params = call("echo__slow", json!({"steps": 4, "delay_ms": 5}));
    let token = ProgressToken(rmcp::model::NumberOrString::String("t-1".into()));
    params.meta = Some(RequestMetaObject::with_progress_token(token));
    let result = session.client.peer().call_tool(params).await.unwrap();
    assert_eq!(result.is_error, Some(false));
    let mut seen = Vec::new();
    let mut tokens = std::collections::HashSet::new();
    while let Ok(p) = session.progress.try_recv() {
        tokens.insert(p.progress_token.clone());
        seen.push(p.progress);
    }
    // rmcp's client gives every request a token of its own.
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(seen, [1.0, 2.0, 3.0, 4.0]);
    session.client.cancel().await.unwrap();
    host.shutdown().await;
}

#[tokio::test]
async fn a_cancelled_request_cancels_the_plugins_call() {
    let (_plugins, host, session) = start(&["echo"]).await;
    let peer = session.client.peer().clone();
    let sleeping = tokio::spawn(async move {
        peer.call_tool(call("echo__sleep", json!({"ms": 60_000})))
            .await
    });
    let stats = || async {
        let out = session
            .client
            .peer()
            .call_tool(call("echo__stats", json!({})))
            .await
            .unwrap();
        out.structured_content.unwrap()
    };
    let mut asleep = false;
    for _ in 0..100 {
        if stats().await["sleeping"] == 1 {
            asleep = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(asleep, "the sleep never began");
    // Dropping rmcp's request sends notifications/cancelled for it.
    sleeping.abort();
    let _ = sleeping.await;
    let mut last = json!(null);
    for _ in 0..100 {
        last = stats().await;
        if last["cancelled"] == 1 && last["sleeping"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        last,
        json!({"sleeping": 0, "cancelled": 1}),
        "the plugin's sleep was not cancelled"
    );
    session.client.cancel().await.unwrap();
    host.shutdown().await;
}

#[tokio::test]
async fn the_client_is_told_when_plugins_come_and_go() {
    let (plugins, host, mut session) = start(&["echo"]).await;
    let before = session.client.list_all_tools().await.unwrap().len();
    // The notification task starts with `initialized`; let it subscribe.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let second = plugins.add_echo_as("second");
    host.add_plugin(&second).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), session.changed.recv())
        .await
        .expect("told of the added plugin")
        .unwrap();
    let after = session.client.list_all_tools().await.unwrap();
    assert_eq!(after.len(), 2 * before);
    assert!(after.iter().any(|t| t.name == "second__echo"));

    host.reload_plugin("echo").await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), session.changed.recv())
        .await
        .expect("told of the reload")
        .unwrap();

    host.remove_plugin("second").await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), session.changed.recv())
        .await
        .expect("told of the removed plugin")
        .unwrap();
    let last = session.client.list_all_tools().await.unwrap();
    assert_eq!(last.len(), before);
    session.client.cancel().await.unwrap();
    host.shutdown().await;
}

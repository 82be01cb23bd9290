//! The daemon's `/mcp` route: the MCP bridge over streamable HTTP, driven
//! by the Python MCP SDK's client (installed by `interop/mcp/setup.sh`)
//! over the loopback listener with a bearer token, in an `initialize`
//! session and on protocol 2026-07-28; told of a reload while it listens.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Running;
use plugwire_daemon::Limits;
use plugwire_daemon::tokens::Scope;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn client_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/mcp/client");
    assert!(
        dir.join(".venv/bin/python").is_file(),
        "the Python MCP SDK is missing: run interop/mcp/setup.sh (scripts/test.sh does)"
    );
    dir
}

fn drive(mode: &str, scenario: &str, url: &str, token: &str) -> Command {
    let dir = client_dir();
    let mut command = Command::new(dir.join(".venv/bin/python"));
    command.arg(dir.join("drive.py")).args([
        "--mode",
        mode,
        "--scenario",
        scenario,
        "--url",
        url,
        "--token",
        token,
    ]);
    command
}

fn report(output: std::process::Output) -> Value {
    assert!(
        output.status.success(),
        "drive.py failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

async fn status_of(addr: std::net::SocketAddr, token: Option<&str>) -> u16 {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_over_tcp_needs_a_call_token() {
    let daemon = Running::start(Limits::default()).await;
    assert_eq!(status_of(daemon.tcp, None).await, 401);
    let read = daemon.token(Scope::Read);
    assert_eq!(status_of(daemon.tcp, Some(&read)).await, 403);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdks_client_over_http_calls_and_is_told_of_changes() {
    let daemon = Running::start(Limits::default()).await;
    let url = format!("http://{}/mcp", daemon.tcp);
    let token = daemon.token(Scope::Call);
    for mode in ["legacy", "auto"] {
        let mut calls = drive(mode, "calls", &url, &token);
        let calls = tokio::task::spawn_blocking(move || report(calls.output().unwrap()))
            .await
            .unwrap();
        assert_eq!(calls["echo"]["content"][0]["text"], "hi", "{mode}");
        assert_eq!(calls["slow"]["structuredContent"], json!({"completed": 3}));
        assert_eq!(
            calls["progress"],
            json!([[1.0, 3.0], [2.0, 3.0], [3.0, 3.0]])
        );
        assert_eq!(calls["fail"]["isError"], true);
        assert_eq!(calls["unknown"]["code"], -32602);
        assert_eq!(calls["after_cancel"]["cancelled"], 1, "{mode}: {calls}");
        assert_eq!(calls["protocol"] == "2026-07-28", mode == "auto", "{mode}");

        let mut listener = drive(mode, "changes", &url, &token)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = listener.stderr.take().unwrap();
        let listening = tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(stderr).lines();
            let ready = lines.any(|l| l.is_ok_and(|l| l == "listening"));
            // Keep draining, so the client never blocks on a full pipe.
            std::thread::spawn(move || lines.for_each(drop));
            ready
        });
        assert!(
            tokio::time::timeout(Duration::from_secs(30), listening)
                .await
                .unwrap()
                .unwrap(),
            "{mode}: the client never listened"
        );
        // Subscribed; now the plugin set changes.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let client = daemon.client().await;
        let _: Value = client
            .send(hyper::Method::POST, "/v1/plugins/echo/reload", None)
            .await
            .unwrap();
        let changed =
            tokio::task::spawn_blocking(move || report(listener.wait_with_output().unwrap()))
                .await
                .unwrap();
        assert!(changed["event"].is_string(), "{mode}: {changed}");
        assert!(
            changed["tools_after"]
                .as_array()
                .unwrap()
                .contains(&json!("echo__echo")),
            "{changed}"
        );
    }
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_server_run_as_a_plugin_is_called_through_the_api() {
    let servers = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/mcp/plugins");
    assert!(
        servers.join("time/.venv/bin/mcp-server-time").exists(),
        "mcp-server-time is missing: run interop/mcp/setup.sh (scripts/test.sh does)"
    );
    let daemon = Running::start_over(&servers, Limits::default()).await;
    let client = daemon.client().await;
    let body = json!({"arguments": {"timezone": "Europe/Lisbon"}});
    let result: Value = client
        .send(
            hyper::Method::POST,
            "/v1/tools/time.get_current_time/call",
            Some(&body),
        )
        .await
        .unwrap();
    assert_eq!(result["is_error"], false, "{result}");
    assert_eq!(result["content"]["timezone"], "Europe/Lisbon");
    let plugins: Value = client.get("/v1/plugins").await.unwrap();
    let time = plugins["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "time")
        .unwrap();
    assert_eq!(time["state"], "ready", "{time}");
    daemon.stop().await;
}

//! MCP servers as plugins (`kind = "mcp"`), with real ones installed by
//! `interop/mcp/setup.sh`: the reference server (`everything`, Node) and
//! `mcp-server-time` (Python), each under the standard sandbox. Their tools
//! are called through `Host::call_tool` like any plugin's, with schema
//! validation, progress, cancellation, deadlines; crashes, bad output and
//! a killed host are handled as for any plugin.

mod common;

use std::time::{Duration, Instant};

use plugwire_host::{CallOptions, Host, PluginState};
use serde_json::json;
use tonic::Code;

async fn host(data: &tempfile::TempDir) -> Host {
    Host::start(common::mcp_servers(data.path())).await.unwrap()
}

#[tokio::test]
async fn the_reference_servers_tools_are_plugin_tools() {
    let data = tempfile::tempdir().unwrap();
    let host = host(&data).await;
    let tools = host.tools().await;
    let names: Vec<&str> = tools.iter().map(|t| t.qualified.as_str()).collect();
    for expected in [
        "everything.echo",
        "everything.get-sum",
        "everything.get-structured-content",
        "everything.trigger-long-running-operation",
        "time.get_current_time",
        "time.convert_time",
    ] {
        assert!(names.contains(&expected), "{expected} missing: {names:?}");
    }
    let structured = tools
        .iter()
        .find(|t| t.qualified == "everything.get-structured-content")
        .unwrap();
    assert!(
        structured.output_schema.is_some(),
        "its output schema is kept"
    );

    let echo = host
        .call_tool(
            "everything.echo",
            json!({"message": "hi"}),
            CallOptions::default(),
        )
        .await
        .unwrap();
    assert!(!echo.is_error);
    assert_eq!(echo.content, json!("Echo: hi"));

    let weather = host
        .call_tool(
            "everything.get-structured-content",
            json!({"location": "New York"}),
            CallOptions::default(),
        )
        .await
        .unwrap();
    assert!(
        weather.content["temperature"].is_number(),
        "{}",
        weather.content
    );

    // The host checks the server's own schema before the server sees it.
    let invalid = host
        .call_tool(
            "everything.get-sum",
            json!({"a": "two", "b": 3}),
            CallOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(invalid.code(), Code::InvalidArgument);
    assert!(invalid.message().contains("/a"), "{}", invalid.message());
    host.shutdown().await;
}

#[tokio::test]
async fn progress_cancellation_and_deadlines_reach_the_server() {
    let data = tempfile::tempdir().unwrap();
    let host = host(&data).await;
    let (sender, mut progress) = tokio::sync::mpsc::channel(16);
    let done = host
        .call_tool(
            "everything.trigger-long-running-operation",
            json!({"duration": 1, "steps": 4}),
            CallOptions::default().progress(sender),
        )
        .await
        .unwrap();
    assert!(
        done.content.as_str().unwrap().contains("completed"),
        "{}",
        done.content
    );
    let mut seen = Vec::new();
    while let Ok(p) = progress.try_recv() {
        seen.push((p.progress, p.total));
    }
    assert_eq!(
        seen,
        [
            (1.0, Some(4.0)),
            (2.0, Some(4.0)),
            (3.0, Some(4.0)),
            (4.0, Some(4.0))
        ]
    );

    let token = tokio_util::sync::CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel();
    });
    let started = Instant::now();
    let cancelled = host
        .call_tool(
            "everything.trigger-long-running-operation",
            json!({"duration": 30, "steps": 30}),
            CallOptions::default().cancel(token),
        )
        .await
        .unwrap_err();
    assert_eq!(cancelled.code(), Code::Cancelled);
    let late = host
        .call_tool(
            "everything.trigger-long-running-operation",
            json!({"duration": 30, "steps": 30}),
            CallOptions::default().timeout(Duration::from_millis(300)),
        )
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::DeadlineExceeded);
    assert!(started.elapsed() < Duration::from_secs(10));
    // The server is still there, and answers.
    let sum = host
        .call_tool(
            "everything.get-sum",
            json!({"a": 2, "b": 3}),
            CallOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(sum.content, json!("The sum of 2 and 3 is 5."));
    host.shutdown().await;
}

#[tokio::test]
async fn a_python_server_answers_and_its_failures_are_tool_errors() {
    let data = tempfile::tempdir().unwrap();
    let host = host(&data).await;
    let now = host
        .call_tool(
            "time.get_current_time",
            json!({"timezone": "Europe/Paris"}),
            CallOptions::default(),
        )
        .await
        .unwrap();
    assert!(!now.is_error);
    assert_eq!(now.content["timezone"], "Europe/Paris");
    let failed = host
        .call_tool(
            "time.convert_time",
            json!({"source_timezone": "Nowhere/Nothing", "time": "10:00", "target_timezone": "UTC"}),
            CallOptions::default(),
        )
        .await
        .unwrap();
    assert!(failed.is_error, "{}", failed.content);
    assert!(failed.content.as_str().unwrap().contains("Nowhere/Nothing"));
    host.shutdown().await;
}

#[tokio::test]
async fn a_crashed_server_is_restarted_like_any_plugin() {
    let data = tempfile::tempdir().unwrap();
    let host = host(&data).await;
    host.call_tool(
        "everything.echo",
        json!({"message": "1"}),
        CallOptions::default(),
    )
    .await
    .unwrap();
    let pid = host
        .status()
        .into_iter()
        .find(|s| s.name == "everything")
        .and_then(|s| s.pid)
        .unwrap();
    let server = common::descendants(pid)
        .into_iter()
        .find(|(_, cmd)| cmd.contains("mcp-server-everything"))
        .expect("the server runs under the plugin's process");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.0 as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let mut answered = None;
    for _ in 0..100 {
        match host
            .call_tool(
                "everything.echo",
                json!({"message": "2"}),
                CallOptions::default(),
            )
            .await
        {
            Ok(out) => {
                answered = Some(out);
                break;
            }
            Err(e) => assert_eq!(e.code(), Code::Unavailable, "{e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(answered.expect("restarted").content, json!("Echo: 2"));
    let status = host
        .status()
        .into_iter()
        .find(|s| s.name == "everything")
        .unwrap();
    assert!(status.restarts >= 1, "{status:?}");
    host.shutdown().await;
}

#[tokio::test]
async fn a_program_that_is_not_an_mcp_server_fails_to_start_with_the_reason() {
    let plugins = common::Plugins::new(&[]);
    plugins.add_mcp_script(
        "babbler",
        "echo 'hello, this is not JSON-RPC'\nexec sleep 600",
        "",
    );
    plugins.add_mcp_script("quitter", "echo 'no configuration found' >&2\nexit 3", "");

    let mut config = plugins.config();
    config.timeouts.bootstrap = Duration::from_secs(2);
    let host = Host::start(config).await.unwrap();
    let started = Instant::now();
    let err = host.start_plugin("babbler").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.message().contains("did not start"), "{err}");
    assert!(err.message().contains("MCP server"), "{err}");

    let err = host.start_plugin("quitter").await.unwrap_err();
    assert!(err.message().contains("exited first"), "{err}");
    let logs = host.logs(Some("quitter"));
    assert!(
        logs.iter()
            .any(|l| l.message.contains("no configuration found")),
        "the server's stderr is the plugin's log: {:?}",
        logs.iter().map(|l| &l.message).collect::<Vec<_>>()
    );
    host.shutdown().await;
}

#[tokio::test]
async fn a_manifest_of_kind_mcp_without_the_adapter_is_refused_with_the_fix() {
    let plugins = common::Plugins::new(&[]);
    plugins.add_mcp_script("lonely", "exec cat", "");
    let mut config = plugins.config();
    config.mcp_adapter = Some("/nonexistent/plugwire-mcp-adapter".into());
    let host = Host::start(config).await.unwrap();
    let err = host.start_plugin("lonely").await.unwrap_err();
    assert!(err.message().contains("plugwire-mcp-adapter"), "{err}");
    assert!(err.message().contains("HostConfig::mcp_adapter"), "{err}");
    assert_eq!(
        host.status()
            .into_iter()
            .find(|s| s.name == "lonely")
            .unwrap()
            .state,
        PluginState::Failed
    );
    host.shutdown().await;
}

#[tokio::test]
async fn killing_the_host_leaves_no_mcp_server_behind() {
    let data = tempfile::tempdir().unwrap();
    let plugins = common::interop().join("plugins");
    let mut cli = std::process::Command::new(common::sibling("plugwire"))
        .args(["--no-standard-dirs", "--plugin-dir"])
        .arg(&plugins)
        .args(["--sandbox", "standard", "call"])
        .args([
            "everything.trigger-long-running-operation",
            r#"{"duration": 60, "steps": 60}"#,
        ])
        .env("PLUGWIRE_NO_DAEMON", "1")
        .env("XDG_DATA_HOME", data.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = cli.id();
    let mut servers = Vec::new();
    let found = common::eventually(Duration::from_secs(20), || {
        servers = common::descendants(pid)
            .into_iter()
            .filter(|(_, cmd)| cmd.contains("mcp-server-everything") || cmd.contains("mcp-adapter"))
            .collect();
        servers
            .iter()
            .any(|(_, cmd)| cmd.contains("mcp-server-everything"))
    })
    .await;
    assert!(found, "the server never started: {servers:?}");
    cli.kill().unwrap();
    cli.wait().unwrap();
    let gone = common::eventually(Duration::from_secs(10), || {
        servers
            .iter()
            .all(|(pid, _)| !std::path::Path::new(&format!("/proc/{pid}")).exists() || zombie(*pid))
    })
    .await;
    assert!(gone, "left behind after the host was killed: {servers:?}");
}

fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next())
                == Some("Z")
        })
        .unwrap_or(true)
}

#[tokio::test]
async fn cancellations_and_deadlines_reach_the_server_as_mcp_cancellations() {
    let plugins = common::Plugins::new(&[]);
    let record = plugins.data.path().join("cancellations");
    common::add_unruly(&plugins, &record);
    let host = Host::start(plugins.config()).await.unwrap();
    // Started first, so that the cancellation finds the call at the server.
    host.start_plugin("unruly").await.unwrap();
    let token = tokio_util::sync::CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        cancel.cancel();
    });
    let cancelled = host
        .call_tool(
            "unruly.wait",
            json!({"seconds": 60}),
            CallOptions::default().cancel(token),
        )
        .await
        .unwrap_err();
    assert_eq!(cancelled.code(), Code::Cancelled);
    let recorded = |n: usize| {
        std::fs::read_to_string(&record)
            .is_ok_and(|r| r.lines().filter(|l| *l == "cancelled").count() == n)
    };
    assert!(
        common::eventually(Duration::from_secs(10), || recorded(1)).await,
        "the server was not told of the cancellation"
    );
    let late = host
        .call_tool(
            "unruly.wait",
            json!({"seconds": 60}),
            CallOptions::default().timeout(Duration::from_millis(500)),
        )
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::DeadlineExceeded);
    assert!(
        common::eventually(Duration::from_secs(10), || recorded(2)).await,
        "the server was not told the deadline passed"
    );
    host.shutdown().await;
}

#[tokio::test]
async fn noise_and_oversized_answers_fail_only_their_call() {
    let plugins = common::Plugins::new(&[]);
    common::add_unruly(&plugins, &plugins.data.path().join("unused"));
    let host = Host::start(plugins.config()).await.unwrap();
    // A line that is not JSON-RPC is skipped; the answer after it counts.
    let noisy = host
        .call_tool("unruly.noise", json!({}), CallOptions::default())
        .await
        .unwrap();
    assert_eq!(noisy.content, json!({"result": "still here"}));
    // An answer over the 16 MiB line limit is dropped unread, so its call
    // ends at its deadline; the plugin goes on.
    let huge = host
        .call_tool(
            "unruly.huge",
            json!({"mib": 20}),
            CallOptions::default().timeout(Duration::from_secs(3)),
        )
        .await
        .unwrap_err();
    assert_eq!(huge.code(), Code::DeadlineExceeded);
    let fine = host
        .call_tool("unruly.huge", json!({"mib": 1}), CallOptions::default())
        .await
        .unwrap();
    assert_eq!(fine.content["result"].as_str().unwrap().len(), 1 << 20);
    let status = host
        .status()
        .into_iter()
        .find(|s| s.name == "unruly")
        .unwrap();
    assert_eq!(status.restarts, 0, "{status:?}");
    host.shutdown().await;
}

#[test]
fn mcp_servers_run_as_plugins_pass_the_conformance_suite() {
    let home = tempfile::tempdir().unwrap();
    for server in ["time", "everything"] {
        let dir = common::interop().join("plugins").join(server);
        let output = std::process::Command::new(common::sibling("plugwire"))
            .args(["--sandbox", "standard", "check", "--json"])
            .arg(&dir)
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{server}: {}\n{report}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let report: serde_json::Value = serde_json::from_str(&report).unwrap();
        assert_eq!(report["failed"], 0, "{server}: {report}");
        assert!(
            report["passed"].as_u64().unwrap() >= 25,
            "{server}: {report}"
        );
    }
}

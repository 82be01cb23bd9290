//! `plugwire mcp` driven by real MCP clients, installed by
//! `interop/mcp/setup.sh`: the Python MCP SDK's client (`drive.py`, over
//! both the `initialize` session and protocol 2026-07-28) and the MCP
//! inspector's command-line client. The plugins are the echo example and
//! the MCP servers of `interop/mcp/plugins`, so one call makes the round
//! trip: an MCP server run as a plugin, served again by the bridge.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

/// `plugwire mcp` over the echo example and the MCP servers, under the
/// standard sandbox.
fn bridge_command() -> Vec<String> {
    vec![
        common::sibling("plugwire").display().to_string(),
        "--no-standard-dirs".into(),
        "--plugin-dir".into(),
        common::examples().join("echo").display().to_string(),
        "--plugin-dir".into(),
        common::interop().join("plugins").display().to_string(),
        "--sandbox".into(),
        "standard".into(),
        "mcp".into(),
    ]
}

fn run(program: &Path, args: &[String], home: &Path) -> Output {
    let output = run_anyway(program, args, home);
    assert!(
        output.status.success(),
        "{} {args:?} failed: {}\n{}",
        program.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn run_anyway(program: &Path, args: &[String], home: &Path) -> Output {
    Command::new(program)
        .args(args)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("HOME", home)
        .output()
        .unwrap()
}

fn python_client(mode: &str) -> Value {
    let home = tempfile::tempdir().unwrap();
    let client = common::interop().join("client");
    let mut args = vec![
        client.join("drive.py").display().to_string(),
        "--mode".into(),
        mode.into(),
        "--".into(),
    ];
    args.extend(bridge_command());
    let output = run(&client.join(".venv/bin/python"), &args, home.path());
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "drive.py printed no report ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn assert_scenario(report: &Value) {
    let echo = &report["tools"]["echo__echo"];
    assert_eq!(echo["title"], "echo.echo");
    assert_eq!(echo["input"]["properties"]["text"]["type"], "string");
    assert_eq!(echo["annotations"]["readOnlyHint"], true);
    assert_eq!(report["echo"]["content"][0]["text"], "hi");
    assert_eq!(report["echo"]["isError"], false);
    assert_eq!(report["slow"]["structuredContent"], json!({"completed": 3}));
    assert_eq!(
        report["progress"],
        json!([[1.0, 3.0], [2.0, 3.0], [3.0, 3.0]])
    );
    assert_eq!(report["fail"]["isError"], true);
    assert_eq!(report["fail"]["content"][0]["text"], "on purpose");
    assert_eq!(report["unknown"]["code"], -32602, "{}", report["unknown"]);
    assert_eq!(
        report["after_cancel"],
        json!({"sleeping": 0, "cancelled": 1})
    );
    // The round trip: mcp-server-time, a plugin, served again over MCP.
    assert_eq!(
        report["time"]["structuredContent"]["timezone"], "Asia/Tokyo",
        "{}",
        report["time"]
    );
    assert!(report["tools"]["everything__get-sum"].is_object());
}

#[test]
fn the_python_sdks_client_in_an_initialize_session() {
    let report = python_client("legacy");
    assert_scenario(&report);
    assert_ne!(report["protocol"], "2026-07-28", "{}", report["protocol"]);
}

#[test]
fn the_python_sdks_client_on_protocol_2026_07_28() {
    let report = python_client("auto");
    assert_scenario(&report);
    assert_eq!(report["protocol"], "2026-07-28");
}

fn inspector(args: &[&str]) -> Value {
    let output = inspector_output(args);
    assert!(
        output.status.success(),
        "the inspector failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "the inspector printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn inspector_output(args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let inspector = common::interop().join("client/node_modules/.bin/mcp-inspector");
    let mut all = vec!["--cli".to_owned()];
    all.extend(bridge_command());
    all.extend(args.iter().map(|a| a.to_string()));
    run_anyway(&inspector, &all, home.path())
}

#[test]
fn the_inspectors_command_line_client_lists_and_calls() {
    let listed = inspector(&["--method", "tools/list"]);
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for expected in [
        "echo__echo",
        "echo__slow",
        "time__get_current_time",
        "everything__echo",
    ] {
        assert!(names.contains(&expected), "{expected}: {names:?}");
    }
    let called = inspector(&[
        "--method",
        "tools/call",
        "--tool-name",
        "echo__echo",
        "--tool-arg",
        "text=hello",
    ]);
    assert_eq!(called["content"][0]["text"], "hello");
    assert_eq!(called["isError"], false);
    let round_trip = inspector(&[
        "--method",
        "tools/call",
        "--tool-name",
        "everything__get-sum",
        "--tool-arg",
        "a=2",
        "b=3",
    ]);
    assert_eq!(round_trip["content"][0]["text"], "The sum of 2 and 3 is 5.");
    // A tool error is the inspector's failure (exit 5), naming it.
    let failed = inspector_output(&["--method", "tools/call", "--tool-name", "echo__fail"]);
    assert_eq!(failed.status.code(), Some(5), "{failed:?}");
    let said = String::from_utf8_lossy(&failed.stdout) + String::from_utf8_lossy(&failed.stderr);
    assert!(said.contains("tool_is_error"), "{said}");
}

//! `scripts/bench.sh` (or `cargo bench -p plugwire-mcp --bench mcp` after
//! `scripts/build-examples.sh` and `interop/mcp/setup.sh`): what MCP costs
//! on each side, against a baseline measured in the same run.
//!
//! - The bridge: the echo plugin's tool through `plugwire mcp` (a process
//!   of its own, MCP over its stdio, called with rmcp's client), against
//!   the same tool through `Host::call_tool` in-process.
//! - The adapter: the reference MCP server's `echo` through plugwire
//!   (`kind = "mcp"`, `Host::call_tool`), unsandboxed and under the
//!   standard sandbox, against rmcp's client calling the same server
//!   directly over its stdio.
//!
//! Prints a markdown table: p50 and p99 in µs, and the p50 ratio.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use plugwire_host::sandbox::SandboxLevel;
use plugwire_host::{CallOptions, Host, HostConfig};
use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn release(name: &str) -> PathBuf {
    let path = repo().join("target/release").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/build-examples.sh first (scripts/bench.sh does)",
        path.display()
    );
    path
}

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    samples
        .get(((samples.len().saturating_sub(1)) as f64 * p).round() as usize)
        .map_or(0.0, |d| d.as_secs_f64() * 1e6)
}

async fn timed<F, Fut>(n: usize, mut call: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..n / 10 {
        call().await;
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        call().await;
        samples.push(start.elapsed());
    }
    samples
}

async fn host(plugin_dir: &Path, data: &Path, level: SandboxLevel) -> Host {
    let mut config = HostConfig::new("bench", "0.0.0")
        .without_standard_dirs()
        .plugin_dir(plugin_dir)
        .data_dir(data)
        .grant_all()
        .sandbox(level);
    config.launcher = Some(release("plugwire-launcher"));
    config.mcp_adapter = Some(PathBuf::from(env!("CARGO_BIN_EXE_plugwire-mcp-adapter")));
    let host = Host::start(config).await.unwrap();
    host.start_all().await;
    host
}

/// rmcp's client over a child process's stdio.
async fn mcp_client(
    program: &Path,
    args: &[String],
) -> (RunningService<RoleClient, ()>, tokio::process::Child) {
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let transport = (child.stdout.take().unwrap(), child.stdin.take().unwrap());
    let client = ().serve(transport).await.unwrap();
    (client, child)
}

fn call(name: &str, arguments: &Value) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new(name.to_owned());
    params.arguments = arguments.as_object().cloned();
    params
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n = if quick { 500 } else { 5000 };
    let data = tempfile::tempdir().unwrap();
    let echo_dir = repo().join("target/plugwire-examples/echo");
    let servers = repo().join("interop/mcp/plugins");
    assert!(
        servers.join("everything/node_modules").is_dir(),
        "run interop/mcp/setup.sh first (scripts/bench.sh does)"
    );
    let mut rows: Vec<(String, Vec<Duration>, usize)> = Vec::new();

    // The bridge.
    let echo_host = host(&echo_dir, &data.path().join("a"), SandboxLevel::None).await;
    let text = json!({"text": "hello"});
    let in_process = timed(n, || async {
        echo_host
            .call_tool("echo.echo", text.clone(), CallOptions::default())
            .await
            .unwrap();
    })
    .await;
    rows.push((
        "echo.echo, Host::call_tool in-process (baseline A)".into(),
        in_process,
        0,
    ));
    echo_host.shutdown().await;
    let bridge_args: Vec<String> = vec![
        "--no-standard-dirs".into(),
        "--plugin-dir".into(),
        echo_dir.display().to_string(),
        "--sandbox".into(),
        "none".into(),
        "mcp".into(),
    ];
    let (bridge, _bridge_process) = mcp_client(&release("plugwire"), &bridge_args).await;
    let through_bridge = timed(n, || async {
        bridge
            .peer()
            .call_tool(call("echo__echo", &text))
            .await
            .unwrap();
    })
    .await;
    rows.push((
        "echo__echo through `plugwire mcp` (rmcp client, stdio)".into(),
        through_bridge,
        0,
    ));
    let _ = bridge.cancel().await;

    // The adapter.
    let everything = servers.join("everything");
    let node_args = vec![
        everything
            .join("node_modules/@modelcontextprotocol/server-everything/dist/index.js")
            .display()
            .to_string(),
        "stdio".into(),
    ];
    let (direct, _server) = mcp_client(Path::new("node"), &node_args).await;
    let message = json!({"message": "hello"});
    let direct_calls = timed(n, || async {
        direct
            .peer()
            .call_tool(call("echo", &message))
            .await
            .unwrap();
    })
    .await;
    let baseline_b = rows.len();
    rows.push((
        "everything's echo, rmcp client straight to the server (baseline B)".into(),
        direct_calls,
        baseline_b,
    ));
    let _ = direct.cancel().await;
    for (level, label) in [
        (SandboxLevel::None, "unsandboxed"),
        (SandboxLevel::Standard, "standard sandbox"),
    ] {
        let mcp_host = host(&everything, &data.path().join(label), level).await;
        let through_plugwire = timed(n, || async {
            mcp_host
                .call_tool("everything.echo", message.clone(), CallOptions::default())
                .await
                .unwrap();
        })
        .await;
        rows.push((
            format!("everything.echo through plugwire (kind = \"mcp\", {label})"),
            through_plugwire,
            baseline_b,
        ));
        mcp_host.shutdown().await;
    }

    println!("| what | p50 µs | p99 µs | vs its baseline (p50) |");
    println!("|---|---|---|---|");
    let bases: Vec<f64> = rows
        .iter()
        .map(|(_, samples, _)| percentile(&mut samples.clone(), 0.5))
        .collect();
    for (name, mut samples, baseline) in rows {
        let p50 = percentile(&mut samples, 0.5);
        let p99 = percentile(&mut samples, 0.99);
        println!(
            "| {name} | {p50:.1} | {p99:.1} | {:.2}x |",
            p50 / bases[baseline]
        );
    }
}

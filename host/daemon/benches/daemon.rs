//! `scripts/bench.sh` (or `cargo bench -p plugwire-daemon --bench daemon`
//! after `scripts/build-examples.sh`): what the management API adds to a
//! tool call, against the same call into the same host in-process,
//! measured in the same run. Prints a markdown table.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use plugwire_daemon::api::CallResult;
use plugwire_daemon::tokens::{Scope, Tokens};
use plugwire_daemon::{Client, Daemon, DaemonOptions};
use plugwire_host::sandbox::SandboxLevel;
use plugwire_host::{CallOptions, Host, HostConfig};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn examples() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/plugwire-examples");
    assert!(
        dir.join("echo/plugin.toml").is_file(),
        "run scripts/build-examples.sh first (scripts/bench.sh does)"
    );
    dir
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

/// One keep-alive TCP connection sending the same request again and again.
struct Tcp {
    stream: tokio::net::TcpStream,
    request: Vec<u8>,
    buf: Vec<u8>,
}

impl Tcp {
    async fn call(&mut self) {
        self.stream.write_all(&self.request).await.unwrap();
        // Read until the whole (Content-Length) body is in.
        self.buf.clear();
        let mut chunk = [0u8; 4096];
        loop {
            let n = self.stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the daemon closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&self.buf);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap();
                if body.len() >= length {
                    return;
                }
            }
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n = if quick { 2000 } else { 20000 };
    let dir = tempfile::tempdir().unwrap();
    let mut config = HostConfig::new("bench", "0.0.0")
        .without_standard_dirs()
        .plugin_dir(examples().join("echo"))
        .data_dir(dir.path().join("data"))
        .grant_all()
        .sandbox(SandboxLevel::None);
    config.launcher =
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/plugwire-launcher"));
    let host = Host::start(config).await.unwrap();
    host.start_all().await;
    let socket = dir.path().join("run/daemon.sock");
    let tokens_path = dir.path().join("tokens.json");
    let mut tokens = Tokens::default();
    let token = tokens.create("bench", Scope::Call).unwrap();
    tokens.save(&tokens_path).unwrap();
    let mut options = DaemonOptions::new(&socket);
    options.listen = Some("127.0.0.1:0".parse().unwrap());
    options.tokens = tokens_path;
    // The rate limit is not what is measured.
    options.limits.token_rate = u32::MAX / 4;
    let daemon = Daemon::bind(host.clone(), options).await.unwrap();
    let addr = daemon.tcp_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(daemon.run(async {
        let _ = stopped.await;
    }));

    let arguments = json!({"text": "hello"});
    let in_process = timed(n, || async {
        host.call_tool("echo.echo", arguments.clone(), CallOptions::default())
            .await
            .unwrap();
    })
    .await;
    let client = Client::connect(&socket).await.unwrap();
    let body = json!({"arguments": arguments});
    let over_socket = timed(n, || async {
        let _: CallResult = client
            .send(hyper::Method::POST, "/v1/tools/echo.echo/call", Some(&body))
            .await
            .unwrap();
    })
    .await;
    let text = body.to_string();
    let mut tcp = Tcp {
        stream: tokio::net::TcpStream::connect(addr).await.unwrap(),
        request: format!(
            "POST /v1/tools/echo.echo/call HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        )
        .into_bytes(),
        buf: Vec::new(),
    };
    tcp.stream.set_nodelay(true).unwrap();
    let mut over_tcp = Vec::with_capacity(n);
    for i in 0..n + n / 10 {
        let start = Instant::now();
        tcp.call().await;
        if i >= n / 10 {
            over_tcp.push(start.elapsed());
        }
    }

    println!("| what | p50 µs | p99 µs | vs in-process (p50) |");
    println!("|---|---|---|---|");
    let mut baseline = in_process.clone();
    let base = percentile(&mut baseline, 0.5);
    for (name, mut samples) in [
        ("tool call, in-process (baseline)", in_process),
        (
            "tool call through the daemon, Unix socket (hyperlocal client)",
            over_socket,
        ),
        (
            "tool call through the daemon, TCP + bearer token (keep-alive)",
            over_tcp,
        ),
    ] {
        let p50 = percentile(&mut samples, 0.5);
        let p99 = percentile(&mut samples, 0.99);
        println!("| {name} | {p50:.1} | {p99:.1} | {:.2}x |", p50 / base);
    }
    let _ = stop.send(());
    let _ = served.await;
}

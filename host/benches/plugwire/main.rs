//! `scripts/bench.sh` (or `cargo bench -p plugwire-host --bench plugwire`
//! after `scripts/build-examples.sh`): how fast plugwire is, each row next
//! to a baseline measured in the same run. Prints a markdown table and
//! writes `target/plugwire-bench.json`. Where go-plugin does the same
//! work (`go_plugin`), the row's ratio to go-plugin's is printed beside its
//! ratio to the floor.

mod cgroup_spawn;
mod go_plugin;
mod table;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use plugwire_host::sandbox::SandboxLevel;
use plugwire_host::{CallOptions, Host, HostConfig};
use plugwire_proto::pb;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use table::{Row, print_and_save, rate, row};

fn examples() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugwire-examples");
    assert!(
        dir.join("echo/plugin.toml").is_file(),
        "run scripts/build-examples.sh first (scripts/bench.sh does)"
    );
    dir
}

fn config(level: SandboxLevel) -> HostConfig {
    let data = std::env::temp_dir().join("plugwire-bench-data");
    let mut config = HostConfig::new("bench", "0.0.0")
        .without_standard_dirs()
        .plugin_dir(examples().join("echo"))
        .data_dir(data)
        .grant_all()
        .sandbox(level);
    config.launcher =
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/plugwire-launcher"));
    config
}

/// Spawn → bootstrap → health → handshake → configure → ready, then stop.
async fn cold_starts(level: SandboxLevel, network: bool, n: usize) -> Vec<Duration> {
    let mut config = config(level);
    if network {
        // Bench a copy whose manifest grants the network: no network namespace.
        let dir = std::env::temp_dir().join("plugwire-bench-echo-net");
        let _ = std::fs::create_dir_all(&dir);
        let manifest = std::fs::read_to_string(examples().join("echo/plugin.toml")).unwrap();
        std::fs::write(
            dir.join("plugin.toml"),
            manifest.replacen("[permissions]\n", "[permissions]\nnetwork = true\n", 1),
        )
        .unwrap();
        std::fs::copy(
            examples().join("echo/plugwire-example-echo"),
            dir.join("plugwire-example-echo"),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        config.plugin_dirs = vec![dir];
    }
    let host = Host::start(config).await.unwrap();
    let samples = start_stop(&host, "echo", n, 3).await;
    host.shutdown().await;
    samples
}

/// Cold starts while this process (the host) holds 1 GiB it has written
/// to: a fork would copy its page tables on every spawn, a vfork-style
/// spawn (what the spawner's commands allow) does not depend on it.
async fn cold_starts_from_a_big_host(n: usize) -> Vec<Duration> {
    const PAGE: usize = 4096;
    let mut ballast = vec![0u8; 1 << 30];
    for page in ballast.chunks_mut(PAGE) {
        page[0] = 1;
    }
    let samples = cold_starts(SandboxLevel::None, false, n).await;
    std::hint::black_box(&ballast);
    samples
}

/// Spawn → ready → the first tool call answered, then stop: what an
/// application waits for before its first answer, as go-plugin's row does.
async fn first_calls(n: usize) -> Vec<Duration> {
    let host = Host::start(config(SandboxLevel::None)).await.unwrap();
    let args = json!({"text": "x".repeat(5)});
    let mut samples = Vec::new();
    for i in 0..n + 3 {
        let t = Instant::now();
        host.start_plugin("echo").await.unwrap();
        host.call_tool("echo.echo", args.clone(), CallOptions::default())
            .await
            .unwrap();
        let elapsed = t.elapsed();
        host.stop_plugin("echo").await.unwrap();
        if i >= 3 {
            samples.push(elapsed);
        }
    }
    host.shutdown().await;
    samples
}

/// Echo installed from a package under a scratch root, and recorded in a
/// registry under a scratch data directory: (root, data, installed).
fn installed_echo() -> (
    tempfile::TempDir,
    tempfile::TempDir,
    plugwire_host::packages::Installed,
) {
    use plugwire_host::packages::{Limits, Record, Registry, install, pack};
    let root = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let package = pack(&examples().join("echo")).unwrap();
    let installed = install(&package.bytes, root.path(), &Limits::default()).unwrap();
    Registry::update(&Registry::path(data.path()), |r| {
        let record = Record::capture(
            &installed.dir,
            &installed.version,
            "bench",
            &installed.digest,
        )?;
        r.plugins.insert(installed.name.clone(), record);
        Ok(())
    })
    .unwrap();
    (root, data, installed)
}

/// Cold starts of echo installed from a package, so that every launch
/// checks its files against the registry (without re-hashing an unchanged
/// file), against the same launches of the same files not installed.
async fn installed_cold_starts(n: usize) -> (Vec<Duration>, Vec<Duration>) {
    use plugwire_host::packages::{Check, Registry};
    let (_root, data, installed) = installed_echo();
    let launches = |data: &Path| {
        let mut config = config(SandboxLevel::None);
        config.plugin_dirs = vec![installed.dir.clone()];
        config.data_dir = data.to_path_buf();
        config
    };
    let unrecorded = tempfile::tempdir().unwrap();
    let host = Host::start(launches(unrecorded.path())).await.unwrap();
    let unchecked = start_stop(&host, "echo", n, 3).await;
    host.shutdown().await;
    let host = Host::start(launches(data.path())).await.unwrap();
    let checked = start_stop(&host, "echo", n, 3).await;
    host.shutdown().await;
    // The launches above read no file: every identity was as recorded.
    let registry = Registry::load(&Registry::path(data.path())).unwrap();
    let record = &registry.plugins[&installed.name];
    assert_eq!(record.check(), Check::Intact { rehashed: 0 });
    (unchecked, checked)
}

/// The check alone: loading the registry and comparing an installed
/// plugin's files with it, as every launch does.
fn registry_checks(n: usize) -> Vec<Duration> {
    use plugwire_host::packages::{Check, Registry};
    let (_root, data, installed) = installed_echo();
    let path = Registry::path(data.path());
    (0..n)
        .map(|_| {
            let t = Instant::now();
            let registry = Registry::load(&path).unwrap();
            let (_, record) = registry.installed_in(&installed.dir).unwrap();
            assert!(matches!(record.check(), Check::Intact { rehashed: 0 }));
            t.elapsed()
        })
        .collect()
}

/// Starts `plugin` to ready and stops it, `warmup + n` times; the last `n`
/// start times.
async fn start_stop(host: &Host, plugin: &str, n: usize, warmup: usize) -> Vec<Duration> {
    let mut samples = Vec::new();
    for i in 0..n + warmup {
        let t = Instant::now();
        host.start_plugin(plugin).await.unwrap();
        let elapsed = t.elapsed();
        host.stop_plugin(plugin).await.unwrap();
        if i >= warmup {
            samples.push(elapsed);
        }
    }
    samples
}

/// The same binary started by hand: spawn, read the line, connect, one
/// health check. What any gRPC plugin host must do at the least.
async fn bare_starts(exe: &Path, n: usize) -> Vec<Duration> {
    let mut samples = Vec::new();
    for i in 0..n + 3 {
        let t = Instant::now();
        let (mut child, _dir) = bare_starts_one(exe).await;
        let elapsed = t.elapsed();
        let _ = child.kill();
        let _ = child.wait();
        if i >= 3 {
            samples.push(elapsed);
        }
    }
    samples
}

async fn host_calls(host: &Host, args: &Value, n: usize) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + 200 {
        let t = Instant::now();
        host.call_tool("echo.echo", args.clone(), CallOptions::default())
            .await
            .unwrap();
        if i >= 200 {
            samples.push(t.elapsed());
        }
    }
    samples
}

/// Tool calls, one after another, while another task reloads the plugin
/// over and over; every call must succeed. Returns the samples and how
/// many reloads happened meanwhile.
async fn calls_during_reloads(host: &Host, n: usize) -> (Vec<Duration>, usize) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reloader = tokio::spawn({
        let host = host.clone();
        let stop = stop.clone();
        async move {
            let mut reloads = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                host.reload_plugin("echo").await.expect("reload");
                reloads += 1;
            }
            reloads
        }
    });
    let samples = host_calls(host, &json!({"text": "hello"}), n).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    (samples, reloader.await.unwrap())
}

async fn direct_calls(
    channel: &tonic::transport::Channel,
    args: &Value,
    n: usize,
) -> Vec<Duration> {
    let mut client = pb::tool_service_client::ToolServiceClient::new(channel.clone());
    let arguments_json = args.to_string();
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + 200 {
        let t = Instant::now();
        client
            .call_tool(pb::CallToolRequest {
                name: "echo".into(),
                arguments_json: arguments_json.clone(),
            })
            .await
            .unwrap();
        if i >= 200 {
            samples.push(t.elapsed());
        }
    }
    samples
}

async fn raw_pingpong(size: usize, n: usize) -> Vec<Duration> {
    let (mut a, mut b) = tokio::net::UnixStream::pair().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; size];
        while b.read_exact(&mut buf).await.is_ok() {
            if b.write_all(&buf).await.is_err() {
                return;
            }
        }
    });
    let payload = vec![7u8; size];
    let mut buf = vec![0u8; size];
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + 200 {
        let t = Instant::now();
        a.write_all(&payload).await.unwrap();
        a.read_exact(&mut buf).await.unwrap();
        if i >= 200 {
            samples.push(t.elapsed());
        }
    }
    samples
}

/// Calls per second with `inflight` concurrent callers for `window`.
async fn throughput<F, Fut>(inflight: usize, window: Duration, call: F) -> f64
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let deadline = Instant::now() + window;
    let workers: Vec<_> = (0..inflight)
        .map(|_| {
            let call = call.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    call().await;
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for w in workers {
        total += w.await.unwrap();
    }
    total as f64 / window.as_secs_f64()
}

/// `n` copies of the echo plugin under the names echo-0 .. echo-(n-1).
fn copies(n: usize) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let root = std::env::temp_dir().join(format!("plugwire-bench-copies-{n}"));
    let _ = std::fs::remove_dir_all(&root);
    let manifest = std::fs::read_to_string(examples().join("echo/plugin.toml")).unwrap();
    for i in 0..n {
        let dir = root.join(format!("echo-{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let text = manifest.replace("name = \"echo\"", &format!("name = \"echo-{i}\"")).replace(
            "executable = \"plugwire-example-echo\"",
            &format!("executable = \"plugwire-example-echo\"\nenv = {{ ECHO_PLUGIN_NAME = \"echo-{i}\" }}"),
        );
        std::fs::write(dir.join("plugin.toml"), text).unwrap();
        // A hard link, not a copy: 100 copies of a release binary with
        // debug info would take gigabytes.
        let (from, to) = (
            examples().join("echo/plugwire-example-echo"),
            dir.join("plugwire-example-echo"),
        );
        if std::fs::hard_link(&from, &to).is_err() {
            std::fs::copy(&from, &to).unwrap();
        }
    }
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    root
}

/// A memory row's value: KiB stored as microseconds (see `table::Row`).
fn kib(v: u64) -> Duration {
    Duration::from_micros(v)
}

/// The RSS of `host`'s only plugin when idle as go-plugin's row measures
/// it: started, one call of `tool` answered.
async fn idle_rss_kib(host: &Host, tool: &str) -> u64 {
    host.call_tool(tool, json!({"text": "x"}), CallOptions::default())
        .await
        .unwrap();
    rss_kib(host.status()[0].pid.unwrap())
}

/// The RSS of a bare server once it has answered its first RPC.
async fn bare_rss_kib(server: Command) -> u64 {
    let (mut child, _dir) = bare_serves(server).await;
    let rss = rss_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    rss
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmRSS:")
                    .map(|v| v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0))
            })
        })
        .unwrap_or(0)
}

async fn host_of(dir: PathBuf, eager: bool) -> Host {
    host_at(SandboxLevel::None, dir, eager).await
}

async fn host_at(level: SandboxLevel, dir: PathBuf, eager: bool) -> Host {
    let mut config = config(level);
    config.plugin_dirs = vec![dir];
    if eager {
        config.start = plugwire_host::StartPolicy::Eager;
    }
    let host = Host::start(config).await.unwrap();
    // Copies share tool names, which the host reports as conflicts; any
    // other problem means a copy did not load.
    let problems: Vec<_> = host
        .problems()
        .into_iter()
        .filter(|p| !matches!(p, plugwire_host::discovery::Problem::Conflict(_)))
        .collect();
    assert!(problems.is_empty(), "{problems:?}");
    if eager {
        let status = host.status();
        assert!(
            !status.is_empty()
                && status
                    .iter()
                    .all(|s| s.state == plugwire_host::PluginState::Ready),
            "{:?}",
            status.iter().find_map(|s| s.last_error.clone())
        );
    }
    host
}

async fn emits(host: &Host, name: &str, n: usize) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + 100 {
        let t = Instant::now();
        host.emit(name, json!({"n": i})).await.unwrap();
        if i >= 100 {
            samples.push(t.elapsed());
        }
    }
    samples
}

/// 1 MiB through a command's stdin and stdout.
async fn command_runs(host: &Host, n: usize) -> Vec<Duration> {
    let input = vec![b'x'; 1 << 20];
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + 3 {
        let mut out = Vec::with_capacity(1 << 20);
        let t = Instant::now();
        let code = host
            .run_command(
                &["echo.cat".into()],
                std::io::Cursor::new(input.clone()),
                &mut out,
                tokio::io::sink(),
                Default::default(),
            )
            .await
            .unwrap();
        assert_eq!((code, out.len()), (0, 1 << 20));
        if i >= 3 {
            samples.push(t.elapsed());
        }
    }
    samples
}

/// 1 MiB through `cat` and two pipes.
fn cat_runs(n: usize) -> Vec<Duration> {
    use std::io::{Read, Write};
    let input = vec![b'x'; 1 << 20];
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + 3 {
        let t = Instant::now();
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let feed = input.clone();
        let writer = std::thread::spawn(move || stdin.write_all(&feed));
        let mut out = Vec::with_capacity(1 << 20);
        child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
        writer.join().unwrap().unwrap();
        child.wait().unwrap();
        if i >= 3 {
            samples.push(t.elapsed());
        }
    }
    samples
}

/// 100 bare starts at once: spawn → first health check, same binary.
async fn bare_starts_concurrent(exe: &Path, n: usize) -> Duration {
    let t = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let exe = exe.to_path_buf();
            tokio::spawn(async move { bare_starts_one(&exe).await })
        })
        .collect();
    let mut children = Vec::new();
    for task in tasks {
        children.push(task.await.unwrap());
    }
    let elapsed = t.elapsed();
    for (mut child, _dir) in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    elapsed
}

/// Spawns a server binary by hand (cookie and socket directory set), reads
/// its line and makes the first RPC, a health check.
async fn bare_starts_one(exe: &Path) -> (std::process::Child, tempfile::TempDir) {
    bare_serves(Command::new(exe)).await
}

/// Starts `server` as the host would a plugin (a private socket directory,
/// the cookie, nothing else of our environment) and waits until it has
/// answered one health check.
async fn bare_serves(mut server: Command) -> (std::process::Child, tempfile::TempDir) {
    let dir = tempfile::Builder::new()
        .prefix("pwb")
        .tempdir_in("/tmp")
        .unwrap();
    let mut child = server
        .env_clear()
        .env("PLUGWIRE_PLUGIN", "5d3c1f0e-plugwire")
        .env("PLUGIN_PROTOCOL_VERSIONS", "1")
        .env("PLUGIN_UNIX_SOCKET_DIR", dir.path())
        .env("PLUGWIRE_LOG", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let socket = line.split('|').nth(3).unwrap().to_owned();
    let channel = tonic::transport::Endpoint::from_shared(format!("unix:{socket}"))
        .unwrap()
        .origin("http://localhost".parse().unwrap())
        .connect()
        .await
        .unwrap();
    tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: "plugin".into(),
        })
        .await
        .unwrap();
    (child, dir)
}

/// The floor: a tonic server with only health (`host/examples`).
fn bare_tonic_server() -> PathBuf {
    let exe =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/examples/bare_tonic_server");
    assert!(
        exe.is_file(),
        "run scripts/bench.sh, which builds {}",
        exe.display()
    );
    exe
}

fn echo_binary() -> PathBuf {
    examples().join("echo/plugwire-example-echo")
}

/// The Python example (`sdk-examples/python`), set up by scripts/bench.sh.
fn python_plugin() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk-examples/python");
    assert!(
        dir.join(".venv/bin/python").exists(),
        "run sdk-examples/python/setup.sh first (scripts/bench.sh does)"
    );
    dir
}

/// Host start of the Python example to ready, then stop.
async fn python_cold_starts(n: usize) -> Vec<Duration> {
    let mut config = config(SandboxLevel::None);
    config.plugin_dirs = vec![python_plugin()];
    let host = Host::start(config).await.unwrap();
    let samples = start_stop(&host, "echo-python", n, 2).await;
    host.shutdown().await;
    samples
}

/// `python -c 'import grpc'` with the plugin's own interpreter, to exit.
fn python_import_grpc(n: usize) -> Vec<Duration> {
    let python = python_plugin().join(".venv/bin/python");
    (0..n + 2)
        .map(|_| {
            let t = Instant::now();
            let status = Command::new(&python)
                .args(["-c", "import grpc"])
                .status()
                .unwrap();
            assert!(status.success());
            t.elapsed()
        })
        .skip(2)
        .collect()
}

/// A second connection to the plugin the host started last: the newest
/// socket in the host's runtime base.
async fn newest_plugin_channel() -> tonic::transport::Channel {
    let socket = newest_plugin_socket();
    tonic::transport::Endpoint::from_shared(format!("unix:{}", socket.display()))
        .unwrap()
        .origin("http://localhost".parse().unwrap())
        .connect()
        .await
        .unwrap()
}

/// `--calls host|tonic|tonic-deadline N`: only N sequential 16 B calls, one way or the
/// other, for an instruction profile of the call path (it prints their p50):
///
/// ```text
/// valgrind --tool=callgrind target/release/deps/plugwire-* --calls host 3000
/// ```
///
/// Setup is the same in both; the difference between two N is per call.
async fn calls_only(kind: &str, n: usize) {
    let host = Host::start(config(SandboxLevel::None)).await.unwrap();
    host.start_plugin("echo").await.unwrap();
    let args = json!({"text": "hello"});
    let mut took = Vec::with_capacity(n);
    match kind {
        "host" => {
            for _ in 0..n {
                let t = Instant::now();
                host.call_tool("echo.echo", args.clone(), CallOptions::default())
                    .await
                    .unwrap();
                took.push(t.elapsed());
            }
        }
        _ => {
            let mut client =
                pb::tool_service_client::ToolServiceClient::new(newest_plugin_channel().await);
            for _ in 0..n {
                let mut request = tonic::Request::new(pb::CallToolRequest {
                    name: "echo".into(),
                    arguments_json: args.to_string(),
                });
                // `tonic-deadline`: what the protocol asks of every call
                // (PW-DL-1, PW-HOST-6), without the host around it.
                if kind == "tonic-deadline" {
                    request.set_timeout(Duration::from_secs(60));
                    request.metadata_mut().insert(
                        plugwire_proto::constants::CALL_DEPTH_METADATA,
                        tonic::metadata::MetadataValue::from_static("1"),
                    );
                }
                let t = Instant::now();
                client.call_tool(request).await.unwrap();
                took.push(t.elapsed());
            }
        }
    }
    took.sort();
    println!("p50 {:?}", took[took.len() / 2]);
    host.shutdown().await;
}

/// User and system CPU time of a process so far, in milliseconds.
fn cpu_ms(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks * 10.0
}

/// The socket of the plugin the host started last: the newest in the
/// host's runtime base.
fn newest_plugin_socket() -> PathBuf {
    let probe = plugwire_host::launch::runtime_dir().unwrap();
    let base = probe.path().parent().unwrap().to_path_buf();
    std::fs::read_dir(base)
        .unwrap()
        .flatten()
        .map(|e| e.path().join("plugin.sock"))
        .filter(|p| p.exists())
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .unwrap()
}

/// `--rate host|tonic|tonic-deadline|tonic-headers INFLIGHT`: calls per
/// second over 3 s at INFLIGHT calls in flight, through the host or bare
/// tonic (with the deadline, and with the depth and chain headers too), and
/// the CPU each side spent per call: where the table says a row is short,
/// this says which process spends the time, and `perf` can watch it.
async fn rate_only(kind: String, inflight: usize) {
    let host = Host::start(config(SandboxLevel::None)).await.unwrap();
    host.start_plugin("echo").await.unwrap();
    let channel = newest_plugin_channel().await;
    let window = Duration::from_secs(3);
    let plugin_pid = host.status()[0].pid.unwrap();
    let cpu_before = (cpu_ms("self"), cpu_ms(&plugin_pid.to_string()));
    let per_s = if kind == "host" {
        throughput(inflight, window, move || {
            let h = host.clone();
            async move {
                h.call_tool(
                    "echo.echo",
                    json!({"text": "hello"}),
                    CallOptions::default(),
                )
                .await
                .unwrap();
            }
        })
        .await
    } else {
        throughput(inflight, window, move || {
            let mut client = pb::tool_service_client::ToolServiceClient::new(channel.clone());
            let deadline = kind != "tonic";
            let headers = kind == "tonic-headers";
            async move {
                let mut request = tonic::Request::new(pb::CallToolRequest {
                    name: "echo".into(),
                    arguments_json: r#"{"text":"hello"}"#.into(),
                });
                if deadline {
                    request.set_timeout(Duration::from_secs(60));
                }
                if headers {
                    request.metadata_mut().insert(
                        plugwire_proto::constants::CALL_DEPTH_METADATA,
                        tonic::metadata::MetadataValue::from_static("1"),
                    );
                    request.metadata_mut().insert(
                        plugwire_proto::constants::CALL_CHAIN_METADATA,
                        tonic::metadata::MetadataValue::from(12345u64),
                    );
                }
                client.call_tool(request).await.unwrap();
            }
        })
        .await
    };
    let calls = per_s * window.as_secs_f64();
    let host_us = (cpu_ms("self") - cpu_before.0) * 1000.0 / calls;
    let plugin_us = (cpu_ms(&plugin_pid.to_string()) - cpu_before.1) * 1000.0 / calls;
    println!("{per_s:.0} calls/s, CPU per call: caller {host_us:.1} µs, plugin {plugin_us:.1} µs");
}

/// `--starts launcher|no-launcher N [big]`: the p50 of N starts to ready and of
/// N starts to the first tool call, with or without the launcher (which
/// joins the containment cgroup), to split a cold start's cost.
async fn starts_only(launcher: bool, n: usize) {
    let mut config = config(SandboxLevel::None);
    if !launcher {
        config.launcher = None;
    }
    let host = Host::start(config).await.unwrap();
    let mut ready = start_stop(&host, "echo", n, 3).await;
    ready.sort();
    let mut first = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        host.start_plugin("echo").await.unwrap();
        host.call_tool("echo.echo", json!({"text": "x"}), CallOptions::default())
            .await
            .unwrap();
        first.push(t.elapsed());
        host.stop_plugin("echo").await.unwrap();
    }
    first.sort();
    println!(
        "ready p50 {:?}, first call p50 {:?}",
        ready[n / 2],
        first[n / 2]
    );
    host.shutdown().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--rate") {
        let kind = args.get(i + 1).map_or("host", String::as_str).to_owned();
        let inflight = args.get(i + 2).and_then(|n| n.parse().ok()).unwrap_or(16);
        return rate_only(kind, inflight).await;
    }
    if let Some(i) = args.iter().position(|a| a == "--starts") {
        let launcher = args.get(i + 1).is_none_or(|k| k != "no-launcher");
        let n = args.get(i + 2).and_then(|n| n.parse().ok()).unwrap_or(30);
        if args.get(i + 3).is_some_and(|b| b == "big") {
            let mut big = cold_starts_from_a_big_host(n).await;
            big.sort();
            println!("ready p50 {:?} from a host that touched 1 GiB", big[n / 2]);
        }
        return starts_only(launcher, n).await;
    }
    // `--cgroup-spawn N`: only the rows of `cgroup_spawn`.
    if let Some(i) = args.iter().position(|a| a == "--cgroup-spawn") {
        let n = args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(20);
        let mut rows = Vec::new();
        cgroup_spawn::rows(&mut rows, n);
        for r in &rows {
            let (p50, p99) = (r.percentile(0.5), r.percentile(0.99));
            println!("{}: p50 {p50:.0} µs, p99 {p99:.0} µs", r.name);
        }
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--calls") {
        let kind = args.get(i + 1).map_or("host", String::as_str);
        let n = args.get(i + 2).and_then(|n| n.parse().ok()).unwrap_or(1000);
        return calls_only(kind, n).await;
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let (starts, calls) = if quick { (10, 2000) } else { (40, 20000) };
    let mut rows = Vec::new();

    let bare = bare_tonic_server();
    rows.push(row(
        "baseline: bare tonic server, spawn → first RPC",
        bare_starts(&bare, starts).await,
        None,
    ));
    rows.push(row(
        "echo binary by hand, spawn → first RPC (no host)",
        bare_starts(&echo_binary(), starts).await,
        Some("baseline: bare tonic server, spawn → first RPC"),
    ));
    rows.push(row(
        "cold start to ready, no sandbox",
        cold_starts(SandboxLevel::None, false, starts).await,
        Some("baseline: bare tonic server, spawn → first RPC"),
    ));
    rows.push(row(
        "cold start to ready, no sandbox, from a host that touched 1 GiB",
        cold_starts_from_a_big_host(starts).await,
        Some("cold start to ready, no sandbox"),
    ));
    rows.push(
        row(
            "cold start to the first tool call, no sandbox",
            first_calls(starts).await,
            Some("baseline: bare tonic server, spawn → first RPC"),
        )
        .versus("go-plugin: cold start to the first call"),
    );
    rows.push(row(
        "cold start to ready, standard sandbox",
        cold_starts(SandboxLevel::Standard, false, starts).await,
        Some("cold start to ready, no sandbox"),
    ));
    rows.push(row(
        "cold start, standard sandbox, network granted (no netns)",
        cold_starts(SandboxLevel::Standard, true, starts).await,
        Some("cold start to ready, standard sandbox"),
    ));
    cgroup_spawn::rows(&mut rows, starts);

    let (unchecked, checked) = installed_cold_starts(starts).await;
    rows.push(row(
        "cold start, installed package, not in the registry",
        unchecked,
        None,
    ));
    rows.push(row(
        "cold start, installed package, files checked against the registry",
        checked,
        Some("cold start, installed package, not in the registry"),
    ));
    rows.push(row(
        "the launch-time check alone (load the registry, stat the files)",
        registry_checks(starts * 10),
        Some("cold start, installed package, not in the registry"),
    ));

    let host = Host::start(config(SandboxLevel::None)).await.unwrap();
    host.start_plugin("echo").await.unwrap();
    let channel = newest_plugin_channel().await;
    for (label, size) in [("16 B", 16usize), ("4 KiB", 4096)] {
        let args = json!({"text": "x".repeat(size - 11)});
        let raw = format!("raw Unix socket ping-pong, {label}");
        let bare = format!("bare tonic unary CallTool, {label}");
        rows.push(row(&raw, raw_pingpong(size, calls).await, None));
        rows.push(row(
            &bare,
            direct_calls(&channel, &args, calls).await,
            Some(&raw),
        ));
        let ours = row(
            &format!("Host::call_tool, {label}"),
            host_calls(&host, &args, calls).await,
            Some(&bare),
        );
        rows.push(if size == 16 {
            ours.versus("go-plugin: sequential unary, 16 B")
        } else {
            ours
        });
    }
    let window = Duration::from_secs(if quick { 1 } else { 3 });
    for inflight in [16usize, 64] {
        let args = json!({"text": "hello"});
        let c = channel.clone();
        let a = args.clone();
        let bare = throughput(inflight, window, move || {
            let mut client = pb::tool_service_client::ToolServiceClient::new(c.clone());
            let arguments_json = a.to_string();
            async move {
                client
                    .call_tool(pb::CallToolRequest {
                        name: "echo".into(),
                        arguments_json,
                    })
                    .await
                    .unwrap();
            }
        })
        .await;
        let h = host.clone();
        let ours = throughput(inflight, window, move || {
            let h = h.clone();
            let a = args.clone();
            async move {
                h.call_tool("echo.echo", a, CallOptions::default())
                    .await
                    .unwrap();
            }
        })
        .await;
        let bare_name = format!("bare tonic, {inflight} in flight");
        rows.push(rate(&bare_name, bare, None));
        rows.push(
            rate(
                &format!("Host::call_tool, {inflight} in flight"),
                ours,
                Some(&bare_name),
            )
            .versus(&format!("go-plugin: {inflight} in flight")),
        );
    }
    rows.extend(go_plugin::rows(starts, calls, window));
    provider_rows(&mut rows, calls, window).await;

    // Hooks and reloads, against one tool call measured now.
    let one_call = host_calls(&host, &json!({"text": "hello"}), calls / 4).await;
    let (during, reloads) = calls_during_reloads(&host, calls / 4).await;
    host.shutdown().await;
    rows.push(row("one tool call (baseline for hooks)", one_call, None));
    rows.push(row(
        &format!("one tool call during continuous reloads ({reloads} reloads)"),
        during,
        Some("one tool call (baseline for hooks)"),
    ));
    let one = host_of(copies(1), true).await;
    rows.push(row(
        "emit to 1 intercepting plugin",
        emits(&one, "bench.intercept", calls / 4).await,
        Some("one tool call (baseline for hooks)"),
    ));
    one.shutdown().await;
    let ten = host_of(copies(10), true).await;
    rows.push(row(
        "emit to 10 intercepting plugins",
        emits(&ten, "bench.intercept", calls / 10).await,
        Some("one tool call (baseline for hooks)"),
    ));
    rows.push(row(
        "emit to 10 observing plugins",
        emits(&ten, "bench.observe", calls / 4).await,
        Some("one tool call (baseline for hooks)"),
    ));
    ten.shutdown().await;

    // A command with 1 MiB through stdin and stdout.
    rows.push(row(
        "cat through a pipe, 1 MiB",
        cat_runs(if quick { 10 } else { 40 }),
        None,
    ));
    let host = host_of(examples().join("echo"), true).await;
    let idle_rss = idle_rss_kib(&host, "echo.echo").await;
    rows.push(row(
        "command cat, 1 MiB through stdin and stdout",
        command_runs(&host, if quick { 10 } else { 40 }).await,
        Some("cat through a pipe, 1 MiB"),
    ));
    host.shutdown().await;

    // 100 plugins at once, and what they cost the host.
    let hundred = copies(100);
    let hundred_bare = bare_starts_concurrent(&bare, 100).await;
    rows.push(row(
        "100 bare tonic servers at once (spawn → first RPC)",
        vec![hundred_bare],
        None,
    ));
    let before = rss_kib(std::process::id());
    let t = Instant::now();
    let host = host_of(hundred, true).await;
    let all_ready = t.elapsed();
    let ready = host
        .status()
        .iter()
        .filter(|s| s.state == plugwire_host::PluginState::Ready)
        .count();
    assert_eq!(
        ready,
        100,
        "every plugin became ready: {} found; {:?}; {:?}",
        host.status().len(),
        host.problems().first(),
        host.status().first().map(|s| s.state)
    );
    let after = rss_kib(std::process::id());
    rows.push(
        row(
            "100 plugins started concurrently until all ready",
            vec![all_ready],
            Some("100 bare tonic servers at once (spawn → first RPC)"),
        )
        .versus("go-plugin: 100 plugins at once until all answered"),
    );
    host.shutdown().await;
    // The same 100 in the standard sandbox: each has its own namespaces,
    // cgroup, root and seccomp filter.
    let t = Instant::now();
    let host = host_at(SandboxLevel::Standard, copies(100), true).await;
    rows.push(row(
        "100 sandboxed plugins (standard) started concurrently until all ready",
        vec![t.elapsed()],
        Some("100 plugins started concurrently until all ready"),
    ));
    host.shutdown().await;

    let bare_rss = bare_rss_kib(Command::new(&bare)).await;
    rows.push(row(
        "bare tonic server RSS (KiB)",
        vec![kib(bare_rss)],
        None,
    ));
    rows.push(
        row(
            "plugin idle RSS under the host (KiB)",
            vec![kib(idle_rss)],
            Some("bare tonic server RSS (KiB)"),
        )
        .versus("go-plugin: plugin idle RSS (KiB)"),
    );
    python_rows(&mut rows, quick).await;
    rows.push(row(
        "host memory per loaded plugin (KiB)",
        vec![kib(after.saturating_sub(before) / 100)],
        None,
    ));

    print_and_save(&rows);
}

/// A provider's raw gRPC call through the plugin's channel (the kv
/// example's `Get` of a 16 B value): the like-for-like comparison with
/// go-plugin's echo, which carries bytes where a tool call carries JSON.
async fn provider_rows(rows: &mut Vec<Row>, calls: usize, window: Duration) {
    use plugwire_example_kv::pb::key_value_client::KeyValueClient;
    use plugwire_example_kv::pb::{GetRequest, PutRequest};
    let mut config = config(SandboxLevel::None);
    config.plugin_dirs = vec![examples().join("kv")];
    let host = Host::start(config).await.unwrap();
    let mut kv = host
        .provider("examples.kv.v1.KeyValue", "memory", KeyValueClient::new)
        .await
        .unwrap();
    kv.put(PutRequest {
        key: "k".into(),
        value: vec![7; 16],
    })
    .await
    .unwrap();
    let get = || GetRequest { key: "k".into() };
    let mut samples = Vec::with_capacity(calls);
    for i in 0..calls + 200 {
        let t = Instant::now();
        let value = kv.get(get()).await.unwrap().into_inner().value;
        assert_eq!(value.len(), 16);
        if i >= 200 {
            samples.push(t.elapsed());
        }
    }
    rows.push(
        row(
            "provider call, 16 B (raw gRPC through the plugin's channel)",
            samples,
            Some("bare tonic unary CallTool, 16 B"),
        )
        .versus("go-plugin: sequential unary, 16 B"),
    );
    for inflight in [16usize, 64] {
        let kv = kv.clone();
        let per_s = throughput(inflight, window, move || {
            let mut kv = kv.clone();
            async move {
                kv.get(get()).await.unwrap();
            }
        })
        .await;
        rows.push(
            rate(
                &format!("provider call, {inflight} in flight"),
                per_s,
                Some(&format!("bare tonic, {inflight} in flight")),
            )
            .versus(&format!("go-plugin: {inflight} in flight")),
        );
    }
    host.shutdown().await;
}

async fn python_rows(rows: &mut Vec<Row>, quick: bool) {
    let n = if quick { 5 } else { 20 };
    rows.push(row("python -c 'import grpc'", python_import_grpc(n), None));
    rows.push(row(
        "Python plugin cold start to ready, no sandbox",
        python_cold_starts(n).await,
        Some("python -c 'import grpc'"),
    ));

    let host = host_of(python_plugin(), true).await;
    let idle_rss = idle_rss_kib(&host, "echo-python.echo").await;
    host.shutdown().await;
    let mut bare = Command::new(python_plugin().join(".venv/bin/python"));
    bare.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/plugwire/bare_grpcio_server.py"));
    let bare_rss = bare_rss_kib(bare).await;
    rows.push(row(
        "bare grpcio server RSS (KiB)",
        vec![kib(bare_rss)],
        None,
    ));
    rows.push(row(
        "Python plugin idle RSS under the host (KiB)",
        vec![kib(idle_rss)],
        Some("bare grpcio server RSS (KiB)"),
    ));
}

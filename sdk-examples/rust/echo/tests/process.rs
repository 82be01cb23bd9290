//! The echo binary as a host sees it: bootstrap, health, logs, shutdown.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use plugwire_sdk::proto::bootstrap::BootstrapLine;
use plugwire_sdk::proto::log::LogLine;
use plugwire_sdk::proto::pb;
use tonic::transport::{Endpoint, Uri};

const BIN: &str = env!("CARGO_BIN_EXE_plugwire-example-echo");

fn command(dir: &Path, versions: &str, cookie: bool) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("PLUGIN_PROTOCOL_VERSIONS", versions)
        .env("PLUGIN_UNIX_SOCKET_DIR", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if cookie {
        cmd.env("PLUGWIRE_PLUGIN", "5d3c1f0e-plugwire");
    }
    cmd
}

fn short_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("pwe")
        .tempdir_in("/tmp")
        .unwrap()
}

fn wait_with_deadline(child: &mut Child, deadline: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            panic!("the plugin did not exit within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn without_the_cookie_it_explains_and_exits_1() {
    let dir = short_dir();
    let output = command(dir.path(), "1", false).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "nothing on stdout (PW-BOOT-1)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("this is a plugwire plugin; run it through a plugwire host"),
        "{stderr}"
    );
}

#[test]
fn without_a_common_version_it_fails_cleanly() {
    let dir = short_dir();
    for versions in ["7,8", "", "x"] {
        let output = command(dir.path(), versions, true).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{versions:?}");
        assert!(output.stdout.is_empty(), "no bootstrap line (PW-BOOT-3)");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("PLUGIN_PROTOCOL_VERSIONS"),
            "{versions:?}: {stderr}"
        );
    }
}

struct Started {
    child: Child,
    socket: PathBuf,
    stderr: std::process::ChildStderr,
}

fn start(dir: &Path) -> Started {
    let mut child = command(dir, "2,1", true).spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let parsed = BootstrapLine::parse_line(line.as_bytes()).unwrap();
    assert_eq!(parsed.app_version, 1, "highest common version");
    parsed.check_socket_in_dir(dir).unwrap();
    assert_eq!(
        line,
        format!("1|1|unix|{}|grpc|\n", dir.join("plugin.sock").display())
    );
    let stderr = child.stderr.take().unwrap();
    Started {
        child,
        socket: PathBuf::from(parsed.socket_path),
        stderr,
    }
}

async fn connect(socket: &Path) -> tonic::transport::Channel {
    Endpoint::from_shared(format!("unix:{}", socket.display()))
        .unwrap()
        .origin(Uri::from_static("http://localhost"))
        .connect()
        .await
        .unwrap()
}

#[tokio::test]
async fn serves_health_and_handshake_then_stops_on_sigterm() {
    let dir = short_dir();
    let mut started = start(dir.path());
    let channel = connect(&started.socket).await;
    let health = tonic_health::pb::health_client::HealthClient::new(channel.clone())
        .check(tonic_health::pb::HealthCheckRequest {
            service: "plugin".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        health.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let handshake = pb::plugin_service_client::PluginServiceClient::new(channel.clone())
        .handshake(pb::HandshakeRequest {
            protocol_version: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(handshake.plugin.unwrap().name, "echo");
    assert_eq!(handshake.sdk.unwrap().name, "plugwire-sdk-rust");

    kill(Pid::from_raw(started.child.id() as i32), Signal::SIGTERM).unwrap();
    let status = wait_with_deadline(&mut started.child, Duration::from_secs(6));
    assert_eq!(
        status.code(),
        Some(0),
        "SIGTERM is a clean exit (PW-SHUT-2)"
    );
    assert!(!started.socket.exists(), "socket removed (PW-SHUT-3)");

    let mut logs = String::new();
    started.stderr.read_to_string(&mut logs).unwrap();
    assert!(!logs.is_empty(), "the plugin logs its lifecycle");
    for line in logs.lines() {
        assert!(
            LogLine::parse(line).structured,
            "hclog JSON on stderr (PW-LOG-2): {line}"
        );
    }
}

#[tokio::test]
async fn shutdown_rpc_exits_zero_and_removes_the_socket() {
    let dir = short_dir();
    let mut started = start(dir.path());
    let channel = connect(&started.socket).await;
    pb::plugin_service_client::PluginServiceClient::new(channel)
        .shutdown(pb::ShutdownRequest {
            grace: Some(prost_types::Duration {
                seconds: 1,
                nanos: 0,
            }),
        })
        .await
        .unwrap();
    let status = wait_with_deadline(&mut started.child, Duration::from_secs(3));
    assert_eq!(status.code(), Some(0));
    assert!(!started.socket.exists());
}

/// PW-BOOT-14 and PW-SHUT-6: started as go-plugin's clients start plugins
/// (no socket directory), it binds in the temporary directory; SIGHUP
/// stops it like SIGTERM, with the socket removed.
#[test]
fn without_a_socket_directory_it_uses_the_temporary_one_and_sighup_stops_it() {
    let dir = short_dir();
    let mut cmd = command(dir.path(), "1", true);
    cmd.env_remove("PLUGIN_UNIX_SOCKET_DIR")
        .env("TMPDIR", dir.path());
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let socket = dir.path().join(format!("plugwire-{}.sock", child.id()));
    assert_eq!(line, format!("1|1|unix|{}|grpc|\n", socket.display()));
    assert!(socket.exists());
    kill(Pid::from_raw(child.id() as i32), Signal::SIGHUP).unwrap();
    assert_eq!(
        wait_with_deadline(&mut child, Duration::from_secs(6)).code(),
        Some(0)
    );
    assert!(!socket.exists(), "the socket is removed (PW-SHUT-3)");
}

//! The `faulty` fixture against the host: every bootstrap fault, crashes,
//! restarts, hangs, floods, and the host's own death.

mod common;

use std::time::{Duration, Instant};

use common::{Plugins, alive, eventually, group_members};
use plugwire_host::{CallOptions, Host, PluginState};
use serde_json::json;
use tonic::Code;

/// Starts `faulty` in `mode` and returns the start error's message.
async fn start_error(mode: &str) -> String {
    let plugins = Plugins::new(&["faulty"]);
    plugins.faulty_mode(mode);
    let host = plugins.host().await;
    let started = Instant::now();
    let err = host.start_plugin("faulty").await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{mode}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{mode}: bounded by the bootstrap deadline"
    );
    let status = host.status().remove(0);
    assert_eq!(status.state, PluginState::Failed, "{mode}");
    assert_eq!(
        status
            .last_error
            .as_deref()
            .map(|e| err.message().contains(e.lines().next().unwrap())),
        Some(true)
    );
    host.shutdown().await;
    err.message().to_owned()
}

#[tokio::test]
async fn exit_before_line_quotes_stderr_and_status() {
    let e = start_error("exit-before-line").await;
    assert!(
        e.contains("exited (exit status 3) before printing a bootstrap line"),
        "{e}"
    );
    assert!(e.contains("stdout: nothing"), "{e}");
    assert!(
        e.contains("faulty: exiting before the bootstrap line, as asked"),
        "{e}"
    );
}

#[tokio::test]
async fn no_line_times_out_and_is_killed() {
    let e = start_error("no-line").await;
    assert!(e.contains("no bootstrap line within 3s"), "{e}");
    assert!(e.contains("never printing the bootstrap line"), "{e}");
    assert!(e.contains("killed"), "{e}");
}

#[tokio::test]
async fn garbage_is_quoted() {
    let e = start_error("garbage").await;
    assert!(
        e.contains("invalid bootstrap line \"this is not a bootstrap line\\n\""),
        "{e}"
    );
    assert!(e.contains("expected 5 to 7"), "{e}");
}

#[tokio::test]
async fn partial_line_is_reported() {
    let e = start_error("partial-line").await;
    assert!(e.contains("\"1|1|unix|\""), "{e}");
}

#[tokio::test]
async fn socket_outside_the_directory_is_refused() {
    let e = start_error("outside-socket").await;
    assert!(e.contains("is not inside the socket directory"), "{e}");
}

#[tokio::test]
async fn unoffered_version_is_refused() {
    let e = start_error("wrong-version").await;
    assert!(e.contains("chose protocol version 99"), "{e}");
}

#[tokio::test]
async fn tcp_is_refused() {
    let e = start_error("tcp").await;
    assert!(e.contains("field 3 (network)"), "{e}");
    assert!(e.contains("\"tcp\""), "{e}");
}

#[tokio::test]
async fn exit_after_line_is_caught() {
    let e = start_error("exit-after-line").await;
    assert!(e.contains("exit status 4"), "{e}");
    assert!(e.contains("exiting right after the bootstrap line"), "{e}");
}

#[tokio::test]
async fn an_unresponsive_plugin_fails_the_handshake_in_time() {
    let e = start_error("unresponsive").await;
    assert!(e.contains("within") || e.contains("health"), "{e}");
}

#[tokio::test]
async fn stray_stdout_before_the_line_is_quoted() {
    let e = start_error("noise-before-line").await;
    assert!(e.contains("\"starting up...\\n\""), "{e}");
}

#[tokio::test]
async fn a_slow_start_within_the_deadline_works() {
    let plugins = Plugins::new(&["faulty"]);
    plugins.faulty_mode("slow-start");
    plugins.edit("faulty", |t| {
        t.replace(
            "FAULTY_MODE = \"slow-start\"",
            "FAULTY_MODE = \"slow-start\", FAULTY_DELAY_MS = \"500\"",
        )
    });
    let host = plugins.host().await;
    host.start_plugin("faulty").await.unwrap();
    assert!(host.status()[0].startup.unwrap() >= Duration::from_millis(500));
    host.shutdown().await;
}

#[tokio::test]
async fn a_stderr_flood_does_not_stop_the_host() {
    let plugins = Plugins::new(&["faulty", "echo"]);
    plugins.faulty_mode("flood-stderr");
    let mut config = plugins.config();
    config.log_rate = 50;
    let host = Host::start(config).await.unwrap();
    host.start_plugin("faulty").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..20 {
        host.call_tool(
            "echo.echo",
            json!({"text": "still here"}),
            CallOptions::default(),
        )
        .await
        .unwrap();
    }
    let status = host
        .status()
        .into_iter()
        .find(|s| s.name == "faulty")
        .unwrap();
    assert!(
        status.dropped_logs > 100,
        "excess log lines are dropped and counted: {}",
        status.dropped_logs
    );
    host.shutdown().await;
}

#[tokio::test]
async fn a_stdout_flood_during_a_call_is_drained() {
    let plugins = Plugins::new(&["faulty"]);
    let host = plugins.host().await;
    let out = host
        .call_tool("faulty.flood", json!({"mib": 8}), CallOptions::default())
        .await
        .unwrap();
    assert_eq!(out.content, json!({"written_bytes": 16 << 20}));
    host.shutdown().await;
}

#[tokio::test]
async fn a_crash_fails_in_flight_calls_at_once_then_restarts() {
    let plugins = Plugins::new(&["faulty"]);
    let host = plugins.host().await;
    let mut bus = host.subscribe();
    host.start_plugin("faulty").await.unwrap();
    let first_pid = host.status()[0].pid.unwrap();
    let hang = {
        let host = host.clone();
        tokio::spawn(async move {
            host.call_tool("faulty.hang", json!({}), CallOptions::default())
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let err = host
        .call_tool("faulty.crash", json!({"code": 70}), CallOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(
        err.message().contains("\"faulty\"") && err.message().contains("exit status 70"),
        "{}",
        err.message()
    );
    let hung = hang.await.unwrap().unwrap_err();
    assert_eq!(
        hung.code(),
        Code::Unavailable,
        "the in-flight call failed too: {}",
        hung.message()
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "at once, not at the deadline"
    );

    let mut names = Vec::new();
    while let Ok(Ok(event)) = tokio::time::timeout(Duration::from_secs(5), bus.recv()).await {
        names.push(event.name.clone());
        if event.name == "plugin.started" && names.contains(&"plugin.crashed".to_owned()) {
            break;
        }
    }
    assert!(
        names.ends_with(&["plugin.crashed".to_owned(), "plugin.started".to_owned()]),
        "{names:?}"
    );
    let status = host.status().remove(0);
    assert_eq!(status.state, PluginState::Ready);
    assert_eq!(status.restarts, 1);
    assert_ne!(status.pid, Some(first_pid));
    assert!(!alive(first_pid));
    host.call_tool(
        "faulty.spin",
        json!({"seconds": 0.01}),
        CallOptions::default(),
    )
    .await
    .unwrap();
    host.shutdown().await;
}

#[tokio::test]
async fn repeated_crashes_mark_the_plugin_failed() {
    let plugins = Plugins::new(&["faulty"]);
    let mut config = plugins.config();
    config.restart.max_crashes = 3;
    let host = Host::start(config).await.unwrap();
    for crash in 1..=3u32 {
        let _ = host
            .call_tool(
                "faulty.crash",
                json!({"abort": true}),
                CallOptions::default(),
            )
            .await;
        // Settled: restarted (one more restart than before) or given up.
        let settled = eventually(Duration::from_secs(5), || {
            let s = &host.status()[0];
            s.state == PluginState::Failed || (s.state == PluginState::Ready && s.restarts == crash)
        })
        .await;
        assert!(settled, "{:?}", host.status()[0]);
    }
    let status = host.status().remove(0);
    assert_eq!(status.state, PluginState::Failed);
    let reason = status.last_error.unwrap();
    assert!(
        reason.contains("SIGABRT") && reason.contains("3 crashes"),
        "{reason}"
    );
    let err = host
        .call_tool(
            "faulty.spin",
            json!({"seconds": 0.01}),
            CallOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(err.message().contains("has failed"), "{}", err.message());
    host.shutdown().await;
}

#[tokio::test]
async fn a_hanging_call_hits_its_deadline_and_the_plugin_keeps_serving() {
    let plugins = Plugins::new(&["faulty"]);
    let host = plugins.host().await;
    let started = Instant::now();
    let err = host
        .call_tool(
            "faulty.hang",
            json!({}),
            CallOptions::default().timeout(Duration::from_millis(300)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded);
    assert!(started.elapsed() < Duration::from_secs(2));
    host.call_tool(
        "faulty.spin",
        json!({"seconds": 0.01}),
        CallOptions::default(),
    )
    .await
    .unwrap();
    host.shutdown().await;
}

#[tokio::test]
async fn shutdown_kills_the_whole_process_group() {
    let plugins = Plugins::new(&["faulty"]);
    let host = plugins.host().await;
    let out = host
        .call_tool(
            "faulty.fork_bomb",
            json!({"max": 5}),
            CallOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(out.content["spawned"], 5);
    let pgid = host.status()[0].pid.unwrap();
    assert_eq!(
        group_members(pgid).len(),
        6,
        "the plugin and its five children"
    );
    host.shutdown().await;
    assert!(
        eventually(Duration::from_secs(3), || group_members(pgid).is_empty()).await,
        "no orphan survives"
    );
}

#[tokio::test]
async fn idle_plugins_stop_and_restart_on_demand() {
    let plugins = Plugins::new(&["echo"]);
    let mut config = plugins.config();
    config.idle_timeout = Some(Duration::from_millis(300));
    let host = Host::start(config).await.unwrap();
    host.call_tool("echo.echo", json!({"text": "a"}), CallOptions::default())
        .await
        .unwrap();
    let pid = host.status()[0].pid.unwrap();
    assert!(
        eventually(Duration::from_secs(3), || host.status()[0].state
            == PluginState::Stopped)
        .await
    );
    assert!(!alive(pid));
    host.call_tool("echo.echo", json!({"text": "b"}), CallOptions::default())
        .await
        .unwrap();
    assert_eq!(host.status()[0].state, PluginState::Ready);
    host.shutdown().await;
}

#[test]
fn plugins_die_when_the_host_is_killed() {
    let plugins = Plugins::new(&["faulty"]);
    let mut cli = std::process::Command::new(common::cli())
        .args([
            "--no-standard-dirs",
            "--yes",
            "--sandbox",
            "none",
            "--plugin-dir",
        ])
        .arg(plugins.dir.path())
        .env("XDG_DATA_HOME", plugins.data.path())
        .args(["call", "faulty.hang"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let host_pid = cli.id();
    // Find the plugin: a child of the CLI running the faulty executable.
    let start = Instant::now();
    let plugin_pid = loop {
        let found = std::fs::read_dir("/proc").unwrap().flatten().find_map(|e| {
            let pid: u32 = e.file_name().to_string_lossy().parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (name, rest) = stat.split_once(") ")?;
            let ppid: u32 = rest.split(' ').nth(1)?.parse().ok()?;
            (ppid == host_pid && name.contains("plugwire-exampl")).then_some(pid)
        });
        if let Some(pid) = found {
            break pid;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the plugin never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(host_pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    cli.wait().unwrap();
    let start = Instant::now();
    while alive(plugin_pid) {
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "the plugin outlived its host"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn a_crash_during_configure_is_reported_with_its_last_words() {
    let plugins = Plugins::new(&["faulty"]);
    let mut config = plugins.config();
    config
        .plugin_config
        .insert("faulty".into(), json!({"crash_on_configure": true}));
    let host = Host::start(config).await.unwrap();
    let e = host
        .start_plugin("faulty")
        .await
        .unwrap_err()
        .message()
        .to_owned();
    assert!(e.contains("exit status 5"), "{e}");
    assert!(e.contains("crashing during Configure"), "{e}");
    host.shutdown().await;
}

#[tokio::test]
async fn a_rejected_configuration_names_the_field() {
    let plugins = Plugins::new(&["faulty"]);
    let mut config = plugins.config();
    config
        .plugin_config
        .insert("faulty".into(), json!({"reject": true}));
    let host = Host::start(config).await.unwrap();
    let e = host
        .start_plugin("faulty")
        .await
        .unwrap_err()
        .message()
        .to_owned();
    assert!(e.contains("config /reject: rejected on purpose"), "{e}");
    host.shutdown().await;
}

//! The live plugin set: plugins added, removed, reloaded, reconfigured,
//! enabled and disabled while calls flow, with real plugin processes.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::{Plugins, alive, eventually};
use plugwire_host::{CallOptions, Host, HostEvent, PluginState};
use serde_json::json;
use tonic::Code;

fn pid_of(host: &Host, name: &str) -> Option<u32> {
    host.status().into_iter().find(|s| s.name == name)?.pid
}

fn state_of(host: &Host, name: &str) -> PluginState {
    host.status()
        .into_iter()
        .find(|s| s.name == name)
        .map(|s| s.state)
        .expect("the plugin is listed")
}

/// Lifecycle events seen so far, by name.
fn drain(events: &mut tokio::sync::broadcast::Receiver<HostEvent>) -> Vec<HostEvent> {
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(event);
    }
    seen
}

async fn echo(host: &Host, text: &str) -> Result<String, tonic::Status> {
    let out = host
        .call_tool("echo.echo", json!({"text": text}), CallOptions::default())
        .await?;
    Ok(out.content.as_str().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reloads_drop_no_call() {
    let plugins = Plugins::new(&["echo"]);
    let host = plugins.host().await;
    assert_eq!(echo(&host, "warm").await.unwrap(), "warm");
    let mut events = host.subscribe();
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let callers: Vec<_> = (0..8)
        .map(|n| {
            let host = host.clone();
            let stop = stop.clone();
            let ok = ok.clone();
            tokio::spawn(async move {
                let mut failures = Vec::new();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let text = format!("{n}-{i}");
                    match echo(&host, &text).await {
                        Ok(back) if back == text => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(back) => failures.push(format!("{text} came back as {back}")),
                        Err(status) => failures.push(format!("{status:?}")),
                    }
                    i += 1;
                }
                failures
            })
        })
        .collect();
    let mut pids = vec![pid_of(&host, "echo").unwrap()];
    for _ in 0..10 {
        let status = host.reload_plugin("echo").await.unwrap();
        assert_eq!(status.state, PluginState::Ready);
        let pid = status.pid.unwrap();
        assert!(!pids.contains(&pid), "a new process serves each version");
        assert!(
            !alive(*pids.last().unwrap()),
            "the old process stopped once drained"
        );
        pids.push(pid);
    }
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for caller in callers {
        failures.extend(caller.await.unwrap());
    }
    assert!(
        failures.is_empty(),
        "{} failed calls: {failures:?}",
        failures.len()
    );
    assert!(ok.load(Ordering::Relaxed) > 100, "calls kept flowing");
    let reloaded = drain(&mut events)
        .into_iter()
        .filter(|e| e.name == "plugin.reloaded")
        .collect::<Vec<_>>();
    assert_eq!(reloaded.len(), 10);
    assert_eq!(reloaded[0].payload["plugin"], "echo");
    assert!(
        reloaded[0].payload["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "echo"),
        "the event lists the tools: {}",
        reloaded[0].payload
    );
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_new_version_leaves_the_old_one_serving() {
    let plugins = Plugins::new(&["echo"]);
    let host = plugins.host().await;
    assert_eq!(echo(&host, "before").await.unwrap(), "before");
    let pid = pid_of(&host, "echo").unwrap();
    let mut events = host.subscribe();
    // The new version's executable dies at once, saying why.
    let broken = plugins.dir.path().join("echo/broken.sh");
    std::fs::write(
        &broken,
        "#!/bin/sh\necho 'version 2 is broken' >&2\nexit 3\n",
    )
    .unwrap();
    std::fs::set_permissions(&broken, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    plugins.edit("echo", |t| {
        t.replace(
            "executable = \"plugwire-example-echo\"",
            "executable = \"broken.sh\"",
        )
        .replace("version = \"0.1.0\"", "version = \"0.2.0\"")
    });
    let err = host.reload_plugin("echo").await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(err.message().contains("version 2 is broken"), "{err:?}");
    assert!(err.message().contains("keeps serving"), "{err:?}");
    assert_eq!(
        pid_of(&host, "echo"),
        Some(pid),
        "the old process is untouched"
    );
    assert_eq!(state_of(&host, "echo"), PluginState::Ready);
    let status = host
        .status()
        .into_iter()
        .find(|s| s.name == "echo")
        .unwrap();
    assert_eq!(status.version, "0.1.0");
    assert_eq!(echo(&host, "after").await.unwrap(), "after");
    let names: Vec<String> = drain(&mut events).into_iter().map(|e| e.name).collect();
    assert!(
        names.contains(&"plugin.reload_failed".to_owned()),
        "{names:?}"
    );
    assert!(
        !names.contains(&"plugin.failed".to_owned()),
        "the running plugin did not fail: {names:?}"
    );
    // A manifest that no longer parses is refused the same way.
    plugins.edit("echo", |_| "name = ".to_owned());
    let err = host.reload_plugin("echo").await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert_eq!(echo(&host, "still").await.unwrap(), "still");
    host.shutdown().await;
}

#[tokio::test]
async fn plugins_are_added_and_removed_while_the_host_runs() {
    let plugins = Plugins::new(&["echo"]);
    let empty = tempfile::tempdir().unwrap();
    let mut config = plugins.config();
    config.plugin_dirs = vec![empty.path().to_path_buf()];
    let host = Host::start(config).await.unwrap();
    assert!(host.status().is_empty());
    let mut events = host.subscribe();
    let mut changes = host.watch_plugins();
    changes.borrow_and_update();

    let status = host
        .add_plugin(&plugins.dir.path().join("echo"))
        .await
        .unwrap();
    assert_eq!(status.name, "echo");
    assert!(
        changes.has_changed().unwrap(),
        "watchers see the set change"
    );
    assert_eq!(echo(&host, "hi").await.unwrap(), "hi");
    assert!(
        host.tools()
            .await
            .iter()
            .any(|t| t.qualified == "echo.echo")
    );
    let again = host
        .add_plugin(&plugins.dir.path().join("echo"))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists, "{again:?}");
    let nowhere = host.add_plugin(empty.path()).await.unwrap_err();
    assert_eq!(nowhere.code(), Code::InvalidArgument);
    assert!(nowhere.message().contains("plugin.toml"), "{nowhere:?}");

    let pid = pid_of(&host, "echo").unwrap();
    host.remove_plugin("echo").await.unwrap();
    assert!(host.status().is_empty());
    assert!(!alive(pid), "its process stopped");
    let gone = echo(&host, "hi").await.unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    assert!(host.tools().await.is_empty());
    let names: Vec<String> = drain(&mut events).into_iter().map(|e| e.name).collect();
    for expected in ["plugin.added", "plugin.started", "plugin.removed"] {
        assert!(
            names.contains(&expected.to_owned()),
            "{expected}: {names:?}"
        );
    }
    host.shutdown().await;
}

#[tokio::test]
async fn a_removal_lets_running_calls_finish() {
    let plugins = Plugins::new(&["echo"]);
    let host = plugins.host().await;
    let slow = tokio::spawn({
        let host = host.clone();
        async move {
            host.call_tool(
                "echo.slow",
                json!({"steps": 3, "delay_ms": 100}),
                CallOptions::default(),
            )
            .await
        }
    });
    assert!(eventually(Duration::from_secs(5), || pid_of(&host, "echo").is_some()).await);
    tokio::time::sleep(Duration::from_millis(50)).await;
    host.remove_plugin("echo").await.unwrap();
    let out = slow.await.unwrap().expect("the running call finished");
    assert_eq!(out.content["completed"], 3);
    host.shutdown().await;
}

#[tokio::test]
async fn disabled_plugins_are_listed_and_never_started() {
    let plugins = Plugins::new(&["echo"]);
    let host = Host::start(plugins.config().disable("echo").eager())
        .await
        .unwrap();
    assert_eq!(state_of(&host, "echo"), PluginState::Disabled);
    assert_eq!(pid_of(&host, "echo"), None, "not started, even eagerly");
    let refused = echo(&host, "hi").await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains("disabled"), "{refused:?}");
    assert!(host.tools().await.is_empty());

    let mut events = host.subscribe();
    host.set_enabled("echo", true).await.unwrap();
    assert_eq!(echo(&host, "on").await.unwrap(), "on");
    let pid = pid_of(&host, "echo").unwrap();
    host.set_enabled("echo", false).await.unwrap();
    assert!(!alive(pid), "disabling stops it");
    assert_eq!(state_of(&host, "echo"), PluginState::Disabled);
    let status = host
        .status()
        .into_iter()
        .find(|s| s.name == "echo")
        .unwrap();
    assert!(!status.enabled);
    assert_eq!(
        echo(&host, "off").await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    let names: Vec<String> = drain(&mut events).into_iter().map(|e| e.name).collect();
    assert!(names.contains(&"plugin.enabled".to_owned()), "{names:?}");
    assert!(names.contains(&"plugin.disabled".to_owned()), "{names:?}");
    host.shutdown().await;
}

async fn probe_config(host: &Host) -> Result<serde_json::Value, tonic::Status> {
    Ok(host
        .call_tool("probe.config", json!({}), CallOptions::default())
        .await?
        .content)
}

#[tokio::test]
async fn configuration_merges_file_host_and_run_time_over_the_defaults() {
    let plugins = Plugins::new(&["probe"]);
    let config_dir = tempfile::tempdir().unwrap();
    let host = plugins.host().await;
    assert_eq!(
        probe_config(&host).await.unwrap(),
        json!({"greeting": "hello"}),
        "the schema's default"
    );
    host.shutdown().await;

    std::fs::write(config_dir.path().join("probe.toml"), "loud = true\n").unwrap();
    let host = Host::start(
        plugins
            .config()
            .config_dir(config_dir.path())
            .configure("probe", json!({"greeting": "hey"})),
    )
    .await
    .unwrap();
    assert_eq!(
        probe_config(&host).await.unwrap(),
        json!({"greeting": "hey", "loud": true})
    );
    let pid = pid_of(&host, "probe").unwrap();
    let mut events = host.subscribe();

    // A configuration the schema refuses changes nothing.
    let refused = host
        .configure_plugin("probe", json!({"loud": "very"}))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(refused.message().contains("/loud"), "{refused:?}");
    assert_eq!(pid_of(&host, "probe"), Some(pid));

    // One it accepts restarts the plugin with it, by the reload rules.
    let status = host
        .configure_plugin("probe", json!({"greeting": "yo"}))
        .await
        .unwrap();
    assert_ne!(status.pid, Some(pid));
    assert!(!alive(pid));
    assert_eq!(
        probe_config(&host).await.unwrap(),
        json!({"greeting": "yo", "loud": true})
    );
    let names: Vec<String> = drain(&mut events).into_iter().map(|e| e.name).collect();
    assert!(names.contains(&"plugin.configured".to_owned()), "{names:?}");
    host.shutdown().await;
}

/// PW-CFG-3: a configuration that fails the schema never starts a process.
#[tokio::test]
async fn a_configuration_the_schema_refuses_spawns_nothing() {
    let plugins = Plugins::new(&["probe"]);
    let host = Host::start(plugins.config().configure("probe", json!({"shout": true})))
        .await
        .unwrap();
    let mut events = host.subscribe();
    let err = probe_config(&host).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(
        err.message().contains("does not match its schema"),
        "{err:?}"
    );
    assert!(
        !err.message().contains("process:"),
        "no process was spawned to be killed: {err:?}"
    );
    let names: Vec<String> = drain(&mut events).into_iter().map(|e| e.name).collect();
    assert!(!names.contains(&"plugin.started".to_owned()), "{names:?}");
    assert_eq!(state_of(&host, "probe"), PluginState::Failed);
    host.shutdown().await;
}

/// Commands and intercepting hooks resolve against plugins held in flight:
/// a reload between resolving and calling never skips a hook (an event
/// slipping past a denying hook would be a hole) nor fails a command.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hooks_and_commands_keep_working_through_reloads() {
    let plugins = Plugins::new(&["echo"]);
    let host = plugins.host().await;
    host.start_all().await;
    let stop = Arc::new(AtomicBool::new(false));
    let reloader = tokio::spawn({
        let host = host.clone();
        let stop = stop.clone();
        async move {
            let mut reloads = 0;
            while !stop.load(Ordering::Relaxed) {
                host.reload_plugin("echo").await.unwrap();
                reloads += 1;
            }
            reloads
        }
    });
    for i in 0..60 {
        let outcome = host.emit("bench.intercept", json!({"n": i})).await.unwrap();
        assert_eq!(outcome.decisions.len(), 1, "the hook ran: {outcome:?}");
        let mut out = Vec::new();
        let code = host
            .run_command(
                &["cat".to_owned()],
                &b"through"[..],
                &mut out,
                tokio::io::sink(),
                Default::default(),
            )
            .await
            .unwrap();
        assert_eq!((code, out.as_slice()), (0, &b"through"[..]));
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reloader.await.unwrap() > 0, "reloads happened meanwhile");
    host.shutdown().await;
}

/// A plugin that needs another starts after it, and not at all when what it
/// needs is missing, disabled, at another version, or needs it back.
#[tokio::test]
async fn dependencies_start_first_and_are_required() {
    let plugins = Plugins::new(&["echo", "kv"]);
    plugins.copy_as("echo", "app");
    let needs = |requirement: &str| {
        plugins.edit("app", |t| {
            let t = t.split("\n[dependencies]").next().unwrap().to_owned();
            format!("{t}\n[dependencies]\nkv = \"{requirement}\"\n")
        })
    };
    needs("^0.1");
    let host = plugins.host().await;
    let mut events = host.subscribe();
    host.call_tool("app.echo", json!({"text": "x"}), CallOptions::default())
        .await
        .unwrap();
    let started: Vec<String> = drain(&mut events)
        .into_iter()
        .filter(|e| e.name == "plugin.started")
        .map(|e| e.payload["plugin"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(started, ["kv", "app"], "what app needs starts first");
    host.shutdown().await;

    let host = Host::start(plugins.config().disable("kv")).await.unwrap();
    let err = echo_of(&host, "app").await.unwrap_err();
    assert!(
        err.message().contains("needs kv ^0.1, which is disabled"),
        "{err:?}"
    );
    host.shutdown().await;

    needs("^9");
    let host = plugins.host().await;
    let err = echo_of(&host, "app").await.unwrap_err();
    assert!(err.message().contains("but 0.1.0 is installed"), "{err:?}");
    host.shutdown().await;

    plugins.edit("app", |t| t.replace("kv = \"^9\"", "nothere = \"*\""));
    let host = plugins.host().await;
    let err = echo_of(&host, "app").await.unwrap_err();
    assert!(
        err.message()
            .contains("needs nothere *, which is not installed"),
        "{err:?}"
    );
    host.shutdown().await;

    // Two plugins that need each other are refused, not waited on.
    plugins.copy_as("echo", "other");
    plugins.edit("app", |t| t.replace("nothere = \"*\"", "other = \"*\""));
    plugins.edit("other", |t| format!("{t}\n[dependencies]\napp = \"*\"\n"));
    let host = plugins.host().await;
    let err = tokio::time::timeout(Duration::from_secs(20), echo_of(&host, "app"))
        .await
        .expect("no deadlock")
        .unwrap_err();
    assert!(err.message().contains("need each other"), "{err:?}");
    host.shutdown().await;
}

async fn echo_of(host: &Host, plugin: &str) -> Result<serde_json::Value, tonic::Status> {
    Ok(host
        .call_tool(
            &format!("{plugin}.echo"),
            json!({"text": "x"}),
            CallOptions::default(),
        )
        .await?
        .content)
}

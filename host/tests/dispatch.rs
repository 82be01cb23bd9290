//! Discovery, tools, commands, hooks, providers, the host service and the
//! event bus, against the example plugins.

mod common;

use std::time::Duration;

use common::{Plugins, alive, eventually};
use plugwire_host::discovery::Problem;
use plugwire_host::{CallOptions, HookOutcome, Host, PluginState, RunOptions};
use serde_json::json;
use tonic::Code;

#[tokio::test]
async fn plugins_start_lazily_and_report_status() {
    let plugins = Plugins::new(&["echo", "wordcount"]);
    let host = plugins.host().await;
    assert!(
        host.status()
            .iter()
            .all(|s| s.state == PluginState::Stopped),
        "lazy by default"
    );
    host.call_tool("echo.echo", json!({"text": "x"}), CallOptions::default())
        .await
        .unwrap();
    let status = host.status();
    let echo = status.iter().find(|s| s.name == "echo").unwrap();
    assert_eq!(echo.state, PluginState::Ready);
    assert!(echo.pid.is_some_and(alive));
    assert_eq!(
        echo.sdk
            .as_deref()
            .map(|s| s.starts_with("plugwire-sdk-rust")),
        Some(true)
    );
    assert_eq!(
        status.iter().find(|s| s.name == "wordcount").unwrap().state,
        PluginState::Stopped
    );
    host.shutdown().await;
    assert!(!alive(echo.pid.unwrap()), "shutdown leaves no process");
}

#[tokio::test]
async fn eager_start_and_lifecycle_events_on_the_bus() {
    let plugins = Plugins::new(&["echo"]);
    let mut config = plugins.config();
    config.start = plugwire_host::StartPolicy::Eager;
    let host = Host::start(config).await.unwrap();
    let mut bus = host.subscribe();
    assert_eq!(host.status()[0].state, PluginState::Ready);
    host.stop_plugin("echo").await.unwrap();
    let event = tokio::time::timeout(Duration::from_secs(5), bus.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.name, "plugin.stopped");
    assert_eq!(event.payload["plugin"], "echo");
    // A stopped plugin starts again on demand.
    host.call_tool("echo", json!({"text": "again"}), CallOptions::default())
        .await
        .unwrap();
    let event = tokio::time::timeout(Duration::from_secs(5), bus.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.name, "plugin.started");
    host.shutdown().await;
}

#[tokio::test]
async fn tools_are_listed_validated_and_called() {
    let plugins = Plugins::new(&["echo", "faulty"]);
    let host = plugins.host().await;
    let tools = host.tools().await;
    let echo = tools.iter().find(|t| t.qualified == "echo.echo").unwrap();
    assert!(echo.bare_ok);
    assert_eq!(echo.input_schema["required"], json!(["text"]));
    assert!(echo.annotations.read_only);

    let out = host
        .call_tool("echo", json!({"text": "bare"}), CallOptions::default())
        .await
        .unwrap();
    assert_eq!(out.content, json!("bare"));
    let err = host
        .call_tool("echo.echo", json!({"text": 1}), CallOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("arguments /text"),
        "{}",
        err.message()
    );
    let err = host
        .call_tool("echo.echo", json!([1]), CallOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = host
        .call_tool("echo.nope", json!({}), CallOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(
        err.message().contains("echo, slow, fail"),
        "{}",
        err.message()
    );
    let err = host
        .call_tool("nope.echo", json!({}), CallOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let out = host
        .call_tool("echo.fail", json!({}), CallOptions::default())
        .await
        .unwrap();
    assert!(out.is_error);
    host.shutdown().await;
}

#[tokio::test]
async fn progress_deadlines_and_cancellation() {
    let plugins = Plugins::new(&["echo"]);
    let host = plugins.host().await;
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let out = host
        .call_tool(
            "echo.slow",
            json!({"steps": 3, "delay_ms": 1}),
            CallOptions::default().progress(tx),
        )
        .await
        .unwrap();
    assert_eq!(out.content, json!({"completed": 3}));
    let mut seen = Vec::new();
    while let Ok(p) = rx.try_recv() {
        seen.push(p.progress);
    }
    assert_eq!(seen, [1.0, 2.0, 3.0]);

    let started = std::time::Instant::now();
    let err = host
        .call_tool(
            "echo.slow",
            json!({"steps": 100, "delay_ms": 1000}),
            CallOptions::default().timeout(Duration::from_millis(200)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded);
    assert!(started.elapsed() < Duration::from_secs(2));

    let token = tokio_util::sync::CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        cancel.cancel();
    });
    let err = host
        .call_tool(
            "echo.slow",
            json!({"steps": 100, "delay_ms": 1000}),
            CallOptions::default().cancel(token),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Cancelled);
    // The plugin is still fine afterwards.
    host.call_tool("echo.echo", json!({"text": "ok"}), CallOptions::default())
        .await
        .unwrap();
    host.shutdown().await;
}

#[tokio::test]
async fn concurrent_calls_and_large_arguments() {
    let plugins = Plugins::new(&["echo"]);
    let host = plugins.host().await;
    let calls = (0..64).map(|i| {
        let host = host.clone();
        async move {
            host.call_tool(
                "echo.echo",
                json!({"text": format!("n{i}")}),
                CallOptions::default(),
            )
            .await
        }
    });
    for (i, out) in futures_util::future::join_all(calls)
        .await
        .into_iter()
        .enumerate()
    {
        assert_eq!(out.unwrap().content, json!(format!("n{i}")));
    }
    let big = "y".repeat(4 << 20);
    let out = host
        .call_tool("echo.echo", json!({"text": big}), CallOptions::default())
        .await
        .unwrap();
    assert_eq!(out.content.as_str().map(str::len), Some(4 << 20));
    host.shutdown().await;
}

#[tokio::test]
async fn commands_stream_stdio_and_exit_codes() {
    let plugins = Plugins::new(&["wordcount"]);
    let host = plugins.host().await;
    let commands = host.commands().await;
    assert_eq!(commands[0].full_name, "wc");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = host
        .run_command(
            &["wc".into(), "-l".into()],
            &b"1\n2\n3\n"[..],
            &mut out,
            &mut err,
            RunOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        (code, String::from_utf8_lossy(&out).as_ref()),
        (0, "      3\n")
    );
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = host
        .run_command(
            &["wordcount.wc".into(), "/does/not/exist".into()],
            &b""[..],
            &mut out,
            &mut err,
            RunOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(code, 2);
    assert_eq!(
        String::from_utf8_lossy(&err),
        "wc: /does/not/exist: No such file or directory\n"
    );
    let usage = host
        .run_command(
            &["wc".into(), "--nope".into()],
            &b""[..],
            Vec::new(),
            Vec::new(),
            RunOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(usage.code(), Code::InvalidArgument);
    assert!(usage.message().contains("unknown flag --nope"));
    let missing = host
        .run_command(
            &["frobnicate".into()],
            &b""[..],
            Vec::new(),
            Vec::new(),
            RunOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    host.shutdown().await;
}

#[tokio::test]
async fn hooks_intercept_in_order_and_observers_see_the_result() {
    let plugins = Plugins::new(&["audit", "faulty"]);
    let host = plugins.host().await;
    let outcome = host
        .emit("request.before", json!({"user": "ada", "password": "p"}))
        .await
        .unwrap();
    assert_eq!(
        outcome.payload,
        json!({"user": "ada", "password": "[REDACTED]"})
    );
    assert_eq!(outcome.decisions.len(), 1);
    assert_eq!(outcome.decisions[0].outcome, HookOutcome::Modified);
    assert_eq!(outcome.observers, ["audit"]);

    let outcome = host.emit("faulty.deny", json!({})).await.unwrap();
    assert_eq!(outcome.denied.unwrap().reason, "denied by faulty, as asked");
    assert!(
        outcome.observers.is_empty(),
        "denied events are not observed (PW-HOOK-8)"
    );

    // faulty's hook declares no policy: the host default (open) applies.
    let outcome = host.emit("faulty.error", json!({"a": 1})).await.unwrap();
    assert!(outcome.denied.is_none());
    assert!(matches!(
        outcome.decisions[0].outcome,
        HookOutcome::Failed { denied: false, .. }
    ));
    assert_eq!(outcome.payload, json!({"a": 1}));

    let started = std::time::Instant::now();
    let outcome = host.emit("faulty.hang", json!({})).await.unwrap();
    assert!(
        matches!(&outcome.decisions[0].outcome, HookOutcome::Failed { error, .. } if error.contains("no decision within"))
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "each hook runs under a deadline"
    );

    let err = host.emit("plugin.started", json!({})).await.unwrap_err();
    assert_eq!(
        err.code(),
        Code::InvalidArgument,
        "lifecycle names are reserved"
    );
    let err = host.emit("bad..name", json!({})).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    host.shutdown().await;
}

#[tokio::test]
async fn fail_closed_by_host_config() {
    let plugins = Plugins::new(&["faulty"]);
    let mut config = plugins.config();
    config.hook_failure = plugwire_host::FailurePolicy::Closed;
    let host = Host::start(config).await.unwrap();
    let outcome = host.emit("faulty.error", json!({})).await.unwrap();
    let denial = outcome.denied.unwrap();
    assert_eq!(denial.plugin, "faulty");
    assert!(denial.reason.contains("failed"), "{}", denial.reason);
    host.shutdown().await;
}

#[tokio::test]
async fn observers_store_through_the_host_and_storage_persists() {
    let plugins = Plugins::new(&["audit"]);
    let host = plugins.host().await;
    host.emit("session.start", json!({"user": "ada"}))
        .await
        .unwrap();
    let file = plugins.data.path().join("storage/audit.log");
    assert!(
        eventually(Duration::from_secs(5), || file.is_file()).await,
        "the observer wrote through HostService"
    );
    host.shutdown().await;
    // The log holds each key as written (docs: host/src/storage.rs).
    let stored = std::fs::read(&file).unwrap();
    assert!(
        stored.windows(7).any(|w| w == b"events/"),
        "{}",
        String::from_utf8_lossy(&stored)
    );
}

#[tokio::test]
async fn host_calls_need_the_permission() {
    let plugins = Plugins::new(&["audit"]);
    plugins.edit("audit", |t| t.replace("host = [\"host.storage\"]", ""));
    let host = plugins.host().await;
    host.emit("session.start", json!({})).await.unwrap();
    // The plugin's own log says why its write failed.
    let denied = eventually(Duration::from_secs(5), || {
        host.logs(Some("audit")).iter().any(|r| {
            r.fields.iter().any(|(_, v)| {
                v.as_str()
                    .is_some_and(|e| e.contains("lacks permission") && e.contains("host.storage"))
            })
        })
    })
    .await;
    assert!(denied, "{:#?}", host.logs(Some("audit")));
    assert!(
        !plugins.data.path().join("storage/audit.log").exists(),
        "nothing stored without the permission"
    );
    host.shutdown().await;
}

#[tokio::test]
async fn providers_get_a_typed_client() {
    let plugins = Plugins::new(&["kv"]);
    let host = plugins.host().await;
    let mut kv = host
        .provider(
            "examples.kv.v1.KeyValue",
            "memory",
            plugwire_example_kv::pb::key_value_client::KeyValueClient::new,
        )
        .await
        .unwrap();
    kv.put(plugwire_example_kv::pb::PutRequest {
        key: "k".into(),
        value: b"v".to_vec(),
    })
    .await
    .unwrap();
    let got = kv
        .get(plugwire_example_kv::pb::GetRequest { key: "k".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.value, b"v");
    let err = host
        .provider_channel("examples.kv.v1.KeyValue", "redis")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    host.shutdown().await;
}

#[tokio::test]
async fn invalid_duplicate_and_conflicting_plugins_are_reported() {
    let plugins = Plugins::new(&["echo", "wordcount"]);
    // A second copy of echo under another name: tools collide.
    let copy = plugins.dir.path().join("echo2");
    std::fs::create_dir_all(&copy).unwrap();
    for f in ["plugin.toml", "plugwire-example-echo"] {
        std::fs::copy(plugins.dir.path().join("echo").join(f), copy.join(f)).unwrap();
    }
    // Same name again: a duplicate.
    let dup = plugins.dir.path().join("zz-echo-again");
    std::fs::create_dir_all(&dup).unwrap();
    std::fs::copy(
        plugins.dir.path().join("echo/plugin.toml"),
        dup.join("plugin.toml"),
    )
    .unwrap();
    // Broken manifest.
    let broken = plugins.dir.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(
        broken.join("plugin.toml"),
        "name = \"broken\"\nversion = \"x\"\n[run]\nexecutable = \"b\"\n",
    )
    .unwrap();

    let host = plugins.host().await;
    let problems = host.problems();
    assert!(
        problems
            .iter()
            .any(|p| matches!(p, Problem::InvalidManifest(m) if m.contains("`version`"))),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| matches!(p, Problem::DuplicateName { name, .. } if name == "echo")),
        "{problems:?}"
    );
    host.shutdown().await;

    std::fs::remove_dir_all(&dup).unwrap();
    let text = std::fs::read_to_string(copy.join("plugin.toml"))
        .unwrap()
        .replace("name = \"echo\"", "name = \"echo-two\"");
    std::fs::write(copy.join("plugin.toml"), text).unwrap();
    let host = plugins.host().await;
    // The renamed copy introduces itself as "echo": the host refuses it.
    host.tools().await;
    let two = host
        .status()
        .into_iter()
        .find(|s| s.name == "echo-two")
        .unwrap();
    assert_eq!(two.state, PluginState::Failed);
    assert!(two.last_error.unwrap().contains("calls itself \"echo\""));
    host.shutdown().await;
}

#[tokio::test]
async fn configuration_is_validated_against_the_manifest_schema() {
    let plugins = Plugins::new(&["echo"]);
    plugins.edit("echo", |t| t + "\n[config.schema]\ntype = \"object\"\nproperties = { level = { type = \"integer\" } }\n");
    let mut config = plugins.config();
    config
        .plugin_config
        .insert("echo".into(), json!({"level": "high"}));
    let host = Host::start(config).await.unwrap();
    let err = host
        .call_tool("echo.echo", json!({"text": "x"}), CallOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(err.message().contains("config /level"), "{}", err.message());
    host.shutdown().await;
}

#[tokio::test]
async fn loops_through_the_host_stop_at_the_depth_limit() {
    let plugins = Plugins::new(&["faulty", "echo"]);
    let host = plugins.host().await;
    // One hop works.
    let out = host
        .call_tool(
            "faulty.call_host",
            json!({"tool": "echo.echo", "arguments": {"text": "via host"}}),
            CallOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(out.content, json!("via host"));
    // A plugin calling itself forever is stopped.
    let mut nested = json!({"tool": "echo.echo", "arguments": {"text": "deep"}});
    for _ in 0..12 {
        nested = json!({"tool": "faulty.call_host", "arguments": nested});
    }
    let err = host
        .call_tool("faulty.call_host", nested, CallOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{}", err.message());
    assert!(err.message().contains("deeper than 8"), "{}", err.message());
    host.shutdown().await;
}

#[tokio::test]
async fn a_full_observer_queue_drops_and_counts() {
    let plugins = Plugins::new(&["faulty"]);
    let mut config = plugins.config();
    config.observer_queue = 2;
    let host = Host::start(config).await.unwrap();
    let started = std::time::Instant::now();
    for _ in 0..10 {
        host.emit("faulty.slow", json!({})).await.unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "emitting never waits for observers"
    );
    let dropped = host.status()[0].dropped_events;
    assert!(
        (6..=8).contains(&dropped),
        "one in flight, two queued, the rest dropped: {dropped}"
    );
    host.shutdown().await;
}

/// Section 4.2 / PW-HS-8: a plugin may declare no more hooks or providers
/// than its manifest allows; each overreach is refused at start, naming it.
#[tokio::test]
async fn hooks_and_providers_beyond_the_manifest_are_refused() {
    let plugins = Plugins::new(&["echo", "kv"]);
    // echo subscribes to bench.* and conformance.intercept; allow less.
    plugins.edit("echo", |t| {
        t.replace(
            "patterns = [\"bench.*\", \"conformance.intercept\"]",
            "patterns = [\"bench.observe\", \"conformance.intercept\"]",
        )
    });
    // kv provides examples.kv.v1.KeyValue; allow nothing.
    plugins.edit("kv", |t| {
        t.replace("services = [\"examples.kv.v1.KeyValue\"]", "services = []")
    });
    let host = plugins.host().await;
    host.tools().await;
    let status = host.status();
    let of = |name: &str| status.iter().find(|s| s.name == name).unwrap().clone();
    let echo = of("echo");
    assert_eq!(echo.state, PluginState::Failed);
    let why = echo.last_error.unwrap();
    assert!(
        why.contains("subscribes to \"bench.intercept\"") && why.contains("[hooks] patterns"),
        "{why}"
    );
    let kv = of("kv");
    assert_eq!(kv.state, PluginState::Failed);
    let why = kv.last_error.unwrap();
    assert!(
        why.contains("provides \"examples.kv.v1.KeyValue\"")
            && why.contains("[providers] services"),
        "{why}"
    );
    host.shutdown().await;

    // Observing only: the intercepting subscription is refused.
    let plugins = Plugins::new(&["echo"]);
    plugins.edit("echo", |t| {
        t.replace("intercept = true", "intercept = false")
    });
    let host = plugins.host().await;
    host.tools().await;
    let why = host.status()[0].last_error.clone().unwrap();
    assert!(
        why.contains("intercepts") && why.contains("intercept = true"),
        "{why}"
    );
    host.shutdown().await;
}

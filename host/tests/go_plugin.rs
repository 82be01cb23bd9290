//! A plugin served by HashiCorp go-plugin's `plugin.Serve`
//! (`interop/go-plugin/served`, built by `interop/go-plugin/test.sh`), with
//! go-plugin's defaults: its stdout and stderr are pipes that only
//! `plugin.GRPCStdio` drains, its end comes through `plugin.GRPCController`,
//! and its gRPC server refuses messages over 4 MiB (docs/protocol.md 2.6).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Plugins, copy_dir};
use plugwire_host::logs::Stream;
use plugwire_host::{CallOptions, Host};
use serde_json::json;

const NAME: &str = "go-plugin-served";

fn served() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop/go-plugin/served");
    assert!(
        dir.join(NAME).is_file(),
        "{}/{NAME} is missing: run interop/go-plugin/test.sh first (scripts/test.sh does)",
        dir.display()
    );
    dir
}

fn plugins() -> Plugins {
    let plugins = Plugins::new(&[]);
    copy_dir(&served(), &plugins.dir.path().join(NAME));
    plugins
}

fn within() -> CallOptions {
    CallOptions::default().timeout(Duration::from_secs(20))
}

#[tokio::test]
async fn megabytes_written_to_go_plugins_pipes_reach_the_logs_and_never_block() {
    let plugins = plugins();
    let host = plugins.host().await;
    // 4 MiB to each stream: sixty times what a pipe holds.
    let bytes = 4 * 1024 * 1024;
    let result = host
        .call_tool(
            &format!("{NAME}.chatty"),
            json!({ "bytes": bytes }),
            within(),
        )
        .await
        .expect("a plugin writing megabytes is still answered");
    assert_eq!(result.content, json!(bytes));
    let ends = |stream: Stream, text: &str| {
        host.logs(Some(NAME))
            .iter()
            .any(|r| r.stream == stream && r.message == text)
    };
    assert!(
        common::eventually(Duration::from_secs(10), || ends(
            Stream::Stdout,
            "chatty: end of stdout"
        ) && ends(
            Stream::Stderr,
            "chatty: end of stderr"
        ))
        .await,
        "both streams' last lines are in the plugin's logs, each as its own stream"
    );
    host.shutdown().await;
}

#[tokio::test]
async fn the_host_stops_a_go_plugin_plugin_through_its_controller() {
    let plugins = plugins();
    let mut config = plugins.config();
    // A SIGTERM would come only after the whole grace: long enough to tell.
    config.timeouts.shutdown_grace = Duration::from_secs(3);
    let host = Host::start(config).await.unwrap();
    host.call_tool(&format!("{NAME}.echo"), json!({"text": "hi"}), within())
        .await
        .unwrap();
    let mut bus = host.subscribe();
    let started = Instant::now();
    host.stop_plugin(NAME).await.unwrap();
    let took = started.elapsed();
    let event = tokio::time::timeout(Duration::from_secs(5), bus.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.name, "plugin.stopped");
    assert_eq!(
        event.payload["status"], "exit status 0",
        "go-plugin's controller ended the process itself"
    );
    assert!(
        took < Duration::from_secs(2),
        "the stop did not wait for the grace: {took:?}"
    );
    host.shutdown().await;
}

#[tokio::test]
async fn a_call_over_go_plugins_4_mib_limit_is_explained() {
    let plugins = plugins();
    let host = plugins.host().await;
    let text = "x".repeat(5 * 1024 * 1024);
    let err = host
        .call_tool(&format!("{NAME}.echo"), json!({ "text": text }), within())
        .await
        .expect_err("go-plugin's default server refuses 5 MiB");
    let message = err.message();
    assert!(
        message.contains("4 MiB")
            && message.contains("16 MiB")
            && message.contains("grpc.MaxRecvMsgSize"),
        "the error names the plugin's limit, the protocol's and the fix: {message}"
    );
    // The plugin is still there for calls within its limit.
    host.call_tool(&format!("{NAME}.echo"), json!({"text": "small"}), within())
        .await
        .unwrap();
    host.shutdown().await;
}

//! The audit trail: what is recorded of calls, events and lifecycle
//! changes, who asked, and that the file holds it once the host is down.

mod common;

use common::Plugins;
use plugwire_host::audit::{AuditConfig, AuditRecord, Filter};
use plugwire_host::{CallOptions, Host};
use serde_json::json;

async fn next(records: &mut tokio::sync::broadcast::Receiver<AuditRecord>) -> AuditRecord {
    tokio::time::timeout(std::time::Duration::from_secs(5), records.recv())
        .await
        .expect("a record within 5 s")
        .unwrap()
}

#[tokio::test]
async fn calls_events_and_changes_are_recorded_with_who_asked() {
    let plugins = Plugins::new(&["echo", "probe"]);
    let log = plugins.data.path().join("audit.jsonl");
    let mut config = plugins.config();
    config.audit = Some(AuditConfig::new(&log));
    let host = Host::start(config).await.unwrap();
    let mut records = host.audit().subscribe();

    host.call_tool(
        "echo",
        json!({"text": "not recorded"}),
        CallOptions::default().actor("token:ci"),
    )
    .await
    .unwrap();
    let call = next(&mut records).await;
    assert_eq!(
        (
            call.actor.as_str(),
            call.action.as_str(),
            call.plugin.as_deref(),
            call.target.as_deref(),
            call.outcome.as_str()
        ),
        (
            "token:ci",
            "tool.call",
            Some("echo"),
            Some("echo.echo"),
            "ok"
        )
    );
    assert!(call.duration_ms.is_some() && call.arguments.is_none());

    let refused = host
        .call_tool("echo.echo", json!({"text": 5}), CallOptions::default())
        .await;
    assert!(refused.is_err());
    let failed = next(&mut records).await;
    assert_eq!(
        (failed.actor.as_str(), failed.outcome.as_str()),
        ("app", "error")
    );
    assert!(failed.detail.unwrap().contains("/text"));

    host.emit("build.done", json!({"secret": "payload"}))
        .await
        .unwrap();
    let emitted = next(&mut records).await;
    assert_eq!(
        (emitted.action.as_str(), emitted.target.as_deref()),
        ("event.emit", Some("build.done"))
    );

    host.configure_plugin("probe", json!({"loud": true}))
        .await
        .unwrap();
    let configured = next(&mut records).await;
    assert_eq!(
        (
            configured.action.as_str(),
            configured.plugin.as_deref(),
            configured.target.as_deref()
        ),
        ("configure", Some("probe"), Some("loud"))
    );
    host.set_enabled("echo", false).await.unwrap();
    assert_eq!(next(&mut records).await.action, "disable");
    host.set_enabled("echo", true).await.unwrap();
    assert_eq!(next(&mut records).await.action, "enable");
    host.reload_plugin("probe").await.unwrap();
    assert_eq!(next(&mut records).await.action, "reload");
    host.shutdown().await;

    // Everything is in the file once the host is down, without the
    // arguments, payloads or configuration values.
    let (written, skipped) =
        plugwire_host::audit::read(&AuditConfig::new(&log), &Filter::default()).unwrap();
    assert_eq!(skipped, 0);
    let actions: Vec<&str> = written.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "tool.call",
            "tool.call",
            "event.emit",
            "configure",
            "disable",
            "enable",
            "reload"
        ]
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("not recorded") && !text.contains("payload") && !text.contains("true"));
}

#[tokio::test]
async fn arguments_are_recorded_only_when_configured() {
    let plugins = Plugins::new(&["echo"]);
    let mut config = plugins.config();
    let mut audit = AuditConfig::new(plugins.data.path().join("audit.jsonl"));
    audit.arguments = true;
    config.audit = Some(audit);
    let host = Host::start(config).await.unwrap();
    let mut records = host.audit().subscribe();
    host.call_tool("echo.echo", json!({"text": "kept"}), CallOptions::default())
        .await
        .unwrap();
    assert_eq!(
        next(&mut records).await.arguments,
        Some(json!({"text": "kept"}))
    );
    host.shutdown().await;
}

//! SDK behaviour that the examples do not exercise: cancellation seen by
//! tools when the client goes away, command signals and stdin EOF, typed
//! configuration, declaration checks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use plugwire_sdk::proto::pb;
use plugwire_sdk::testing::TestHost;
use plugwire_sdk::{
    Command, CommandContext, CommandIo, Plugin, Signal, Tool, ToolContext, ToolError,
};
use serde_json::json;
use tokio_stream::StreamExt;

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct NoArgs {}

#[tokio::test]
async fn a_tool_sees_cancellation_when_the_client_drops_the_stream() {
    let cancelled = Arc::new(AtomicBool::new(false));
    let seen = cancelled.clone();
    let plugin = Plugin::new("t", "0.1.0").tool(Tool::new(
        "wait",
        "waits",
        move |_: NoArgs, cx: ToolContext| {
            let seen = seen.clone();
            // The call's future is dropped on cancellation; work it handed off
            // learns of it through the token.
            let token = cx.cancellation_token();
            tokio::spawn(async move {
                token.cancelled().await;
                seen.store(true, Ordering::SeqCst);
            });
            async move {
                cx.progress(1.0, None, "started").await;
                std::future::pending::<Result<(), ToolError>>().await
            }
        },
    ));
    let host = TestHost::start(plugin).await.unwrap();
    let mut stream = pb::tool_service_client::ToolServiceClient::new(host.channel())
        .call_tool_stream(pb::CallToolStreamRequest {
            name: "wait".into(),
            arguments_json: "{}".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(
        stream.next().await.unwrap().unwrap().event,
        Some(pb::call_tool_stream_response::Event::Progress(_))
    ));
    drop(stream);
    for _ in 0..100 {
        if cancelled.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        cancelled.load(Ordering::SeqCst),
        "the tool observed the cancellation within 1 s"
    );
    host.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_unary_tool_sees_cancellation_at_its_deadline() {
    let cancelled = Arc::new(AtomicBool::new(false));
    let seen = cancelled.clone();
    let plugin = Plugin::new("t", "0.1.0").tool(Tool::new(
        "wait",
        "waits",
        move |_: NoArgs, cx: ToolContext| {
            let seen = seen.clone();
            let token = cx.cancellation_token();
            // Work handed to another task keeps running after the call future
            // is dropped, so it must watch the token.
            tokio::spawn(async move {
                token.cancelled().await;
                seen.store(true, Ordering::SeqCst);
            });
            std::future::pending::<Result<(), ToolError>>()
        },
    ));
    let host = TestHost::start(plugin).await.unwrap();
    let err = host
        .call_tool_with_timeout("wait", json!({}), Duration::from_millis(100))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::DeadlineExceeded);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(cancelled.load(Ordering::SeqCst));
    host.shutdown().await.unwrap();
}

#[tokio::test]
async fn progress_must_increase() {
    let plugin = Plugin::new("t", "0.1.0").tool(Tool::new(
        "p",
        "progress",
        |_: NoArgs, cx: ToolContext| async move {
            let sent = [
                cx.progress(1.0, Some(3.0), "").await,
                cx.progress(1.0, Some(3.0), "").await,
                cx.progress(0.5, Some(3.0), "").await,
                cx.progress(f64::NAN, None, "").await,
                cx.progress(2.0, Some(1.0), "").await,
            ];
            Ok::<_, ToolError>(sent.to_vec())
        },
    ));
    let host = TestHost::start(plugin).await.unwrap();
    let (progress, out) = host.call_tool_stream("p", json!({})).await.unwrap();
    assert_eq!(out.content, json!([true, false, false, false, true]));
    assert_eq!(progress.len(), 2);
    assert_eq!(
        progress[1].total,
        Some(2.0),
        "total is never below progress"
    );
    let out = host.call_tool("p", json!({})).await.unwrap();
    assert_eq!(
        out.content,
        json!([false, false, false, false, false]),
        "no progress on unary calls"
    );
    host.shutdown().await.unwrap();
}

#[tokio::test]
async fn commands_receive_signals_and_flags() {
    let plugin = Plugin::new("t", "0.1.0").command(
        Command::new("wait")
            .flag(plugwire_sdk::Flag::int("code").default(7))
            .run(|cx: CommandContext, mut io: CommandIo| async move {
                io.stdout.print("waiting\n").await?;
                let code: i64 = cx.flag("code")?.unwrap_or(0);
                Ok(match cx.signal().await {
                    Signal::Interrupt => 130,
                    _ => code as i32,
                })
            }),
    );
    let host = TestHost::start(plugin).await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(pb::RunCommandRequest {
        message: Some(pb::run_command_request::Message::Start(pb::CommandStart {
            command: "wait".into(),
            flags_json: r#"{"code": 7}"#.into(),
            ..Default::default()
        })),
    })
    .await
    .unwrap();
    let mut stream = pb::command_service_client::CommandServiceClient::new(host.channel())
        .run_command(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(
        first.message,
        Some(pb::run_command_response::Message::Stdout(
            b"waiting\n".to_vec()
        ))
    );
    tx.send(pb::RunCommandRequest {
        message: Some(pb::run_command_request::Message::Signal(
            pb::Signal::Interrupt as i32,
        )),
    })
    .await
    .unwrap();
    let last = stream.next().await.unwrap().unwrap();
    assert_eq!(
        last.message,
        Some(pb::run_command_response::Message::Exit(pb::CommandExit {
            code: 130
        }))
    );
    assert!(
        stream.next().await.is_none(),
        "exit is the last message (PW-CMD-7)"
    );
    host.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_first_command_message_must_be_start() {
    let plugin = Plugin::new("t", "0.1.0")
        .command(Command::new("x").run(|_cx: CommandContext, _io: CommandIo| async { Ok(0) }));
    let host = TestHost::start(plugin).await.unwrap();
    let requests = tokio_stream::iter(vec![pb::RunCommandRequest {
        message: Some(pb::run_command_request::Message::Stdin(b"hi".to_vec())),
    }]);
    let err = pb::command_service_client::CommandServiceClient::new(host.channel())
        .run_command(requests)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    host.shutdown().await.unwrap();
}

#[tokio::test]
async fn command_errors_go_to_stderr_with_exit_1() {
    let plugin = Plugin::new("t", "0.1.0").command(
        Command::new("boom")
            .run(|_cx: CommandContext, _io: CommandIo| async { Err("it broke".into()) }),
    );
    let host = TestHost::start(plugin).await.unwrap();
    let out = host.run_command(&["boom"], b"").await.unwrap();
    assert_eq!(out.code, 1);
    assert_eq!(out.stderr_text(), "boom: it broke\n");
    host.shutdown().await.unwrap();
}

#[derive(serde::Deserialize)]
struct Settings {
    greeting: String,
    #[allow(dead_code)]
    retries: u32,
}

#[tokio::test]
async fn typed_config_is_checked_and_available_to_handlers() {
    let plugin = || {
        Plugin::new("t", "0.1.0")
            .config::<Settings>()
            .tool(Tool::new(
                "greet",
                "greets",
                |_: NoArgs, cx: ToolContext| async move {
                    Ok::<_, ToolError>(cx.config::<Settings>().map(|s| s.greeting.clone()))
                },
            ))
    };
    let host = TestHost::builder()
        .config(json!({"greeting": "hey", "retries": 2}))
        .start(plugin())
        .await
        .unwrap();
    assert_eq!(
        host.call_tool("greet", json!({})).await.unwrap().content,
        json!("hey")
    );
    host.shutdown().await.unwrap();

    let err = TestHost::builder()
        .config(json!({"greeting": "hey", "retries": "three"}))
        .start(plugin())
        .await
        .err()
        .expect("a bad config is rejected")
        .to_string();
    assert!(
        err.contains("config /retries: invalid type: string \"three\""),
        "{err}"
    );
}

#[tokio::test]
async fn bad_declarations_fail_at_start_with_every_problem() {
    let plugin = Plugin::new("Bad Name", "0.1.0")
        .tool(Tool::new(
            "a.b",
            "dotted",
            |_: NoArgs, _cx: ToolContext| async { Ok::<_, ToolError>(()) },
        ))
        .tool(Tool::new("dup", "1", |_: NoArgs, _cx: ToolContext| async {
            Ok::<_, ToolError>(())
        }))
        .tool(Tool::new("dup", "2", |_: NoArgs, _cx: ToolContext| async {
            Ok::<_, ToolError>(())
        }));
    let err = TestHost::start(plugin)
        .await
        .err()
        .expect("rejected")
        .to_string();
    assert!(err.contains("plugin name \"Bad Name\""), "{err}");
    assert!(err.contains("tool name \"a.b\""), "{err}");
    assert!(err.contains("tool \"dup\" is declared twice"), "{err}");
}

#[tokio::test]
async fn health_and_reflection_are_served() {
    let host = TestHost::start(Plugin::new("t", "0.1.0")).await.unwrap();
    let status = tonic_health::pb::health_client::HealthClient::new(host.channel())
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    host.shutdown().await.unwrap();
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Count {
    #[schemars(range(min = 1))]
    n: u32,
}

async fn call_count(
    host: &TestHost,
    arguments: &str,
    validated: bool,
) -> Result<String, tonic::Status> {
    let mut request = tonic::Request::new(pb::CallToolRequest {
        name: "count".into(),
        arguments_json: arguments.into(),
    });
    if validated {
        request.metadata_mut().insert(
            plugwire_sdk::proto::constants::ARGUMENTS_VALIDATED_METADATA,
            tonic::metadata::MetadataValue::from_static(
                plugwire_sdk::proto::constants::ARGUMENTS_VALIDATED,
            ),
        );
    }
    let response = pb::tool_service_client::ToolServiceClient::new(host.channel())
        .call_tool(request)
        .await?;
    Ok(response.into_inner().result.unwrap().content_json)
}

#[tokio::test]
async fn the_schema_check_is_skipped_only_for_arguments_the_host_marked_validated() {
    let plugin = Plugin::new("t", "0.1.0").tool(Tool::new(
        "count",
        "counts",
        |a: Count, _cx: ToolContext| async move { Ok::<_, ToolError>(a.n) },
    ));
    let host = TestHost::start(plugin).await.unwrap();
    // Unmarked: the plugin applies the schema's minimum itself (PW-TOOL-5).
    let err = call_count(&host, r#"{"n": 0}"#, false).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message().starts_with("arguments /n: "),
        "{}",
        err.message()
    );
    // Marked: the schema check is the host's, so the handler runs.
    assert_eq!(call_count(&host, r#"{"n": 0}"#, true).await.unwrap(), "0");
    // Marked or not, what cannot be decoded is still refused, naming the field.
    let err = call_count(&host, r#"{"n": "zero"}"#, true)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message().starts_with("arguments /n: "),
        "{}",
        err.message()
    );
    let err = call_count(&host, "[1]", true).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_eq!(call_count(&host, r#"{"n": 2}"#, false).await.unwrap(), "2");
}

//! The `echo` example plugin: the smallest useful tools.
//!
//! - `echo` returns its `text` argument unchanged;
//! - `slow` counts through `steps`, reporting progress and stopping when
//!   cancelled;
//! - `fail` always fails with an `is_error` result, the way a tool reports
//!   its own failures;
//! - the command `cat` copies stdin to stdout;
//! - hooks that do nothing, for benchmarks: it intercepts `bench.intercept`
//!   and observes `bench.observe`;
//! - the conformance fixture profile ([`fixture`]): `sleep`, `stats`, the
//!   command `exit` and the hook `conformance.intercept`.
//!
//! The environment variable `ECHO_PLUGIN_NAME` (set in a manifest's
//! `run.env`) renames the plugin, so copies can be loaded side by side.

use std::time::Duration;

pub mod fixture;

use plugwire_sdk::{
    Command, CommandContext, CommandIo, Decision, Hook, HookContext, HookEvent, Plugin, Tool,
    ToolContext, ToolError,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Arguments of `echo`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EchoArgs {
    /// The text to return.
    pub text: String,
}

/// Arguments of `slow`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlowArgs {
    /// How many steps to take (1 to 10000).
    #[schemars(range(min = 1, max = 10000))]
    #[serde(default = "default_steps")]
    pub steps: u32,
    /// Milliseconds per step (at most 60000).
    #[schemars(range(max = 60000))]
    #[serde(default = "default_delay")]
    pub delay_ms: u64,
}

fn default_steps() -> u32 {
    5
}

fn default_delay() -> u64 {
    100
}

/// Result of `slow`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct SlowResult {
    /// Steps completed.
    pub completed: u32,
}

/// Arguments of `fail`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailArgs {
    /// The failure message to return.
    #[serde(default = "default_failure")]
    pub message: String,
}

fn default_failure() -> String {
    "this tool always fails".to_owned()
}

/// The plugin.
pub fn plugin() -> Plugin {
    let name = std::env::var("ECHO_PLUGIN_NAME").unwrap_or_else(|_| "echo".to_owned());
    let plugin = Plugin::new(name, env!("CARGO_PKG_VERSION"))
        .description("Echoes text, streams progress, and fails on purpose")
        .tool(
            Tool::new(
                "echo",
                "Returns the `text` argument unchanged",
                |args: EchoArgs, _cx: ToolContext| async move { Ok::<_, ToolError>(args.text) },
            )
            .read_only()
            .idempotent(),
        )
        .tool(
            Tool::new(
                "slow",
                "Takes `steps` steps of `delay_ms` each, reporting progress; stops when cancelled",
                slow,
            )
            .output::<SlowResult>()
            .read_only(),
        )
        .tool(
            Tool::new(
                "fail",
                "Always fails with an is_error result",
                |args: FailArgs, _cx: ToolContext| async move {
                    Err::<(), _>(ToolError::new(args.message))
                },
            )
            .read_only(),
        )
        .command(
            Command::new("cat")
                .short("Copy standard input to standard output")
                .usage("cat")
                .run(|_cx: CommandContext, mut io: CommandIo| async move {
                    tokio::io::copy(&mut io.stdin, &mut io.stdout).await?;
                    Ok(0)
                }),
        )
        .hook(Hook::intercept(
            "bench.intercept",
            |_e: HookEvent, _cx: HookContext| async { Ok(Decision::Continue) },
        ))
        .hook(Hook::observe(
            "bench.observe",
            |_e: HookEvent, _cx: HookContext| async { Ok(()) },
        ));
    fixture::add(plugin)
}

async fn slow(args: SlowArgs, cx: ToolContext) -> Result<SlowResult, ToolError> {
    let total = f64::from(args.steps);
    for step in 1..=args.steps {
        tokio::select! {
            _ = cx.cancelled() => {
                tracing::info!(step, "slow: cancelled");
                return Err(ToolError::new(format!("cancelled after {} of {} steps", step - 1, args.steps)));
            }
            _ = tokio::time::sleep(Duration::from_millis(args.delay_ms)) => {}
        }
        cx.progress(
            f64::from(step),
            Some(total),
            format!("step {step} of {}", args.steps),
        )
        .await;
    }
    Ok(SlowResult {
        completed: args.steps,
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use plugwire_sdk::testing::TestHost;
    use serde_json::json;
    use tonic::Code;

    use super::*;

    #[tokio::test]
    async fn echo_returns_text_unchanged() {
        let host = TestHost::start(plugin()).await.unwrap();
        for text in ["hi", "", "ünïcødé \u{1F600}", "line\nbreak"] {
            let out = host
                .call_tool("echo", json!({ "text": text }))
                .await
                .unwrap();
            assert!(!out.is_error);
            assert_eq!(out.content, json!(text));
        }
        host.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn bad_arguments_are_invalid_argument_naming_the_field() {
        let host = TestHost::start(plugin()).await.unwrap();
        let err = host.call_tool("echo", json!({})).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(err.message().contains("text"), "{}", err.message());
        let err = host
            .call_tool("echo", json!({"text": 5}))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(err.message().contains("/text"), "{}", err.message());
        let err = host
            .call_tool("slow", json!({"steps": 0}))
            .await
            .unwrap_err();
        assert!(err.message().contains("/steps"), "{}", err.message());
        let err = host.call_tool("nope", json!({})).await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound);
        assert!(
            err.message().contains("echo, slow, fail"),
            "{}",
            err.message()
        );
        host.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn schema_is_derived_and_declared() {
        let host = TestHost::start(plugin()).await.unwrap();
        let tools = host.list_tools().await.unwrap();
        let names: Vec<_> = tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["echo", "slow", "fail", "sleep", "stats"]);
        let caps = host.handshake.capabilities.clone().unwrap();
        assert_eq!(caps.tools, names);
        let schema: serde_json::Value = serde_json::from_str(&tools[0].input_schema_json).unwrap();
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["required"], json!(["text"]));
        assert!(!tools[1].output_schema_json.is_empty());
        host.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn cat_copies_stdin_and_bench_hooks_continue() {
        let host = TestHost::start(plugin()).await.unwrap();
        let input = vec![b'z'; 300_000];
        let out = host.run_command(&["cat"], &input).await.unwrap();
        assert_eq!((out.code, out.stdout.len()), (0, input.len()));
        assert_eq!(
            host.intercept("bench.intercept", json!({"a": 1}))
                .await
                .unwrap(),
            plugwire_sdk::Decision::Continue
        );
        host.observe("bench.observe", json!({})).await.unwrap();
        host.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn fail_is_a_tool_error_not_a_status() {
        let host = TestHost::start(plugin()).await.unwrap();
        let out = host
            .call_tool("fail", json!({"message": "boom"}))
            .await
            .unwrap();
        assert!(out.is_error);
        assert_eq!(out.content, json!("boom"));
        host.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn slow_streams_monotonic_progress_then_the_result() {
        let host = TestHost::start(plugin()).await.unwrap();
        let (progress, out) = host
            .call_tool_stream("slow", json!({"steps": 4, "delay_ms": 1}))
            .await
            .unwrap();
        let values: Vec<f64> = progress.iter().map(|p| p.progress).collect();
        assert_eq!(values, [1.0, 2.0, 3.0, 4.0]);
        assert!(progress.iter().all(|p| p.total == Some(4.0)));
        assert_eq!(out.content, json!({"completed": 4}));
        host.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn slow_honours_the_deadline() {
        let host = TestHost::start(plugin()).await.unwrap();
        let started = Instant::now();
        let err = host
            .call_tool_with_timeout(
                "slow",
                json!({"steps": 100, "delay_ms": 1000}),
                Duration::from_millis(200),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::DeadlineExceeded);
        assert!(started.elapsed() < Duration::from_secs(5));
        host.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn concurrent_calls_do_not_mix_results() {
        let host = std::sync::Arc::new(TestHost::start(plugin()).await.unwrap());
        let calls = (0..32).map(|i| {
            let host = host.clone();
            tokio::spawn(async move {
                (
                    i,
                    host.call_tool("echo", json!({"text": format!("call {i}")}))
                        .await,
                )
            })
        });
        for call in calls {
            let (i, out) = call.await.unwrap();
            assert_eq!(out.unwrap().content, json!(format!("call {i}")));
        }
    }

    #[tokio::test]
    async fn four_mib_arguments_work() {
        let host = TestHost::start(plugin()).await.unwrap();
        let text = "x".repeat(4 << 20);
        let out = host
            .call_tool("echo", json!({ "text": text }))
            .await
            .unwrap();
        assert_eq!(out.content.as_str().map(str::len), Some(4 << 20));
        host.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn shutdown_drains_in_flight_calls() {
        let host = TestHost::start(plugin()).await.unwrap();
        let channel = host.channel();
        let call = tokio::spawn(async move {
            plugwire_sdk::proto::pb::tool_service_client::ToolServiceClient::new(channel)
                .call_tool(plugwire_sdk::proto::pb::CallToolRequest {
                    name: "slow".into(),
                    arguments_json: json!({"steps": 2, "delay_ms": 100}).to_string(),
                })
                .await
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        host.shutdown().await.unwrap();
        let result = call.await.unwrap().unwrap().into_inner().result.unwrap();
        assert!(
            !result.is_error,
            "the in-flight call finished within the grace period"
        );
    }
}

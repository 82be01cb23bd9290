//! `FAULTY_MODE=bad-fixture`: the conformance fixture profile done wrong in
//! every way the suite can see, so tests can show it catches each one.
//! The plugin declares the `conformance` feature, then:
//!
//! - `echo` cuts its text at 1 MiB (tools/large-argument);
//! - `sleep` takes one call at a time (tools/concurrent-calls) and goes on
//!   sleeping after its call is cancelled or out of time (tools/deadline,
//!   tools/cancellation);
//! - `cat` answers only after the end of input (commands/stdio-streaming);
//! - `exit` ignores `--code` (commands/exit-codes);
//! - the hook's `modify` returns the payload unchanged
//!   (hooks/decisions-valid) and its `sleep_ms` ignores the deadline
//!   (hooks/deadline).
//!
//! Everything else about it is correct.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use plugwire_sdk::{
    Command, CommandContext, CommandIo, Decision, Flag, Hook, HookContext, HookEvent, Plugin, Tool,
    ToolContext, ToolError,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

static SLEEPING: AtomicU64 = AtomicU64::new(0);
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Sleeps in a detached task, which a cancelled call does not stop.
async fn stubborn_sleep(ms: u64) {
    let sleeping = tokio::spawn(async move {
        SLEEPING.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(ms.min(60_000))).await;
        SLEEPING.fetch_sub(1, Ordering::SeqCst);
    });
    let _ = sleeping.await;
}

/// Arguments of `echo`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EchoArgs {
    /// The text to return.
    pub text: String,
}

/// Arguments of `sleep`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SleepArgs {
    /// Milliseconds to sleep.
    pub ms: u64,
}

/// Arguments of `stats`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

async fn intercept(event: HookEvent, _cx: HookContext) -> Result<Decision, plugwire_sdk::BoxError> {
    let payload = event.payload;
    if let Some(ms) = payload.get("sleep_ms").and_then(Value::as_u64) {
        stubborn_sleep(ms).await;
    }
    Ok(match payload.get("decision").and_then(Value::as_str) {
        Some("modify") => Decision::Modify(payload),
        Some("deny") => Decision::deny("no"),
        _ => Decision::Continue,
    })
}

/// The plugin.
pub fn plugin() -> Plugin {
    Plugin::new("faulty", env!("CARGO_PKG_VERSION"))
        .description("The conformance fixture profile done wrong, for tests")
        .feature(plugwire_sdk::proto::constants::features::CONFORMANCE)
        .tool(Tool::new(
            "echo",
            "Returns `text`, cut at 1 MiB",
            |mut args: EchoArgs, _cx: ToolContext| async move {
                args.text.truncate(1 << 20);
                Ok::<_, ToolError>(args.text)
            },
        ))
        .tool(Tool::new(
            "sleep",
            "Sleeps one call at a time, whatever happens to the call",
            |args: SleepArgs, _cx: ToolContext| async move {
                let _turn = ONE_AT_A_TIME.lock().await;
                stubborn_sleep(args.ms).await;
                Ok::<_, ToolError>(json!({"slept_ms": args.ms}))
            },
        ))
        .tool(Tool::new(
            "stats",
            "Sleeps in progress (cancelled ones are never counted)",
            |_args: NoArgs, _cx: ToolContext| async move {
                Ok::<_, ToolError>(
                    json!({"sleeping": SLEEPING.load(Ordering::SeqCst), "cancelled": 0}),
                )
            },
        ))
        .command(
            Command::new("cat")
                .short("Copies stdin to stdout, all at the end")
                .run(|_cx: CommandContext, mut io: CommandIo| async move {
                    let mut all = Vec::new();
                    io.stdin.read_to_end(&mut all).await?;
                    io.stdout.write(&all).await?;
                    Ok(0)
                }),
        )
        .command(
            Command::new("exit")
                .short("Prints and exits 0, whatever --code says")
                .flag(Flag::int("code").default(0))
                .run(|_cx: CommandContext, mut io: CommandIo| async move {
                    io.stdout.print("out\n").await?;
                    io.stderr.print("err\n").await?;
                    Ok(0)
                }),
        )
        .hook(Hook::intercept("conformance.intercept", intercept))
}

//! The conformance fixture profile (`docs/conformance.md`): the tools,
//! commands and hook the suite needs to test cancellation, deadlines,
//! concurrency, stdio and decisions. `echo` and `cat` are the plugin's own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use plugwire_sdk::{
    Command, CommandContext, CommandIo, Decision, Flag, Hook, HookContext, HookEvent, Plugin, Tool,
    ToolContext, ToolError,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

static SLEEPING: AtomicU64 = AtomicU64::new(0);
static CANCELLED: AtomicU64 = AtomicU64::new(0);

/// Counts one sleep in progress; a sleep dropped before it finished (its
/// call was cancelled or ran out of time) counts as cancelled.
struct SleepGuard {
    finished: bool,
}

impl SleepGuard {
    fn new() -> Self {
        SLEEPING.fetch_add(1, Ordering::SeqCst);
        Self { finished: false }
    }
}

impl Drop for SleepGuard {
    fn drop(&mut self) {
        if !self.finished {
            CANCELLED.fetch_add(1, Ordering::SeqCst);
        }
        SLEEPING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Sleeps `ms`, stopping early when `cancelled` resolves. Returns whether
/// the whole sleep was taken.
async fn sleep_unless(ms: u64, cancelled: impl std::future::Future<Output = ()>) -> bool {
    let mut guard = SleepGuard::new();
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_millis(ms)) => {
            guard.finished = true;
            true
        }
        _ = cancelled => false,
    }
}

/// Arguments of `sleep`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SleepArgs {
    /// Milliseconds to sleep.
    #[schemars(range(max = 60000))]
    pub ms: u64,
}

/// Result of `sleep`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct SleepResult {
    /// Milliseconds slept.
    pub slept_ms: u64,
}

/// Arguments of `stats` (none).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// Result of `stats`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Stats {
    /// Sleeps (tool calls and hook deliveries) in progress.
    pub sleeping: u64,
    /// Sleeps stopped by cancellation or a deadline since the start.
    pub cancelled: u64,
}

async fn intercept(event: HookEvent, _cx: HookContext) -> Result<Decision, plugwire_sdk::BoxError> {
    let payload = &event.payload;
    if let Some(ms) = payload.get("sleep_ms").and_then(Value::as_u64) {
        // No cancellation signal reaches a hook but the dropped future:
        // the guard counts that as cancelled.
        sleep_unless(ms.min(60_000), std::future::pending()).await;
    }
    Ok(match payload.get("decision").and_then(Value::as_str) {
        Some("modify") => {
            let mut modified = payload.as_object().cloned().unwrap_or_default();
            modified.insert("modified".into(), json!(true));
            Decision::Modify(Value::Object(modified))
        }
        Some("deny") => Decision::deny(
            payload
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("denied by the conformance fixture"),
        ),
        _ => Decision::Continue,
    })
}

/// Adds the fixture profile to `plugin` (which must already have `echo`
/// and `cat`).
pub fn add(plugin: Plugin) -> Plugin {
    plugin
        .feature(plugwire_sdk::proto::constants::features::CONFORMANCE)
        .tool(
            Tool::new(
                "sleep",
                "Sleeps `ms` milliseconds; stops when cancelled (conformance fixture)",
                |args: SleepArgs, cx: ToolContext| async move {
                    if sleep_unless(args.ms, cx.cancelled()).await {
                        Ok(SleepResult { slept_ms: args.ms })
                    } else {
                        Err(ToolError::status(tonic::Status::cancelled(
                            "the sleep was cancelled",
                        )))
                    }
                },
            )
            .output::<SleepResult>()
            .read_only(),
        )
        .tool(
            Tool::new(
                "stats",
                "Sleeps in progress and sleeps cancelled (conformance fixture)",
                |_args: NoArgs, _cx: ToolContext| async move {
                    Ok::<_, ToolError>(Stats {
                        sleeping: SLEEPING.load(Ordering::SeqCst),
                        cancelled: CANCELLED.load(Ordering::SeqCst),
                    })
                },
            )
            .output::<Stats>()
            .read_only(),
        )
        .command(
            Command::new("exit")
                .short("Print to both streams and exit with --code (conformance fixture)")
                .usage("exit [--code N]")
                .flag(Flag::int("code").help("The exit code").default(0))
                .run(|cx: CommandContext, mut io: CommandIo| async move {
                    let code: i32 = cx.flag("code").ok().flatten().unwrap_or(0);
                    io.stdout.print("out\n").await?;
                    io.stderr.print("err\n").await?;
                    Ok(code)
                }),
        )
        .hook(Hook::intercept("conformance.intercept", intercept))
}

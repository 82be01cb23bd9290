//! The `faulty` fixture: a plugin that misbehaves on request, for testing
//! hosts, sandboxes and the conformance suite.
//!
//! Bootstrap faults are chosen with the environment variable `FAULTY_MODE`
//! (see [`BootstrapFault`]); run-time faults are tools; hook faults are
//! chosen by event name; configure faults by configuration.
//! `FAULTY_MODE=bad-fixture` serves [`bad_fixture`] instead: the
//! conformance fixture profile done wrong. Nothing here
//! limits itself: run the resource hogs only under a sandbox or with small
//! arguments.

use std::io::Write as _;

pub mod bad_fixture;
use std::time::{Duration, Instant};

use plugwire_sdk::{
    ConfigError, Decision, Hook, HookContext, HookEvent, Plugin, Tool, ToolContext, ToolError,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

/// Environment variable selecting a bootstrap fault.
pub const MODE_VAR: &str = "FAULTY_MODE";

/// Misbehaviours before or during the bootstrap line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootstrapFault {
    /// `exit-before-line`: print a note on stderr and exit 3.
    ExitBeforeLine,
    /// `no-line`: never print the line; sleep.
    NoLine,
    /// `garbage`: print a line that is not a bootstrap line; sleep.
    Garbage,
    /// `partial-line`: print part of a line without a newline; sleep.
    PartialLine,
    /// `outside-socket`: print a line whose socket is outside the directory.
    OutsideSocket,
    /// `wrong-version`: print app version 99.
    WrongVersion,
    /// `tcp`: print a TCP address.
    Tcp,
    /// `exit-after-line`: print a valid line, then exit 4 without serving.
    ExitAfterLine,
    /// `unresponsive`: bind the socket and print the line, but never answer.
    Unresponsive,
    /// `noise-before-line`: print a stray line on stdout, then serve.
    NoiseBeforeLine,
    /// `slow-start`: wait `FAULTY_DELAY_MS` (default 2000) before serving.
    SlowStart,
    /// `flood-stderr`: write to stderr continuously while serving.
    FloodStderr,
    /// `child-sleep`: not a plugin at all; just sleep.
    ChildSleep,
}

impl BootstrapFault {
    /// Every mode with its name.
    pub const ALL: [(&'static str, BootstrapFault); 13] = [
        ("exit-before-line", Self::ExitBeforeLine),
        ("no-line", Self::NoLine),
        ("garbage", Self::Garbage),
        ("partial-line", Self::PartialLine),
        ("outside-socket", Self::OutsideSocket),
        ("wrong-version", Self::WrongVersion),
        ("tcp", Self::Tcp),
        ("exit-after-line", Self::ExitAfterLine),
        ("unresponsive", Self::Unresponsive),
        ("noise-before-line", Self::NoiseBeforeLine),
        ("slow-start", Self::SlowStart),
        ("flood-stderr", Self::FloodStderr),
        ("child-sleep", Self::ChildSleep),
    ];

    /// Parses a mode name.
    ///
    /// ```
    /// use plugwire_example_faulty::BootstrapFault;
    /// assert_eq!(BootstrapFault::parse("garbage"), Some(BootstrapFault::Garbage));
    /// assert_eq!(BootstrapFault::parse("nope"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
    }
}

fn sleep_forever() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn print_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn socket_dir() -> String {
    std::env::var("PLUGIN_UNIX_SOCKET_DIR").unwrap_or_else(|_| "/tmp".to_owned())
}

/// Acts out a bootstrap fault. Returns only for faults that go on to serve
/// normally.
pub fn act_out(fault: BootstrapFault) {
    let dir = socket_dir();
    match fault {
        BootstrapFault::ExitBeforeLine => {
            eprintln!("faulty: exiting before the bootstrap line, as asked");
            std::process::exit(3);
        }
        BootstrapFault::NoLine => {
            eprintln!("faulty: never printing the bootstrap line, as asked");
            sleep_forever();
        }
        BootstrapFault::Garbage => {
            print_stdout("this is not a bootstrap line\n");
            sleep_forever();
        }
        BootstrapFault::PartialLine => {
            print_stdout("1|1|unix|");
            sleep_forever();
        }
        BootstrapFault::OutsideSocket => {
            print_stdout("1|1|unix|/tmp/plugwire-faulty-elsewhere.sock|grpc|\n");
            sleep_forever();
        }
        BootstrapFault::WrongVersion => {
            print_stdout(&format!("1|99|unix|{dir}/plugin.sock|grpc|\n"));
            sleep_forever();
        }
        BootstrapFault::Tcp => {
            print_stdout("1|1|tcp|127.0.0.1:1|grpc|\n");
            sleep_forever();
        }
        BootstrapFault::ExitAfterLine => {
            print_stdout(&format!("1|1|unix|{dir}/plugin.sock|grpc|\n"));
            eprintln!("faulty: exiting right after the bootstrap line, as asked");
            std::process::exit(4);
        }
        BootstrapFault::Unresponsive => {
            let path = format!("{dir}/plugin.sock");
            let _ = std::fs::remove_file(&path);
            // Bound but never accepted: connections queue and go unanswered.
            let _listener = std::os::unix::net::UnixListener::bind(&path);
            print_stdout(&format!("1|1|unix|{path}|grpc|\n"));
            sleep_forever();
        }
        BootstrapFault::NoiseBeforeLine => print_stdout("starting up...\n"),
        BootstrapFault::SlowStart => {
            let ms = std::env::var("FAULTY_DELAY_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(2000);
            std::thread::sleep(Duration::from_millis(ms));
        }
        BootstrapFault::FloodStderr => {
            std::thread::spawn(|| {
                let line = format!("faulty: flooding stderr {}\n", "x".repeat(100));
                loop {
                    if std::io::stderr().write_all(line.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
        BootstrapFault::ChildSleep => sleep_forever(),
    }
}

/// Configuration of the fixture.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Reject the configuration with INVALID_ARGUMENT at `/reject`.
    #[serde(default)]
    pub reject: bool,
    /// Exit with status 5 while handling `Configure`.
    #[serde(default)]
    pub crash_on_configure: bool,
}

/// Arguments of `crash`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CrashArgs {
    /// Exit status to exit with (default 70).
    #[serde(default = "default_code")]
    pub code: i32,
    /// Abort (SIGABRT) instead of exiting.
    #[serde(default)]
    pub abort: bool,
}

fn default_code() -> i32 {
    70
}

/// Arguments of `flood`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FloodArgs {
    /// MiB to write to each stream.
    #[serde(default = "default_flood")]
    pub mib: u32,
    /// Write to stdout.
    #[serde(default = "yes")]
    pub stdout: bool,
    /// Write to stderr.
    #[serde(default = "yes")]
    pub stderr: bool,
}

fn default_flood() -> u32 {
    16
}

fn yes() -> bool {
    true
}

/// Arguments of the resource hogs: stop after `max` units.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HogArgs {
    /// Most units to take (processes, MiB, files); unbounded by default.
    #[serde(default = "unbounded")]
    pub max: u64,
}

fn unbounded() -> u64 {
    u64::MAX
}

/// Arguments of `spin`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpinArgs {
    /// Seconds to spin (default one hour).
    #[serde(default = "hour")]
    pub seconds: f64,
    /// Threads spinning at once.
    #[serde(default = "one")]
    pub threads: u32,
}

fn hour() -> f64 {
    3600.0
}

fn one() -> u32 {
    1
}

/// Arguments of `call_host`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallHostArgs {
    /// The tool to call through the host.
    pub tool: String,
    /// Its arguments.
    #[serde(default)]
    pub arguments: Value,
}

/// Arguments of tools without parameters.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

fn blocking_tool<A, F>(name: &str, description: &str, work: F) -> Tool
where
    A: serde::de::DeserializeOwned + JsonSchema + Send + 'static,
    F: Fn(A) -> Value + Send + Sync + Clone + 'static,
{
    Tool::new(name, description, move |args: A, _cx: ToolContext| {
        let work = work.clone();
        async move {
            tokio::task::spawn_blocking(move || work(args))
                .await
                .map_err(|e| ToolError::new(format!("the worker thread failed: {e}")))
        }
    })
}

fn fork_bomb(args: HogArgs) -> Value {
    let mut spawned = 0u64;
    while spawned < args.max {
        // A classic fork bomb: fork without exec, so each child costs almost
        // no memory and only the process limit can stop it.
        // SAFETY: the child only calls pause(), which is async-signal-safe,
        // so forking a multi-threaded process is sound here.
        match unsafe { libc::fork() } {
            0 => loop {
                // SAFETY: as above.
                unsafe { libc::pause() };
            },
            -1 => {
                return json!({"spawned": spawned, "error": std::io::Error::last_os_error().to_string()});
            }
            _ => spawned += 1,
        }
    }
    // The children are left running on purpose: the host must clean up.
    json!({"spawned": spawned, "error": null})
}

fn alloc(args: HogArgs) -> Value {
    const CHUNK: usize = 16 << 20;
    let mut held: Vec<Vec<u8>> = Vec::new();
    let mut mib = 0u64;
    while mib < args.max {
        // Touch every page so the memory is really committed.
        held.push(vec![0xA5; CHUNK]);
        mib += 16;
    }
    json!({"allocated_mib": mib})
}

fn open_files(args: HogArgs) -> Value {
    let mut files = Vec::new();
    while (files.len() as u64) < args.max {
        match std::fs::File::open("/dev/null") {
            Ok(f) => files.push(f),
            Err(e) => return json!({"opened": files.len(), "error": e.to_string()}),
        }
    }
    json!({"opened": files.len(), "error": null})
}

fn spin(args: SpinArgs) -> Value {
    let until = Instant::now() + Duration::from_secs_f64(args.seconds.clamp(0.0, 86_400.0));
    let threads: Vec<_> = (0..args.threads.clamp(1, 64))
        .map(|_| {
            std::thread::spawn(move || {
                let mut x = 0u64;
                while Instant::now() < until {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    json!({"spun_ms": args.seconds * 1000.0})
}

fn flood(args: FloodArgs) -> Value {
    let line = format!("{}\n", "f".repeat(1023));
    let lines = u64::from(args.mib) * 1024;
    let mut written = 0u64;
    for _ in 0..lines {
        if args.stdout {
            let _ = std::io::stdout().write_all(line.as_bytes());
            written += 1024;
        }
        if args.stderr {
            let _ = std::io::stderr().write_all(line.as_bytes());
            written += 1024;
        }
    }
    let _ = std::io::stdout().flush();
    json!({"written_bytes": written})
}

async fn hook_fault(
    event: HookEvent,
    _cx: HookContext,
) -> Result<Decision, plugwire_sdk::BoxError> {
    match event.name.as_str() {
        "faulty.hang" => std::future::pending().await,
        "faulty.error" => Err("the faulty hook failed, as asked".into()),
        "faulty.deny" => Ok(Decision::deny("denied by faulty, as asked")),
        "faulty.crash" => std::process::exit(6),
        _ => Ok(Decision::Continue),
    }
}

/// The plugin (after any bootstrap fault that goes on to serve).
pub fn plugin() -> Plugin {
    Plugin::new("faulty", env!("CARGO_PKG_VERSION"))
        .description("Misbehaves on request, for tests")
        .config_with(|value| {
            let config: Config = serde_json::from_value(value.clone())
                .map_err(|e| ConfigError::new("", e.to_string()))?;
            if config.reject {
                return Err(ConfigError::new("/reject", "rejected on purpose, as asked"));
            }
            if config.crash_on_configure {
                eprintln!("faulty: crashing during Configure, as asked");
                std::process::exit(5);
            }
            Ok(config)
        })
        .tool(Tool::new(
            "crash",
            "Exits (or aborts) in the middle of the call",
            |args: CrashArgs, _cx: ToolContext| async move {
                eprintln!("faulty: crashing during a call, as asked");
                if args.abort {
                    std::process::abort();
                }
                std::process::exit(args.code);
                #[allow(unreachable_code)]
                Ok::<(), ToolError>(())
            },
        ))
        .tool(Tool::new(
            "hang",
            "Never answers and ignores cancellation",
            |_: NoArgs, _cx: ToolContext| async move {
                std::future::pending::<Result<(), ToolError>>().await
            },
        ))
        .tool(blocking_tool(
            "flood",
            "Writes `mib` MiB to stdout and/or stderr",
            flood,
        ))
        .tool(blocking_tool(
            "fork_bomb",
            "Starts processes until it cannot (or `max`)",
            fork_bomb,
        ))
        .tool(blocking_tool(
            "alloc",
            "Allocates and touches memory until it cannot (or `max` MiB)",
            alloc,
        ))
        .tool(blocking_tool(
            "open_files",
            "Opens files until it cannot (or `max`)",
            open_files,
        ))
        .tool(blocking_tool(
            "spin",
            "Burns CPU for `seconds` on `threads` threads",
            spin,
        ))
        .tool(Tool::new(
            "call_host",
            "Calls a tool through the host and returns its result (for call-depth tests)",
            |args: CallHostArgs, cx: ToolContext| async move {
                let host = cx.host().map_err(ToolError::new)?;
                let out = host
                    .call_tool(&args.tool, args.arguments)
                    .await
                    .map_err(ToolError::status)?;
                if out.is_error {
                    Err(ToolError::with_content(out.content))
                } else {
                    Ok(out.content)
                }
            },
        ))
        .hook(Hook::intercept("faulty.*", hook_fault))
        .hook(Hook::observe(
            "faulty.slow",
            |_e: HookEvent, _cx: HookContext| async {
                tokio::time::sleep(Duration::from_millis(500)).await;
                Ok(())
            },
        ))
}

#[cfg(test)]
mod tests {
    use plugwire_sdk::testing::TestHost;

    use super::*;

    #[tokio::test]
    async fn bounded_hogs_report_what_they_took() {
        let host = TestHost::start(plugin()).await.unwrap();
        let out = host
            .call_tool("open_files", json!({"max": 10}))
            .await
            .unwrap();
        assert_eq!(out.content, json!({"opened": 10, "error": null}));
        let out = host.call_tool("alloc", json!({"max": 32})).await.unwrap();
        assert_eq!(out.content, json!({"allocated_mib": 32}));
        let out = host
            .call_tool("spin", json!({"seconds": 0.05}))
            .await
            .unwrap();
        assert_eq!(out.content, json!({"spun_ms": 50.0}));
        host.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn hook_faults_by_event_name() {
        let host = TestHost::start(plugin()).await.unwrap();
        assert_eq!(
            host.intercept("faulty.deny", json!({})).await.unwrap(),
            Decision::deny("denied by faulty, as asked")
        );
        let err = host.intercept("faulty.error", json!({})).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Internal);
        assert_eq!(
            host.intercept("faulty.fine", json!({})).await.unwrap(),
            Decision::Continue
        );
        host.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn configure_can_be_rejected_with_a_pointer() {
        let err = match TestHost::builder()
            .config(json!({"reject": true}))
            .start(plugin())
            .await
        {
            Err(e) => e.to_string(),
            Ok(_) => panic!("the configuration should be rejected"),
        };
        assert!(err.contains("config /reject: rejected on purpose"), "{err}");
        let err = match TestHost::builder()
            .config(json!({"nope": 1}))
            .start(plugin())
            .await
        {
            Err(e) => e.to_string(),
            Ok(_) => panic!("unknown fields should be rejected"),
        };
        assert!(err.contains("unknown field `nope`"), "{err}");
    }

    #[test]
    fn every_mode_parses() {
        for (name, mode) in BootstrapFault::ALL {
            assert_eq!(BootstrapFault::parse(name), Some(mode));
        }
    }
}

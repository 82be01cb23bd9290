//! The host suite (`plugwire-conformance --host CMD`): checks a host, where
//! the rest of the suite checks a plugin. It writes a plugin directory
//! holding the probe (this very executable, run with `--probe`), runs the
//! host command, which must start the probe and call its `observe` tool,
//! finds the probe's answer in what the command printed, and judges the
//! host's MUSTs as the plugin saw them: its environment, its runtime
//! directory, the order of the RPCs, the call's deadline.

pub mod probe;

use std::process::Stdio;
use std::time::{Duration, Instant};

use plugwire_proto::constants::{MAGIC_COOKIE_VALUE, SUPPORTED_APP_VERSIONS};
use serde_json::Value;
use tokio::io::AsyncReadExt as _;

use crate::report::{Outcome, Report, Status};
use probe::{CANARY, EVENTS, MARKER, OBSERVE, PROBE_NAME};

/// The probe's executable inside its plugin directory.
const PROBE_EXECUTABLE: &str = "plugwire-probe";
/// What is kept of the host command's output.
const MAX_OUTPUT: u64 = 1024 * 1024;

/// One host check: its id, the requirement and how the probe's answer is
/// judged.
struct HostCheck {
    id: &'static str,
    requirement: &'static str,
    judge: fn(&Value) -> Result<(), String>,
}

/// Every host check, in report order.
const HOST_CHECKS: &[HostCheck] = &[
    HostCheck {
        id: "host/cookie",
        requirement: "PW-BOOT-1",
        judge: cookie,
    },
    HostCheck {
        id: "host/versions-offered",
        requirement: "PW-BOOT-3",
        judge: versions_offered,
    },
    HostCheck {
        id: "host/environment-allow-list",
        requirement: "PW-BOOT-10",
        judge: environment_allow_list,
    },
    HostCheck {
        id: "host/runtime-dir",
        requirement: "PW-BOOT-11",
        judge: runtime_dir,
    },
    HostCheck {
        id: "host/health-first",
        requirement: "PW-HS-1",
        judge: health_first,
    },
    HostCheck {
        id: "host/handshake-once",
        requirement: "PW-HS-1",
        judge: handshake_once,
    },
    HostCheck {
        id: "host/configure-before-calls",
        requirement: "PW-CFG-1",
        judge: configure_before_calls,
    },
    HostCheck {
        id: "host/call-deadline",
        requirement: "PW-DL-1",
        judge: call_deadline,
    },
    HostCheck {
        id: "host/host-service-gated",
        requirement: "PW-HOST-3",
        judge: host_service_gated,
    },
    HostCheck {
        id: "host/shutdown-first",
        requirement: "PW-SHUT-4",
        judge: shutdown_first,
    },
];

/// The host checks' ids and requirements, in report order.
///
/// ```
/// let checks = plugwire_conformance::host_suite::checks();
/// assert!(checks.contains(&("host/environment-allow-list", "PW-BOOT-10")));
/// ```
pub fn checks() -> Vec<(&'static str, &'static str)> {
    HOST_CHECKS.iter().map(|c| (c.id, c.requirement)).collect()
}

/// Runs `command` (through `sh -c`) with `{plugins}` replaced by a directory
/// that holds the probe's plugin directory (made around a copy of `probe`,
/// the `plugwire-conformance` executable), `{plugin}` by that directory and
/// `{executable}` by the probe's executable, and judges what the probe saw.
/// The command must start the probe as a plugin and call its tool
/// `observe`, printing the result; it gets `timeout` to finish. `Err` means
/// the suite could not run at all.
///
/// ```no_run
/// # async fn f() -> Result<(), String> {
/// let report = plugwire_conformance::host_suite::check_host(
///     "plugwire --no-standard-dirs --plugin-dir {plugins} --sandbox none call plugwire-probe.observe",
///     "target/debug/plugwire-conformance".as_ref(),
///     std::time::Duration::from_secs(60),
/// )
/// .await?;
/// print!("{}", report.summary());
/// # Ok(()) }
/// ```
pub async fn check_host(
    command: &str,
    probe: &std::path::Path,
    timeout: Duration,
) -> Result<Report, String> {
    let started = Instant::now();
    let plugins = probe_plugins(probe)?;
    let plugin = plugins.path().join(PROBE_NAME);
    let command = command
        .replace("{plugins}", &plugins.path().display().to_string())
        .replace("{plugin}", &plugin.display().to_string())
        .replace(
            "{executable}",
            &plugin.join(PROBE_EXECUTABLE).display().to_string(),
        );
    let events = plugins.path().join("events");
    let ran = run(&command, &events, timeout).await?;
    let elapsed = started.elapsed();
    let outcomes = match find_observation(&ran.stdout) {
        Some(mut seen) => {
            seen["stop_events"] = stop_events(&events).await;
            HOST_CHECKS
                .iter()
                .map(|c| outcome(c, (c.judge)(&seen), elapsed))
                .collect()
        }
        None => {
            let why = format!(
                "the host command printed no answer of the probe's `{OBSERVE}` tool ({}); \
                 it must start the probe plugin and call `{PROBE_NAME}.{OBSERVE}`, printing the result.\n  command: {command}\n  stderr: {}",
                ran.status,
                tail(&ran.stderr)
            );
            HOST_CHECKS
                .iter()
                .map(|c| outcome(c, Err(why.clone()), elapsed))
                .collect()
        }
    };
    Ok(Report { outcomes })
}

fn outcome(check: &HostCheck, result: Result<(), String>, duration: Duration) -> Outcome {
    let (status, message) = match result {
        Ok(()) => (Status::Passed, String::new()),
        Err(why) => match why.strip_prefix("n/a: ") {
            Some(why) => (Status::NotApplicable, why.to_owned()),
            None => (Status::Failed, why),
        },
    };
    Outcome {
        id: check.id,
        requirement: check.requirement,
        status,
        message,
        duration,
    }
}

/// A directory of plugins holding only the probe: its manifest and a copy
/// of the executable `exe` (a host may refuse an executable outside the
/// plugin's directory).
fn probe_plugins(exe: &std::path::Path) -> Result<tempfile::TempDir, String> {
    use std::os::unix::fs::PermissionsExt as _;
    let root = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = root.path().join(PROBE_NAME);
    let io = |e: std::io::Error| format!("cannot write the probe plugin in {}: {e}", dir.display());
    std::fs::create_dir(&dir).map_err(io)?;
    // A sandboxed plugin may run as another user, who must reach it.
    for path in [root.path(), dir.as_path()] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
    }
    std::fs::copy(exe, dir.join(PROBE_EXECUTABLE))
        .map_err(|e| format!("cannot copy the probe {}: {e}", exe.display()))?;
    std::fs::write(
        dir.join("plugin.toml"),
        format!(
            "name = \"{PROBE_NAME}\"\nversion = \"{}\"\ndescription = \"plugwire's host conformance probe\"\n\
             [run]\nexecutable = \"{PROBE_EXECUTABLE}\"\nargs = [\"--probe\"]\nenv = {{ {EVENTS} = {:?} }}\n\
             [protocol]\nversions = [1]\n",
            env!("CARGO_PKG_VERSION"),
            root.path().join("events").display().to_string()
        ),
    )
    .map_err(io)?;
    Ok(root)
}

struct Ran {
    status: String,
    stdout: String,
    stderr: String,
}

/// Runs the host command with the canary in its environment, under the
/// deadline (its whole process group is killed at the end of it).
async fn run(command: &str, events: &std::path::Path, timeout: Duration) -> Result<Ran, String> {
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .env(CANARY, "the host passed its own environment on")
        .env(EVENTS, events)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run sh -c {command:?}: {e}"))?;
    let pgid = child.id();
    let mut stdout = child.stdout.take().expect("piped").take(MAX_OUTPUT);
    let mut stderr = child.stderr.take().expect("piped").take(MAX_OUTPUT);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let finished = tokio::time::timeout(timeout, async {
        let _ = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        child.wait().await
    })
    .await;
    if let Some(pgid) = pgid {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pgid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let status = match finished {
        Ok(Ok(status)) => status.to_string(),
        Ok(Err(e)) => format!("waiting for it failed: {e}"),
        Err(_) => format!("killed after {timeout:?}"),
    };
    Ok(Ran {
        status,
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
    })
}

/// The probe's answer in a host's output: a JSON object with the marker,
/// on a line of its own or as a string inside a line's JSON object (a host
/// that prints a tool result as JSON text).
fn find_observation(stdout: &str) -> Option<Value> {
    fn probe_answer(value: &Value) -> Option<Value> {
        match value {
            Value::Object(map) if map.contains_key(MARKER) => Some(value.clone()),
            Value::Object(map) => map.values().find_map(probe_answer),
            Value::String(text) if text.contains(MARKER) => serde_json::from_str::<Value>(text)
                .ok()
                .as_ref()
                .and_then(probe_answer),
            _ => None,
        }
    }
    let whole = serde_json::from_str::<Value>(stdout.trim()).ok();
    whole.as_ref().and_then(probe_answer).or_else(|| {
        stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
            .find_map(|v| probe_answer(&v))
    })
}

fn tail(text: &str) -> String {
    let start = text.len().saturating_sub(1024);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    plugwire_proto::text::escape_controls(text[start..].trim()).into_owned()
}

fn rpcs(seen: &Value) -> Vec<&str> {
    seen["rpcs"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn cookie(seen: &Value) -> Result<(), String> {
    match seen["cookie"].as_str() {
        Some(MAGIC_COOKIE_VALUE) => Ok(()),
        other => Err(format!(
            "PLUGWIRE_PLUGIN was {other:?}, expected {MAGIC_COOKIE_VALUE:?}"
        )),
    }
}

fn versions_offered(seen: &Value) -> Result<(), String> {
    let raw = seen["versions"].as_str().unwrap_or_default();
    let parsed: Option<Vec<u32>> = raw.split(',').map(|v| v.trim().parse().ok()).collect();
    match parsed {
        Some(versions) if versions.iter().any(|v| SUPPORTED_APP_VERSIONS.contains(v)) => Ok(()),
        _ => Err(format!(
            "PLUGIN_PROTOCOL_VERSIONS was {raw:?}: expected comma-separated versions including 1"
        )),
    }
}

fn environment_allow_list(seen: &Value) -> Result<(), String> {
    if seen["canary_visible"] == Value::Bool(false) {
        Ok(())
    } else {
        Err(format!(
            "{CANARY}, set in the host's own environment, reached the plugin: a host MUST build \
             its plugins' environment from an allow-list and not pass its own through"
        ))
    }
}

fn runtime_dir(seen: &Value) -> Result<(), String> {
    let dir = &seen["socket_dir"];
    if dir.is_null() {
        return Err("PLUGIN_UNIX_SOCKET_DIR was not set: a host MUST give each plugin instance a fresh 0700 directory of its own".into());
    }
    if dir["socket_path_len"].as_u64() > dir["max_socket_path_len"].as_u64() {
        return Err(format!(
            "PLUGIN_UNIX_SOCKET_DIR {} is too long: <dir>/plugin.sock is {} bytes, a Unix socket address holds {}",
            dir["path"], dir["socket_path_len"], dir["max_socket_path_len"]
        ));
    }
    match (dir["mode"].as_str(), dir["owner_is_me"].as_bool()) {
        (Some("700"), Some(true)) => Ok(()),
        (Some(mode), owner) => Err(format!(
            "PLUGIN_UNIX_SOCKET_DIR {} has mode {mode}{}: expected 0700, owned by the user the plugin runs as",
            dir["path"],
            if owner == Some(true) {
                ""
            } else {
                " and another owner"
            }
        )),
        _ => Err(format!(
            "PLUGIN_UNIX_SOCKET_DIR {}: {}",
            dir["path"], dir["error"]
        )),
    }
}

fn health_first(seen: &Value) -> Result<(), String> {
    match rpcs(seen).first() {
        Some(&"health") => Ok(()),
        other => Err(format!(
            "the first RPC was {other:?}: the host checks health before the handshake"
        )),
    }
}

fn handshake_once(seen: &Value) -> Result<(), String> {
    let order = rpcs(seen);
    let first = order.iter().find(|r| **r != "health");
    if first != Some(&"handshake") {
        return Err(format!(
            "the first plugwire RPC was {first:?}, expected Handshake (RPCs: {order:?})"
        ));
    }
    let count = order.iter().filter(|r| **r == "handshake").count();
    if count != 1 {
        return Err(format!(
            "Handshake was called {count} times, expected once per process"
        ));
    }
    let hs = &seen["handshakes"][0];
    if hs["protocol_version"] != 1 {
        return Err(format!(
            "Handshake's protocol_version was {}, the version the probe printed is 1",
            hs["protocol_version"]
        ));
    }
    if hs["plugin_name"] != PROBE_NAME {
        return Err(format!(
            "Handshake's plugin_name was {}, the manifest's name is {PROBE_NAME:?}",
            hs["plugin_name"]
        ));
    }
    if hs["instance_id"].as_str().is_none_or(str::is_empty) {
        return Err("Handshake's instance_id was empty".into());
    }
    Ok(())
}

fn configure_before_calls(seen: &Value) -> Result<(), String> {
    let order = rpcs(seen);
    let at = |name: &str| order.iter().position(|r| *r == name);
    let count = order.iter().filter(|r| **r == "configure").count();
    let call = order.iter().position(|r| r.starts_with("call_tool:"));
    match (at("handshake"), at("configure"), call) {
        (_, None, _) => Err(format!(
            "Configure was never called before the tool call (RPCs: {order:?})"
        )),
        (Some(h), Some(c), Some(t)) if h < c && c < t && count == 1 => {
            let config = seen["configs"][0].as_str().unwrap_or_default();
            match serde_json::from_str::<Value>(config) {
                Ok(Value::Object(_)) => Ok(()),
                _ => Err(format!(
                    "Configure's config_json was {config:?}: expected a JSON object (`{{}}` when there is none)"
                )),
            }
        }
        _ => Err(format!(
            "expected Handshake, then Configure once, then calls; the RPCs were {order:?}"
        )),
    }
}

fn call_deadline(seen: &Value) -> Result<(), String> {
    if seen["deadline"].is_null() {
        return Err(
            "the tool call carried no grpc-timeout: every call the host makes has a deadline"
                .into(),
        );
    }
    let calls: Vec<&str> = seen["undeadlined"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if calls.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "these calls carried no grpc-timeout: {}; every call the host makes has a deadline",
            calls.join(", ")
        ))
    }
}

/// How the probe ended, as it recorded: a list of events, or null when it
/// could not write them. A probe still stopping gets a moment.
async fn stop_events(path: &std::path::Path) -> Value {
    let read = || {
        std::fs::read_to_string(path).ok().map(|text| {
            text.lines()
                .take(16)
                .map(|l| Value::String(l.to_owned()))
                .collect::<Vec<_>>()
        })
    };
    for _ in 0..20 {
        match read() {
            Some(events) if events.iter().any(|e| e != "started") => return Value::Array(events),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    read().map_or(Value::Null, Value::Array)
}

fn shutdown_first(seen: &Value) -> Result<(), String> {
    let Some(events) = seen["stop_events"].as_array() else {
        return Err(format!(
            "n/a: the probe could not record how it ended ({EVENTS} was not writable from inside the plugin, as under a sandbox)"
        ));
    };
    let position = |name: &str| events.iter().position(|e| e == name);
    match (position("shutdown"), position("sigterm")) {
        (Some(s), t) if t.is_none_or(|t| s < t) => Ok(()),
        (_, Some(_)) => Err(
            "the host sent SIGTERM before any Shutdown: PW-SHUT-4 asks Shutdown first, signals after its grace".into(),
        ),
        (_, None) => Err(
            "the probe got neither Shutdown nor SIGTERM before it ended: the host killed it (PW-SHUT-4 asks Shutdown first, then SIGTERM, SIGKILL last)".into(),
        ),
    }
}

fn host_service_gated(seen: &Value) -> Result<(), String> {
    let call = &seen["unpermitted_host_call"];
    if call.is_null() {
        return Err(
            "n/a: the host did not list `host.service`, so the probe did not call it".into(),
        );
    }
    if let Some(error) = call["error"].as_str() {
        return Err(format!(
            "the host listed `host.service`, but the probe could not call it: {error}"
        ));
    }
    let message = call["message"].as_str().unwrap_or_default();
    if call["code"] == "PermissionDenied" && message.contains("host.storage") {
        Ok(())
    } else {
        Err(format!(
            "GetValue from a plugin granted no permission was answered {} {message:?}: expected \
             PERMISSION_DENIED naming `host.storage`",
            call["code"]
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({
            MARKER: 1,
            "cookie": MAGIC_COOKIE_VALUE,
            "versions": "1",
            "canary_visible": false,
            "socket_dir": {"path": "/run/x", "mode": "700", "owner_is_me": true},
            "rpcs": ["health", "handshake", "configure", "list_tools", "call_tool:observe"],
            "handshakes": [{"protocol_version": 1, "plugin_name": PROBE_NAME, "instance_id": "i"}],
            "configs": ["{}"],
            "undeadlined": [],
            "deadline": "30S",
            "unpermitted_host_call": {"code": "PermissionDenied", "message": "plugin lacks host.storage"},
            "stop_events": ["started", "shutdown"],
        })
    }

    #[test]
    fn a_good_host_passes_every_check() {
        for check in HOST_CHECKS {
            assert_eq!((check.judge)(&good()), Ok(()), "{}", check.id);
        }
    }

    #[test]
    fn each_fault_fails_its_check() {
        type Fault = fn(&mut Value);
        let faults: &[(&str, Fault)] = &[
            ("host/cookie", |v| v["cookie"] = Value::Null),
            ("host/versions-offered", |v| v["versions"] = json!("two")),
            ("host/environment-allow-list", |v| {
                v["canary_visible"] = json!(true)
            }),
            ("host/runtime-dir", |v| {
                v["socket_dir"]["mode"] = json!("755")
            }),
            ("host/health-first", |v| {
                v["rpcs"] = json!(["handshake", "health"])
            }),
            ("host/handshake-once", |v| {
                v["rpcs"] = json!([
                    "health",
                    "handshake",
                    "handshake",
                    "configure",
                    "call_tool:observe"
                ])
            }),
            ("host/configure-before-calls", |v| {
                v["rpcs"] = json!(["health", "handshake", "call_tool:observe", "configure"])
            }),
            ("host/call-deadline", |v| v["deadline"] = Value::Null),
            ("host/call-deadline", |v| {
                v["undeadlined"] = json!(["configure"])
            }),
            ("host/host-service-gated", |v| {
                v["unpermitted_host_call"] = json!({"code": "Ok"})
            }),
            ("host/shutdown-first", |v| {
                v["stop_events"] = json!(["started", "sigterm", "shutdown"])
            }),
            ("host/shutdown-first", |v| {
                v["stop_events"] = json!(["started"])
            }),
        ];
        let faulted: std::collections::BTreeSet<_> = faults.iter().map(|(id, _)| *id).collect();
        assert_eq!(faulted.len(), HOST_CHECKS.len(), "a fault for every check");
        for (id, fault) in faults {
            let mut seen = good();
            fault(&mut seen);
            let check = HOST_CHECKS.iter().find(|c| c.id == *id).unwrap();
            assert!((check.judge)(&seen).is_err(), "{id} passed a faulty host");
        }
    }

    #[test]
    fn the_answer_is_found_as_a_line_or_inside_a_json_string() {
        let answer = good().to_string();
        assert!(find_observation(&format!("noise\n{answer}\n")).is_some());
        let wrapped = json!({"tool_result": answer}).to_string();
        assert!(find_observation(&wrapped).is_some());
        assert!(find_observation("{\"other\": 1}").is_none());
    }
}

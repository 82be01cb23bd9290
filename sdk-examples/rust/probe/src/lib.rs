//! The `probe` plugin: its tool `report` describes, from inside, the
//! sandbox it runs in, and tries a list of escapes, reporting each as
//! `"allowed"` or `"denied: <reason>"`. Tests compare the report with and
//! without the sandbox and its permissions.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use plugwire_sdk::{Plugin, Tool, ToolContext, ToolError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Arguments of `report`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportArgs {
    /// A loopback TCP port the caller listens on, to try to reach.
    pub port: Option<u16>,
    /// A directory of the host (such as the user's home) to try to list.
    pub home: Option<String>,
    /// A directory outside the data directory to try to write in.
    pub outside: Option<String>,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn status_field(name: &str) -> String {
    read("/proc/self/status")
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{name}:"))
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_default()
}

fn outcome<T, E: std::fmt::Display>(result: Result<T, E>) -> Value {
    match result {
        Ok(_) => json!("allowed"),
        Err(e) => json!(format!("denied: {e}")),
    }
}

fn errno_outcome(result: libc::c_long) -> Value {
    if result >= 0 {
        json!("allowed")
    } else {
        json!(format!("denied: {}", std::io::Error::last_os_error()))
    }
}

fn cgroup() -> Value {
    let membership = read("/proc/self/cgroup");
    let mut limits = Map::new();
    for (name, path) in [
        ("memory", "/sys/fs/cgroup/memory/memory.limit_in_bytes"),
        ("memory", "/sys/fs/cgroup/memory.max"),
        ("pids", "/sys/fs/cgroup/pids/pids.max"),
        ("pids", "/sys/fs/cgroup/pids.max"),
        ("cpu_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
        ("cpu", "/sys/fs/cgroup/cpu.max"),
    ] {
        let value = read(path);
        if !value.is_empty() {
            limits.insert(name.to_owned(), json!(value.trim()));
        }
    }
    json!({"membership": membership.lines().collect::<Vec<_>>(), "limits": limits})
}

fn mounts() -> Value {
    let mounts: Vec<String> = read("/proc/self/mountinfo")
        .lines()
        .filter_map(|l| {
            let fields: Vec<&str> = l.split(' ').collect();
            let sep = fields.iter().position(|f| *f == "-")?;
            Some(format!(
                "{} {} {}",
                fields.get(4)?,
                fields.get(sep + 1)?,
                fields.get(5)?
            ))
        })
        .collect();
    json!(mounts)
}

fn interfaces() -> Value {
    let names: Vec<String> = read("/proc/net/dev")
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next().map(|n| n.trim().to_owned()))
        .collect();
    json!(names)
}

fn visible_pids() -> Value {
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    json!(pids)
}

/// Tries to trace a child of our own (never another process: attaching to
/// the host would stop it).
fn try_ptrace() -> Value {
    let mut child = match std::process::Command::new("/bin/sleep").arg("5").spawn() {
        Ok(child) => child,
        Err(e) => return json!(format!("untested: cannot start a child to trace: {e}")),
    };
    let pid = child.id() as libc::pid_t;
    // SAFETY: attach to our own child, wait for its stop, detach.
    let result = unsafe {
        let r = libc::ptrace(libc::PTRACE_ATTACH, pid, 0, 0);
        if r == 0 {
            let mut status = 0;
            libc::waitpid(pid, &mut status, libc::__WALL);
            libc::ptrace(libc::PTRACE_DETACH, pid, 0, 0);
        }
        errno_outcome(r)
    };
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn escapes(args: &ReportArgs) -> Value {
    let mut out = Map::new();
    out.insert(
        "read_etc_shadow".into(),
        outcome(std::fs::read("/etc/shadow")),
    );
    if let Some(home) = &args.home {
        out.insert(
            "read_host_home".into(),
            outcome(std::fs::read_dir(home).and_then(|mut d| d.next().transpose())),
        );
    }
    let outside = args.outside.clone().unwrap_or_else(|| "/usr".into());
    let probe_file = Path::new(&outside).join(format!("plugwire-probe-{}", std::process::id()));
    let written = std::fs::write(&probe_file, b"x");
    if written.is_ok() {
        let _ = std::fs::remove_file(&probe_file);
    }
    out.insert("write_outside_data_dir".into(), outcome(written));
    if let Ok(data) = std::env::var("PLUGWIRE_DATA_DIR") {
        let file = Path::new(&data).join("probe-write-test");
        let written = std::fs::write(&file, b"x");
        let _ = std::fs::remove_file(&file);
        out.insert("write_data_dir".into(), outcome(written));
    }
    if let Some(port) = args.port {
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        out.insert(
            "connect_loopback".into(),
            outcome(TcpStream::connect_timeout(&address, Duration::from_secs(1))),
        );
    }
    // SAFETY: each call passes plain integers or valid C strings; failures
    // are read from errno right after.
    unsafe {
        out.insert("ptrace".into(), try_ptrace());
        let dir = c"/tmp";
        let r = libc::mount(
            c"none".as_ptr(),
            dir.as_ptr(),
            c"tmpfs".as_ptr(),
            0,
            std::ptr::null(),
        );
        if r == 0 {
            libc::umount2(dir.as_ptr(), libc::MNT_DETACH);
        }
        out.insert("mount".into(), errno_outcome(r as libc::c_long));
        let fd = libc::open(
            c"/proc/self/ns/net".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        );
        let r = if fd >= 0 {
            libc::setns(fd, libc::CLONE_NEWNET)
        } else {
            -1
        };
        if fd >= 0 {
            libc::close(fd);
        }
        out.insert("setns".into(), errno_outcome(r as libc::c_long));
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max.saturating_add(1),
            rlim_max: limit.rlim_max.saturating_add(1),
        };
        let r = libc::setrlimit(libc::RLIMIT_NOFILE, &raised);
        out.insert("raise_rlimit".into(), errno_outcome(r as libc::c_long));
        let mut params = [0u8; 120];
        let fd = libc::syscall(libc::SYS_io_uring_setup, 4u32, params.as_mut_ptr());
        if fd >= 0 {
            libc::close(fd as i32);
        }
        out.insert("io_uring".into(), errno_outcome(fd));
        let fd = libc::socket(libc::AF_VSOCK, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd >= 0 {
            libc::close(fd);
        }
        out.insert("vsock".into(), errno_outcome(fd as libc::c_long));
    }
    Value::Object(out)
}

fn open_files_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    limit.rlim_cur
}

fn report(args: &ReportArgs) -> Value {
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    let mut hostname = [0u8; 256];
    // SAFETY: gethostname writes at most the buffer's length.
    unsafe { libc::gethostname(hostname.as_mut_ptr().cast(), hostname.len()) };
    let hostname =
        String::from_utf8_lossy(&hostname[..hostname.iter().position(|b| *b == 0).unwrap_or(0)])
            .into_owned();
    json!({
        "uid": uid,
        "uid_map": read("/proc/self/uid_map").trim(),
        "cap_eff": status_field("CapEff"),
        "no_new_privs": status_field("NoNewPrivs") == "1",
        "seccomp": status_field("Seccomp"),
        "cgroup": cgroup(),
        "mounts": mounts(),
        "interfaces": interfaces(),
        "pid": std::process::id(),
        "visible_pids": visible_pids(),
        "hostname": hostname,
        "open_files_limit": open_files_limit(),
        "escapes": escapes(args),
    })
}

/// Arguments of `config`: none.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigArgs {}

/// The plugin.
pub fn plugin() -> Plugin {
    Plugin::new("probe", env!("CARGO_PKG_VERSION"))
        .description("Reports what a plugin can see and do from inside its sandbox")
        // Kept as sent, so that `config` shows what the host merged; logged
        // whole, so that a test sees the host scrub its secrets from logs.
        .config_with(|value: &serde_json::Value| {
            tracing::info!("configured with {value}");
            Ok(value.clone())
        })
        .tool(
            Tool::new(
                "secret_length",
                "The length of the secret `token` the host sent (0 without one), never the value",
                |_args: ConfigArgs, cx: ToolContext| async move {
                    let config = cx.config::<serde_json::Value>();
                    let token = config
                        .as_ref()
                        .and_then(|c| c.get("token")?.as_str().map(str::len));
                    Ok(serde_json::json!(token.unwrap_or(0)))
                },
            )
            .read_only(),
        )
        .tool(
            Tool::new(
                "config",
                "Returns the configuration the host sent in Configure",
                |_args: ConfigArgs, cx: ToolContext| async move {
                    Ok(cx
                        .config::<serde_json::Value>()
                        .map_or(serde_json::Value::Null, |c| (*c).clone()))
                },
            )
            .read_only(),
        )
        .tool(
            Tool::new(
                "report",
                "Describes the sandbox from inside and tries a list of escapes",
                |args: ReportArgs, _cx: ToolContext| async move {
                    tokio::task::spawn_blocking(move || report(&args))
                        .await
                        .map_err(|e| ToolError::new(format!("the probe failed: {e}")))
                },
            )
            .read_only(),
        )
}

#[cfg(test)]
mod tests {
    use plugwire_sdk::testing::TestHost;

    use super::*;

    #[tokio::test]
    async fn reports_every_field_unsandboxed() {
        let host = TestHost::start(plugin()).await.unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let out = host
            .call_tool("report", json!({"port": port}))
            .await
            .unwrap();
        let r = out.content;
        for key in [
            "uid_map",
            "cap_eff",
            "no_new_privs",
            "seccomp",
            "cgroup",
            "mounts",
            "interfaces",
            "pid",
            "visible_pids",
            "escapes",
        ] {
            assert!(r.get(key).is_some(), "{key} missing from {r}");
        }
        // Unsandboxed, the test process's own loopback is reachable.
        assert_eq!(r["escapes"]["connect_loopback"], "allowed");
        host.shutdown().await.unwrap();
    }
}

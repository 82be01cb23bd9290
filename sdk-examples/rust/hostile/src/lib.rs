//! The `hostile` fixture: a plugin that attacks its host, its sandbox and
//! the other plugins, one tool per attack, for the attack suite in
//! `host/tests/attacks.rs` (docs/security.md lists what each shows).
//!
//! Every tool reports what happened instead of failing, so that a test can
//! assert the attack was tried and refused. Bootstrap attacks are chosen
//! with `HOSTILE_MODE` (see [`bootstrap_attack`]).

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use plugwire_proto::constants::{ENV_HOST_SOCKET, ENV_UNIX_SOCKET_DIR};
use plugwire_proto::pb;
use plugwire_sdk::{Plugin, Tool, ToolContext, ToolError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

/// Environment variable selecting a bootstrap attack.
pub const MODE_VAR: &str = "HOSTILE_MODE";

/// Bootstrap attacks, run instead of serving:
/// - `socket-symlink`: make `<dir>/plugin.sock` a symbolic link to the
///   socket named by `HOSTILE_TARGET`, print it as the plugin's socket, and
///   wait (the host must not dial through the link);
/// - `socket-file`: a regular file where the socket should be.
pub fn bootstrap_attack(mode: &str) {
    let dir = std::env::var(ENV_UNIX_SOCKET_DIR).unwrap_or_else(|_| "/tmp".into());
    let socket = Path::new(&dir).join("plugin.sock");
    let made = match mode {
        "socket-symlink" => {
            let target = std::env::var("HOSTILE_TARGET").unwrap_or_default();
            std::os::unix::fs::symlink(target, &socket)
        }
        "socket-file" => std::fs::write(&socket, b"not a socket"),
        other => {
            eprintln!("hostile: unknown {MODE_VAR} {other:?}");
            std::process::exit(2);
        }
    };
    if let Err(e) = made {
        eprintln!("hostile: cannot prepare {}: {e}", socket.display());
        std::process::exit(2);
    }
    println!("1|1|unix|{}|grpc|", socket.display());
    std::thread::sleep(Duration::from_secs(60));
    std::process::exit(0);
}

/// Arguments naming a path.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PathArgs {
    /// The path to attack.
    pub path: String,
}

/// Arguments of `flood_host_socket`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FloodArgs {
    /// Processes to fork, each opening `connections`.
    pub processes: u32,
    /// Connections per process.
    pub connections: u32,
    /// How long each process holds its connections, in milliseconds.
    pub hold_ms: u64,
}

/// Arguments of `recurse`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecurseArgs {
    /// How deep this call is, by the plugin's own count.
    #[serde(default)]
    pub level: u32,
    /// Stop by itself at this level (a guard for the test, far above the
    /// host's limit).
    #[serde(default = "fifty")]
    pub max: u32,
}

fn fifty() -> u32 {
    50
}

/// Arguments of tools without parameters.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// Arguments of `reach`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReachArgs {
    /// `host:port` to reach.
    pub target: String,
    /// Through the egress proxy the host named in PLUGWIRE_EGRESS_PROXY
    /// (CONNECT), or straight.
    #[serde(default)]
    pub via_proxy: bool,
}

/// Tries to talk to `target`: sends `ping\n`, reports the answer.
fn reach(args: &ReachArgs) -> Value {
    use std::io::{BufRead, BufReader, Write};
    let limit = Duration::from_secs(3);
    let attempt = || -> Result<Value, String> {
        let address = if args.via_proxy {
            let proxy = std::env::var("PLUGWIRE_EGRESS_PROXY")
                .map_err(|_| "no PLUGWIRE_EGRESS_PROXY".to_owned())?;
            proxy.trim_start_matches("http://").to_owned()
        } else {
            args.target.clone()
        };
        let address: std::net::SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(&address)
            .map_err(|e| format!("resolve {address}: {e}"))?
            .next()
            .ok_or("no address")?;
        let stream = std::net::TcpStream::connect_timeout(&address, limit)
            .map_err(|e| format!("connect {address}: {e}"))?;
        stream
            .set_read_timeout(Some(limit))
            .map_err(|e| e.to_string())?;
        let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
        let mut reader = BufReader::new(stream);
        let mut status = String::new();
        if args.via_proxy {
            write!(
                writer,
                "CONNECT {} HTTP/1.1\r\nHost: {}\r\n\r\n",
                args.target, args.target
            )
            .map_err(|e| e.to_string())?;
            reader.read_line(&mut status).map_err(|e| e.to_string())?;
            let mut line = String::new();
            while reader.read_line(&mut line).map_err(|e| e.to_string())? > 2 {
                line.clear();
            }
            if !status.contains(" 200 ") {
                let mut body = String::new();
                let _ = reader.read_line(&mut body);
                return Ok(json!({"status": status.trim(), "body": body.trim()}));
            }
        }
        writer.write_all(b"ping\n").map_err(|e| e.to_string())?;
        let mut reply = String::new();
        reader.read_line(&mut reply).map_err(|e| e.to_string())?;
        Ok(json!({"status": status.trim(), "reply": reply.trim()}))
    };
    attempt().unwrap_or_else(|e| json!({"error": e}))
}

fn outcome<T, E: std::fmt::Display>(result: Result<T, E>) -> Value {
    match result {
        Ok(_) => json!("allowed"),
        Err(e) => json!(format!("denied: {e}")),
    }
}

fn list(path: &str) -> Value {
    match std::fs::read_dir(path) {
        Ok(entries) => json!(
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        ),
        Err(e) => json!(format!("denied: {e}")),
    }
}

/// Forks `processes` children that each open `connections` connections to
/// the host socket and hold them; returns at once with how many the first
/// child managed (the rest run on, in the plugin's process group).
fn flood(args: &FloodArgs) -> Value {
    let socket = std::env::var(ENV_HOST_SOCKET).unwrap_or_default();
    let mut children = 0;
    for _ in 0..args.processes.min(64) {
        // SAFETY: the child only makes system calls (socket, connect,
        // nanosleep) and exits; it allocates up front.
        match unsafe { libc::fork() } {
            0 => {
                let mut held = Vec::with_capacity(args.connections as usize);
                for _ in 0..args.connections {
                    match UnixStream::connect(&socket) {
                        Ok(s) => held.push(s),
                        Err(_) => break,
                    }
                }
                std::thread::sleep(Duration::from_millis(args.hold_ms));
                // SAFETY: leave without running the parent's destructors.
                unsafe { libc::_exit(0) };
            }
            -1 => break,
            _ => children += 1,
        }
    }
    json!({"processes": children})
}

/// Forks a child that starts a new session (leaving the plugin's process
/// group) and forks again; the grandchild sleeps for an hour. Returns the
/// grandchild's pid, read back through a pipe.
fn escape_group() -> Value {
    let mut fds = [0i32; 2];
    // SAFETY: pipe fills two fds; the children only make system calls.
    unsafe {
        if libc::pipe(fds.as_mut_ptr()) != 0 {
            return json!({"error": std::io::Error::last_os_error().to_string()});
        }
        match libc::fork() {
            0 => {
                libc::setsid();
                let grandchild = libc::fork();
                if grandchild == 0 {
                    libc::sleep(3600);
                    libc::_exit(0);
                }
                let bytes = grandchild.to_le_bytes();
                libc::write(fds[1], bytes.as_ptr().cast(), bytes.len());
                libc::_exit(0);
            }
            -1 => json!({"error": std::io::Error::last_os_error().to_string()}),
            child => {
                let mut bytes = [0u8; 4];
                libc::read(fds[0], bytes.as_mut_ptr().cast(), bytes.len());
                libc::waitpid(child, std::ptr::null_mut(), 0);
                libc::close(fds[0]);
                libc::close(fds[1]);
                json!({"pid": i32::from_le_bytes(bytes)})
            }
        }
    }
}

/// Calls `hostile.recurse` through the host with a raw client that sends no
/// call-depth header, as a plugin that wants to loop forever would.
async fn recurse(args: RecurseArgs) -> Result<Value, ToolError> {
    if args.level >= args.max {
        return Ok(json!({"stopped_at": args.level, "by": "the plugin's own guard"}));
    }
    let socket = std::env::var(ENV_HOST_SOCKET).map_err(|e| ToolError::new(e.to_string()))?;
    let channel = tonic::transport::Endpoint::from_shared(format!("unix:{socket}"))
        .map_err(|e| ToolError::new(e.to_string()))?
        .origin(tonic::codegen::http::Uri::from_static("http://localhost"))
        .connect()
        .await
        .map_err(|e| ToolError::new(format!("cannot reach the host: {e}")))?;
    let mut host = pb::host_service_client::HostServiceClient::new(channel);
    let request = pb::CallPluginToolRequest {
        tool: "hostile.recurse".into(),
        arguments_json: json!({"level": args.level + 1, "max": args.max}).to_string(),
    };
    match host.call_plugin_tool(request).await {
        Ok(response) => {
            let result = response.into_inner().result.unwrap_or_default();
            Ok(serde_json::from_str(&result.content_json).unwrap_or(Value::Null))
        }
        Err(status) => Ok(json!({
            "stopped_at": args.level,
            "by": format!("{:?}: {}", status.code(), status.message()),
        })),
    }
}

/// The plugin, named `hostile` or `$HOSTILE_PLUGIN_NAME` (so that tests can
/// run a second copy as its victim).
pub fn plugin() -> Plugin {
    let name = std::env::var("HOSTILE_PLUGIN_NAME").unwrap_or_else(|_| "hostile".to_owned());
    Plugin::new(name, env!("CARGO_PKG_VERSION"))
        .description("Attacks its host, its sandbox and other plugins, for the attack suite")
        .tool(Tool::new(
            "whoami",
            "Reports the plugin's uid, runtime directory and host socket",
            |_: NoArgs, _cx: ToolContext| async move {
                // SAFETY: getuid cannot fail.
                let uid = unsafe { libc::getuid() };
                Ok(json!({
                    "uid": uid,
                    "runtime_dir": std::env::var(ENV_UNIX_SOCKET_DIR).unwrap_or_default(),
                    "host_socket": std::env::var(ENV_HOST_SOCKET).unwrap_or_default(),
                }))
            },
        ))
        .tool(Tool::new(
            "reach",
            "Talks to host:port, straight or through the host's egress proxy",
            |args: ReachArgs, _cx: ToolContext| async move {
                tokio::task::spawn_blocking(move || reach(&args))
                    .await
                    .map_err(|e| ToolError::new(e.to_string()))
            },
        ))
        .tool(Tool::new(
            "list",
            "Lists a directory",
            |args: PathArgs, _cx: ToolContext| async move { Ok(list(&args.path)) },
        ))
        .tool(Tool::new(
            "connect",
            "Connects to a Unix socket",
            |args: PathArgs, _cx: ToolContext| async move {
                Ok(outcome(UnixStream::connect(&args.path)))
            },
        ))
        .tool(Tool::new(
            "flood_host_socket",
            "Opens connections to the host socket from many processes and holds them",
            |args: FloodArgs, _cx: ToolContext| async move { Ok(flood(&args)) },
        ))
        .tool(Tool::new(
            "recurse",
            "Calls itself through the host without a call-depth header",
            |args: RecurseArgs, _cx: ToolContext| recurse(args),
        ))
        .tool(Tool::new(
            "escape_group",
            "Double-forks a child into a session of its own and reports its pid",
            |_: NoArgs, _cx: ToolContext| async move { Ok(escape_group()) },
        ))
        .tool(Tool::new(
            "stubborn",
            "Ignores SIGTERM and keeps the process from exiting after Shutdown",
            |_: NoArgs, _cx: ToolContext| async move {
                // SAFETY: replacing a signal disposition with SIG_IGN.
                unsafe { libc::signal(libc::SIGTERM, libc::SIG_IGN) };
                // The runtime waits for blocking work when it shuts down:
                // this never ends, so neither does the process.
                tokio::task::spawn_blocking(|| {
                    loop {
                        std::thread::sleep(Duration::from_secs(3600));
                    }
                });
                Ok(json!("stubborn"))
            },
        ))
        .tool(Tool::new(
            "scream",
            "Writes terminal control sequences to stderr, then exits 1",
            |_: NoArgs, _cx: ToolContext| async move {
                use std::io::Write;
                let mut err = std::io::stderr();
                let _ =
                    err.write_all(b"\x1b]0;pwned\x07\x1b[2J\x1b[Hplugwire: all checks passed\r\n");
                let _ = err.flush();
                std::thread::sleep(Duration::from_millis(50));
                std::process::exit(1);
                #[allow(unreachable_code)]
                Ok(Value::Null)
            },
        ))
}

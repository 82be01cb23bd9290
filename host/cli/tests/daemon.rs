//! `plugwire` commands against a running `plugwire serve`, compared with
//! the same commands run in-process (`--no-daemon`): same output, same
//! exit codes. And the changes commands make on disk (install, remove)
//! reaching the daemon's live host.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{copy_dir, examples};

/// A daemon with its own runtime, configuration and data directories.
struct Served {
    home: tempfile::TempDir,
    /// `PLUGWIRE_PLUGIN_PATH` for the daemon and every command.
    plugins: PathBuf,
    child: Child,
}

impl Served {
    fn start(extra: &[&str]) -> Self {
        let mut args = vec!["--yes"];
        args.extend(extra);
        Self::start_over(&examples(), &args)
    }

    fn start_over(plugins: &Path, extra: &[&str]) -> Self {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join("run")).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_plugwire"));
        Self::environment(&mut command, home.path(), plugins);
        let child = command
            .args(["serve", "--sandbox", "none"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let served = Self {
            home,
            plugins: plugins.to_owned(),
            child,
        };
        let socket = served.socket();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "the daemon did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        served
    }

    fn environment(command: &mut Command, home: &Path, plugins: &Path) {
        command
            .current_dir(home)
            .env("XDG_RUNTIME_DIR", home.join("run"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("PLUGWIRE_PLUGIN_PATH", plugins)
            .env_remove("PLUGWIRE_SOCKET")
            .env_remove("PLUGWIRE_SANDBOX");
    }

    fn socket(&self) -> PathBuf {
        self.home.path().join("run/plugwire/daemon.sock")
    }

    /// `plugwire ARGS` as a user would type it: through the daemon.
    fn plugwire(&self, args: &[&str], stdin: &[u8]) -> Output {
        self.command(&[], args, stdin)
    }

    /// The same command with a host of its own, configured like the
    /// daemon's.
    fn in_process(&self, args: &[&str], stdin: &[u8]) -> Output {
        self.command(&["--no-daemon", "--sandbox", "none", "--yes"], args, stdin)
    }

    fn command(&self, global: &[&str], args: &[&str], stdin: &[u8]) -> Output {
        use std::io::Write;
        let mut command = Command::new(env!("CARGO_BIN_EXE_plugwire"));
        Self::environment(&mut command, self.home.path(), &self.plugins);
        let mut child = command
            .args(global)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
    }
}

/// What may differ between two runs of one command: process ids, times,
/// memory and CPU readings, counters of earlier calls.
fn steady(text: &str) -> String {
    let volatile = [
        "pid",
        "uptime_ms",
        "startup_ms",
        "memory_bytes",
        "cpu_ms",
        "calls",
        "errors",
        "id",
        "time",
    ];
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(mut value) => {
            scrub(&mut value, &volatile);
            serde_json::to_string_pretty(&value).unwrap()
        }
        // `info`: the running line is all readings.
        Err(_) if !text.starts_with("PLUGIN") => text
            .lines()
            .map(|l| {
                if l.starts_with("  running: ") {
                    "  running: ..."
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n"),
        // A table: drop the PID and STARTUP columns.
        Err(_) => text
            .lines()
            .map(|l| {
                let cells: Vec<&str> = l.split_whitespace().collect();
                if cells.len() >= 6 && (cells[4].parse::<u32>().is_ok() || cells[4] == "PID") {
                    let mut kept = cells[..4].to_vec();
                    kept.extend(&cells[cells.len().min(7)..]);
                    kept.join(" ")
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

fn scrub(value: &mut serde_json::Value, keys: &[&str]) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if keys.contains(&k.as_str()) {
                    *v = serde_json::Value::Null;
                } else {
                    scrub(v, keys);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| scrub(v, keys)),
        _ => {}
    }
}

#[test]
fn every_command_prints_the_same_through_the_daemon() {
    let served = Served::start(&[]);
    let status = served.plugwire(&["status"], b"");
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("daemon: running at"), "{text}");
    let local = served.in_process(&["status"], b"");
    assert!(String::from_utf8_lossy(&local.stdout).contains("not in use (--no-daemon)"));

    let cases: &[(&[&str], &[u8])] = &[
        (&["list", "--start"], b""),
        (&["--json", "list", "--start"], b""),
        (&["tools"], b""),
        (&["--json", "tools"], b""),
        (&["info", "echo"], b""),
        (&["--json", "info", "echo"], b""),
        (&["info", "nope"], b""),
        (&["call", "echo.echo", r#"{"text":"both ways"}"#], b""),
        (&["--json", "call", "echo.echo", r#"{"text":"x"}"#], b""),
        (&["call", "echo.echo", "-"], br#"{"text":"from stdin"}"#),
        (&["call", "echo.echo", r#"{"text":5}"#], b""),
        (&["call", "echo.nope"], b""),
        (&["call", "echo.fail", r#"{"message":"on purpose"}"#], b""),
        (&["call", "echo.slow", "{}", "--progress"], b""),
        (&["run", "wc", "--words"], b"one two three four\n"),
        (&["run", "wc", "--lines"], b"a\nb\n"),
        (&["run", "nope"], b""),
        (&["emit", "request.before", r#"{"password":"x"}"#], b""),
        (
            &["--json", "emit", "request.before", r#"{"user":"y"}"#],
            b"",
        ),
        (&["config", "probe"], b""),
    ];
    for (args, stdin) in cases {
        let daemon = served.plugwire(args, stdin);
        let local = served.in_process(args, stdin);
        // The host's own diagnostics go to the stderr of whichever
        // process runs it: the daemon's log, or this command's.
        let show = |o: &Output| {
            let stderr = String::from_utf8_lossy(&o.stderr)
                .lines()
                .filter(|l| !l.contains("Z  WARN plugwire_host"))
                .collect::<Vec<_>>()
                .join("\n");
            format!(
                "exit {:?}\n--- stdout\n{}\n--- stderr\n{stderr}",
                o.status.code(),
                steady(&String::from_utf8_lossy(&o.stdout)),
            )
        };
        assert_eq!(
            show(&daemon),
            show(&local),
            "`plugwire {}` differs (left: daemon, right: in-process)",
            args.join(" ")
        );
    }
    // Logs: both ways they are the plugins' records, in the same format.
    for out in [
        served.plugwire(&["logs", "echo"], b""),
        served.in_process(&["logs", "echo"], b""),
    ] {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains("[echo]"), "{text}");
    }
}

#[test]
fn changes_on_disk_reach_the_running_daemon() {
    let plugins = tempfile::tempdir().unwrap();
    copy_dir(&examples().join("kv"), &plugins.path().join("kv"));
    copy_dir(&examples().join("echo"), &plugins.path().join("echo"));
    let served = Served::start_over(plugins.path(), &["--yes"]);
    // Reload: a new process serves the plugin, and calls go on.
    let pid = |served: &Served| {
        let out = served.plugwire(&["--json", "list"], b"");
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        list["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "echo")
            .map(|p| p["pid"].clone())
            .unwrap()
    };
    let before = pid(&served);
    let out = served.plugwire(&["reload", "echo"], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(pid(&served), before);

    // Install a plugin the daemon does not have: it serves it at once.
    let out = served.plugwire(
        &["install", examples().join("probe").to_str().unwrap()],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let call = |served: &Served| served.plugwire(&["call", "probe.config"], b"");
    let out = call(&served);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = served.plugwire(&["disable", "probe"], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = call(&served);
    assert!(!out.status.success(), "a disabled plugin is not called");
    assert!(served.plugwire(&["enable", "probe"], b"").status.success());
    assert!(call(&served).status.success());
    let out = served.plugwire(&["remove", "probe"], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = call(&served);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && text.contains("probe"), "{text}");
}

#[test]
fn watch_reloads_a_plugin_whose_directory_changes() {
    let plugins = tempfile::tempdir().unwrap();
    copy_dir(&examples().join("echo"), &plugins.path().join("echo"));
    let served = Served::start_over(plugins.path(), &["--yes", "--watch"]);
    let pid = |served: &Served| {
        let out = served.plugwire(&["--json", "info", "echo"], b"");
        let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        info["status"]["pid"].clone()
    };
    let before = pid(&served);
    assert!(before.is_u64());
    // A new description, as an editor would save it.
    let path = plugins.path().join("echo/plugin.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen("description = \"", "description = \"Edited. ", 1),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = served.plugwire(&["info", "echo"], b"");
        if String::from_utf8_lossy(&out.stdout).contains("Edited.") {
            break;
        }
        assert!(Instant::now() < deadline, "not reloaded after the edit");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_ne!(pid(&served), before, "a new process serves it");
}

/// A request to the daemon's API over its socket, as another program
/// would make it.
fn api(
    served: &Served,
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value, plugwire_daemon::api::ApiError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = plugwire_daemon::Client::connect(&served.socket()).await?;
        let method = hyper::Method::from_bytes(method.as_bytes()).unwrap();
        client.send(method, path, Some(&body)).await
    })
}

#[test]
fn packages_are_installed_and_updated_through_the_api() {
    let work = tempfile::tempdir().unwrap();
    let plugins = work.path().join("plugins");
    copy_dir(&examples().join("kv"), &plugins.join("kv"));
    // No --yes: what a plugin requests must be granted.
    let served = Served::start_over(&plugins, &[]);
    let ok = |out: Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let site = work.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    let echo = work.path().join("echo");
    copy_dir(&examples().join("echo"), &echo);
    let pack = |served: &Served| {
        ok(served.plugwire(
            &["pack", echo.to_str().unwrap(), "-o", site.to_str().unwrap()],
            b"",
        ));
        ok(served.plugwire(&["index", "build", site.to_str().unwrap()], b""));
    };
    pack(&served);
    ok(served.plugwire(&["index", "add", "local", site.to_str().unwrap()], b""));

    // By name, from the index: installed, then started by the daemon.
    let body = serde_json::json!({"source": "echo", "allow_unsigned": true});
    let outcome = api(&served, "POST", "/v1/packages", body).unwrap();
    assert_eq!(outcome[0]["installed"]["version"], "0.1.0", "{outcome}");
    assert_eq!(outcome[0]["status"]["state"], "ready", "{outcome}");
    let out = ok(served.plugwire(&["call", "echo.echo", r#"{"text":"installed"}"#], b""));
    assert_eq!(out.trim(), "installed");

    // A newer version in the index: updated, checked, reloaded.
    let manifest = std::fs::read_to_string(echo.join("plugin.toml")).unwrap();
    std::fs::write(
        echo.join("plugin.toml"),
        manifest.replacen("version = \"0.1.0\"", "version = \"0.2.0\"", 1),
    )
    .unwrap();
    pack(&served);
    let body = serde_json::json!({"allow_unsigned": true});
    let outcome = api(&served, "POST", "/v1/plugins/echo/update", body.clone()).unwrap();
    assert_eq!(outcome["updated"]["from"], "0.1.0", "{outcome}");
    assert_eq!(outcome["updated"]["to"], "0.2.0", "{outcome}");
    assert_eq!(outcome["status"]["version"], "0.2.0", "{outcome}");
    let again = api(&served, "POST", "/v1/plugins/echo/update", body).unwrap();
    assert!(again["updated"].is_null(), "up to date: {again}");

    // What a plugin requests is not granted by an install that does not
    // say so; `plugwire grant` then reaches the daemon, which restarts it.
    let audit = examples().join("audit");
    let body = serde_json::json!({"source": audit});
    let outcome = api(&served, "POST", "/v1/packages", body).unwrap();
    assert_eq!(outcome[0]["installed"]["granted"], false, "{outcome}");
    let why = outcome[0]["start_error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("not granted"), "{outcome}");
    let out = served.plugwire(&["grant", "audit"], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value =
        serde_json::from_str(&ok(served.plugwire(&["--json", "list"], b""))).unwrap();
    let audit = list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "audit")
        .unwrap();
    assert_eq!(audit["state"], "ready", "{audit}");

    let refused = api(
        &served,
        "POST",
        "/v1/packages",
        serde_json::json!({"source": "nope"}),
    )
    .unwrap_err();
    assert_eq!(refused.code, "failed_precondition");
    assert!(refused.message.contains("nope"), "{refused:?}");
}

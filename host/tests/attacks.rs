//! The attack suite: each test performs one attack from docs/security.md
//! with the `hostile` plugin (or as a hostile local user would) and asserts
//! that it was refused and that the host kept serving.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Plugins, eventually};
use plugwire_host::sandbox::SandboxLevel;
use plugwire_host::{CallOptions, Host};
use serde_json::{Value, json};

async fn call(host: &Host, tool: &str, args: Value) -> Value {
    host.call_tool(tool, args, CallOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
        .content
}

fn root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Where this user's runtime directories are made.
fn runtime_base() -> PathBuf {
    let dir = plugwire_host::launch::runtime_dir().unwrap();
    dir.path().parent().unwrap().to_path_buf()
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Finding 1: a process running as the plugin's uid replaces the sandbox
/// specification in the runtime directory (here: the test plants a spec
/// that runs as root without seccomp, and a FIFO, into every runtime
/// directory as it appears). The launcher never reads a file from there.
#[tokio::test]
async fn a_planted_sandbox_spec_is_never_read() {
    let plugins = Plugins::new(&["probe"]);
    let base = runtime_base();
    let mut evil = plugwire_host::sandbox::example_spec();
    evil.run_as = (0, 0);
    evil.seccomp = false;
    evil.root = None;
    let evil = serde_json::to_string(&evil).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let planter = {
        let stop = stop.clone();
        let base = base.clone();
        std::thread::spawn(move || {
            let mut planted = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for dir in std::fs::read_dir(&base).into_iter().flatten().flatten() {
                    for name in ["sandbox.json", "spec.json"] {
                        let path = dir.path().join(name);
                        if !path.exists() && std::fs::write(&path, &evil).is_ok() {
                            planted += 1;
                        }
                    }
                    let fifo = dir.path().join("sandbox.fifo");
                    let _ =
                        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o666));
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            planted
        })
    };
    for _ in 0..3 {
        let host = Host::start(plugins.config().sandbox(SandboxLevel::Standard))
            .await
            .unwrap();
        let r = call(&host, "probe.report", json!({})).await;
        assert_eq!(r["seccomp"], "2", "still under seccomp: {r}");
        assert_eq!(r["cap_eff"], "0000000000000000");
        if root() {
            assert_ne!(r["uid"], 0, "never root: {r}");
        }
        host.shutdown().await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(planter.join().unwrap() > 0, "the attack ran");
}

/// Finding 1, from the launcher's side: a spec handed over any other way
/// than a sealed memory file (a path, a plain file's descriptor) is refused.
#[test]
fn the_launcher_takes_only_a_sealed_spec() {
    use std::os::unix::process::CommandExt;
    let launcher = env!("CARGO_BIN_EXE_plugwire-launcher");
    let out = std::process::Command::new(launcher)
        .args(["--sandbox", "/tmp/spec.json", "/bin/true"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "an old-style spec path was accepted");

    let mut plain = tempfile::tempfile().unwrap();
    std::io::Write::write_all(
        &mut plain,
        serde_json::to_string(&plugwire_host::sandbox::example_spec())
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&plain);
    let mut command = std::process::Command::new(launcher);
    command.args(["--sandbox-fd", "100", "/bin/true"]);
    // SAFETY: dup2 is async-signal-safe; the child execs right after.
    unsafe {
        command.pre_exec(move || {
            if libc::dup2(fd, 100) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = command.output().unwrap();
    assert_eq!(out.status.code(), Some(127));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a sealed memory file"), "{stderr}");
}

/// Finding 2: a plugin granted `read:` of the directory holding every
/// runtime directory tries to list another plugin's, and to connect to its
/// plugin socket and its host socket.
#[tokio::test]
async fn plugins_cannot_reach_each_other() {
    let plugins = Plugins::new(&["hostile"]);
    plugins.copy_as("hostile", "victim");
    let base = runtime_base();
    let exposed = base.parent().unwrap().display().to_string();
    plugins.edit("hostile", |t| {
        t.replace(
            "[permissions]\n",
            &format!("[permissions]\nread = [{exposed:?}]\n"),
        )
    });
    let host = Host::start(plugins.config().sandbox(SandboxLevel::Standard))
        .await
        .unwrap();
    let me = call(&host, "hostile.whoami", json!({})).await;
    let victim = call(&host, "victim.whoami", json!({})).await;
    if root() {
        assert_ne!(me["uid"], victim["uid"], "each plugin has a uid of its own");
    }
    let victim_dir = victim["runtime_dir"].as_str().unwrap();
    let listing = call(&host, "hostile.list", json!({"path": base})).await;
    let others: Vec<&Value> = listing
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter(|e| {
                    let own = Path::new(me["runtime_dir"].as_str().unwrap());
                    own.file_name().and_then(|n| n.to_str()) != e.as_str()
                })
                .collect()
        })
        .unwrap_or_default();
    assert!(
        others.is_empty(),
        "no other runtime directory is visible: {listing}"
    );
    let listed = call(&host, "hostile.list", json!({"path": victim_dir})).await;
    assert!(
        listed.as_str().is_some_and(|s| s.starts_with("denied")),
        "{listed}"
    );
    for socket in ["plugin.sock", "host.sock"] {
        let path = format!("{victim_dir}/{socket}");
        let outcome = call(&host, "hostile.connect", json!({"path": path})).await;
        assert!(
            outcome.as_str().unwrap().starts_with("denied"),
            "{socket}: {outcome}"
        );
    }
    // The victim still serves.
    call(&host, "victim.whoami", json!({})).await;
    host.shutdown().await;
}

/// Finding 3: a plugin with no permissions opens thousands of connections
/// to its host socket from many processes. The host holds at most a few,
/// and starts and serves another plugin meanwhile.
#[tokio::test]
async fn a_host_socket_flood_cannot_exhaust_the_host() {
    let plugins = Plugins::new(&["hostile", "echo"]);
    let host = plugins.host().await;
    call(&host, "hostile.whoami", json!({})).await;
    let before = open_fds();
    let flood = call(
        &host,
        "hostile.flood_host_socket",
        json!({"processes": 30, "connections": 200, "hold_ms": 4000}),
    )
    .await;
    assert_eq!(flood["processes"], 30, "{flood}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during = open_fds();
    assert!(
        during < before + 64,
        "the host holds {during} fds during the flood (had {before})"
    );
    let out = call(&host, "echo.echo", json!({"text": "still here"})).await;
    assert_eq!(out, "still here");
    host.shutdown().await;
}

/// Finding 4: the plugin makes its socket path a symbolic link to another
/// program's socket. The host refuses to dial it.
#[tokio::test]
async fn the_host_never_dials_through_a_link() {
    let plugins = Plugins::new(&["hostile"]);
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("victim.sock");
    let listener = std::os::unix::net::UnixListener::bind(&target).unwrap();
    listener.set_nonblocking(true).unwrap();
    plugins.edit("hostile", |t| {
        t.replace(
            "executable = \"plugwire-example-hostile\"",
            &format!(
                "executable = \"plugwire-example-hostile\"\nenv = {{ HOSTILE_MODE = \"socket-symlink\", HOSTILE_TARGET = {:?} }}",
                target.display().to_string()
            ),
        )
    });
    let host = plugins.host().await;
    let err = host
        .call_tool("hostile.whoami", json!({}), CallOptions::default())
        .await
        .unwrap_err();
    assert!(err.message().contains("symbolic link"), "{err}");
    assert!(
        listener.accept().is_err(),
        "nothing connected to the socket outside"
    );
    host.shutdown().await;
}

/// Finding 6: a plugin calls itself through the host without the call-depth
/// header. The host counts the depth itself and stops the loop.
#[tokio::test]
async fn call_depth_is_counted_by_the_host() {
    let plugins = Plugins::new(&["hostile"]);
    let host = plugins.host().await;
    let out = call(&host, "hostile.recurse", json!({})).await;
    let stopped = out["stopped_at"].as_u64().unwrap();
    assert!(
        stopped <= u64::from(plugwire_proto::constants::MAX_CALL_DEPTH),
        "{out}"
    );
    assert!(
        out["by"].as_str().unwrap().contains("nested deeper"),
        "stopped by the host: {out}"
    );
    host.shutdown().await;
}

/// Finding 7: with lazy start, an impostor offering a tool named like the
/// real plugin's is started first; a bare name must not reach it.
#[tokio::test]
async fn a_bare_tool_name_never_goes_to_an_impostor() {
    let plugins = Plugins::new(&["echo"]);
    plugins.copy_as("echo", "aaa-impostor");
    let host = plugins.host().await;
    // Only the impostor is running.
    call(&host, "aaa-impostor.echo", json!({"text": "x"})).await;
    let err = host
        .call_tool("echo", json!({"text": "x"}), CallOptions::default())
        .await
        .unwrap_err();
    assert!(err.message().contains("ambiguous"), "{err}");
    assert!(err.message().contains("echo.echo"), "{err}");
    host.shutdown().await;
}

/// The runtime directory of a sandboxed plugin is 0700 and holds nothing
/// but the two sockets.
#[tokio::test]
async fn runtime_directories_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let plugins = Plugins::new(&["hostile"]);
    let host = Host::start(plugins.config().sandbox(SandboxLevel::Standard))
        .await
        .unwrap();
    let me = call(&host, "hostile.whoami", json!({})).await;
    let dir = PathBuf::from(me["runtime_dir"].as_str().unwrap());
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["host.sock", "plugin.sock"]);
    let base_mode = std::fs::metadata(dir.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(base_mode & 0o777, 0o711);
    host.shutdown().await;
    assert!(eventually(Duration::from_secs(2), || !dir.exists()).await);
    let _ = std::fs::File::open("/dev/null").map(|mut f| f.read(&mut [0u8; 0]));
}

/// Finding 8: a plugin writes terminal control sequences to stderr and
/// crashes; the CLI quotes its stderr in the error, escaped.
#[test]
fn plugin_text_cannot_control_the_terminal() {
    let plugins = Plugins::new(&["hostile"]);
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::cli())
        .args(["--no-standard-dirs", "--yes", "--sandbox", "none", "-v"])
        .arg("--plugin-dir")
        .arg(plugins.dir.path())
        .args(["call", "hostile.scream", "{}"])
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_DATA_HOME", home.path().join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains('\x1b') && !stderr.contains('\x07') && !stderr.contains('\r'),
        "raw control characters reached the terminal: {stderr:?}"
    );
    assert!(stderr.contains("\\x1b]0;pwned"), "{stderr}");
}

fn cli(config: &Path, cwd: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(common::cli())
        .args(args)
        .current_dir(cwd)
        .env("XDG_CONFIG_HOME", config)
        .env("XDG_DATA_HOME", config.join("data"))
        .env_remove("PLUGWIRE_PLUGIN_PATH")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// Finding 5: after granting the real `audit`, a foreign `plugins/audit`
/// in the current directory neither shadows the plugin the user named
/// with `--plugin-dir` nor gets its grant.
#[test]
fn grants_follow_the_plugin_not_its_name() {
    let real = Plugins::new(&["audit"]);
    let config = tempfile::tempdir().unwrap();
    let workdir = tempfile::tempdir().unwrap();
    // A foreign plugin of the same name where `./plugins` is searched.
    let foreign = Plugins::new(&["audit"]);
    std::fs::rename(foreign.dir.path(), workdir.path().join("plugins")).unwrap();
    let foreign_dir = workdir.path().join("plugins");
    std::fs::write(foreign_dir.join("audit/marker"), "foreign").unwrap();
    let real_dir = real.dir.path().to_str().unwrap();

    let succeeds = |args: &[&str]| {
        let out = cli(config.path(), workdir.path(), args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let granted = succeeds(&["--plugin-dir", real_dir, "grant", "audit"]);
    assert!(
        granted.contains(real_dir),
        "the named plugin is granted: {granted}"
    );

    // The real one is used (explicit wins) and runs with its grant.
    assert!(succeeds(&["--plugin-dir", real_dir, "info", "audit"]).contains(real_dir));

    // The foreign one, named on its own, gets nothing.
    let out = cli(
        config.path(),
        workdir.path(),
        &[
            "--plugin-dir",
            foreign_dir.to_str().unwrap(),
            "info",
            "audit",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "refused: it could not start");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not the one in"), "{err}");

    // A change to the granted plugin voids its grant too.
    let manifest = real.dir.path().join("audit/plugin.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text + "\n# changed\n").unwrap();
    let out = cli(
        config.path(),
        workdir.path(),
        &["--plugin-dir", real_dir, "info", "audit"],
    );
    assert_eq!(out.status.code(), Some(3), "refused: it could not start");
    assert!(String::from_utf8_lossy(&out.stderr).contains("changed since it was granted"));
}

/// Finding 5, the directory rule: a plugin directory other users can
/// write is skipped with a problem, never loaded silently.
#[test]
fn a_plugin_others_can_write_is_not_loaded() {
    use std::os::unix::fs::PermissionsExt;
    let plugins = Plugins::new(&["echo"]);
    let config = tempfile::tempdir().unwrap();
    let echo = plugins.dir.path().join("echo");
    std::fs::set_permissions(&echo, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = cli(
        config.path(),
        config.path(),
        &[
            "--no-standard-dirs",
            "--plugin-dir",
            plugins.dir.path().to_str().unwrap(),
            "list",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("writable by every user"), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("echo"));
}

/// Finding 9: a corrupted grants file is reported, and plugins that need no
/// grant keep working; `grant` refuses to overwrite it; a permission the
/// plugin does not request cannot be granted.
#[test]
fn a_corrupted_grants_file_stops_nothing_else() {
    let plugins = Plugins::new(&["echo", "audit"]);
    let config = tempfile::tempdir().unwrap();
    let grants = config.path().join("plugwire/grants.toml");
    std::fs::create_dir_all(grants.parent().unwrap()).unwrap();
    std::fs::write(&grants, "[plugins\nnot toml at all").unwrap();
    let dir = plugins.dir.path().to_str().unwrap();
    let run = |args: &[&str]| {
        let all = [&["--no-standard-dirs", "--plugin-dir", dir][..], args].concat();
        cli(config.path(), config.path(), &all)
    };
    let stderr = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).into_owned();
    let out = run(&["list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("not a valid grants file"));
    let out = run(&["call", "echo.echo", r#"{"text":"ok"}"#]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&["grant", "audit"]);
    assert!(!out.status.success());
    assert_eq!(
        std::fs::read_to_string(&grants).unwrap(),
        "[plugins\nnot toml at all",
        "left as it was"
    );
    std::fs::remove_file(&grants).unwrap();
    let out = run(&["grant", "audit", "netwrok"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("does not request \"netwrok\""));
}

/// Stopping is bounded: a plugin that ignores `Shutdown` and SIGTERM is
/// killed within the stop budget (PW-SHUT-4).
#[tokio::test]
async fn a_stubborn_plugin_stops_within_the_budget() {
    let plugins = Plugins::new(&["hostile"]);
    let mut config = plugins.config();
    config.timeouts.shutdown_grace = Duration::from_millis(500);
    config.timeouts.stop = Duration::from_secs(2);
    let host = Host::start(config).await.unwrap();
    call(&host, "hostile.stubborn", json!({})).await;
    let pid = host.status()[0].pid.unwrap();
    let started = std::time::Instant::now();
    host.shutdown().await;
    let took = started.elapsed();
    assert!(!common::alive(pid), "killed");
    // The budget, with room for a slow machine; before the budget this took
    // grace + 1 s + 2 s + 2 s.
    assert!(took < Duration::from_millis(3500), "stopping took {took:?}");
    assert!(
        took >= Duration::from_millis(1500),
        "it was stubborn: {took:?}"
    );
}

/// No orphans: even unsandboxed, a plugin's double-forked `setsid` child
/// (outside its process group) dies when the plugin is stopped.
#[tokio::test]
async fn an_unsandboxed_plugins_escaped_children_die_with_it() {
    let plugins = Plugins::new(&["hostile"]);
    let host = plugins.host().await;
    let out = call(&host, "hostile.escape_group", json!({})).await;
    let pid = out["pid"].as_u64().unwrap() as u32;
    assert!(common::alive(pid), "the escaped child runs: {out}");
    host.shutdown().await;
    if plugwire_host::sandbox::cgroup::Layout::detect().is_ok_and(|l| !l.controllers().is_empty()) {
        assert!(
            eventually(Duration::from_secs(3), || !common::alive(pid)).await,
            "the escaped child {pid} outlived its plugin"
        );
    } else {
        // No cgroups here: nothing can find it. Do not leave it behind.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Two listeners on the host's loopback that answer `ping` with their name.
fn listener(name: &'static str) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            use std::io::{BufRead, Write};
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_ok() && line.trim() == "ping" {
                let _ = (&stream).write_all(format!("pong from {name}\n").as_bytes());
            }
        }
    });
    port
}

/// `network:HOST:PORT`: the plugin reaches the granted listener through the
/// host's egress proxy, is refused at the other, and cannot reach either
/// on its own (its network namespace has no route out).
#[tokio::test]
async fn a_plugin_reaches_only_the_hosts_it_was_granted() {
    let granted = listener("granted");
    let other = listener("other");
    let plugins = Plugins::new(&["hostile"]);
    plugins.edit("hostile", |t| {
        t.replace(
            "[permissions]",
            &format!("[permissions]\nnetwork = [\"127.0.0.1:{granted}\"]"),
        )
    });
    let mut config = plugins.config().sandbox(SandboxLevel::Standard);
    config.sandbox.best_effort = true;
    let host = Host::start(config).await.unwrap();
    let reach = |target: String, via_proxy: bool| {
        let host = &host;
        async move {
            call(
                host,
                "hostile.reach",
                json!({"target": target, "via_proxy": via_proxy}),
            )
            .await
        }
    };
    let through = reach(format!("127.0.0.1:{granted}"), true).await;
    assert_eq!(through["reply"], "pong from granted", "{through}");
    assert!(
        through["status"].as_str().unwrap().contains(" 200 "),
        "{through}"
    );

    let refused = reach(format!("127.0.0.1:{other}"), true).await;
    assert!(
        refused["status"].as_str().unwrap().contains(" 403 ")
            && refused["body"].as_str().unwrap().contains("is not granted"),
        "{refused}"
    );
    // A name the grant does not name, even one for the same address.
    let by_name = reach(format!("localhost:{granted}"), true).await;
    assert!(
        by_name["status"].as_str().unwrap().contains(" 403 "),
        "{by_name}"
    );
    // On its own, the plugin's loopback is its own: nothing listens there.
    for port in [granted, other] {
        let direct = reach(format!("127.0.0.1:{port}"), false).await;
        assert!(
            direct["error"].as_str().unwrap().contains("connect"),
            "{direct}"
        );
    }
    // Nor can it resolve names itself.
    let named = reach("example.com:80".into(), false).await;
    assert!(named["error"].as_str().is_some(), "{named}");
    host.shutdown().await;
}

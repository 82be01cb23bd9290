//! The sandbox, proved from inside (the probe plugin) and from outside (the
//! faulty plugin's hogs are contained and reported, the host keeps serving,
//! nothing survives teardown or the host's death).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Plugins, alive, eventually};
use plugwire_host::sandbox::SandboxLevel;
use plugwire_host::sandbox::cgroup::cgroup2_mount;
use plugwire_host::{CallOptions, Host, HostConfig, PluginState};
use serde_json::{Value, json};
use tonic::Code;

fn sandboxed(plugins: &Plugins, level: SandboxLevel) -> HostConfig {
    plugins.config().sandbox(level)
}

async fn report(host: &Host, args: Value) -> Value {
    host.call_tool("probe.report", args, CallOptions::default())
        .await
        .unwrap()
        .content
}

fn world_readable_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret.txt"), "x").unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    dir
}

#[tokio::test]
async fn the_probe_sees_a_sandbox_from_inside() {
    let plugins = Plugins::new(&["probe"]);
    let host = Host::start(sandboxed(&plugins, SandboxLevel::Standard))
        .await
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let home = world_readable_dir();
    let r = report(&host, json!({"port": port, "home": home.path()})).await;

    assert_eq!(r["cap_eff"], "0000000000000000", "no capabilities");
    assert_eq!(r["no_new_privs"], true);
    assert_eq!(r["seccomp"], "2", "a seccomp filter is installed");
    if nix::unistd::geteuid().is_root() {
        use plugwire_host::sandbox::identity::{UID_BASE, UID_COUNT};
        let uid = r["uid"].as_u64().unwrap() as u32;
        assert!(
            (UID_BASE..UID_BASE + UID_COUNT).contains(&uid),
            "a root host runs each plugin as a uid of its own: {uid}"
        );
    } else {
        assert!(
            r["uid_map"].as_str().unwrap().starts_with('0'),
            "a user namespace maps the host user to 0"
        );
    }
    assert_eq!(r["pid"], 2, "the plugin is the child of the sandbox's init");
    assert_eq!(
        r["visible_pids"],
        json!([1, 2]),
        "no host process is visible"
    );
    assert_eq!(r["interfaces"], json!(["lo"]), "no network but loopback");
    assert_eq!(r["hostname"], "plugwire");
    assert_eq!(r["open_files_limit"], 128, "the manifest's open_files");
    assert_eq!(
        r["cgroup"]["limits"]["memory"], "67108864",
        "the manifest's 64MiB"
    );
    assert_eq!(r["cgroup"]["limits"]["pids"], "32");
    let mounts: Vec<&str> = r["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert!(
        mounts[0].starts_with("/ tmpfs ro"),
        "a fresh read-only root: {mounts:?}"
    );
    assert!(
        mounts
            .iter()
            .any(|m| m.starts_with("/usr ") && m.contains(" ro")),
        "{mounts:?}"
    );
    assert!(
        !mounts.iter().any(|m| m.starts_with("/etc ")),
        "never the whole of /etc: {mounts:?}"
    );

    let escapes = &r["escapes"];
    for attempt in [
        "read_etc_shadow",
        "read_host_home",
        "write_outside_data_dir",
        "connect_loopback",
        "ptrace",
        "mount",
        "setns",
        "raise_rlimit",
        "io_uring",
        "vsock",
    ] {
        let outcome = escapes[attempt].as_str().unwrap_or("missing");
        assert!(outcome.starts_with("denied"), "{attempt}: {outcome}");
    }
    assert_eq!(
        escapes["write_data_dir"], "allowed",
        "its own data directory is writable"
    );
    host.shutdown().await;
}

#[tokio::test]
async fn granted_permissions_open_exactly_what_they_name() {
    let plugins = Plugins::new(&["probe"]);
    let home = world_readable_dir();
    let home_path = home.path().display().to_string();
    let writable = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        writable.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let writable_path = writable.path().display().to_string();
    plugins.edit("probe", |t| {
        t.replace(
            "[limits]",
            &format!("[permissions]\nnetwork = true\nread = [\"{home_path}\"]\nwrite = [\"{writable_path}\"]\n\n[limits]"),
        )
    });
    let host = Host::start(sandboxed(&plugins, SandboxLevel::Standard))
        .await
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let r = report(
        &host,
        json!({"port": port, "home": home.path(), "outside": home.path()}),
    )
    .await;
    assert_eq!(
        r["escapes"]["connect_loopback"], "allowed",
        "network granted"
    );
    assert_eq!(r["escapes"]["read_host_home"], "allowed", "read granted");
    assert!(
        r["escapes"]["write_outside_data_dir"]
            .as_str()
            .unwrap()
            .starts_with("denied"),
        "read is not write"
    );
    assert!(
        r["escapes"]["read_etc_shadow"]
            .as_str()
            .unwrap()
            .starts_with("denied")
    );
    let r = report(&host, json!({"outside": writable.path()})).await;
    assert_eq!(
        r["escapes"]["write_outside_data_dir"], "allowed",
        "write granted"
    );
    host.shutdown().await;
}

#[tokio::test]
async fn without_a_sandbox_the_same_attempts_succeed() {
    let plugins = Plugins::new(&["probe"]);
    let host = plugins.host().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let r = report(&host, json!({"port": port})).await;
    assert_eq!(r["escapes"]["connect_loopback"], "allowed");
    assert_ne!(r["pid"], 2);
    assert_eq!(r["seccomp"], "0");
    host.shutdown().await;
}

#[tokio::test]
async fn strict_level_runs_where_landlock_exists() {
    if plugwire_host::sandbox::landlock_abi().is_err() {
        eprintln!(
            "skipped: no Landlock on this kernel; strict is refused, as tested in the unit tests"
        );
        return;
    }
    let plugins = Plugins::new(&["probe"]);
    let host = Host::start(sandboxed(&plugins, SandboxLevel::Strict))
        .await
        .unwrap();
    let r = report(&host, json!({})).await;
    assert_eq!(r["cap_eff"], "0000000000000000");
    host.shutdown().await;
}

#[tokio::test]
async fn a_fork_bomb_hits_the_pids_limit() {
    let plugins = Plugins::new(&["faulty", "echo"]);
    let host = Host::start(sandboxed(&plugins, SandboxLevel::Standard))
        .await
        .unwrap();
    let out = host
        .call_tool("faulty.fork_bomb", json!({}), CallOptions::default())
        .await
        .unwrap();
    let spawned = out.content["spawned"].as_u64().unwrap();
    assert!(
        spawned < 64,
        "the pids limit (64) stops it: {}",
        out.content
    );
    assert!(
        out.content["error"]
            .as_str()
            .unwrap()
            .contains("Resource temporarily unavailable"),
        "{}",
        out.content
    );
    host.call_tool(
        "echo.echo",
        json!({"text": "still serving"}),
        CallOptions::default(),
    )
    .await
    .unwrap();
    let cgroups = host
        .status()
        .into_iter()
        .find(|s| s.name == "faulty")
        .unwrap()
        .cgroups;
    assert!(!cgroups.is_empty());
    host.shutdown().await;
    for dir in cgroups {
        assert!(
            eventually(Duration::from_secs(3), || !dir.exists()).await,
            "{} removed at teardown",
            dir.display()
        );
    }
}

#[tokio::test]
async fn a_memory_hog_is_killed_and_the_cause_reported() {
    let plugins = Plugins::new(&["faulty", "echo"]);
    let host = Host::start(sandboxed(&plugins, SandboxLevel::Standard))
        .await
        .unwrap();
    let err = host
        .call_tool("faulty.alloc", json!({}), CallOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(
        err.message().contains("killed: memory limit 64 MiB"),
        "{}",
        err.message()
    );
    host.call_tool(
        "echo.echo",
        json!({"text": "still serving"}),
        CallOptions::default(),
    )
    .await
    .unwrap();
    // It restarts and serves again.
    assert!(
        eventually(Duration::from_secs(5), || host
            .status()
            .iter()
            .any(|s| s.name == "faulty" && s.state == PluginState::Ready))
        .await
    );
    let status = host
        .status()
        .into_iter()
        .find(|s| s.name == "faulty")
        .unwrap();
    assert_eq!(status.restarts, 1);
    host.shutdown().await;
}

#[tokio::test]
async fn an_fd_hog_stops_at_its_rlimit() {
    let plugins = Plugins::new(&["faulty"]);
    let host = Host::start(sandboxed(&plugins, SandboxLevel::Standard))
        .await
        .unwrap();
    let out = host
        .call_tool("faulty.open_files", json!({}), CallOptions::default())
        .await
        .unwrap();
    let opened = out.content["opened"].as_u64().unwrap();
    assert!(
        opened < 256,
        "open_files = 256 in the manifest: {}",
        out.content
    );
    assert!(
        out.content["error"]
            .as_str()
            .unwrap()
            .contains("Too many open files"),
        "{}",
        out.content
    );
    host.shutdown().await;
}

#[tokio::test]
async fn a_cpu_spin_is_throttled() {
    let plugins = Plugins::new(&["faulty", "echo"]);
    plugins.edit("faulty", |t| t.replace("pids = 64", "pids = 64\ncpu = 0.2"));
    let host = Host::start(sandboxed(&plugins, SandboxLevel::Standard))
        .await
        .unwrap();
    let spin = {
        let host = host.clone();
        tokio::spawn(async move {
            host.call_tool(
                "faulty.spin",
                json!({"seconds": 1.0, "threads": 2}),
                CallOptions::default(),
            )
            .await
        })
    };
    // The host stays responsive meanwhile.
    let started = Instant::now();
    host.call_tool("echo.echo", json!({"text": "x"}), CallOptions::default())
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    spin.await.unwrap().unwrap();
    let status = host
        .status()
        .into_iter()
        .find(|s| s.name == "faulty")
        .unwrap();
    assert!(
        status.cpu_throttled.unwrap_or(0) > 0,
        "the CFS quota throttled the spin: {:?}",
        status.cpu_throttled
    );
    host.shutdown().await;
}

#[tokio::test]
async fn ungranted_permissions_are_refused_with_their_risks() {
    let plugins = Plugins::new(&["audit"]);
    let mut config = plugins.config();
    config.grants = Default::default();
    let host = Host::start(config).await.unwrap();
    let err = host.start_plugin("audit").await.unwrap_err();
    assert!(
        err.message()
            .contains("requests permissions that were not granted"),
        "{}",
        err.message()
    );
    assert!(
        err.message()
            .contains("host.storage: low risk: can keep data in the host"),
        "{}",
        err.message()
    );
    assert!(
        err.message().contains("plugwire grant audit"),
        "{}",
        err.message()
    );
    host.shutdown().await;

    let mut config = plugins.config();
    config.grants = Default::default();
    config.grants.grant("audit", ["host.storage"]);
    let host = Host::start(config).await.unwrap();
    host.start_plugin("audit").await.unwrap();
    host.shutdown().await;
}

#[test]
fn sandboxed_plugins_die_with_the_host() {
    let plugins = Plugins::new(&["faulty"]);
    let mut cli = std::process::Command::new(common::cli())
        .args([
            "--no-standard-dirs",
            "--sandbox",
            "standard",
            "--yes",
            "--plugin-dir",
        ])
        .arg(plugins.dir.path())
        .env("XDG_DATA_HOME", plugins.data.path())
        .args(["call", "faulty.hang"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let host_pid = cli.id();
    // The launcher is the CLI's child; the plugin runs in its process group.
    let start = Instant::now();
    let launcher = loop {
        let found = children_of(host_pid).into_iter().find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.contains("plugwire-launcher"))
        });
        if let Some(pid) = found
            && common::group_members(pid).len() >= 3
        {
            break pid;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the sandboxed plugin never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let members = common::group_members(launcher);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(host_pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    cli.wait().unwrap();
    let start = Instant::now();
    while members.iter().any(|p| alive(*p)) {
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "sandboxed processes outlived their host: {members:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn children_of(parent: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_string_lossy().parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let ppid: u32 = stat.rsplit_once(") ")?.1.split(' ').nth(1)?.parse().ok()?;
            (ppid == parent).then_some(pid)
        })
        .collect()
}

#[test]
fn the_level_names_parse() {
    assert!(Path::new(env!("CARGO_BIN_EXE_plugwire-launcher")).is_file());
    assert_eq!(
        "standard".parse::<SandboxLevel>(),
        Ok(SandboxLevel::Standard)
    );
}

#[test]
fn an_unprivileged_host_sandboxes_with_a_user_namespace() {
    let setpriv = Path::new("/usr/bin/setpriv");
    if !nix::unistd::geteuid().is_root() || !setpriv.is_file() {
        eprintln!(
            "skipped: needs root and setpriv to become an unprivileged user; the other tests cover a non-root host directly"
        );
        return;
    }
    let plugins = Plugins::new(&["probe"]);
    let home = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        home.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let out = std::process::Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(common::cli())
        .args([
            "--no-standard-dirs",
            "--sandbox",
            "standard",
            "--best-effort",
            "--yes",
            "--json",
            "--plugin-dir",
        ])
        .arg(plugins.dir.path())
        .args(["call", "probe.report", "{}"])
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &r["content"];
    assert_eq!(r["uid"], 0, "root inside the user namespace");
    assert_eq!(
        r["uid_map"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["0", "65534", "1"]
    );
    assert_eq!(r["cap_eff"], "0000000000000000");
    assert_eq!(r["seccomp"], "2");
    assert_eq!(r["visible_pids"], json!([1, 2]));
    assert!(
        r["escapes"]["read_etc_shadow"]
            .as_str()
            .unwrap()
            .starts_with("denied")
    );
}

/// Secure by default: a host configured without a sandbox level runs its
/// plugins under the standard sandbox, as far as the machine allows.
#[tokio::test]
async fn the_standard_sandbox_is_the_default() {
    let plugins = Plugins::new(&["probe"]);
    let mut config = plugins.config();
    config.sandbox = plugwire_host::sandbox::SandboxPolicy::default();
    assert_eq!(
        plugwire_host::HostConfig::new("a", "1.0.0").sandbox,
        config.sandbox
    );
    let host = Host::start(config).await.unwrap();
    let r = report(&host, json!({})).await;
    assert_eq!(r["seccomp"], "2", "{r}");
    assert_eq!(r["no_new_privs"], true);
    assert_eq!(
        r["escapes"]["read_etc_shadow"]
            .as_str()
            .map(|s| s.starts_with("denied")),
        Some(true)
    );
    host.shutdown().await;
}

/// Runs the launcher on `spec` with `sh -c script` as the plugin, the
/// spec handed over as a sealed descriptor, as the host does; with
/// `unprivileged`, the launcher first joins that cgroup (its
/// `cgroup.procs`) and becomes nobody, as an unprivileged host in a
/// delegated subtree would be.
fn launch_sandboxed(
    spec: &plugwire_host::sandbox::spec::SandboxSpec,
    script: &str,
    unprivileged: Option<&Path>,
) -> std::process::Child {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let sealed = spec.seal().unwrap();
    let fd = sealed.as_raw_fd();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_plugwire-launcher"));
    command
        .args(["--sandbox-fd", "100", "/bin/sh", "-c", script])
        .stdout(std::process::Stdio::piped());
    let procs = unprivileged.map(|p| {
        std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str())).unwrap()
    });
    // SAFETY: open, write, close, dup2 and the set*id calls are
    // async-signal-safe; the child execs right after.
    unsafe {
        command.pre_exec(move || {
            let failed = |r: libc::c_long| r < 0;
            if let Some(procs) = &procs {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                if fd < 0 || failed(libc::write(fd, b"0".as_ptr().cast(), 1) as libc::c_long) {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fd);
                if failed(libc::setgroups(0, std::ptr::null()) as libc::c_long)
                    || failed(libc::setresgid(65534, 65534, 65534) as libc::c_long)
                    || failed(libc::setresuid(65534, 65534, 65534) as libc::c_long)
                {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if libc::dup2(fd, 100) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.spawn().unwrap()
}

/// Removes a test's cgroup once its members are gone (the kernel takes
/// a moment after the last one is reaped).
fn remove_cgroup(dir: &Path) {
    let start = Instant::now();
    while std::fs::remove_dir(dir).is_err() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn members(dir: &Path) -> Vec<u32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap()
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect()
}

/// On cgroup v2 the launcher starts init inside the plugin's cgroup
/// (`clone3` with `CLONE_INTO_CGROUP`) instead of joining it: the launcher
/// itself is never a member, the plugin's cgroup namespace is rooted at its
/// own cgroup, and killing the cgroup ends the launcher too.
#[test]
fn on_cgroup_v2_the_plugin_is_born_in_its_cgroup() {
    use std::io::BufRead;
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to make a cgroup");
        return;
    }
    let Some(mount) = cgroup2_mount() else {
        eprintln!("skipped: no cgroup2 hierarchy mounted");
        return;
    };
    let dir = mount.join(format!("plugwire-test-born-{}", std::process::id()));
    std::fs::create_dir(&dir).unwrap();
    let spec = spawning_into(&dir);
    let script = "echo pid $$; cat /proc/self/cgroup; exec sleep 30";
    let mut launcher = launch_sandboxed(&spec, script, None);
    let mut lines = std::io::BufReader::new(launcher.stdout.take().unwrap()).lines();
    let pid = lines.next().and_then(Result::ok);
    let own = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.starts_with("0::"))
        .expect("the plugin printed its cgroup");
    let inside = members(&dir);
    std::fs::write(dir.join("cgroup.kill"), "1").unwrap();
    let status = launcher.wait().unwrap();
    remove_cgroup(&dir);

    assert_eq!(
        pid.as_deref(),
        Some("pid 2"),
        "init is pid 1 of a new pid namespace"
    );
    assert_eq!(
        own, "0::/",
        "the cgroup namespace is rooted at the plugin's cgroup"
    );
    assert!(
        inside.len() >= 2,
        "init and the plugin are members: {inside:?}"
    );
    assert!(
        !inside.contains(&launcher.id()),
        "the launcher never joined: {inside:?}"
    );
    assert_eq!(status.code(), Some(128 + 9), "{status:?}");
}

/// A spec whose plugin starts in the cgroup `dir`, on the host's own
/// filesystem view (no prepared root, no Landlock), so a shell script can
/// report where it landed.
fn spawning_into(dir: &Path) -> plugwire_host::sandbox::spec::SandboxSpec {
    let mut spec = plugwire_host::sandbox::example_spec();
    spec.cgroup_procs.clear();
    spec.spawn_into_cgroup = Some(dir.to_path_buf());
    spec.root = None;
    spec.landlock = None;
    spec
}

/// Where `CLONE_INTO_CGROUP` is refused (here: a v1 directory, which it
/// cannot take) the launcher joins by writing `cgroup.procs` instead, and
/// the plugin still starts inside.
#[test]
fn where_clone_into_cgroup_is_refused_the_launcher_joins() {
    use std::io::BufRead;
    let v1 = Path::new("/sys/fs/cgroup/pids");
    if !nix::unistd::geteuid().is_root() || !v1.join("cgroup.procs").is_file() {
        eprintln!("skipped: needs root and a v1 pids hierarchy");
        return;
    }
    let dir = v1.join(format!("plugwire-test-join-{}", std::process::id()));
    std::fs::create_dir(&dir).unwrap();
    let spec = spawning_into(&dir);
    let mut launcher = launch_sandboxed(&spec, "echo started as $$; exec sleep 30", None);
    let mut lines = std::io::BufReader::new(launcher.stdout.take().unwrap()).lines();
    let first = lines.next().and_then(Result::ok);
    let inside = members(&dir);
    launcher.kill().unwrap();
    for pid in &inside {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    launcher.wait().unwrap();
    remove_cgroup(&dir);

    assert_eq!(
        first.as_deref(),
        Some("started as 2"),
        "a refused clone3 leaves a pid namespace that can still fork"
    );
    assert!(
        inside.contains(&launcher.id()),
        "the launcher joined by a write: {inside:?}"
    );
    assert!(
        inside.len() >= 3,
        "launcher, init and the plugin: {inside:?}"
    );
}

/// The same from an unprivileged launcher in a delegated subtree, in a
/// user namespace: `CLONE_INTO_CGROUP` is checked against the caller's
/// credentials, as a write to `cgroup.procs` would be.
#[test]
fn an_unprivileged_launcher_starts_init_in_a_delegated_cgroup() {
    use std::io::BufRead;
    let (true, Some(mount)) = (nix::unistd::geteuid().is_root(), cgroup2_mount()) else {
        eprintln!("skipped: needs root (to delegate a cgroup) and a cgroup2 hierarchy");
        return;
    };
    let delegated = mount.join(format!("plugwire-test-delegated-{}", std::process::id()));
    let (start, plugin) = (delegated.join("launcher"), delegated.join("plugin"));
    for dir in [&delegated, &start, &plugin] {
        std::fs::create_dir(dir).unwrap();
        for file in [
            "",
            "cgroup.procs",
            "cgroup.threads",
            "cgroup.subtree_control",
        ] {
            let _ = std::os::unix::fs::chown(dir.join(file), Some(65534), Some(65534));
        }
    }
    let mut spec = plugwire_host::sandbox::example_spec();
    spec.cgroup_procs.clear();
    spec.spawn_into_cgroup = Some(plugin.clone());
    spec.namespaces.user = true;
    spec.map_user = Some((65534, 65534));
    spec.run_as = (0, 0);
    spec.root = None;
    spec.landlock = None;
    let script = "echo pid $$; cat /proc/self/cgroup; exec sleep 30";
    let mut launcher = launch_sandboxed(&spec, script, Some(&start.join("cgroup.procs")));
    let lines: Vec<String> = std::io::BufReader::new(launcher.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .filter(|l| l.starts_with("pid") || l.starts_with("0::"))
        .take(2)
        .collect();
    let (launcher_side, inside) = (members(&start), members(&plugin));
    std::fs::write(plugin.join("cgroup.kill"), "1").unwrap();
    let status = launcher.wait().unwrap();
    for dir in [&plugin, &start, &delegated] {
        remove_cgroup(dir);
    }

    assert_eq!(lines, ["pid 2", "0::/"], "{status:?}");
    assert_eq!(
        launcher_side,
        [launcher.id()],
        "the launcher stayed where it started"
    );
    assert!(
        inside.len() >= 2,
        "init and the plugin are members: {inside:?}"
    );
    assert_eq!(status.code(), Some(128 + 9), "{status:?}");
}

//! Starting one plugin process up to its bootstrap line: spawn, read the
//! line under its cap and deadline, check it. This is the one path the host
//! and the conformance suite share, so the suite judges plugins by exactly
//! what the host will do with them.
//!
//! ```no_run
//! use std::time::Duration;
//! use plugwire_host::launch::{Launch, Spawner, find_launcher, runtime_dir};
//! use plugwire_host::manifest::Manifest;
//!
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let manifest = Manifest::load("plugins/echo".as_ref())?;
//! let dir = runtime_dir()?;
//! let launcher = find_launcher(None);
//! let launch = Launch::new(&manifest, dir.path(), launcher.as_deref());
//! let started = Spawner::new()?
//!     .start(&launch, |_stderr| {})
//!     .await
//!     .map_err(|f| f.message)?;
//! println!("serving on {}", started.line.socket_path);
//! # Ok(()) }
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use plugwire_proto::bootstrap::BootstrapLine;
use tokio::io::BufReader;
use tokio::process::{ChildStderr, ChildStdout};
use tokio::sync::watch;

use plugwire_proto::constants::{
    ENV_HOST_SOCKET, ENV_INSTANCE_ID, ENV_PROTOCOL_VERSIONS, ENV_UNIX_SOCKET_DIR, MAGIC_COOKIE_KEY,
    MAGIC_COOKIE_VALUE,
};
use std::ffi::OsString;
use tokio::process::Command;

use super::bootstrap::read_line;
use super::launcher::LAUNCHER_PARENT_VAR;
use super::signals::describe_exit;
use super::spawner::Spawn;
use crate::manifest::{Manifest, PluginKind};
use crate::sandbox::{Prepared, SandboxLevel, Support};

pub use super::launcher::{MCP_ADAPTER_NAME, find_launcher, find_mcp_adapter};
pub use super::runtime::runtime_dir;
pub use super::signals::signal_group;
pub use super::spawner::Spawner;

/// What to start and how.
pub struct Launch<'a> {
    /// The plugin's manifest: executable, arguments, directory, environment.
    pub manifest: &'a Manifest,
    /// The instance's private directory (PW-BOOT-11); the socket goes here.
    pub runtime_dir: &'a Path,
    /// Where the host serves `HostService` (PW-HOST-1), given to the plugin.
    pub host_socket: &'a Path,
    /// The instance id given to the plugin.
    pub instance_id: &'a str,
    /// App protocol versions offered, lowest first.
    pub protocol_versions: &'a [u32],
    /// Host environment variables passed through by name.
    pub pass_env: &'a [String],
    /// `plugwire-launcher`, which ties the plugin's life to the host's and
    /// applies the sandbox; `None` runs the executable directly.
    pub launcher: Option<&'a Path>,
    /// `plugwire-mcp-adapter`, which an MCP server (`kind = "mcp"`) runs
    /// under; without it such a plugin cannot start.
    pub mcp_adapter: Option<&'a Path>,
    /// The prepared sandbox (requires the launcher).
    pub sandbox: Option<&'a Prepared>,
    /// Without a sandbox: a cgroup the launcher joins before it execs the
    /// plugin, so that the host can kill every process the plugin starts,
    /// even those that leave its process group (requires the launcher).
    pub containment: Option<&'a Arc<crate::sandbox::cgroup::Cgroup>>,
    /// Without a sandbox or a cgroup: run the plugin under the launcher's
    /// reaper, which kills what the plugin leaves behind (requires the
    /// launcher).
    pub reap: bool,
    /// Whether to set the magic cookie. Only a conformance check of
    /// PW-BOOT-1 leaves it out.
    pub cookie: bool,
    /// How long to wait for the bootstrap line (PW-BOOT-8).
    pub bootstrap_timeout: Duration,
}

impl<'a> Launch<'a> {
    /// A launch with the host's defaults: every version this host speaks
    /// that the manifest lists, a host socket path inside `runtime_dir`, the
    /// cookie set, no sandbox, a 10 s bootstrap deadline.
    ///
    /// ```no_run
    /// # let manifest = plugwire_host::manifest::Manifest::load("p".as_ref()).unwrap();
    /// let launch = plugwire_host::launch::Launch::new(&manifest, "/tmp/pw-1".as_ref(), None);
    /// assert!(launch.cookie);
    /// ```
    pub fn new(manifest: &'a Manifest, runtime_dir: &'a Path, launcher: Option<&'a Path>) -> Self {
        Self {
            manifest,
            runtime_dir,
            host_socket: Path::new(""),
            instance_id: "",
            protocol_versions: plugwire_proto::constants::SUPPORTED_APP_VERSIONS,
            pass_env: &[],
            launcher,
            mcp_adapter: None,
            sandbox: None,
            containment: None,
            reap: false,
            cookie: true,
            bootstrap_timeout: Duration::from_secs(10),
        }
    }
}

/// How a started process ended, once it has.
#[derive(Clone)]
pub struct ExitWatch(watch::Receiver<Option<String>>);

impl ExitWatch {
    /// How it ended in words (`exit status 1`, `killed by signal SIGKILL`,
    /// with the limit that explains a sandboxed death), if it has.
    ///
    /// ```no_run
    /// # fn f(exit: plugwire_host::launch::ExitWatch) {
    /// if let Some(status) = exit.status() { println!("{status}"); }
    /// # }
    /// ```
    pub fn status(&self) -> Option<String> {
        self.0.borrow().clone()
    }

    /// Waits until it has ended.
    ///
    /// ```no_run
    /// # async fn f(exit: plugwire_host::launch::ExitWatch) {
    /// println!("{}", exit.wait().await);
    /// # }
    /// ```
    pub async fn wait(&self) -> String {
        let mut exit = self.0.clone();
        loop {
            if let Some(status) = exit.borrow_and_update().clone() {
                return status;
            }
            if exit.changed().await.is_err() {
                return "ended".to_owned();
            }
        }
    }
}

/// A plugin process that printed a valid bootstrap line.
pub struct Started {
    /// Its process id, also its process group id.
    pub pid: u32,
    /// The line it printed.
    pub line: BootstrapLine,
    /// The rest of its stdout (logs, PW-BOOT-6).
    pub stdout: BufReader<ChildStdout>,
    /// How it ends.
    pub exit: ExitWatch,
}

/// Why a start failed, with what is known of the process.
pub struct StartFailure {
    /// The failure in words, quoting stdout (PW-BOOT-9).
    pub message: String,
    /// The process id, if it was spawned.
    pub pid: Option<u32>,
    /// What it printed on stdout before failing.
    pub stdout: Vec<u8>,
    /// How it ends, if it was spawned.
    pub exit: Option<ExitWatch>,
}

impl Spawner {
    /// Spawns the plugin (through the launcher and sandbox when given),
    /// hands its stderr to `stderr` at once (so a chatty plugin never
    /// blocks), reads the bootstrap line and checks it: socket inside the
    /// runtime directory (PW-BOOT-7), a version that was offered
    /// (PW-BOOT-3), no TLS.
    ///
    /// On failure the process may still be running: the caller decides
    /// how long to let it explain itself before killing its group.
    pub async fn start(
        &self,
        launch: &Launch<'_>,
        stderr: impl FnOnce(ChildStderr),
    ) -> Result<Started, StartFailure> {
        let manifest = launch.manifest;
        let spawned = match command(launch) {
            Ok(spawn) => self.spawn(spawn).await,
            Err(e) => Err(e),
        };
        let mut child = spawned.map_err(|e| StartFailure {
            message: format!("cannot start {}: {e}", manifest.executable.display()),
            pid: None,
            stdout: Vec::new(),
            exit: None,
        })?;
        let pid = child.id().unwrap_or(0);
        let (exit_tx, exit_rx) = watch::channel(None);
        let exit = ExitWatch(exit_rx);
        let fail = |message: String, stdout: Vec<u8>| StartFailure {
            message,
            pid: Some(pid),
            stdout,
            exit: Some(exit.clone()),
        };
        let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(fail("no stdio pipes".into(), Vec::new()));
        };
        stderr(err);
        let cgroup = launch
            .sandbox
            .and_then(|p| p.cgroup.clone())
            .or_else(|| launch.containment.cloned());
        tokio::spawn(watch_exit(child, cgroup, exit_tx));

        let mut stdout = BufReader::new(out);
        let mut exit_rx = exit.0.clone();
        let line = match read_line(&mut stdout, launch.bootstrap_timeout, &mut exit_rx).await {
            Ok(line) => line,
            Err(failure) => {
                let message = failure.describe(launch.bootstrap_timeout);
                return Err(fail(message, failure.into_seen()));
            }
        };
        if let Err(why) = check_line(&line, launch) {
            return Err(fail(why, format!("{line}\n").into_bytes()));
        }
        Ok(Started {
            pid,
            line,
            stdout,
            exit,
        })
    }
}

async fn watch_exit(
    mut child: tokio::process::Child,
    cgroup: Option<Arc<crate::sandbox::cgroup::Cgroup>>,
    exit_tx: watch::Sender<Option<String>>,
) {
    let mut status = match child.wait().await {
        Ok(status) => describe_exit(&status),
        Err(e) => format!("lost track of the process: {e}"),
    };
    // A limit that explains the death belongs in every report of it.
    if let Some(cause) = cgroup.as_ref().and_then(|c| c.explain_death()) {
        status = format!("{status}; {cause}");
    }
    let _ = exit_tx.send(Some(status));
}

/// What to execute for `launch`'s plugin, and the arguments before the
/// manifest's: the executable itself, or for an MCP server the adapter,
/// told the plugin's name and version and then the server's command.
fn program<'a>(launch: &Launch<'a>) -> std::io::Result<(&'a Path, Vec<std::ffi::OsString>)> {
    let manifest = launch.manifest;
    match (manifest.kind, launch.mcp_adapter) {
        (PluginKind::Plugwire, _) => Ok((&manifest.executable, Vec::new())),
        (PluginKind::Mcp, Some(adapter)) => Ok((
            adapter,
            vec![
                "--name".into(),
                manifest.name.clone().into(),
                "--version".into(),
                manifest.version.to_string().into(),
                // The adapter says why the server did not start before the
                // host stops waiting for it.
                "--start-within-ms".into(),
                (launch.bootstrap_timeout.as_millis() * 9 / 10)
                    .to_string()
                    .into(),
                "--".into(),
                manifest.executable.clone().into(),
            ],
        )),
        (PluginKind::Mcp, None) => Err(std::io::Error::other(format!(
            "{} is an MCP server (kind = \"mcp\"), which runs under {MCP_ADAPTER_NAME}: it was not found next to this executable or on PATH; install it beside the host or set HostConfig::mcp_adapter",
            manifest.name
        ))),
    }
}

/// This process's `PATH`, where `#!/usr/bin/env NAME` is looked up last.
fn host_path() -> String {
    std::env::var("PATH").unwrap_or_default()
}

/// A copy of `fd` that a spawned child inherits (every descriptor of the
/// host is close-on-exec; this one is not, and lives only until the spawn).
fn inheritable(fd: &std::os::fd::OwnedFd) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: F_DUPFD returns a new descriptor, owned at once; only the
    // close-on-exec flag differs from the original's.
    let raw = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD, 3) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a new descriptor nothing else owns.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) })
}

/// Builds the command: an allow-listed environment (PW-BOOT-10), its own
/// process group (so the whole tree can be signalled), piped stdio; a
/// sandbox spec travels as an inherited sealed descriptor, never a path.
/// No `pre_exec` hook, uid or gid: std then spawns with posix_spawn
/// (`clone3(CLONE_VM|CLONE_VFORK)`), which copies no page tables, so a start
/// costs the same from a host that holds 1 GiB (a bench row shows it).
fn command(launch: &Launch<'_>) -> std::io::Result<Spawn> {
    let manifest = launch.manifest;
    // A sandbox settled the interpreters (and the PATH) when it was
    // prepared; without one, only what the plugin's PATH lacks matters.
    let plugin_path = match launch.sandbox {
        Some(prepared) => prepared.plugin_path.clone(),
        None => super::interpreter::needs(manifest, &host_path(), &[])
            .map_err(std::io::Error::other)?
            .plugin_path(),
    };
    use std::os::fd::AsRawFd;
    let (program, leading) = program(launch)?;
    let mut inherit = Vec::new();
    let mut command = match launch.launcher {
        Some(launcher) => {
            let mut c = Command::new(launcher);
            for procs in launch
                .containment
                .map(|c| c.procs_files())
                .unwrap_or_default()
            {
                c.arg("--join").arg(procs);
            }
            if launch.reap && launch.sandbox.is_none() {
                c.arg("--reap");
            }
            if let Some(sandbox) = launch.sandbox.map(|p| &p.spec_fd) {
                let fd = inheritable(sandbox)?;
                c.arg("--sandbox-fd").arg(fd.as_raw_fd().to_string());
                inherit.push(fd);
            }
            if let Some((_, launcher_end)) = launch.sandbox.and_then(|p| p.egress.as_ref()) {
                let fd = inheritable(launcher_end)?;
                c.arg("--egress-fd").arg(fd.as_raw_fd().to_string());
                inherit.push(fd);
            }
            c.arg(program);
            c.env(LAUNCHER_PARENT_VAR, std::process::id().to_string());
            c
        }
        None => Command::new(program),
    };
    command
        .args(leading)
        .args(&manifest.args)
        .current_dir(&manifest.dir)
        .env_clear()
        .env("PATH", plugin_path)
        .env("LANG", "C.UTF-8")
        .env(
            ENV_PROTOCOL_VERSIONS,
            launch
                .protocol_versions
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(","),
        )
        .env(ENV_UNIX_SOCKET_DIR, launch.runtime_dir)
        .env("TMPDIR", launch.runtime_dir)
        .env(ENV_HOST_SOCKET, launch.host_socket)
        .env(ENV_INSTANCE_ID, launch.instance_id)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if launch.cookie {
        command.env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE);
    }
    match launch.sandbox.map(|p| p.data_dir.as_path()) {
        Some(data) => {
            command.env("HOME", data).env("PLUGWIRE_DATA_DIR", data);
        }
        None => {
            if let Some(home) = std::env::var_os("HOME") {
                command.env("HOME", home);
            }
        }
    }
    if launch.sandbox.is_some_and(|p| p.egress.is_some()) {
        // The only way out of the plugin's network namespace.
        let proxy = format!("http://127.0.0.1:{}", crate::egress::PROXY_PORT);
        for name in [
            "HTTPS_PROXY",
            "HTTP_PROXY",
            "ALL_PROXY",
            "https_proxy",
            "http_proxy",
            "all_proxy",
        ] {
            command.env(name, &proxy);
        }
        command.env("PLUGWIRE_EGRESS_PROXY", &proxy);
    }
    for name in launch.pass_env {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    for (name, value) in &manifest.env {
        command.env(name, OsString::from(value));
    }
    Ok(Spawn { command, inherit })
}

fn check_line(line: &BootstrapLine, launch: &Launch<'_>) -> Result<(), String> {
    line.check_socket_in_dir(launch.runtime_dir)
        .map_err(|e| e.to_string())?;
    if !launch.protocol_versions.contains(&line.app_version) {
        return Err(format!(
            "the plugin chose protocol version {}, which was not offered (offered {:?})",
            line.app_version, launch.protocol_versions
        ));
    }
    if line.server_cert.is_some() {
        return Err("the plugin offers TLS (a certificate in field 6); plugwire connects over a private Unix socket without TLS: leave the field empty".into());
    }
    Ok(())
}

/// Prepares the sandbox of one instance at `level`: the plugin's granted
/// read and write paths expanded (`~`, `{data}`), its data directory under
/// `data_root`, its cgroup. Run the returned spec through the launcher.
///
/// ```no_run
/// use plugwire_host::sandbox::{SandboxLevel, Support};
/// # let manifest = plugwire_host::manifest::Manifest::load("p".as_ref()).unwrap();
/// let dir = plugwire_host::launch::runtime_dir().unwrap();
/// let prepared = plugwire_host::launch::prepare_sandbox(
///     &manifest, None, SandboxLevel::Standard, true, dir.path(), "/var/lib/acme".as_ref(), &Support::detect(),
/// ).unwrap();
/// # drop(prepared);
/// ```
pub fn prepare_sandbox(
    manifest: &Manifest,
    mcp_adapter: Option<&Path>,
    level: SandboxLevel,
    best_effort: bool,
    runtime_dir: &Path,
    data_root: &Path,
    support: &Support,
) -> Result<Prepared, String> {
    let data_dir = data_root.join("plugins").join(&manifest.name);
    let home = std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/".into());
    let expand = |paths: &[String]| {
        paths
            .iter()
            .map(|p| crate::grants::expand(p, &home, &data_dir))
            .collect()
    };
    // An interpreter outside the system directories is shown read-only, or
    // the plugin is refused here, before anything starts.
    let homes = [home.clone(), "/root".into(), "/home".into()];
    let interpreters = super::interpreter::needs(manifest, &host_path(), &homes)
        .map_err(|e| format!("cannot run {} under the sandbox: {e}", manifest.name))?;
    let plugin_path = interpreters.plugin_path();
    let mut read: Vec<std::path::PathBuf> = expand(&manifest.permissions.read);
    read.extend(interpreters.expose);
    // The adapter runs inside the MCP server's sandbox, so that what the
    // server writes is parsed there, with the server's rights only.
    let adapter = mcp_adapter.filter(|_| manifest.kind == PluginKind::Mcp);
    let request = crate::sandbox::Request {
        manifest,
        level,
        best_effort,
        runtime_dir,
        data_root,
        network: manifest.permissions.network,
        egress: !manifest.permissions.network && !manifest.permissions.network_hosts.is_empty(),
        read,
        helpers: adapter.map(Path::to_path_buf).into_iter().collect(),
        write: expand(&manifest.permissions.write),
    };
    let mut prepared = crate::sandbox::prepare(&request, support)?;
    prepared.plugin_path = plugin_path;
    Ok(prepared)
}

//! Starting and stopping plugin processes.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use plugwire_proto::constants::{
    ENV_HOST_SOCKET, ENV_INSTANCE_ID, ENV_PROTOCOL_VERSIONS, ENV_UNIX_SOCKET_DIR, MAGIC_COOKIE_KEY,
    MAGIC_COOKIE_VALUE, MAX_SOCKET_PATH_LEN,
};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

/// The environment variable the launcher checks its parent against.
pub(crate) const LAUNCHER_PARENT_VAR: &str = "PLUGWIRE_LAUNCHER_PARENT";

/// Name of the launcher executable.
pub const LAUNCHER_NAME: &str = "plugwire-launcher";

/// Spawns every plugin from one long-lived thread. The parent-death signal
/// fires when the *thread* that spawned a process exits, and tokio retires
/// its blocking threads when idle; a dedicated thread lives exactly as long
/// as the host, so plugins die with the host and not before.
pub struct Spawner {
    jobs: std_mpsc::Sender<Job>,
}

struct Job {
    command: Command,
    /// Descriptors the child inherits, closed here once it is spawned.
    _inherit: Vec<std::os::fd::OwnedFd>,
    runtime: tokio::runtime::Handle,
    reply: oneshot::Sender<std::io::Result<Child>>,
}

impl Spawner {
    /// Starts the spawner thread.
    ///
    /// ```
    /// let spawner = plugwire_host::launch::Spawner::new().unwrap();
    /// # drop(spawner);
    /// ```
    pub fn new() -> std::io::Result<Self> {
        let (jobs, receiver) = std_mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("plugwire-spawner".into())
            .spawn(move || {
                while let Ok(mut job) = receiver.recv() {
                    let _entered = job.runtime.enter();
                    let _ = job.reply.send(job.command.spawn());
                }
            })?;
        Ok(Self { jobs })
    }

    pub(crate) async fn spawn(&self, spawn: Spawn) -> std::io::Result<Child> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job {
                command: spawn.command,
                _inherit: spawn.inherit,
                runtime: tokio::runtime::Handle::current(),
                reply,
            })
            .map_err(|_| std::io::Error::other("the spawner thread has stopped"))?;
        answer
            .await
            .map_err(|_| std::io::Error::other("the spawner thread has stopped"))?
    }
}

/// Finds `plugwire-launcher`: the configured path, next to the current
/// executable (or its parent, for test binaries in `deps/`), or on `PATH`.
///
/// ```
/// let launcher = plugwire_host::launch::find_launcher(None);
/// # drop(launcher);
/// ```
pub fn find_launcher(configured: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = configured {
        return path.is_file().then(|| path.to_path_buf());
    }
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1).take(2) {
            let candidate = dir.join(LAUNCHER_NAME);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(LAUNCHER_NAME))
            .find(|candidate| candidate.is_file())
    })
}

/// A private runtime directory (PW-BOOT-11): 0700, short, removed on drop
/// (and by the next host, should this one be killed before it can),
/// inside this user's runtime base `<base>/plugwire-<uid>/` (mode 0711:
/// a plugin can reach its own directory by name but list no other), which
/// the sandbox hides from every plugin whose grants would show it.
///
/// ```
/// use std::os::unix::fs::PermissionsExt;
/// let dir = plugwire_host::launch::runtime_dir().unwrap();
/// let mode = std::fs::metadata(dir.path()).unwrap().permissions().mode();
/// assert_eq!(mode & 0o777, 0o700);
/// ```
pub fn runtime_dir() -> std::io::Result<tempfile::TempDir> {
    let candidates = [
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
        Some(PathBuf::from("/tmp")),
        Some(std::env::temp_dir()),
    ];
    let mut refused = Vec::new();
    for base in candidates.into_iter().flatten() {
        let base = base.join(format!("plugwire-{}", nix::unistd::geteuid()));
        // "<base>/pw-<pid>-XXXXXXXX/plugin.sock" must fit in sun_path.
        if base.as_os_str().len() + 32 > MAX_SOCKET_PATH_LEN {
            continue;
        }
        if let Err(why) = runtime_base(&base) {
            refused.push(why);
            continue;
        }
        if let Err(e) = crate::debris::claim(&base) {
            refused.push(format!("cannot lock {}: {e}", base.display()));
            continue;
        }
        let prefix = crate::debris::runtime_prefix();
        if let Ok(dir) = tempfile::Builder::new()
            .prefix(&prefix)
            .rand_bytes(8)
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(&base)
        {
            return Ok(dir);
        }
    }
    Err(std::io::Error::other(format!(
        "no short private directory for plugin sockets under $XDG_RUNTIME_DIR, /tmp or $TMPDIR{}",
        refused.iter().map(|r| format!("; {r}")).collect::<String>()
    )))
}

/// Removes what hosts that died left in this user's runtime bases.
pub(crate) fn reclaim_debris() {
    for base in [
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
        Some(PathBuf::from("/tmp")),
        Some(std::env::temp_dir()),
    ]
    .into_iter()
    .flatten()
    {
        let base = base.join(format!("plugwire-{}", nix::unistd::geteuid()));
        if crate::sandbox::identity::check_private(&base, 0o066).is_ok() {
            let removed = crate::debris::reclaim_runtime(&base);
            if removed > 0 {
                tracing::info!(
                    "removed {removed} runtime directories left by hosts that died, in {}",
                    base.display()
                );
            }
        }
    }
}

/// Creates the runtime base, or checks that the one there is ours and that
/// nobody else can write it (another user could have made it first in a
/// shared `/tmp`).
fn runtime_base(base: &Path) -> Result<(), String> {
    match std::fs::create_dir(base) {
        Ok(()) => std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o711))
            .map_err(|e| format!("cannot set the mode of {}: {e}", base.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", base.display())),
    }
    crate::sandbox::identity::check_private(base, 0o066)
}

/// Everything needed to start one plugin process.
pub(crate) struct LaunchSpec<'a> {
    pub executable: &'a Path,
    pub args: &'a [String],
    pub dir: &'a Path,
    pub runtime_dir: &'a Path,
    pub host_socket: &'a Path,
    pub instance_id: &'a str,
    pub protocol_versions: &'a [u32],
    pub extra_env: &'a BTreeMap<String, String>,
    pub pass_env: &'a [String],
    pub launcher: Option<&'a Path>,
    /// The sealed sandbox spec, when sandboxed (requires the launcher).
    pub sandbox: Option<&'a std::os::fd::OwnedFd>,
    /// `cgroup.procs` files the launcher joins when not sandboxed.
    pub join: Vec<PathBuf>,
    /// Run the plugin under the launcher's reaper (no sandbox, no cgroup).
    pub reap: bool,
    /// The plugin's data directory, its `HOME` when sandboxed.
    pub data_dir: Option<&'a Path>,
    /// Whether to set the magic cookie (PW-BOOT-1).
    pub cookie: bool,
}

/// A command and the descriptors it inherits beyond stdio.
pub(crate) struct Spawn {
    pub command: Command,
    pub inherit: Vec<std::os::fd::OwnedFd>,
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
pub(crate) fn command(spec: &LaunchSpec<'_>) -> std::io::Result<Spawn> {
    use std::os::fd::AsRawFd;
    let mut inherit = Vec::new();
    let mut command = match spec.launcher {
        Some(launcher) => {
            let mut c = Command::new(launcher);
            for procs in &spec.join {
                c.arg("--join").arg(procs);
            }
            if spec.reap {
                c.arg("--reap");
            }
            if let Some(sandbox) = spec.sandbox {
                let fd = inheritable(sandbox)?;
                c.arg("--sandbox-fd").arg(fd.as_raw_fd().to_string());
                inherit.push(fd);
            }
            c.arg(spec.executable);
            c.env(LAUNCHER_PARENT_VAR, std::process::id().to_string());
            c
        }
        None => Command::new(spec.executable),
    };
    command
        .args(spec.args)
        .current_dir(spec.dir)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LANG", "C.UTF-8")
        .env(
            ENV_PROTOCOL_VERSIONS,
            spec.protocol_versions
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(","),
        )
        .env(ENV_UNIX_SOCKET_DIR, spec.runtime_dir)
        .env("TMPDIR", spec.runtime_dir)
        .env(ENV_HOST_SOCKET, spec.host_socket)
        .env(ENV_INSTANCE_ID, spec.instance_id)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if spec.cookie {
        command.env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE);
    }
    match spec.data_dir {
        Some(data) => {
            command.env("HOME", data).env("PLUGWIRE_DATA_DIR", data);
        }
        None => {
            if let Some(home) = std::env::var_os("HOME") {
                command.env("HOME", home);
            }
        }
    }
    for name in spec.pass_env {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    for (name, value) in spec.extra_env {
        command.env(name, OsString::from(value));
    }
    Ok(Spawn { command, inherit })
}

/// Sends `signal` to every process of group `pgid` but its leader (the
/// launcher's reaper, which must outlive the plugin to clean up after it).
pub(crate) fn signal_group_but_leader(pgid: u32, signal: Signal) {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if pid as u32 == pgid {
            continue;
        }
        let in_group = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                let rest = stat.rsplit_once(')')?.1.to_owned();
                rest.split_whitespace().nth(2)?.parse::<u32>().ok()
            })
            == Some(pgid);
        if in_group {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), signal);
        }
    }
}

/// Signals a whole process group; a group that is already gone is fine.
///
/// ```
/// use nix::sys::signal::Signal;
/// plugwire_host::launch::signal_group(4_000_000, Signal::SIGTERM); // no such group: fine
/// ```
pub fn signal_group(pgid: u32, signal: Signal) {
    if let Ok(pid) = i32::try_from(pgid)
        && pid > 1
    {
        let _ = killpg(Pid::from_raw(pid), signal);
    }
}

/// How a process ended, in words for error messages.
pub(crate) fn describe_exit(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => {
            let name = Signal::try_from(signal)
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|_| signal.to_string());
            format!("killed by signal {name}")
        }
        _ => "ended".to_owned(),
    }
}

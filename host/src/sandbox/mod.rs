//! The sandbox (docs/sandbox.md): what a plugin process may see and do.
//!
//! The host decides everything here (level, namespaces, mounts, limits,
//! Landlock rules) and writes it as a [`spec::SandboxSpec`]; the
//! single-threaded `plugwire-launcher` applies it in order
//! ([`launch`]) and execs the plugin. The host itself never forks: it
//! spawns the launcher with posix_spawn, which stays fast in large hosts.

pub mod cgroup;
pub mod identity;
pub mod launch;
pub mod reaper;
pub mod seccomp;
pub mod spec;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use self::cgroup::{Cgroup, CgroupLimits, Layout};
use self::spec::{Bind, CgroupMount, LandlockRules, Namespaces, Rlimits, RootFs, SandboxSpec};
use crate::manifest::Manifest;

/// How strictly plugins are isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum SandboxLevel {
    /// A plain child process in its own process group, with the host
    /// user's rights. Only when asked for.
    None,
    /// Namespaces, a fresh root, cgroup limits, rlimits, no capabilities,
    /// `no_new_privs`, seccomp; Landlock when the kernel has it. The
    /// default.
    #[default]
    Standard,
    /// Standard, with Landlock and every cgroup controller required.
    Strict,
}

impl std::str::FromStr for SandboxLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Self::None),
            "standard" => Ok(Self::Standard),
            "strict" => Ok(Self::Strict),
            other => Err(format!(
                "unknown sandbox level {other:?}: expected none, standard or strict"
            )),
        }
    }
}

impl std::fmt::Display for SandboxLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::Standard => "standard",
            Self::Strict => "strict",
        })
    }
}

/// The host's sandbox policy. The default is the standard level, best
/// effort: isolated as far as this machine allows, with one warning that
/// names what it cannot enforce.
///
/// ```
/// use plugwire_host::sandbox::{SandboxLevel, SandboxPolicy};
/// let default = SandboxPolicy::default();
/// assert_eq!((default.level, default.best_effort), (SandboxLevel::Standard, true));
/// ```
///
/// ```
/// use plugwire_host::sandbox::{SandboxLevel, SandboxPolicy};
/// let policy = SandboxPolicy::new(SandboxLevel::Standard).plugin("untrusted", SandboxLevel::Strict);
/// assert_eq!(policy.level_for("untrusted"), SandboxLevel::Strict);
/// assert_eq!(policy.level_for("other"), SandboxLevel::Standard);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxPolicy {
    /// The level for every plugin.
    pub level: SandboxLevel,
    /// Per-plugin levels; only stricter than `level` takes effect.
    pub plugins: BTreeMap<String, SandboxLevel>,
    /// Run with what the machine has instead of failing when a level's
    /// requirement is missing.
    pub best_effort: bool,
}

impl Default for SandboxPolicy {
    fn default() -> Self {
        Self {
            level: SandboxLevel::Standard,
            plugins: BTreeMap::new(),
            best_effort: true,
        }
    }
}

impl SandboxPolicy {
    /// A policy at `level`, required in full (not best effort).
    ///
    /// ```
    /// let p = plugwire_host::sandbox::SandboxPolicy::new(plugwire_host::sandbox::SandboxLevel::Standard);
    /// # let _ = p;
    /// ```
    pub fn new(level: SandboxLevel) -> Self {
        Self {
            level,
            plugins: BTreeMap::new(),
            best_effort: false,
        }
    }

    /// A stricter level for one plugin (a looser one is ignored).
    ///
    /// ```
    /// use plugwire_host::sandbox::{SandboxLevel, SandboxPolicy};
    /// let p = SandboxPolicy::new(SandboxLevel::Strict).plugin("x", SandboxLevel::None);
    /// assert_eq!(p.level_for("x"), SandboxLevel::Strict);
    /// ```
    pub fn plugin(mut self, name: impl Into<String>, level: SandboxLevel) -> Self {
        self.plugins.insert(name.into(), level);
        self
    }

    /// The level a plugin runs at: never looser than the host's.
    ///
    /// ```
    /// use plugwire_host::sandbox::{SandboxLevel, SandboxPolicy};
    /// let p = SandboxPolicy::new(SandboxLevel::None).plugin("x", SandboxLevel::Strict);
    /// assert_eq!(p.level_for("x"), SandboxLevel::Strict);
    /// assert_eq!(p.level_for("y"), SandboxLevel::None);
    /// ```
    pub fn level_for(&self, plugin: &str) -> SandboxLevel {
        self.plugins
            .get(plugin)
            .copied()
            .unwrap_or(self.level)
            .max(self.level)
    }
}

/// What this machine offers, detected once.
#[derive(Debug, Clone)]
pub struct Support {
    /// Namespaces present in `/proc/self/ns`.
    pub namespaces: Vec<String>,
    /// Unprivileged user namespaces allowed.
    pub user_namespaces: bool,
    /// The cgroup layout, or why there is none.
    pub cgroups: Result<Layout, String>,
    /// seccomp filters available.
    pub seccomp: bool,
    /// The Landlock ABI version, or why there is none.
    pub landlock: Result<i64, String>,
    /// Running as root.
    pub root: bool,
}

impl Support {
    /// Detects what this machine offers.
    ///
    /// ```no_run
    /// let support = plugwire_host::sandbox::Support::detect();
    /// println!("landlock: {:?}", support.landlock);
    /// ```
    pub fn detect() -> Self {
        let namespaces = ["user", "pid", "mnt", "ipc", "uts", "net", "cgroup"]
            .into_iter()
            .filter(|ns| Path::new(&format!("/proc/self/ns/{ns}")).exists())
            .map(str::to_owned)
            .collect();
        let user_namespaces = std::fs::read_to_string("/proc/sys/user/max_user_namespaces")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0);
        let seccomp = std::fs::read_to_string("/proc/self/status")
            .map(|s| s.lines().any(|l| l.starts_with("Seccomp:")))
            .unwrap_or(false);
        // `PLUGWIRE_NO_CGROUPS` makes the host act as on a machine without
        // cgroups it may use (to check that path, or to stay out of them).
        let cgroups = if std::env::var_os("PLUGWIRE_NO_CGROUPS").is_some() {
            Err("turned off by PLUGWIRE_NO_CGROUPS".to_owned())
        } else {
            Layout::detect()
        };
        Self {
            namespaces,
            user_namespaces,
            cgroups,
            seccomp,
            landlock: landlock_abi(),
            root: nix::unistd::geteuid().is_root(),
        }
    }

    /// What `level` needs that this machine lacks.
    ///
    /// ```no_run
    /// use plugwire_host::sandbox::{SandboxLevel, Support};
    /// let missing = Support::detect().missing(SandboxLevel::Strict);
    /// for m in &missing { eprintln!("missing: {m}"); }
    /// ```
    pub fn missing(&self, level: SandboxLevel) -> Vec<String> {
        let mut missing = Vec::new();
        if level == SandboxLevel::None {
            return missing;
        }
        for ns in ["pid", "mnt", "ipc", "uts", "net", "cgroup"] {
            if !self.namespaces.iter().any(|n| n == ns) {
                missing.push(format!("{ns} namespace"));
            }
        }
        let user_ns = self.user_namespaces && self.namespaces.iter().any(|n| n == "user");
        if !(self.root || user_ns) {
            missing.push("user namespaces (needed when the host is not root)".into());
        }
        if !self.seccomp {
            missing.push("seccomp".into());
        }
        let needed: &[&str] = if level == SandboxLevel::Strict {
            &["memory", "pids", "cpu"]
        } else {
            &["memory", "pids"]
        };
        match &self.cgroups {
            Ok(layout) => {
                let have = layout.controllers();
                for c in needed {
                    if !have.iter().any(|h| h == c) {
                        missing.push(format!("the {c} cgroup controller"));
                    }
                }
            }
            Err(e) => missing.push(format!("cgroups ({e})")),
        }
        if level == SandboxLevel::Strict
            && let Err(e) = &self.landlock
        {
            missing.push(format!("Landlock ({e})"));
        }
        missing
    }
}

/// Asks the kernel for its Landlock ABI version.
pub fn landlock_abi() -> Result<i64, String> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_ulong = 1;
    // SAFETY: with a null attribute and size 0 the call only returns a
    // number; it touches no memory of ours.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if version < 0 {
        Err(std::io::Error::last_os_error().to_string())
    } else {
        Ok(version)
    }
}

/// Default limits for sandboxed plugins whose manifest names none: a cap on
/// everything, generous enough for any reasonable plugin.
pub const DEFAULT_MEMORY: u64 = 1 << 30;
/// Default process and thread limit.
pub const DEFAULT_PIDS: u32 = 512;
/// Default open-file limit.
pub const DEFAULT_OPEN_FILES: u64 = 1024;

/// The uid and gid of `nobody`, in examples of a spec.
pub const NOBODY: (u32, u32) = (65534, 65534);

/// A sandbox prepared for one plugin process.
pub struct Prepared {
    /// The spec for the launcher, in a sealed memory file it inherits.
    pub spec_fd: std::os::fd::OwnedFd,
    /// The cgroup, removed when this is dropped.
    pub cgroup: Option<Arc<Cgroup>>,
    /// The uid the plugin appears as to the host (for peer checks).
    pub host_uid: u32,
    /// The uid leased to this instance on a root host, released on drop.
    pub identity: Option<identity::Identity>,
    /// The plugin's private data directory (also its `HOME`).
    pub data_dir: PathBuf,
    /// The plugin's `PATH`: the standard one, with the directory of an
    /// interpreter found only on the host's before it.
    pub plugin_path: String,
    /// The host's end of the socket pair the launcher hands the egress
    /// proxy's listener over, and the launcher's end (inherited by it).
    pub egress: Option<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)>,
    _new_root: tempfile::TempDir,
}

/// Inputs of [`prepare`].
pub struct Request<'a> {
    /// The plugin.
    pub manifest: &'a Manifest,
    /// Its level.
    pub level: SandboxLevel,
    /// Run anyway when something is missing.
    pub best_effort: bool,
    /// The runtime directory (sockets).
    pub runtime_dir: &'a Path,
    /// The host's data directory.
    pub data_root: &'a Path,
    /// Network granted.
    pub network: bool,
    /// Hosts granted one by one (`network:HOST`): the plugin gets the
    /// egress proxy inside its network namespace.
    pub egress: bool,
    /// Granted readable and writable paths, already expanded.
    pub read: Vec<PathBuf>,
    /// Programs of the host's that run inside the sandbox for the plugin
    /// (the MCP adapter): shown read-only, and refused up front when the
    /// plugin's uid could not run them.
    pub helpers: Vec<PathBuf>,
    /// Granted writable paths, already expanded.
    pub write: Vec<PathBuf>,
}

/// Creates the cgroup, the data and root directories, and the spec file.
pub fn prepare(request: &Request<'_>, support: &Support) -> Result<Prepared, String> {
    let manifest = request.manifest;
    let missing = support.missing(request.level);
    if !missing.is_empty() && !request.best_effort {
        return Err(format!(
            "sandbox level {} needs what this machine lacks: {}; choose a lower level or best effort (`plugwire doctor` shows what is available)",
            request.level,
            missing.join(", ")
        ));
    }
    // The host says once what is not enforced; this is the detail.
    for m in &missing {
        tracing::debug!(plugin = %manifest.name, "sandbox: running without {m} (best effort)");
    }
    // A root host gives every instance a uid of its own; an unprivileged
    // host maps its user to 0 inside a user namespace of the plugin's own.
    let identity = if support.root {
        Some(identity::lease_in(&lease_dir(request.data_root))?)
    } else {
        None
    };
    let (run_as, host_uid) = match &identity {
        Some(id) => ((id.uid, id.gid()), id.uid),
        None => ((0, 0), nix::unistd::geteuid().as_raw()),
    };
    if support.root {
        check_reachable(&manifest.executable, host_uid)?;
        for helper in &request.helpers {
            check_reachable(helper, host_uid)?;
        }
    }

    let data_dir = request.data_root.join("plugins").join(&manifest.name);
    std::fs::create_dir_all(&data_dir)
        .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    for dir in [request.runtime_dir, data_dir.as_path()] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot restrict {}: {e}", dir.display()))?;
    }
    if let Some(id) = &identity {
        let owner = Some(nix::unistd::Uid::from_raw(id.uid));
        let group = Some(nix::unistd::Gid::from_raw(id.gid()));
        nix::unistd::chown(request.runtime_dir, owner, group).map_err(|e| {
            format!(
                "cannot hand {} to the plugin: {e}",
                request.runtime_dir.display()
            )
        })?;
        // The data directory outlives instances, and each gets a new uid.
        identity::chown_tree(&data_dir, id.uid, id.gid())
            .map_err(|e| format!("cannot hand the data directory to the plugin: {e}"))?;
        // The host's callback socket, inside the private runtime directory:
        // the directory's owner is the only one who can reach it.
        let socket = request.runtime_dir.join("host.sock");
        let _ = std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666));
    }

    let cgroup = match &support.cgroups {
        Ok(layout) if !layout.controllers().is_empty() => {
            let limits = CgroupLimits {
                memory: Some(manifest.limits.memory.unwrap_or(DEFAULT_MEMORY)),
                pids: Some(manifest.limits.pids.unwrap_or(DEFAULT_PIDS)),
                cpu: manifest.limits.cpu,
            };
            let have = layout.controllers();
            let limits = CgroupLimits {
                memory: limits.memory.filter(|_| have.iter().any(|c| c == "memory")),
                pids: limits.pids.filter(|_| have.iter().any(|c| c == "pids")),
                cpu: limits.cpu.filter(|_| have.iter().any(|c| c == "cpu")),
            };
            let name = format!("{}-{}", manifest.name, uuid::Uuid::new_v4().simple());
            match Cgroup::create(layout, &name, limits) {
                Ok(c) => Some(Arc::new(c)),
                Err(e) if request.best_effort => {
                    tracing::warn!(plugin = %manifest.name, "sandbox: no cgroup (best effort): {e}");
                    None
                }
                Err(e) => return Err(e),
            }
        }
        _ => None,
    };

    let new_root = tempfile::Builder::new()
        .prefix(&crate::debris::root_prefix())
        .tempdir_in(request.runtime_dir.parent().unwrap_or(Path::new("/tmp")))
        .map_err(|e| format!("cannot create the sandbox root directory: {e}"))?;
    let namespaces = Namespaces {
        user: !support.root,
        pid: true,
        mount: true,
        ipc: true,
        uts: true,
        net: !request.network,
        cgroup: support.namespaces.iter().any(|n| n == "cgroup"),
    };
    let root = root_fs(
        request,
        new_root.path(),
        &data_dir,
        run_as,
        cgroup.is_some().then(|| cgroup_mount(support)).flatten(),
    );
    let landlock = (support.landlock.is_ok() || request.level == SandboxLevel::Strict)
        .then(|| landlock_rules(request, &data_dir));
    let spec = SandboxSpec {
        cgroup_procs: match cgroup.as_ref() {
            Some(c) if c.spawn_dir().is_none() => c.procs_files(),
            _ => Vec::new(),
        },
        spawn_into_cgroup: cgroup
            .as_ref()
            .and_then(|c| c.spawn_dir())
            .map(Path::to_path_buf),
        namespaces,
        map_user: (!support.root).then(|| {
            (
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
            )
        }),
        run_as,
        root: Some(root),
        rlimits: Rlimits {
            nofile: manifest
                .limits
                .open_files
                .map_or(DEFAULT_OPEN_FILES, u64::from),
            core: 0,
        },
        landlock: landlock.map(|mut l| {
            l.required = request.level == SandboxLevel::Strict && !request.best_effort;
            l
        }),
        seccomp: support.seccomp || !request.best_effort,
        workdir: manifest.dir.clone(),
        egress_port: (request.egress && namespaces.net).then_some(crate::egress::PROXY_PORT),
    };
    let egress = match spec.egress_port {
        Some(_) => Some(
            nix::sys::socket::socketpair(
                nix::sys::socket::AddressFamily::Unix,
                nix::sys::socket::SockType::SeqPacket,
                None,
                nix::sys::socket::SockFlag::SOCK_CLOEXEC,
            )
            .map_err(|e| format!("cannot make the egress proxy's hand-over socket: {e}"))?,
        ),
        None => None,
    };
    let spec_fd = spec
        .seal()
        .map_err(|e| format!("cannot pass the sandbox spec to the launcher: {e}"))?;
    Ok(Prepared {
        spec_fd,
        cgroup,
        host_uid,
        identity,
        data_dir,
        plugin_path: crate::process::interpreter::PLUGIN_PATH.to_owned(),
        egress,
        _new_root: new_root,
    })
}

/// Where uid leases are kept: machine-wide under `/run` so that every host
/// on the machine draws from one pool, or beside the data when there is no
/// `/run`.
fn lease_dir(data_root: &Path) -> PathBuf {
    if Path::new("/run").is_dir() {
        PathBuf::from(identity::LEASE_DIR)
    } else {
        data_root.join("uids")
    }
}

fn cgroup_mount(support: &Support) -> Option<CgroupMount> {
    match support.cgroups.as_ref().ok()? {
        Layout::V2 { .. } => Some(CgroupMount::V2),
        Layout::V1 { controllers } => Some(CgroupMount::V1(
            controllers.iter().map(|(c, _, _)| c.clone()).collect(),
        )),
    }
}

/// The system directories every plugin can read.
const SYSTEM_READ: [&str; 5] = crate::process::interpreter::SYSTEM_DIRS;

/// The files of `/etc` a plugin may need (name resolution, certificates,
/// the loader cache, time zone); never the whole of `/etc`.
const ETC: [&str; 9] = [
    "/etc/ld.so.cache",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/alternatives",
    "/etc/mime.types",
];

fn root_fs(
    request: &Request<'_>,
    new_root: &Path,
    data_dir: &Path,
    (uid, gid): (u32, u32),
    cgroupfs: Option<CgroupMount>,
) -> RootFs {
    let mut binds = Vec::new();
    let mut symlinks = Vec::new();
    for path in SYSTEM_READ.iter().chain(ETC.iter()) {
        let path = Path::new(path);
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                if let Ok(target) = std::fs::read_link(path) {
                    symlinks.push((path.to_path_buf(), target));
                }
            }
            Ok(_) => binds.push(Bind {
                path: path.to_path_buf(),
                writable: false,
                optional: true,
            }),
            Err(_) => {}
        }
    }
    binds.push(Bind {
        path: request.manifest.dir.clone(),
        writable: false,
        optional: false,
    });
    for path in &request.read {
        binds.push(Bind {
            path: path.clone(),
            writable: false,
            optional: true,
        });
    }
    for path in &request.helpers {
        binds.push(Bind {
            path: path.clone(),
            writable: false,
            optional: false,
        });
    }
    for path in &request.write {
        binds.push(Bind {
            path: path.clone(),
            writable: true,
            optional: true,
        });
    }
    // Every other plugin's runtime directory and data live under these; a
    // grant that covers them (`read:/tmp`) must not reveal them, so they
    // are hidden under an empty tmpfs before the plugin's own are bound.
    let mut masks: Vec<PathBuf> = Vec::new();
    for dir in [request.runtime_dir.parent(), data_dir.parent()]
        .into_iter()
        .flatten()
    {
        if !masks.iter().any(|m| m == dir) {
            masks.push(dir.to_path_buf());
        }
    }
    let own = [request.runtime_dir, data_dir]
        .into_iter()
        .map(|path| Bind {
            path: path.to_path_buf(),
            writable: true,
            optional: false,
        })
        .collect();
    let passwd = format!(
        "root:x:0:0:root:/:/usr/sbin/nologin\nplugin:x:{uid}:{gid}:plugin:/nonexistent:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    );
    let group = format!("root:x:0:\nplugin:x:{gid}:\nnogroup:x:65534:\n");
    RootFs {
        new_root: new_root.to_path_buf(),
        binds,
        masks,
        own,
        symlinks,
        files: vec![
            (PathBuf::from("/etc/passwd"), passwd),
            (PathBuf::from("/etc/group"), group),
            (PathBuf::from("/etc/hostname"), "plugwire\n".into()),
        ],
        tmpfs: vec![PathBuf::from("/tmp")],
        cgroupfs,
    }
}

fn landlock_rules(request: &Request<'_>, data_dir: &Path) -> LandlockRules {
    let mut read: Vec<PathBuf> = SYSTEM_READ.iter().map(PathBuf::from).collect();
    read.extend(["/etc", "/proc", "/dev", "/sys"].map(PathBuf::from));
    read.push(request.manifest.dir.clone());
    read.extend(request.read.iter().cloned());
    read.extend(request.helpers.iter().cloned());
    let mut write = vec![
        request.runtime_dir.to_path_buf(),
        data_dir.to_path_buf(),
        PathBuf::from("/tmp"),
        PathBuf::from("/dev/null"),
        PathBuf::from("/dev/zero"),
        PathBuf::from("/dev/full"),
        PathBuf::from("/dev/shm"),
    ];
    write.extend(request.write.iter().cloned());
    LandlockRules {
        read,
        write,
        required: false,
    }
}

/// A root host runs plugins as `nobody`, who must be able to reach and
/// execute the plugin.
fn check_reachable(executable: &Path, uid: u32) -> Result<(), String> {
    for dir in executable.ancestors().skip(1) {
        let Ok(meta) = std::fs::metadata(dir) else {
            continue;
        };
        let mode = meta.permissions().mode();
        if mode & 0o001 == 0 {
            return Err(format!(
                "the sandbox runs plugins as uid {uid}, which cannot enter {} (mode {:o}); make the plugin's directories world-accessible (chmod o+x) or install it elsewhere",
                dir.display(),
                mode & 0o777
            ));
        }
    }
    let meta = std::fs::metadata(executable)
        .map_err(|e| format!("cannot read {}: {e}", executable.display()))?;
    if meta.permissions().mode() & 0o005 != 0o005 {
        return Err(format!(
            "the sandbox runs plugins as uid {uid}, which cannot read and execute {} (mode {:o}); chmod o+rx it",
            executable.display(),
            meta.permissions().mode() & 0o777
        ));
    }
    Ok(())
}

/// A spec with every feature on, for documentation and tests.
#[doc(hidden)]
pub fn example_spec() -> SandboxSpec {
    SandboxSpec {
        cgroup_procs: vec![PathBuf::from(
            "/sys/fs/cgroup/pids/plugwire-1/echo/cgroup.procs",
        )],
        spawn_into_cgroup: None,
        namespaces: Namespaces {
            user: false,
            pid: true,
            mount: true,
            ipc: true,
            uts: true,
            net: true,
            cgroup: true,
        },
        map_user: None,
        run_as: NOBODY,
        root: Some(RootFs {
            new_root: PathBuf::from("/tmp/pwr-x"),
            binds: Vec::new(),
            masks: Vec::new(),
            own: Vec::new(),
            symlinks: Vec::new(),
            files: Vec::new(),
            tmpfs: Vec::new(),
            cgroupfs: None,
        }),
        rlimits: Rlimits {
            nofile: 256,
            core: 0,
        },
        landlock: Some(LandlockRules {
            read: Vec::new(),
            write: Vec::new(),
            required: false,
        }),
        seccomp: true,
        workdir: PathBuf::from("/"),
        egress_port: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_only_tighten() {
        let policy = SandboxPolicy::new(SandboxLevel::Standard)
            .plugin("a", SandboxLevel::Strict)
            .plugin("b", SandboxLevel::None);
        assert_eq!(policy.level_for("a"), SandboxLevel::Strict);
        assert_eq!(policy.level_for("b"), SandboxLevel::Standard);
        assert_eq!("strict".parse::<SandboxLevel>(), Ok(SandboxLevel::Strict));
        assert!("loose".parse::<SandboxLevel>().is_err());
    }

    #[test]
    fn missing_requirements_are_named() {
        let support = Support {
            namespaces: vec!["pid".into(), "mnt".into()],
            user_namespaces: false,
            cgroups: Err("no cgroupfs".into()),
            seccomp: false,
            landlock: Err("ENOSYS".into()),
            root: false,
        };
        assert!(support.missing(SandboxLevel::None).is_empty());
        let missing = support.missing(SandboxLevel::Strict).join("; ");
        for what in [
            "net namespace",
            "user namespaces",
            "seccomp",
            "cgroups (no cgroupfs)",
            "Landlock (ENOSYS)",
        ] {
            assert!(missing.contains(what), "{missing}");
        }
        assert!(
            !support
                .missing(SandboxLevel::Standard)
                .join(";")
                .contains("Landlock")
        );
    }
}

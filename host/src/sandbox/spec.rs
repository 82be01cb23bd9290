//! The sandbox specification the host writes for `plugwire-launcher`: every
//! decision made by the host, so the launcher only carries them out.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Everything the launcher applies, in the order of `docs/sandbox.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxSpec {
    /// `cgroup.procs` files the launcher joins before anything else.
    pub cgroup_procs: Vec<PathBuf>,
    /// Namespaces to create.
    pub namespaces: Namespaces,
    /// With a user namespace: the outer uid and gid mapped to 0 inside.
    pub map_user: Option<(u32, u32)>,
    /// The uid and gid the plugin runs as (inside the user namespace, if any).
    pub run_as: (u32, u32),
    /// The new root file system, when a mount namespace is used.
    pub root: Option<RootFs>,
    /// Resource limits, lowered before exec.
    pub rlimits: Rlimits,
    /// Landlock rules; `None` disables Landlock.
    pub landlock: Option<LandlockRules>,
    /// Install the seccomp filter (last, right before exec).
    pub seccomp: bool,
    /// Working directory of the plugin.
    pub workdir: PathBuf,
}

/// Which namespaces to create.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespaces {
    /// User (when the host is not root).
    pub user: bool,
    /// Process ids: the launcher's child is pid 1.
    pub pid: bool,
    /// Mounts.
    pub mount: bool,
    /// System V IPC and POSIX message queues.
    pub ipc: bool,
    /// Host name.
    pub uts: bool,
    /// Network: only loopback inside.
    pub net: bool,
    /// cgroup view.
    pub cgroup: bool,
}

/// The plugin's file system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    /// An empty directory where the new root (a tmpfs) is mounted.
    pub new_root: PathBuf,
    /// Bind mounts, in order; each appears at the same path inside.
    pub binds: Vec<Bind>,
    /// Symbolic links to recreate (path, target), e.g. `/bin -> usr/bin`.
    pub symlinks: Vec<(PathBuf, PathBuf)>,
    /// Small files to write (path, contents), e.g. `/etc/passwd`.
    pub files: Vec<(PathBuf, String)>,
    /// Directories that get a private tmpfs (e.g. `/tmp`).
    pub tmpfs: Vec<PathBuf>,
    /// Mount the cgroup file system read-only at `/sys/fs/cgroup`.
    pub cgroupfs: Option<CgroupMount>,
}

/// How to mount the plugin's view of its cgroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CgroupMount {
    /// cgroup2 at `/sys/fs/cgroup`.
    V2,
    /// These v1 controllers at `/sys/fs/cgroup/<name>`.
    V1(Vec<String>),
}

/// One bind mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bind {
    /// The path, outside and inside.
    pub path: PathBuf,
    /// Writable (otherwise read-only).
    pub writable: bool,
    /// Skip silently when the path does not exist.
    pub optional: bool,
}

/// Resource limits (soft = hard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimits {
    /// Open files.
    pub nofile: u64,
    /// Core file size; 0 disables core dumps.
    pub core: u64,
}

/// Landlock access rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LandlockRules {
    /// Readable (and executable) trees.
    pub read: Vec<PathBuf>,
    /// Writable trees.
    pub write: Vec<PathBuf>,
    /// Fail when the kernel cannot enforce the rules.
    pub required: bool,
}

//! The sandbox specification the host writes for `plugwire-launcher`: every
//! decision made by the host, so the launcher only carries them out.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Everything the launcher applies, in the order of `docs/sandbox.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxSpec {
    /// `cgroup.procs` files the launcher joins before anything else (v1;
    /// on v2 see `spawn_into_cgroup`).
    pub cgroup_procs: Vec<PathBuf>,
    /// A cgroup v2 directory the launcher forks init straight into
    /// (`clone3` with `CLONE_INTO_CGROUP`), so that no process migrates:
    /// the first write to a `cgroup.procs` after a quiet spell waits for an
    /// RCU grace period (6-15 ms measured). Where the kernel refuses,
    /// the launcher joins the directory by writing `cgroup.procs`.
    #[serde(default)]
    pub spawn_into_cgroup: Option<PathBuf>,
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
    /// The port of the egress proxy's listener, bound on 127.0.0.1 inside
    /// the network namespace and handed to the host (docs/sandbox.md).
    #[serde(default)]
    pub egress_port: Option<u16>,
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
    /// Directories hidden under an empty read-only tmpfs after `binds`
    /// (where a bind made them visible): other plugins' runtime and data
    /// directories live there.
    pub masks: Vec<PathBuf>,
    /// The plugin's own directories, bound last, on top of the masks.
    pub own: Vec<Bind>,
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

/// The most a spec may take; the launcher refuses a larger one.
pub const MAX_SPEC_BYTES: u64 = 1 << 20;

/// The seals that make a memory file immutable for good.
const SEALS: libc::c_int =
    libc::F_SEAL_WRITE | libc::F_SEAL_GROW | libc::F_SEAL_SHRINK | libc::F_SEAL_SEAL;

impl SandboxSpec {
    /// Writes the spec into a sealed memory file: no path names it and no
    /// process, not even its creator, can change it after this returns.
    /// The launcher inherits it (docs/security.md: nothing a plugin's uid
    /// can write is read by the launcher, which runs as root).
    ///
    /// ```
    /// let spec = plugwire_host::sandbox::example_spec();
    /// let fd = spec.seal().unwrap();
    /// assert_eq!(plugwire_host::sandbox::spec::SandboxSpec::read_sealed(&fd).unwrap(), spec);
    /// ```
    pub fn seal(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        use std::io::Write;
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        let text = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        // SAFETY: a valid C string and flags; the fd is owned right after.
        let raw = unsafe {
            libc::memfd_create(
                c"plugwire-sandbox-spec".as_ptr(),
                libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
            )
        };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: memfd_create returned a new fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut file = std::fs::File::from(fd);
        file.write_all(&text)?;
        // SAFETY: plain fcntl on an fd we own.
        if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(file.into())
    }

    /// Reads a spec from a sealed memory file, refusing anything else: a
    /// regular file, a pipe, or a memory file someone could still change.
    ///
    /// ```
    /// use plugwire_host::sandbox::spec::SandboxSpec;
    /// let plain = tempfile::tempfile().unwrap();
    /// let err = SandboxSpec::read_sealed(&plain).unwrap_err();
    /// assert!(err.contains("sealed"), "{err}");
    /// ```
    pub fn read_sealed(fd: &impl std::os::fd::AsFd) -> Result<Self, String> {
        use std::io::{Read, Seek};
        use std::os::fd::AsRawFd;
        let raw = fd.as_fd().as_raw_fd();
        // SAFETY: plain fcntl on a borrowed fd.
        let seals = unsafe { libc::fcntl(raw, libc::F_GET_SEALS) };
        if seals < 0 || seals & SEALS != SEALS {
            return Err(format!(
                "the sandbox spec on fd {raw} is not a sealed memory file (seals {seals:#x}); the host passes it as one, so something else handed this fd over"
            ));
        }
        let mut file = std::fs::File::from(
            fd.as_fd()
                .try_clone_to_owned()
                .map_err(|e| format!("fd {raw}: {e}"))?,
        );
        file.rewind().map_err(|e| format!("fd {raw}: {e}"))?;
        let mut text = Vec::new();
        file.take(MAX_SPEC_BYTES + 1)
            .read_to_end(&mut text)
            .map_err(|e| format!("cannot read the sandbox spec on fd {raw}: {e}"))?;
        if text.len() as u64 > MAX_SPEC_BYTES {
            return Err(format!(
                "the sandbox spec is larger than {MAX_SPEC_BYTES} bytes"
            ));
        }
        serde_json::from_slice(&text).map_err(|e| format!("invalid sandbox spec: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use super::*;

    #[test]
    fn a_sealed_spec_cannot_be_changed_by_anyone() {
        let spec = crate::sandbox::example_spec();
        let fd = spec.seal().unwrap();
        // Even through a new writable open of the same memory file, as a
        // process holding the fd could try.
        let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
        let reopened = std::fs::OpenOptions::new().write(true).open(&path);
        if let Ok(mut file) = reopened {
            use std::io::Write;
            assert!(file.write_all(b"{}").is_err(), "a sealed spec was written");
        }
        assert_eq!(SandboxSpec::read_sealed(&fd).unwrap(), spec);
    }

    #[test]
    fn an_unsealed_memory_file_is_refused() {
        // SAFETY: valid arguments; the fd is owned at once.
        let raw = unsafe { libc::memfd_create(c"x".as_ptr(), libc::MFD_CLOEXEC) };
        assert!(raw >= 0);
        // SAFETY: a fresh fd nothing else owns.
        let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
        let err = SandboxSpec::read_sealed(&fd).unwrap_err();
        assert!(err.contains("not a sealed memory file"), "{err}");
    }
}

//! One identity per sandboxed plugin instance on a root host: a uid (and a
//! gid of the same number) leased from a range no account uses, so that no
//! plugin can reach another's runtime directory, data or sockets, and every
//! peer check can tell plugins apart.
//!
//! A lease is an exclusive `flock` on a file named after the uid, in a
//! directory only root can write: several hosts on one machine share the
//! range without handing one uid to two plugins, and a host that dies
//! releases its leases with its file descriptors.

use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The first uid of the range. systemd leaves 1879048192–2147483647 unused
/// (docs/security.md); plugwire takes 65536 uids from there.
pub const UID_BASE: u32 = 0x7050_0000;
/// How many uids the range holds.
pub const UID_COUNT: u32 = 0x1_0000;

/// Where leases are kept on a root host.
pub const LEASE_DIR: &str = "/run/plugwire/uids";

/// A uid and gid held for one plugin instance until dropped.
#[derive(Debug)]
pub struct Identity {
    /// The uid, also used as the gid.
    pub uid: u32,
    _lease: std::fs::File,
}

impl Identity {
    /// The gid (the same number as the uid).
    ///
    /// ```no_run
    /// let id = plugwire_host::sandbox::identity::lease_in("/run/plugwire/uids".as_ref()).unwrap();
    /// assert_eq!(id.gid(), id.uid);
    /// ```
    pub fn gid(&self) -> u32 {
        self.uid
    }
}

/// Leases a uid no other plugin instance on this machine holds.
///
/// ```no_run
/// let a = plugwire_host::sandbox::identity::lease_in("/run/plugwire/uids".as_ref()).unwrap();
/// let b = plugwire_host::sandbox::identity::lease_in("/run/plugwire/uids".as_ref()).unwrap();
/// assert_ne!(a.uid, b.uid);
/// ```
pub fn lease_in(dir: &Path) -> Result<Identity, String> {
    private_dir(dir)?;
    // Start at a random place so that concurrent hosts rarely contend.
    let start = uuid::Uuid::new_v4().as_u128() as u32 % UID_COUNT;
    for step in 0..UID_COUNT {
        let uid = UID_BASE + (start + step) % UID_COUNT;
        let path = dir.join(uid.to_string());
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| format!("cannot open the uid lease {}: {e}", path.display()))?;
        // SAFETY: flock on an fd we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(Identity { uid, _lease: file });
        }
    }
    Err(format!(
        "every uid from {UID_BASE} to {} is leased to a running plugin; stop some plugins",
        UID_BASE + UID_COUNT - 1
    ))
}

/// Creates `dir` (and its parents) owned by us with mode 0700, or checks
/// that an existing one is exactly that: a directory another user made or
/// can write would let them hand out or steal leases.
pub fn private_dir(dir: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(dir) {
        Err(_) => {
            if let Some(parent) = dir.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            }
            match std::fs::create_dir(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
            }
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| format!("cannot restrict {}: {e}", dir.display()))?;
            check_private(dir, 0o077)
        }
        Ok(_) => check_private(dir, 0o077),
    }
}

/// Checks that `dir` is a real directory of ours with none of `forbidden`'s
/// permission bits.
pub fn check_private(dir: &Path, forbidden: u32) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| format!("cannot inspect {}: {e}", dir.display()))?;
    let euid = nix::unistd::geteuid().as_raw();
    if !meta.file_type().is_dir() || meta.uid() != euid || meta.mode() & forbidden != 0 {
        return Err(format!(
            "{} must be a directory owned by uid {euid} with mode {:o} or stricter, but it is {} owned by uid {} with mode {:o}; remove it and start again",
            dir.display(),
            0o777 & !forbidden,
            if meta.file_type().is_symlink() {
                "a symbolic link"
            } else if meta.file_type().is_dir() {
                "a directory"
            } else {
                "a file"
            },
            meta.uid(),
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// Gives a tree to `uid:gid` without following a single symbolic link, so
/// that whatever a former owner planted inside cannot redirect the change
/// to a file outside.
pub fn chown_tree(dir: &Path, uid: u32, gid: u32) -> Result<(), String> {
    use nix::fcntl::{AtFlags, OFlag, open, openat};
    use nix::sys::stat::Mode;
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let root = open(dir, flags, Mode::empty()).map_err(|e| format!("{}: {e}", dir.display()))?;
    let owner = (
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gid)),
    );
    nix::unistd::fchown(&root, owner.0, owner.1).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut pending = vec![(root, PathBuf::from(dir))];
    while let Some((fd, path)) = pending.pop() {
        let mut listing = nix::dir::Dir::from_fd(fd.try_clone().map_err(|e| e.to_string())?)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let mut children = Vec::new();
        for entry in listing.iter() {
            let entry = entry.map_err(|e| format!("{}: {e}", path.display()))?;
            let name = entry.file_name().to_owned();
            if name.as_bytes() == b"." || name.as_bytes() == b".." {
                continue;
            }
            children.push((name, entry.file_type()));
        }
        for (name, kind) in children {
            let child = path.join(std::ffi::OsStr::from_bytes(name.as_bytes()));
            nix::unistd::fchownat(
                &fd,
                name.as_c_str(),
                owner.0,
                owner.1,
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(|e| format!("{}: {e}", child.display()))?;
            if kind == Some(nix::dir::Type::Directory) {
                match openat(&fd, name.as_c_str(), flags, Mode::empty()) {
                    Ok(sub) => pending.push((sub, child)),
                    // Swapped for a link since it was listed: not followed.
                    Err(nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR) => {}
                    Err(e) => return Err(format!("{}: {e}", child.display())),
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_are_distinct_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let leases = dir.path().join("uids");
        let a = lease_in(&leases).unwrap();
        let b = lease_in(&leases).unwrap();
        assert_ne!(a.uid, b.uid);
        assert!((UID_BASE..UID_BASE + UID_COUNT).contains(&a.uid));
        let uid = a.uid;
        drop(a);
        // The lease file stays, but its lock is free for the next host.
        let file = std::fs::File::open(leases.join(uid.to_string())).unwrap();
        // SAFETY: flock on an fd we own.
        assert_eq!(
            unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
            0
        );
    }

    #[test]
    fn a_lease_directory_others_can_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let leases = dir.path().join("uids");
        std::fs::create_dir(&leases).unwrap();
        std::fs::set_permissions(&leases, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = lease_in(&leases).unwrap_err();
        assert!(err.contains("mode 700 or stricter"), "{err}");
    }

    #[test]
    fn chown_tree_never_follows_links() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::NamedTempFile::new().unwrap();
        let tree = dir.path().join("data");
        std::fs::create_dir_all(tree.join("sub")).unwrap();
        std::fs::write(tree.join("sub/file"), "x").unwrap();
        std::os::unix::fs::symlink(outside.path(), tree.join("link")).unwrap();
        std::os::unix::fs::symlink(dir.path(), tree.join("dirlink")).unwrap();
        chown_tree(&tree, UID_BASE, UID_BASE).unwrap();
        let uid_of = |p: &Path| std::fs::symlink_metadata(p).unwrap().uid();
        assert_eq!(uid_of(&tree.join("sub/file")), UID_BASE);
        assert_eq!(uid_of(&tree.join("link")), UID_BASE, "the link itself");
        assert_eq!(uid_of(outside.path()), 0, "never its target");
        assert_eq!(uid_of(dir.path()), 0, "never a linked directory");
    }
}

//! Which plugin directories may be loaded at all. Like git's
//! `safe.directory` rule: code that another user can change is not run
//! silently as ours. A plugin is loaded only when its directory, its search
//! root, its manifest and its executable each belong to the user running
//! the host (or to root) and cannot be written by other users: no write bit
//! for others, and no group write bit unless the group is the user's own.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::manifest::{MANIFEST_FILE, Manifest};

/// Why a path must not be trusted, if it must not.
fn untrusted(path: &Path, uid: u32, gid: u32) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let owner = meta.uid();
    let mode = meta.mode();
    if owner != uid && owner != 0 {
        return Some(format!(
            "{} belongs to uid {owner}, not to you (uid {uid}) or root",
            path.display()
        ));
    }
    if mode & 0o002 != 0 {
        return Some(format!("{} is writable by every user", path.display()));
    }
    if mode & 0o020 != 0 && meta.gid() != gid {
        return Some(format!(
            "{} is writable by group {}, which is not yours",
            path.display(),
            meta.gid()
        ));
    }
    None
}

/// Checks a plugin found under `root`: the root, the plugin directory, its
/// manifest and its executable. Returns why it must be skipped.
///
/// ```no_run
/// let m = plugwire_host::manifest::Manifest::load("plugins/echo".as_ref()).unwrap();
/// assert_eq!(plugwire_host::trust::check("plugins".as_ref(), &m), None);
/// ```
pub fn check(root: &Path, manifest: &Manifest) -> Option<String> {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    [
        root,
        manifest.dir.as_path(),
        &manifest.dir.join(MANIFEST_FILE),
        manifest.executable.as_path(),
    ]
    .into_iter()
    .find_map(|p| untrusted(p, uid, gid))
    .map(|why| {
        format!(
            "{why}: another user could change plugin {:?}, so it is not loaded; fix the ownership or mode (chmod go-w) if you trust it",
            manifest.name
        )
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn plugin(root: &Path) -> Manifest {
        let dir = root.join("p");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(MANIFEST_FILE),
            "name = \"p\"\nversion = \"1.0.0\"\n[run]\nexecutable = \"bin\"\n",
        )
        .unwrap();
        std::fs::write(dir.join("bin"), "").unwrap();
        Manifest::load(&dir).unwrap()
    }

    #[test]
    fn a_plugin_others_can_change_is_not_trusted() {
        let root = tempfile::tempdir().unwrap();
        let m = plugin(root.path());
        assert_eq!(check(root.path(), &m), None);
        let set = |p: &Path, mode| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        set(&m.executable, 0o757);
        let why = check(root.path(), &m).unwrap();
        assert!(why.contains("writable by every user"), "{why}");
        set(&m.executable, 0o755);
        set(root.path(), 0o777);
        assert!(check(root.path(), &m).is_some(), "the search root too");
        set(root.path(), 0o755);
        if nix::unistd::geteuid().is_root() {
            std::os::unix::fs::chown(&m.dir, Some(12345), None).unwrap();
            let why = check(root.path(), &m).unwrap();
            assert!(why.contains("belongs to uid 12345"), "{why}");
        }
    }
}

//! Runtime directories: one private directory per plugin instance, inside
//! this user's runtime base, and the reclaiming of what dead hosts left.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use plugwire_proto::constants::MAX_SOCKET_PATH_LEN;

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
        crate::dirs::runtime(),
        Some(PathBuf::from("/tmp")),
        Some(std::env::temp_dir()),
    ];
    let mut refused = Vec::new();
    for base in candidates.into_iter().flatten() {
        let base = base.join(format!("plugwire-{}", nix::unistd::geteuid()));
        // "<base>/pw-<pid>-<8 random characters>/plugin.sock" must fit in sun_path.
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
        crate::dirs::runtime(),
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

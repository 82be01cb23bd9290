//! Installing a package into a plugin root, atomically: it is unpacked and
//! verified into a staging directory beside its final place (the same
//! filesystem), then renamed into place, or exchanged with the version
//! already there in one `renameat2(RENAME_EXCHANGE)`. A failure at any step
//! leaves nothing behind and what was installed untouched.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::unpack::{Limits, unpack};
use super::{PackageError, digest_of};
use crate::manifest::{MANIFEST_FILE, Manifest};

/// What an install did.
#[derive(Debug, Clone)]
pub struct Installed {
    /// The plugin.
    pub name: String,
    /// Its version now.
    pub version: String,
    /// Where it is: `<root>/<name>`.
    pub dir: PathBuf,
    /// `sha256:<hex>` of the package.
    pub digest: String,
    /// The version it replaced, if one was installed.
    pub replaced: Option<String>,
}

/// Installs the package `archive` (`.tar.gz` bytes) under `root`, as
/// `<root>/<name>`.
///
/// ```no_run
/// use plugwire_host::packages::{Limits, install, pack};
/// let package = pack("plugins/echo".as_ref()).unwrap();
/// let root = tempfile::tempdir().unwrap();
/// let installed = install(&package.bytes, root.path(), &Limits::default()).unwrap();
/// assert_eq!(installed.dir, root.path().join("echo"));
/// assert_eq!(installed.digest, package.digest);
/// ```
pub fn install(archive: &[u8], root: &Path, limits: &Limits) -> Result<Installed, PackageError> {
    Ok(stage(archive, root, limits)?.commit())
}

/// An install that has switched the plugin's directory to the new version
/// and still holds the old one, so that it can be undone: [`Staged::commit`]
/// lets the old one go, [`Staged::rollback`] puts it back (an update that
/// fails to start, say).
#[derive(Debug)]
pub struct Staged {
    installed: Installed,
    /// The directory holding the version replaced, if there was one.
    previous: Option<tempfile::TempDir>,
}

impl Staged {
    /// What is installed now.
    pub fn installed(&self) -> &Installed {
        &self.installed
    }

    /// Keeps the new version; the old one is removed.
    pub fn commit(self) -> Installed {
        drop(self.previous);
        self.installed
    }

    /// Puts back what was there before: the old version in one exchange,
    /// or nothing at all for a first install.
    pub fn rollback(self) -> Result<(), PackageError> {
        let dir = &self.installed.dir;
        match &self.previous {
            Some(previous) => exchange(previous.path(), dir),
            None => std::fs::remove_dir_all(dir).map_err(|e| PackageError::io(dir.display(), e)),
        }
    }
}

fn exchange(a: &Path, b: &Path) -> Result<(), PackageError> {
    nix::fcntl::renameat2(
        nix::fcntl::AT_FDCWD,
        a,
        nix::fcntl::AT_FDCWD,
        b,
        nix::fcntl::RenameFlags::RENAME_EXCHANGE,
    )
    .map_err(|e| PackageError::io(b.display(), std::io::Error::from(e)))
}

/// Unpacks and verifies `archive` beside its final place and switches the
/// plugin's directory to it, keeping the old version until the result is
/// committed or rolled back.
pub fn stage(archive: &[u8], root: &Path, limits: &Limits) -> Result<Staged, PackageError> {
    std::fs::create_dir_all(root).map_err(|e| PackageError::io(root.display(), e))?;
    let staging = tempfile::Builder::new()
        .prefix(".staging-")
        .tempdir_in(root)
        .map_err(|e| PackageError::io(root.display(), e))?;
    let unpacked = unpack(archive, staging.path(), limits)?;
    let here = crate::manifest::platform();
    if let Some(built_for) = unpacked.platform.as_deref().filter(|p| *p != here) {
        return Err(PackageError::Manifest(format!(
            "the package is built for {built_for}, and this machine is {here}; install the {name} package for {here}",
            name = unpacked.manifest.name
        )));
    }
    let name = unpacked.manifest.name.clone();
    let version = unpacked.manifest.version.to_string();
    // Readable by the uids sandboxed plugins run as, writable by nobody else.
    std::fs::set_permissions(staging.path(), std::fs::Permissions::from_mode(0o755))
        .map_err(|e| PackageError::io(staging.path().display(), e))?;
    let dir = root.join(&name);
    let replaced = match std::fs::symlink_metadata(&dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(PackageError::io(dir.display(), e)),
        Ok(meta) if !meta.file_type().is_dir() => {
            return Err(PackageError::Source {
                path: dir.display().to_string(),
                why: format!(
                    "is in the way and is not a plugin directory; move it away to install {name}"
                ),
            });
        }
        Ok(_) => match Manifest::load(&dir) {
            Ok(old) if old.name == name => Some(old.version.to_string()),
            Ok(old) => {
                return Err(PackageError::Source {
                    path: dir.display().to_string(),
                    why: format!(
                        "holds the plugin {:?}, not {name:?}; move it away to install {name}",
                        old.name
                    ),
                });
            }
            Err(_) if !dir.join(MANIFEST_FILE).exists() => {
                return Err(PackageError::Source {
                    path: dir.display().to_string(),
                    why: format!(
                        "is a directory without {MANIFEST_FILE}; move it away to install {name}"
                    ),
                });
            }
            // A broken install of the same name is replaced.
            Err(_) => Some("(broken)".to_owned()),
        },
    };
    let previous = if replaced.is_some() {
        exchange(staging.path(), &dir)?;
        // The staging directory now holds the old version.
        Some(staging)
    } else {
        std::fs::rename(staging.path(), &dir).map_err(|e| PackageError::io(dir.display(), e))?;
        // Renamed away: nothing is left to remove.
        let _ = staging.keep();
        None
    };
    Ok(Staged {
        installed: Installed {
            name,
            version,
            dir,
            digest: digest_of(archive),
            replaced,
        },
        previous,
    })
}

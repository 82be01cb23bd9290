//! Building a package from a plugin directory, reproducibly: the same
//! files give the same bytes, whoever builds them and whenever.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use super::sums::{self, SUMS_FILE, hex};
use super::unpack::Limits;
use super::{PackageError, digest_of};
use crate::manifest::{MANIFEST_FILE, Manifest};

/// A built package.
#[derive(Debug, Clone)]
pub struct Package {
    /// The plugin's name, from its manifest.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The `.tar.gz` bytes.
    pub bytes: Vec<u8>,
    /// `sha256:<hex>` of `bytes`.
    pub digest: String,
    /// Files packed (not counting `SHA256SUMS`).
    pub files: usize,
    /// The platform it is built for, when the manifest has an executable
    /// per platform.
    pub platform: Option<String>,
}

impl Package {
    /// The file name a package is published under:
    /// `<name>-<version>.tar.gz`, or `<name>-<version>-<platform>.tar.gz`.
    ///
    /// ```no_run
    /// let package = plugwire_host::packages::pack("plugins/echo".as_ref()).unwrap();
    /// assert_eq!(package.file_name(), format!("echo-{}.tar.gz", package.version));
    /// ```
    pub fn file_name(&self) -> String {
        match &self.platform {
            Some(platform) => format!("{}-{}-{platform}.tar.gz", self.name, self.version),
            None => format!("{}-{}.tar.gz", self.name, self.version),
        }
    }
}

/// One file or directory to pack, by its path inside the package.
enum Item {
    Dir,
    File { bytes: Vec<u8>, executable: bool },
}

/// Packs the plugin in `dir`: its manifest must be valid; every regular
/// file and directory under it goes in (a `SHA256SUMS` there is replaced);
/// links and special files are refused, as unpacking would refuse them.
/// Entries are sorted, with fixed times, owners and modes (0755 for
/// directories and executables, 0644 otherwise), `SHA256SUMS` first.
///
/// ```no_run
/// let a = plugwire_host::packages::pack("plugins/echo".as_ref()).unwrap();
/// let b = plugwire_host::packages::pack("plugins/echo".as_ref()).unwrap();
/// assert_eq!(a.digest, b.digest, "reproducible");
/// ```
pub fn pack(dir: &Path) -> Result<Package, PackageError> {
    pack_for(dir, None)
}

/// Packs for `platform` (this machine's when `None`): with an executable
/// per platform in the manifest, the package holds only that platform's,
/// records the platform in a `PLATFORM` file, and is named after it.
///
/// ```no_run
/// let package = plugwire_host::packages::pack_for("plugins/echo".as_ref(), Some("linux-aarch64")).unwrap();
/// assert!(package.file_name().ends_with("-linux-aarch64.tar.gz"));
/// ```
pub fn pack_for(dir: &Path, platform: Option<&str>) -> Result<Package, PackageError> {
    let here = crate::manifest::platform();
    let platform = platform.unwrap_or(&here);
    let manifest =
        Manifest::load_for(dir, platform).map_err(|e| PackageError::Manifest(e.to_string()))?;
    let limits = Limits::default();
    let mut items = BTreeMap::new();
    collect(dir, "", &mut items, &limits)?;
    let built_for = (!manifest.platforms.is_empty()).then(|| platform.to_owned());
    if let Some(platform) = &built_for {
        // Other platforms' executables stay out; the platform goes in.
        let ours = &manifest.platforms[platform];
        for (other, path) in &manifest.platforms {
            if other != platform && path != ours {
                items.remove(path.trim_start_matches("./"));
            }
        }
        items.insert(
            super::unpack::PLATFORM_FILE.to_owned(),
            Item::File {
                bytes: format!("{platform}\n").into_bytes(),
                executable: false,
            },
        );
    }
    let mut digests = BTreeMap::new();
    for (path, item) in &items {
        if let Item::File { bytes, .. } = item {
            digests.insert(path.clone(), hex(&Sha256::digest(bytes)));
        }
    }
    let sums = sums::format(&digests);
    let encoder = GzEncoder::new(Vec::new(), Compression::new(6));
    let mut archive = tar::Builder::new(encoder);
    append(&mut archive, SUMS_FILE, sums.as_bytes(), false)?;
    // The manifest next, so a reader sees what it is early.
    if let Some(Item::File { bytes, executable }) = items.get(MANIFEST_FILE) {
        append(&mut archive, MANIFEST_FILE, bytes, *executable)?;
    }
    for (path, item) in &items {
        match item {
            Item::Dir => {
                let mut header = header(tar::EntryType::Directory, 0o755, 0);
                archive
                    .append_data(&mut header, format!("{path}/"), std::io::empty())
                    .map_err(|e| PackageError::io(path, e))?;
            }
            Item::File { .. } if path == MANIFEST_FILE => {}
            Item::File { bytes, executable } => append(&mut archive, path, bytes, *executable)?,
        }
    }
    let bytes = archive
        .into_inner()
        .and_then(|gz| gz.finish())
        .map_err(|e| PackageError::io(dir.display(), e))?;
    Ok(Package {
        name: manifest.name,
        version: manifest.version.to_string(),
        digest: digest_of(&bytes),
        files: digests.len(),
        bytes,
        platform: built_for,
    })
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header
}

fn append(
    archive: &mut tar::Builder<GzEncoder<Vec<u8>>>,
    path: &str,
    bytes: &[u8],
    executable: bool,
) -> Result<(), PackageError> {
    let mode = if executable { 0o755 } else { 0o644 };
    let mut header = header(tar::EntryType::Regular, mode, bytes.len() as u64);
    archive
        .append_data(&mut header, path, bytes)
        .map_err(|e| PackageError::io(path, e))
}

/// Walks `dir` without following links, into `items` by package path.
fn collect(
    dir: &Path,
    prefix: &str,
    items: &mut BTreeMap<String, Item>,
    limits: &Limits,
) -> Result<(), PackageError> {
    let entries = std::fs::read_dir(dir).map_err(|e| PackageError::io(dir.display(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| PackageError::io(dir.display(), e))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_str().ok_or_else(|| PackageError::Source {
            path: path.display().to_string(),
            why: "the name is not UTF-8; rename it".into(),
        })?;
        let inside = if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}/{name}")
        };
        if inside == SUMS_FILE {
            continue;
        }
        if items.len() >= limits.entries {
            return Err(PackageError::TooLarge(format!(
                "{}: more than {} files and directories; a package holds at most that many",
                dir.display(),
                limits.entries
            )));
        }
        let meta =
            std::fs::symlink_metadata(&path).map_err(|e| PackageError::io(path.display(), e))?;
        let kind = meta.file_type();
        if kind.is_dir() {
            items.insert(inside.clone(), Item::Dir);
            collect(&path, &inside, items, limits)?;
        } else if kind.is_file() {
            if meta.len() > limits.file_bytes {
                return Err(PackageError::TooLarge(format!(
                    "{}: {} bytes, over the {}-byte limit of a packaged file",
                    path.display(),
                    meta.len(),
                    limits.file_bytes
                )));
            }
            let bytes = std::fs::read(&path).map_err(|e| PackageError::io(path.display(), e))?;
            let executable = meta.permissions().mode() & 0o100 != 0;
            items.insert(inside, Item::File { bytes, executable });
        } else {
            let what = if kind.is_symlink() {
                "a link"
            } else {
                "not a regular file"
            };
            return Err(PackageError::Source {
                path: path.display().to_string(),
                why: format!(
                    "{what}: packages hold regular files and directories only; copy the file it stands for, or remove it"
                ),
            });
        }
    }
    let total: u64 = items
        .values()
        .map(|i| match i {
            Item::File { bytes, .. } => bytes.len() as u64,
            Item::Dir => 0,
        })
        .sum();
    if total > limits.total_bytes {
        return Err(PackageError::TooLarge(format!(
            "{}: {total} bytes in all, over the {}-byte limit of a package",
            dir.display(),
            limits.total_bytes
        )));
    }
    Ok(())
}

//! Unpacking a package that may be hostile (`.tar.gz`, or `.zip` with the
//! same layout): every entry is checked before
//! anything is written (no absolute paths, no `..`, no links, no devices,
//! no setuid bits, caps on entries, sizes and path lengths), files are
//! created new and never through a link, and every file is checked against
//! `SHA256SUMS` at the end. Each refusal names the entry.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path};

use sha2::{Digest, Sha256};

use super::PackageError;
use super::sums::{self, SUMS_FILE, hex};
use crate::manifest::Manifest;

/// The file naming the platform a package is built for, when its
/// manifest has an executable per platform.
pub const PLATFORM_FILE: &str = "PLATFORM";

/// Caps on what a package may hold.
///
/// ```
/// let limits = plugwire_host::packages::Limits::default();
/// assert!(limits.entries >= 1000 && limits.total_bytes >= 1 << 30);
/// ```
#[derive(Debug, Clone)]
pub struct Limits {
    /// Files and directories.
    pub entries: usize,
    /// Bytes of all files together, unpacked.
    pub total_bytes: u64,
    /// Bytes of one file.
    pub file_bytes: u64,
    /// Bytes of one entry's path.
    pub path_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            entries: 10_000,
            total_bytes: 2 << 30,
            file_bytes: 1 << 30,
            path_bytes: 1024,
        }
    }
}

/// What was unpacked.
#[derive(Debug)]
pub struct Unpacked {
    /// The package's manifest, validated.
    pub manifest: Manifest,
    /// Files written (with `SHA256SUMS`).
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// The platform it is built for, if it names one.
    pub platform: Option<String>,
}

/// Unpacks the package `archive` (`.tar.gz`, or `.zip`) into `dest`, an
/// empty directory, checking everything on the way (module docs).
///
/// ```no_run
/// use plugwire_host::packages::{Limits, pack, unpack};
/// let package = pack("plugins/echo".as_ref()).unwrap();
/// let dest = tempfile::tempdir().unwrap();
/// let unpacked = unpack(&package.bytes[..], dest.path(), &Limits::default()).unwrap();
/// assert_eq!(unpacked.manifest.name, "echo");
/// ```
pub fn unpack(archive: &[u8], dest: &Path, limits: &Limits) -> Result<Unpacked, PackageError> {
    let mut writer = Writer {
        dest,
        limits,
        seen: BTreeMap::new(),
        dirs: BTreeSet::new(),
        total: 0,
        count: 0,
    };
    if archive.starts_with(b"PK\x03\x04") {
        unpack_zip(archive, &mut writer)?;
    } else {
        unpack_tar_gz(archive, &mut writer)?;
    }
    writer.finish()
}

/// What an entry is.
enum Kind {
    Dir,
    File,
    /// Refused, as this.
    Other(&'static str),
}

fn unpack_tar_gz(archive: &[u8], writer: &mut Writer<'_>) -> Result<(), PackageError> {
    let mut reader = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let entries = reader
        .entries()
        .map_err(|e| not_a_package(format!("cannot read the archive: {e}")))?;
    for entry in entries {
        let mut entry =
            entry.map_err(|e| not_a_package(format!("cannot read the archive: {e}")))?;
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let header = entry.header();
        let mode = header
            .mode()
            .map_err(|e| PackageError::entry(&shown, format!("unreadable mode: {e}")))?;
        let size = header
            .size()
            .map_err(|e| PackageError::entry(&shown, format!("unreadable size: {e}")))?;
        let kind = match header.entry_type() {
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File,
            tar::EntryType::Symlink => Kind::Other("a symbolic link"),
            tar::EntryType::Link => Kind::Other("a hard link"),
            tar::EntryType::Char | tar::EntryType::Block => Kind::Other("a device file"),
            tar::EntryType::Fifo => Kind::Other("a named pipe"),
            _ => Kind::Other("an entry of an unknown kind"),
        };
        writer.entry(&raw, kind, mode, size, &mut entry)?;
    }
    Ok(())
}

fn unpack_zip(archive: &[u8], writer: &mut Writer<'_>) -> Result<(), PackageError> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive))
        .map_err(|e| not_a_package(format!("cannot read the zip archive: {e}")))?;
    if zip.len() > writer.limits.entries {
        return Err(too_many(writer.limits));
    }
    for i in 0..zip.len() {
        let mut file = zip
            .by_index(i)
            .map_err(|e| not_a_package(format!("cannot read zip entry {i}: {e}")))?;
        let raw = file.name_raw().to_vec();
        let unix = file.unix_mode();
        let mode = unix.unwrap_or(0o644) & 0o7777;
        let kind = match unix.map(|m| m & 0o170000) {
            _ if file.is_symlink() => Kind::Other("a symbolic link"),
            _ if file.is_dir() => Kind::Dir,
            None | Some(0) | Some(0o100000) => Kind::File,
            Some(0o040000) => Kind::Dir,
            Some(0o020000) | Some(0o060000) => Kind::Other("a device file"),
            Some(0o010000) => Kind::Other("a named pipe"),
            Some(_) => Kind::Other("an entry of an unknown kind"),
        };
        let size = file.size();
        writer.entry(&raw, kind, mode, size, &mut file)?;
    }
    Ok(())
}

fn too_many(limits: &Limits) -> PackageError {
    PackageError::TooLarge(format!(
        "the archive holds more than {} entries; a package holds at most that many",
        limits.entries
    ))
}

/// Writes checked entries into `dest`, counting against the caps.
struct Writer<'a> {
    dest: &'a Path,
    limits: &'a Limits,
    /// Files written, with their SHA-256.
    seen: BTreeMap<String, String>,
    dirs: BTreeSet<String>,
    total: u64,
    count: usize,
}

impl Writer<'_> {
    fn entry(
        &mut self,
        raw: &[u8],
        kind: Kind,
        mode: u32,
        size: u64,
        data: &mut impl Read,
    ) -> Result<(), PackageError> {
        let limits = self.limits;
        self.count += 1;
        if self.count > limits.entries {
            return Err(too_many(limits));
        }
        let shown = String::from_utf8_lossy(raw).into_owned();
        let path = checked_path(raw, limits).map_err(|why| PackageError::entry(&shown, why))?;
        if mode & 0o7000 != 0 {
            return Err(PackageError::entry(
                &shown,
                format!("mode {mode:o} has the setuid, setgid or sticky bit; packages carry none"),
            ));
        }
        match kind {
            Kind::Dir => {
                create_dirs(self.dest, &path, &shown)?;
                self.dirs.insert(path);
            }
            Kind::File => {
                if size > limits.file_bytes {
                    return Err(PackageError::TooLarge(format!(
                        "entry {shown:?}: {size} bytes, over the {}-byte limit of one file",
                        limits.file_bytes
                    )));
                }
                self.total += size;
                if self.total > limits.total_bytes {
                    return Err(PackageError::TooLarge(format!(
                        "the archive unpacks to more than {} bytes; a package holds at most that",
                        limits.total_bytes
                    )));
                }
                if self.seen.contains_key(&path) || self.dirs.contains(&path) {
                    return Err(PackageError::entry(&shown, "appears twice in the archive"));
                }
                if let Some(parent) = Path::new(&path)
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                {
                    create_dirs(self.dest, &parent.to_string_lossy(), &shown)?;
                }
                let executable = mode & 0o111 != 0;
                let digest = write_file(self.dest, &path, data, size, executable, &shown)?;
                self.seen.insert(path, digest);
            }
            Kind::Other(what) => {
                return Err(PackageError::entry(
                    &shown,
                    format!("{what}; packages hold regular files and directories only"),
                ));
            }
        }
        Ok(())
    }

    /// Checks every file against `SHA256SUMS`, then the manifest.
    fn finish(mut self) -> Result<Unpacked, PackageError> {
        let dest = self.dest;
        let listed = match self.seen.remove(SUMS_FILE) {
            Some(_) => {
                let text = std::fs::read_to_string(dest.join(SUMS_FILE))
                    .map_err(|e| PackageError::io(SUMS_FILE, e))?;
                sums::parse(&text)?
            }
            None => {
                return Err(not_a_package(format!(
                    "no {SUMS_FILE} in it; build packages with `plugwire pack DIR`"
                )));
            }
        };
        for (path, digest) in &self.seen {
            match listed.get(path) {
                None => {
                    return Err(PackageError::Digest {
                        path: path.clone(),
                        why: format!(
                            "in the archive but not in {SUMS_FILE}: the package was altered after it was built"
                        ),
                    });
                }
                Some(expected) if expected != digest => {
                    return Err(PackageError::Digest {
                        path: path.clone(),
                        why: format!(
                            "sha256 {digest}, but {SUMS_FILE} says {expected}: the file was altered after the package was built"
                        ),
                    });
                }
                Some(_) => {}
            }
        }
        if let Some(missing) = listed.keys().find(|p| !self.seen.contains_key(*p)) {
            return Err(PackageError::Digest {
                path: missing.clone(),
                why: format!("listed in {SUMS_FILE} but missing from the archive"),
            });
        }
        let platform = match std::fs::read_to_string(dest.join(PLATFORM_FILE)) {
            Ok(text) => Some(text.trim().to_owned()),
            Err(_) => None,
        };
        let for_platform = platform.clone().unwrap_or_else(crate::manifest::platform);
        let manifest = Manifest::load_for(dest, &for_platform)
            .map_err(|e| PackageError::Manifest(e.to_string()))?;
        Ok(Unpacked {
            manifest,
            files: self.seen.len() + 1,
            bytes: self.total,
            platform,
        })
    }
}

fn not_a_package(why: String) -> PackageError {
    PackageError::Manifest(format!("not a plugwire package: {why}"))
}

/// The entry's path, relative and normal, or why not.
fn checked_path(raw: &[u8], limits: &Limits) -> Result<String, String> {
    if raw.len() > limits.path_bytes {
        return Err(format!(
            "the path is {} bytes, over the {}-byte limit",
            raw.len(),
            limits.path_bytes
        ));
    }
    let text = std::str::from_utf8(raw).map_err(|_| "the path is not UTF-8".to_owned())?;
    if text.contains('\0') {
        return Err("the path holds a NUL byte".into());
    }
    let mut parts = Vec::new();
    for component in Path::new(text).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => return Err("the path climbs out with `..`".into()),
            Component::RootDir | Component::Prefix(_) => {
                return Err("the path is absolute; entries must be relative to the package".into());
            }
        }
    }
    if parts.is_empty() {
        return Err("the path is empty".into());
    }
    Ok(parts.join("/"))
}

/// Creates `path` and its parents under `dest`, each a real directory.
fn create_dirs(dest: &Path, path: &str, shown: &str) -> Result<(), PackageError> {
    let mut at = dest.to_path_buf();
    for part in path.split('/') {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_dir() => {}
            Ok(_) => {
                return Err(PackageError::entry(
                    shown,
                    format!("{part:?} is already a file in the package, not a directory"),
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::DirBuilder::new()
                    .mode(0o755)
                    .create(&at)
                    .map_err(|e| PackageError::io(at.display(), e))?;
            }
            Err(e) => return Err(PackageError::io(at.display(), e)),
        }
    }
    Ok(())
}

/// Writes one file, new, never through a link, at most `size` bytes; its
/// SHA-256.
fn write_file(
    dest: &Path,
    path: &str,
    data: &mut impl Read,
    size: u64,
    executable: bool,
    shown: &str,
) -> Result<String, PackageError> {
    let target = dest.join(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if executable { 0o755 } else { 0o644 })
        .custom_flags(libc::O_NOFOLLOW)
        .open(&target)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                PackageError::entry(shown, "appears twice in the archive")
            }
            _ => PackageError::io(target.display(), e),
        })?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = data.take(size);
    let mut written = 0u64;
    loop {
        let n = left
            .read(&mut buf)
            .map_err(|e| PackageError::entry(shown, format!("cannot read: {e}")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])
            .map_err(|e| PackageError::io(target.display(), e))?;
        written += n as u64;
    }
    if written != size {
        return Err(PackageError::entry(
            shown,
            format!("the archive ends after {written} of its {size} bytes"),
        ));
    }
    Ok(hex(&hasher.finalize()))
}

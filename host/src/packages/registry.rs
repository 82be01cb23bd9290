//! The registry of installed plugins: one JSON file under the user's data
//! directory (`<data>/installed.json`), changed only under a lock and
//! written atomically, so two `plugwire` processes at once cannot corrupt
//! it. Each record keeps what was installed (name, version, source,
//! package digest, signer, time, enabled, pin) and every file's digest and
//! identity, so that a launch can tell cheaply whether the files changed
//! since: files whose identity (device, inode, size, modification and
//! change times) is as recorded are not read; only the others are hashed.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::sums::hex;

/// The registry's file name under the data directory.
pub const REGISTRY_FILE: &str = "installed.json";

/// Largest registry file read.
const MAX_REGISTRY: u64 = 16 << 20;

/// What is installed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Registry {
    /// By plugin name.
    pub plugins: BTreeMap<String, Record>,
}

/// One installed plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Its version.
    pub version: String,
    /// Where it was installed from (a path, a URL, an index entry).
    pub source: String,
    /// `sha256:<hex>` of the package.
    pub digest: String,
    /// The key that signed it, if it was verified.
    pub signer: Option<String>,
    /// When it was installed (RFC 3339).
    pub installed: String,
    /// False once disabled: listed, never started.
    pub enabled: bool,
    /// A version requirement updates must match.
    pub pinned: Option<String>,
    /// Where it was installed.
    pub dir: PathBuf,
    /// Every file, by path inside `dir`.
    pub files: BTreeMap<String, FileRecord>,
}

/// One installed file: its digest and its identity on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRecord {
    /// SHA-256, hex.
    pub sha256: String,
    /// Device, inode, size, mtime (s, ns), ctime (s, ns) when installed.
    pub stamp: [i64; 7],
}

/// How a plugin's files compare with its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Every file is as installed.
    Intact {
        /// Files hashed because their identity had changed (0 at most launches).
        rehashed: usize,
    },
    /// A file differs or is gone.
    Modified {
        /// The file, inside the plugin's directory.
        file: String,
        /// What is wrong: expected and seen.
        why: String,
    },
}

impl Registry {
    /// The registry under `data_dir`.
    ///
    /// ```
    /// let path = plugwire_host::packages::Registry::path("/home/me/.local/share/plugwire".as_ref());
    /// assert!(path.ends_with("installed.json"));
    /// ```
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(REGISTRY_FILE)
    }

    /// Reads the registry; none there is an empty one.
    ///
    /// ```no_run
    /// use plugwire_host::packages::Registry;
    /// let registry = Registry::load(&Registry::path("/home/me/.local/share/plugwire".as_ref()))?;
    /// for (name, record) in &registry.plugins { println!("{name} {}", record.version); }
    /// # Ok::<(), String>(())
    /// ```
    pub fn load(path: &Path) -> Result<Self, String> {
        let mut text = String::new();
        match std::fs::File::open(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
            Ok(file) => {
                file.take(MAX_REGISTRY + 1)
                    .read_to_string(&mut text)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            }
        }
        if text.len() as u64 > MAX_REGISTRY {
            return Err(format!(
                "{}: over the {MAX_REGISTRY}-byte limit of the registry",
                path.display()
            ));
        }
        serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}: not a registry of installed plugins ({e}); move it away and reinstall",
                path.display()
            )
        })
    }

    /// Changes the registry at `path` under its lock: reads it, applies
    /// `change`, writes it back atomically; returns what `change` returned.
    ///
    /// ```no_run
    /// use plugwire_host::packages::Registry;
    /// let path = Registry::path("/home/me/.local/share/plugwire".as_ref());
    /// let was = Registry::update(&path, |r| Ok(r.plugins.remove("echo").is_some()))?;
    /// # let _ = was; Ok::<(), String>(())
    /// ```
    pub fn update<T>(
        path: &Path,
        change: impl FnOnce(&mut Registry) -> Result<T, String>,
    ) -> Result<T, String> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let lock_path = path.with_extension("lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
        let _held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| format!("cannot lock {}: {e}", lock_path.display()))?;
        let mut registry = Self::load(path)?;
        let out = change(&mut registry)?;
        let text = serde_json::to_string_pretty(&registry).map_err(|e| e.to_string())?;
        crate::atomic_file::write(path, text.as_bytes())?;
        Ok(out)
    }

    /// The record of the plugin installed in `dir`, if any.
    pub fn installed_in(&self, dir: &Path) -> Option<(&str, &Record)> {
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        self.plugins
            .iter()
            .find(|(_, r)| r.dir == dir)
            .map(|(n, r)| (n.as_str(), r))
    }
}

/// At launch: refuses a plugin installed in `dir` (per the registry under
/// `data_dir`) whose files changed since install, saying which and how to
/// repair it. Plugins not in the registry pass.
pub(crate) fn launch_check(data_dir: &Path, dir: &Path) -> Result<(), String> {
    let path = Registry::path(data_dir);
    if !path.exists() {
        return Ok(());
    }
    // A registry that cannot be read is the user's to repair (`plugwire
    // verify` says so); it must not stop plugins it may not even list.
    let registry = match Registry::load(&path) {
        Ok(registry) => registry,
        Err(why) => {
            tracing::warn!("{why}; installed plugins are not checked until it is repaired");
            return Ok(());
        }
    };
    let Some((name, record)) = registry.installed_in(dir) else {
        return Ok(());
    };
    match record.check() {
        Check::Intact { .. } => Ok(()),
        Check::Modified { file, why } => {
            let again = if Path::new(&record.source).exists() {
                record.source.as_str()
            } else {
                name
            };
            Err(format!(
                "plugin {name:?} was modified since install: {file} {why}; reinstall it (`plugwire install {again}`), or see everything that changed with `plugwire verify`"
            ))
        }
    }
}

impl Record {
    /// Records the plugin just installed in `dir`: every file's digest and
    /// identity.
    pub fn capture(dir: &Path, version: &str, source: &str, digest: &str) -> Result<Self, String> {
        let dir = std::fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut files = BTreeMap::new();
        walk(&dir, "", &mut files)?;
        Ok(Self {
            version: version.to_owned(),
            source: source.to_owned(),
            digest: digest.to_owned(),
            signer: None,
            installed: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            enabled: true,
            pinned: None,
            dir,
            files,
        })
    }

    /// Compares the files on disk with the record: a file whose identity is
    /// unchanged is taken as it was; the others are hashed. Files added
    /// since are not looked for here ([`Record::verify`] does).
    ///
    /// ```no_run
    /// # fn f(record: plugwire_host::packages::Record) {
    /// match record.check() {
    ///     plugwire_host::packages::Check::Intact { .. } => {}
    ///     plugwire_host::packages::Check::Modified { file, why } => eprintln!("{file}: {why}"),
    /// }
    /// # }
    /// ```
    pub fn check(&self) -> Check {
        let mut rehashed = 0;
        for (name, recorded) in &self.files {
            let path = self.dir.join(name);
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.file_type().is_file() => meta,
                Ok(_) => {
                    return Check::Modified {
                        file: name.clone(),
                        why: "is no longer a regular file".into(),
                    };
                }
                Err(e) => {
                    return Check::Modified {
                        file: name.clone(),
                        why: format!("is gone ({e})"),
                    };
                }
            };
            if stamp(&meta) == recorded.stamp {
                continue;
            }
            rehashed += 1;
            match hash(&path) {
                Ok(digest) if digest == recorded.sha256 => {}
                Ok(digest) => {
                    return Check::Modified {
                        file: name.clone(),
                        why: format!("sha256 {digest}, installed as {}", recorded.sha256),
                    };
                }
                Err(why) => {
                    return Check::Modified {
                        file: name.clone(),
                        why,
                    };
                }
            }
        }
        Check::Intact { rehashed }
    }

    /// Every difference between the files on disk and the record, every
    /// file hashed: changed, missing and added files.
    pub fn verify(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut now = BTreeMap::new();
        if let Err(why) = walk(&self.dir, "", &mut now) {
            return vec![why];
        }
        for (name, recorded) in &self.files {
            match now.get(name) {
                None => problems.push(format!("{name}: missing")),
                Some(file) if file.sha256 != recorded.sha256 => problems.push(format!(
                    "{name}: sha256 {}, installed as {}",
                    file.sha256, recorded.sha256
                )),
                Some(_) => {}
            }
        }
        for name in now.keys().filter(|n| !self.files.contains_key(*n)) {
            problems.push(format!("{name}: added since install"));
        }
        problems
    }
}

fn stamp(meta: &std::fs::Metadata) -> [i64; 7] {
    [
        meta.dev() as i64,
        meta.ino() as i64,
        meta.size() as i64,
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec(),
    ]
}

fn hash(path: &Path) -> Result<String, String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| format!("cannot read: {e}"))?;
    Ok(hex(&hasher.finalize()))
}

fn walk(dir: &Path, prefix: &str, files: &mut BTreeMap<String, FileRecord>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let inside = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let path = entry.path();
        let meta =
            std::fs::symlink_metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if meta.is_dir() {
            walk(&path, &inside, files)?;
        } else {
            let sha256 = if meta.file_type().is_file() {
                hash(&path).map_err(|why| format!("{}: {why}", path.display()))?
            } else {
                "not a regular file".to_owned()
            };
            files.insert(
                inside,
                FileRecord {
                    sha256,
                    stamp: stamp(&meta),
                },
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("plugin.toml"), "name = \"x\"").unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        std::fs::write(dir.path().join("bin/run"), vec![7u8; 100_000]).unwrap();
        dir
    }

    #[test]
    fn an_untouched_plugin_is_intact_without_reading_a_file() {
        let dir = plugin();
        let record = Record::capture(dir.path(), "1.0.0", "here", "sha256:00").unwrap();
        assert_eq!(record.files.len(), 2);
        assert_eq!(record.check(), Check::Intact { rehashed: 0 });
        assert!(record.verify().is_empty());
    }

    #[test]
    fn touched_but_same_content_is_rehashed_and_intact() {
        let dir = plugin();
        let record = Record::capture(dir.path(), "1.0.0", "here", "sha256:00").unwrap();
        // Same bytes, new file: a new inode and times.
        let path = dir.path().join("bin/run");
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(record.check(), Check::Intact { rehashed: 1 });
    }

    #[test]
    fn a_changed_missing_or_added_file_is_reported() {
        let dir = plugin();
        let record = Record::capture(dir.path(), "1.0.0", "here", "sha256:00").unwrap();
        std::fs::write(dir.path().join("bin/run"), b"evil").unwrap();
        let Check::Modified { file, why } = record.check() else {
            panic!("not noticed")
        };
        assert_eq!(file, "bin/run");
        assert!(why.contains("installed as"), "{why}");
        std::fs::remove_file(dir.path().join("plugin.toml")).unwrap();
        std::fs::write(dir.path().join("extra"), b"x").unwrap();
        let problems = record.verify();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.iter().any(|p| p.starts_with("extra: added")));
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("plugin.toml: missing"))
        );
    }

    #[test]
    fn concurrent_updates_lose_nothing() {
        let data = tempfile::tempdir().unwrap();
        let path = Registry::path(data.path());
        let dir = plugin();
        let record = Record::capture(dir.path(), "1.0.0", "here", "sha256:00").unwrap();
        std::thread::scope(|scope| {
            for t in 0..4 {
                let path = &path;
                let record = &record;
                scope.spawn(move || {
                    for i in 0..10 {
                        Registry::update(path, |r| {
                            r.plugins.insert(format!("p{t}-{i}"), record.clone());
                            Ok(())
                        })
                        .unwrap();
                    }
                });
            }
        });
        assert_eq!(Registry::load(&path).unwrap().plugins.len(), 40);
        std::fs::write(&path, b"{broken").unwrap();
        let err = Registry::load(&path).unwrap_err();
        assert!(err.contains("move it away"), "{err}");
    }

    #[test]
    fn a_broken_registry_does_not_stop_launches_but_a_modified_plugin_does() {
        let data = tempfile::tempdir().unwrap();
        let dir = plugin();
        let path = Registry::path(data.path());
        std::fs::write(&path, b"{broken").unwrap();
        assert!(launch_check(data.path(), dir.path()).is_ok());
        std::fs::remove_file(&path).unwrap();
        Registry::update(&path, |r| {
            r.plugins.insert(
                "x".into(),
                Record::capture(dir.path(), "1.0.0", "/p/x-1.0.0.tar.gz", "sha256:00")?,
            );
            Ok(())
        })
        .unwrap();
        assert!(launch_check(data.path(), dir.path()).is_ok());
        std::fs::write(dir.path().join("bin/run"), b"changed").unwrap();
        let err = launch_check(data.path(), dir.path()).unwrap_err();
        assert!(err.contains("modified since install: bin/run"), "{err}");
        assert!(err.contains("`plugwire install x`"), "not a path: {err}");
    }
}

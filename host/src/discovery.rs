//! Finding plugin directories: explicit ones first (`--plugin-dir`,
//! `PLUGWIRE_PLUGIN_PATH`, `HostConfig::plugin_dirs`), then user, local and
//! system. The first plugin of a name wins, so what the user named is never
//! shadowed by a directory that happens to be searched; a plugin that other
//! users could change is skipped with a problem (see [`crate::trust`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::compatibility::Compatibility;
use crate::manifest::{MANIFEST_FILE, Manifest, ManifestError};

/// Most plugin directories looked at in one search root.
const MAX_ENTRIES: usize = 10_000;

/// Where a plugin was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// `$XDG_CONFIG_HOME/plugwire/plugins`.
    User,
    /// `./plugins`.
    Local,
    /// `/usr/share/plugwire/plugins`.
    System,
    /// `--plugin-dir`, `PLUGWIRE_PLUGIN_PATH` or `HostConfig::plugin_dirs`.
    Explicit,
}

/// The standard search roots, in order.
///
/// ```
/// let roots = plugwire_host::discovery::standard_roots();
/// assert_eq!(roots.last().unwrap().1, plugwire_host::discovery::Origin::System);
/// ```
pub fn standard_roots() -> Vec<(PathBuf, Origin)> {
    let mut roots = Vec::new();
    if let Some(config) = crate::dirs::config() {
        roots.push((config.join("plugins"), Origin::User));
    }
    roots.push((PathBuf::from("plugins"), Origin::Local));
    roots.push((PathBuf::from("/usr/share/plugwire/plugins"), Origin::System));
    roots
}

/// A manifest found, valid or not.
#[derive(Debug, Clone)]
pub struct Found {
    /// The plugin directory.
    pub dir: PathBuf,
    /// Where it was found.
    pub origin: Origin,
    /// The manifest, or why it is invalid.
    pub manifest: Result<Manifest, ManifestError>,
}

/// A discovery problem that does not stop the other plugins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A manifest is invalid; the plugin is skipped.
    InvalidManifest(String),
    /// Two plugins have the same name; the later ones are skipped.
    DuplicateName {
        /// The name.
        name: String,
        /// The directory whose plugin is used.
        kept: PathBuf,
        /// The directory whose plugin is skipped.
        skipped: PathBuf,
    },
    /// The plugin does not accept this host: another application, a
    /// version outside its ranges, or no common protocol version.
    Incompatible {
        /// The plugin.
        name: String,
        /// Which rule failed, and what to do.
        why: String,
    },
    /// Two plugins declare the same tool or command; bare names are
    /// ambiguous and must be qualified.
    Conflict(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InvalidManifest(e) => write!(f, "skipped: {e}"),
            Self::DuplicateName {
                name,
                kept,
                skipped,
            } => write!(
                f,
                "skipped {}: a plugin named {name:?} is already loaded from {}; rename one of them",
                skipped.display(),
                kept.display()
            ),
            Self::Incompatible { name, why } => write!(f, "skipped {name:?}: {why}"),
            Self::Conflict(message) => write!(f, "{message}"),
        }
    }
}

/// Lists the plugin directories under each root, in root order: a root
/// that holds a `plugin.toml` is a plugin itself, otherwise each of its
/// subdirectories with one is (sorted by name).
///
/// ```no_run
/// use plugwire_host::discovery::{Origin, discover};
/// for found in discover(&[("./plugins".into(), Origin::Local)]) {
///     println!("{}: {}", found.dir.display(), found.manifest.is_ok());
/// }
/// ```
pub fn discover(roots: &[(PathBuf, Origin)]) -> Vec<Found> {
    let mut found = Vec::new();
    for (root, origin) in roots {
        for dir in plugin_dirs(root) {
            let manifest = Manifest::load(&dir).and_then(|m| match crate::trust::check(root, &m) {
                None => Ok(m),
                Some(why) => Err(ManifestError {
                    path: dir.join(MANIFEST_FILE),
                    field: String::new(),
                    value: String::new(),
                    why,
                    fix: "make it yours and not writable by others, or remove it".into(),
                }),
            });
            found.push(Found {
                dir,
                origin: *origin,
                manifest,
            });
        }
    }
    found
}

fn plugin_dirs(root: &Path) -> Vec<PathBuf> {
    if root.join(MANIFEST_FILE).is_file() {
        return vec![root.to_path_buf()];
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .take(MAX_ENTRIES)
        .filter_map(Result::ok)
        // Hidden directories are skipped: installs stage there.
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .filter(|p| p.join(MANIFEST_FILE).is_file())
        .collect();
    dirs.sort();
    dirs
}

/// Discovers and selects the plugins a host with `config` would load.
///
/// ```no_run
/// let (plugins, problems) = plugwire_host::discovery::find(&plugwire_host::HostConfig::new("a", "1.0.0"));
/// # let _ = (plugins, problems);
/// ```
pub fn find(config: &crate::HostConfig) -> (Vec<(Manifest, Origin)>, Vec<Problem>) {
    let mut roots: Vec<(PathBuf, Origin)> = config
        .plugin_dirs
        .iter()
        .map(|d| (d.clone(), Origin::Explicit))
        .collect();
    if config.standard_dirs {
        roots.extend(standard_roots());
    }
    select(discover(&roots), &config.into())
}

/// Loads the one plugin in `dir` with every check discovery makes (trust,
/// manifest, host and protocol versions): what a plugin added or reloaded
/// at run time must pass.
///
/// ```no_run
/// use plugwire_host::{compatibility::Compatibility, discovery::{Origin, load_one}};
/// match load_one("plugins/echo".as_ref(), Origin::Explicit, &Compatibility::new("acme", "1.0.0")) {
///     Ok(manifest) => println!("{} {}", manifest.name, manifest.version),
///     Err(problem) => eprintln!("{problem}"),
/// }
/// ```
pub fn load_one(dir: &Path, origin: Origin, here: &Compatibility) -> Result<Manifest, Problem> {
    if !dir.join(MANIFEST_FILE).is_file() {
        return Err(Problem::InvalidManifest(format!(
            "{}: no {MANIFEST_FILE} there; give the directory that holds the plugin's manifest",
            dir.display()
        )));
    }
    let found = discover(&[(dir.to_path_buf(), origin)]);
    let (mut manifests, mut problems) = select(found, here);
    match manifests.pop() {
        Some((manifest, _)) => Ok(manifest),
        None => Err(problems.pop().unwrap_or_else(|| {
            Problem::InvalidManifest(format!("{}: no plugin found", dir.display()))
        })),
    }
}

/// Splits discovery results into usable manifests and problems: invalid
/// manifests, duplicate names (first wins), incompatible host or protocol.
///
/// ```
/// let here = plugwire_host::compatibility::Compatibility::new("acme", "1.0.0");
/// let (manifests, problems) = plugwire_host::discovery::select(Vec::new(), &here);
/// assert!(manifests.is_empty() && problems.is_empty());
/// ```
pub fn select(found: Vec<Found>, here: &Compatibility) -> (Vec<(Manifest, Origin)>, Vec<Problem>) {
    let mut by_name: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut manifests = Vec::new();
    let mut problems = Vec::new();
    for f in found {
        let manifest = match f.manifest {
            Ok(m) => m,
            Err(e) => {
                problems.push(Problem::InvalidManifest(e.to_string()));
                continue;
            }
        };
        if let Some(kept) = by_name.get(&manifest.name) {
            problems.push(Problem::DuplicateName {
                name: manifest.name.clone(),
                kept: kept.clone(),
                skipped: f.dir,
            });
            continue;
        }
        if let Err(why) = here.check(&manifest) {
            problems.push(Problem::Incompatible {
                name: manifest.name.clone(),
                why,
            });
            continue;
        }
        by_name.insert(manifest.name.clone(), f.dir);
        manifests.push((manifest, f.origin));
    }
    (manifests, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(MANIFEST_FILE), body).unwrap();
        d
    }

    fn manifest(name: &str, extra: &str) -> String {
        format!("name = \"{name}\"\nversion = \"0.1.0\"\n{extra}[run]\nexecutable = \"x\"\n")
    }

    #[test]
    fn invalid_and_duplicate_plugins_are_reported_and_skipped() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        write(a.path(), "one", &manifest("one", ""));
        write(a.path(), "broken", "name = 3");
        write(a.path(), "not-a-plugin-dir-has-no-manifest", "");
        std::fs::remove_file(
            a.path()
                .join("not-a-plugin-dir-has-no-manifest")
                .join(MANIFEST_FILE),
        )
        .unwrap();
        let dup = write(b.path(), "one-again", &manifest("one", ""));
        write(b.path(), "two", &manifest("two", ""));
        let found = discover(&[
            (a.path().into(), Origin::User),
            (b.path().into(), Origin::Explicit),
        ]);
        assert_eq!(found.len(), 4);
        let (ok, problems) = select(found, &Compatibility::new("acme", "0.1.0"));
        let names: Vec<_> = ok.iter().map(|(m, _)| m.name.as_str()).collect();
        assert_eq!(names, ["one", "two"]);
        assert_eq!(problems.len(), 2);
        assert!(matches!(&problems[0], Problem::InvalidManifest(e) if e.contains("broken")));
        assert!(matches!(&problems[1], Problem::DuplicateName { skipped, .. } if *skipped == dup));
    }

    #[test]
    fn host_and_protocol_versions_are_checked() {
        let a = tempfile::tempdir().unwrap();
        write(
            a.path(),
            "old",
            &manifest("old", "[protocol]\nhost = \">=9\"\n"),
        );
        let fixed = manifest("future", "").replace("[run]", "[protocol]\nversions = [7]\n[run]");
        write(a.path(), "future", &fixed);
        let (ok, problems) = select(
            discover(&[(a.path().into(), Origin::Local)]),
            &Compatibility::new("acme", "0.1.0"),
        );
        assert!(ok.is_empty());
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(text[0].contains("speaks protocol versions [7]"), "{text:?}");
        assert!(
            text[1].contains("requires acme >=9, this is acme 0.1.0"),
            "{text:?}"
        );
    }

    #[test]
    fn a_root_that_is_a_plugin_is_used_directly() {
        let a = tempfile::tempdir().unwrap();
        std::fs::write(a.path().join(MANIFEST_FILE), manifest("solo", "")).unwrap();
        let found = discover(&[(a.path().into(), Origin::Explicit)]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].dir, a.path());
    }
}

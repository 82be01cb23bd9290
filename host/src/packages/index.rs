//! Indexes: a static JSON document (`index.json`) listing packages, their
//! versions, digests, signatures and what catalogs show, built from a
//! directory of packages so that anyone can publish with a folder or a
//! static web server.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Limits, PackageError, SIGNATURE_SUFFIX, digest_of, unpack};

/// The file name of an index.
pub const INDEX_FILE: &str = "index.json";

/// An index of packages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Index {
    /// Format version.
    pub version: u32,
    /// Versions of each plugin, by name.
    pub plugins: BTreeMap<String, Vec<Entry>>,
}

/// One package in an index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The plugin's version.
    pub version: String,
    /// The package, relative to the index (or a full URL).
    pub url: String,
    /// `sha256:<hex>` of the package.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its minisign signature, when it was signed.
    pub signature: Option<String>,
    /// Description from the manifest.
    pub description: String,
    /// Versions of the application it accepts (`protocol.host`).
    pub host: String,
    /// The application it is written for, when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Versions of plugwire it accepts (`protocol.plugwire`).
    #[serde(default = "any_version")]
    pub plugwire: String,
    /// Protocol versions it speaks.
    pub protocol_versions: Vec<u32>,
    /// Other plugins it needs: name → version requirement.
    #[serde(default)]
    pub dependencies: BTreeMap<String, String>,
    /// Words catalogs search.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// The platform it is built for; none runs anywhere.
    #[serde(default)]
    pub platform: Option<String>,
}

impl Index {
    /// Lists every `*.tar.gz` in `dir` (each unpacked and checked, so an
    /// index never lists a package that would not install), with the
    /// signature beside it when there is one.
    ///
    /// ```no_run
    /// let index = plugwire_host::packages::Index::build("/srv/plugins".as_ref())?;
    /// assert!(index.plugins.values().all(|v| !v.is_empty()));
    /// # Ok::<(), plugwire_host::packages::PackageError>(())
    /// ```
    pub fn build(dir: &Path) -> Result<Self, PackageError> {
        let mut index = Self {
            version: 1,
            plugins: BTreeMap::new(),
        };
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| PackageError::io(dir.display(), e))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".tar.gz"))
            .collect();
        files.sort();
        for path in files {
            let bytes = std::fs::read(&path).map_err(|e| PackageError::io(path.display(), e))?;
            let scratch =
                tempfile::tempdir().map_err(|e| PackageError::io("a scratch directory", e))?;
            let unpacked = unpack(&bytes[..], scratch.path(), &Limits::default())
                .map_err(|e| PackageError::Manifest(format!("{}: {e}", path.display())))?;
            let signature =
                std::fs::read_to_string(format!("{}{SIGNATURE_SUFFIX}", path.display())).ok();
            let manifest = &unpacked.manifest;
            let file = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            index
                .plugins
                .entry(manifest.name.clone())
                .or_default()
                .push(Entry {
                    version: manifest.version.to_string(),
                    url: file,
                    digest: digest_of(&bytes),
                    size: bytes.len() as u64,
                    signature,
                    description: manifest.description.clone(),
                    host: manifest.host_requirement.to_string(),
                    app: manifest.app.clone(),
                    plugwire: manifest.plugwire_requirement.to_string(),
                    protocol_versions: manifest.protocol_versions.clone(),
                    dependencies: manifest
                        .dependencies
                        .iter()
                        .map(|(n, r)| (n.clone(), r.to_string()))
                        .collect(),
                    keywords: manifest.keywords.clone(),
                    platform: unpacked.platform.clone(),
                });
        }
        for versions in index.plugins.values_mut() {
            versions.sort_by_key(|e| version(&e.version));
        }
        Ok(index)
    }

    /// Parses an index.
    pub fn parse(bytes: &[u8], location: &str) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| {
            format!("{location}: not a plugwire index ({e}); `plugwire index build DIR` writes one")
        })
    }

    /// The newest version of `name` matching `requirement` that this host
    /// can run.
    pub fn best(&self, name: &str, requirement: &semver::VersionReq) -> Option<&Entry> {
        self.plugins
            .get(name)?
            .iter()
            .filter(|e| requirement.matches(&version(&e.version)))
            .filter(|e| Self::accepts_this_host(e))
            .max_by(|a, b| version(&a.version).cmp(&version(&b.version)))
    }

    /// Whether `entry` accepts the `plugwire` command as its host.
    fn accepts_this_host(entry: &Entry) -> bool {
        let (Ok(host), Ok(plugwire)) = (
            semver::VersionReq::parse(&entry.host),
            semver::VersionReq::parse(&entry.plugwire),
        ) else {
            return false;
        };
        crate::compatibility::Compatibility::plugwire_itself()
            .check_fields(
                entry.app.as_deref(),
                &host,
                &plugwire,
                &entry.protocol_versions,
            )
            .is_ok()
    }

    /// Whether this host can run `entry`.
    fn runs_here(entry: &Entry) -> bool {
        let here = crate::manifest::platform();
        entry.platform.as_ref().is_none_or(|p| *p == here) && Self::accepts_this_host(entry)
    }

    /// Adds every version this host can run, with what it needs, to
    /// `catalog`.
    pub fn fill(&self, catalog: &mut super::Catalog) {
        for (name, versions) in &self.plugins {
            for entry in versions.iter().filter(|e| Self::runs_here(e)) {
                let Ok(v) = semver::Version::parse(&entry.version) else {
                    continue;
                };
                let dependencies = entry
                    .dependencies
                    .iter()
                    .filter_map(|(n, r)| Some((n.clone(), semver::VersionReq::parse(r).ok()?)))
                    .collect();
                catalog.add(name, v, dependencies);
            }
        }
    }

    /// The entry of `name` at exactly `version`.
    pub fn entry(&self, name: &str, version: &semver::Version) -> Option<&Entry> {
        self.plugins
            .get(name)?
            .iter()
            .find(|e| semver::Version::parse(&e.version).is_ok_and(|v| &v == version))
    }

    /// Plugins matching `query`, best first: the name, then its start, then
    /// anywhere in the name, then the description.
    pub fn search(&self, query: &str) -> Vec<(&str, &Entry)> {
        let query = query.to_lowercase();
        let mut found: Vec<(u8, &str, &Entry)> = self
            .plugins
            .iter()
            .filter_map(|(name, versions)| {
                let newest = versions.last()?;
                let lower = name.to_lowercase();
                let rank = if lower == query {
                    0
                } else if lower.starts_with(&query) {
                    1
                } else if lower.contains(&query) {
                    2
                } else if newest.keywords.iter().any(|k| k.to_lowercase() == query) {
                    3
                } else if newest.description.to_lowercase().contains(&query) {
                    4
                } else {
                    return None;
                };
                Some((rank, name.as_str(), newest))
            })
            .collect();
        found.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        found.into_iter().map(|(_, n, e)| (n, e)).collect()
    }
}

fn version(text: &str) -> semver::Version {
    semver::Version::parse(text).unwrap_or(semver::Version::new(0, 0, 0))
}

fn any_version() -> String {
    "*".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(version: &str, host: &str, description: &str) -> Entry {
        Entry {
            version: version.into(),
            url: format!("x-{version}.tar.gz"),
            digest: String::new(),
            size: 0,
            signature: None,
            description: description.into(),
            host: host.into(),
            app: None,
            plugwire: "*".into(),
            protocol_versions: vec![1],
            dependencies: BTreeMap::new(),
            keywords: Vec::new(),
            platform: None,
        }
    }

    #[test]
    fn the_best_version_matches_the_requirement_and_this_host() {
        let mut index = Index::default();
        index.plugins.insert(
            "x".into(),
            vec![
                entry("0.9.0", "*", ""),
                entry("1.2.0", "*", ""),
                entry("1.4.0", ">=99", ""),
                entry("2.0.0", "*", ""),
            ],
        );
        let req = |r: &str| semver::VersionReq::parse(r).unwrap();
        assert_eq!(index.best("x", &req("*")).unwrap().version, "2.0.0");
        assert_eq!(
            index.best("x", &req("^1")).unwrap().version,
            "1.2.0",
            "1.4.0 needs another host"
        );
        assert!(index.best("x", &req("^3")).is_none());
        assert!(index.best("y", &req("*")).is_none());
    }

    #[test]
    fn search_ranks_names_before_descriptions() {
        let mut index = Index::default();
        index
            .plugins
            .insert("kv".into(), vec![entry("1.0.0", "*", "a key-value store")]);
        index
            .plugins
            .insert("kvstore".into(), vec![entry("1.0.0", "*", "")]);
        index
            .plugins
            .insert("echo".into(), vec![entry("1.0.0", "*", "echoes kv pairs")]);
        index
            .plugins
            .insert("mykv".into(), vec![entry("1.0.0", "*", "")]);
        let names: Vec<&str> = index.search("kv").into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["kv", "kvstore", "mykv", "echo"]);
    }
}

/// A package fetched from an index and checked.
#[derive(Debug)]
pub struct Downloaded {
    /// Its bytes, whose digest is the index's.
    pub bytes: Vec<u8>,
    /// Who signed it, when it was verified.
    pub signer: Option<super::Signer>,
}

impl Entry {
    /// Fetches this package from beside the index at `index_location`,
    /// checks its size and digest against the index, and its signature
    /// against `trust`: a package from an index must be signed by a trusted
    /// key, unless `allow_unsigned`.
    pub fn download(
        &self,
        index_location: &str,
        trust: &super::TrustStore,
        allow_unsigned: bool,
        deadline: std::time::Duration,
        progress: &mut dyn FnMut(u64, Option<u64>),
    ) -> Result<Downloaded, String> {
        let location = super::join(index_location, &self.url);
        let cap = self.size.min(Limits::default().total_bytes);
        let bytes = super::fetch_with(&location, cap, deadline, progress)?;
        let digest = digest_of(&bytes);
        if digest != self.digest {
            return Err(format!(
                "{location}: digest {digest}, but the index says {}; the package or the index was altered",
                self.digest
            ));
        }
        let signer = match (&self.signature, allow_unsigned) {
            (Some(signature), _) => Some(
                trust
                    .verify(&bytes, signature)
                    .map_err(|why| format!("{location}: {why}"))?,
            ),
            (None, true) => None,
            (None, false) => {
                return Err(format!(
                    "{location} is not signed; packages from an index must be signed by a trusted key (pass --allow-unsigned to install it anyway)"
                ));
            }
        };
        Ok(Downloaded { bytes, signer })
    }
}

//! Permissions a manifest requests, and the grants a user gave. A plugin
//! runs only with what its manifest requests *and* the user granted; a
//! plugin asking for more than was granted is refused with a message that
//! lists what is missing and what each permission risks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::manifest::Manifest;

/// One permission, as written in grants: `network`, `read:<path>`,
/// `write:<path>`, `host.events.emit`, `host.tools.call`, `host.storage`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Permission {
    /// The host's network.
    Network,
    /// Reading a path.
    Read(String),
    /// Reading and writing a path.
    Write(String),
    /// A host callback.
    Host(String),
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Network => f.write_str("network"),
            Self::Read(p) => write!(f, "read:{p}"),
            Self::Write(p) => write!(f, "write:{p}"),
            Self::Host(h) => f.write_str(h),
        }
    }
}

impl Permission {
    /// What granting it risks, in a few words.
    ///
    /// ```
    /// use plugwire_host::grants::Permission;
    /// assert!(Permission::Network.risk().contains("network"));
    /// ```
    pub fn risk(&self) -> &'static str {
        match self {
            Self::Network => {
                "can reach any host on your network and the internet, and send your data there"
            }
            Self::Read(_) => "can read these files",
            Self::Write(_) => "can change or delete these files",
            Self::Host(h) if h == "host.events.emit" => {
                "can emit events that other plugins and the application act on"
            }
            Self::Host(h) if h == "host.tools.call" => {
                "can call any other plugin's tools, with their permissions"
            }
            Self::Host(_) => "can keep data in the host",
        }
    }
}

/// Everything a manifest requests.
///
/// ```
/// use plugwire_host::{grants::requested, manifest::Manifest};
/// let m = Manifest::parse("name = \"a\"\nversion = \"1.0.0\"\n[run]\nexecutable = \"a\"\n[permissions]\nnetwork = true\n", "/p".as_ref())?;
/// assert_eq!(requested(&m).len(), 1);
/// # Ok::<(), plugwire_host::manifest::ManifestError>(())
/// ```
pub fn requested(manifest: &Manifest) -> Vec<Permission> {
    let p = &manifest.permissions;
    let mut all = Vec::new();
    if p.network {
        all.push(Permission::Network);
    }
    all.extend(p.read.iter().cloned().map(Permission::Read));
    all.extend(p.write.iter().cloned().map(Permission::Write));
    all.extend(p.host.iter().cloned().map(Permission::Host));
    all
}

/// The grants a user gave, per plugin.
///
/// ```
/// use plugwire_host::grants::Grants;
/// let mut grants = Grants::default();
/// grants.grant("audit", ["host.storage"]);
/// assert!(grants.allows("audit", "host.storage"));
/// assert!(!grants.allows("audit", "network"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants {
    /// Grant everything every plugin requests (`--yes`).
    #[serde(skip)]
    pub all: bool,
    /// Granted permissions by plugin name.
    #[serde(default)]
    pub plugins: BTreeMap<String, BTreeSet<String>>,
}

impl Grants {
    /// Records permissions for a plugin.
    ///
    /// ```
    /// let mut g = plugwire_host::grants::Grants::default();
    /// g.grant("kv", ["network"]);
    /// ```
    pub fn grant<I, S>(&mut self, plugin: &str, permissions: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.plugins
            .entry(plugin.to_owned())
            .or_default()
            .extend(permissions.into_iter().map(Into::into));
    }

    /// Removes permissions (all of them with an empty list).
    ///
    /// ```
    /// let mut g = plugwire_host::grants::Grants::default();
    /// g.grant("kv", ["network"]);
    /// g.revoke("kv", Vec::<String>::new());
    /// assert!(!g.allows("kv", "network"));
    /// ```
    pub fn revoke<I, S>(&mut self, plugin: &str, permissions: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let remove: Vec<String> = permissions.into_iter().map(Into::into).collect();
        if remove.is_empty() {
            self.plugins.remove(plugin);
        } else if let Some(set) = self.plugins.get_mut(plugin) {
            for p in remove {
                set.remove(&p);
            }
        }
    }

    /// Whether `permission` is granted to `plugin`.
    ///
    /// ```
    /// assert!(!plugwire_host::grants::Grants::default().allows("x", "network"));
    /// ```
    pub fn allows(&self, plugin: &str, permission: &str) -> bool {
        self.all
            || self
                .plugins
                .get(plugin)
                .is_some_and(|s| s.contains(permission))
    }

    /// What the manifest requests that was not granted.
    ///
    /// ```
    /// use plugwire_host::{grants::Grants, manifest::Manifest};
    /// let m = Manifest::parse("name = \"a\"\nversion = \"1.0.0\"\n[run]\nexecutable = \"a\"\n[permissions]\nhost = [\"host.storage\"]\n", "/p".as_ref())?;
    /// assert_eq!(Grants::default().missing(&m).len(), 1);
    /// # Ok::<(), plugwire_host::manifest::ManifestError>(())
    /// ```
    pub fn missing(&self, manifest: &Manifest) -> Vec<Permission> {
        requested(manifest)
            .into_iter()
            .filter(|p| !self.allows(&manifest.name, &p.to_string()))
            .collect()
    }

    /// Reads grants from a TOML file (empty when it does not exist).
    ///
    /// ```no_run
    /// let g = plugwire_host::grants::Grants::load("grants.toml".as_ref())?;
    /// # Ok::<(), String>(())
    /// ```
    pub fn load(path: &Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Writes grants to a TOML file, atomically.
    ///
    /// ```no_run
    /// plugwire_host::grants::Grants::default().save("grants.toml".as_ref())?;
    /// # Ok::<(), String>(())
    /// ```
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let text = toml::to_string(self).map_err(|e| e.to_string())?;
        let file = tempfile::NamedTempFile::new_in(dir).map_err(|e| e.to_string())?;
        std::fs::write(file.path(), text).map_err(|e| e.to_string())?;
        file.persist(path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(())
    }

    /// Where the CLI keeps grants: `$XDG_CONFIG_HOME/plugwire/grants.toml`.
    ///
    /// ```
    /// let path = plugwire_host::grants::Grants::default_path();
    /// assert!(path.ends_with("plugwire/grants.toml"));
    /// ```
    pub fn default_path() -> PathBuf {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
            .unwrap_or_else(|| PathBuf::from("."));
        base.join("plugwire/grants.toml")
    }
}

/// Explains what is missing, for the refusal message.
///
/// ```
/// use plugwire_host::grants::{Permission, refusal};
/// assert!(refusal("web", &[Permission::Network]).contains("plugwire grant web"));
/// ```
pub fn refusal(plugin: &str, missing: &[Permission]) -> String {
    let lines: Vec<String> = missing
        .iter()
        .map(|p| format!("  {p}: {}", p.risk()))
        .collect();
    format!(
        "plugin {plugin:?} requests permissions that were not granted:\n{}\ngrant them with `plugwire grant {plugin}` (or --yes for this run), or remove them from its plugin.toml",
        lines.join("\n")
    )
}

/// Expands `~` (the user's home) and `{data}` (the plugin's data directory)
/// at the start of a granted path.
///
/// ```
/// use std::path::Path;
/// let p = plugwire_host::grants::expand("{data}/cache", Path::new("/home/ada"), Path::new("/var/pw/x"));
/// assert_eq!(p, Path::new("/var/pw/x/cache"));
/// ```
pub fn expand(path: &str, home: &Path, data: &Path) -> PathBuf {
    if path == "~" {
        return home.to_path_buf();
    }
    if let Some(rest) = path.strip_prefix("~/") {
        return home.join(rest);
    }
    if let Some(rest) = path.strip_prefix("{data}") {
        return data.join(rest.trim_start_matches('/'));
    }
    PathBuf::from(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_round_trip_through_toml() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plugwire/grants.toml");
        let mut g = Grants::default();
        g.grant("audit", ["host.storage"]);
        g.grant("web", ["network", "read:~/sites"]);
        g.save(&path).unwrap();
        assert_eq!(Grants::load(&path).unwrap(), g);
        assert_eq!(
            Grants::load(&dir.path().join("none.toml")).unwrap(),
            Grants::default()
        );
    }

    #[test]
    fn refusals_list_permissions_and_risks() {
        let text = refusal(
            "web",
            &[Permission::Network, Permission::Write("~/x".into())],
        );
        assert!(text.contains("network: can reach"), "{text}");
        assert!(text.contains("write:~/x: can change"), "{text}");
    }
}

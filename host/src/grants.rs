//! Permissions a manifest requests, and the grants a user gave. A plugin
//! runs only with what its manifest requests *and* the user granted; a
//! plugin asking for more than was granted is refused with a message that
//! lists what is missing and what each permission risks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::manifest::Manifest;

/// One permission, as written in grants: `network`, `network:<host>[:<port>]`,
/// `read:<path>`, `write:<path>`, `host.events.emit`, `host.tools.call`,
/// `host.storage`, `host.service:<gRPC service>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Permission {
    /// The host's whole network.
    Network,
    /// One network host (or `*.domain`), optionally one port, reached
    /// through the host's egress proxy.
    NetworkHost(String),
    /// Reading a path.
    Read(String),
    /// Reading and writing a path.
    Write(String),
    /// A host callback.
    Host(String),
    /// A service the embedding application serves to plugins.
    Service(String),
}

/// How much a permission risks, for prompts and for policies that grant
/// unattended only up to a level (`--max-risk`).
///
/// ```
/// use plugwire_host::grants::{Permission, Risk};
/// assert_eq!(Permission::Network.level(), Risk::High);
/// assert_eq!(Permission::Host("host.storage".into()).level(), Risk::Low);
/// assert!(Risk::Low < Risk::High);
/// assert_eq!("medium".parse::<Risk>(), Ok(Risk::Medium));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    /// Touches only what is the plugin's own.
    Low,
    /// Reaches something of the user's or the application's, within bounds.
    Medium,
    /// Can reach the user's files, the network or other plugins broadly.
    High,
}

impl std::fmt::Display for Risk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        })
    }
}

impl std::str::FromStr for Risk {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "low" => Ok(Self::Low),
            "medium" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            other => Err(format!(
                "expected a risk level (low, medium or high), got {other:?}"
            )),
        }
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Network => f.write_str("network"),
            Self::NetworkHost(h) => write!(f, "network:{h}"),
            Self::Read(p) => write!(f, "read:{p}"),
            Self::Write(p) => write!(f, "write:{p}"),
            Self::Host(h) => f.write_str(h),
            Self::Service(s) => write!(f, "{SERVICE_PREFIX}{s}"),
        }
    }
}

pub use crate::manifest::SERVICE_PREFIX;

impl Permission {
    /// A permission as grants write it, or `None` for text that is none.
    ///
    /// ```
    /// use plugwire_host::grants::Permission;
    /// assert_eq!(Permission::parse("read:~/notes"), Some(Permission::Read("~/notes".into())));
    /// assert_eq!(Permission::parse("network"), Some(Permission::Network));
    /// assert_eq!(Permission::parse("network:api.example.com:443"), Some(Permission::NetworkHost("api.example.com:443".into())));
    /// assert_eq!(Permission::parse("netwrok"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        if text == "network" {
            return Some(Self::Network);
        }
        if let Some(host) = text.strip_prefix("network:") {
            return Some(Self::NetworkHost(host.to_owned()));
        }
        if let Some(path) = text.strip_prefix("read:") {
            return Some(Self::Read(path.to_owned()));
        }
        if let Some(path) = text.strip_prefix("write:") {
            return Some(Self::Write(path.to_owned()));
        }
        if let Some(service) = text.strip_prefix(SERVICE_PREFIX) {
            return Some(Self::Service(service.to_owned()));
        }
        crate::manifest::HOST_PERMISSIONS
            .contains(&text)
            .then(|| Self::Host(text.to_owned()))
    }

    /// Its risk level (docs/manifest.md lists every one).
    ///
    /// ```
    /// use plugwire_host::grants::{Permission, Risk};
    /// assert_eq!(Permission::Write("{data}/cache".into()).level(), Risk::Low);
    /// assert_eq!(Permission::Write("~/notes".into()).level(), Risk::High);
    /// ```
    pub fn level(&self) -> Risk {
        let own = |path: &str| path.starts_with("{data}");
        match self {
            Self::Network => Risk::High,
            Self::NetworkHost(_) => Risk::Medium,
            Self::Read(p) | Self::Write(p) if own(p) => Risk::Low,
            Self::Read(_) => Risk::Medium,
            Self::Write(_) => Risk::High,
            Self::Host(h) if h == "host.storage" => Risk::Low,
            Self::Host(h) if h == "host.events.emit" => Risk::Medium,
            Self::Host(_) => Risk::High,
            Self::Service(_) => Risk::Medium,
        }
    }

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
            Self::NetworkHost(_) => "can connect to this host and send your data there",
            Self::Read(p) if p.starts_with("{data}") => "can read its own data",
            Self::Write(p) if p.starts_with("{data}") => "can change its own data",
            Self::Read(_) => "can read these files",
            Self::Write(_) => "can change or delete these files",
            Self::Host(h) if h == "host.events.emit" => {
                "can emit events that other plugins and the application act on"
            }
            Self::Host(h) if h == "host.tools.call" => {
                "can call any other plugin's tools, with their permissions"
            }
            Self::Host(_) => "can keep data in the host",
            Self::Service(_) => "can call this service of the application, as itself",
        }
    }

    /// Level and risk together, as prompts and listings show them.
    ///
    /// ```
    /// use plugwire_host::grants::Permission;
    /// assert!(Permission::Network.explain().starts_with("high risk: "));
    /// ```
    pub fn explain(&self) -> String {
        format!("{} risk: {}", self.level(), self.risk())
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
    all.extend(p.network_hosts.iter().cloned().map(Permission::NetworkHost));
    all.extend(p.read.iter().cloned().map(Permission::Read));
    all.extend(p.write.iter().cloned().map(Permission::Write));
    all.extend(p.host.iter().map(|h| match h.strip_prefix(SERVICE_PREFIX) {
        Some(service) => Permission::Service(service.to_owned()),
        None => Permission::Host(h.clone()),
    }));
    all
}

/// The grants a user gave, per plugin.
///
/// A recorded grant (the CLI's `grants.toml`) is bound to what was granted:
/// the plugin's directory and the digest of its manifest and executable. A
/// different plugin that takes the same name, or the same plugin changed
/// since, gets none of it. Grants for this process only (`--grant`, an
/// application's own decision) go by name.
///
/// ```
/// use plugwire_host::grants::Grants;
/// let mut grants = Grants::default();
/// grants.grant("audit", ["host.storage"]);
/// assert!(grants.allows_name("audit", "host.storage"));
/// assert!(!grants.allows_name("audit", "network"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants {
    /// Grant everything every plugin requests (`--yes`), up to
    /// `max_risk` when that is set.
    #[serde(skip)]
    pub all: bool,
    /// The highest risk `all` grants unattended (`--max-risk`); recorded
    /// and per-process grants are not limited by it.
    #[serde(skip)]
    pub max_risk: Option<Risk>,
    /// Grants for this process only, by plugin name.
    #[serde(skip)]
    pub session: BTreeMap<String, BTreeSet<String>>,
    /// Recorded grants, bound to a directory and a digest.
    #[serde(default)]
    pub plugins: BTreeMap<String, Bound>,
    /// Entries of the file that were not used, and why (reported by the CLI).
    #[serde(skip)]
    pub ignored: Vec<String>,
}

/// A recorded grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bound {
    /// The plugin directory it was granted to, resolved.
    pub dir: PathBuf,
    /// [`fingerprint`] of the plugin when it was granted.
    pub digest: String,
    /// The permissions.
    pub permissions: BTreeSet<String>,
}

/// The digest a recorded grant binds to: SHA-256 over the manifest file and
/// the executable, as `sha256:<hex>`.
///
/// ```no_run
/// let m = plugwire_host::manifest::Manifest::load("plugins/echo".as_ref()).unwrap();
/// assert!(plugwire_host::grants::fingerprint(&m).unwrap().starts_with("sha256:"));
/// ```
pub fn fingerprint(manifest: &Manifest) -> Result<String, String> {
    use std::os::unix::fs::MetadataExt;
    let files = [
        manifest.dir.join(crate::manifest::MANIFEST_FILE),
        manifest.executable.clone(),
    ];
    // Hashing a large executable takes a while; within one process the
    // digest is reused while neither file has changed (same inode, size,
    // modification and change times: `ctime` cannot be set by anyone).
    /// Device, inode, length, modification and change times.
    type Stamp = (u64, u64, u64, i64, i64, i64, i64);
    let stamp: Vec<Stamp> = files
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| {
            (
                m.dev(),
                m.ino(),
                m.len(),
                m.mtime(),
                m.mtime_nsec(),
                m.ctime(),
                m.ctime_nsec(),
            )
        })
        .collect();
    type Cache = std::collections::HashMap<PathBuf, (Vec<Stamp>, String)>;
    static CACHE: std::sync::Mutex<Option<Cache>> = std::sync::Mutex::new(None);
    let key = manifest.executable.clone();
    if let Some((seen, digest)) = CACHE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(Default::default)
        .get(&key)
        && *seen == stamp
    {
        return Ok(digest.clone());
    }
    let digest = hash_files(&files, &manifest.executable)?;
    CACHE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(Default::default)
        .insert(key, (stamp, digest.clone()));
    Ok(digest)
}

fn hash_files(files: &[PathBuf], executable: &Path) -> Result<String, String> {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for path in files {
        let mut file = match std::fs::File::open(path) {
            Ok(file) => file,
            // A bare executable has no manifest file.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && path != executable => {
                continue;
            }
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        // The length first, so that no split of the bytes between the two
        // files gives the same digest.
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        hash.update(len.to_le_bytes());
        std::io::copy(&mut file, &mut hash)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    }
    let digest = hash.finalize();
    Ok(format!(
        "sha256:{}",
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ))
}

fn resolved_dir(manifest: &Manifest) -> PathBuf {
    manifest
        .dir
        .canonicalize()
        .unwrap_or_else(|_| manifest.dir.clone())
}

impl Grants {
    /// Grants permissions to whichever plugin is called `plugin`, for this
    /// process only.
    ///
    /// ```
    /// let mut g = plugwire_host::grants::Grants::default();
    /// g.grant("kv", ["network"]);
    /// assert!(g.allows_name("kv", "network"));
    /// ```
    pub fn grant<I, S>(&mut self, plugin: &str, permissions: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.session
            .entry(plugin.to_owned())
            .or_default()
            .extend(permissions.into_iter().map(Into::into));
    }

    /// Records permissions for exactly this plugin: its directory and its
    /// current manifest and executable. A grant recorded for another
    /// directory or another build under the same name is replaced.
    ///
    /// ```no_run
    /// let m = plugwire_host::manifest::Manifest::load("plugins/web".as_ref()).unwrap();
    /// let mut g = plugwire_host::grants::Grants::default();
    /// g.grant_to(&m, ["network"]).unwrap();
    /// assert!(g.missing(&m).is_empty());
    /// ```
    pub fn grant_to<I, S>(&mut self, manifest: &Manifest, permissions: I) -> Result<(), String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let dir = resolved_dir(manifest);
        let digest = fingerprint(manifest)?;
        let entry = self
            .plugins
            .entry(manifest.name.clone())
            .or_insert_with(|| Bound {
                dir: dir.clone(),
                digest: digest.clone(),
                permissions: BTreeSet::new(),
            });
        if entry.dir != dir || entry.digest != digest {
            *entry = Bound {
                dir,
                digest,
                permissions: BTreeSet::new(),
            };
        }
        entry
            .permissions
            .extend(permissions.into_iter().map(Into::into));
        Ok(())
    }

    /// Removes permissions (all of them with an empty list), recorded and
    /// for this process.
    ///
    /// ```
    /// let mut g = plugwire_host::grants::Grants::default();
    /// g.grant("kv", ["network"]);
    /// g.revoke("kv", Vec::<String>::new());
    /// assert!(!g.allows_name("kv", "network"));
    /// ```
    pub fn revoke<I, S>(&mut self, plugin: &str, permissions: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let remove: Vec<String> = permissions.into_iter().map(Into::into).collect();
        if remove.is_empty() {
            self.plugins.remove(plugin);
            self.session.remove(plugin);
            return;
        }
        if let Some(bound) = self.plugins.get_mut(plugin) {
            for p in &remove {
                bound.permissions.remove(p);
            }
        }
        if let Some(set) = self.session.get_mut(plugin) {
            for p in &remove {
                set.remove(p);
            }
        }
    }

    /// Whether `permission` is granted by name, for this process (or to
    /// all).
    ///
    /// ```
    /// assert!(!plugwire_host::grants::Grants::default().allows_name("x", "network"));
    /// ```
    pub fn allows_name(&self, plugin: &str, permission: &str) -> bool {
        self.allows_unattended(permission)
            || self
                .session
                .get(plugin)
                .is_some_and(|s| s.contains(permission))
    }

    /// Whether `all` grants `permission`: everything without `max_risk`,
    /// what is at most that risk with it.
    ///
    /// ```
    /// use plugwire_host::grants::{Grants, Risk};
    /// let g = Grants { all: true, max_risk: Some(Risk::Medium), ..Default::default() };
    /// assert!(g.allows_unattended("host.storage"));
    /// assert!(!g.allows_unattended("network"));
    /// ```
    pub fn allows_unattended(&self, permission: &str) -> bool {
        self.all
            && self
                .max_risk
                .is_none_or(|most| Permission::parse(permission).is_some_and(|p| p.level() <= most))
    }

    /// What the manifest requests that was not granted to this very plugin.
    ///
    /// ```
    /// use plugwire_host::{grants::Grants, manifest::Manifest};
    /// let m = Manifest::parse("name = \"a\"\nversion = \"1.0.0\"\n[run]\nexecutable = \"a\"\n[permissions]\nhost = [\"host.storage\"]\n", "/p".as_ref())?;
    /// assert_eq!(Grants::default().missing(&m).len(), 1);
    /// # Ok::<(), plugwire_host::manifest::ManifestError>(())
    /// ```
    pub fn missing(&self, manifest: &Manifest) -> Vec<Permission> {
        let wanted: Vec<Permission> = requested(manifest)
            .into_iter()
            .filter(|p| !self.allows_name(&manifest.name, &p.to_string()))
            .collect();
        if wanted.is_empty() {
            return wanted;
        }
        let recorded = self.plugins.get(&manifest.name).filter(|bound| {
            bound.dir == resolved_dir(manifest)
                && fingerprint(manifest).is_ok_and(|d| d == bound.digest)
        });
        wanted
            .into_iter()
            .filter(|p| !recorded.is_some_and(|b| b.permissions.contains(&p.to_string())))
            .collect()
    }

    /// Why a recorded grant for this plugin's name does not apply to it, if
    /// there is one that does not.
    ///
    /// ```
    /// use plugwire_host::{grants::Grants, manifest::Manifest};
    /// let m = Manifest::parse("name = \"a\"\nversion = \"1.0.0\"\n[run]\nexecutable = \"a\"\n", "/p".as_ref())?;
    /// assert_eq!(Grants::default().mismatch(&m), None);
    /// # Ok::<(), plugwire_host::manifest::ManifestError>(())
    /// ```
    pub fn mismatch(&self, manifest: &Manifest) -> Option<String> {
        let bound = self.plugins.get(&manifest.name)?;
        let dir = resolved_dir(manifest);
        if bound.dir != dir {
            return Some(format!(
                "the recorded grant for {:?} is for the plugin in {}, not the one in {}",
                manifest.name,
                bound.dir.display(),
                dir.display()
            ));
        }
        match fingerprint(manifest) {
            Ok(d) if d == bound.digest => None,
            Ok(_) => Some(format!(
                "plugin {:?} changed since it was granted (its manifest or executable differs)",
                manifest.name
            )),
            Err(e) => Some(e),
        }
    }

    /// Reads grants from a TOML file (empty when it does not exist). An
    /// entry that cannot be used (an old unbound grant) is left out and
    /// explained in [`Grants::ignored`].
    ///
    /// ```no_run
    /// let g = plugwire_host::grants::Grants::load("grants.toml".as_ref())?;
    /// for why in &g.ignored { eprintln!("warning: {why}"); }
    /// # Ok::<(), String>(())
    /// ```
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        Self::parse(&text, path)
    }

    /// Parses the text of a grants file; `path` names it in messages.
    ///
    /// ```
    /// use plugwire_host::grants::Grants;
    /// let g = Grants::parse("[plugins.web]\ndir = \"/p/web\"\ndigest = \"sha256:00\"\npermissions = [\"network\"]\n", "grants.toml".as_ref())?;
    /// assert_eq!(g.plugins["web"].permissions.len(), 1);
    /// # Ok::<(), String>(())
    /// ```
    pub fn parse(text: &str, path: &Path) -> Result<Self, String> {
        let broken = |e: &dyn std::fmt::Display| {
            format!(
                "{} is not a valid grants file: {e}; fix it, or remove it and grant again",
                path.display()
            )
        };
        let table: toml::Table = toml::from_str(text).map_err(|e| broken(&e))?;
        let mut grants = Self::default();
        let Some(plugins) = table.get("plugins") else {
            return Ok(grants);
        };
        let plugins = plugins
            .as_table()
            .ok_or_else(|| broken(&"`plugins` must be a table"))?;
        for (name, entry) in plugins {
            match entry.clone().try_into::<Bound>() {
                Ok(bound) => {
                    grants.plugins.insert(name.clone(), bound);
                }
                Err(e) => grants.ignored.push(format!(
                    "{}: the grant for {name:?} is not bound to a plugin directory and digest ({}); grant it again with `plugwire grant {name}`",
                    path.display(),
                    e.message()
                )),
            }
        }
        Ok(grants)
    }

    /// Writes the recorded grants to a TOML file, atomically, readable by
    /// the user only.
    ///
    /// ```no_run
    /// plugwire_host::grants::Grants::default().save("grants.toml".as_ref())?;
    /// # Ok::<(), String>(())
    /// ```
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let text = toml::to_string(self).map_err(|e| e.to_string())?;
        crate::atomic_file::write(path, text.as_bytes())
    }

    /// Where the CLI keeps grants: `$XDG_CONFIG_HOME/plugwire/grants.toml`.
    ///
    /// ```
    /// let path = plugwire_host::grants::Grants::default_path();
    /// assert!(path.ends_with("plugwire/grants.toml"));
    /// ```
    pub fn default_path() -> PathBuf {
        crate::dirs::config()
            .unwrap_or_else(|| PathBuf::from("plugwire"))
            .join("grants.toml")
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
        .map(|p| format!("  {p}: {}", p.explain()))
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

    fn plugin_in(root: &Path, name: &str, executable: &str) -> Manifest {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let text = format!(
            "name = \"{name}\"\nversion = \"1.0.0\"\n[run]\nexecutable = \"bin\"\n[permissions]\nnetwork = true\n"
        );
        std::fs::write(dir.join("plugin.toml"), text).unwrap();
        std::fs::write(dir.join("bin"), executable).unwrap();
        Manifest::load(&dir).unwrap()
    }

    #[test]
    fn recorded_grants_round_trip_through_toml() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plugwire/grants.toml");
        let web = plugin_in(dir.path(), "web", "v1");
        let mut g = Grants::default();
        g.grant_to(&web, ["network", "read:~/sites"]).unwrap();
        g.save(&path).unwrap();
        let loaded = Grants::load(&path).unwrap();
        assert_eq!(loaded, g);
        assert!(loaded.missing(&web).is_empty());
        assert_eq!(
            Grants::load(&dir.path().join("none.toml")).unwrap(),
            Grants::default()
        );
    }

    #[test]
    fn a_grant_binds_to_the_directory_and_the_digest_not_the_name() {
        let real = tempfile::tempdir().unwrap();
        let foreign = tempfile::tempdir().unwrap();
        let echo = plugin_in(real.path(), "echo", "the real one");
        let impostor = plugin_in(foreign.path(), "echo", "the real one");
        let mut g = Grants::default();
        g.grant_to(&echo, ["network"]).unwrap();
        assert!(g.missing(&echo).is_empty());
        assert_eq!(
            g.missing(&impostor),
            [Permission::Network],
            "another directory"
        );
        assert!(g.mismatch(&impostor).unwrap().contains("not the one in"));
        // The same plugin, changed since: no longer granted.
        std::fs::write(&echo.executable, "a new build").unwrap();
        assert_eq!(g.missing(&echo), [Permission::Network]);
        assert!(g.mismatch(&echo).unwrap().contains("changed since"));
    }

    #[test]
    fn old_unbound_grants_are_ignored_with_a_reason_and_broken_files_explained() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grants.toml");
        std::fs::write(&path, "[plugins]\necho = [\"network\"]\n").unwrap();
        let g = Grants::load(&path).unwrap();
        assert!(g.plugins.is_empty());
        assert!(
            g.ignored[0].contains("plugwire grant echo"),
            "{:?}",
            g.ignored
        );
        std::fs::write(&path, "[plugins\n").unwrap();
        let e = Grants::load(&path).unwrap_err();
        assert!(e.contains("not a valid grants file"), "{e}");
        assert!(e.contains("remove it and grant again"), "{e}");
    }

    #[test]
    fn refusals_list_permissions_and_risks() {
        let text = refusal(
            "web",
            &[Permission::Network, Permission::Write("~/x".into())],
        );
        assert!(text.contains("network: high risk: can reach"), "{text}");
        assert!(text.contains("write:~/x: high risk: can change"), "{text}");
    }
}

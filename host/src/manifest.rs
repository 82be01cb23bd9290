//! `plugin.toml`: what a plugin is and the most it may do (docs/manifest.md).
//!
//! Parsing is strict: unknown keys, bad values and impossible combinations
//! are errors that name the field, the value, why it is wrong and how to
//! fix it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use plugwire_proto::names::validate_plugin_name;
use serde::Deserialize;
use serde_json::Value;

/// Largest manifest accepted.
pub const MAX_MANIFEST_LEN: u64 = 64 * 1024;

/// The manifest file name inside a plugin directory.
pub const MANIFEST_FILE: &str = "plugin.toml";

pub mod bounds;
pub mod http;

pub use bounds::Bounds;

/// Permissions a manifest may request for host callbacks (PW-HOST-3).
pub const HOST_PERMISSIONS: [&str; 3] = ["host.events.emit", "host.tools.call", "host.storage"];

/// How grants and manifests name a permission to an application service:
/// `host.service:<package.Service>`.
pub const SERVICE_PREFIX: &str = "host.service:";

/// A validated manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Plugin name (PW-HS-3 rules).
    pub name: String,
    /// Plugin version.
    pub version: semver::Version,
    /// One-line description.
    pub description: String,
    /// Authors.
    pub authors: Vec<String>,
    /// SPDX license expression.
    pub license: Option<String>,
    /// Implementation language, shown in listings.
    pub language: Option<String>,
    /// The directory holding the manifest.
    pub dir: PathBuf,
    /// The executable, resolved inside `dir`.
    pub executable: PathBuf,
    /// Arguments passed to the executable.
    pub args: Vec<String>,
    /// Extra environment variables set for the plugin.
    pub env: BTreeMap<String, String>,
    /// App protocol versions the plugin speaks.
    pub protocol_versions: Vec<u32>,
    /// The application the plugin is written for (`protocol.app`); any
    /// application when `None`.
    pub app: Option<String>,
    /// Versions of the embedding application the plugin accepts
    /// (`protocol.host`), checked against `HostConfig::app_version`.
    pub host_requirement: semver::VersionReq,
    /// Versions of plugwire itself the plugin accepts (`protocol.plugwire`).
    pub plugwire_requirement: semver::VersionReq,
    /// Requested permissions.
    pub permissions: Permissions,
    /// Resource limits.
    pub limits: Limits,
    /// JSON Schema of the plugin's configuration.
    pub config_schema: Option<Value>,
    /// Where to read about it (catalogs show it).
    pub homepage: Option<String>,
    /// Its source repository.
    pub repository: Option<String>,
    /// Words catalogs search.
    pub keywords: Vec<String>,
    /// An icon file inside its directory.
    pub icon: Option<String>,
    /// Other plugins it needs, with the versions it accepts: the host
    /// starts them first and refuses to start it without them.
    pub dependencies: BTreeMap<String, semver::VersionReq>,
    /// With an executable per platform: each platform's, as written
    /// (relative to `dir`); empty with one executable for all.
    pub platforms: BTreeMap<String, String>,
    /// The HTTP routes and dashboard panel it adds to the daemon.
    pub http: http::Http,
    /// The hooks and providers it may declare (`[hooks]`, `[providers]`).
    pub bounds: Bounds,
    /// What the executable speaks: plugwire's protocol, or MCP over stdio.
    pub kind: PluginKind,
}

/// What a plugin's executable speaks (the manifest's `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    /// plugwire's protocol (`docs/protocol.md`): the default.
    #[default]
    Plugwire,
    /// An MCP server over stdio. The host runs it under
    /// `plugwire-mcp-adapter`, inside the same sandbox, which speaks
    /// plugwire's protocol for it and offers its tools as the plugin's
    /// (`docs/mcp.md`).
    Mcp,
}

/// This machine's platform as manifests and packages name it:
/// `<os>-<arch>`, e.g. `linux-x86_64` or `linux-aarch64`.
///
/// ```
/// let p = plugwire_host::manifest::platform();
/// assert!(p.starts_with(std::env::consts::OS));
/// ```
pub fn platform() -> String {
    format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}

/// Requested permissions: the most the plugin may ever get.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    /// Access to the host's whole network.
    pub network: bool,
    /// Hosts (`HOST[:PORT]`, `*.domain`) reached through the host's egress
    /// proxy, when not the whole network.
    pub network_hosts: Vec<String>,
    /// Paths the plugin may read.
    pub read: Vec<String>,
    /// Paths the plugin may read and write.
    pub write: Vec<String>,
    /// Host callbacks: `host.events.emit`, `host.tools.call`, `host.storage`.
    pub host: Vec<String>,
}

impl Permissions {
    /// Whether a host permission was requested.
    ///
    /// ```
    /// let p = plugwire_host::manifest::Permissions { host: vec!["host.storage".into()], ..Default::default() };
    /// assert!(p.allows_host("host.storage"));
    /// assert!(!p.allows_host("host.tools.call"));
    /// ```
    pub fn allows_host(&self, permission: &str) -> bool {
        self.host.iter().any(|p| p == permission)
    }
}

/// A fully qualified gRPC service name: dot-separated identifiers, a
/// package and a service at least, at most 256 bytes.
fn is_service_name(name: &str) -> bool {
    let ident = |part: &str| {
        part.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    name.len() <= 256 && name.split('.').count() >= 2 && name.split('.').all(ident)
}

/// Resource limits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    /// Memory in bytes.
    pub memory: Option<u64>,
    /// Most processes and threads.
    pub pids: Option<u32>,
    /// CPUs (1.0 is one core).
    pub cpu: Option<f64>,
    /// Most open files.
    pub open_files: Option<u32>,
    /// Longest call.
    pub call_timeout: Option<Duration>,
}

/// A manifest problem: where, what, why, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// The manifest file.
    pub path: PathBuf,
    /// The field (dotted path), empty for the whole file.
    pub field: String,
    /// The offending value, as written.
    pub value: String,
    /// Why it is wrong.
    pub why: String,
    /// How to fix it.
    pub fix: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if !self.field.is_empty() {
            write!(f, ": field `{}`", self.field)?;
        }
        if !self.value.is_empty() {
            write!(f, " = {}", self.value)?;
        }
        write!(f, ": {}", self.why)?;
        if !self.fix.is_empty() {
            write!(f, "; {}", self.fix)?;
        }
        Ok(())
    }
}

impl std::error::Error for ManifestError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: String,
    version: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    authors: Vec<String>,
    license: Option<String>,
    language: Option<String>,
    #[serde(default)]
    kind: PluginKind,
    run: RawRun,
    #[serde(default)]
    protocol: RawProtocol,
    #[serde(default)]
    permissions: RawPermissions,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    config: RawConfig,
    homepage: Option<String>,
    repository: Option<String>,
    #[serde(default)]
    keywords: Vec<String>,
    icon: Option<String>,
    #[serde(default)]
    dependencies: BTreeMap<String, String>,
    #[serde(default)]
    http: http::RawHttp,
    #[serde(default)]
    hooks: bounds::RawHooks,
    #[serde(default)]
    providers: bounds::RawProviders,
}

/// One executable, or one per platform (`linux-x86_64 = "bin/x86_64/p"`).
#[derive(Deserialize)]
#[serde(untagged)]
enum RawExecutable {
    One(String),
    PerPlatform(BTreeMap<String, String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    executable: RawExecutable,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProtocol {
    #[serde(default = "default_versions")]
    versions: Vec<u32>,
    #[serde(default = "default_host_req")]
    host: String,
    #[serde(default)]
    app: Option<String>,
    #[serde(default = "default_host_req")]
    plugwire: String,
}

impl Default for RawProtocol {
    fn default() -> Self {
        Self {
            versions: default_versions(),
            host: default_host_req(),
            app: None,
            plugwire: default_host_req(),
        }
    }
}

fn default_versions() -> Vec<u32> {
    vec![1]
}

fn default_host_req() -> String {
    "*".to_owned()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPermissions {
    #[serde(default)]
    network: RawNetwork,
    #[serde(default)]
    read: Vec<String>,
    #[serde(default)]
    write: Vec<String>,
    #[serde(default)]
    host: Vec<String>,
}

/// `network = true` (the whole network) or `network = ["HOST[:PORT]", ...]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawNetwork {
    All(bool),
    Hosts(Vec<String>),
}

impl Default for RawNetwork {
    fn default() -> Self {
        Self::All(false)
    }
}

/// Most hosts one manifest may name.
const MAX_NETWORK_HOSTS: usize = 64;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    memory: Option<String>,
    pids: Option<u32>,
    cpu: Option<f64>,
    open_files: Option<u32>,
    call_timeout: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    schema: Option<toml::Value>,
}

impl Manifest {
    /// A manifest for a bare executable with no `plugin.toml` (as the
    /// conformance suite runs one): named after the file, protocol
    /// version 1, no permissions, no limits, run in the file's directory.
    ///
    /// ```
    /// let m = plugwire_host::manifest::Manifest::for_executable("/opt/bin/My_Plugin".as_ref(), vec![]);
    /// assert_eq!(m.name, "my-plugin");
    /// assert_eq!(m.dir, std::path::Path::new("/opt/bin"));
    /// ```
    pub fn for_executable(executable: &Path, args: Vec<String>) -> Self {
        let stem = executable
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let name: String = stem
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let name = if plugwire_proto::names::validate_plugin_name(&name).is_ok() {
            name
        } else {
            "plugin".to_owned()
        };
        Self {
            name,
            version: semver::Version::new(0, 0, 0),
            description: String::new(),
            authors: Vec::new(),
            license: None,
            language: None,
            dir: executable
                .parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
            executable: executable.to_path_buf(),
            args,
            env: BTreeMap::new(),
            protocol_versions: vec![1],
            app: None,
            host_requirement: semver::VersionReq::STAR,
            plugwire_requirement: semver::VersionReq::STAR,
            permissions: Permissions::default(),
            limits: Limits::default(),
            config_schema: None,
            homepage: None,
            repository: None,
            keywords: Vec::new(),
            icon: None,
            dependencies: BTreeMap::new(),
            platforms: BTreeMap::new(),
            http: http::Http::default(),
            // No manifest, no bounds: the user ran the executable directly.
            bounds: Bounds::unbounded(),
            kind: PluginKind::Plugwire,
        }
    }

    /// Reads and validates `<dir>/plugin.toml`.
    ///
    /// ```no_run
    /// let manifest = plugwire_host::manifest::Manifest::load("plugins/echo".as_ref())?;
    /// println!("{} {}", manifest.name, manifest.version);
    /// # Ok::<(), plugwire_host::manifest::ManifestError>(())
    /// ```
    pub fn load(dir: &Path) -> Result<Self, ManifestError> {
        let path = dir.join(MANIFEST_FILE);
        let whole = |why: String, fix: &str| ManifestError {
            path: path.clone(),
            field: String::new(),
            value: String::new(),
            why,
            fix: fix.to_owned(),
        };
        let meta = std::fs::metadata(&path).map_err(|e| {
            whole(
                format!("cannot read it: {e}"),
                "create plugin.toml in the plugin directory",
            )
        })?;
        if meta.len() > MAX_MANIFEST_LEN {
            return Err(whole(
                format!(
                    "it is {} bytes, over the {MAX_MANIFEST_LEN}-byte limit",
                    meta.len()
                ),
                "a manifest describes a plugin; keep data elsewhere",
            ));
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| whole(format!("cannot read it as UTF-8 text: {e}"), ""))?;
        // The plugin runs with its directory as working directory, so every
        // path derived from it must be absolute.
        let dir = std::fs::canonicalize(dir)
            .map_err(|e| whole(format!("cannot resolve the plugin directory: {e}"), ""))?;
        Self::parse(&text, &dir)
    }

    /// Parses manifest text for a plugin in `dir`.
    ///
    /// ```
    /// use plugwire_host::manifest::Manifest;
    /// let m = Manifest::parse(r#"
    ///     name = "echo"
    ///     version = "0.1.0"
    ///     [run]
    ///     executable = "echo-plugin"
    /// "#, "/opt/plugins/echo".as_ref())?;
    /// assert_eq!(m.executable, std::path::Path::new("/opt/plugins/echo/echo-plugin"));
    /// # Ok::<(), plugwire_host::manifest::ManifestError>(())
    /// ```
    pub fn parse(text: &str, dir: &Path) -> Result<Self, ManifestError> {
        Self::parse_for(text, dir, &platform())
    }

    /// Reads and validates `<dir>/plugin.toml` as it would be on
    /// `platform` (whose executable must be there): for a package built for
    /// another machine.
    ///
    /// ```no_run
    /// let m = plugwire_host::manifest::Manifest::load_for("unpacked/echo".as_ref(), "linux-aarch64")?;
    /// # Ok::<(), plugwire_host::manifest::ManifestError>(())
    /// ```
    pub fn load_for(dir: &Path, platform: &str) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(dir.join(MANIFEST_FILE)).map_err(|e| ManifestError {
            path: dir.join(MANIFEST_FILE),
            field: String::new(),
            value: String::new(),
            why: format!("cannot read it: {e}"),
            fix: "give the directory that holds the plugin's plugin.toml".into(),
        })?;
        Self::parse_for(&text, dir, platform)
    }

    fn parse_for(text: &str, dir: &Path, platform: &str) -> Result<Self, ManifestError> {
        let path = dir.join(MANIFEST_FILE);
        let raw: RawManifest = toml::from_str(text).map_err(|e| ManifestError {
            path: path.clone(),
            field: String::new(),
            value: String::new(),
            why: e.message().to_owned() + &location(text, e.span()),
            fix: "see docs/manifest.md for the fields and their types".to_owned(),
        })?;
        let err = |field: &str, value: &dyn fmt::Debug, why: String, fix: &str| ManifestError {
            path: path.clone(),
            field: field.to_owned(),
            value: format!("{value:?}"),
            why,
            fix: fix.to_owned(),
        };

        validate_plugin_name(&raw.name)
            .map_err(|e| err("name", &raw.name, e, "use a name such as \"my-plugin\""))?;
        let version = semver::Version::parse(&raw.version).map_err(|e| {
            err(
                "version",
                &raw.version,
                format!("not a semantic version: {e}"),
                "write it as MAJOR.MINOR.PATCH, e.g. \"1.2.0\"",
            )
        })?;
        let (written, platforms) = match &raw.run.executable {
            RawExecutable::One(path) => (path.clone(), BTreeMap::new()),
            RawExecutable::PerPlatform(by_platform) => {
                if let Some(bad) = by_platform.keys().find(|p| {
                    !p.split_once('-').is_some_and(|(os, arch)| {
                        [os, arch].iter().all(|w| {
                            !w.is_empty()
                                && w.bytes().all(|b| {
                                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'
                                })
                        })
                    })
                }) {
                    return Err(err(
                        "run.executable",
                        bad,
                        "not a platform name".into(),
                        "name platforms <os>-<arch>, e.g. linux-x86_64 or linux-aarch64",
                    ));
                }
                let Some(path) = by_platform.get(platform) else {
                    return Err(err(
                        "run.executable",
                        &by_platform.keys().collect::<Vec<_>>(),
                        format!("no executable for {platform} (this machine)"),
                        "install the package built for this platform, or add one for it",
                    ));
                };
                (path.clone(), by_platform.clone())
            }
        };
        let executable = resolve_executable(dir, &written).map_err(|why| {
            err(
                "run.executable",
                &written,
                why,
                "give a path relative to the plugin directory, without `..` or links that leave it",
            )
        })?;
        for key in raw.run.env.keys() {
            if key.is_empty() || key.contains('=') || key.contains('\0') {
                return Err(err(
                    "run.env",
                    key,
                    "not a valid environment variable name".into(),
                    "use NAME = \"value\"",
                ));
            }
            if key.starts_with("PLUGWIRE_") || key.starts_with("PLUGIN_") {
                return Err(err(
                    "run.env",
                    key,
                    "variables starting with PLUGWIRE_ or PLUGIN_ are set by the host".into(),
                    "choose another name",
                ));
            }
        }
        if raw.protocol.versions.is_empty() || raw.protocol.versions.contains(&0) {
            return Err(err(
                "protocol.versions",
                &raw.protocol.versions,
                "expected a non-empty list of positive app protocol versions".into(),
                "write versions = [1]",
            ));
        }
        let host_requirement = semver::VersionReq::parse(&raw.protocol.host).map_err(|e| {
            err(
                "protocol.host",
                &raw.protocol.host,
                format!("not a semver requirement on the application's version: {e}"),
                "write e.g. \">=2.1, <3\"",
            )
        })?;
        let plugwire_requirement =
            semver::VersionReq::parse(&raw.protocol.plugwire).map_err(|e| {
                err(
                    "protocol.plugwire",
                    &raw.protocol.plugwire,
                    format!("not a semver requirement on plugwire's version: {e}"),
                    "write e.g. \">=0.1, <0.2\"",
                )
            })?;
        if let Some(app) = &raw.protocol.app
            && (app.is_empty() || app.len() > 64 || app.chars().any(char::is_control))
        {
            return Err(err(
                "protocol.app",
                app,
                "expected the application's name (1 to 64 characters)".into(),
                "write the name the application gives in HostConfig, e.g. app = \"acme\"",
            ));
        }
        let (network, network_hosts) = match raw.permissions.network {
            RawNetwork::All(all) => (all, Vec::new()),
            RawNetwork::Hosts(hosts) => {
                if hosts.len() > MAX_NETWORK_HOSTS {
                    return Err(err(
                        "permissions.network",
                        &hosts.len(),
                        format!("more than {MAX_NETWORK_HOSTS} hosts"),
                        "grant the whole network with `network = true`, or name fewer hosts (`*.domain` covers a domain)",
                    ));
                }
                for host in &hosts {
                    crate::egress::Destination::parse(host).map_err(|why| {
                        err(
                            "permissions.network",
                            host,
                            why,
                            "write e.g. network = [\"api.example.com:443\", \"*.github.com\"]",
                        )
                    })?;
                }
                (false, hosts)
            }
        };
        for permission in &raw.permissions.host {
            if let Some(service) = permission.strip_prefix(SERVICE_PREFIX) {
                if !is_service_name(service) {
                    return Err(err(
                        "permissions.host",
                        permission,
                        "not a fully qualified gRPC service name".into(),
                        "write e.g. \"host.service:acme.session.v1.Sessions\"",
                    ));
                }
            } else if !HOST_PERMISSIONS.contains(&permission.as_str()) {
                return Err(err(
                    "permissions.host",
                    permission,
                    "unknown permission".into(),
                    &format!(
                        "use one of {}, or host.service:<package.Service> for a service of the application",
                        HOST_PERMISSIONS.join(", ")
                    ),
                ));
            }
        }
        for (field, paths) in [
            ("permissions.read", &raw.permissions.read),
            ("permissions.write", &raw.permissions.write),
        ] {
            for p in paths {
                let ok = (p.starts_with('/')
                    || p.starts_with("~/")
                    || p == "~"
                    || p.starts_with("{data}"))
                    && !p.split('/').any(|c| c == "..")
                    && !p.contains('\0');
                if !ok {
                    return Err(err(
                        field,
                        p,
                        "expected an absolute path, `~/...` or `{data}/...`, without `..`".into(),
                        "write the full path",
                    ));
                }
            }
        }
        let limits = Limits {
            memory: raw
                .limits
                .memory
                .as_deref()
                .map(|m| {
                    parse_size(m).ok_or_else(|| {
                        err(
                            "limits.memory",
                            &m,
                            "not a size".into(),
                            "write e.g. \"256MiB\" or \"1GiB\"",
                        )
                    })
                })
                .transpose()?,
            pids: match raw.limits.pids {
                Some(0) => {
                    return Err(err(
                        "limits.pids",
                        &0,
                        "must be at least 1".into(),
                        "write e.g. 64",
                    ));
                }
                p => p,
            },
            cpu: match raw.limits.cpu {
                Some(c) if !(c > 0.0 && c <= 1024.0) => {
                    return Err(err(
                        "limits.cpu",
                        &c,
                        "expected CPUs between 0 and 1024".into(),
                        "write e.g. 0.5 for half a core",
                    ));
                }
                c => c,
            },
            open_files: match raw.limits.open_files {
                Some(n) if n < 16 => {
                    return Err(err(
                        "limits.open_files",
                        &n,
                        "below 16 no gRPC server can run".into(),
                        "write e.g. 256",
                    ));
                }
                n => n,
            },
            call_timeout: raw
                .limits
                .call_timeout
                .as_deref()
                .map(|t| {
                    humantime::parse_duration(t)
                        .ok()
                        .filter(|d| !d.is_zero())
                        .ok_or_else(|| {
                            err(
                                "limits.call_timeout",
                                &t,
                                "not a duration".into(),
                                "write e.g. \"30s\" or \"2m\"",
                            )
                        })
                })
                .transpose()?,
        };
        let config_schema = match raw.config.schema {
            None => None,
            Some(schema) => {
                let json = serde_json::to_value(&schema)
                    .map_err(|e| err("config.schema", &"<table>", e.to_string(), ""))?;
                jsonschema::validator_for(&json).map_err(|e| {
                    err(
                        "config.schema",
                        &json.to_string(),
                        format!("not a valid JSON Schema: {e}"),
                        "write a JSON Schema as a TOML table",
                    )
                })?;
                Some(json)
            }
        };
        let mut dependencies = BTreeMap::new();
        for (name, requirement) in &raw.dependencies {
            plugwire_proto::names::validate_plugin_name(name).map_err(|e| {
                err(
                    &format!("dependencies.{name}"),
                    name,
                    e.to_string(),
                    "name another plugin by its manifest name",
                )
            })?;
            if *name == raw.name {
                return Err(err(
                    &format!("dependencies.{name}"),
                    name,
                    "a plugin cannot depend on itself".into(),
                    "remove it",
                ));
            }
            let req = semver::VersionReq::parse(requirement).map_err(|e| {
                err(
                    &format!("dependencies.{name}"),
                    requirement,
                    format!("not a version requirement: {e}"),
                    "write e.g. \"^1.2\" or \">=0.3, <0.5\"",
                )
            })?;
            dependencies.insert(name.clone(), req);
        }
        if let Some(icon) = &raw.icon
            && (Path::new(icon).is_absolute() || icon.split('/').any(|p| p == ".."))
        {
            return Err(err(
                "icon",
                icon,
                "the icon must be a file inside the plugin's directory".into(),
                "give a relative path such as \"icon.png\"",
            ));
        }
        let http = raw
            .http
            .validate()
            .map_err(|(field, value, why, fix)| err(&field, &value, why, fix))?;
        let bounds = bounds::validate(raw.hooks, raw.providers)
            .map_err(|(field, value, why, fix)| err(&field, &value, why, fix))?;
        Ok(Self {
            name: raw.name,
            version,
            description: raw.description,
            authors: raw.authors,
            license: raw.license,
            language: raw.language,
            dir: dir.to_path_buf(),
            executable,
            args: raw.run.args,
            env: raw.run.env,
            protocol_versions: raw.protocol.versions,
            app: raw.protocol.app,
            host_requirement,
            plugwire_requirement,
            permissions: Permissions {
                network,
                network_hosts,
                read: raw.permissions.read,
                write: raw.permissions.write,
                host: raw.permissions.host,
            },
            limits,
            config_schema,
            homepage: raw.homepage,
            repository: raw.repository,
            keywords: raw.keywords,
            icon: raw.icon,
            dependencies,
            platforms,
            http,
            bounds,
            kind: raw.kind,
        })
    }
}

fn location(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(span) = span else {
        return String::new();
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!(" (line {line}, column {column})")
}

fn resolve_executable(dir: &Path, executable: &str) -> Result<PathBuf, String> {
    let relative = Path::new(executable);
    if executable.is_empty() {
        return Err("the executable is empty".into());
    }
    if relative.is_absolute() {
        return Err(
            "absolute paths are not allowed: a plugin directory must be self-contained".into(),
        );
    }
    if relative
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err("`..` would leave the plugin directory".into());
    }
    let path = dir.join(relative);
    // A symbolic link (the executable or a directory on the way) may point
    // anywhere: judge where it really leads.
    if let (Ok(real), Ok(real_dir)) = (path.canonicalize(), dir.canonicalize())
        && !real.starts_with(&real_dir)
    {
        return Err(format!(
            "it leads, through a symbolic link, to {} outside the plugin directory",
            real.display()
        ));
    }
    Ok(path)
}

/// Parses sizes such as `512KiB`, `64MiB`, `1.5GiB`, `100M`, `4096`: a
/// number (with a fraction, if any) and a binary unit (`K`, `KB` and `KiB`
/// all mean 1024, as memory limits do), rounded down to a byte.
///
/// ```
/// use plugwire_host::manifest::parse_size;
/// assert_eq!(parse_size("64MiB"), Some(64 << 20));
/// assert_eq!(parse_size("1.5GiB"), Some(3 << 29));
/// assert_eq!(parse_size("1G"), Some(1 << 30));
/// assert_eq!(parse_size("lots"), None);
/// ```
pub fn parse_size(text: &str) -> Option<u64> {
    // parse-size, in its binary mode: K, KB and KiB all mean 1024, as
    // memory limits have always meant here.
    parse_size::Config::new()
        .with_binary()
        .parse_size(text.trim())
        .ok()
        .filter(|bytes| *bytes > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str =
        "name = \"echo\"\nversion = \"0.1.0\"\n[run]\nexecutable = \"bin/echo\"\n";

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(text, Path::new("/p/echo"))
    }

    #[test]
    fn minimal_manifest_gets_defaults() {
        let m = parse(MINIMAL).unwrap();
        assert_eq!(m.protocol_versions, [1]);
        assert!(m.host_requirement.matches(&semver::Version::new(0, 1, 0)));
        assert_eq!(m.executable, Path::new("/p/echo/bin/echo"));
        assert_eq!(m.permissions, Permissions::default());
    }

    #[test]
    fn full_manifest() {
        let m = parse(
            r#"
            name = "audit"
            version = "1.2.3-beta.1"
            description = "d"
            authors = ["a"]
            license = "MIT"
            language = "rust"
            [run]
            executable = "audit"
            args = ["--x"]
            env = { MODE = "fast" }
            [protocol]
            versions = [1, 2]
            host = ">=0.1, <0.2"
            [permissions]
            network = true
            read = ["~/docs", "/etc/hosts"]
            write = ["{data}/out"]
            host = ["host.storage", "host.events.emit"]
            [limits]
            memory = "64MiB"
            pids = 32
            cpu = 0.5
            open_files = 128
            call_timeout = "5s"
            [config.schema]
            type = "object"
            properties = { retries = { type = "integer" } }
            "#,
        )
        .unwrap();
        assert_eq!(m.limits.memory, Some(64 << 20));
        assert_eq!(m.limits.call_timeout, Some(Duration::from_secs(5)));
        assert!(m.permissions.allows_host("host.storage"));
        assert_eq!(
            m.config_schema.unwrap()["properties"]["retries"]["type"],
            "integer"
        );
        assert_eq!(m.env["MODE"], "fast");
    }

    fn error_field(text: &str) -> (String, String) {
        let e = parse(text).unwrap_err();
        (e.field.clone(), e.to_string())
    }

    #[test]
    fn every_bad_field_is_named() {
        let cases = [
            (MINIMAL.replace("\"echo\"", "\"Echo\""), "name"),
            (MINIMAL.replace("0.1.0", "one"), "version"),
            (MINIMAL.replace("bin/echo", "../escape"), "run.executable"),
            (
                MINIMAL.replace("bin/echo", "/usr/bin/env"),
                "run.executable",
            ),
            (
                MINIMAL.to_owned() + "env = { PLUGWIRE_X = \"1\" }\n",
                "run.env",
            ),
            (
                MINIMAL.to_owned() + "[protocol]\nversions = []\n",
                "protocol.versions",
            ),
            (
                MINIMAL.to_owned() + "[protocol]\nhost = \"banana\"\n",
                "protocol.host",
            ),
            (
                MINIMAL.to_owned() + "[permissions]\nhost = [\"host.everything\"]\n",
                "permissions.host",
            ),
            (
                MINIMAL.to_owned() + "[permissions]\nread = [\"relative\"]\n",
                "permissions.read",
            ),
            (
                MINIMAL.to_owned() + "[permissions]\nwrite = [\"/a/../b\"]\n",
                "permissions.write",
            ),
            (
                MINIMAL.to_owned() + "[limits]\nmemory = \"lots\"\n",
                "limits.memory",
            ),
            (MINIMAL.to_owned() + "[limits]\npids = 0\n", "limits.pids"),
            (MINIMAL.to_owned() + "[limits]\ncpu = -1.0\n", "limits.cpu"),
            (
                MINIMAL.to_owned() + "[limits]\nopen_files = 3\n",
                "limits.open_files",
            ),
            (
                MINIMAL.to_owned() + "[limits]\ncall_timeout = \"soon\"\n",
                "limits.call_timeout",
            ),
            (
                MINIMAL.to_owned() + "[config.schema]\ntype = 5\n",
                "config.schema",
            ),
        ];
        for (text, field) in cases {
            let (got, message) = error_field(&text);
            assert_eq!(got, field, "{message}");
            assert!(message.contains("plugin.toml"), "{message}");
        }
    }

    #[test]
    fn unknown_keys_and_type_errors_say_where() {
        let e = parse(&(MINIMAL.to_owned() + "colour = \"red\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `colour`"), "{e}");
        assert!(e.contains("line 5"), "{e}");
        let e = parse("name = 5\n").unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
        let e = parse("version = \"1.0.0\"\n[run]\nexecutable = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing field `name`"), "{e}");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("512KiB"), Some(512 << 10));
        assert_eq!(parse_size("0"), None);
        assert_eq!(parse_size("99999999999GiB"), None);
        assert_eq!(parse_size("0.5KiB"), Some(512));
        assert_eq!(parse_size("1.5.5GiB"), None);
        assert_eq!(parse_size("0.0001B"), None, "under a byte");
    }

    #[test]
    fn an_executable_linked_outside_the_directory_is_refused() {
        let outside = tempfile::NamedTempFile::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MANIFEST_FILE), MINIMAL).unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("bin/echo")).unwrap();
        let e = Manifest::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("outside the plugin directory"), "{e}");
        // A link that stays inside is fine.
        std::fs::remove_file(dir.path().join("bin/echo")).unwrap();
        std::fs::write(dir.path().join("real"), "").unwrap();
        std::os::unix::fs::symlink("../real", dir.path().join("bin/echo")).unwrap();
        Manifest::load(dir.path()).unwrap();
    }
}

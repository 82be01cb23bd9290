//! Installing and updating packages through the API. How packages are
//! found, verified and recorded is the application's (the `plugwire`
//! command's indexes, trust store and registry): it hands the daemon a
//! [`PackageManager`], and the daemon's routes call it, then bring the
//! live host up to date with what it installed.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::api::ApiError;

/// A boxed future, as trait objects return them.
pub type Pending<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>> + Send>>;

/// What the daemon asks of the application to change installed packages.
/// Neither call may ask anyone anything: a daemon has no terminal.
pub trait PackageManager: Send + Sync + 'static {
    /// Installs from a source (a plugin directory, a package file, its
    /// URL, or `NAME[@REQUIREMENT]` from the indexes), what it needs
    /// first; what was installed, in that order.
    fn install(&self, request: InstallRequest) -> Pending<Vec<Installed>>;

    /// Updates one installed plugin from the indexes, within its pin,
    /// after checking that the new version starts; `None` when it is up
    /// to date.
    fn update(&self, plugin: String, request: UpdateRequest) -> Pending<Option<Updated>>;

    /// Uninstalls a plugin (its files and its record); false when it was
    /// not installed (found in a plugin directory instead).
    fn uninstall(&self, plugin: String) -> Pending<bool>;

    /// Remembers an installed plugin as enabled or disabled, so that the
    /// next start honours it; false when it is not installed.
    fn remember_enabled(&self, plugin: String, enabled: bool) -> Pending<bool>;
}

/// The body of `POST /v1/packages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallRequest {
    /// A directory, a `.tar.gz`, an `https://` URL, or `NAME[@REQ]`.
    pub source: String,
    /// The package's signature file (default: beside it).
    #[serde(default)]
    pub signature: Option<PathBuf>,
    /// Accept a package without a signature where one is required.
    #[serde(default)]
    pub allow_unsigned: bool,
    /// Grant what it requests, and remember.
    #[serde(default)]
    pub grant: bool,
}

/// The body of `POST /v1/plugins/{name}/update`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    /// Accept a package without a signature.
    #[serde(default)]
    pub allow_unsigned: bool,
    /// Grant what the new version requests beyond the old one.
    #[serde(default)]
    pub grant: bool,
}

/// One plugin installed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Installed {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Where it was installed.
    pub dir: PathBuf,
    /// `sha256:<hex>` of the package.
    pub digest: String,
    /// The version it replaced.
    pub replaced: Option<String>,
    /// What it requests.
    pub requests: Vec<String>,
    /// Whether that was granted (true when it requests nothing).
    pub granted: bool,
}

/// One plugin updated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Updated {
    /// Its name.
    pub name: String,
    /// The version before.
    pub from: String,
    /// The version now.
    pub to: String,
    /// Where it is installed.
    pub dir: PathBuf,
}

/// One installed plugin and how the live host took it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstallOutcome {
    /// What was installed.
    pub installed: Installed,
    /// Its status in the daemon's host, once added or reloaded.
    pub status: Option<crate::api::PluginView>,
    /// Why the host could not start it (it stays installed).
    pub start_error: Option<ApiError>,
}

/// What an update did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateOutcome {
    /// The update, or none when the plugin was up to date.
    pub updated: Option<Updated>,
    /// Its status in the daemon's host after the reload.
    pub status: Option<crate::api::PluginView>,
}

//! Whether a plugin accepts the host it is loaded into: the application it
//! names (`protocol.app`), the application's version (`protocol.host`),
//! plugwire's own version (`protocol.plugwire`) and the app protocol
//! versions both speak.

use crate::manifest::Manifest;

/// What a plugin is checked against: the embedding application and the
/// plugwire it embeds.
///
/// ```
/// use plugwire_host::compatibility::Compatibility;
/// let here = Compatibility::new("acme", "2.1.0");
/// let m = plugwire_host::manifest::Manifest::parse(
///     "name = \"a\"\nversion = \"1.0.0\"\n[run]\nexecutable = \"a\"\n[protocol]\napp = \"acme\"\nhost = \">=2, <3\"\n",
///     "/p".as_ref(),
/// )?;
/// assert!(here.check(&m).is_ok());
/// assert!(Compatibility::new("acme", "3.0.0").check(&m).unwrap_err().contains("3.0.0"));
/// assert!(Compatibility::new("zed", "2.1.0").check(&m).unwrap_err().contains("\"acme\""));
/// # Ok::<(), plugwire_host::manifest::ManifestError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compatibility {
    /// The embedding application's name.
    pub app_name: String,
    /// Its version as it was given (shown in messages).
    pub app_version: String,
    /// Its version, when it is semver.
    pub app_semver: Option<semver::Version>,
    /// This plugwire's version.
    pub plugwire: semver::Version,
    /// The app protocol versions this host speaks.
    pub protocols: Vec<u32>,
}

impl Compatibility {
    /// The application `name` at `version`, embedding this plugwire.
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            app_name: name.to_owned(),
            app_version: version.to_owned(),
            app_semver: semver::Version::parse(version).ok(),
            plugwire: plugwire_version(),
            protocols: plugwire_proto::constants::SUPPORTED_APP_VERSIONS.to_vec(),
        }
    }

    /// The `plugwire` command itself, whose application is plugwire.
    ///
    /// ```
    /// let cli = plugwire_host::compatibility::Compatibility::plugwire_itself();
    /// assert_eq!(cli.app_name, "plugwire");
    /// ```
    pub fn plugwire_itself() -> Self {
        Self::new("plugwire", env!("CARGO_PKG_VERSION"))
    }

    /// Checks `manifest`; the error says which rule failed and what to do.
    pub fn check(&self, manifest: &Manifest) -> Result<(), String> {
        self.check_fields(
            manifest.app.as_deref(),
            &manifest.host_requirement,
            &manifest.plugwire_requirement,
            &manifest.protocol_versions,
        )
    }

    /// The same check on the fields themselves (as an index lists them).
    pub fn check_fields(
        &self,
        app: Option<&str>,
        host: &semver::VersionReq,
        plugwire: &semver::VersionReq,
        protocols: &[u32],
    ) -> Result<(), String> {
        if let Some(app) = app
            && app != self.app_name
        {
            return Err(format!(
                "it is written for the application {app:?}, and this is {:?}; install it into {app:?}, or ask its author for a version that drops `protocol.app`",
                self.app_name
            ));
        }
        if *host != semver::VersionReq::STAR {
            match &self.app_semver {
                Some(version) if host.matches(version) => {}
                Some(_) => {
                    return Err(format!(
                        "it requires {} {host}, this is {} {}; upgrade the plugin or the application",
                        self.app_name, self.app_name, self.app_version
                    ));
                }
                None => {
                    return Err(format!(
                        "it requires {} {host}, and this application's version {:?} is not semver, so no range can match it; the application should give a semver version in HostConfig",
                        self.app_name, self.app_version
                    ));
                }
            }
        }
        if !plugwire.matches(&self.plugwire) {
            return Err(format!(
                "it requires plugwire {plugwire}, this host embeds plugwire {}; upgrade the plugin or the host",
                self.plugwire
            ));
        }
        if !protocols.iter().any(|v| self.protocols.contains(v)) {
            return Err(format!(
                "it speaks protocol versions {protocols:?}, this host speaks {:?}; upgrade the older side",
                self.protocols
            ));
        }
        Ok(())
    }
}

impl From<&crate::HostConfig> for Compatibility {
    fn from(config: &crate::HostConfig) -> Self {
        Self::new(&config.app_name, &config.app_version)
    }
}

fn plugwire_version() -> semver::Version {
    semver::Version::parse(env!("CARGO_PKG_VERSION")).expect("the crate version is semver")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(protocol: &str) -> Manifest {
        Manifest::parse(
            &format!(
                "name = \"a\"\nversion = \"1.0.0\"\n[run]\nexecutable = \"a\"\n[protocol]\n{protocol}\n"
            ),
            "/p".as_ref(),
        )
        .unwrap()
    }

    #[test]
    fn the_host_range_is_the_applications_version() {
        let m = manifest("host = \">=2.1, <3\"");
        assert!(Compatibility::new("acme", "2.4.0").check(&m).is_ok());
        let err = Compatibility::new("acme", "1.9.0").check(&m).unwrap_err();
        assert!(
            err.contains("acme >=2.1, <3") && err.contains("1.9.0"),
            "{err}"
        );
        let err = Compatibility::new("acme", "nightly").check(&m).unwrap_err();
        assert!(err.contains("not semver"), "{err}");
    }

    #[test]
    fn an_unconstrained_plugin_runs_in_any_application() {
        let m = manifest("");
        assert!(Compatibility::new("acme", "nightly").check(&m).is_ok());
        assert!(Compatibility::new("zed", "0.0.0").check(&m).is_ok());
    }

    #[test]
    fn plugwire_is_required_apart_from_the_application() {
        let m = manifest("plugwire = \">=99\"");
        let err = Compatibility::new("acme", "1.0.0").check(&m).unwrap_err();
        assert!(err.contains("plugwire >=99"), "{err}");
        let m = manifest(&format!("plugwire = \"={}\"", env!("CARGO_PKG_VERSION")));
        assert!(Compatibility::new("acme", "1.0.0").check(&m).is_ok());
    }

    #[test]
    fn a_plugin_for_another_application_is_refused() {
        let m = manifest("app = \"acme\"");
        let err = Compatibility::new("zed", "1.0.0").check(&m).unwrap_err();
        assert!(err.contains("\"acme\"") && err.contains("\"zed\""), "{err}");
    }

    #[test]
    fn no_common_protocol_is_refused() {
        let m = manifest("versions = [99]");
        let err = Compatibility::new("acme", "1.0.0").check(&m).unwrap_err();
        assert!(err.contains("[99]"), "{err}");
    }
}

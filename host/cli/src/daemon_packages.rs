//! The `plugwire` command's package management, handed to the daemon it
//! serves: `POST /v1/packages` and `POST /v1/plugins/{name}/update` install
//! and update exactly as `plugwire install` and `plugwire update` do, with
//! the same indexes, trust store and registry, and never ask anything.

use std::path::PathBuf;

use plugwire_daemon::api::ApiError;
use plugwire_daemon::packages::{
    InstallRequest, Installed, PackageManager, Pending, UpdateRequest, Updated,
};
use plugwire_host::HostConfig;

use crate::commands::install::{Grant, InstallOptions};
use crate::output::Failure;

/// Package management as the CLI does it.
pub(crate) struct CliPackages {
    /// The daemon's host configuration, to check an update's new version
    /// with before it is kept.
    pub(crate) config: HostConfig,
}

fn refused(failure: Failure) -> ApiError {
    let hint = failure.hint_text().map(str::to_owned);
    let mut e = ApiError::new("failed_precondition", failure.message().to_owned());
    e.hint = hint;
    e
}

fn grant(yes: bool, most: Option<plugwire_host::grants::Risk>) -> Grant {
    if yes { Grant::Yes(most) } else { Grant::No }
}

impl PackageManager for CliPackages {
    fn install(&self, request: InstallRequest) -> Pending<Vec<Installed>> {
        let most = self.config.grants.max_risk;
        Box::pin(async move {
            let installed = tokio::task::spawn_blocking(move || {
                let source = PathBuf::from(&request.source);
                let options = InstallOptions {
                    into: None,
                    signature: request.signature.as_deref(),
                    allow_unsigned: request.allow_unsigned,
                    grant: grant(request.grant, most),
                };
                crate::commands::install::run(&source, &options)
            })
            .await
            .map_err(|e| ApiError::new("internal", format!("the install stopped: {e}")))?
            .map_err(refused)?;
            Ok(installed
                .into_iter()
                .map(|done| Installed {
                    name: done.name,
                    version: done.version,
                    dir: done.dir,
                    digest: done.digest,
                    replaced: done.replaced,
                    requests: done.requests.into_iter().map(|(p, _)| p).collect(),
                    granted: done.granted,
                })
                .collect())
        })
    }

    fn update(&self, plugin: String, request: UpdateRequest) -> Pending<Option<Updated>> {
        let config = self.config.clone();
        let grant = grant(request.grant, config.grants.max_risk);
        Box::pin(async move {
            let report = crate::commands::update::update(
                Some(&plugin),
                false,
                request.allow_unsigned,
                config,
                grant,
            )
            .await
            .map_err(refused)?;
            if let Some((name, version, why)) = report.failed.into_iter().next() {
                return Err(ApiError::new(
                    "failed_precondition",
                    format!("{name} {version} did not start: {why}"),
                )
                .with_hint("the installed version still serves; `plugwire logs` shows why"));
            }
            Ok(report
                .updated
                .into_iter()
                .next()
                .map(|(name, from, to, dir)| Updated {
                    name,
                    from,
                    to,
                    dir,
                }))
        })
    }

    fn uninstall(&self, plugin: String) -> Pending<bool> {
        Box::pin(async move {
            if !crate::commands::installed::is_installed(&plugin) {
                return Ok(false);
            }
            crate::commands::installed::uninstall(&plugin).map_err(refused)?;
            Ok(true)
        })
    }

    fn remember_enabled(&self, plugin: String, enabled: bool) -> Pending<bool> {
        Box::pin(async move {
            if !crate::commands::installed::is_installed(&plugin) {
                return Ok(false);
            }
            crate::commands::installed::remember_enabled(&plugin, enabled).map_err(refused)?;
            Ok(true)
        })
    }
}

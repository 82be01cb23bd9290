//! `plugwire outdated` and `plugwire update [NAME|--all] [--dry-run]`:
//! newer versions from the indexes, within each plugin's pin. An update is
//! staged beside the installed version and kept only if the new version
//! starts and passes its health check; otherwise the old one is put back
//! and the error shown.

use std::process::ExitCode;

use plugwire_host::packages::{Limits, Record, Registry, stage};
use plugwire_host::{Host, HostConfig};

use super::install::{Grant, finish, from_indexes, registry_path};
use crate::output::{Failure, table};

/// (name, installed version, newest within the pin) of each plugin with a
/// newer version in an index.
fn newer(only: Option<&str>) -> Result<Vec<(String, String, String, semver::VersionReq)>, Failure> {
    let registry = Registry::load(&registry_path()).map_err(Failure::new)?;
    let indexes = crate::commands::index::Indexes::load()?.fetch_all()?;
    let mut out = Vec::new();
    for (name, record) in &registry.plugins {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let pin = record
            .pinned
            .as_deref()
            .and_then(|p| semver::VersionReq::parse(p).ok())
            .unwrap_or(semver::VersionReq::STAR);
        let installed = semver::Version::parse(&record.version).ok();
        let newest = indexes
            .iter()
            .filter_map(|(_, _, index)| index.best(name, &pin))
            .filter_map(|e| semver::Version::parse(&e.version).ok())
            .max();
        if let (Some(newest), Some(installed)) = (newest, installed)
            && newest > installed
        {
            out.push((
                name.clone(),
                record.version.clone(),
                newest.to_string(),
                pin,
            ));
        }
    }
    if let Some(only) = only
        && !registry.plugins.contains_key(only)
    {
        return Err(Failure::new(format!("no installed plugin named {only:?}")));
    }
    Ok(out)
}

pub(crate) fn outdated(as_json: bool) -> Result<ExitCode, Failure> {
    let pending = newer(None)?;
    if as_json {
        crate::output::print_json(&serde_json::json!(
            pending
                .iter()
                .map(|(n, i, v, pin)| serde_json::json!({
                    "plugin": n, "installed": i, "newest": v, "pin": pin.to_string(),
                }))
                .collect::<Vec<_>>()
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = pending
        .into_iter()
        .map(|(n, i, v, _)| vec![n, i, v])
        .collect();
    if rows.is_empty() {
        eprintln!("everything installed is up to date");
    }
    print!("{}", table(&["PLUGIN", "INSTALLED", "NEWEST"], rows));
    Ok(ExitCode::SUCCESS)
}

/// What an update run did.
#[derive(Default)]
pub(crate) struct UpdateReport {
    /// Would be updated (`--dry-run`): name, installed, newest.
    pub(crate) planned: Vec<(String, String, String)>,
    /// Updated: name, from, to, where.
    pub(crate) updated: Vec<(String, String, String, std::path::PathBuf)>,
    /// Not updated because the new version did not start: name, version, why.
    pub(crate) failed: Vec<(String, String, String)>,
}

/// `plugwire update`: updates, then says what it did.
pub(crate) async fn command(
    only: Option<&str>,
    dry_run: bool,
    allow_unsigned: bool,
    config: HostConfig,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let grant = if config.grants.all {
        Grant::Yes(config.grants.max_risk)
    } else {
        Grant::Ask
    };
    let report = update(only, dry_run, allow_unsigned, config, grant).await?;
    if as_json {
        crate::output::print_json(&serde_json::json!({
            "planned": report.planned.iter().map(|(n, i, v)| serde_json::json!({"plugin": n, "installed": i, "newest": v})).collect::<Vec<_>>(),
            "updated": report.updated.iter().map(|(n, f, t, d)| serde_json::json!({"plugin": n, "from": f, "to": t, "dir": d})).collect::<Vec<_>>(),
            "failed": report.failed.iter().map(|(n, v, w)| serde_json::json!({"plugin": n, "version": v, "why": w})).collect::<Vec<_>>(),
        }));
        return Ok(if report.failed.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    if report.planned.is_empty() && report.updated.is_empty() && report.failed.is_empty() {
        eprintln!("nothing to update");
    }
    for (name, installed, newest) in &report.planned {
        println!("would update {name} {installed} -> {newest}");
    }
    for (name, from, to, _) in &report.updated {
        println!("updated {name} {from} -> {to}");
    }
    for (name, version, why) in &report.failed {
        eprintln!("{name} {version} did not start: {why}");
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Updates what is outdated (or `only`), each new version checked by
/// starting it once before it is kept.
pub(crate) async fn update(
    only: Option<&str>,
    dry_run: bool,
    allow_unsigned: bool,
    config: HostConfig,
    grant: Grant,
) -> Result<UpdateReport, Failure> {
    let pending = newer(only)?;
    let mut report = UpdateReport::default();
    let registry = Registry::load(&registry_path()).map_err(Failure::new)?;
    for (name, installed, newest, pin) in pending {
        if dry_run {
            report.planned.push((name, installed, newest));
            continue;
        }
        let record = &registry.plugins[&name];
        let root = record
            .dir
            .parent()
            .ok_or_else(|| Failure::new(format!("{}: no parent", record.dir.display())))?
            .to_path_buf();
        let mut found = from_indexes(&name, &pin, allow_unsigned)?;
        let Some(own) = found.pop() else {
            continue;
        };
        // What the new version needs that is not installed yet comes first.
        for needed in found {
            let done = finish(&needed.bytes, needed.signer, &needed.source, &root, grant)?;
            if grant != Grant::No {
                super::install::report(&done, grant, false);
            }
        }
        let found = own;
        let staged = stage(&found.bytes, &root, &Limits::default())
            .map_err(|e| Failure::new(format!("cannot update {name}: {e}")))?;
        // The new files are recorded before the health check, whose launch
        // checks them; a failed check puts the old files and record back.
        let done = staged.installed().clone();
        let previous = Registry::update(&registry_path(), |r| {
            let mut new = Record::capture(&done.dir, &done.version, &found.source, &done.digest)?;
            new.signer = found.signer.clone();
            let old = r.plugins.get(&name).cloned();
            if let Some(old) = &old {
                new.enabled = old.enabled;
                new.pinned = old.pinned.clone();
            }
            r.plugins.insert(name.clone(), new);
            Ok(old)
        })
        .map_err(Failure::new)?;
        let (config, previous_grant) = match carry_grants(&name, &done.dir, &config, grant) {
            Ok(carried) => carried,
            Err(why) => {
                eprintln!("{why}");
                (config.clone(), None)
            }
        };
        match health_check(&name, &root, config.clone()).await {
            Ok(()) => {
                let done = staged.commit();
                report
                    .updated
                    .push((name, installed, done.version.clone(), done.dir.clone()));
            }
            Err(why) => {
                staged.rollback().map_err(|e| {
                    Failure::new(format!("cannot put {name} {installed} back: {e}"))
                })?;
                if let Some(grant) = previous_grant {
                    restore_grant(&name, grant).map_err(Failure::new)?;
                }
                Registry::update(&registry_path(), |r| {
                    if let Some(old) = previous {
                        r.plugins.insert(name.clone(), old);
                    }
                    Ok(())
                })
                .map_err(Failure::new)?;
                report
                    .failed
                    .push((name, newest, format!("{why}; {installed} stays")));
            }
        }
    }
    Ok(report)
}

/// What the user granted the installed version carries over to the new one
/// (grants bind to a plugin's digest, which an update changes), when it
/// requests nothing more; more is granted only with `--yes` or at a prompt.
/// The configuration to check the new version with, and, when the grants
/// file was changed, what it held for the plugin before (to put back if
/// the update is rolled back).
fn carry_grants(
    name: &str,
    dir: &std::path::Path,
    config: &HostConfig,
    grant: Grant,
) -> Result<(HostConfig, Option<Option<plugwire_host::grants::Bound>>), String> {
    use plugwire_host::grants::{Grants, requested};
    let manifest = plugwire_host::manifest::Manifest::load(dir).map_err(|e| e.to_string())?;
    let wanted: Vec<String> = requested(&manifest)
        .iter()
        .map(ToString::to_string)
        .collect();
    if wanted.is_empty() {
        return Ok((config.clone(), None));
    }
    let path = Grants::default_path();
    let mut grants = Grants::load(&path)?;
    let before = grants
        .plugins
        .get(name)
        .map(|b| b.permissions.clone())
        .unwrap_or_default();
    let more: Vec<&String> = wanted.iter().filter(|w| !before.contains(*w)).collect();
    let granted = more.is_empty()
        || more.iter().all(|m| config.grants.allows_unattended(m))
        || match grant {
            Grant::Yes(most) => more.iter().all(|m| {
                plugwire_host::grants::Permission::parse(m)
                    .is_some_and(|p| most.is_none_or(|most| p.level() <= most))
            }),
            Grant::No => false,
            Grant::Ask => {
                eprintln!(
                    "{name}'s new version requests more: {}",
                    more.iter()
                        .map(|m| m.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                crate::commands::grant::confirm("grant and remember?")
            }
        };
    if !granted {
        return Err(format!(
            "{name}'s new version requests {} which is not granted: it will not start (grant it with --yes)",
            more.iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let previous = grants.plugins.get(name).cloned();
    grants.grant_to(&manifest, wanted.iter().cloned())?;
    grants.save(&path)?;
    if !more.is_empty() {
        let more: Vec<&str> = more.iter().map(|m| m.as_str()).collect();
        super::audit::recorded("grant", name, more.join(","));
    }
    let mut config = config.clone();
    let (all, max_risk) = (config.grants.all, config.grants.max_risk);
    config.grants = grants;
    config.grants.all = all;
    config.grants.max_risk = max_risk;
    Ok((config, Some(previous)))
}

/// Puts a plugin's recorded grant back as it was before an update.
fn restore_grant(name: &str, previous: Option<plugwire_host::grants::Bound>) -> Result<(), String> {
    use plugwire_host::grants::Grants;
    let path = Grants::default_path();
    let mut grants = Grants::load(&path)?;
    match previous {
        Some(bound) => grants.plugins.insert(name.to_owned(), bound),
        None => grants.plugins.remove(name),
    };
    grants.save(&path)
}

/// Starts the plugin in `root` once (spawn, bootstrap, health, handshake,
/// configure, listing) and stops it.
async fn health_check(
    name: &str,
    root: &std::path::Path,
    mut config: HostConfig,
) -> Result<(), String> {
    config.plugin_dirs = vec![root.to_path_buf()];
    config.standard_dirs = false;
    // A disabled plugin is still checked before it is updated.
    config.disabled.remove(name);
    let host = Host::start(config).await.map_err(|e| e.to_string())?;
    let started = host.start_plugin(name).await;
    host.shutdown().await;
    started.map_err(|s| s.message().to_owned())
}

//! What is installed: `plugwire remove` (also `uninstall`), `enable`,
//! `disable`, `verify`, and `list --installed`, over the registry of
//! installed plugins.

use std::process::ExitCode;

use plugwire_host::packages::{Check, Registry};
use serde_json::json;

use super::install::registry_path;
use crate::output::{Failure, print_json, table};

fn not_installed(name: &str, registry: &Registry) -> Failure {
    let known: Vec<&str> = registry.plugins.keys().map(String::as_str).collect();
    Failure::new(format!("no installed plugin named {name:?}")).hint(if known.is_empty() {
        "nothing is installed; `plugwire install DIR|PACKAGE` installs one".to_owned()
    } else {
        format!("installed: {}", known.join(", "))
    })
}

/// Removes an installed plugin: its directory, then its record.
pub(crate) fn remove(name: &str) -> Result<ExitCode, Failure> {
    let removed = uninstall(name)?;
    crate::output::said(
        format!(
            "removed {name} {} from {}",
            removed.version,
            removed.dir.display()
        ),
        json!({"removed": name, "version": removed.version, "dir": removed.dir}),
    );
    Ok(ExitCode::SUCCESS)
}

/// Removes an installed plugin's directory and record; the record.
pub(crate) fn uninstall(name: &str) -> Result<plugwire_host::packages::Record, Failure> {
    Registry::update(&registry_path(), |registry| {
        let Some(record) = registry.plugins.get(name).cloned() else {
            return Ok(Err(not_installed(name, registry)));
        };
        if record.dir.exists() {
            std::fs::remove_dir_all(&record.dir)
                .map_err(|e| format!("cannot remove {}: {e}", record.dir.display()))?;
        }
        registry.plugins.remove(name);
        Ok(Ok(record))
    })
    .map_err(Failure::new)?
}

/// Whether `name` is installed (in the registry).
pub(crate) fn is_installed(name: &str) -> bool {
    Registry::load(&registry_path()).is_ok_and(|r| r.plugins.contains_key(name))
}

/// Remembers a plugin as enabled or disabled; a disabled one is listed and
/// never started.
pub(crate) fn set_enabled(name: &str, enabled: bool) -> Result<ExitCode, Failure> {
    remember_enabled(name, enabled)?;
    crate::output::said(
        format!("{} {name}", if enabled { "enabled" } else { "disabled" }),
        json!({"plugin": name, "enabled": enabled}),
    );
    Ok(ExitCode::SUCCESS)
}

/// Records an installed plugin as enabled or disabled.
pub(crate) fn remember_enabled(name: &str, enabled: bool) -> Result<(), Failure> {
    Registry::update(&registry_path(), |registry| {
        Ok(match registry.plugins.get_mut(name) {
            Some(record) => {
                record.enabled = enabled;
                Ok(())
            }
            None => Err(not_installed(name, registry)),
        })
    })
    .map_err(Failure::new)?
}

/// Re-hashes everything installed: valid or modified, per plugin; exits 1
/// when anything was modified.
pub(crate) fn verify(as_json: bool) -> Result<ExitCode, Failure> {
    let registry = Registry::load(&registry_path()).map_err(Failure::new)?;
    let mut all_valid = true;
    let mut rows = Vec::new();
    let mut report = Vec::new();
    for (name, record) in &registry.plugins {
        let problems = record.verify();
        all_valid &= problems.is_empty();
        let status = if problems.is_empty() {
            "valid"
        } else {
            "modified"
        };
        let signed = record.signer.as_deref().unwrap_or("unsigned");
        rows.push(vec![
            name.clone(),
            record.version.clone(),
            status.to_owned(),
            signed.to_owned(),
            problems.join("; "),
        ]);
        report.push(json!({
            "name": name, "version": record.version, "status": status,
            "signer": record.signer, "problems": problems,
        }));
    }
    if as_json {
        print_json(&json!(report));
    } else if rows.is_empty() {
        eprintln!("nothing is installed");
    } else {
        print!(
            "{}",
            table(&["PLUGIN", "VERSION", "STATUS", "SIGNER", "DETAIL"], rows)
        );
    }
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `plugwire list --installed`: the registry, with a cheap check of each.
pub(crate) fn list(as_json: bool) -> Result<ExitCode, Failure> {
    let registry = Registry::load(&registry_path()).map_err(Failure::new)?;
    if as_json {
        print_json(&json!(
            registry
                .plugins
                .iter()
                .map(|(name, r)| json!({
                    "name": name, "version": r.version, "enabled": r.enabled, "digest": r.digest,
                    "source": r.source, "installed": r.installed, "dir": r.dir, "pinned": r.pinned,
                }))
                .collect::<Vec<_>>()
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let rows = registry
        .plugins
        .iter()
        .map(|(name, r)| {
            let files = match r.check() {
                Check::Intact { .. } => "intact".to_owned(),
                Check::Modified { file, .. } => format!("modified ({file})"),
            };
            vec![
                name.clone(),
                r.version.clone(),
                r.pinned.clone().unwrap_or_else(|| "-".into()),
                if r.enabled { "yes" } else { "no" }.to_owned(),
                files,
                r.source.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &["PLUGIN", "VERSION", "PIN", "ENABLED", "FILES", "SOURCE"],
            rows
        )
    );
    Ok(ExitCode::SUCCESS)
}

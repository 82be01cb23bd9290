//! Asking for, recording and refusing permissions on the command line.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use plugwire_host::HostConfig;
use plugwire_host::grants::{Grants, requested};
use plugwire_host::manifest::Manifest;

use crate::cli_output::Failure;

fn manifests(config: &HostConfig) -> Vec<Manifest> {
    plugwire_host::discovery::find(config)
        .0
        .into_iter()
        .map(|(m, _)| m)
        .collect()
}

/// `plugwire grant` and `plugwire revoke`.
pub(crate) fn change(
    config: &HostConfig,
    plugin: &str,
    permissions: &[String],
    grant: bool,
) -> Result<ExitCode, Failure> {
    let path = Grants::default_path();
    let mut grants = Grants::load(&path).map_err(Failure::new)?;
    if grant {
        let names: Vec<String> = if permissions.is_empty() {
            let manifest = manifests(config)
                .into_iter()
                .find(|m| m.name == plugin)
                .ok_or_else(|| {
                    Failure::new(format!("no plugin named {plugin:?}"))
                        .hint("name the permissions, or add --plugin-dir")
                })?;
            requested(&manifest)
                .iter()
                .map(ToString::to_string)
                .collect()
        } else {
            permissions.to_vec()
        };
        for name in &names {
            println!("granted {plugin} {name}");
        }
        grants.grant(plugin, names);
    } else {
        grants.revoke(plugin, permissions.iter().cloned());
        println!(
            "revoked {}",
            if permissions.is_empty() {
                "all".to_owned()
            } else {
                permissions.join(", ")
            }
        );
    }
    grants.save(&path).map_err(Failure::new)?;
    Ok(ExitCode::SUCCESS)
}

/// Before starting plugins: on a terminal, ask about every ungranted
/// permission and remember the answer; elsewhere, leave them ungranted so
/// the host refuses those plugins with a message that says how to grant.
pub(crate) fn ask(config: &mut HostConfig) -> Result<(), Failure> {
    if config.grants.all || !std::io::stdin().is_terminal() || std::env::var_os("CI").is_some() {
        return Ok(());
    }
    let mut changed = false;
    for manifest in manifests(config) {
        let missing = config.grants.missing(&manifest);
        if missing.is_empty() {
            continue;
        }
        eprintln!("plugin {:?} requests:", manifest.name);
        for p in &missing {
            eprintln!("  {p}: {}", p.risk());
        }
        eprint!("grant and remember? [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if matches!(answer.trim(), "y" | "Y" | "yes") {
            config
                .grants
                .grant(&manifest.name, missing.iter().map(ToString::to_string));
            changed = true;
        }
    }
    if changed {
        let mut stored = Grants::load(&Grants::default_path()).map_err(Failure::new)?;
        for (plugin, set) in &config.grants.plugins {
            stored.grant(plugin, set.iter().cloned());
        }
        stored.save(&Grants::default_path()).map_err(Failure::new)?;
    }
    Ok(())
}

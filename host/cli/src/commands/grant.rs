//! Asking for, recording and refusing permissions on the command line.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use plugwire_host::HostConfig;
use plugwire_host::grants::{Grants, requested};
use plugwire_host::manifest::Manifest;

use crate::output::Failure;

fn manifests(config: &HostConfig) -> Vec<Manifest> {
    plugwire_host::discovery::find(config)
        .0
        .into_iter()
        .map(|(m, _)| m)
        .collect()
}

/// `plugwire grant` and `plugwire revoke`. A grant is recorded for the
/// plugin found under that name, bound to its directory and digest, and only
/// for permissions its manifest requests.
pub(crate) fn change(
    config: &HostConfig,
    plugin: &str,
    permissions: &[String],
    grant: bool,
) -> Result<ExitCode, Failure> {
    let path = Grants::default_path();
    // Never overwrite a file we could not read: that would lose its grants.
    let mut grants = Grants::load(&path).map_err(Failure::new)?;
    if grant {
        let manifest = manifests(config)
            .into_iter()
            .find(|m| m.name == plugin)
            .ok_or_else(|| {
                Failure::new(format!("no plugin named {plugin:?}"))
                    .hint("a grant is recorded for one plugin directory: add --plugin-dir DIR")
            })?;
        let wanted: Vec<String> = requested(&manifest)
            .iter()
            .map(ToString::to_string)
            .collect();
        let names: Vec<String> = if permissions.is_empty() {
            wanted.clone()
        } else {
            permissions.to_vec()
        };
        if let Some(unknown) = names.iter().find(|n| !wanted.contains(n)) {
            return Err(Failure::new(format!(
                "plugin {plugin:?} does not request {unknown:?}; it requests {}",
                if wanted.is_empty() {
                    "nothing".to_owned()
                } else {
                    wanted.join(", ")
                }
            ))
            .hint("a grant can only give what the plugin's manifest asks for"));
        }
        grants
            .grant_to(&manifest, names.iter().cloned())
            .map_err(Failure::new)?;
        for name in &names {
            println!("granted {plugin} {name} (to {})", manifest.dir.display());
        }
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
    for manifest in manifests(config) {
        let missing = config.grants.missing(&manifest);
        if missing.is_empty() {
            continue;
        }
        eprintln!("plugin {:?} requests:", manifest.name);
        for p in &missing {
            eprintln!("  {p}: {}", p.risk());
        }
        if confirm("grant and remember?") {
            let names: Vec<String> = missing.iter().map(ToString::to_string).collect();
            let mut stored = Grants::load(&Grants::default_path()).map_err(Failure::new)?;
            stored
                .grant_to(&manifest, names.iter().cloned())
                .map_err(Failure::new)?;
            stored.save(&Grants::default_path()).map_err(Failure::new)?;
            config.grants.grant(&manifest.name, names);
        }
    }
    Ok(())
}

/// Asks `question` on a terminal; anywhere else (a pipe, CI) the answer is
/// no.
pub(crate) fn confirm(question: &str) -> bool {
    if !std::io::stdin().is_terminal() || std::env::var_os("CI").is_some() {
        return false;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes")
}

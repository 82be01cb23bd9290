//! Asking for, recording and refusing permissions on the command line.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use plugwire_host::HostConfig;
use plugwire_host::grants::{Grants, requested};
use plugwire_host::manifest::Manifest;

use crate::output::Failure;

pub(crate) fn manifests(config: &HostConfig) -> Vec<Manifest> {
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
                let names: Vec<String> = manifests(config).into_iter().map(|m| m.name).collect();
                let suggestion =
                    plugwire_proto::text::did_you_mean(plugin, names.iter().map(String::as_str));
                Failure::usage(format!("no plugin named {plugin:?}{suggestion}"))
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
            let suggestion =
                plugwire_proto::text::did_you_mean(unknown, wanted.iter().map(String::as_str));
            return Err(Failure::usage(format!(
                "plugin {plugin:?} does not request {unknown:?}{suggestion}; it requests {}",
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
        let lines: Vec<String> = names
            .iter()
            .map(|name| format!("granted {plugin} {name} (to {})", manifest.dir.display()))
            .collect();
        crate::output::said(
            lines.join("\n"),
            serde_json::json!({"plugin": plugin, "granted": names, "dir": manifest.dir}),
        );
    } else {
        let granted: Vec<String> = grants
            .plugins
            .get(plugin)
            .map(|b| b.permissions.iter().cloned().collect())
            .unwrap_or_default();
        if granted.is_empty() {
            let known: Vec<&str> = grants.plugins.keys().map(String::as_str).collect();
            let suggestion = plugwire_proto::text::did_you_mean(plugin, known.iter().copied());
            return Err(
                Failure::usage(format!("nothing is granted to {plugin:?}{suggestion}"))
                    .hint("`plugwire grants` lists what is granted"),
            );
        }
        if let Some(unknown) = permissions.iter().find(|p| !granted.contains(p)) {
            let suggestion =
                plugwire_proto::text::did_you_mean(unknown, granted.iter().map(String::as_str));
            return Err(Failure::usage(format!(
                "{plugin:?} is not granted {unknown:?}{suggestion}; it is granted {}",
                granted.join(", ")
            )));
        }
        grants.revoke(plugin, permissions.iter().cloned());
        let revoked = if permissions.is_empty() {
            granted
        } else {
            permissions.to_vec()
        };
        crate::output::said(
            format!("revoked {}", revoked.join(", ")),
            serde_json::json!({"plugin": plugin, "revoked": revoked}),
        );
    }
    grants.save(&path).map_err(Failure::new)?;
    Ok(ExitCode::SUCCESS)
}

/// `plugwire grants`: what is granted, to which plugin directory.
pub(crate) fn list(as_json: bool) -> Result<ExitCode, Failure> {
    let grants = Grants::load(&Grants::default_path()).map_err(Failure::new)?;
    if as_json {
        crate::output::print_json(&serde_json::json!(
            grants
                .plugins
                .iter()
                .map(|(name, b)| serde_json::json!({
                    "plugin": name, "dir": b.dir, "digest": b.digest, "permissions": b.permissions,
                }))
                .collect::<Vec<_>>()
        ));
        return Ok(ExitCode::SUCCESS);
    }
    if grants.plugins.is_empty() {
        eprintln!("nothing is granted; `plugwire grant PLUGIN` grants what it requests");
    }
    let rows = grants
        .plugins
        .iter()
        .map(|(name, b)| {
            let permissions: Vec<String> = b
                .permissions
                .iter()
                .map(|p| match plugwire_host::grants::Permission::parse(p) {
                    Some(permission) => format!("{p} ({})", permission.explain()),
                    None => p.clone(),
                })
                .collect();
            vec![
                name.clone(),
                permissions.join(", "),
                b.dir.display().to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        crate::output::table(&["PLUGIN", "PERMISSIONS", "DIRECTORY"], rows)
    );
    for why in &grants.ignored {
        eprintln!("warning: {why}");
    }
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
            eprintln!("  {p}: {}", p.explain());
        }
        if confirm("grant and remember?") {
            let names: Vec<String> = missing.iter().map(ToString::to_string).collect();
            let mut stored = Grants::load(&Grants::default_path()).map_err(Failure::new)?;
            stored
                .grant_to(&manifest, names.iter().cloned())
                .map_err(Failure::new)?;
            stored.save(&Grants::default_path()).map_err(Failure::new)?;
            super::audit::recorded("grant", &manifest.name, names.join(","));
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

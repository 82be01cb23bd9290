//! The host's configuration from the command line, the environment and the
//! user's grants.

use plugwire_host::HostConfig;

use crate::Cli;
use crate::output::Failure;

/// Builds the configuration every subcommand's host runs with.
pub(crate) fn build(cli: &Cli) -> Result<HostConfig, Failure> {
    let mut config = HostConfig::new("plugwire", env!("CARGO_PKG_VERSION"));
    config.standard_dirs = !cli.no_standard_dirs;
    // `~` is expanded here too: a shell expands it only at the start of a
    // word, not after the colons of a path list nor inside quotes.
    config.plugin_dirs.extend(plugin_path());
    config
        .plugin_dirs
        .extend(cli.plugin_dirs.iter().map(|p| home_expanded(p)));
    config.pass_env = vec!["PLUGWIRE_LOG".into(), "RUST_BACKTRACE".into()];
    if let Some(level) = cli.sandbox {
        config.sandbox.level = level;
        config.sandbox.best_effort = cli.best_effort;
    }
    // A broken grants file must not stop plugins that need no grant (nor
    // `list`): say so once and go on with no recorded grants.
    config.grants =
        match plugwire_host::grants::Grants::load(&plugwire_host::grants::Grants::default_path()) {
            Ok(grants) => grants,
            Err(why) => {
                eprintln!("warning: {why}; running with no recorded grants");
                plugwire_host::grants::Grants::default()
            }
        };
    for why in &config.grants.ignored {
        eprintln!("warning: {why}");
    }
    // Plugins disabled with `plugwire disable` are listed, never started.
    let registry = plugwire_host::packages::Registry::path(&config.data_dir);
    match plugwire_host::packages::Registry::load(&registry) {
        Ok(installed) => config.disabled.extend(
            installed
                .plugins
                .into_iter()
                .filter(|(_, r)| !r.enabled)
                .map(|(name, _)| name),
        ),
        Err(why) => eprintln!("warning: {why}"),
    }
    // Per-plugin configuration files live beside the grants.
    config.config_dir = plugwire_host::grants::Grants::default_path()
        .parent()
        .map(|dir| dir.join("config"));
    config.audit = Some(crate::commands::audit::log());
    config.grants.all = cli.yes;
    config.grants.max_risk = cli.max_risk;
    for entry in &cli.grants {
        let (plugin, permission) = entry.split_once(':').ok_or_else(|| {
            Failure::usage(format!("--grant {entry:?}: expected PLUGIN:PERMISSION"))
                .hint("for example --grant audit:host.storage")
        })?;
        config.grants.grant(plugin, [permission]);
    }
    for entry in &cli.plugin_config {
        let (name, json) = entry.split_once('=').ok_or_else(|| {
            Failure::usage(format!("--plugin-config {entry:?}: expected NAME=JSON"))
                .hint("for example --plugin-config 'greeter={\"greeting\":\"hey\"}'")
        })?;
        let value = serde_json::from_str(json)
            .map_err(|e| Failure::usage(format!("--plugin-config {name}: not JSON: {e}")))?;
        config.plugin_config.insert(name.to_owned(), value);
    }
    Ok(config)
}

/// The directories of `PLUGWIRE_PLUGIN_PATH` (colon-separated), `~`
/// expanded.
pub(crate) fn plugin_path() -> Vec<std::path::PathBuf> {
    std::env::var_os("PLUGWIRE_PLUGIN_PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .filter(|p| !p.as_os_str().is_empty())
                .map(|p| home_expanded(&p))
                .collect()
        })
        .unwrap_or_default()
}

/// `~` and `~/...` as the user's home; anything else as it is.
pub(crate) fn home_expanded(path: &std::path::Path) -> std::path::PathBuf {
    match path.to_str() {
        Some(text) => std::path::PathBuf::from(shellexpand::tilde(text).into_owned()),
        None => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leading_tilde_is_the_home_directory() {
        let home = std::env::var("HOME").unwrap();
        assert_eq!(
            home_expanded(std::path::Path::new("~/plugins")),
            std::path::Path::new(&home).join("plugins")
        );
        assert_eq!(
            home_expanded(std::path::Path::new("/x/~y")),
            std::path::Path::new("/x/~y")
        );
    }
}

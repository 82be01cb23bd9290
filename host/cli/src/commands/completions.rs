//! `plugwire completions SHELL [--plugins]`: a shell completion script;
//! with `--plugins`, one that also completes the plugins found now: their
//! commands (run as `plugwire CMD`, with their flags), tool names for
//! `call`, and plugin names wherever a command takes one.

use std::process::ExitCode;

use clap::builder::PossibleValuesParser;
use plugwire_host::Host;

use crate::output::Failure;

pub(crate) fn run(shell: clap_complete::Shell, command: &mut clap::Command) -> ExitCode {
    clap_complete::generate(shell, command, "plugwire", &mut std::io::stdout());
    ExitCode::SUCCESS
}

/// The script with what the plugins offer (each is started once to learn it).
pub(crate) async fn with_plugins(
    shell: clap_complete::Shell,
    command: clap::Command,
    host: &Host,
) -> Result<ExitCode, Failure> {
    host.start_all().await;
    let infos = host.commands().await;
    let tools: Vec<String> = host
        .tools()
        .await
        .iter()
        .map(|t| t.qualified.clone())
        .collect();
    let plugins: Vec<String> = host.status().iter().map(|s| s.name.clone()).collect();
    let mut command = augmented(command, &infos, tools, plugins);
    Ok(run(shell, &mut command))
}

/// `command` with the plugin commands beside the built-in ones (a plugin
/// command never hides a built-in one) and tool and plugin names as the
/// values their arguments take.
fn augmented(
    mut command: clap::Command,
    infos: &[plugwire_host::CommandInfo],
    tools: Vec<String>,
    plugins: Vec<String>,
) -> clap::Command {
    let builtins: Vec<String> = command
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    for plugin_command in plugwire_host::clap_commands::commands(infos) {
        if !builtins.iter().any(|b| b == plugin_command.get_name()) {
            command = command.subcommand(plugin_command);
        }
    }
    let tools = PossibleValuesParser::new(tools);
    let plugins = PossibleValuesParser::new(plugins);
    let command = with_values(command, "tool", |a| a.value_parser(tools.clone()));
    with_values(command, "plugin", |a| a.value_parser(plugins.clone()))
}

/// `command` with `change` made to the argument `id` of each subcommand
/// that takes one (`tool` of `call`, `plugin` of `info`, `grant`, ...).
pub(crate) fn with_values(
    mut command: clap::Command,
    id: &str,
    change: impl Fn(clap::Arg) -> clap::Arg,
) -> clap::Command {
    let takers: Vec<String> = command
        .get_subcommands()
        .filter(|c| c.get_arguments().any(|a| a.get_id() == id))
        .map(|c| c.get_name().to_owned())
        .collect();
    for name in takers {
        command = command.mut_subcommand(name, |c| {
            // `mut_args` changes arguments in place (`mut_arg` moves the
            // one it changes last, which reorders positionals).
            c.mut_args(|a| if a.get_id() == id { change(a) } else { a })
        });
    }
    command
}

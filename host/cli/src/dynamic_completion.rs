//! Completion asked of the plugins at the moment of the TAB
//! (`source <(COMPLETE=bash plugwire)`): plugin commands, tool names and
//! plugin names as they are now, from the running daemon when there is
//! one, else from the plugins started for the question.

use clap::CommandFactory;

use crate::commands::completions::with_values;
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};
use plugwire_daemon::api::{CommandView, PluginList, ToolView};

/// What the plugins offer now.
#[derive(Default)]
struct Snapshot {
    plugins: Vec<String>,
    tools: Vec<(String, String)>,
    commands: Vec<(String, String)>,
}

/// How long a completion may take to ask.
const DEADLINE: std::time::Duration = std::time::Duration::from_secs(3);

fn snapshot() -> Snapshot {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Snapshot::default();
    };
    runtime
        .block_on(async { tokio::time::timeout(DEADLINE, ask()).await })
        .unwrap_or_default()
}

async fn ask() -> Snapshot {
    let socket = plugwire_daemon::default_socket();
    if let Ok(client) = plugwire_daemon::Client::connect(&socket).await {
        let plugins: PluginList = client.get("/v1/plugins").await.unwrap_or(PluginList {
            plugins: Vec::new(),
            problems: Vec::new(),
        });
        let tools: Vec<ToolView> = client.get("/v1/tools").await.unwrap_or_default();
        let commands: Vec<CommandView> = client.get("/v1/commands").await.unwrap_or_default();
        return Snapshot {
            plugins: plugins.plugins.into_iter().map(|p| p.name).collect(),
            tools: tools
                .into_iter()
                .map(|t| (t.qualified, t.description))
                .collect(),
            commands: commands.into_iter().map(|c| (c.name, c.short)).collect(),
        };
    }
    let mut config = plugwire_host::HostConfig::new("plugwire", env!("CARGO_PKG_VERSION"));
    config.plugin_dirs.extend(crate::host_config::plugin_path());
    config.grants =
        plugwire_host::grants::Grants::load(&plugwire_host::grants::Grants::default_path())
            .unwrap_or_default();
    let Ok(host) = plugwire_host::Host::start(config).await else {
        return Snapshot::default();
    };
    host.start_all().await;
    let snapshot = Snapshot {
        plugins: host.status().into_iter().map(|s| s.name).collect(),
        tools: host
            .tools()
            .await
            .into_iter()
            .map(|t| (t.qualified, t.description))
            .collect(),
        commands: host
            .commands()
            .await
            .into_iter()
            .filter(|c| c.declaration.parent.is_empty())
            .map(|c| (c.full_name, c.declaration.short))
            .collect(),
    };
    host.shutdown().await;
    snapshot
}

fn candidates(pairs: &[(String, String)]) -> ArgValueCandidates {
    let pairs = pairs.to_vec();
    ArgValueCandidates::new(move || {
        pairs
            .iter()
            .map(|(value, help)| CompletionCandidate::new(value).help(Some(help.clone().into())))
            .collect::<Vec<_>>()
    })
}

/// The command line completion sees: the built-in commands, the plugins'
/// commands beside them, and the tool and plugin names their arguments take.
pub(crate) fn command() -> clap::Command {
    let now = snapshot();
    let mut command = crate::Cli::command();
    let builtins: Vec<String> = command
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    for (name, short) in &now.commands {
        if !builtins.contains(name) {
            command = command.subcommand(
                clap::Command::new(name.clone())
                    .about(short.clone())
                    .arg(clap::Arg::new("args").num_args(0..).trailing_var_arg(true)),
            );
        }
    }
    let tools = candidates(&now.tools);
    let command = with_values(command, "tool", |a| a.add(tools.clone()));
    let plugins: Vec<(String, String)> = now
        .plugins
        .iter()
        .map(|p| (p.clone(), String::new()))
        .collect();
    let plugins = candidates(&plugins);
    with_values(command, "plugin", |a| a.add(plugins.clone()))
}

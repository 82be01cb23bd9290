//! The `plugwire` command-line interface.

//!
//! Each subcommand is one file in `commands/`; this file parses the command
//! line, builds the host's configuration and hands over.

mod commands;
mod host_config;
mod input;
mod output;

/// Generated client of the example `examples.kv.v1.KeyValue` provider,
/// which `plugwire demo` calls.
#[allow(missing_docs, clippy::all)]
mod kv {
    tonic::include_proto!("examples.kv.v1");
}

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use plugwire_host::Host;

use crate::output::Failure;

#[derive(Parser)]
#[command(
    name = "plugwire",
    version,
    about = "Run and inspect out-of-process plugins",
    after_help = "Examples:
  plugwire --plugin-dir target/plugwire-examples list
  plugwire call echo.echo '{\"text\":\"hi\"}'
  plugwire call echo.slow @args.json --progress
  echo 'a b c' | plugwire run wc --words
  plugwire emit request.before '{\"password\":\"x\"}'
  plugwire --sandbox standard call echo.echo '{\"text\":\"isolated\"}'
  plugwire grant audit host.storage
  plugwire pack target/plugwire-examples/echo && plugwire install echo-0.1.0.tar.gz
  plugwire completions bash > /etc/bash_completion.d/plugwire

Plugins are found in $XDG_CONFIG_HOME/plugwire/plugins, ./plugins, /usr/share/plugwire/plugins,
then PLUGWIRE_PLUGIN_PATH (colon-separated) and each --plugin-dir."
)]
struct Cli {
    /// Also load plugins from this directory (repeatable).
    #[arg(long = "plugin-dir", global = true, value_name = "DIR")]
    plugin_dirs: Vec<PathBuf>,
    /// Only use --plugin-dir and PLUGWIRE_PLUGIN_PATH, not the standard directories.
    #[arg(long, global = true)]
    no_standard_dirs: bool,
    /// Configuration for a plugin, as NAME=JSON (repeatable).
    #[arg(long = "plugin-config", global = true, value_name = "NAME=JSON")]
    plugin_config: Vec<String>,
    /// Sandbox level: none, standard or strict (docs/sandbox.md). Without
    /// it: standard, as far as this machine allows.
    #[arg(long, global = true, env = "PLUGWIRE_SANDBOX", value_name = "LEVEL")]
    sandbox: Option<plugwire_host::sandbox::SandboxLevel>,
    /// Run with what the machine offers when the sandbox level needs more.
    #[arg(long, global = true)]
    best_effort: bool,
    /// Grant every permission the plugins request, for this run only.
    #[arg(long, short = 'y', global = true)]
    yes: bool,
    /// Grant a permission for this run, as PLUGIN:PERMISSION (repeatable).
    #[arg(long = "grant", global = true, value_name = "PLUGIN:PERMISSION")]
    grants: Vec<String>,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// Show plugin logs and host diagnostics on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List plugins and their state.
    List {
        /// List what is installed (the registry) instead.
        #[arg(long)]
        installed: bool,
    },
    /// Show a plugin's manifest, tools, commands, hooks and providers.
    Info {
        /// The plugin's name.
        plugin: String,
        /// What the configured indexes offer of it, before installing.
        #[arg(long)]
        remote: bool,
    },
    /// List every tool with its schema.
    Tools,
    /// Call a tool and print its result; exits 1 if the tool reports an error.
    Call {
        /// `<plugin>.<tool>`, or the bare tool name when unambiguous.
        tool: String,
        /// Arguments: JSON text, @FILE, or - for stdin (default {}).
        arguments: Option<String>,
        /// Deadline, e.g. 5s or 2m.
        #[arg(long, value_parser = humantime::parse_duration)]
        timeout: Option<Duration>,
        /// Print progress reports on stderr as they arrive.
        #[arg(long)]
        progress: bool,
    },
    /// Run a plugin command, streaming stdio; exits with its exit code.
    Run {
        /// The command, then its arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        line: Vec<String>,
    },
    /// Emit an event and print what the hooks decided.
    Emit {
        /// Event name, e.g. request.before.
        event: String,
        /// Payload: JSON text, @FILE, or - for stdin (default {}).
        payload: Option<String>,
    },
    /// Start plugins and print their logs.
    Logs {
        /// Only this plugin.
        plugin: Option<String>,
        /// Keep printing new records until interrupted.
        #[arg(long)]
        follow: bool,
    },
    /// Report what this machine supports and what each sandbox level uses.
    Doctor,
    /// Grant a plugin permissions (all it requests when none are named), and remember.
    Grant {
        /// The plugin.
        plugin: String,
        /// Permissions, e.g. network, host.storage, read:~/notes.
        permissions: Vec<String>,
    },
    /// Take back permissions (all when none are named).
    Revoke {
        /// The plugin.
        plugin: String,
        /// Permissions.
        permissions: Vec<String>,
    },
    /// Build a plugin's package (reproducible .tar.gz) and print its digest.
    Pack {
        /// The plugin's directory (holding plugin.toml).
        dir: PathBuf,
        /// Where to write it (a file, or a directory); default
        /// ./<name>-<version>.tar.gz.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// With an executable per platform: the platform to build for
        /// (default: this machine's, e.g. linux-x86_64).
        #[arg(long)]
        platform: Option<String>,
    },
    /// Install a plugin from its directory or a package file (atomic; an
    /// installed version is replaced).
    Install {
        /// A plugin directory, a .tar.gz built by `plugwire pack`, its
        /// https:// URL, or NAME[@VERSION-REQUIREMENT] from the indexes.
        source: PathBuf,
        /// Install under this plugin directory instead of the user's.
        #[arg(long, value_name = "DIR")]
        into: Option<PathBuf>,
        /// The package's signature (default: PACKAGE.minisig beside it,
        /// verified whenever it is there).
        #[arg(long, value_name = "FILE")]
        signature: Option<PathBuf>,
        /// Install a package without a signature even where one is required.
        #[arg(long)]
        allow_unsigned: bool,
    },
    /// Make a key pair for signing packages.
    Keygen {
        /// Where to write plugwire.pub and plugwire.key (default
        /// $XDG_CONFIG_HOME/plugwire/keys).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Sign a package, writing PACKAGE.minisig beside it.
    Sign {
        /// The package file.
        package: PathBuf,
        /// The secret key (default $XDG_CONFIG_HOME/plugwire/keys/plugwire.key).
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
    },
    /// Manage the keys whose signatures are trusted.
    Trust {
        #[command(subcommand)]
        action: TrustAction,
    },
    /// Build, add, list or remove package indexes.
    Index {
        #[command(subcommand)]
        action: IndexAction,
    },
    /// Search the configured indexes.
    Search {
        /// Words of a name or description.
        query: String,
    },
    /// List installed plugins with a newer version in an index.
    Outdated,
    /// Update installed plugins from the indexes (within their pins); an
    /// update that does not start is rolled back.
    Update {
        /// Only this plugin (default: all).
        plugin: Option<String>,
        /// Every installed plugin.
        #[arg(long)]
        all: bool,
        /// Say what would be updated, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Accept packages without a signature.
        #[arg(long)]
        allow_unsigned: bool,
    },
    /// Remove an installed plugin.
    #[command(alias = "uninstall")]
    Remove {
        /// The plugin.
        plugin: String,
    },
    /// Enable an installed plugin (remembered).
    Enable {
        /// The plugin.
        plugin: String,
    },
    /// Disable an installed plugin (remembered): listed, never started.
    Disable {
        /// The plugin.
        plugin: String,
    },
    /// Re-hash every installed plugin; exits 1 if any was modified.
    Verify,
    /// Run the demo over the example plugins.
    Demo,
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
enum IndexAction {
    /// Write DIR/index.json listing the packages in DIR.
    Build {
        /// A directory of packages (and their .minisig signatures).
        dir: PathBuf,
    },
    /// Use an index: a path (a directory or its index.json) or a loopback http:// URL.
    Add {
        /// A name for it.
        name: String,
        /// Where it is.
        location: String,
    },
    /// List the indexes used.
    List,
    /// Stop using an index.
    Remove {
        /// Its name.
        name: String,
    },
}

#[derive(Subcommand)]
enum TrustAction {
    /// Trust a key: a minisign .pub file, or its base64 line.
    Add {
        /// The key.
        key: String,
        /// A name for it.
        #[arg(long)]
        name: Option<String>,
    },
    /// List trusted keys.
    List,
    /// Stop trusting a key, by id or name.
    Remove {
        /// Its id or name.
        key: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    if let Command::Completions { shell } = cli.command {
        return commands::completions::run(shell, &mut Cli::command());
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return Failure::new(format!("cannot start the async runtime: {e}")).report(),
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(failure) => failure.report(),
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn,plugwire::plugin=off",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PLUGWIRE_LOG")
        .unwrap_or_else(|_| default.into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a terminal; `NO_COLOR` turns them off there too.
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none(),
        )
        .try_init();
}

async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let json = cli.json;
    if let Command::Doctor = cli.command {
        return commands::doctor::run(json, cli.best_effort);
    }
    match &cli.command {
        Command::Pack {
            dir,
            output,
            platform,
        } => {
            return commands::pack::run(dir, output.as_deref(), platform.as_deref(), json);
        }
        Command::Install {
            source,
            into,
            signature,
            allow_unsigned,
        } => {
            let options = commands::install::InstallOptions {
                into: into.as_deref(),
                signature: signature.as_deref(),
                allow_unsigned: *allow_unsigned,
                yes: cli.yes,
            };
            return commands::install::run(source, &options, json);
        }
        Command::Remove { plugin } => return commands::installed::remove(plugin),
        Command::Index { action } => {
            return match action {
                IndexAction::Build { dir } => commands::index::build(dir),
                IndexAction::Add { name, location } => commands::index::add(name, location),
                IndexAction::List => commands::index::list(json),
                IndexAction::Remove { name } => commands::index::remove(name),
            };
        }
        Command::Search { query } => return commands::index::search(query, json),
        Command::Outdated => return commands::update::outdated(),
        Command::Info {
            plugin,
            remote: true,
        } => return commands::index::remote_info(plugin, json),
        Command::Keygen { dir } => return commands::keys::generate(dir.as_deref()),
        Command::Sign { package, key } => {
            return commands::keys::sign_package(package, key.as_deref());
        }
        Command::Trust { action } => {
            return match action {
                TrustAction::Add { key, name } => commands::keys::add(key, name.as_deref()),
                TrustAction::List => commands::keys::list(json),
                TrustAction::Remove { key } => commands::keys::remove(key),
            };
        }
        Command::Enable { plugin } => return commands::installed::set_enabled(plugin, true),
        Command::Disable { plugin } => return commands::installed::set_enabled(plugin, false),
        Command::Verify => return commands::installed::verify(json),
        Command::List { installed: true } => return commands::installed::list(json),
        _ => {}
    }
    let config = host_config::build(&cli)?;
    match &cli.command {
        Command::Demo => return commands::demo::run(config).await,
        Command::Update {
            plugin,
            all,
            dry_run,
            allow_unsigned,
        } => {
            let only = if *all { None } else { plugin.as_deref() };
            return commands::update::update(only, *dry_run, *allow_unsigned, config).await;
        }
        Command::Grant {
            plugin,
            permissions,
        } => return commands::grant::change(&config, plugin, permissions, true),
        Command::Revoke {
            plugin,
            permissions,
        } => return commands::grant::change(&config, plugin, permissions, false),
        _ => {}
    }
    let mut config = config;
    commands::grant::ask(&mut config)?;
    let host = Host::start(config)
        .await
        .map_err(|e| Failure::new(e.to_string()))?;
    let result = match &cli.command {
        Command::List { .. } => commands::list::run(&host, json).await,
        Command::Info { plugin, .. } => commands::info::run(&host, plugin, json).await,
        Command::Tools => commands::tools::run(&host, json).await,
        Command::Call {
            tool,
            arguments,
            timeout,
            progress,
        } => {
            commands::call::run(&host, tool, arguments.as_deref(), *timeout, *progress, json).await
        }
        Command::Run { line } => commands::run::run(&host, line).await,
        Command::Emit { event, payload } => {
            commands::emit::run(&host, event, payload.as_deref(), json).await
        }
        Command::Logs { plugin, follow } => {
            commands::logs::run(&host, plugin.as_deref(), *follow, json).await
        }
        Command::Doctor
        | Command::Demo
        | Command::Pack { .. }
        | Command::Install { .. }
        | Command::Remove { .. }
        | Command::Keygen { .. }
        | Command::Index { .. }
        | Command::Search { .. }
        | Command::Outdated
        | Command::Update { .. }
        | Command::Sign { .. }
        | Command::Trust { .. }
        | Command::Enable { .. }
        | Command::Disable { .. }
        | Command::Verify
        | Command::Completions { .. }
        | Command::Grant { .. }
        | Command::Revoke { .. } => unreachable!("handled before the host starts"),
    };
    host.shutdown().await;
    result
}

//! The `plugwire` command-line interface.

//!
//! Each subcommand is one file in `commands/`; this file parses the command
//! line, builds the host's configuration and hands over.

mod backend;
mod commands;
mod daemon_packages;
mod dynamic_completion;
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
  echo 'a b c' | plugwire wc --words
  plugwire wc --help
  plugwire emit request.before '{\"password\":\"x\"}'
  plugwire --sandbox standard call echo.echo '{\"text\":\"isolated\"}'
  plugwire grant audit host.storage
  plugwire pack target/plugwire-examples/echo && plugwire install echo-0.1.0.tar.gz
  plugwire completions bash > /etc/bash_completion.d/plugwire

Plugins are found in $XDG_CONFIG_HOME/plugwire/plugins, ./plugins, /usr/share/plugwire/plugins,
then PLUGWIRE_PLUGIN_PATH (colon-separated) and each --plugin-dir.

Exit codes: 0 success; 1 the tool or command failed (or an error result); 2 a usage error
(bad arguments, flags or JSON); 3 a plugin that was needed could not start; 130 interrupted.
With --json, errors are one JSON object on stderr: {\"error\": {\"code\", \"message\", \"hint\", \"exit\"}}."
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
    /// With --yes, grant only permissions of at most this risk (low,
    /// medium or high); the rest stay ungranted and their plugins refused.
    #[arg(long, global = true, value_name = "LEVEL")]
    max_risk: Option<plugwire_host::grants::Risk>,
    /// Grant a permission for this run, as PLUGIN:PERMISSION (repeatable).
    #[arg(long = "grant", global = true, value_name = "PLUGIN:PERMISSION")]
    grants: Vec<String>,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// Show plugin logs and host diagnostics on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Run plugins in this process even when a daemon runs.
    #[arg(long, global = true)]
    no_daemon: bool,
    /// The daemon's socket (default $XDG_RUNTIME_DIR/plugwire/daemon.sock).
    #[arg(long, global = true, env = "PLUGWIRE_SOCKET", value_name = "PATH")]
    socket: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// `plugwire config set`.
#[derive(Subcommand)]
enum ConfigAction {
    /// Store a secret field of a plugin's configuration (one its schema
    /// marks writeOnly or x-secret), read from stdin, never the command
    /// line: `printf %s "$TOKEN" | plugwire config set notes token`.
    Set {
        /// The plugin.
        plugin: String,
        /// The field: a top-level name, or a JSON pointer such as /db/password.
        key: String,
    },
}

#[derive(Subcommand)]
enum Command {
    /// List plugins and their state (without starting them; --start does).
    List {
        /// List what is installed (the registry) instead.
        #[arg(long)]
        installed: bool,
        /// Start each plugin first, to see that it runs (a daemon's run
        /// already).
        #[arg(long)]
        start: bool,
        /// Show what each plugin offers: tools, commands, hooks and
        /// providers (starts them).
        #[arg(long, short = 'c')]
        capabilities: bool,
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
    /// List what is granted, to which plugin directory.
    Grants,
    /// Take back permissions (all when none are named).
    Revoke {
        /// The plugin.
        plugin: String,
        /// Permissions.
        permissions: Vec<String>,
    },
    /// Make a new plugin directory (rust, python, node, go): a manifest, one tool, one command, a README.
    New {
        /// The language: rust, python, node (TypeScript) or go.
        language: String,
        /// The plugin's name (lower-case letters, digits and '-').
        name: String,
        /// Where to make it (default: ./NAME); must not exist or be empty.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The plugwire checkout whose SDKs it uses (default: the one this program was built from).
        #[arg(long, value_name = "PATH")]
        sdk: Option<PathBuf>,
    },
    /// Check a plugin against the protocol (the conformance suite), and with --exercise its own tools and commands.
    Check {
        /// The plugin's directory (holding plugin.toml), or its executable.
        dir: PathBuf,
        /// Also call each tool with arguments made from its schema, and run each command with --help and empty stdin.
        #[arg(long)]
        exercise: bool,
        /// With --exercise, also call tools annotated destructive.
        #[arg(long, requires = "exercise")]
        exercise_destructive: bool,
        /// The configuration to send in Configure (JSON).
        #[arg(long, value_name = "JSON")]
        config: Option<String>,
        /// Also write a JUnit XML report.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Also write a TAP 13 report.
        #[arg(long, value_name = "FILE")]
        tap: Option<PathBuf>,
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
    /// Run the host as a daemon with a management API (docs/daemon.md).
    Serve {
        /// Also serve the API on this loopback address, to bearer tokens
        /// only (e.g. 127.0.0.1:7411).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        /// Reload a plugin when its directory changes.
        #[arg(long)]
        watch: bool,
    },
    /// Serve every plugin tool to an MCP client on stdin and stdout
    /// (docs/mcp.md).
    Mcp,
    /// Say whether commands use a daemon or run plugins in-process.
    Status,
    /// Reload a plugin from its directory without dropping a call.
    Reload {
        /// The plugin.
        plugin: String,
    },
    /// Show a plugin's configuration, or set it: JSON text, @FILE or -.
    /// Secret fields show as "[secret]"; `config set PLUGIN KEY` stores one.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Config {
        #[command(subcommand)]
        action: Option<ConfigAction>,
        /// The plugin.
        #[arg(required = true)]
        plugin: Option<String>,
        /// The run-time configuration to set (checked against the schema).
        set: Option<String>,
    },
    /// Show the audit log: grants, installs, lifecycle and configuration
    /// changes, tool calls, command runs and events, with who asked.
    Audit {
        /// Only this plugin's records.
        #[arg(long)]
        plugin: Option<String>,
        /// Only records since this time (RFC 3339) or this long ago (1h, 2days).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
    },
    /// Manage bearer tokens for the daemon's TCP listener.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// A plugin command, as `plugwire run` runs it: `plugwire wc --words`.
    #[command(external_subcommand)]
    External(Vec<String>),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
        /// Also complete the plugins found now: their commands, tool names
        /// and plugin names (starts each once; regenerate after installing).
        #[arg(long)]
        plugins: bool,
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
enum TokenAction {
    /// Make a token (printed once, stored hashed).
    Create {
        /// What it may do: read, call or admin.
        #[arg(long, default_value = "read")]
        scope: plugwire_daemon::tokens::Scope,
        /// A name for it.
        #[arg(long, default_value = "default")]
        name: String,
    },
    /// List tokens (never the tokens themselves).
    List,
    /// Revoke a token, by id or name.
    Revoke {
        /// Its id or name.
        token: String,
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
    // `COMPLETE=bash plugwire` and the shell's questions at each TAB;
    // without COMPLETE set this returns at once.
    clap_complete::CompleteEnv::with_factory(dynamic_completion::command).complete();
    let cli = Cli::parse();
    init_tracing(cli.verbose, matches!(cli.command, Command::Serve { .. }));
    let json = cli.json;
    output::set_json(json);
    if let Command::Completions {
        shell,
        plugins: false,
    } = cli.command
    {
        return commands::completions::run(shell, &mut Cli::command());
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return Failure::new(format!("cannot start the async runtime: {e}")).report(json);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(failure) => failure.report(json),
    }
}

/// Logs on stderr. A command says once, in its own error, why a plugin it
/// needs could not start, and `list` shows the manifests that could not be
/// used, so the host's own records of both are left to `-v`; a daemon's
/// log is its output, and keeps them.
fn init_tracing(verbose: u8, daemon: bool) {
    let default = match (verbose, daemon) {
        (0, false) => {
            // rmcp warns of every error answer `plugwire mcp` sends; the
            // client has them already.
            "warn,plugwire::plugin=off,plugwire_host::instance=off,plugwire_host::discovery=off,rmcp=error"
        }
        (0, true) => "warn,plugwire::plugin=off",
        (1, _) => "info",
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
        Command::New {
            language,
            name,
            dir,
            sdk,
        } => return commands::new::run(language, name, dir.as_deref(), sdk.as_deref()),
        Command::Check {
            dir,
            exercise,
            exercise_destructive,
            config,
            junit,
            tap,
        } => {
            let options = commands::check::CheckOptions {
                dir,
                exercise: *exercise,
                destructive: *exercise_destructive,
                // The suite runs plugins bare unless a sandbox is asked for.
                sandbox: cli
                    .sandbox
                    .is_some_and(|level| level != plugwire_host::sandbox::SandboxLevel::None),
                config: config.as_deref(),
                junit: junit.as_ref(),
                tap: tap.as_ref(),
            };
            return commands::check::run(options, json).await;
        }
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
                grant: if cli.yes {
                    commands::install::Grant::Yes(cli.max_risk)
                } else {
                    commands::install::Grant::Ask
                },
            };
            return on_disk(&cli, async {
                commands::install::command(source, &options, json)
            })
            .await;
        }
        Command::Index { action } => {
            return match action {
                IndexAction::Build { dir } => commands::index::build(dir),
                IndexAction::Add { name, location } => commands::index::add(name, location),
                IndexAction::List => commands::index::list(json),
                IndexAction::Remove { name } => commands::index::remove(name),
            };
        }
        Command::Search { query } => return commands::index::search(query, json),
        Command::Outdated => return commands::update::outdated(json),
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
        Command::Token { action } => {
            return match action {
                TokenAction::Create { scope, name } => commands::token::create(name, *scope, json),
                TokenAction::List => commands::token::list(json),
                TokenAction::Revoke { token } => commands::token::revoke(token),
            };
        }
        Command::Verify => return commands::installed::verify(json),
        Command::Grants => return commands::grant::list(json),
        Command::List {
            installed: true, ..
        } => return commands::installed::list(json),
        _ => {}
    }
    match &cli.command {
        Command::Remove { plugin } => {
            let removed = async { commands::installed::remove(plugin) };
            return on_disk(&cli, audited("remove", plugin, None, removed)).await;
        }
        Command::Enable { plugin } => {
            let enabled = async { commands::installed::set_enabled(plugin, true) };
            return on_disk(&cli, audited("enable", plugin, None, enabled)).await;
        }
        Command::Disable { plugin } => {
            let disabled = async { commands::installed::set_enabled(plugin, false) };
            return on_disk(&cli, audited("disable", plugin, None, disabled)).await;
        }
        Command::Audit { plugin, since } => {
            return commands::audit::run(plugin.as_deref(), since.as_deref(), json);
        }
        _ => {}
    }
    let config = host_config::build(&cli)?;
    match &cli.command {
        Command::Demo => return commands::demo::run(config).await,
        Command::Completions { shell, .. } => {
            let host = Host::start(config)
                .await
                .map_err(|e| Failure::new(e.to_string()))?;
            let done = commands::completions::with_plugins(*shell, Cli::command(), &host).await;
            host.shutdown().await;
            return done;
        }
        Command::Mcp => return commands::mcp::run(config).await,
        Command::Serve { listen, watch } => {
            let options = commands::serve::ServeOptions {
                socket: socket_path(&cli),
                listen: *listen,
                watch: *watch,
            };
            return commands::serve::run(config, options).await;
        }
        Command::Update {
            plugin,
            all,
            dry_run,
            allow_unsigned,
        } => {
            let only = if *all { None } else { plugin.as_deref() };
            let update = commands::update::command(only, *dry_run, *allow_unsigned, config, json);
            return on_disk(&cli, update).await;
        }
        Command::Config {
            action: Some(ConfigAction::Set { plugin, key }),
            ..
        } => {
            let stored = async { commands::config::set_secret(&config, plugin, key) };
            let target = Some(format!("secret {key}"));
            return granted(&cli, plugin, audited("configure", plugin, target, stored)).await;
        }
        Command::Grant {
            plugin,
            permissions,
        } => {
            let changed = async { commands::grant::change(&config, plugin, permissions, true) };
            let target = (!permissions.is_empty()).then(|| permissions.join(","));
            return granted(&cli, plugin, audited("grant", plugin, target, changed)).await;
        }
        Command::Revoke {
            plugin,
            permissions,
        } => {
            let changed = async { commands::grant::change(&config, plugin, permissions, false) };
            let target = (!permissions.is_empty()).then(|| permissions.join(","));
            return granted(&cli, plugin, audited("revoke", plugin, target, changed)).await;
        }
        _ => {}
    }
    let (backend, why_local) = match choose(&cli).await? {
        Choice::Daemon(client) => (backend::Backend::Daemon(client), None),
        Choice::Local(why) => {
            let mut config = config;
            commands::grant::ask(&mut config)?;
            let host = Host::start(config)
                .await
                .map_err(|e| Failure::new(e.to_string()))?;
            (backend::Backend::Local(host), Some(why))
        }
    };
    let result = match &cli.command {
        Command::List {
            capabilities: true, ..
        } => commands::list::capabilities(&backend, json).await,
        Command::List { start, .. } => commands::list::run(&backend, *start, json).await,
        Command::Info { plugin, .. } => commands::info::run(&backend, plugin, json).await,
        Command::Tools => commands::tools::run(&backend, json).await,
        Command::Call {
            tool,
            arguments,
            timeout,
            progress,
        } => {
            commands::call::run(
                &backend,
                tool,
                arguments.as_deref(),
                *timeout,
                *progress,
                json,
            )
            .await
        }
        Command::Run { line } => commands::run::run(&backend, line).await,
        Command::External(line) => commands::run::run(&backend, line)
            .await
            .map_err(|failure| builtin_hint(failure, line)),
        Command::Emit { event, payload } => {
            commands::emit::run(&backend, event, payload.as_deref(), json).await
        }
        Command::Logs { plugin, follow } => {
            commands::logs::run(&backend, plugin.as_deref(), *follow, json).await
        }
        Command::Status => {
            commands::status::run(&backend, &socket_path(&cli), why_local, json).await
        }
        Command::Reload { plugin } => commands::reload::run(&backend, plugin, json).await,
        Command::Config {
            plugin: Some(plugin),
            set,
            ..
        } => commands::config::run(&backend, plugin, set.as_deref()).await,
        Command::Config { .. } => Err(Failure::usage(
            "expected a plugin: `plugwire config PLUGIN [JSON]`, or `plugwire config set PLUGIN KEY`",
        )),
        Command::Doctor
        | Command::Demo
        | Command::Serve { .. }
        | Command::Mcp
        | Command::Token { .. }
        | Command::Pack { .. }
        | Command::Check { .. }
        | Command::New { .. }
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
        | Command::Audit { .. }
        | Command::Grants
        | Command::Revoke { .. } => unreachable!("handled before the host starts"),
    };
    backend.close().await;
    result
}

/// A word that is no plugin command may be a misspelt built-in one.
fn builtin_hint(failure: Failure, line: &[String]) -> Failure {
    let Some(word) = line.first() else {
        return failure;
    };
    let cli = Cli::command();
    let builtins: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
    let suggestion = plugwire_proto::text::did_you_mean(word, builtins.iter().copied());
    match suggestion.strip_prefix("; ") {
        Some(text) => failure.hint(format!(
            "{text} (a plugwire command; `plugwire --help` lists them)"
        )),
        None => failure,
    }
}

/// The daemon's socket.
fn socket_path(cli: &Cli) -> PathBuf {
    cli.socket
        .clone()
        .unwrap_or_else(plugwire_daemon::default_socket)
}

enum Choice {
    Daemon(Box<plugwire_daemon::Client>),
    /// In-process, and why.
    Local(&'static str),
}

/// A daemon when one runs for this user and nothing on the command line
/// asks for a host of its own: plugin directories, grants, configuration
/// and sandbox levels shape a host, and the daemon's is already shaped.
async fn choose(cli: &Cli) -> Result<Choice, Failure> {
    if cli.no_daemon {
        return Ok(Choice::Local("--no-daemon"));
    }
    let shaped = !cli.plugin_dirs.is_empty()
        || cli.no_standard_dirs
        || !cli.plugin_config.is_empty()
        || !cli.grants.is_empty()
        || cli.yes
        || cli.best_effort
        || (cli.sandbox.is_some() && std::env::var_os("PLUGWIRE_SANDBOX").is_none());
    if shaped {
        return Ok(Choice::Local(
            "the command line shapes a host of its own (--plugin-dir, --grant, -y, --sandbox, ...)",
        ));
    }
    let socket = socket_path(cli);
    if !socket.exists() {
        return Ok(Choice::Local("no daemon runs"));
    }
    match plugwire_daemon::Client::connect(&socket).await {
        Ok(client) => Ok(Choice::Daemon(Box::new(client))),
        Err(e) if e.code == "unavailable" => Ok(Choice::Local("no daemon answers on its socket")),
        Err(e) => Err(e.into()),
    }
}

/// Runs a command that changes a plugin's grants, then has a running
/// daemon re-read them and restart the plugin with them.
/// Runs a change the CLI makes itself, and records it in the audit log.
async fn audited(
    action: &str,
    plugin: &str,
    target: Option<String>,
    change: impl std::future::Future<Output = Result<ExitCode, Failure>>,
) -> Result<ExitCode, Failure> {
    let started = std::time::Instant::now();
    let result = change.await;
    commands::audit::record(action, Some(plugin), target, started, &result);
    result
}

async fn granted(
    cli: &Cli,
    plugin: &str,
    change: impl std::future::Future<Output = Result<ExitCode, Failure>>,
) -> Result<ExitCode, Failure> {
    let code = change.await?;
    if let Choice::Daemon(client) = choose(cli).await? {
        let daemon = backend::Backend::Daemon(client);
        match daemon.reload(plugin).await {
            Ok(_) => eprintln!("the daemon restarted {plugin} with the change"),
            Err(failure) => eprintln!(
                "the daemon could not restart {plugin}: {}",
                failure.message()
            ),
        }
    }
    Ok(code)
}

/// Runs a command that changes installed plugins on disk, then tells a
/// running daemon what changed so that its live host follows.
async fn on_disk(
    cli: &Cli,
    change: impl std::future::Future<Output = Result<ExitCode, Failure>>,
) -> Result<ExitCode, Failure> {
    let registry = commands::install::registry_path();
    let before = plugwire_host::packages::Registry::load(&registry).unwrap_or_default();
    let code = change.await?;
    let Choice::Daemon(client) = choose(cli).await? else {
        return Ok(code);
    };
    let after = plugwire_host::packages::Registry::load(&registry).unwrap_or_default();
    let daemon = backend::Backend::Daemon(client);
    for change in backend::changes(&before, &after) {
        daemon.changed(change).await?;
    }
    Ok(code)
}

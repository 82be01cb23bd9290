//! The `plugwire` command-line interface.

mod cli_grants;
mod cli_output;
mod demo;
mod doctor;

use plugwire_proto::text::{escape_controls, escape_line};
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use plugwire_host::{CallOptions, Host, HostConfig, RunOptions};
use serde_json::{Value, json};

use crate::cli_output::{Failure, print_json, table};

/// Largest JSON input read from a file or stdin.
const MAX_INPUT: u64 = 16 << 20;

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
    List,
    /// Show a plugin's manifest, tools, commands, hooks and providers.
    Info {
        /// The plugin's name.
        plugin: String,
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
    /// Run the demo over the example plugins.
    Demo,
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    if let Command::Completions { shell } = cli.command {
        clap_complete::generate(
            shell,
            &mut Cli::command(),
            "plugwire",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
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

fn host_config(cli: &Cli) -> Result<HostConfig, Failure> {
    let mut config = HostConfig::new("plugwire", env!("CARGO_PKG_VERSION"));
    config.standard_dirs = !cli.no_standard_dirs;
    if let Some(path) = std::env::var_os("PLUGWIRE_PLUGIN_PATH") {
        config
            .plugin_dirs
            .extend(std::env::split_paths(&path).filter(|p| !p.as_os_str().is_empty()));
    }
    config.plugin_dirs.extend(cli.plugin_dirs.iter().cloned());
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
    config.grants.all = cli.yes;
    for entry in &cli.grants {
        let (plugin, permission) = entry.split_once(':').ok_or_else(|| {
            Failure::new(format!("--grant {entry:?}: expected PLUGIN:PERMISSION"))
                .hint("for example --grant audit:host.storage")
        })?;
        config.grants.grant(plugin, [permission]);
    }
    for entry in &cli.plugin_config {
        let (name, json) = entry.split_once('=').ok_or_else(|| {
            Failure::new(format!("--plugin-config {entry:?}: expected NAME=JSON"))
                .hint("for example --plugin-config 'greeter={\"greeting\":\"hey\"}'")
        })?;
        let value = serde_json::from_str(json)
            .map_err(|e| Failure::new(format!("--plugin-config {name}: not JSON: {e}")))?;
        config.plugin_config.insert(name.to_owned(), value);
    }
    Ok(config)
}

async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    if let Command::Doctor = cli.command {
        return doctor::run(cli.json, cli.best_effort);
    }
    let config = host_config(&cli)?;
    if let Command::Demo = cli.command {
        return demo::run(config).await;
    }
    if let Command::Grant {
        plugin,
        permissions,
    }
    | Command::Revoke {
        plugin,
        permissions,
    } = &cli.command
    {
        return cli_grants::change(
            &config,
            plugin,
            permissions,
            matches!(cli.command, Command::Grant { .. }),
        );
    }
    let mut config = config;
    cli_grants::ask(&mut config)?;
    let host = Host::start(config)
        .await
        .map_err(|e| Failure::new(e.to_string()))?;
    let result = dispatch(&cli, &host).await;
    host.shutdown().await;
    result
}

async fn dispatch(cli: &Cli, host: &Host) -> Result<ExitCode, Failure> {
    match &cli.command {
        Command::List => {
            host.start_all().await;
            let status = host.status();
            let problems = host.problems();
            if cli.json {
                print_json(&json!({
                    "plugins": status.iter().map(cli_output::status_json).collect::<Vec<_>>(),
                    "problems": problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
                }));
            } else {
                if status.is_empty() {
                    eprintln!("no plugins found; add --plugin-dir DIR (see `plugwire --help`)");
                }
                let rows = status.iter().map(cli_output::status_row).collect();
                print!(
                    "{}",
                    table(
                        &[
                            "PLUGIN", "VERSION", "LANGUAGE", "STATE", "PID", "STARTUP", "DETAIL"
                        ],
                        rows
                    )
                );
                for problem in problems {
                    eprintln!("warning: {}", escape_controls(&problem.to_string()));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Info { plugin } => cli_output::info(host, plugin, cli.json).await,
        Command::Tools => {
            let tools = host.tools().await;
            if cli.json {
                print_json(&Value::Array(
                    tools.iter().map(cli_output::tool_json).collect(),
                ));
            } else {
                let rows = tools
                    .iter()
                    .map(|t| {
                        vec![
                            t.qualified.clone(),
                            if t.bare_ok {
                                t.name.clone()
                            } else {
                                "-".into()
                            },
                            t.description.clone(),
                        ]
                    })
                    .collect();
                print!("{}", table(&["TOOL", "SHORT NAME", "DESCRIPTION"], rows));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Call {
            tool,
            arguments,
            timeout,
            progress,
        } => {
            let arguments = read_json(arguments.as_deref(), "arguments")?;
            let mut options = CallOptions::default();
            if let Some(t) = timeout {
                options = options.timeout(*t);
            }
            let printer = if *progress {
                let (tx, mut rx) = tokio::sync::mpsc::channel::<plugwire_host::Progress>(64);
                options = options.progress(tx);
                Some(tokio::spawn(async move {
                    while let Some(p) = rx.recv().await {
                        match p.total {
                            Some(total) => {
                                eprintln!(
                                    "progress {}/{} {}",
                                    p.progress,
                                    total,
                                    escape_line(&p.message)
                                )
                            }
                            None => {
                                eprintln!("progress {} {}", p.progress, escape_line(&p.message))
                            }
                        }
                    }
                }))
            } else {
                None
            };
            let cancel = tokio_util::sync::CancellationToken::new();
            let on_ctrl_c = cancel.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    on_ctrl_c.cancel();
                }
            });
            let output = host
                .call_tool(tool, arguments, options.cancel(cancel))
                .await
                .map_err(Failure::from_status)?;
            if let Some(printer) = printer {
                let _ = printer.await;
            }
            if cli.json {
                print_json(&json!({"is_error": output.is_error, "content": output.content}));
            } else {
                match &output.content {
                    // Data for a pipe, text for a terminal.
                    Value::String(s) if !cli.json => {
                        if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                            println!("{}", escape_controls(s));
                        } else {
                            println!("{s}");
                        }
                    }
                    other => print_json(other),
                }
            }
            Ok(if output.is_error {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Run { line } => {
            let mut options = RunOptions::default();
            for name in ["TERM", "LANG", "LC_ALL", "NO_COLOR", "COLUMNS"] {
                if let Ok(value) = std::env::var(name) {
                    options.env.insert(name.into(), value);
                }
            }
            if let Ok(pwd) = std::env::current_dir() {
                options.env.insert("PWD".into(), pwd.display().to_string());
            }
            let (signals, rx) = tokio::sync::mpsc::channel(4);
            options.signals = Some(rx);
            tokio::spawn(async move {
                while tokio::signal::ctrl_c().await.is_ok() {
                    if signals
                        .send(plugwire_host::CommandSignal::Interrupt)
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
            let stdin: Box<dyn tokio::io::AsyncRead + Unpin + Send> =
                if std::io::stdin().is_terminal() {
                    // An interactive terminal is not input; end stdin at once.
                    Box::new(tokio::io::empty())
                } else {
                    Box::new(tokio::io::stdin())
                };
            let code = host
                .run_command(
                    line,
                    stdin,
                    tokio::io::stdout(),
                    tokio::io::stderr(),
                    options,
                )
                .await
                .map_err(Failure::from_status)?;
            Ok(ExitCode::from(
                u8::try_from(code.clamp(0, 255)).unwrap_or(1),
            ))
        }
        Command::Emit { event, payload } => {
            let payload = read_json(payload.as_deref(), "payload")?;
            let outcome = host
                .emit(event, payload)
                .await
                .map_err(Failure::from_status)?;
            // Let observers see it before the host shuts down.
            tokio::time::sleep(Duration::from_millis(100)).await;
            if cli.json {
                print_json(&cli_output::emit_json(&outcome));
            } else {
                print!("{}", cli_output::emit_text(&outcome));
            }
            Ok(if outcome.denied.is_some() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Logs { plugin, follow } => {
            host.start_all().await;
            let mut seen = 0;
            loop {
                let records = host.logs(plugin.as_deref());
                for record in records.iter().skip(seen) {
                    if cli.json {
                        print_json(&cli_output::log_json(record));
                    } else {
                        println!("{}", cli_output::log_text(record));
                    }
                }
                seen = records.len();
                if !*follow {
                    return Ok(ExitCode::SUCCESS);
                }
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
                    _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                }
            }
        }
        Command::Doctor
        | Command::Demo
        | Command::Completions { .. }
        | Command::Grant { .. }
        | Command::Revoke { .. } => {
            unreachable!("handled before the host starts")
        }
    }
}

/// Reads JSON from text, `@file` or `-`, under a size cap.
fn read_json(input: Option<&str>, what: &str) -> Result<Value, Failure> {
    let text = match input {
        None => return Ok(json!({})),
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .take(MAX_INPUT + 1)
                .read_to_string(&mut text)
                .map_err(|e| Failure::new(format!("cannot read {what} from stdin: {e}")))?;
            text
        }
        Some(path) if path.starts_with('@') => {
            let path = &path[1..];
            let mut text = String::new();
            std::fs::File::open(path)
                .and_then(|f| f.take(MAX_INPUT + 1).read_to_string(&mut text))
                .map_err(|e| Failure::new(format!("cannot read {what} from {path}: {e}")))?;
            text
        }
        Some(text) => text.to_owned(),
    };
    if text.len() as u64 > MAX_INPUT {
        return Err(Failure::new(format!("{what}: more than {MAX_INPUT} bytes")));
    }
    serde_json::from_str(&text).map_err(|e| {
        Failure::new(format!("{what}: not JSON: {e}"))
            .hint("quote it for the shell, e.g. '{\"text\":\"hi\"}', or use @file.json")
    })
}

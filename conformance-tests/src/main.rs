//! `plugwire-conformance`: check a plugin and report.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Check that a plugwire plugin speaks the protocol (docs/protocol.md).
#[derive(Parser)]
#[command(
    version,
    after_help = "Examples:\n  plugwire-conformance --junit report.xml --plugin ./my-plugin\n  plugwire-conformance --plugin ./plugin.py -- --verbose\n  plugwire-conformance --endpoint unix:///tmp/pw-x/plugin.sock\n  plugwire-conformance --host 'plugwire --no-standard-dirs --plugin-dir {plugins} call plugwire-probe.observe'\n\nExit status: 0 all checks passed (or were not applicable), 1 a check failed, 2 the suite could not run."
)]
struct Cli {
    /// The plugin to start and check: a directory holding plugin.toml, or an executable.
    #[arg(
        long,
        required_unless_present_any = ["endpoint", "host", "probe"],
        conflicts_with_all = ["endpoint", "host"]
    )]
    plugin: Option<PathBuf>,
    /// Arguments appended to the plugin's own.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        requires = "plugin"
    )]
    args: Vec<String>,
    /// Instead of starting it, attach to a plugin already serving, as unix:///path/to/plugin.sock.
    #[arg(long, conflicts_with = "host")]
    endpoint: Option<String>,
    /// Check a host instead: a command (run with sh -c) that starts the probe plugin and calls
    /// its tool `observe`; `{plugins}`, `{plugin}` and `{executable}` name the probe's
    /// directory of plugins, plugin directory and executable.
    #[arg(long, value_name = "COMMAND")]
    host: Option<String>,
    /// Seconds the --host command may take.
    #[arg(long, default_value_t = 60.0, requires = "host")]
    host_timeout: f64,
    /// Serve as the host suite's probe plugin (a host under test starts it).
    #[arg(long, hide = true)]
    probe: bool,
    /// Run the plugin under the standard sandbox, as a host would.
    #[arg(long)]
    sandbox: bool,
    /// The plugwire-launcher to start plugins through (default: next to this program, or on PATH).
    #[arg(long)]
    launcher: Option<PathBuf>,
    /// Seconds each start may take to print its bootstrap line.
    #[arg(long, default_value_t = 10.0)]
    bootstrap_timeout: f64,
    /// The configuration to send in Configure (JSON).
    #[arg(long, default_value = "{}")]
    config: String,
    /// Write a JUnit XML report.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Write a TAP 13 report.
    #[arg(long)]
    tap: Option<PathBuf>,
    /// Write a JSON report.
    #[arg(long)]
    json: Option<PathBuf>,
    /// A file listing check ids expected to fail, one per line.
    #[arg(long)]
    known_failing: Option<PathBuf>,
    /// Also call the plugin's own tools with arguments made from their schemas, and run its commands.
    #[arg(long, requires = "plugin")]
    exercise: bool,
    /// With --exercise, also call tools annotated destructive.
    #[arg(long, requires = "exercise")]
    exercise_destructive: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.probe {
        return match plugwire_conformance::host_suite::probe::serve().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(why) => {
                eprintln!("plugwire-conformance --probe: {why}");
                ExitCode::from(1)
            }
        };
    }
    let config: serde_json::Value = match serde_json::from_str(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: --config is not JSON: {e}");
            return ExitCode::from(2);
        }
    };
    let run = match (&cli.host, &cli.endpoint, &cli.plugin) {
        (Some(command), _, _) => match std::time::Duration::try_from_secs_f64(cli.host_timeout) {
            Ok(timeout) if !timeout.is_zero() => match std::env::current_exe() {
                Ok(probe) => {
                    plugwire_conformance::host_suite::check_host(command, &probe, timeout).await
                }
                Err(e) => Err(format!("cannot find this executable, the probe: {e}")),
            },
            _ => Err(format!(
                "--host-timeout {}: expected a positive number of seconds",
                cli.host_timeout
            )),
        },
        (None, Some(endpoint), _) => plugwire_conformance::attach(endpoint, &config).await,
        (None, None, Some(plugin)) => {
            let Some(bootstrap_timeout) =
                std::time::Duration::try_from_secs_f64(cli.bootstrap_timeout)
                    .ok()
                    .filter(|d| !d.is_zero() && d.as_secs() <= 600)
            else {
                eprintln!(
                    "error: --bootstrap-timeout {}: expected seconds between 0 and 600",
                    cli.bootstrap_timeout
                );
                return ExitCode::from(2);
            };
            let options = plugwire_conformance::Options {
                config: config.clone(),
                sandbox: cli.sandbox,
                launcher: cli.launcher.clone(),
                bootstrap_timeout,
                exercise: cli
                    .exercise
                    .then_some(plugwire_conformance::exercise::Exercise {
                        destructive: cli.exercise_destructive,
                    }),
            };
            plugwire_conformance::check_plugin(plugin, &cli.args, &options).await
        }
        (None, None, None) => Err(
            "give --plugin <dir or executable>, --endpoint unix:///path or --host COMMAND".into(),
        ),
    };
    let mut report = match run {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = &cli.known_failing {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let ids: Vec<String> = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_owned)
                    .collect();
                report.apply_known_failing(&ids);
            }
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    print!("{}", report.summary());
    let writes = [
        (cli.junit.as_ref(), report.junit()),
        (cli.tap.as_ref(), report.tap()),
        (
            cli.json.as_ref(),
            serde_json::to_string_pretty(&report.json()).unwrap_or_default(),
        ),
    ];
    for (path, text) in writes {
        if let Some(path) = path
            && let Err(e) = std::fs::write(path, text)
        {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

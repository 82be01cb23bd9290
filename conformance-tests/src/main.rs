//! `plugwire-conformance`: check a plugin and report.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Check that a plugwire plugin speaks the protocol (docs/protocol.md).
#[derive(Parser)]
#[command(
    version,
    after_help = "Example:\n  plugwire-conformance --endpoint unix:///tmp/pw-x/plugin.sock --junit report.xml"
)]
struct Cli {
    /// A plugin already serving, as unix:///path/to/plugin.sock.
    #[arg(long)]
    endpoint: String,
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
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config: serde_json::Value = match serde_json::from_str(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: --config is not JSON: {e}");
            return ExitCode::from(2);
        }
    };
    let mut report = match plugwire_conformance::attach(&cli.endpoint, &config).await {
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

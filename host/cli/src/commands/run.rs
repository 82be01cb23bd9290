//! `plugwire run COMMAND [ARGS...]`: run a plugin command, streaming stdio.

use std::io::IsTerminal;
use std::process::ExitCode;

use plugwire_host::{CommandSignal, Host, RunOptions};

use crate::output::Failure;

/// The caller's environment a command sees: what shapes its output, not
/// the user's secrets.
const PASSED_ENV: [&str; 5] = ["TERM", "LANG", "LC_ALL", "NO_COLOR", "COLUMNS"];

pub(crate) async fn run(host: &Host, line: &[String]) -> Result<ExitCode, Failure> {
    let mut options = RunOptions::default();
    for name in PASSED_ENV {
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
            if signals.send(CommandSignal::Interrupt).await.is_err() {
                return;
            }
        }
    });
    let stdin: Box<dyn tokio::io::AsyncRead + Unpin + Send> = if std::io::stdin().is_terminal() {
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

//! `plugwire run COMMAND [ARGS...]`: run a plugin command, streaming stdio.

use std::io::IsTerminal;
use std::process::ExitCode;

use plugwire_host::CommandSignal;

use crate::backend::Backend;
use crate::output::Failure;

pub(crate) async fn run(backend: &Backend, line: &[String]) -> Result<ExitCode, Failure> {
    let mut env = Vec::new();
    for name in plugwire_daemon::api::PASSED_ENV {
        let value = if name == "PWD" {
            std::env::current_dir()
                .ok()
                .map(|d| d.display().to_string())
        } else {
            std::env::var(name).ok()
        };
        if let Some(value) = value {
            env.push((name.to_owned(), value));
        }
    }
    let (signals, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            if signals.send(CommandSignal::Interrupt).await.is_err() {
                return;
            }
        }
    });
    let stdin: Box<dyn tokio::io::AsyncRead + Unpin + Send + Sync> =
        if std::io::stdin().is_terminal() {
            // An interactive terminal is not input; end stdin at once.
            Box::new(tokio::io::empty())
        } else {
            Box::new(tokio::io::stdin())
        };
    let code = backend
        .run(
            line,
            env,
            rx,
            (stdin, tokio::io::stdout(), tokio::io::stderr()),
        )
        .await?;
    Ok(ExitCode::from(
        u8::try_from(code.clamp(0, 255)).unwrap_or(1),
    ))
}

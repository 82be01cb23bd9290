//! `plugwire call TOOL [ARGS]`: call a tool and print its result.

use std::process::ExitCode;
use std::time::Duration;

use plugwire_daemon::api::ProgressView;
use plugwire_proto::text::{escape_controls, escape_line};
use serde_json::Value;

use crate::backend::Backend;
use crate::input::read_json;
use crate::output::{Failure, print_json, to_json};

pub(crate) async fn run(
    backend: &Backend,
    tool: &str,
    arguments: Option<&str>,
    timeout: Option<Duration>,
    progress: bool,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let arguments = read_json(arguments, "arguments")?;
    let (sender, printer) = if progress {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<ProgressView>(64);
        let printer = tokio::spawn(async move {
            while let Some(p) = rx.recv().await {
                let message = escape_line(&p.message);
                match p.total {
                    Some(total) => eprintln!("progress {}/{total} {message}", p.progress),
                    None => eprintln!("progress {} {message}", p.progress),
                }
            }
        });
        (Some(tx), Some(printer))
    } else {
        (None, None)
    };
    let cancel = tokio_util::sync::CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    let output = backend
        .call(tool, arguments, timeout, sender, cancel)
        .await?;
    if let Some(printer) = printer {
        let _ = printer.await;
    }
    if as_json {
        print_json(&to_json(&output));
    } else {
        match &output.content {
            // Data for a pipe, text for a terminal.
            Value::String(s) if std::io::IsTerminal::is_terminal(&std::io::stdout()) => {
                println!("{}", escape_controls(s))
            }
            Value::String(s) => println!("{s}"),
            other => print_json(other),
        }
    }
    Ok(if output.is_error {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

//! `plugwire emit EVENT [PAYLOAD]`: emit an event, print what the hooks did.

use std::process::ExitCode;
use std::time::Duration;

use crate::backend::Backend;
use crate::input::read_json;
use crate::output::{Failure, emit_text, print_json, to_json};

pub(crate) async fn run(
    backend: &Backend,
    event: &str,
    payload: Option<&str>,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let payload = read_json(payload, "payload")?;
    let outcome = backend.emit(event, payload).await?;
    if let Backend::Local(_) = backend {
        // Let observers see it before this process's host shuts down.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if as_json {
        print_json(&to_json(&outcome));
    } else {
        print!("{}", emit_text(&outcome));
    }
    Ok(if outcome.denied.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

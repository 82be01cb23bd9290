//! `plugwire emit EVENT [PAYLOAD]`: emit an event, print what the hooks did.

use std::process::ExitCode;
use std::time::Duration;

use plugwire_host::Host;

use crate::input::read_json;
use crate::output::{Failure, emit_json, emit_text, print_json};

pub(crate) async fn run(
    host: &Host,
    event: &str,
    payload: Option<&str>,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let payload = read_json(payload, "payload")?;
    let outcome = host
        .emit(event, payload)
        .await
        .map_err(Failure::from_status)?;
    // Let observers see it before the host shuts down.
    tokio::time::sleep(Duration::from_millis(100)).await;
    if as_json {
        print_json(&emit_json(&outcome));
    } else {
        print!("{}", emit_text(&outcome));
    }
    Ok(if outcome.denied.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

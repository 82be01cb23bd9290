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
    // An event only catch-all hooks ("*") hear is allowed, and most often a
    // typo: say so, with the names plugins do subscribe to.
    let hooks = backend.hooks().await?;
    let patterns: Vec<&str> = hooks.iter().map(|h| h.hook.pattern.as_str()).collect();
    let heard = patterns
        .iter()
        .any(|p| *p != "*" && plugwire_proto::names::pattern_matches(p, event));
    if !heard {
        let names = patterns.iter().copied().filter(|p| !p.contains('*'));
        let suggestion = plugwire_proto::text::did_you_mean(event, names);
        eprintln!("note: no plugin subscribes to {event:?} by name{suggestion}");
    }
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

//! `plugwire list [--start]`: every plugin and its state, read from the
//! manifests (and a daemon's live state) without starting anything unless
//! asked.

use std::process::ExitCode;

use plugwire_proto::text::escape_controls;

use crate::backend::Backend;
use serde_json::json;

use crate::output::{Failure, print_json, status_row, table, to_json};

pub(crate) async fn run(
    backend: &Backend,
    start: bool,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let list = backend.plugins(start).await?;
    if as_json {
        print_json(&to_json(&list));
        return Ok(ExitCode::SUCCESS);
    }
    if list.plugins.is_empty() {
        eprintln!("no plugins found; add --plugin-dir DIR (see `plugwire --help`)");
    }
    let rows = list.plugins.iter().map(status_row).collect();
    let headers = [
        "PLUGIN", "VERSION", "LANGUAGE", "STATE", "PID", "STARTUP", "DETAIL",
    ];
    print!("{}", table(&headers, rows));
    for problem in &list.problems {
        eprintln!("warning: {}", escape_controls(problem));
    }
    Ok(ExitCode::SUCCESS)
}

/// `plugwire list --capabilities`: what each plugin offers, by count (each
/// started to learn it).
pub(crate) async fn capabilities(backend: &Backend, as_json: bool) -> Result<ExitCode, Failure> {
    let list = backend.plugins(true).await?;
    let mut rows = Vec::new();
    let mut all = Vec::new();
    for plugin in &list.plugins {
        let detail = backend.detail(&plugin.name).await?;
        let counts = [
            detail.tools.len(),
            detail.commands.len(),
            detail.hooks.len(),
            detail.providers.len(),
        ];
        rows.push(
            [
                plugin.name.clone(),
                plugin.version.clone(),
                detail.status.state.clone(),
            ]
            .into_iter()
            .chain(counts.iter().map(ToString::to_string))
            .collect(),
        );
        all.push(json!({
            "name": plugin.name,
            "state": detail.status.state,
            "tools": detail.tools.iter().map(|t| &t.qualified).collect::<Vec<_>>(),
            "commands": detail.commands.iter().map(|c| &c.name).collect::<Vec<_>>(),
            "hooks": detail.hooks.iter().map(|h| &h.pattern).collect::<Vec<_>>(),
            "providers": detail.providers.iter().map(|p| &p.service).collect::<Vec<_>>(),
        }));
    }
    if as_json {
        print_json(&json!({"plugins": all}));
        return Ok(ExitCode::SUCCESS);
    }
    let headers = [
        "PLUGIN",
        "VERSION",
        "STATE",
        "TOOLS",
        "COMMANDS",
        "HOOKS",
        "PROVIDERS",
    ];
    print!("{}", table(&headers, rows));
    Ok(ExitCode::SUCCESS)
}

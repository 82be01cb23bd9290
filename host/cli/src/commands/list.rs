//! `plugwire list [--start]`: every plugin and its state, read from the
//! manifests (and a daemon's live state) without starting anything unless
//! asked.

use std::process::ExitCode;

use plugwire_proto::text::escape_controls;

use crate::backend::Backend;
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

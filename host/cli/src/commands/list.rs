//! `plugwire list`: every plugin and its state.

use std::process::ExitCode;

use plugwire_host::Host;
use plugwire_proto::text::escape_controls;
use serde_json::json;

use crate::output::{Failure, print_json, status_json, status_row, table};

pub(crate) async fn run(host: &Host, as_json: bool) -> Result<ExitCode, Failure> {
    host.start_all().await;
    let status = host.status();
    let problems = host.problems();
    if as_json {
        print_json(&json!({
            "plugins": status.iter().map(status_json).collect::<Vec<_>>(),
            "problems": problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }));
        return Ok(ExitCode::SUCCESS);
    }
    if status.is_empty() {
        eprintln!("no plugins found; add --plugin-dir DIR (see `plugwire --help`)");
    }
    let rows = status.iter().map(status_row).collect();
    let headers = [
        "PLUGIN", "VERSION", "LANGUAGE", "STATE", "PID", "STARTUP", "DETAIL",
    ];
    print!("{}", table(&headers, rows));
    for problem in problems {
        eprintln!("warning: {}", escape_controls(&problem.to_string()));
    }
    Ok(ExitCode::SUCCESS)
}

//! `plugwire tools`: every tool with its schema.

use std::process::ExitCode;

use plugwire_host::Host;
use serde_json::Value;

use crate::output::{Failure, print_json, table, tool_json};

pub(crate) async fn run(host: &Host, as_json: bool) -> Result<ExitCode, Failure> {
    let tools = host.tools().await;
    if as_json {
        print_json(&Value::Array(tools.iter().map(tool_json).collect()));
        return Ok(ExitCode::SUCCESS);
    }
    let rows = tools
        .iter()
        .map(|t| {
            let short = if t.bare_ok {
                t.name.clone()
            } else {
                "-".into()
            };
            vec![t.qualified.clone(), short, t.description.clone()]
        })
        .collect();
    print!("{}", table(&["TOOL", "SHORT NAME", "DESCRIPTION"], rows));
    Ok(ExitCode::SUCCESS)
}

//! `plugwire tools`: every tool with its schema.

use std::process::ExitCode;

use crate::backend::Backend;
use crate::output::{Failure, print_json, table, to_json};

pub(crate) async fn run(backend: &Backend, as_json: bool) -> Result<ExitCode, Failure> {
    let tools = backend.tools().await?;
    if as_json {
        print_json(&to_json(&tools));
        return Ok(ExitCode::SUCCESS);
    }
    let rows = tools
        .iter()
        .map(|t| {
            let short = if t.bare_name_ok {
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

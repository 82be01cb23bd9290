//! `plugwire info PLUGIN`: a plugin's manifest, tools, commands, hooks and
//! providers.

use std::process::ExitCode;

use plugwire_proto::text::{escape_controls, escape_line};

use crate::backend::Backend;
use crate::output::{Failure, print_json, to_json};

pub(crate) async fn run(
    backend: &Backend,
    plugin: &str,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let detail = backend.detail(plugin).await?;
    if as_json {
        print_json(&to_json(&detail));
    } else {
        let status = &detail.status;
        let mut text = format!("{} {} ({})\n", status.name, status.version, status.state);
        if !status.description.is_empty() {
            text.push_str(&format!("  {}\n", escape_line(&status.description)));
        }
        text.push_str(&format!("  directory: {}\n", status.dir.display()));
        if let Some(sdk) = &status.sdk {
            text.push_str(&format!("  sdk: {}\n", escape_line(sdk)));
        }
        if let Some(error) = &status.last_error {
            text.push_str(&format!("  last error: {}\n", escape_controls(error)));
        }
        for t in &detail.tools {
            text.push_str(&format!(
                "  tool {}: {}\n",
                t.qualified,
                escape_line(&t.description)
            ));
        }
        for c in &detail.commands {
            text.push_str(&format!(
                "  command {}: {}\n",
                c.name,
                escape_line(&c.short)
            ));
        }
        for p in &detail.providers {
            text.push_str(&format!("  provider {} as {:?}\n", p.service, p.name));
        }
        print!("{text}");
    }
    match detail.start_error {
        None => Ok(ExitCode::SUCCESS),
        Some(e) => Err(e.into()),
    }
}

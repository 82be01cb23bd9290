//! `plugwire info PLUGIN`: a plugin's manifest, tools, commands, hooks and
//! providers.

use std::process::ExitCode;

use plugwire_host::{Host, ToolInfo};
use plugwire_proto::text::{escape_controls, escape_line};
use serde_json::json;

use crate::output::{Failure, print_json, status_json, tool_json};

pub(crate) async fn run(host: &Host, plugin: &str, as_json: bool) -> Result<ExitCode, Failure> {
    let started = host.start_plugin(plugin).await;
    let status = host
        .status()
        .into_iter()
        .find(|s| s.name == plugin)
        .ok_or_else(|| {
            Failure::new(format!("no plugin named {plugin:?}"))
                .hint("`plugwire list` shows the plugins found")
        })?;
    let tools: Vec<ToolInfo> = host
        .tools()
        .await
        .into_iter()
        .filter(|t| t.plugin == plugin)
        .collect();
    let commands: Vec<_> = host
        .commands()
        .await
        .into_iter()
        .filter(|c| c.plugin == plugin)
        .collect();
    let providers: Vec<_> = host
        .providers()
        .await
        .into_iter()
        .filter(|p| p.0 == plugin)
        .collect();
    if as_json {
        print_json(&json!({
            "status": status_json(&status),
            "tools": tools.iter().map(tool_json).collect::<Vec<_>>(),
            "commands": commands.iter().map(|c| json!({"name": c.full_name, "usage": c.declaration.usage, "short": c.declaration.short})).collect::<Vec<_>>(),
            "providers": providers.iter().map(|p| json!({"service": p.1, "name": p.2})).collect::<Vec<_>>(),
        }));
    } else {
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
        for t in &tools {
            text.push_str(&format!(
                "  tool {}: {}\n",
                t.qualified,
                escape_line(&t.description)
            ));
        }
        for c in &commands {
            text.push_str(&format!(
                "  command {}: {}\n",
                c.full_name,
                escape_line(&c.declaration.short)
            ));
        }
        print!("{text}");
        for p in &providers {
            println!("  provider {} as {:?}", p.1, p.2);
        }
    }
    started
        .map(|()| ExitCode::SUCCESS)
        .map_err(Failure::from_status)
}

//! The {{name}} plugin: one tool and one command.

use plugwire_sdk::{Command, CommandContext, CommandIo, Plugin, Tool, ToolContext, ToolError};
use schemars::JsonSchema;
use serde::Deserialize;
use tokio::io::AsyncReadExt;

/// Arguments of `greet`; doc comments become the schema's descriptions.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Greet {
    /// Who to greet.
    name: String,
}

fn main() {
    let greet = Tool::new("greet", "Greets someone by name", |a: Greet, _: ToolContext| async move {
        Ok::<_, ToolError>(format!("hello, {}!", a.name))
    });
    let shout = Command::new("shout").short("Upper-case standard input").run(
        |_cx: CommandContext, mut io: CommandIo| async move {
            let mut text = String::new();
            io.stdin.read_to_string(&mut text).await?;
            io.stdout.print(&text.to_uppercase()).await?;
            Ok(0)
        },
    );
    let plugin = Plugin::new("{{name}}", env!("CARGO_PKG_VERSION"));
    plugwire_sdk::serve_blocking(plugin.tool(greet.read_only()).command(shout));
}

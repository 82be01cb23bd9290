//! The `whoami` example plugin: calls the embedding application's own
//! service `acme.session.v1.Sessions` on the host channel (docs/protocol.md
//! 13.1), through the typed client the SDK hands out.

use plugwire_sdk::{Plugin, Tool, ToolContext, ToolError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

/// The generated `acme.session.v1` code: the client this plugin uses, and
/// the server an application (or a test playing one) implements.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("acme.session.v1");
}

/// The service's fully qualified name, as `host.service:` grants it.
pub const SESSIONS: &str = "acme.session.v1.Sessions";

/// Arguments of `current_session`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhoamiArgs {
    /// Call even when the handshake did not offer the service, so that the
    /// host's own refusal shows.
    #[serde(default)]
    pub unchecked: bool,
}

/// The plugin: one tool, `current_session`.
///
/// ```
/// let plugin = plugwire_example_whoami::plugin();
/// # let _ = plugin;
/// ```
pub fn plugin() -> Plugin {
    Plugin::new("whoami", env!("CARGO_PKG_VERSION"))
        .description("Asks the application which session it acts in")
        .tool(Tool::new(
            "current_session",
            "The application's session this plugin acts in, and who the application saw calling",
            |args: WhoamiArgs, cx: ToolContext| async move { whoami(args, &cx).await },
        ))
}

async fn whoami(args: WhoamiArgs, cx: &ToolContext) -> Result<serde_json::Value, ToolError> {
    let host = cx.host().map_err(|e| ToolError::new(e.to_string()))?;
    let mut sessions = if args.unchecked {
        pb::sessions_client::SessionsClient::new(host.channel())
    } else {
        host.service(SESSIONS, pb::sessions_client::SessionsClient::new)
            .map_err(|s| ToolError::new(format!("{:?}: {}", s.code(), s.message())))?
    };
    let session = sessions
        .current(pb::CurrentRequest {})
        .await
        .map_err(|s| ToolError::new(format!("{:?}: {}", s.code(), s.message())))?
        .into_inner();
    Ok(json!({
        "id": session.id,
        "user": session.user,
        "caller": session.caller,
        "offered": host.services(),
    }))
}

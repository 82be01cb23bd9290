//! What any serving plugin is checked for: health (PW-HEALTH), the
//! handshake (PW-HS), configuration (PW-CFG), and well-formed command and
//! hook declarations.

use plugwire_proto::names;
use plugwire_proto::pb;

use crate::check::{CheckFuture, CheckResult, na};
use crate::report::Status;
use crate::session::{Session, handshake_request};

pub(crate) fn health(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move { serving(s.channel().await?).await })
}

/// PW-HEALTH-1: `Check{"plugin"}` answers `SERVING`.
async fn serving(channel: tonic::transport::Channel) -> CheckResult {
    let response = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: "plugin".into(),
        })
        .await
        .map_err(|s| format!("Check(\"plugin\") failed: {}", s.message()))?
        .into_inner();
    if response.status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32 {
        Ok(Status::Passed)
    } else {
        Err(format!("status {} instead of SERVING", response.status))
    }
}

pub(crate) fn handshake_fields(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let hs = s.handshake().await?;
        let info = hs.plugin.as_ref().ok_or("no plugin info")?;
        names::validate_plugin_name(&info.name)?;
        if info.version.is_empty() {
            return Err("plugin.version is empty".into());
        }
        if hs.sdk.as_ref().is_none_or(|s| s.name.is_empty()) {
            return Err("sdk.name is empty".into());
        }
        Ok(Status::Passed)
    })
}

pub(crate) fn capabilities_well_formed(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let caps = s.capabilities().await?;
        names::validate_capabilities(&caps)
            .map(|()| Status::Passed)
            .map_err(|p| p.join("; "))
    })
}

pub(crate) fn configure_valid(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move { s.configure().await.map(|()| Status::Passed) })
}

pub(crate) fn commands_well_formed(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        if s.capabilities().await?.commands.is_empty() {
            return na("the plugin declares no commands");
        }
        let channel = s.ready().await?;
        let listed = pb::command_service_client::CommandServiceClient::new(channel)
            .list_commands(pb::ListCommandsRequest {})
            .await
            .map_err(|s| format!("ListCommands failed: {}", s.message()))?
            .into_inner()
            .commands;
        names::validate_commands(&listed)
            .map(|()| Status::Passed)
            .map_err(|p| p.join("; "))
    })
}

pub(crate) fn hooks_well_formed(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let caps = s.capabilities().await?;
        if caps.hooks.is_empty() {
            return na("the plugin declares no hooks");
        }
        let problems: Vec<String> = caps
            .hooks
            .iter()
            .filter_map(|h| {
                names::validate_subscription(h)
                    .err()
                    .map(|e| format!("{:?}: {e}", h.pattern))
            })
            .collect();
        if problems.is_empty() {
            Ok(Status::Passed)
        } else {
            Err(problems.join("; "))
        }
    })
}

/// PW-CFG-2, on a process of its own (a rejected configuration may leave a
/// plugin unusable).
pub(crate) fn configure_invalid(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let channel = s
            .second()
            .await
            .map_err(|why| format!("not run: {why}"))?
            .channel()
            .await?;
        rejects_bad_configurations(channel).await
    })
}

async fn rejects_bad_configurations(channel: tonic::transport::Channel) -> CheckResult {
    let mut plugin = pb::plugin_service_client::PluginServiceClient::new(channel);
    plugin
        .handshake(pb::HandshakeRequest {
            protocol_version: 1,
            ..handshake_request()
        })
        .await
        .map_err(|s| format!("Handshake: {:?}: {}", s.code(), s.message()))?;
    for text in ["this is not JSON", "[1, 2]"] {
        match plugin
            .configure(pb::ConfigureRequest {
                config_json: text.into(),
            })
            .await
        {
            Err(s)
                if s.code() == tonic::Code::InvalidArgument
                    && plugwire_proto::problem::is_located("config", s.message()) => {}
            Err(s) if s.code() == tonic::Code::InvalidArgument => {
                return Err(format!(
                    "Configure({text:?}): INVALID_ARGUMENT as required, but the message {:?} is not of the form `config <json-pointer>: <problem>`",
                    s.message()
                ));
            }
            Err(s) => {
                return Err(format!(
                    "Configure({text:?}): expected INVALID_ARGUMENT, got {:?}: {}",
                    s.code(),
                    s.message()
                ));
            }
            Ok(_) => {
                return Err(format!(
                    "Configure({text:?}) succeeded; a configuration that is not a JSON object must be rejected"
                ));
            }
        }
    }
    Ok(Status::Passed)
}

/// PW-CFG-4, on a process of its own: after `Handshake` and before
/// `Configure`, a call (a declared tool, command or hook) is refused with
/// `FAILED_PRECONDITION`.
pub(crate) fn calls_before_configure(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let caps = s.capabilities().await?;
        let starter = s.starter()?;
        let process = starter
            .start(&[1], true, starter.bootstrap_timeout)
            .await
            .map_err(|f| format!("not run: the plugin did not start: {}", f.failure.message))?;
        let channel = process.channel().await?;
        pb::plugin_service_client::PluginServiceClient::new(channel.clone())
            .handshake(pb::HandshakeRequest {
                protocol_version: 1,
                ..handshake_request()
            })
            .await
            .map_err(|s| format!("Handshake: {:?}: {}", s.code(), s.message()))?;
        let (what, result) = if let Some(tool) = caps.tools.first() {
            let result = crate::session::tool_client(&channel)
                .call_tool(pb::CallToolRequest {
                    name: tool.clone(),
                    arguments_json: "{}".into(),
                })
                .await
                .map(drop);
            (format!("CallTool({tool:?})"), result)
        } else if let Some(hook) = caps.hooks.first() {
            let result = pb::hook_service_client::HookServiceClient::new(channel)
                .handle_event(pb::HandleEventRequest {
                    event: Some(pb::Event {
                        id: "00000000-0000-4000-8000-000000000002".into(),
                        name: event_matching(&hook.pattern),
                        payload_json: "{}".into(),
                        time: None,
                        source: "host".into(),
                    }),
                    mode: hook.mode,
                    pattern: hook.pattern.clone(),
                })
                .await
                .map(drop);
            ("HandleEvent".to_owned(), result)
        } else {
            return na("the plugin declares no tools and no hooks");
        };
        crate::check::expect_code(
            result,
            tonic::Code::FailedPrecondition,
            &format!("{what} before Configure"),
        )
    })
}

/// PW-CFG-5: a second `Configure` is refused with `FAILED_PRECONDITION`,
/// and the plugin goes on serving with its first configuration.
pub(crate) fn configure_twice(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let channel = s.ready().await?;
        let mut plugin = pb::plugin_service_client::PluginServiceClient::new(channel.clone());
        let again = plugin
            .configure(pb::ConfigureRequest {
                config_json: s.config.to_string(),
            })
            .await;
        crate::check::expect_code(again, tonic::Code::FailedPrecondition, "a second Configure")?;
        serving(channel)
            .await
            .map_err(|e| format!("after a second Configure, health: {e}"))
    })
}

/// An event name `pattern` matches (PW-HOOK-2).
fn event_matching(pattern: &str) -> String {
    match pattern.strip_suffix('*') {
        Some("") => "conformance.probe".to_owned(),
        Some(prefix) => format!("{prefix}probe"),
        None => pattern.to_owned(),
    }
}

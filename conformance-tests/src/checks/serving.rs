//! What any serving plugin is checked for: health (PW-HEALTH), the
//! handshake (PW-HS), configuration (PW-CFG), and well-formed command and
//! hook declarations.

use std::time::Duration;

use plugwire_proto::constants::{HEALTH_SERVICE_NAME, MAX_MESSAGE_SIZE};
use plugwire_proto::names;
use plugwire_proto::pb;
use plugwire_proto::receive_limit::ReceiveLimit;
use prost::Message as _;

use super::raw_codec::RawCodec;
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

/// Room left in a 16 MiB message for the protobuf around the padding.
const FRAMING: usize = 64;
/// A field number `HealthCheckRequest` does not use: the padding is an
/// unknown field, which every protobuf runtime skips.
const PADDING_FIELD: u32 = 15;

/// PW-BOOT-13: a message of 16 MiB is received. `Health/Check{"plugin"}`
/// padded to nearly that size with an unknown field needs no fixture,
/// reaches every plugin's gRPC server and has a small answer; it must be
/// answered `SERVING`, not refused for its size, as a server left at gRPC's
/// default 4 MiB (a go-plugin server's) refuses it.
pub(crate) fn message_limit(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let channel = s.channel().await?;
        let padding = vec![b'x'; MAX_MESSAGE_SIZE - FRAMING];
        let mut request = tonic_health::pb::HealthCheckRequest {
            service: HEALTH_SERVICE_NAME.into(),
        }
        .encode_to_vec();
        prost::encoding::bytes::encode(PADDING_FIELD, &padding, &mut request);
        let sent = request.len();
        let mut grpc = tonic::client::Grpc::new(channel)
            .max_encoding_message_size(MAX_MESSAGE_SIZE)
            .max_decoding_message_size(MAX_MESSAGE_SIZE);
        grpc.ready()
            .await
            .map_err(|e| format!("the connection is not ready: {e}"))?;
        let path =
            tonic::codegen::http::uri::PathAndQuery::from_static("/grpc.health.v1.Health/Check");
        let mut call = tonic::Request::new(request);
        call.set_timeout(Duration::from_secs(20));
        let status = match grpc.unary(call, path, RawCodec).await {
            Ok(answer) => {
                let answer = tonic_health::pb::HealthCheckResponse::decode(answer.into_inner().as_slice())
                    .map_err(|e| format!("a {sent}-byte health check was answered with bytes that are not a HealthCheckResponse: {e}"))?;
                return if answer.status
                    == tonic_health::pb::health_check_response::ServingStatus::Serving as i32
                {
                    Ok(Status::Passed)
                } else {
                    Err(format!(
                        "a {sent}-byte health check was answered {} instead of SERVING",
                        answer.status
                    ))
                };
            }
            Err(status) => status,
        };
        match ReceiveLimit::in_message(status.message()) {
            Some(limit) if limit.below_protocol() => Err(limit.explain("the plugin")),
            _ => Err(format!(
                "a {sent}-byte health check (Check{{\"plugin\"}} padded with an unknown field) was refused \
                 ({:?}: {}): a plugin must receive messages of up to 16 MiB on every service \
                 (PW-BOOT-13); raise its gRPC server's receive limit",
                status.code(),
                status.message()
            )),
        }
    })
}

/// PW-HS-4: a plugin uses `HostService` only when both sides listed
/// `host.service`. The suite lists it not, so by this point (the serving
/// and fixture checks made) nothing may have connected to
/// `PLUGWIRE_HOST_SOCKET`.
pub(crate) fn host_service_unlisted(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        s.ready().await?;
        let dials = s
            .main()
            .await?
            .host_dials
            .load(std::sync::atomic::Ordering::Relaxed);
        if dials == 0 {
            Ok(Status::Passed)
        } else {
            Err(format!(
                "the plugin connected to PLUGWIRE_HOST_SOCKET {dials} time(s), but the host did not list \
                 `host.service` in its handshake (PW-HS-4): dial HostService only when the \
                 HandshakeRequest's features list it"
            ))
        }
    })
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

/// PW-HS-3: the handshake names the plugin as its manifest does.
pub(crate) fn name_matches_manifest(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let Some(expected) = s.starter().ok().and_then(|st| st.manifest_name.clone()) else {
            return na("no manifest names the plugin (attached, or a bare executable)");
        };
        let hs = s.handshake().await?;
        let got = hs.plugin.map(|p| p.name).unwrap_or_default();
        if got == expected {
            Ok(Status::Passed)
        } else {
            Err(format!(
                "the handshake names the plugin {got:?}, its manifest {expected:?}: a host refuses it (PW-HS-3); give both the same name"
            ))
        }
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
/// `Configure`, `ListTools` answers (hosts list while configuring) and a
/// call (a declared tool, command or hook) is refused with
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
        if !caps.tools.is_empty() {
            crate::session::tool_client(&channel)
                .list_tools(pb::ListToolsRequest {})
                .await
                .map_err(|s| {
                    format!(
                        "ListTools before Configure: expected the tools (hosts list them while Configure runs), saw {:?}: {}",
                        s.code(),
                        s.message()
                    )
                })?;
        }
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

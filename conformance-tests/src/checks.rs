//! The checks that run against a serving plugin (`--endpoint`), each with a
//! stable id and the `docs/protocol.md` requirement it tests.

use plugwire_proto::names;
use plugwire_proto::pb;
use serde_json::Value;
use tonic::transport::Channel;

use crate::check::{CheckResult, na, timed};
use crate::report::{Report, Status};

fn expect_code(
    result: Result<impl Sized, tonic::Status>,
    code: tonic::Code,
    what: &str,
) -> CheckResult {
    match result {
        Err(status) if status.code() == code => Ok(Status::Passed),
        Err(status) => Err(format!(
            "{what}: expected {code:?}, got {:?}: {}",
            status.code(),
            status.message()
        )),
        Ok(_) => Err(format!("{what}: expected {code:?}, the call succeeded")),
    }
}

/// The suite's handshake: it names itself and offers a feature nobody
/// knows, which the plugin must ignore (PW-HS-4).
pub(crate) fn handshake_request() -> pb::HandshakeRequest {
    pb::HandshakeRequest {
        host: Some(pb::HostInfo {
            name: "plugwire-conformance".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            app_name: "plugwire-conformance".into(),
            app_version: env!("CARGO_PKG_VERSION").into(),
        }),
        protocol_version: 1,
        features: vec!["a.feature.nobody.knows".into()],
        instance_id: "00000000-0000-4000-8000-000000000001".into(),
        plugin_name: String::new(),
        default_call_timeout: None,
    }
}

/// Runs every check that needs only a serving plugin, on `channel`. The
/// plugin must not have been handshaken or configured yet; `config` is sent
/// in `Configure`. Returns the handshake, if it succeeded.
pub(crate) async fn serving(
    report: &mut Report,
    channel: &Channel,
    config: &Value,
) -> Option<pb::HandshakeResponse> {
    let report = &mut *report;
    timed(report, "health/plugin-serving", async {
        let response = tonic_health::pb::health_client::HealthClient::new(channel.clone())
            .check(tonic_health::pb::HealthCheckRequest {
                service: "plugin".into(),
            })
            .await
            .map_err(|s| format!("Check(\"plugin\") failed: {}", s.message()))?
            .into_inner();
        if response.status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        {
            Ok(Status::Passed)
        } else {
            Err(format!("status {} instead of SERVING", response.status))
        }
    })
    .await;

    let mut plugin = pb::plugin_service_client::PluginServiceClient::new(channel.clone());
    let handshake = plugin
        .handshake(handshake_request())
        .await
        .map(|r| r.into_inner());
    let hs = handshake.as_ref().ok().cloned();
    timed(report, "handshake/fields", async {
        let hs = handshake.as_ref().map_err(|s| {
            format!(
                "Handshake failed (unknown features must be ignored, PW-HS-4): {}",
                s.message()
            )
        })?;
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
    .await;
    let caps = hs
        .as_ref()
        .and_then(|h| h.capabilities.clone())
        .unwrap_or_default();
    timed(report, "handshake/capabilities-well-formed", async {
        names::validate_capabilities(&caps)
            .map(|()| Status::Passed)
            .map_err(|p| p.join("; "))
    })
    .await;
    timed(report, "configure/valid", async {
        plugin
            .clone()
            .configure(pb::ConfigureRequest {
                config_json: config.to_string(),
            })
            .await
            .map(|_| Status::Passed)
            .map_err(|s| {
                format!(
                    "Configure({config}) failed: {:?}: {}",
                    s.code(),
                    s.message()
                )
            })
    })
    .await;

    let mut tools = pb::tool_service_client::ToolServiceClient::new(channel.clone())
        .max_decoding_message_size(plugwire_proto::constants::MAX_MESSAGE_SIZE)
        .max_encoding_message_size(plugwire_proto::constants::MAX_MESSAGE_SIZE);
    let listed = if caps.tools.is_empty() {
        None
    } else {
        tools
            .list_tools(pb::ListToolsRequest {})
            .await
            .ok()
            .map(|r| r.into_inner().tools)
    };
    timed(report, "tools/list-matches-handshake", async {
        if caps.tools.is_empty() {
            return na("the plugin declares no tools");
        }
        let listed = listed.as_ref().ok_or("ListTools failed")?;
        let mut a: Vec<&str> = listed.iter().map(|t| t.name.as_str()).collect();
        let mut b: Vec<&str> = caps.tools.iter().map(String::as_str).collect();
        a.sort_unstable();
        b.sort_unstable();
        if a == b {
            Ok(Status::Passed)
        } else {
            Err(format!("ListTools {a:?} != handshake {b:?}"))
        }
    })
    .await;
    timed(report, "tools/schemas-valid", async {
        let listed = listed.as_ref().ok_or_else(|| "n/a: no tools".to_owned())?;
        for t in listed {
            let schema: Value = serde_json::from_str(&t.input_schema_json)
                .map_err(|e| format!("{}: input schema is not JSON: {e}", t.name))?;
            jsonschema::meta::validate(&schema)
                .map_err(|e| format!("{}: input schema is not a valid JSON Schema: {e}", t.name))?;
            if schema.get("type").and_then(Value::as_str) != Some("object") {
                return Err(format!(
                    "{}: the input schema's root must have \"type\": \"object\"",
                    t.name
                ));
            }
            if !t.output_schema_json.is_empty() {
                let out: Value = serde_json::from_str(&t.output_schema_json)
                    .map_err(|e| format!("{}: output schema is not JSON: {e}", t.name))?;
                jsonschema::meta::validate(&out).map_err(|e| {
                    format!("{}: output schema is not a valid JSON Schema: {e}", t.name)
                })?;
            }
        }
        Ok(Status::Passed)
    })
    .await;
    timed(report, "tools/unknown-tool", async {
        if caps.tools.is_empty() {
            return na("the plugin declares no tools");
        }
        let r = tools
            .clone()
            .call_tool(pb::CallToolRequest {
                name: "plugwire-conformance-no-such-tool".into(),
                arguments_json: "{}".into(),
            })
            .await;
        expect_code(r, tonic::Code::NotFound, "an undeclared tool")
    })
    .await;
    timed(report, "tools/arguments-not-an-object", async {
        let Some(first) = caps.tools.first() else {
            return na("the plugin declares no tools");
        };
        let r = tools
            .clone()
            .call_tool(pb::CallToolRequest {
                name: first.clone(),
                arguments_json: "[1, 2]".into(),
            })
            .await;
        expect_code(
            r,
            tonic::Code::InvalidArgument,
            "arguments that are an array",
        )
    })
    .await;
    timed(report, "tools/arguments-violating-schema", async {
        let listed = listed.as_ref().ok_or_else(|| "n/a: no tools".to_owned())?;
        let with_required = listed.iter().find(|t| {
            serde_json::from_str::<Value>(&t.input_schema_json)
                .ok()
                .and_then(|s| {
                    s.get("required")
                        .and_then(Value::as_array)
                        .map(|r| !r.is_empty())
                })
                .unwrap_or(false)
        });
        let Some(tool) = with_required else {
            return na("no tool has a required argument");
        };
        let r = tools
            .clone()
            .call_tool(pb::CallToolRequest {
                name: tool.name.clone(),
                arguments_json: "{}".into(),
            })
            .await;
        expect_code(
            r,
            tonic::Code::InvalidArgument,
            &format!("{} without its required arguments", tool.name),
        )
    })
    .await;

    timed(report, "commands/declarations-well-formed", async {
        if caps.commands.is_empty() {
            return na("the plugin declares no commands");
        }
        let listed = pb::command_service_client::CommandServiceClient::new(channel.clone())
            .list_commands(pb::ListCommandsRequest {})
            .await
            .map_err(|s| format!("ListCommands failed: {}", s.message()))?
            .into_inner()
            .commands;
        names::validate_commands(&listed)
            .map(|()| Status::Passed)
            .map_err(|p| p.join("; "))
    })
    .await;

    timed(report, "hooks/subscriptions-well-formed", async {
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
    .await;
    timed(
        report,
        "providers/served",
        crate::providers::served(channel, &caps.providers),
    )
    .await;
    let features = hs.as_ref().map(|h| h.features.clone()).unwrap_or_default();
    crate::fixture::run(report, channel, &features, !caps.tools.is_empty()).await;
    hs
}

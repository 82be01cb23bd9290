//! What a plugin's tools are checked for: the listing against the
//! handshake, valid schemas, and the errors PW-TOOL-4 and PW-TOOL-5 name.

use plugwire_proto::pb;
use serde_json::Value;

use crate::check::{CheckFuture, CheckResult, expect_code, na};
use crate::report::Status;
use crate::session::{Session, tool_client as client};

pub(crate) fn list_matches_handshake(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let caps = s.capabilities().await?;
        if caps.tools.is_empty() {
            return na("the plugin declares no tools");
        }
        let listed = s.listed_tools().await?.ok_or("ListTools failed")?;
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
}

pub(crate) fn schemas_valid(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let listed = s
            .listed_tools()
            .await?
            .ok_or_else(|| "n/a: no tools".to_owned())?;
        for t in &listed {
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
}

pub(crate) fn unknown_tool(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        if s.capabilities().await?.tools.is_empty() {
            return na("the plugin declares no tools");
        }
        let channel = s.ready().await?;
        let r = client(&channel)
            .call_tool(pb::CallToolRequest {
                name: "plugwire-conformance-no-such-tool".into(),
                arguments_json: "{}".into(),
            })
            .await;
        expect_code(r, tonic::Code::NotFound, "an undeclared tool")
    })
}

pub(crate) fn arguments_not_an_object(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let Some(first) = s.capabilities().await?.tools.first().cloned() else {
            return na("the plugin declares no tools");
        };
        let channel = s.ready().await?;
        let r = client(&channel)
            .call_tool(pb::CallToolRequest {
                name: first,
                arguments_json: "[1, 2]".into(),
            })
            .await;
        expect_located(r, "", "arguments that are an array")
    })
}

/// PW-TOOL-5: `INVALID_ARGUMENT` whose message names where the problem is,
/// `arguments <pointer>: ...` (`arguments: ...` for the whole document).
fn expect_located(
    result: Result<impl Sized, tonic::Status>,
    pointer: &str,
    what: &str,
) -> CheckResult {
    expect_code(
        result.as_ref().map(drop).map_err(Clone::clone),
        tonic::Code::InvalidArgument,
        what,
    )?;
    let message = result
        .err()
        .map(|s| s.message().to_owned())
        .unwrap_or_default();
    let expected = plugwire_proto::problem::located("arguments", pointer, "");
    if message.starts_with(&expected) {
        Ok(Status::Passed)
    } else {
        Err(format!(
            "{what}: INVALID_ARGUMENT as required, but the message {message:?} does not start with {expected:?} (PW-TOOL-5: name the field as a JSON pointer)"
        ))
    }
}

pub(crate) fn arguments_violating_schema(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let listed = s
            .listed_tools()
            .await?
            .ok_or_else(|| "n/a: no tools".to_owned())?;
        let with_required = listed.iter().find_map(|t| {
            let schema = serde_json::from_str::<Value>(&t.input_schema_json).ok()?;
            let first = schema
                .get("required")?
                .as_array()?
                .first()?
                .as_str()?
                .to_owned();
            Some((t, first))
        });
        let Some((tool, required)) = with_required else {
            return na("no tool has a required argument");
        };
        let channel = s.ready().await?;
        let r = client(&channel)
            .call_tool(pb::CallToolRequest {
                name: tool.name.clone(),
                arguments_json: "{}".into(),
            })
            .await;
        let pointer = plugwire_proto::problem::field_pointer("", Some(&required));
        expect_located(
            r,
            &pointer,
            &format!("{} without its required argument {required:?}", tool.name),
        )
    })
}

//! plugwire's tool shapes to MCP's and back, without I/O.
//!
//! Results: plugwire's result is one JSON value; MCP's is content blocks
//! and, optionally, `structuredContent` (which must be an object). A string
//! becomes one text block; an object becomes `structuredContent` and its
//! JSON as text for clients that read only text; anything else is text.
//! Back again, `structuredContent` wins, then text blocks (joined), then
//! the blocks themselves as JSON.
//!
//! Failures: a tool's own failure (`is_error`) is an MCP tool error; so is
//! an argument that fails the schema, since MCP asks that the model see it
//! and correct itself. A tool that does not exist is JSON-RPC's invalid
//! params (-32602, as the MCP specification's example); the rest (a plugin
//! that crashed, timed out, was refused a permission) are internal errors
//! (-32603) carrying plugwire's message and gRPC code.

use std::sync::Arc;

use plugwire_host::{ToolInfo, ToolOutput};
use plugwire_proto::pb;
use rmcp::ErrorData;
use rmcp::model::{CallToolResult, ContentBlock, ErrorCode, JsonObject, Tool, ToolAnnotations};
use serde_json::{Value, json};
use tonic::{Code, Status};

/// The MCP tool for a plugwire tool, named by [`crate::names::mcp_name`].
///
/// ```
/// let info = plugwire_host::ToolInfo {
///     plugin: "echo".into(),
///     name: "echo".into(),
///     qualified: "echo.echo".into(),
///     bare_ok: true,
///     description: "Echoes its text".into(),
///     input_schema: serde_json::json!({"type": "object", "properties": {"text": {"type": "string"}}}),
///     output_schema: None,
///     annotations: plugwire_proto::pb::ToolAnnotations { read_only: true, ..Default::default() },
/// };
/// let tool = plugwire_mcp::convert::to_mcp_tool(&info);
/// assert_eq!(tool.name, "echo__echo");
/// assert_eq!(tool.input_schema["properties"]["text"]["type"], "string");
/// let hints = tool.annotations.unwrap();
/// assert_eq!((hints.read_only_hint, hints.destructive_hint), (Some(true), None));
/// ```
pub fn to_mcp_tool(info: &ToolInfo) -> Tool {
    let mut tool = Tool::new(
        crate::names::mcp_name(&info.plugin, &info.name),
        info.description.clone(),
        as_object(&info.input_schema),
    )
    .with_title(info.qualified.clone());
    if let Some(output) = &info.output_schema
        && output.get("type").and_then(Value::as_str) == Some("object")
    {
        // MCP's structuredContent is an object, so only an object schema
        // describes it; other results travel as text.
        tool = tool.with_raw_output_schema(Arc::new(as_object(output)));
    }
    tool.with_annotations(annotations(&info.annotations))
}

/// plugwire's hints are proto3 booleans, where `false` is also "not
/// said"; MCP's are optional, and an absent `destructiveHint` or
/// `openWorldHint` means `true`. So only a hint the plugin gave is passed
/// on, and a tool that says nothing is shown as MCP shows any such tool.
fn annotations(a: &pb::ToolAnnotations) -> ToolAnnotations {
    let given = |hint: bool| hint.then_some(true);
    let mut out = ToolAnnotations::new();
    out.read_only_hint = given(a.read_only);
    out.destructive_hint = given(a.destructive);
    out.idempotent_hint = given(a.idempotent);
    out.open_world_hint = given(a.open_world);
    out
}

fn as_object(value: &Value) -> JsonObject {
    match value {
        Value::Object(map) => map.clone(),
        _ => JsonObject::from_iter([("type".to_owned(), json!("object"))]),
    }
}

/// The MCP result of a plugwire tool's result.
///
/// ```
/// use plugwire_host::ToolOutput;
/// let r = plugwire_mcp::convert::to_mcp_result(ToolOutput { is_error: false, content: serde_json::json!({"n": 3}) });
/// assert_eq!(r.structured_content, Some(serde_json::json!({"n": 3})));
/// assert_eq!(r.is_error, Some(false));
/// ```
pub fn to_mcp_result(output: ToolOutput) -> CallToolResult {
    let mut result = match output.content {
        Value::Object(_) => CallToolResult::structured(output.content),
        Value::String(text) => CallToolResult::success(vec![ContentBlock::text(text)]),
        other => CallToolResult::success(vec![ContentBlock::text(other.to_string())]),
    };
    result.is_error = Some(output.is_error);
    result
}

/// How a failed plugwire call reaches an MCP client: `Ok` for a tool
/// error the model should read, `Err` for a JSON-RPC error.
///
/// ```
/// let r = plugwire_mcp::convert::status_to_mcp(tonic::Status::invalid_argument("arguments/text: missing"));
/// assert_eq!(r.unwrap().is_error, Some(true));
/// let e = plugwire_mcp::convert::status_to_mcp(tonic::Status::not_found("no tool")).unwrap_err();
/// assert_eq!(e.code.0, -32602);
/// ```
pub fn status_to_mcp(status: Status) -> Result<CallToolResult, ErrorData> {
    let message = status.message().to_owned();
    match status.code() {
        Code::InvalidArgument => Ok(CallToolResult::error(vec![ContentBlock::text(message)])),
        Code::NotFound | Code::FailedPrecondition => {
            Err(ErrorData::invalid_params(message, Some(code_data(&status))))
        }
        _ => Err(ErrorData::internal_error(message, Some(code_data(&status)))),
    }
}

fn code_data(status: &Status) -> Value {
    json!({"grpc_code": format!("{:?}", status.code())})
}

/// A plugwire result for an MCP server's tool result.
///
/// ```
/// use rmcp::model::{CallToolResult, ContentBlock};
/// let out = plugwire_mcp::convert::from_mcp_result(CallToolResult::success(vec![ContentBlock::text("hi")]));
/// assert_eq!(out.content, "hi");
/// ```
pub fn from_mcp_result(result: CallToolResult) -> ToolOutput {
    let is_error = result.is_error.unwrap_or(false);
    if let Some(structured) = result.structured_content {
        return ToolOutput {
            is_error,
            content: structured,
        };
    }
    let texts: Option<Vec<&str>> = result
        .content
        .iter()
        .map(|block| block.as_text().map(|t| t.text.as_str()))
        .collect();
    let content = match texts {
        Some(texts) if !texts.is_empty() => Value::String(texts.join("\n")),
        _ => serde_json::to_value(&result.content).unwrap_or(Value::Null),
    };
    ToolOutput { is_error, content }
}

/// The gRPC status for a JSON-RPC error an MCP server answered with.
///
/// ```
/// let e = rmcp::ErrorData::invalid_params("bad", None);
/// assert_eq!(plugwire_mcp::convert::error_to_status(&e).code(), tonic::Code::InvalidArgument);
/// ```
pub fn error_to_status(error: &ErrorData) -> Status {
    let message = format!(
        "the MCP server answered error {}: {}",
        error.code.0, error.message
    );
    match error.code {
        ErrorCode::INVALID_PARAMS => Status::invalid_argument(message),
        ErrorCode::METHOD_NOT_FOUND => Status::unimplemented(message),
        ErrorCode::INVALID_REQUEST | ErrorCode::PARSE_ERROR => Status::internal(message),
        _ => Status::unknown(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_survive_a_round_trip_through_mcp() {
        for content in [json!("plain text"), json!({"a": [1, 2]})] {
            let output = ToolOutput {
                is_error: false,
                content: content.clone(),
            };
            assert_eq!(from_mcp_result(to_mcp_result(output)).content, content);
        }
        let failed = ToolOutput {
            is_error: true,
            content: json!("no such file"),
        };
        let back = from_mcp_result(to_mcp_result(failed.clone()));
        assert_eq!(back, failed);
    }

    #[test]
    fn numbers_and_arrays_travel_as_their_json_text() {
        let r = to_mcp_result(ToolOutput {
            is_error: false,
            content: json!([1, 2]),
        });
        assert_eq!(r.structured_content, None);
        assert_eq!(from_mcp_result(r).content, json!("[1,2]"));
    }

    #[test]
    fn non_text_blocks_are_kept_as_json() {
        let r = CallToolResult::success(vec![ContentBlock::image("aGk=", "image/png")]);
        let out = from_mcp_result(r);
        assert_eq!(out.content[0]["type"], "image");
        assert_eq!(out.content[0]["mimeType"], "image/png");
    }

    #[test]
    fn crashes_and_deadlines_are_internal_errors_naming_the_code() {
        for status in [
            Status::unavailable("plugin \"p\" crashed"),
            Status::deadline_exceeded("late"),
            Status::permission_denied("needs host.storage"),
        ] {
            let e = status_to_mcp(status.clone()).unwrap_err();
            assert_eq!(e.code, ErrorCode::INTERNAL_ERROR);
            assert_eq!(e.message, status.message());
            assert_eq!(e.data.unwrap()["grpc_code"], format!("{:?}", status.code()));
        }
    }

    #[test]
    fn an_object_output_schema_is_offered_and_another_is_not() {
        let mut info = ToolInfo {
            plugin: "p".into(),
            name: "t".into(),
            qualified: "p.t".into(),
            bare_ok: true,
            description: String::new(),
            input_schema: json!({"type": "object"}),
            output_schema: None,
            annotations: pb::ToolAnnotations::default(),
        };
        info.output_schema = Some(json!({"type": "object"}));
        assert!(to_mcp_tool(&info).output_schema.is_some());
        info.output_schema = Some(json!({"type": "string"}));
        assert!(to_mcp_tool(&info).output_schema.is_none());
    }
}

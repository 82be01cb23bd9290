//! What a plugin says about itself at start, checked: its handshake
//! (PW-HS-3, PW-HS-5..7), its tools and their schemas (PW-TOOL-1..3,
//! PW-TOOL-14), its commands.

use plugwire_proto::names::{self, command_full_name};
use plugwire_proto::pb;
use serde_json::Value;

use crate::manifest::Manifest;

/// A tool of a running plugin, with its validator compiled once, on its
/// first call: compiling every tool's validator was most of the host's
/// share of a plugin's start.
pub(crate) struct ToolEntry {
    pub(crate) decl: pb::Tool,
    pub(crate) input_schema: Value,
    pub(crate) output_schema: Option<Value>,
    validator: std::sync::OnceLock<Option<jsonschema::Validator>>,
}

impl ToolEntry {
    /// The input validator. The schema was checked against its
    /// meta-schema at start, so compiling it cannot fail but for a bug in
    /// the validator; then there is none, any object passes here, and the
    /// call goes out without the validated mark so the plugin checks it
    /// (PW-TOOL-5, PW-TOOL-16).
    pub(crate) fn validator(&self) -> Option<&jsonschema::Validator> {
        self.validator
            .get_or_init(|| {
                jsonschema::validator_for(&self.input_schema)
                    .map_err(|e| {
                        tracing::warn!(tool = %self.decl.name, "input schema does not compile: {e}");
                    })
                    .ok()
            })
            .as_ref()
    }
}

/// PW-HS-3, PW-HS-6, PW-HS-7: identity and well-formed capabilities.
pub(crate) fn check_handshake(
    manifest: &Manifest,
    handshake: &pb::HandshakeResponse,
) -> Result<(), String> {
    let plugin = handshake
        .plugin
        .as_ref()
        .ok_or("the handshake answer has no plugin info")?;
    if plugin.name != manifest.name {
        return Err(format!(
            "the plugin calls itself {:?} but its manifest says {:?}; make them agree",
            plugin.name, manifest.name
        ));
    }
    let caps = handshake.capabilities.clone().unwrap_or_default();
    names::validate_capabilities(&caps)
        .map_err(|problems| format!("invalid capabilities: {}", problems.join("; ")))?;
    // Section 4.2: what the plugin declares can only narrow its manifest.
    manifest.bounds.check(&caps)
}

/// PW-TOOL-1..3: the listed tools equal the declared ones and carry valid
/// schemas; validators are compiled here, once.
pub(crate) fn tool_entries(
    declared: &[String],
    listed: Vec<pb::Tool>,
) -> Result<Vec<ToolEntry>, String> {
    let mut listed_names: Vec<&str> = listed.iter().map(|t| t.name.as_str()).collect();
    let mut declared_sorted: Vec<&str> = declared.iter().map(String::as_str).collect();
    listed_names.sort_unstable();
    declared_sorted.sort_unstable();
    if listed_names != declared_sorted {
        return Err(format!(
            "ListTools returned {listed_names:?} but the handshake declared {declared_sorted:?} (PW-HS-5)"
        ));
    }
    listed
        .into_iter()
        .map(|decl| {
            check_schema_size(&decl.name, "input", &decl.input_schema_json)?;
            check_schema_size(&decl.name, "output", &decl.output_schema_json)?;
            let input_schema: Value = serde_json::from_str(&decl.input_schema_json)
                .map_err(|e| format!("tool {:?}: input schema is not JSON: {e}", decl.name))?;
            check_schema_depth(&decl.name, "input", &input_schema)?;
            if input_schema.get("type").and_then(Value::as_str) != Some("object") {
                return Err(format!(
                    "tool {:?}: input schema must have \"type\": \"object\" (PW-TOOL-3)",
                    decl.name
                ));
            }
            // The meta-schema check uses validators compiled once per
            // process; the tool's own validator waits for its first call.
            jsonschema::meta::validate(&input_schema).map_err(|e| {
                format!(
                    "tool {:?}: input schema is not a valid JSON Schema: {e}",
                    decl.name
                )
            })?;
            let output_schema = if decl.output_schema_json.is_empty() {
                None
            } else {
                let schema: Value = serde_json::from_str(&decl.output_schema_json)
                    .map_err(|e| format!("tool {:?}: output schema is not JSON: {e}", decl.name))?;
                check_schema_depth(&decl.name, "output", &schema)?;
                jsonschema::meta::validate(&schema).map_err(|e| {
                    format!(
                        "tool {:?}: output schema is not a valid JSON Schema: {e}",
                        decl.name
                    )
                })?;
                Some(schema)
            };
            Ok(ToolEntry {
                decl,
                input_schema,
                output_schema,
                validator: std::sync::OnceLock::new(),
            })
        })
        .collect()
}

fn check_schema_size(tool: &str, which: &str, text: &str) -> Result<(), String> {
    use plugwire_proto::constants::MAX_SCHEMA_BYTES;
    if text.len() > MAX_SCHEMA_BYTES {
        return Err(format!(
            "tool {tool:?}: its {which} schema is {} bytes, over the {MAX_SCHEMA_BYTES}-byte limit (PW-TOOL-14); move large enumerations into the tool's own checks",
            text.len()
        ));
    }
    Ok(())
}

fn check_schema_depth(tool: &str, which: &str, schema: &Value) -> Result<(), String> {
    use plugwire_proto::constants::MAX_SCHEMA_DEPTH;
    let mut pending = vec![(schema, 1usize)];
    while let Some((value, depth)) = pending.pop() {
        if depth > MAX_SCHEMA_DEPTH {
            return Err(format!(
                "tool {tool:?}: its {which} schema nests deeper than {MAX_SCHEMA_DEPTH} levels (PW-TOOL-14); flatten it or use `$defs` references"
            ));
        }
        match value {
            Value::Array(items) => pending.extend(items.iter().map(|v| (v, depth + 1))),
            Value::Object(fields) => pending.extend(fields.values().map(|v| (v, depth + 1))),
            _ => {}
        }
    }
    Ok(())
}

pub(crate) fn check_commands(declared: &[String], listed: &[pb::Command]) -> Result<(), String> {
    let mut listed_names: Vec<String> = listed.iter().map(command_full_name).collect();
    let mut declared_sorted = declared.to_vec();
    listed_names.sort();
    declared_sorted.sort();
    if listed_names != declared_sorted {
        return Err(format!(
            "ListCommands returned {listed_names:?} but the handshake declared {declared_sorted:?} (PW-HS-5)"
        ));
    }
    names::validate_commands(listed)
        .map_err(|problems| format!("invalid commands: {}", problems.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(schema: String) -> pb::Tool {
        pb::Tool {
            name: "t".into(),
            input_schema_json: schema,
            ..Default::default()
        }
    }

    #[test]
    fn a_schema_that_does_not_compile_has_no_validator() {
        let entry = |schema: Value| ToolEntry {
            decl: tool(schema.to_string()),
            input_schema: schema,
            output_schema: None,
            validator: std::sync::OnceLock::new(),
        };
        let good = entry(serde_json::json!({"type": "object", "required": ["a"]}));
        let validator = good.validator().expect("compiles");
        assert!(!validator.is_valid(&serde_json::json!({})));
        // Without a validator the call is not marked validated, so the
        // plugin checks it (PW-TOOL-16).
        let bad = entry(serde_json::json!({"type": "object", "pattern": "("}));
        assert!(bad.validator().is_none());
    }

    #[test]
    fn huge_or_deep_schemas_are_refused() {
        let names = ["t".to_owned()];
        let big = format!(
            r#"{{"type":"object","description":"{}"}}"#,
            "x".repeat(plugwire_proto::constants::MAX_SCHEMA_BYTES)
        );
        let err = tool_entries(&names, vec![tool(big)]).err().unwrap();
        assert!(err.contains("over the"), "{err}");
        let mut deep = r#"{"type":"object"}"#.to_owned();
        for _ in 0..40 {
            deep = format!(r#"{{"type":"object","properties":{{"a":{deep}}}}}"#);
        }
        let err = tool_entries(&names, vec![tool(deep)]).err().unwrap();
        assert!(err.contains("nests deeper"), "{err}");
        let fine = r#"{"type":"object","properties":{"a":{"type":"string"}}}"#;
        assert_eq!(
            tool_entries(&names, vec![tool(fine.into())]).unwrap().len(),
            1
        );
    }
}

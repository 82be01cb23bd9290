//! Arguments made from a tool's input schema: one valid object (required
//! properties only) and one with every property, and invalid ones (not an
//! object, a required property missing, a property of the wrong type, an
//! unknown property). Each is checked against the schema before use, so a
//! schema the generator does not understand yields fewer cases, never a
//! wrong verdict.

use serde_json::{Map, Value, json};

/// How deep the generator follows nested schemas and `$ref`s.
const MAX_DEPTH: usize = 8;

/// Generated arguments with a label saying what they are.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// What this case is, for the report (`required properties only`).
    pub label: String,
    /// The arguments.
    pub arguments: Value,
}

/// Valid arguments for `schema`: the required properties only, then every
/// property, each kept only when the schema accepts it.
///
/// ```
/// # use plugwire_conformance::exercise::generate::valid;
/// let schema = serde_json::json!({"type": "object", "required": ["n"],
///     "properties": {"n": {"type": "integer", "minimum": 3}, "s": {"type": "string"}}});
/// let cases = valid(&schema);
/// assert_eq!(cases[0].arguments, serde_json::json!({"n": 3}));
/// assert_eq!(cases[1].arguments, serde_json::json!({"n": 3, "s": "a"}));
/// ```
pub fn valid(schema: &Value) -> Vec<Case> {
    let Ok(validator) = jsonschema::validator_for(schema) else {
        return Vec::new();
    };
    let mut cases = Vec::new();
    for (label, all) in [
        ("required properties only", false),
        ("every property", true),
    ] {
        if let Some(arguments) = instance(schema, schema, all, 0)
            && validator.is_valid(&arguments)
            && !cases.iter().any(|c: &Case| c.arguments == arguments)
        {
            cases.push(Case {
                label: label.into(),
                arguments,
            });
        }
    }
    cases
}

/// Arguments `schema` refuses, each with what is wrong with it.
///
/// ```
/// # use plugwire_conformance::exercise::generate::invalid;
/// let schema = serde_json::json!({"type": "object", "required": ["n"], "additionalProperties": false,
///     "properties": {"n": {"type": "integer"}}});
/// let labels: Vec<String> = invalid(&schema).into_iter().map(|c| c.label).collect();
/// assert_eq!(labels, ["not an object", "missing /n", "/n of the wrong type", "an unknown property"]);
/// ```
pub fn invalid(schema: &Value) -> Vec<Case> {
    let Ok(validator) = jsonschema::validator_for(schema) else {
        return Vec::new();
    };
    let base = instance(schema, schema, false, 0).unwrap_or_else(|| json!({}));
    let mut cases = vec![Case {
        label: "not an object".into(),
        arguments: json!(["not", "an", "object"]),
    }];
    let root = resolve(schema, schema, 0);
    let required: Vec<&str> = root
        .and_then(|r| r.get("required"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let (Some(first), Value::Object(map)) = (required.first(), &base) {
        let mut without = map.clone();
        without.remove(*first);
        cases.push(Case {
            label: format!("missing /{first}"),
            arguments: Value::Object(without),
        });
    }
    let props = root
        .and_then(|r| r.get("properties"))
        .and_then(Value::as_object);
    let wrong = props.and_then(|props| {
        props.iter().find_map(|(name, prop)| {
            let prop = resolve(schema, prop, 0)?;
            Some((name, wrong_type(prop.get("type")?.as_str()?)))
        })
    });
    if let (Some((name, wrong)), Value::Object(map)) = (wrong, &base) {
        let mut changed = map.clone();
        changed.insert(name.clone(), wrong);
        cases.push(Case {
            label: format!("/{name} of the wrong type"),
            arguments: Value::Object(changed),
        });
    }
    if let Value::Object(map) = &base {
        let mut extra = map.clone();
        extra.insert("plugwire_exercise_unknown".into(), json!(true));
        cases.push(Case {
            label: "an unknown property".into(),
            arguments: Value::Object(extra),
        });
    }
    cases.retain(|c| !validator.is_valid(&c.arguments));
    cases
}

fn wrong_type(kind: &str) -> Value {
    match kind {
        "string" => json!(12345),
        _ => json!("plugwire-exercise: a string where another type belongs"),
    }
}

/// Follows a local `$ref` (`#/$defs/X`, `#/definitions/X`).
fn resolve<'a>(root: &'a Value, schema: &'a Value, depth: usize) -> Option<&'a Value> {
    if depth > MAX_DEPTH {
        return None;
    }
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#')?;
            resolve(root, root.pointer(pointer)?, depth + 1)
        }
        None => Some(schema),
    }
}

/// One instance of `schema`: with every optional property when `all`.
fn instance(root: &Value, schema: &Value, all: bool, depth: usize) -> Option<Value> {
    let schema = resolve(root, schema, depth)?;
    if depth > MAX_DEPTH {
        return None;
    }
    if let Value::Bool(true) = schema {
        return Some(json!({}));
    }
    if let Some(value) = schema.get("const") {
        return Some(value.clone());
    }
    if let Some(value) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return Some(value.clone());
    }
    if let Some(value) = schema.get("default") {
        return Some(value.clone());
    }
    if let Some(value) = schema
        .get("examples")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return Some(value.clone());
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(first) = schema.get(key).and_then(Value::as_array).and_then(|v| {
            v.iter()
                .find(|s| s.get("type").and_then(Value::as_str) != Some("null"))
                .or(v.first())
        }) {
            return instance(root, first, all, depth + 1);
        }
    }
    let kind = match schema.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|k| *k != "null")
            .unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    };
    Some(match kind {
        "object" => {
            let mut map = Map::new();
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, prop) in props {
                    if all || required.contains(&name.as_str()) {
                        map.insert(name.clone(), instance(root, prop, all, depth + 1)?);
                    }
                }
            }
            Value::Object(map)
        }
        "array" => {
            let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            let items = schema.get("items").unwrap_or(&Value::Bool(true));
            let item = instance(root, items, all, depth + 1)?;
            Value::Array(vec![item; usize::try_from(min.min(64)).unwrap_or(0)])
        }
        "integer" => json!(number(schema).ceil() as i64),
        "number" => json!(number(schema)),
        "boolean" => json!(false),
        "null" => Value::Null,
        _ => string(schema),
    })
}

/// The smallest number the bounds allow, near zero.
fn number(schema: &Value) -> f64 {
    let get = |k| schema.get(k).and_then(Value::as_f64);
    let mut n = 0.0_f64;
    if let Some(min) = get("minimum") {
        n = n.max(min);
    }
    if let Some(min) = get("exclusiveMinimum") {
        n = n.max(min + 1.0);
    }
    if let Some(max) = get("maximum") {
        n = n.min(max);
    }
    if let Some(max) = get("exclusiveMaximum") {
        n = n.min(max - 1.0);
    }
    n
}

fn string(schema: &Value) -> Value {
    let canned = match schema.get("format").and_then(Value::as_str) {
        Some("date-time") => Some("2026-01-01T00:00:00Z"),
        Some("date") => Some("2026-01-01"),
        Some("time") => Some("00:00:00Z"),
        Some("email") => Some("ada@example.com"),
        Some("uri" | "url" | "iri") => Some("https://example.com/"),
        Some("uuid") => Some("00000000-0000-4000-8000-000000000000"),
        Some("ipv4") => Some("127.0.0.1"),
        Some("ipv6") => Some("::1"),
        Some("hostname") => Some("example.com"),
        _ => None,
    };
    if let Some(text) = canned {
        return json!(text);
    }
    let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(1);
    json!("a".repeat(usize::try_from(min.clamp(1, 4096)).unwrap_or(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_refs_formats_and_enums_give_valid_arguments() {
        let schema = json!({
            "type": "object",
            "required": ["when", "point", "mode", "tags"],
            "properties": {
                "when": {"type": "string", "format": "date-time"},
                "point": {"$ref": "#/$defs/Point"},
                "mode": {"enum": ["fast", "slow"]},
                "tags": {"type": "array", "items": {"type": "string", "minLength": 3}, "minItems": 2},
                "maybe": {"anyOf": [{"type": "null"}, {"type": "number", "exclusiveMinimum": 1}]}
            },
            "$defs": {"Point": {"type": "object", "required": ["x"], "properties": {"x": {"type": "integer", "maximum": -2}}}}
        });
        let cases = valid(&schema);
        assert_eq!(cases.len(), 2, "{cases:?}");
        assert_eq!(cases[0].arguments["point"], json!({"x": -2}));
        assert_eq!(cases[0].arguments["tags"], json!(["aaa", "aaa"]));
        assert_eq!(cases[1].arguments["maybe"], json!(2.0));
    }

    #[test]
    fn a_schema_it_cannot_satisfy_gives_no_case_rather_than_a_wrong_one() {
        let schema = json!({"type": "object", "required": ["code"],
            "properties": {"code": {"type": "string", "pattern": "^[0-9]{4}$"}}});
        assert!(valid(&schema).is_empty());
        // Invalid cases are still made, and each really is invalid.
        assert!(invalid(&schema).iter().any(|c| c.label == "missing /code"));
    }

    #[test]
    fn a_permissive_schema_has_only_the_invalid_cases_it_refuses() {
        let schema = json!({"type": "object"});
        let labels: Vec<String> = invalid(&schema).into_iter().map(|c| c.label).collect();
        assert_eq!(labels, ["not an object"]);
    }
}

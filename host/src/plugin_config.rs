//! A plugin's configuration (PW-CFG-1..3): where it comes from, the order
//! the sources merge in, the schema's defaults, and the check against the
//! schema that runs before any process is spawned.
//!
//! Sources, later ones winning key by key (objects merge, anything else is
//! replaced):
//! 1. the `default`s of the manifest's `config_schema`;
//! 2. the user's file, `<config dir>/<plugin>.toml` or `<plugin>.json`
//!    ([`HostConfig::config_dir`](crate::HostConfig::config_dir); the CLI
//!    uses `$XDG_CONFIG_HOME/plugwire/config/`), then the secret fields
//!    kept apart in `<config dir>/<plugin>.secrets.json` ([`crate::secrets`]);
//! 3. [`HostConfig::configure`](crate::HostConfig::configure);
//! 4. [`Host::configure_plugin`](crate::Host::configure_plugin), at run time.

use plugwire_proto::problem::{field_pointer, located};
use std::io::Read;
use std::path::{Path, PathBuf};

use plugwire_proto::text::json_kind;
use serde_json::{Map, Value};

use crate::manifest::Manifest;

/// Largest configuration file read.
pub const MAX_CONFIG_FILE: u64 = 1 << 20;

/// The configuration sources of one plugin, before defaults.
#[derive(Debug, Default, Clone)]
pub(crate) struct Sources<'a> {
    pub(crate) dir: Option<&'a Path>,
    pub(crate) host: Option<&'a Value>,
    pub(crate) runtime: Option<&'a Value>,
}

/// The configuration `Configure` sends, merged and checked; the error says
/// which source is wrong and how.
pub(crate) fn effective(manifest: &Manifest, sources: &Sources<'_>) -> Result<Value, String> {
    let mut config = Value::Object(Map::new());
    if let Some(schema) = &manifest.config_schema {
        apply_defaults(schema, &mut config);
    }
    if let Some(dir) = sources.dir
        && let Some((path, file)) = read_file(dir, &manifest.name)?
    {
        if !file.is_object() {
            return Err(format!(
                "{}: expected a table of settings, saw {}",
                path.display(),
                json_kind(&file)
            ));
        }
        merge(&mut config, file);
    }
    if let Some(dir) = sources.dir
        && let Some(secrets) = crate::secrets::read(dir, &manifest.name)?
    {
        merge(&mut config, secrets);
    }
    for layer in [sources.host, sources.runtime].into_iter().flatten() {
        if !layer.is_object() {
            return Err(format!(
                "the configuration of plugin {:?}: expected a JSON object, saw {}",
                manifest.name,
                json_kind(layer)
            ));
        }
        merge(&mut config, layer.clone());
    }
    // Defaults again: a layer may have brought an object whose own
    // properties have defaults.
    if let Some(schema) = &manifest.config_schema {
        apply_defaults(schema, &mut config);
    }
    check(manifest, &config)?;
    Ok(config)
}

/// PW-CFG-3: the configuration must match the manifest's schema.
pub(crate) fn check(manifest: &Manifest, config: &Value) -> Result<(), String> {
    let Some(schema) = &manifest.config_schema else {
        return Ok(());
    };
    let validator = jsonschema::validator_for(schema).map_err(|e| format!("config schema: {e}"))?;
    let secret = crate::secrets::pointers(schema);
    let problems: Vec<String> = validator
        .iter_errors(config)
        .take(5)
        .map(|e| {
            let pointer = schema_error_pointer(&e);
            // A schema error quotes the value; a secret's is never shown.
            if crate::secrets::covers(&secret, &e.instance_path().to_string()) {
                located(
                    "config",
                    &pointer,
                    format!(
                        "{} does not match the schema (the value is secret, so it is not shown)",
                        crate::secrets::PLACEHOLDER
                    ),
                )
            } else {
                located("config", &pointer, &e)
            }
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the configuration of plugin {:?} does not match its schema: {} (fix the configuration; `plugwire info {}` shows the plugin)",
            manifest.name,
            problems.join("; "),
            manifest.name
        ))
    }
}

/// Where a schema error is (PW-TOOL-5, PW-CFG-2): its instance path, and
/// for a missing required property, that property.
pub(crate) fn schema_error_pointer(error: &jsonschema::ValidationError<'_>) -> String {
    let missing = match error.kind() {
        jsonschema::error::ValidationErrorKind::Required { property } => property.as_str(),
        _ => None,
    };
    field_pointer(&error.instance_path().to_string(), missing)
}

/// Fills in the `default` of every property the value lacks, through
/// nested objects.
pub(crate) fn apply_defaults(schema: &Value, value: &mut Value) {
    let (Some(properties), Value::Object(fields)) = (
        schema.get("properties").and_then(Value::as_object),
        &mut *value,
    ) else {
        return;
    };
    for (name, property) in properties {
        if !fields.contains_key(name)
            && let Some(default) = property.get("default")
        {
            fields.insert(name.clone(), default.clone());
        }
        if let Some(field) = fields.get_mut(name) {
            apply_defaults(property, field);
        }
    }
}

/// Merges `layer` into `base`: objects key by key, anything else replaced.
pub(crate) fn merge(base: &mut Value, layer: Value) {
    match (base, layer) {
        (Value::Object(base), Value::Object(layer)) => {
            for (key, value) in layer {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, layer) => *base = layer,
    }
}

/// Reads `<dir>/<plugin>.toml` or `.json`, under a size cap; both is an
/// error, neither is no file.
fn read_file(dir: &Path, plugin: &str) -> Result<Option<(PathBuf, Value)>, String> {
    let toml_path = dir.join(format!("{plugin}.toml"));
    let json_path = dir.join(format!("{plugin}.json"));
    let (path, is_toml) = match (toml_path.is_file(), json_path.is_file()) {
        (false, false) => return Ok(None),
        (true, true) => {
            return Err(format!(
                "both {} and {} configure plugin {plugin:?}; keep one",
                toml_path.display(),
                json_path.display()
            ));
        }
        (true, false) => (toml_path, true),
        (false, true) => (json_path, false),
    };
    let mut text = String::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(MAX_CONFIG_FILE + 1).read_to_string(&mut text))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if text.len() as u64 > MAX_CONFIG_FILE {
        return Err(format!(
            "{}: over the {MAX_CONFIG_FILE}-byte limit of a configuration file",
            path.display()
        ));
    }
    let value = if is_toml {
        toml::from_str::<Value>(&text).map_err(|e| format!("{}: not TOML: {e}", path.display()))?
    } else {
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))?
    };
    Ok(Some((path, value)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn manifest(schema: Value) -> Manifest {
        let mut m = Manifest::for_executable("/opt/greeter".as_ref(), vec![]);
        m.config_schema = Some(schema);
        m
    }

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "greeting": {"type": "string", "default": "hello"},
                "limits": {
                    "type": "object",
                    "default": {},
                    "properties": {"max": {"type": "integer", "default": 3}}
                },
                "loud": {"type": "boolean"}
            },
            "additionalProperties": false
        })
    }

    #[test]
    fn defaults_fill_what_is_missing_through_nested_objects() {
        let mut value = json!({"limits": {}});
        apply_defaults(&schema(), &mut value);
        assert_eq!(value, json!({"greeting": "hello", "limits": {"max": 3}}));
        let mut value = json!({"greeting": "hey", "limits": {"max": 9}});
        apply_defaults(&schema(), &mut value);
        assert_eq!(value, json!({"greeting": "hey", "limits": {"max": 9}}));
    }

    #[test]
    fn sources_merge_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("greeter.toml"),
            "greeting = \"from file\"\nloud = true\n[limits]\nmax = 5\n",
        )
        .unwrap();
        let m = manifest(schema());
        let host = json!({"greeting": "from host"});
        let runtime = json!({"limits": {"max": 7}});
        let sources = Sources {
            dir: Some(dir.path()),
            host: Some(&host),
            runtime: Some(&runtime),
        };
        assert_eq!(
            effective(&m, &sources).unwrap(),
            json!({"greeting": "from host", "limits": {"max": 7}, "loud": true})
        );
        let only_defaults = effective(&m, &Sources::default()).unwrap();
        assert_eq!(
            only_defaults,
            json!({"greeting": "hello", "limits": {"max": 3}})
        );
    }

    #[test]
    fn bad_sources_say_where_and_what() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(schema());
        std::fs::write(dir.path().join("greeter.json"), "{\"greeting\": 5}").unwrap();
        let sources = Sources {
            dir: Some(dir.path()),
            ..Default::default()
        };
        let err = effective(&m, &sources).unwrap_err();
        assert!(err.contains("/greeting") && err.contains("schema"), "{err}");
        std::fs::write(dir.path().join("greeter.toml"), "x = 1").unwrap();
        let err = effective(&m, &sources).unwrap_err();
        assert!(err.contains("keep one"), "{err}");
        std::fs::remove_file(dir.path().join("greeter.json")).unwrap();
        std::fs::write(dir.path().join("greeter.toml"), "x = ").unwrap();
        let err = effective(&m, &sources).unwrap_err();
        assert!(err.contains("not TOML"), "{err}");
        let list = json!([1]);
        let err = effective(
            &m,
            &Sources {
                runtime: Some(&list),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(
            err.contains("expected a JSON object, saw an array"),
            "{err}"
        );
    }
}

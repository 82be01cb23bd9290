//! Secret fields of a plugin's configuration: the fields its schema marks
//! `writeOnly: true` or `x-secret: true`. Their values are kept apart from
//! the rest (`<config dir>/<plugin>.secrets.json`, readable only by the
//! user), sent to the plugin in `Configure`, and replaced by
//! [`PLACEHOLDER`] wherever the host shows a configuration, an error or a
//! plugin's log line.

use std::borrow::Cow;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// What is shown in place of a secret value.
pub const PLACEHOLDER: &str = "[secret]";

/// Largest secrets file read.
const MAX_SECRETS_FILE: u64 = 256 << 10;

/// Secret values shorter than this are not searched for in free text (a
/// one-letter secret would blank out every log line); they are still
/// withheld from configurations and errors.
const MIN_SCRUBBED_LEN: usize = 4;

/// The JSON pointers of the secret fields `schema` declares, through nested
/// objects' `properties`.
///
/// ```
/// let schema = serde_json::json!({"properties": {
///     "token": {"type": "string", "writeOnly": true},
///     "db": {"properties": {"password": {"x-secret": true}, "host": {}}},
/// }});
/// assert_eq!(plugwire_host::secrets::pointers(&schema), ["/db/password", "/token"]);
/// ```
pub fn pointers(schema: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect(schema, "", &mut found);
    found.sort();
    found
}

fn collect(schema: &Value, at: &str, found: &mut Vec<String>) {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, property) in properties {
        let pointer = format!("{at}/{}", name.replace('~', "~0").replace('/', "~1"));
        if is_secret(property) {
            found.push(pointer);
        } else {
            collect(property, &pointer, found);
        }
    }
}

fn is_secret(property: &Value) -> bool {
    let flag = |key| property.get(key).and_then(Value::as_bool) == Some(true);
    flag("writeOnly") || flag("x-secret")
}

/// Whether `pointer` is a secret field or inside one.
///
/// ```
/// let secret = ["/token".to_owned()];
/// assert!(plugwire_host::secrets::covers(&secret, "/token"));
/// assert!(!plugwire_host::secrets::covers(&secret, "/tokens"));
/// ```
pub fn covers(secret: &[String], pointer: &str) -> bool {
    secret.iter().any(|s| {
        pointer == s
            || pointer
                .strip_prefix(s.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// `config` with every secret field that is set replaced by
/// [`PLACEHOLDER`].
///
/// ```
/// let schema = serde_json::json!({"properties": {"token": {"writeOnly": true}}});
/// let shown = plugwire_host::secrets::redacted(&schema, &serde_json::json!({"token": "hunter2", "n": 1}));
/// assert_eq!(shown, serde_json::json!({"token": "[secret]", "n": 1}));
/// ```
pub fn redacted(schema: &Value, config: &Value) -> Value {
    let mut shown = config.clone();
    for pointer in pointers(schema) {
        if let Some(value) = shown.pointer_mut(&pointer) {
            *value = Value::String(PLACEHOLDER.to_owned());
        }
    }
    shown
}

/// Replaces the secret values of one configuration in free text: plugin
/// log lines, error messages a plugin wrote.
///
/// ```
/// use plugwire_host::secrets::Scrubber;
/// let schema = serde_json::json!({"properties": {"token": {"writeOnly": true}}});
/// let scrub = Scrubber::new(&schema, &serde_json::json!({"token": "hunter2"}));
/// assert_eq!(scrub.text("got hunter2!"), "got [secret]!");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Scrubber {
    values: Vec<String>,
}

impl Scrubber {
    /// The scrubber for `config`'s secret values under `schema`.
    pub fn new(schema: &Value, config: &Value) -> Self {
        let mut values: Vec<String> = pointers(schema)
            .iter()
            .filter_map(|p| config.pointer(p))
            .flat_map(strings)
            .filter(|v| v.len() >= MIN_SCRUBBED_LEN)
            .collect();
        // Longest first, so a secret containing another is replaced whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Self { values }
    }

    /// Whether there is anything to scrub.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `text` without the secret values.
    pub fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for value in &self.values {
            if out.contains(value.as_str()) {
                out = Cow::Owned(out.replace(value.as_str(), PLACEHOLDER));
            }
        }
        out
    }

    /// `bytes` (a raw log line) without the secret values.
    pub fn bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        if self.values.is_empty() {
            return Cow::Borrowed(bytes);
        }
        match self.text(&String::from_utf8_lossy(bytes)) {
            Cow::Borrowed(_) => Cow::Borrowed(bytes),
            Cow::Owned(text) => Cow::Owned(text.into_bytes()),
        }
    }
}

/// The text forms a secret value can appear in: a string as itself, any
/// other value as its JSON, and each string inside an object or array.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Object(fields) => fields.values().flat_map(strings).collect(),
        Value::Null => Vec::new(),
        other => vec![other.to_string()],
    }
}

/// The value to store for the secret field at `pointer`, from the text the
/// user gave: the text itself for a string field, its JSON otherwise;
/// checked against the field's schema without ever quoting it.
///
/// ```
/// let schema = serde_json::json!({"properties": {"pin": {"type": "integer", "x-secret": true}}});
/// assert_eq!(plugwire_host::secrets::accept(&schema, "/pin", "1234".into()), Ok(serde_json::json!(1234)));
/// assert!(plugwire_host::secrets::accept(&schema, "/pin", "12ab".into()).unwrap_err().contains("not shown"));
/// ```
pub fn accept(schema: &Value, pointer: &str, text: String) -> Result<Value, String> {
    let field = segments(pointer).fold(schema, |at, name| &at["properties"][name.as_str()]);
    let kind = field.get("type").and_then(Value::as_str);
    let value = if kind.is_none_or(|t| t == "string") {
        Value::String(text)
    } else {
        serde_json::from_str(&text).map_err(|_| {
            format!(
                "{pointer}: expected JSON of type {} on stdin; what was read is not JSON (it is not shown: it is secret)",
                kind.unwrap_or("any")
            )
        })?
    };
    let validator = jsonschema::validator_for(field)
        .map_err(|e| format!("{pointer}: the field's schema is not valid JSON Schema: {e}"))?;
    if !validator.is_valid(&value) {
        return Err(format!(
            "{pointer}: the value read does not match the field's schema {field} (it is not shown: it is secret)"
        ));
    }
    Ok(value)
}

/// Where a plugin's secrets are kept in `dir` (the configuration
/// directory).
///
/// ```
/// let p = plugwire_host::secrets::file("/home/ada/.config/plugwire/config".as_ref(), "notes");
/// assert!(p.ends_with("notes.secrets.json"));
/// ```
pub fn file(dir: &Path, plugin: &str) -> PathBuf {
    dir.join(format!("{plugin}.secrets.json"))
}

/// Reads a plugin's secrets, refusing a file that anyone but its owner (the
/// user running the host) could read or change.
pub fn read(dir: &Path, plugin: &str) -> Result<Option<Value>, String> {
    let path = file(dir, plugin);
    let handle = match std::fs::File::open(&path) {
        Ok(handle) => handle,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let meta = handle
        .metadata()
        .map_err(|e| format!("cannot inspect {}: {e}", path.display()))?;
    if meta.mode() & 0o077 != 0 || meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(format!(
            "{} holds secrets but is open to others (mode {:o}, owner uid {}); it must belong to you with mode 600: `chmod 600 {}`",
            path.display(),
            meta.mode() & 0o777,
            meta.uid(),
            path.display()
        ));
    }
    let mut text = String::new();
    handle
        .take(MAX_SECRETS_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if text.len() as u64 > MAX_SECRETS_FILE {
        return Err(format!(
            "{}: over the {MAX_SECRETS_FILE}-byte limit of a secrets file",
            path.display()
        ));
    }
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}: expected a JSON object of secret settings, the text is not JSON ({e}); set them again with `plugwire config set`",
            path.display()
        )
    })?;
    if !value.is_object() {
        return Err(format!(
            "{}: expected a JSON object of secret settings, saw {}",
            path.display(),
            plugwire_proto::text::json_kind(&value)
        ));
    }
    Ok(Some(value))
}

/// Stores `value` as the secret at `pointer` of a plugin's secrets: the
/// file is written whole to a new file of mode 600 and renamed over the
/// old one, in a directory only the user can enter.
pub fn store(dir: &Path, plugin: &str, pointer: &str, value: Value) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| format!("cannot restrict {}: {e}", dir.display()))?;
    let mut secrets = read(dir, plugin)?.unwrap_or_else(|| Value::Object(Map::new()));
    set_at(&mut secrets, pointer, value);
    let path = file(dir, plugin);
    let staging = dir.join(format!(
        ".{plugin}.secrets.{}",
        uuid::Uuid::new_v4().simple()
    ));
    let written = (|| {
        use std::io::Write;
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&staging)?;
        out.write_all(secrets.to_string().as_bytes())?;
        out.sync_all()?;
        std::fs::rename(&staging, &path)
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&staging);
        format!("cannot write {}: {e}", path.display())
    })
}

/// The unescaped segments of a JSON pointer (`/a~1b/c` is `a/b`, `c`).
fn segments(pointer: &str) -> impl Iterator<Item = String> + '_ {
    pointer
        .split('/')
        .skip(1)
        .map(|p| p.replace("~1", "/").replace("~0", "~"))
}

/// Sets `pointer` (`/a/b`) in `target`, creating objects on the way.
fn set_at(target: &mut Value, pointer: &str, value: Value) {
    let mut at = target;
    let parts: Vec<String> = segments(pointer).collect();
    for (i, part) in parts.iter().enumerate() {
        if !at.is_object() {
            *at = Value::Object(Map::new());
        }
        let fields = at.as_object_mut().expect("made an object above");
        if i + 1 == parts.len() {
            fields.insert(part.clone(), value);
            return;
        }
        at = fields
            .entry(part.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secrets_are_stored_for_the_user_alone_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        store(&config, "notes", "/token", json!("hunter2")).unwrap();
        store(&config, "notes", "/db/password", json!("pw-1234")).unwrap();
        let path = file(&config, "notes");
        let mode = std::fs::metadata(&path).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::metadata(&config).unwrap().mode() & 0o777, 0o700);
        assert_eq!(
            read(&config, "notes").unwrap(),
            Some(json!({"token": "hunter2", "db": {"password": "pw-1234"}}))
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read(&config, "notes").unwrap_err();
        assert!(
            err.contains("open to others") && err.contains("chmod 600"),
            "{err}"
        );
        assert_eq!(read(&config, "other").unwrap(), None);
    }

    #[test]
    fn every_form_of_a_secret_is_scrubbed_and_short_ones_only_withheld() {
        let schema = json!({"properties": {
            "token": {"writeOnly": true},
            "pin": {"x-secret": true},
            "keys": {"x-secret": true},
        }});
        let config = json!({"token": "abcdef", "pin": 42, "keys": ["k-one", "k-two"]});
        let scrub = Scrubber::new(&schema, &config);
        assert_eq!(
            scrub.text("abcdef k-one k-two 42"),
            format!("{PLACEHOLDER} {PLACEHOLDER} {PLACEHOLDER} 42")
        );
        assert_eq!(
            redacted(&schema, &config),
            json!({"token": PLACEHOLDER, "pin": PLACEHOLDER, "keys": PLACEHOLDER})
        );
        assert!(Scrubber::new(&schema, &json!({})).is_empty());
    }
}

//! The log line convention (PW-LOG-1..PW-LOG-4).
//!
//! A plugin writes logs to stderr, one line each. A line that is a JSON object
//! with go-plugin/hclog fields is structured:
//!
//! ```json
//! {"@level":"info","@message":"tool called","@timestamp":"2026-01-02T03:04:05.000000Z","tool":"echo"}
//! ```
//!
//! Any other line is plain text; a leading `[LEVEL]` (hclog's text format) sets
//! its level. Hosts never parse these lines as protocol.
//!
//! ```
//! use plugwire_proto::log::{Level, LogLine};
//!
//! let line = LogLine::parse(r#"{"@level":"warn","@message":"slow","ms":12}"#);
//! assert_eq!(line.level, Level::Warn);
//! assert_eq!(line.message, "slow");
//! assert_eq!(line.fields[0].0, "ms");
//! ```

use std::fmt;

use serde_json::{Map, Value};

/// A log level, in hclog's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very detailed tracing.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that was handled.
    Warn,
    /// Something failed.
    Error,
}

impl Level {
    /// Parses hclog's level names (case-insensitive; `warning`, `err`,
    /// `fatal`, `panic` and `critical` are folded in).
    ///
    /// ```
    /// use plugwire_proto::log::Level;
    /// assert_eq!(Level::parse("WARNING"), Some(Level::Warn));
    /// assert_eq!(Level::parse("loud"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_lowercase().as_str() {
            "trace" => Self::Trace,
            "debug" => Self::Debug,
            "info" | "notice" => Self::Info,
            "warn" | "warning" => Self::Warn,
            "error" | "err" | "fatal" | "panic" | "critical" => Self::Error,
            _ => return None,
        })
    }

    /// The lower-case name hclog writes.
    ///
    /// ```
    /// use plugwire_proto::log::Level;
    /// assert_eq!(Level::Info.as_str(), "info");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One parsed log line.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// The level: from `@level`, a `[LEVEL]` prefix, or the stream's default.
    pub level: Level,
    /// The message text.
    pub message: String,
    /// `@timestamp` as written by the plugin, if any.
    pub timestamp: Option<String>,
    /// `@module` as written by the plugin, if any.
    pub module: Option<String>,
    /// The remaining keys, in the order written.
    pub fields: Vec<(String, Value)>,
    /// True when the line was an hclog JSON object.
    pub structured: bool,
}

impl LogLine {
    /// Parses a line (without its newline). Never fails: anything that is not
    /// an hclog JSON object is a text line at [`Level::Info`].
    ///
    /// ```
    /// use plugwire_proto::log::{Level, LogLine};
    /// let text = LogLine::parse("[ERROR] disk full");
    /// assert_eq!((text.level, text.message.as_str(), text.structured), (Level::Error, "disk full", false));
    /// ```
    pub fn parse(line: &str) -> Self {
        Self::parse_with_default(line, Level::Info)
    }

    /// Like [`LogLine::parse`], with the level used for unmarked text lines.
    ///
    /// ```
    /// use plugwire_proto::log::{Level, LogLine};
    /// assert_eq!(LogLine::parse_with_default("hi", Level::Debug).level, Level::Debug);
    /// ```
    pub fn parse_with_default(line: &str, default: Level) -> Self {
        let trimmed = line.trim_end_matches(['\r', '\n']);
        if trimmed.starts_with('{')
            && let Ok(Value::Object(map)) = serde_json::from_str::<Value>(trimmed)
            && (map.contains_key("@message") || map.contains_key("@level"))
        {
            return Self::from_object(map, default);
        }
        let (level, message) = split_level_prefix(trimmed)
            .map(|(l, m)| (l, m.to_owned()))
            .unwrap_or_else(|| (default, trimmed.to_owned()));
        Self {
            level,
            message,
            timestamp: None,
            module: None,
            fields: Vec::new(),
            structured: false,
        }
    }

    fn from_object(map: Map<String, Value>, default: Level) -> Self {
        let mut line = Self {
            level: default,
            message: String::new(),
            timestamp: None,
            module: None,
            fields: Vec::new(),
            structured: true,
        };
        for (key, value) in map {
            match (key.as_str(), value) {
                ("@level", Value::String(level)) => {
                    line.level = Level::parse(&level).unwrap_or(default);
                }
                ("@message", Value::String(message)) => line.message = message,
                ("@timestamp", Value::String(ts)) => line.timestamp = Some(ts),
                ("@module", Value::String(module)) => line.module = Some(module),
                (_, value) => line.fields.push((key, value)),
            }
        }
        line
    }

    /// Formats the line as one hclog JSON object without a newline, the form
    /// plugins should write.
    ///
    /// ```
    /// use plugwire_proto::log::{Level, LogLine};
    /// let line = LogLine {
    ///     level: Level::Info,
    ///     message: "ready".into(),
    ///     timestamp: Some("2026-01-01T00:00:00.000000Z".into()),
    ///     module: None,
    ///     fields: vec![("port".into(), 1.into())],
    ///     structured: true,
    /// };
    /// assert_eq!(
    ///     line.to_json(),
    ///     r#"{"@level":"info","@message":"ready","@timestamp":"2026-01-01T00:00:00.000000Z","port":1}"#
    /// );
    /// ```
    pub fn to_json(&self) -> String {
        let mut map = Map::new();
        map.insert("@level".into(), Value::from(self.level.as_str()));
        map.insert("@message".into(), Value::from(self.message.as_str()));
        if let Some(ts) = &self.timestamp {
            map.insert("@timestamp".into(), Value::from(ts.as_str()));
        }
        if let Some(module) = &self.module {
            map.insert("@module".into(), Value::from(module.as_str()));
        }
        for (key, value) in &self.fields {
            // Reserved keys stay the plugin's; a field may not overwrite them.
            if !key.starts_with('@') {
                map.insert(key.clone(), value.clone());
            }
        }
        Value::Object(map).to_string()
    }
}

fn split_level_prefix(line: &str) -> Option<(Level, &str)> {
    let rest = line.strip_prefix('[')?;
    let end = rest.find(']')?;
    let level = Level::parse(&rest[..end])?;
    Some((level, rest[end + 1..].trim_start()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_lines_keep_field_order() {
        let line = LogLine::parse(
            r#"{"@level":"debug","@message":"m","@timestamp":"t","@module":"x","b":1,"a":"s"}"#,
        );
        assert!(line.structured);
        assert_eq!(line.level, Level::Debug);
        assert_eq!(line.timestamp.as_deref(), Some("t"));
        assert_eq!(line.module.as_deref(), Some("x"));
        let keys: Vec<_> = line.fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "a"]);
    }

    #[test]
    fn json_without_hclog_keys_is_text() {
        let line = LogLine::parse(r#"{"a":1}"#);
        assert!(!line.structured);
        assert_eq!(line.message, r#"{"a":1}"#);
    }

    #[test]
    fn broken_json_is_text() {
        let line = LogLine::parse(r#"{"@level":"info","#);
        assert!(!line.structured);
        assert_eq!(line.level, Level::Info);
    }

    #[test]
    fn unknown_level_falls_back() {
        let line = LogLine::parse_with_default(r#"{"@level":"loud","@message":"m"}"#, Level::Warn);
        assert_eq!(line.level, Level::Warn);
        assert_eq!(LogLine::parse("[LOUD] x").message, "[LOUD] x");
    }

    #[test]
    fn json_round_trip() {
        let line = LogLine::parse(r#"{"@level":"error","@message":"boom","code":7}"#);
        assert_eq!(LogLine::parse(&line.to_json()), line);
    }

    #[test]
    fn reserved_keys_cannot_be_forged_by_fields() {
        let line = LogLine {
            level: Level::Info,
            message: "m".into(),
            timestamp: None,
            module: None,
            fields: vec![("@level".into(), "error".into())],
            structured: true,
        };
        assert_eq!(LogLine::parse(&line.to_json()).level, Level::Info);
    }
}

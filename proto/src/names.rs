//! Name and pattern rules of `docs/protocol.md` (PW-HS-3, PW-TOOL-2,
//! PW-CMD-2, PW-HOOK-1, PW-HOOK-2), shared by hosts, SDKs and the
//! conformance suite so all three agree.
//!
//! ```
//! use plugwire_proto::names::{pattern_matches, validate_hook_pattern};
//!
//! assert!(validate_hook_pattern("session.*").is_ok());
//! assert!(pattern_matches("session.*", "session.start"));
//! assert!(!pattern_matches("session.*", "session"));
//! ```

use crate::pb;

/// Checks a plugin name: lower-case ASCII letters, digits and `-`, 1 to 64
/// bytes, starting with a letter (PW-HS-3).
///
/// ```
/// use plugwire_proto::names::validate_plugin_name;
/// assert!(validate_plugin_name("word-count2").is_ok());
/// assert!(validate_plugin_name("Word").is_err());
/// ```
pub fn validate_plugin_name(name: &str) -> Result<(), String> {
    lower_kebab(name, "plugin name")
}

/// Checks a tool name: ASCII letters, digits, `_` and `-`, 1 to 64 bytes
/// (PW-TOOL-2).
///
/// ```
/// use plugwire_proto::names::validate_tool_name;
/// assert!(validate_tool_name("read_file").is_ok());
/// assert!(validate_tool_name("read.file").is_err());
/// ```
pub fn validate_tool_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "tool name {name:?} is invalid: expected 1 to 64 ASCII letters, digits, '_' or '-'"
        ))
    }
}

/// Checks a command, alias or flag name: `^[a-z][a-z0-9-]{0,63}$` (PW-CMD-2).
///
/// ```
/// use plugwire_proto::names::validate_command_name;
/// assert!(validate_command_name("wc").is_ok());
/// assert!(validate_command_name("-wc").is_err());
/// ```
pub fn validate_command_name(name: &str) -> Result<(), String> {
    lower_kebab(name, "command name")
}

fn lower_kebab(name: &str, what: &str) -> Result<(), String> {
    let bytes = name.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= 64
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} {name:?} is invalid: expected 1 to 64 lower-case ASCII letters, digits or '-', starting with a letter"
        ))
    }
}

/// Checks an event name: dot-separated segments of `[A-Za-z0-9_-]+`, at most
/// 256 bytes.
///
/// ```
/// use plugwire_proto::names::validate_event_name;
/// assert!(validate_event_name("request.before").is_ok());
/// assert!(validate_event_name("request..before").is_err());
/// ```
pub fn validate_event_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty() && name.len() <= 256 && name.split('.').all(valid_segment);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "event name {name:?} is invalid: expected dot-separated segments of letters, digits, '_' or '-', such as \"request.before\""
        ))
    }
}

fn valid_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Checks a subscription pattern: `*`, an exact event name, or a prefix
/// followed by `.*` (PW-HOOK-1).
///
/// ```
/// use plugwire_proto::names::validate_hook_pattern;
/// assert!(validate_hook_pattern("*").is_ok());
/// assert!(validate_hook_pattern("a.*.b").is_err());
/// ```
pub fn validate_hook_pattern(pattern: &str) -> Result<(), String> {
    if pattern == "*" {
        return Ok(());
    }
    let name = pattern.strip_suffix(".*").unwrap_or(pattern);
    validate_event_name(name).map_err(|_| {
        format!(
            "hook pattern {pattern:?} is invalid: expected \"*\", an event name such as \"session.start\", or a prefix such as \"session.*\""
        )
    })
}

/// Whether `pattern` matches event `name` (PW-HOOK-2).
///
/// ```
/// use plugwire_proto::names::pattern_matches;
/// assert!(pattern_matches("*", "anything.at.all"));
/// assert!(pattern_matches("a.*", "a.b.c"));
/// assert!(!pattern_matches("a.*", "ab.c"));
/// ```
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix(".*") {
        Some(prefix) => name
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.') && rest.len() > 1),
        None => pattern == name,
    }
}

/// Checks a hook subscription (PW-HOOK-1).
///
/// ```
/// use plugwire_proto::{names::validate_subscription, pb};
/// let sub = pb::HookSubscription {
///     pattern: "request.before".into(),
///     mode: pb::HookMode::Intercept as i32,
///     priority: 0,
///     failure_policy: 0,
/// };
/// assert!(validate_subscription(&sub).is_ok());
/// ```
pub fn validate_subscription(sub: &pb::HookSubscription) -> Result<(), String> {
    validate_hook_pattern(&sub.pattern)?;
    match pb::HookMode::try_from(sub.mode) {
        Ok(pb::HookMode::Observe | pb::HookMode::Intercept) => {}
        _ => {
            return Err(format!(
                "hook subscription {:?} has mode {}: expected HOOK_MODE_OBSERVE (1) or HOOK_MODE_INTERCEPT (2)",
                sub.pattern, sub.mode
            ));
        }
    }
    if pb::FailurePolicy::try_from(sub.failure_policy).is_err() {
        return Err(format!(
            "hook subscription {:?} has failure_policy {}: expected 0, 1 or 2",
            sub.pattern, sub.failure_policy
        ));
    }
    Ok(())
}

/// Checks the capabilities of a handshake (PW-HS-6, PW-HS-7): tool names,
/// hook subscriptions, provider declarations, and unique names. Returns
/// every problem found.
///
/// ```
/// use plugwire_proto::{names::validate_capabilities, pb};
/// let caps = pb::Capabilities { tools: vec!["a".into(), "a".into()], ..Default::default() };
/// assert!(validate_capabilities(&caps).is_err());
/// ```
pub fn validate_capabilities(caps: &pb::Capabilities) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    for tool in &caps.tools {
        if let Err(e) = validate_tool_name(tool) {
            problems.push(e);
        }
    }
    for sub in &caps.hooks {
        if let Err(e) = validate_subscription(sub) {
            problems.push(e);
        }
    }
    for provider in &caps.providers {
        if provider.service.is_empty() || provider.name.is_empty() {
            problems.push(format!(
                "provider {provider:?} needs both a service and a name"
            ));
        }
    }
    let unique =
        |list: &[String]| list.iter().collect::<std::collections::HashSet<_>>().len() == list.len();
    if !unique(&caps.tools) || !unique(&caps.commands) {
        problems.push("tool and command names must be unique (PW-HS-7)".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The full name of a command: its parent path and name, space separated.
///
/// ```
/// use plugwire_proto::{names::command_full_name, pb};
/// let cmd = pb::Command { name: "add".into(), parent: "remote".into(), ..Default::default() };
/// assert_eq!(command_full_name(&cmd), "remote add");
/// ```
pub fn command_full_name(command: &pb::Command) -> String {
    if command.parent.is_empty() {
        command.name.clone()
    } else {
        format!("{} {}", command.parent, command.name)
    }
}

/// Checks one command declaration: names, aliases, flags and positional
/// arguments (PW-CMD-2). Returns every problem found.
///
/// ```
/// use plugwire_proto::{names::validate_command, pb};
/// let cmd = pb::Command {
///     name: "wc".into(),
///     flags: vec![pb::Flag {
///         name: "lines".into(),
///         short: "l".into(),
///         r#type: pb::FlagType::Bool as i32,
///         default_json: "false".into(),
///         ..Default::default()
///     }],
///     ..Default::default()
/// };
/// assert!(validate_command(&cmd).is_ok());
/// ```
pub fn validate_command(command: &pb::Command) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let full = command_full_name(command);
    let mut note = |p: String| problems.push(format!("command {full:?}: {p}"));
    if let Err(e) = validate_command_name(&command.name) {
        note(e);
    }
    for parent in command.parent.split(' ').filter(|s| !s.is_empty()) {
        if let Err(e) = validate_command_name(parent) {
            note(e);
        }
    }
    for alias in &command.aliases {
        if let Err(e) = validate_command_name(alias) {
            note(format!("alias: {e}"));
        }
    }
    let mut names = std::collections::HashSet::new();
    let mut shorts = std::collections::HashSet::new();
    for flag in &command.flags {
        if let Err(e) = lower_kebab(&flag.name, "flag name") {
            note(e);
        }
        if flag.name == "help" {
            note("flag \"help\" is reserved by the host".into());
        }
        if !names.insert(flag.name.as_str()) {
            note(format!("flag {:?} is declared twice", flag.name));
        }
        if !flag.short.is_empty() {
            let mut chars = flag.short.chars();
            let single = matches!((chars.next(), chars.next()), (Some(c), None) if c.is_ascii_alphanumeric());
            if !single {
                note(format!(
                    "flag {:?} has short {:?}: expected one ASCII letter or digit",
                    flag.name, flag.short
                ));
            } else if flag.short == "h" {
                note(format!(
                    "flag {:?}: short \"h\" is reserved by the host",
                    flag.name
                ));
            } else if !shorts.insert(flag.short.as_str()) {
                note(format!("short flag {:?} is declared twice", flag.short));
            }
        }
        let ty = pb::FlagType::try_from(flag.r#type).unwrap_or(pb::FlagType::Unspecified);
        if ty == pb::FlagType::Unspecified {
            note(format!(
                "flag {:?} has no type: set FLAG_TYPE_BOOL, _STRING, _INT, _FLOAT or _STRING_LIST",
                flag.name
            ));
        }
        if !flag.default_json.is_empty() {
            if flag.required {
                note(format!(
                    "flag {:?} is required and so cannot have a default",
                    flag.name
                ));
            }
            match serde_json::from_str::<serde_json::Value>(&flag.default_json) {
                Ok(v) if value_fits(ty, &v) => {}
                _ => note(format!(
                    "flag {:?} has default_json {:?}, which is not JSON of type {}",
                    flag.name,
                    flag.default_json,
                    ty.as_str_name()
                )),
            }
        }
    }
    let mut seen_optional = false;
    for (i, arg) in command.args.iter().enumerate() {
        if arg.variadic && i + 1 != command.args.len() {
            note(format!("arg {:?} is variadic but not last", arg.name));
        }
        if arg.required && seen_optional {
            note(format!(
                "required arg {:?} follows an optional one",
                arg.name
            ));
        }
        seen_optional |= !arg.required;
        if arg.name.is_empty() {
            note(format!("arg {i} has no name"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Checks a list of command declarations: each one (PW-CMD-2), full names
/// unique, and every parent path itself declared (PW-CMD-1). Returns every
/// problem found.
///
/// ```
/// use plugwire_proto::{names::validate_commands, pb};
/// let command = |parent: &str, name: &str| pb::Command {
///     parent: parent.into(),
///     name: name.into(),
///     ..Default::default()
/// };
/// assert!(validate_commands(&[command("", "remote"), command("remote", "add")]).is_ok());
/// let orphan = validate_commands(&[command("remote", "add")]).unwrap_err();
/// assert_eq!(
///     orphan,
///     ["command \"remote add\": its parent \"remote\" is not a declared command (PW-CMD-1): declare it, or empty the parent"]
/// );
/// ```
pub fn validate_commands(commands: &[pb::Command]) -> Result<(), Vec<String>> {
    let mut problems: Vec<String> = commands
        .iter()
        .filter_map(|c| validate_command(c).err())
        .flatten()
        .collect();
    let mut full_names = std::collections::HashSet::new();
    for command in commands {
        let full = command_full_name(command);
        if !full_names.insert(full.clone()) {
            problems.push(format!(
                "command {full:?} is declared twice (PW-CMD-1): full names must be unique"
            ));
        }
    }
    for command in commands {
        let parent = command.parent.as_str();
        if !parent.is_empty() && !full_names.contains(parent) {
            problems.push(format!(
                "command {:?}: its parent {parent:?} is not a declared command (PW-CMD-1): declare it, or empty the parent",
                command_full_name(command)
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Whether a JSON value has the shape of a flag type.
pub(crate) fn value_fits(ty: pb::FlagType, value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match ty {
        pb::FlagType::Bool => value.is_boolean(),
        pb::FlagType::String => value.is_string(),
        pb::FlagType::Int => value.is_i64() || value.is_u64(),
        pb::FlagType::Float => value.is_number(),
        pb::FlagType::StringList => match value {
            Value::Array(items) => items.iter().all(Value::is_string),
            _ => false,
        },
        pb::FlagType::Unspecified => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(pattern_matches("session.start", "session.start"));
        assert!(!pattern_matches("session.start", "session.stop"));
        assert!(pattern_matches("session.*", "session.a.b"));
        assert!(!pattern_matches("session.*", "session."));
        assert!(!pattern_matches("session.*", "sessions.a"));
        for bad in ["", "a.*.b", "a..b", ".a", "a.", "a b", "**", "a.**"] {
            assert!(validate_hook_pattern(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn command_problems_are_all_reported() {
        let cmd = pb::Command {
            name: "Bad".into(),
            flags: vec![
                pb::Flag {
                    name: "x".into(),
                    short: "xy".into(),
                    r#type: 0,
                    ..Default::default()
                },
                pb::Flag {
                    name: "n".into(),
                    r#type: pb::FlagType::Int as i32,
                    default_json: "\"3\"".into(),
                    required: true,
                    ..Default::default()
                },
            ],
            args: vec![
                pb::Arg {
                    name: "a".into(),
                    variadic: true,
                    ..Default::default()
                },
                pb::Arg {
                    name: "b".into(),
                    required: true,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let problems = validate_command(&cmd).unwrap_err();
        assert_eq!(problems.len(), 7, "{problems:#?}");
    }

    #[test]
    fn names() {
        assert!(validate_plugin_name("a").is_ok());
        assert!(validate_plugin_name(&"a".repeat(65)).is_err());
        assert!(validate_plugin_name("1a").is_err());
        assert!(validate_tool_name("").is_err());
        assert!(validate_event_name(&"a".repeat(257)).is_err());
    }
}

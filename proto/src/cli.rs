//! Parsing a command line against a command's declaration (PW-CMD-9).
//!
//! The host (and any test harness standing in for it) turns what the user
//! typed into the `flags_json` and `args` of `CommandStart`. Keeping the
//! parser here means every host and harness parses the same way.
//!
//! Accepted syntax: `--name`, `--name=value`, `--name value`, `-s`,
//! `-s value`, `-svalue`, grouped boolean shorts (`-lw`), and `--` to end
//! flags. A lone `-` is a positional argument (conventionally stdin).
//!
//! ```
//! use plugwire_proto::{cli::parse_invocation, pb};
//!
//! let wc = pb::Command {
//!     name: "wc".into(),
//!     flags: vec![pb::Flag {
//!         name: "lines".into(),
//!         short: "l".into(),
//!         r#type: pb::FlagType::Bool as i32,
//!         default_json: "false".into(),
//!         ..Default::default()
//!     }],
//!     args: vec![pb::Arg { name: "file".into(), variadic: true, ..Default::default() }],
//!     ..Default::default()
//! };
//! let inv = parse_invocation(&wc, &["-l".into(), "a.txt".into()])?;
//! assert_eq!(inv.flags["lines"], true);
//! assert_eq!(inv.args, ["a.txt"]);
//! # Ok::<(), plugwire_proto::cli::UsageError>(())
//! ```

use serde_json::{Map, Value};

use crate::pb::{self, FlagType};

/// The result of parsing a command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// Every flag given or defaulted, by long name, typed.
    pub flags: Map<String, Value>,
    /// Positional arguments in order.
    pub args: Vec<String>,
}

impl Invocation {
    /// `flags` as JSON text, for `CommandStart.flags_json`.
    ///
    /// ```
    /// # use plugwire_proto::cli::Invocation;
    /// let inv = Invocation { flags: Default::default(), args: vec![] };
    /// assert_eq!(inv.flags_json(), "{}");
    /// ```
    pub fn flags_json(&self) -> String {
        Value::Object(self.flags.clone()).to_string()
    }
}

/// A command line that does not fit the declaration. The message says what
/// was wrong and what the command accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct UsageError {
    message: String,
}

impl UsageError {
    fn new(command: &pb::Command, problem: String) -> Self {
        let usage = if command.usage.is_empty() {
            String::new()
        } else {
            format!("\nusage: {}", command.usage)
        };
        Self {
            message: format!("{problem}{usage}"),
        }
    }
}

/// Parses `argv` (the words after the command name) against `command`.
///
/// ```
/// use plugwire_proto::{cli::parse_invocation, pb};
/// let cmd = pb::Command { name: "x".into(), ..Default::default() };
/// let err = parse_invocation(&cmd, &["--nope".into()]).unwrap_err();
/// assert!(err.to_string().contains("unknown flag --nope"));
/// ```
pub fn parse_invocation(command: &pb::Command, argv: &[String]) -> Result<Invocation, UsageError> {
    let err = |problem: String| UsageError::new(command, problem);
    let by_long = |name: &str| command.flags.iter().find(|f| f.name == name);
    let by_short = |c: char| {
        command
            .flags
            .iter()
            .find(|f| f.short.chars().eq(std::iter::once(c)))
    };
    let known = || {
        let names: Vec<String> = command
            .flags
            .iter()
            .map(|f| format!("--{}", f.name))
            .collect();
        if names.is_empty() {
            "this command takes no flags".to_owned()
        } else {
            format!("known flags: {}", names.join(", "))
        }
    };

    let mut flags = Map::new();
    let mut args = Vec::new();
    let mut words = argv.iter();
    while let Some(word) = words.next() {
        if word == "--" {
            args.extend(words.by_ref().cloned());
            break;
        }
        if let Some(long) = word.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            let flag =
                by_long(name).ok_or_else(|| err(format!("unknown flag --{name}; {}", known())))?;
            let value = take_value(flag, inline, &mut words).map_err(&err)?;
            set_flag(&mut flags, flag, value).map_err(&err)?;
        } else if word.len() > 1 && word.starts_with('-') && !is_negative_number(word) {
            let shorts: Vec<char> = word[1..].chars().collect();
            let mut i = 0;
            while i < shorts.len() {
                let c = shorts[i];
                let flag =
                    by_short(c).ok_or_else(|| err(format!("unknown flag -{c}; {}", known())))?;
                if flag_type(flag) == FlagType::Bool {
                    set_flag(&mut flags, flag, "true".to_owned()).map_err(&err)?;
                    i += 1;
                } else {
                    let rest: String = shorts[i + 1..].iter().collect();
                    let inline = (!rest.is_empty()).then_some(rest);
                    let value = take_value(flag, inline, &mut words).map_err(&err)?;
                    set_flag(&mut flags, flag, value).map_err(&err)?;
                    break;
                }
            }
        } else {
            args.push(word.clone());
        }
    }

    for flag in &command.flags {
        if flags.contains_key(&flag.name) {
            continue;
        }
        if flag.required {
            return Err(err(format!("missing required flag --{}", flag.name)));
        }
        if !flag.default_json.is_empty() {
            let value = serde_json::from_str(&flag.default_json).map_err(|e| {
                err(format!(
                    "flag --{} has an invalid default {:?} in the plugin's declaration: {e}",
                    flag.name, flag.default_json
                ))
            })?;
            flags.insert(flag.name.clone(), value);
        }
    }
    check_positionals(command, &args).map_err(&err)?;
    Ok(Invocation { flags, args })
}

fn flag_type(flag: &pb::Flag) -> FlagType {
    FlagType::try_from(flag.r#type).unwrap_or(FlagType::Unspecified)
}

fn is_negative_number(word: &str) -> bool {
    word[1..].parse::<f64>().is_ok()
}

fn take_value<'a>(
    flag: &pb::Flag,
    inline: Option<String>,
    words: &mut impl Iterator<Item = &'a String>,
) -> Result<String, String> {
    if flag_type(flag) == FlagType::Bool {
        return Ok(inline.unwrap_or_else(|| "true".to_owned()));
    }
    match inline {
        Some(v) => Ok(v),
        None => words
            .next()
            .cloned()
            .ok_or_else(|| format!("flag --{} needs a value", flag.name)),
    }
}

fn set_flag(flags: &mut Map<String, Value>, flag: &pb::Flag, raw: String) -> Result<(), String> {
    let ty = flag_type(flag);
    let bad = |expected: &str| format!("flag --{}: expected {expected}, saw {raw:?}", flag.name);
    let value = match ty {
        FlagType::Bool => match raw.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(bad("true or false")),
        },
        FlagType::String => Value::String(raw.clone()),
        FlagType::Int => raw
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| bad("an integer"))?,
        FlagType::Float => raw
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| bad("a number"))?,
        FlagType::StringList => {
            let list = flags
                .entry(flag.name.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(items) = list {
                items.push(Value::String(raw));
            }
            return Ok(());
        }
        FlagType::Unspecified => {
            return Err(format!(
                "flag --{} has no type in the plugin's declaration",
                flag.name
            ));
        }
    };
    if flags.insert(flag.name.clone(), value).is_some() && ty != FlagType::Bool {
        return Err(format!("flag --{} given more than once", flag.name));
    }
    Ok(())
}

fn check_positionals(command: &pb::Command, args: &[String]) -> Result<(), String> {
    let required = command.args.iter().filter(|a| a.required).count();
    if args.len() < required {
        let missing = &command.args[args.len()];
        return Err(format!("missing argument <{}>", missing.name));
    }
    let variadic = command.args.last().is_some_and(|a| a.variadic);
    if !variadic && args.len() > command.args.len() {
        return Err(format!(
            "unexpected argument {:?}: this command takes at most {} positional argument(s)",
            args[command.args.len()],
            command.args.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(name: &str, short: &str, ty: FlagType, default: &str) -> pb::Flag {
        pb::Flag {
            name: name.into(),
            short: short.into(),
            r#type: ty as i32,
            default_json: default.into(),
            ..Default::default()
        }
    }

    fn cmd() -> pb::Command {
        pb::Command {
            name: "t".into(),
            usage: "t [flags] SRC [DST...]".into(),
            flags: vec![
                flag("verbose", "v", FlagType::Bool, "false"),
                flag("all", "a", FlagType::Bool, ""),
                flag("name", "n", FlagType::String, ""),
                flag("count", "c", FlagType::Int, "1"),
                flag("ratio", "", FlagType::Float, ""),
                flag("tag", "t", FlagType::StringList, "[]"),
            ],
            args: vec![
                pb::Arg {
                    name: "src".into(),
                    required: true,
                    ..Default::default()
                },
                pb::Arg {
                    name: "dst".into(),
                    variadic: true,
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
    }

    fn parse(words: &[&str]) -> Result<Invocation, UsageError> {
        let argv: Vec<String> = words.iter().map(|s| s.to_string()).collect();
        parse_invocation(&cmd(), &argv)
    }

    #[test]
    fn long_short_grouped_and_inline() {
        let inv = parse(&[
            "-va", "--name=x", "-c5", "--ratio", "0.5", "-t", "a", "--tag=b", "src",
        ])
        .unwrap();
        assert_eq!(inv.flags["verbose"], true);
        assert_eq!(inv.flags["all"], true);
        assert_eq!(inv.flags["name"], "x");
        assert_eq!(inv.flags["count"], 5);
        assert_eq!(inv.flags["ratio"], 0.5);
        assert_eq!(inv.flags["tag"], serde_json::json!(["a", "b"]));
        assert_eq!(inv.args, ["src"]);
    }

    #[test]
    fn defaults_apply_and_optional_flags_without_default_are_absent() {
        let inv = parse(&["src", "d1", "d2"]).unwrap();
        assert_eq!(inv.flags["verbose"], false);
        assert_eq!(inv.flags["count"], 1);
        assert_eq!(inv.flags["tag"], serde_json::json!([]));
        assert!(!inv.flags.contains_key("name"));
        assert_eq!(inv.args, ["src", "d1", "d2"]);
    }

    #[test]
    fn double_dash_ends_flags_and_negative_numbers_are_positional() {
        let inv = parse(&["--", "--verbose", "-x"]).unwrap();
        assert_eq!(inv.args, ["--verbose", "-x"]);
        let inv = parse(&["-5", "-"]).unwrap();
        assert_eq!(inv.args, ["-5", "-"]);
    }

    #[test]
    fn errors() {
        let e = |w: &[&str]| parse(w).unwrap_err().to_string();
        assert!(e(&["--nope", "s"]).contains("unknown flag --nope"));
        assert!(e(&["-z", "s"]).contains("unknown flag -z"));
        assert!(e(&["--count", "x", "s"]).contains("expected an integer, saw \"x\""));
        assert!(e(&["s", "--name"]).contains("needs a value"));
        assert!(e(&[]).contains("missing argument <src>"));
        assert!(e(&["--name=a", "--name=b", "s"]).contains("more than once"));
        assert!(e(&["--verbose=maybe", "s"]).contains("true or false"));
        assert!(e(&[]).contains("usage: t [flags]"));
    }

    #[test]
    fn required_flags_and_too_many_args() {
        let mut c = cmd();
        c.flags[2].required = true;
        c.args.truncate(1);
        let err = parse_invocation(&c, &["s".into()]).unwrap_err().to_string();
        assert!(err.contains("missing required flag --name"), "{err}");
        let err = parse_invocation(&c, &["--name=x".into(), "s".into(), "extra".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unexpected argument \"extra\""), "{err}");
    }
}

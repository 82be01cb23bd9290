//! Help for a plugin command, built from its declaration: what a host
//! prints for `COMMAND --help` (PW-CMD-10) without starting the command.
//!
//! ```
//! use plugwire_proto::{help, pb};
//! let wc = pb::Command {
//!     name: "wc".into(),
//!     short: "Count words".into(),
//!     flags: vec![pb::Flag {
//!         name: "words".into(),
//!         short: "w".into(),
//!         r#type: pb::FlagType::Bool as i32,
//!         description: "Count words".into(),
//!         ..Default::default()
//!     }],
//!     ..Default::default()
//! };
//! let text = help::render(&wc, &[]);
//! assert!(text.starts_with("wc: Count words\n"));
//! assert!(text.contains("  -w, --words"));
//! assert!(text.contains("  -h, --help"));
//! assert!(help::wants_help(&["-w".into(), "--help".into()]));
//! assert!(!help::wants_help(&["--".into(), "--help".into()]), "an argument after --");
//! ```

use crate::pb::{self, FlagType};

/// Whether the user asked for help: `--help` or `-h` before any `--`.
pub fn wants_help(argv: &[String]) -> bool {
    argv.iter()
        .take_while(|w| *w != "--")
        .any(|w| w == "--help" || w == "-h")
}

/// The help text of `command`; `subcommands` are the commands declared
/// under it.
pub fn render(command: &pb::Command, subcommands: &[&pb::Command]) -> String {
    let full = if command.parent.is_empty() {
        command.name.clone()
    } else {
        format!("{} {}", command.parent, command.name)
    };
    let mut out = if command.short.is_empty() {
        format!("{full}\n")
    } else {
        format!("{full}: {}\n", command.short)
    };
    out.push_str(&format!(
        "\nUsage: {}\n",
        usage(command, &full, !subcommands.is_empty())
    ));
    if !command.long.is_empty() {
        out.push_str(&format!("\n{}\n", command.long.trim_end()));
    }
    if !command.args.is_empty() {
        out.push_str("\nArguments:\n");
        let rows: Vec<(String, String)> = command
            .args
            .iter()
            .map(|a| (arg_name(a), a.description.clone()))
            .collect();
        out.push_str(&table(&rows));
    }
    out.push_str("\nOptions:\n");
    let mut rows: Vec<(String, String)> = command
        .flags
        .iter()
        .map(|f| (flag_name(f), flag_text(f)))
        .collect();
    rows.push(("-h, --help".into(), "Show this help".into()));
    out.push_str(&table(&rows));
    if !subcommands.is_empty() {
        out.push_str("\nSubcommands:\n");
        let rows: Vec<(String, String)> = subcommands
            .iter()
            .map(|c| (c.name.clone(), c.short.clone()))
            .collect();
        out.push_str(&table(&rows));
    }
    if !command.aliases.is_empty() {
        out.push_str(&format!("\nAliases: {}\n", command.aliases.join(", ")));
    }
    out
}

/// The declared usage line, or one built from the flags and arguments.
fn usage(command: &pb::Command, full: &str, has_subcommands: bool) -> String {
    if !command.usage.is_empty() {
        return command.usage.clone();
    }
    let mut words = vec![full.to_owned()];
    if has_subcommands {
        words.push("[SUBCOMMAND]".into());
    }
    for f in &command.flags {
        let flag = match FlagType::try_from(f.r#type) {
            Ok(FlagType::Bool) => format!("--{}", f.name),
            _ => format!("--{} <{}>", f.name, value_name(f)),
        };
        words.push(if f.required {
            flag
        } else {
            format!("[{flag}]")
        });
    }
    words.extend(command.args.iter().map(arg_name));
    words.join(" ")
}

fn arg_name(a: &pb::Arg) -> String {
    let name = a.name.to_uppercase();
    let name = if a.variadic {
        format!("{name}...")
    } else {
        name
    };
    if a.required {
        format!("<{name}>")
    } else {
        format!("[{name}]")
    }
}

fn value_name(f: &pb::Flag) -> &'static str {
    match FlagType::try_from(f.r#type) {
        Ok(FlagType::Int) => "INT",
        Ok(FlagType::Float) => "NUMBER",
        Ok(FlagType::StringList) => "TEXT...",
        _ => "TEXT",
    }
}

fn flag_name(f: &pb::Flag) -> String {
    let long = match FlagType::try_from(f.r#type) {
        Ok(FlagType::Bool) => format!("--{}", f.name),
        _ => format!("--{} <{}>", f.name, value_name(f)),
    };
    if f.short.is_empty() {
        format!("    {long}")
    } else {
        format!("-{}, {long}", f.short)
    }
}

fn flag_text(f: &pb::Flag) -> String {
    let mut notes = Vec::new();
    if f.required {
        notes.push("required".to_owned());
    }
    if !f.default_json.is_empty() && f.default_json != "false" && f.default_json != "[]" {
        notes.push(format!("default {}", f.default_json));
    }
    match (f.description.is_empty(), notes.is_empty()) {
        (_, true) => f.description.clone(),
        (true, false) => format!("({})", notes.join(", ")),
        (false, false) => format!("{} ({})", f.description, notes.join(", ")),
    }
}

/// Two columns, the first padded to its widest cell.
fn table(rows: &[(String, String)]) -> String {
    let width = rows
        .iter()
        .map(|(a, _)| a.chars().count())
        .max()
        .unwrap_or(0);
    rows.iter()
        .map(|(a, b)| {
            if b.is_empty() {
                format!("  {a}\n")
            } else {
                format!("  {a:<width$}  {b}\n")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(name: &str, short: &str, kind: FlagType, default: &str) -> pb::Flag {
        pb::Flag {
            name: name.into(),
            short: short.into(),
            r#type: kind as i32,
            default_json: default.into(),
            description: format!("The {name}"),
            ..Default::default()
        }
    }

    #[test]
    fn help_shows_flags_arguments_subcommands_and_aliases() {
        let remote = pb::Command {
            name: "remote".into(),
            short: "Manage remotes".into(),
            aliases: vec!["r".into()],
            flags: vec![
                flag("verbose", "v", FlagType::Bool, "false"),
                flag("depth", "", FlagType::Int, "3"),
            ],
            args: vec![pb::Arg {
                name: "name".into(),
                description: "Which remote".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let add = pb::Command {
            name: "add".into(),
            parent: "remote".into(),
            short: "Add one".into(),
            ..Default::default()
        };
        let text = render(&remote, &[&add]);
        assert_eq!(
            text,
            "remote: Manage remotes\n\
             \n\
             Usage: remote [SUBCOMMAND] [--verbose] [--depth <INT>] [NAME]\n\
             \n\
             Arguments:\n\
             \x20 [NAME]  Which remote\n\
             \n\
             Options:\n\
             \x20 -v, --verbose      The verbose\n\
             \x20     --depth <INT>  The depth (default 3)\n\
             \x20 -h, --help         Show this help\n\
             \n\
             Subcommands:\n\
             \x20 add  Add one\n\
             \n\
             Aliases: r\n"
        );
        assert!(render(&add, &[]).starts_with("remote add: Add one\n"));
    }

    #[test]
    fn help_is_asked_before_the_end_of_flags_only() {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(wants_help(&words(&["-h"])));
        assert!(wants_help(&words(&["a", "--help", "b"])));
        assert!(!wants_help(&words(&["--helpful"])));
        assert!(!wants_help(&words(&["x", "--", "-h"])));
    }
}

//! Plugin commands as `clap::Command`s (feature `clap`), so that an
//! application's own command line shows them in its help and completions
//! beside its built-in commands. Parsing stays the host's
//! ([`crate::Host::run_command`] and PW-CMD-9): these describe the commands,
//! with the flags, types, defaults, arguments and subcommands each declares.
//!
//! ```
//! use plugwire_host::clap_commands::commands;
//! use plugwire_proto::pb;
//! let wc = plugwire_host::CommandInfo {
//!     plugin: "wordcount".into(),
//!     full_name: "wc".into(),
//!     declaration: pb::Command {
//!         name: "wc".into(),
//!         short: "Count words".into(),
//!         flags: vec![pb::Flag {
//!             name: "words".into(),
//!             short: "w".into(),
//!             r#type: pb::FlagType::Bool as i32,
//!             ..Default::default()
//!         }],
//!         ..Default::default()
//!     },
//! };
//! let app = clap::Command::new("app").subcommands(commands(&[wc]));
//! let matches = app.try_get_matches_from(["app", "wc", "-w"]).unwrap();
//! let (name, wc) = matches.subcommand().unwrap();
//! assert_eq!(name, "wc");
//! assert!(wc.get_flag("words"));
//! ```

use clap::{Arg, ArgAction, Command};
use plugwire_proto::pb::{self, FlagType};

use crate::calls::CommandInfo;

/// Every top-level plugin command, with the commands declared under it as
/// its subcommands.
pub fn commands(all: &[CommandInfo]) -> Vec<Command> {
    let declarations: Vec<&pb::Command> = all.iter().map(|c| &c.declaration).collect();
    declarations
        .iter()
        .filter(|c| c.parent.is_empty())
        .map(|c| with_children(c, "", &declarations))
        .collect()
}

fn with_children(command: &pb::Command, parent: &str, all: &[&pb::Command]) -> Command {
    let full = if parent.is_empty() {
        command.name.clone()
    } else {
        format!("{parent} {}", command.name)
    };
    let mut out = command_for(command);
    for child in all.iter().filter(|c| c.parent == full) {
        out = out.subcommand(with_children(child, &full, all));
    }
    out
}

/// One declaration as a `clap::Command` (without its subcommands).
pub fn command_for(command: &pb::Command) -> Command {
    let mut out = Command::new(command.name.clone())
        .about(command.short.clone())
        .visible_aliases(command.aliases.clone());
    if !command.long.is_empty() {
        out = out.long_about(command.long.clone());
    }
    if !command.usage.is_empty() {
        out = out.override_usage(command.usage.clone());
    }
    for flag in &command.flags {
        out = out.arg(flag_arg(flag));
    }
    for (i, arg) in command.args.iter().enumerate() {
        // A flag may share a positional argument's name; clap may not.
        let id = if command.flags.iter().any(|f| f.name == arg.name) {
            format!("{}-arg", arg.name)
        } else {
            arg.name.clone()
        };
        let mut positional = Arg::new(id)
            .index(i + 1)
            .value_name(arg.name.to_uppercase())
            .help(arg.description.clone())
            .required(arg.required);
        if arg.variadic {
            positional = positional.num_args(1..).action(ArgAction::Append);
        }
        out = out.arg(positional);
    }
    out
}

fn flag_arg(flag: &pb::Flag) -> Arg {
    let mut arg = Arg::new(flag.name.clone())
        .long(flag.name.clone())
        .help(flag.description.clone())
        .required(flag.required);
    if let Some(short) = flag.short.chars().next() {
        arg = arg.short(short);
    }
    match FlagType::try_from(flag.r#type) {
        Ok(FlagType::Bool) => arg.action(ArgAction::SetTrue),
        Ok(FlagType::Int) => with_default(
            arg.value_parser(clap::value_parser!(i64)).value_name("INT"),
            flag,
        ),
        Ok(FlagType::Float) => with_default(
            arg.value_parser(clap::value_parser!(f64))
                .value_name("NUMBER"),
            flag,
        ),
        Ok(FlagType::StringList) => arg.action(ArgAction::Append).value_name("TEXT"),
        _ => with_default(arg.value_name("TEXT"), flag),
    }
}

fn with_default(arg: Arg, flag: &pb::Flag) -> Arg {
    match serde_json::from_str::<serde_json::Value>(&flag.default_json) {
        Ok(serde_json::Value::String(s)) => arg.default_value(s),
        Ok(serde_json::Value::Number(n)) => arg.default_value(n.to_string()),
        _ => arg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(declaration: pb::Command) -> CommandInfo {
        CommandInfo {
            plugin: "p".into(),
            full_name: declaration.name.clone(),
            declaration,
        }
    }

    #[test]
    fn flags_arguments_defaults_and_subcommands() {
        let remote = pb::Command {
            name: "remote".into(),
            flags: vec![pb::Flag {
                name: "depth".into(),
                r#type: FlagType::Int as i32,
                default_json: "3".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let add = pb::Command {
            name: "add".into(),
            parent: "remote".into(),
            args: vec![pb::Arg {
                name: "url".into(),
                required: true,
                variadic: true,
                ..Default::default()
            }],
            ..Default::default()
        };
        let app = Command::new("app").subcommands(commands(&[info(remote), info(add)]));
        let m = app
            .clone()
            .try_get_matches_from(["app", "remote", "add", "a", "b"])
            .unwrap();
        let remote = m.subcommand_matches("remote").unwrap();
        assert_eq!(remote.get_one::<i64>("depth"), Some(&3));
        let add = remote.subcommand_matches("add").unwrap();
        let urls: Vec<&String> = add.get_many("url").unwrap().collect();
        assert_eq!(urls, ["a", "b"]);
        assert!(
            app.try_get_matches_from(["app", "remote", "--depth", "x"])
                .is_err()
        );
    }
}

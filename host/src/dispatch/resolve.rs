//! Which plugin a name means, as pure functions over what the plugins
//! declare: a bare tool name, a command line, the order of intercepting
//! hooks. Dispatch applies them to the live registry; these have no
//! process, so tests give them plain declarations.

use plugwire_proto::names::command_full_name;
use plugwire_proto::pb;

/// The one plugin among `owners` (plugin name, the tools it is known to
/// offer) that offers `tool`; several is ambiguous.
pub(crate) fn bare_tool<'a>(
    tool: &str,
    owners: impl IntoIterator<Item = (&'a str, &'a [String])>,
) -> Result<&'a str, Vec<&'a str>> {
    let offering: Vec<&str> = owners
        .into_iter()
        .filter(|(_, tools)| tools.iter().any(|t| t == tool))
        .map(|(plugin, _)| plugin)
        .collect();
    match offering.as_slice() {
        [one] => Ok(one),
        _ => Err(offering),
    }
}

/// A command line matched against the declared commands.
#[derive(Debug, PartialEq)]
pub(crate) enum CommandMatch<P, C> {
    /// Nothing matches.
    None,
    /// One command: its plugin, its declaration, and how many words of the
    /// line named it (the rest are its arguments).
    One(P, C, usize),
    /// Several commands match as long a prefix: (plugin, command name).
    Ambiguous(Vec<(P, String)>),
}

/// The longest command path (parent words, then the name or an alias)
/// that begins `line`, among `commands` (plugin, declaration, owned or
/// borrowed: dispatch passes references, so a run copies no declaration).
pub(crate) fn command<P: Clone + PartialEq, C: std::borrow::Borrow<pb::Command>>(
    line: &[String],
    commands: impl IntoIterator<Item = (P, C)>,
) -> CommandMatch<P, C> {
    let mut best: Vec<(usize, P, C)> = Vec::new();
    for (plugin, declared) in commands {
        let command = declared.borrow();
        let path: Vec<&str> = command
            .parent
            .split(' ')
            .filter(|w| !w.is_empty())
            .collect();
        let longest = std::iter::once(&command.name)
            .chain(&command.aliases)
            .filter_map(|name| {
                let words = path.len() + 1;
                let matches = line.len() >= words
                    && line.iter().zip(&path).all(|(a, b)| a == b)
                    && &line[path.len()] == name;
                matches.then_some(words)
            })
            .max();
        if let Some(words) = longest {
            best.push((words, plugin, declared));
        }
    }
    let longest = best.iter().map(|b| b.0).max().unwrap_or(0);
    best.retain(|b| b.0 == longest);
    best.dedup_by(|a, b| {
        a.1 == b.1 && command_full_name(a.2.borrow()) == command_full_name(b.2.borrow())
    });
    match best.len() {
        0 => CommandMatch::None,
        1 => {
            let (words, plugin, command) = best.remove(0);
            CommandMatch::One(plugin, command, words)
        }
        _ => CommandMatch::Ambiguous(
            best.into_iter()
                .map(|b| (b.1, b.2.borrow().name.clone()))
                .collect(),
        ),
    }
}

/// The order intercepting hooks run in: priority, then plugin name.
pub(crate) fn intercept_order<T>(chain: &mut [T], key: impl Fn(&T) -> (i32, &str)) {
    chain.sort_by(|a, b| key(a).cmp(&key(b)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split(' ').map(str::to_owned).collect()
    }

    fn cmd(parent: &str, name: &str, aliases: &[&str]) -> pb::Command {
        pb::Command {
            parent: parent.into(),
            name: name.into(),
            aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_bare_tool_name_needs_exactly_one_owner() {
        let echo = ["echo".to_owned(), "slow".to_owned()];
        let impostor = ["echo".to_owned()];
        let kv = ["get".to_owned()];
        let owners = || {
            [
                ("echo", &echo[..]),
                ("impostor", &impostor[..]),
                ("kv", &kv[..]),
            ]
        };
        assert_eq!(bare_tool("slow", owners()), Ok("echo"));
        assert_eq!(bare_tool("get", owners()), Ok("kv"));
        assert_eq!(bare_tool("echo", owners()), Err(vec!["echo", "impostor"]));
        assert_eq!(bare_tool("nope", owners()), Err(vec![]));
    }

    #[test]
    fn the_longest_command_path_wins() {
        let commands = || {
            [
                ("git", cmd("", "remote", &[])),
                ("git", cmd("remote", "add", &["a"])),
                ("wc", cmd("", "wc", &["count"])),
            ]
        };
        let CommandMatch::One(plugin, found, n) =
            command(&words("remote add origin x"), commands())
        else {
            panic!()
        };
        assert_eq!((plugin, found.name.as_str(), n), ("git", "add", 2));
        let CommandMatch::One(_, found, n) = command(&words("remote a origin"), commands()) else {
            panic!()
        };
        assert_eq!((found.name.as_str(), n), ("add", 2), "by alias");
        let CommandMatch::One(_, found, n) = command(&words("remote show"), commands()) else {
            panic!()
        };
        assert_eq!((found.name.as_str(), n), ("remote", 1));
        assert_eq!(
            command(&words("count -l"), commands()).clone_plugin(),
            Some("wc")
        );
        assert_eq!(command(&words("nothing"), commands()), CommandMatch::None);
    }

    #[test]
    fn two_plugins_declaring_one_command_are_ambiguous() {
        let commands = [("a", cmd("", "wc", &[])), ("b", cmd("", "wc", &[]))];
        assert_eq!(
            command(&words("wc -l"), commands),
            CommandMatch::Ambiguous(vec![("a", "wc".to_owned()), ("b", "wc".to_owned())])
        );
        let same = [("a", cmd("", "wc", &["w"])), ("a", cmd("", "wc", &["w"]))];
        assert!(matches!(
            command(&words("wc"), same),
            CommandMatch::One("a", _, 1)
        ));
    }

    #[test]
    fn hooks_run_by_priority_then_name() {
        let mut chain = vec![(10, "b"), (-5, "z"), (10, "a"), (0, "m")];
        intercept_order(&mut chain, |(p, n)| (*p, n));
        assert_eq!(chain, [(-5, "z"), (0, "m"), (10, "a"), (10, "b")]);
    }

    impl<P: Clone, C> CommandMatch<P, C> {
        fn clone_plugin(&self) -> Option<P> {
            match self {
                CommandMatch::One(p, _, _) => Some(p.clone()),
                _ => None,
            }
        }
    }
}

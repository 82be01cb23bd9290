//! The README's "Try it" works as written: each command of its first
//! block runs, from a fresh home directory, and prints what it should.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::examples;

/// The words of a shell line: spaces split, single quotes group.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    out.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(word);
    }
    out
}

/// The first fenced block after `## Try it`.
fn try_it() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let section = &readme[readme.find("## Try it").expect("a Try it section")..];
    let block = section.split("```").nth(1).expect("a block of commands");
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_readme_try_it_works_from_a_fresh_home() {
    let home = tempfile::tempdir().unwrap();
    let lines = try_it();
    assert!(lines.len() >= 5, "{lines:?}");
    let examples = examples();
    for line in &lines {
        let (stdin, command) = match line.split_once(" | ") {
            Some((echo, rest)) => {
                let input = words(echo);
                assert_eq!(input[0], "echo", "{line}");
                (format!("{}\n", input[1..].join(" ")), rest)
            }
            None => (String::new(), line.as_str()),
        };
        let mut args = words(command);
        assert_eq!(args.remove(0), "target/release/plugwire", "{line}");
        for arg in &mut args {
            if arg == "target/plugwire-examples" {
                *arg = examples.display().to_string();
            }
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_plugwire"))
            .args(&args)
            .current_dir(home.path())
            .env("HOME", home.path())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("PLUGWIRE_PLUGIN_PATH")
            .env_remove("PLUGWIRE_SANDBOX")
            .env_remove("PLUGWIRE_SOCKET")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "`{line}` failed:\n{stdout}\n{stderr}");
        let expected = match args
            .iter()
            .find(|a| !a.starts_with('-') && !a.contains('/'))
            .map(String::as_str)
        {
            Some("list") => "echo ",
            Some("call") => "hi",
            Some("grant") => "granted ",
            Some("wc") if args.contains(&"--help".to_owned()) => "Usage: ",
            Some("wc") => "3",
            Some("emit") => "[REDACTED]",
            Some("doctor") => "kernel",
            other => panic!(
                "the README runs {other:?}, which this test does not know: add what it prints"
            ),
        };
        assert!(
            stdout.contains(expected),
            "`{line}` printed:\n{stdout}\n{stderr}"
        );
        assert!(
            !stderr.contains("ERROR"),
            "`{line}` printed log records:\n{stderr}"
        );
    }
}

#[test]
fn shell_words_are_split_as_a_shell_would() {
    assert_eq!(
        words(r#"a 'b c' '{"x":1}' d"#),
        ["a", "b c", r#"{"x":1}"#, "d"]
    );
}

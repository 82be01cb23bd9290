//! The `plugwire` command line, as a user and a script see it.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{copy_dir, examples};
use serde_json::Value;

fn plugwire(args: &[&str], stdin: &[u8]) -> Output {
    plugwire_with(&["--yes"], args, stdin)
}

/// The stdout of a run that must succeed (its stderr shown if not).
fn succeeded(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The stderr of a run that must fail (its stdout shown if not).
fn failed(out: Output) -> String {
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs the CLI with its own config and data directories, so the user's
/// grants and storage are never touched.
fn plugwire_with(global: &[&str], args: &[&str], stdin: &[u8]) -> Output {
    let data = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_plugwire"));
    command
        .arg("--no-standard-dirs")
        .args(global)
        .env("XDG_CONFIG_HOME", data.path().join("config"))
        .arg("--plugin-dir")
        .arg(examples())
        .args(args)
        .env("XDG_DATA_HOME", data.path())
        .env_remove("PLUGWIRE_PLUGIN_PATH");
    with_stdin(command, stdin)
}

/// Runs `command` with `stdin` written to it, and collects its output.
fn with_stdin(mut command: Command, stdin: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_has_examples() {
    let out = plugwire(&["--help"], b"");
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("plugwire call echo.echo"));
}

#[test]
fn list_as_table_and_json() {
    let out = plugwire(&["list"], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.starts_with("PLUGIN"), "{table}");
    for name in [
        "audit",
        "echo",
        "faulty",
        "hostile",
        "kv",
        "probe",
        "wordcount",
    ] {
        assert!(table.contains(name), "{table}");
    }
    // Listing starts nothing; --start starts each plugin to show it runs.
    let states = |args: &[&str]| -> Vec<String> {
        let out = plugwire(args, b"");
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        json["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["state"].as_str().unwrap().to_owned())
            .collect()
    };
    let listed = states(&["--json", "list"]);
    assert_eq!(listed.len(), 8);
    assert!(listed.iter().all(|s| s == "stopped"), "{listed:?}");
    let started = states(&["--json", "list", "--start"]);
    assert!(started.iter().all(|s| s == "ready"), "{started:?}");
    // What each offers.
    let table = succeeded(plugwire(&["list", "--capabilities"], b""));
    assert!(table.starts_with("PLUGIN"), "{table}");
    let audit = table.lines().find(|l| l.starts_with("audit")).unwrap();
    assert_eq!(
        audit.split_whitespace().collect::<Vec<_>>(),
        ["audit", "0.1.0", "ready", "0", "0", "2", "0"]
    );
    let json: Value =
        serde_json::from_str(&succeeded(plugwire(&["--json", "list", "-c"], b""))).unwrap();
    let echo = json["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "echo")
        .unwrap();
    assert!(
        echo["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "echo.echo")
    );
}

#[test]
fn call_prints_results_and_sets_the_exit_code() {
    let out = plugwire(&["call", "echo.echo", r#"{"text":"hi"}"#], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hi\n");

    let out = plugwire(&["call", "echo.echo", "-"], br#"{"text":"from stdin"}"#);
    assert_eq!(text(&out.stdout), "from stdin\n");

    let out = plugwire(
        &["--json", "call", "echo.fail", r#"{"message":"nope"}"#],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "is_error exits non-zero");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["is_error"], true);

    let out = plugwire(&["call", "echo.echo", "{}"], b"");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("error: arguments /text: \"text\" is a required property"),
        "{err}"
    );
    assert!(err.contains("hint: "), "{err}");

    let out = plugwire(&["call", "echo.echo", "{not json"], b"");
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(text(&out.stderr).contains("arguments: not JSON"));

    let out = plugwire(
        &[
            "call",
            "echo.slow",
            r#"{"steps":2,"delay_ms":1}"#,
            "--progress",
        ],
        b"",
    );
    assert!(
        text(&out.stderr).contains("progress 2/2"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn run_streams_stdio_and_propagates_the_exit_code() {
    let out = plugwire(&["run", "wc", "--lines"], b"a\nb\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "      2\n");
    let out = plugwire(&["run", "wc", "/no/such/file"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "wc: /no/such/file: No such file or directory\n"
    );
}

#[test]
fn help_of_a_plugin_command_comes_from_its_declaration() {
    for flag in ["--help", "-h"] {
        let out = plugwire(&["run", "wc", flag], b"");
        let help = succeeded(out);
        assert!(help.starts_with("wc: "), "{help}");
        assert!(help.contains("Usage: "), "{help}");
        assert!(help.contains("-l, --lines"), "{help}");
        assert!(help.contains("-h, --help"), "{help}");
    }
    // After `--` it is the command's argument, not a request for help.
    let out = plugwire(&["run", "wc", "--", "--help"], b"");
    assert_eq!(out.status.code(), Some(2), "wc reads a file named --help");
}

#[test]
fn plugin_commands_are_plugwire_commands() {
    let out = plugwire(&["wc", "--words"], b"one two three\n");
    assert_eq!(succeeded(out).trim(), "3");
    let help = succeeded(plugwire(&["wc", "--help"], b""));
    assert!(help.starts_with("wc: "), "{help}");
    // A misspelt built-in command is no plugin command either.
    let err = failed(plugwire(&["lsit"], b""));
    assert!(
        err.contains("did you mean \"list\"? (a plugwire command"),
        "{err}"
    );
}

/// On a terminal (a pseudo-terminal from util-linux's `script`), starting
/// many plugins shows a spinner, cleared once they are up; in a pipe,
/// nothing.
#[test]
fn starting_many_plugins_shows_a_spinner_on_a_terminal_only() {
    let data = tempfile::tempdir().unwrap();
    let line = format!(
        "{} --no-standard-dirs --plugin-dir {} -y list --start",
        env!("CARGO_BIN_EXE_plugwire"),
        examples().display()
    );
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("XDG_CONFIG_HOME", data.path().join("config"))
        .env("XDG_DATA_HOME", data.path())
        .env_remove("PLUGWIRE_PLUGIN_PATH")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("starting 8 plugins"), "{shown}");
    assert!(shown.contains("PLUGIN"), "{shown}");
    let piped = plugwire(&["list", "--start"], b"");
    assert!(
        !text(&piped.stderr).contains("starting"),
        "{}",
        text(&piped.stderr)
    );
}

/// A broken manifest beside the plugin a command uses is not that
/// command's business; `list` reports it.
#[test]
fn problems_of_plugins_a_command_does_not_use_are_not_printed() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&examples().join("echo"), &dir.path().join("echo"));
    std::fs::create_dir_all(dir.path().join("broken")).unwrap();
    std::fs::write(dir.path().join("broken/plugin.toml"), "name = \"Bad\"\n").unwrap();
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_plugwire"))
            .args([
                "--no-standard-dirs",
                "--plugin-dir",
                dir.path().to_str().unwrap(),
            ])
            .args(args)
            .env("XDG_CONFIG_HOME", data.path().join("config"))
            .env("XDG_DATA_HOME", data.path())
            .env_remove("PLUGWIRE_PLUGIN_PATH")
            .output()
            .unwrap()
    };
    let out = run(&["call", "echo.echo", r#"{"text":"x"}"#]);
    assert!(out.status.success());
    assert_eq!(text(&out.stderr), "", "nothing about the broken one");
    let out = run(&["list"]);
    assert!(
        text(&out.stderr).contains("skipped: "),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_event_nobody_hears_gets_a_note() {
    let out = plugwire(&["emit", "requets.before", "{}"], b"");
    assert!(
        out.status.success(),
        "emitting what nobody hears is allowed"
    );
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "note: no plugin subscribes to \"requets.before\" by name; did you mean \"request.before\"?"
        ),
        "{err}"
    );
    let out = plugwire(&["emit", "request.before", "{}"], b"");
    assert!(
        !text(&out.stderr).contains("note:"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_tilde_in_the_plugin_path_is_the_home_directory() {
    let home = tempfile::tempdir().unwrap();
    copy_dir(&examples().join("echo"), &home.path().join("mine/echo"));
    let out = Command::new(env!("CARGO_BIN_EXE_plugwire"))
        .args(["--no-standard-dirs", "--json", "list"])
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("PLUGWIRE_PLUGIN_PATH", "/nowhere:~/mine")
        .output()
        .unwrap();
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["plugins"][0]["name"], "echo", "{list}");
}

/// The shell asks at each TAB (`source <(COMPLETE=bash plugwire)`); the
/// answer comes from the plugins as they are then.
#[test]
fn completion_asks_the_plugins_at_the_tab() {
    let home = tempfile::tempdir().unwrap();
    let ask = |index: &str, words: &[&str]| -> Vec<String> {
        let out = Command::new(env!("CARGO_BIN_EXE_plugwire"))
            .arg("--")
            .args(words)
            .env("COMPLETE", "bash")
            .env("_CLAP_COMPLETE_INDEX", index)
            .env("_CLAP_IFS", "\n")
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_RUNTIME_DIR", home.path().join("run"))
            .env("PLUGWIRE_PLUGIN_PATH", examples())
            .output()
            .unwrap();
        text(&out.stdout).lines().map(str::to_owned).collect()
    };
    let tools = ask("2", &["plugwire", "call", "ech"]);
    assert!(tools.iter().any(|t| t == "echo.echo"), "{tools:?}");
    assert!(tools.iter().all(|t| t.starts_with("ech")), "{tools:?}");
    let commands = ask("1", &["plugwire", "ca"]);
    assert_eq!(commands, ["call", "cat"], "a built-in and a plugin command");
    let plugins = ask("2", &["plugwire", "info", "wor"]);
    assert_eq!(plugins, ["wordcount"]);
    // The script the shell sources.
    let script = Command::new(env!("CARGO_BIN_EXE_plugwire"))
        .env("COMPLETE", "bash")
        .output()
        .unwrap();
    assert!(
        text(&script.stdout).contains("COMPLETE=\"bash\"")
            || text(&script.stdout).contains("_clap_complete_plugwire")
    );
}

#[test]
fn completions_know_the_plugins() {
    // Plugin commands and their flags everywhere; tool and plugin names
    // where the shell's generator completes positional values.
    let everywhere = ["wc", "words"];
    let values = ["echo.echo", "probe.config", "wordcount"];
    for (shell, words) in [
        ("bash", [&everywhere[..], &values[..]].concat()),
        ("zsh", [&everywhere[..], &values[..]].concat()),
        ("fish", everywhere.to_vec()),
    ] {
        let script = succeeded(plugwire(&["completions", shell, "--plugins"], b""));
        for word in words {
            assert!(script.contains(word), "{shell}: no {word}");
        }
        let plain = succeeded(plugwire(&["completions", shell], b""));
        assert!(
            !plain.contains("echo.echo"),
            "{shell}: plain completions start no plugin"
        );
    }
}

#[test]
fn misspelt_names_get_the_closest_ones() {
    let err = failed(plugwire(&["call", "echo.ecoh", "{}"], b""));
    assert!(err.contains("did you mean \"echo\"?"), "{err}");
    let err = failed(plugwire(&["call", "ecoh.echo", "{}"], b""));
    assert!(err.contains("did you mean \"echo\"?"), "{err}");
    let err = failed(plugwire(&["run", "cta"], b""));
    assert!(err.contains("did you mean \"cat\"?"), "{err}");
}

#[test]
fn a_command_of_a_plugin_that_did_not_start_says_why() {
    // Without --yes, wordcount (which requests read:~) is not granted.
    let err = failed(plugwire_with(&[], &["run", "wc", "--words"], b"a b\n"));
    assert!(
        err.contains("plugins that could not start may offer it: "),
        "{err}"
    );
    assert!(
        err.contains("wordcount (requests permissions that were not granted: read:~"),
        "{err}"
    );
}

#[test]
fn errors_have_a_stable_shape_and_exit_code() {
    // --json: one object on stderr.
    let out = plugwire(&["--json", "call", "echo.nope"], b"");
    assert_eq!(out.status.code(), Some(1));
    let error: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(error["error"]["code"], "not_found");
    assert_eq!(error["error"]["exit"], 1);
    assert!(error["error"]["message"].as_str().unwrap().contains("nope"));
    assert!(error["error"]["hint"].is_string());
    // A bad flag is a usage error whose hint is the command's help.
    let out = plugwire(&["run", "wc", "--nope"], b"");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("unknown flag --nope"), "{err}");
    assert!(err.contains("hint: `plugwire run COMMAND --help`"), "{err}");
    // A plugin that could not start: exit 3.
    let out = plugwire_with(&[], &["run", "wc"], b"");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
}

#[test]
fn grants_are_checked_listed_and_revoked() {
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("config");
    let run = |args: &[&str]| in_home(&config, work.path(), args);
    let dir = examples();
    let dir = dir.to_str().unwrap();
    let err = failed(run(&["--plugin-dir", dir, "grant", "wordcount", "netwrok"]));
    assert!(err.contains("does not request \"netwrok\""), "{err}");
    let err = failed(run(&["--plugin-dir", dir, "grant", "wordcont"]));
    assert!(err.contains("did you mean \"wordcount\"?"), "{err}");
    succeeded(run(&["--plugin-dir", dir, "grant", "wordcount"]));
    let listed = succeeded(run(&["grants"]));
    assert!(
        listed.contains("wordcount  read:~ (medium risk: can read these files)"),
        "{listed}"
    );
    let json: Value = serde_json::from_str(&succeeded(run(&["--json", "grants"]))).unwrap();
    assert_eq!(json[0]["plugin"], "wordcount");
    let out = run(&["revoke", "wordcount", "read:/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("did you mean \"read:~\"?"));
    succeeded(run(&["revoke", "wordcount", "read:~"]));
    assert!(!succeeded(run(&["grants"])).contains("wordcount  read"));
}

#[test]
fn unattended_grants_stop_at_the_most_risk_allowed() {
    // wordcount requests read:~, a medium risk.
    let err = failed(plugwire_with(
        &["--yes", "--max-risk", "low"],
        &["info", "wordcount"],
        b"",
    ));
    assert!(
        err.contains("read:~: medium risk: can read these files")
            && err.contains("stop at low risk (--max-risk)"),
        "{err}"
    );
    let out = succeeded(plugwire_with(
        &["--yes", "--max-risk", "medium"],
        &["info", "wordcount"],
        b"",
    ));
    assert!(
        out.contains("permission read:~ (medium risk: can read these files): granted"),
        "{out}"
    );
    let err = failed(plugwire_with(&["--max-risk", "severe"], &["list"], b""));
    assert!(
        err.contains("expected a risk level (low, medium or high)"),
        "{err}"
    );

    // An unattended install records only what is within the level.
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("config");
    let run = |args: &[&str]| in_home(&config, work.path(), args);
    let wordcount = examples().join("wordcount");
    let root = work.path().join("installed");
    let out = run(&[
        "--yes",
        "--max-risk",
        "low",
        "install",
        wordcount.to_str().unwrap(),
        "--into",
        root.to_str().unwrap(),
    ]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("read:~: medium risk: can read these files")
            && err.contains("not granted, being above --max-risk low: read:~"),
        "{err}"
    );
    assert!(!succeeded(run(&["grants"])).contains("read:~"));
    // What an unattended install granted is in the audit log; what it
    // held back is not.
    let audit = examples().join("audit");
    succeeded(run(&[
        "--yes",
        "--max-risk",
        "low",
        "install",
        audit.to_str().unwrap(),
        "--into",
        root.to_str().unwrap(),
    ]));
    let records: Vec<Value> = succeeded(run(&["--json", "audit"]))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let done: Vec<(String, String, String)> = records
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_owned(),
                r["plugin"].as_str().unwrap_or_default().to_owned(),
                r["target"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        done.contains(&("install".into(), "wordcount".into(), "0.1.0".into()))
            && done.contains(&("grant".into(), "audit".into(), "host.storage".into()))
            && !done
                .iter()
                .any(|(a, p, _)| a == "grant" && p == "wordcount"),
        "{done:?}"
    );
}

/// A secret planted with `config set` reaches the plugin and nothing the
/// host or the CLI prints: configurations, info, listings, logs (the
/// plugin logs its whole configuration), JSON output, errors.
#[test]
fn a_secret_reaches_the_plugin_and_nothing_printed() {
    const PLANTED: &str = "planted-S3cret-42";
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("config");
    let dir = examples();
    let dir = dir.to_str().unwrap();
    let run = |args: &[&str], stdin: &[u8]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_plugwire"));
        command
            .args([
                "--no-standard-dirs",
                "--plugin-dir",
                dir,
                "--yes",
                "--no-daemon",
            ])
            .args(args)
            .env("XDG_CONFIG_HOME", &config)
            .env("XDG_DATA_HOME", work.path().join("data"))
            .env_remove("PLUGWIRE_PLUGIN_PATH");
        with_stdin(command, stdin)
    };
    let mut printed = String::new();
    let mut keep = |out: Output| -> Output {
        printed.push_str(&text(&out.stdout));
        printed.push_str(&text(&out.stderr));
        out
    };
    let out = keep(run(
        &["config", "set", "probe", "token"],
        format!("{PLANTED}\n").as_bytes(),
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let file = config.join("plugwire/config/probe.secrets.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Only from stdin, and only a secret field.
    let out = keep(run(&["config", "set", "probe", "loud"], b"true"));
    assert!(text(&out.stderr).contains("not a secret field of \"probe\""));

    // The plugin has it.
    let out = keep(run(&["call", "probe.secret_length", "{}"], b""));
    assert_eq!(
        text(&out.stdout).trim(),
        PLANTED.len().to_string(),
        "{}",
        text(&out.stderr)
    );
    // Everything that shows the plugin does not.
    let shown = keep(run(&["config", "probe"], b""));
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["token"], "[secret]");
    for args in [
        &["info", "probe"][..],
        &["--json", "info", "probe"],
        &["--json", "list", "--start"],
        &["logs", "probe"],
        &["--json", "logs", "probe"],
    ] {
        let out = keep(run(args, b""));
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
    // The host's own diagnostics around a call; the call's answer is the
    // plugin's, not the host's.
    let out = run(&["-vv", "call", "probe.config", "{}"], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    keep(Output {
        stdout: Vec::new(),
        ..out
    });
    let logs = keep(run(&["logs", "probe"], b""));
    assert!(
        text(&logs.stdout).contains("\"token\":\"[secret]\""),
        "the plugin logged its configuration, scrubbed: {}",
        text(&logs.stdout)
    );
    // An invalid secret is refused without quoting it.
    std::fs::write(&file, format!("{{\"token\": [\"{PLANTED}\"]}}")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = keep(run(&["info", "probe"], b""));
    assert!(
        text(&out.stderr).contains("config /token: [secret] does not match the schema"),
        "{}",
        text(&out.stderr)
    );
    // A secrets file others can read is refused.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = keep(run(&["info", "probe"], b""));
    assert!(
        text(&out.stderr).contains("chmod 600"),
        "{}",
        text(&out.stderr)
    );

    // The audit log has the change and the calls, never the value.
    let audit = keep(run(&["--json", "audit", "--plugin", "probe"], b""));
    let records: Vec<Value> = text(&audit.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        records.iter().any(|r| r["action"] == "configure"
            && r["target"] == "secret token"
            && r["actor"].as_str().unwrap().starts_with("cli:")),
        "{records:?}"
    );
    assert!(
        records
            .iter()
            .any(|r| r["action"] == "tool.call" && r["target"] == "probe.secret_length"),
        "{records:?}"
    );
    assert!(records.iter().all(|r| r["plugin"] == "probe"));
    keep(run(&["audit"], b""));
    let err = text(&run(&["audit", "--since", "yesterdayish"], b"").stderr);
    assert!(err.contains("expected a time"), "{err}");
    let recent = run(&["--json", "audit", "--since", "1h"], b"");
    assert!(text(&recent.stdout).lines().count() > 0);
    let future = run(&["--json", "audit", "--since", "2999-01-01T00:00:00Z"], b"");
    assert!(text(&future.stdout).is_empty());
    assert!(
        !printed.contains(PLANTED),
        "the secret was printed:\n{printed}"
    );
}

#[test]
fn emit_shows_decisions() {
    let out = plugwire(
        &["--json", "emit", "request.before", r#"{"token":"t","x":1}"#],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["payload"],
        serde_json::json!({"token": "[REDACTED]", "x": 1})
    );
    assert_eq!(json["decisions"][0]["plugin"], "audit");
    let out = plugwire(&["emit", "faulty.deny"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("denied by faulty"));
}

#[test]
fn tools_info_logs_doctor_completions() {
    let out = plugwire(&["--json", "tools"], b"");
    let tools: Value = serde_json::from_slice(&out.stdout).unwrap();
    let echo = tools
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["qualified"] == "echo.echo")
        .unwrap();
    assert_eq!(echo["input_schema"]["type"], "object");

    let out = plugwire(&["info", "kv"], b"");
    assert!(
        text(&out.stdout).contains("provider examples.kv.v1.KeyValue as \"memory\""),
        "{}",
        text(&out.stdout)
    );
    // What people want to see of a plugin: who made it, what it may do,
    // its limits, hooks and state.
    let audit = succeeded(plugwire(&["info", "audit"], b""));
    assert!(audit.contains("license MIT OR Apache-2.0"), "{audit}");
    assert!(
        audit.contains("permission host.storage (low risk: can keep data in the host): granted"),
        "{audit}"
    );
    assert!(audit.contains("limits: memory 64 MiB"), "{audit}");
    assert!(
        audit.contains("hook request.before (intercept, priority -100, fail-closed)"),
        "{audit}"
    );
    assert!(audit.contains("running: pid "), "{audit}");
    let json: Value =
        serde_json::from_str(&succeeded(plugwire(&["--json", "info", "audit"], b""))).unwrap();
    assert_eq!(json["permissions"][0]["granted"], true);
    assert_eq!(json["hooks"].as_array().unwrap().len(), 2);
    let out = plugwire(&["info", "nope"], b"");
    assert_eq!(out.status.code(), Some(1));

    let out = plugwire(&["logs", "echo"], b"");
    assert!(
        text(&out.stdout).contains("[echo] serving"),
        "{}",
        text(&out.stdout)
    );
    // JSON Lines with RFC 3339 times.
    let out = plugwire(&["--json", "logs", "echo"], b"");
    let lines = text(&out.stdout);
    assert!(!lines.is_empty());
    for line in lines.lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        let time = record["time"].as_str().unwrap();
        assert!(humantime::parse_rfc3339(time).is_ok(), "{time}");
        assert_eq!(record["plugin"], "echo");
    }

    let out = plugwire(&["--json", "doctor"], b"");
    let checks: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        checks
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["check"] == "cgroups")
    );

    let out = plugwire(&["completions", "bash"], b"");
    assert!(text(&out.stdout).contains("_plugwire"));
}

#[test]
fn ungranted_permissions_are_refused_then_granted_and_remembered() {
    let config = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_plugwire"))
            .args(["--no-standard-dirs", "--plugin-dir"])
            .arg(examples())
            .args(args)
            .env("XDG_CONFIG_HOME", config.path())
            .env("XDG_DATA_HOME", config.path().join("data"))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = run(&["emit", "request.before", r#"{"token":"t"}"#]);
    let json = text(&out.stdout);
    assert!(
        !json.contains("REDACTED"),
        "audit must not run without its grant: {json}"
    );
    let out = run(&["info", "audit"]);
    let err = text(&out.stderr);
    assert!(
        err.contains("host.storage: low risk: can keep data in the host"),
        "{err}"
    );
    assert!(err.contains("plugwire grant audit"), "{err}");

    let out = run(&["grant", "audit"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("granted audit host.storage (to /"),
        "{}",
        text(&out.stdout)
    );
    let out = run(&["emit", "request.before", r#"{"token":"t"}"#]);
    assert!(
        text(&out.stdout).contains("REDACTED"),
        "{}",
        text(&out.stdout)
    );
    let out = run(&["revoke", "audit"]);
    assert!(out.status.success());
    let out = run(&["info", "audit"]);
    assert_eq!(out.status.code(), Some(3), "it could not start");
}

#[test]
fn sandboxed_calls_work_from_the_cli() {
    let out = plugwire(
        &[
            "--sandbox",
            "standard",
            "call",
            "echo.echo",
            r#"{"text":"inside"}"#,
        ],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "inside\n");
    let out = plugwire(&["doctor"], b"");
    assert!(
        text(&out.stdout).contains("level: standard"),
        "{}",
        text(&out.stdout)
    );
}

/// Runs the CLI with its own config and data directories (under `work`),
/// nothing from the environment's plugin path, and no stdin.
fn in_home(config: &Path, work: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plugwire"))
        .args(args)
        .env("XDG_CONFIG_HOME", config)
        .env("XDG_DATA_HOME", work.join("data"))
        .env_remove("PLUGWIRE_PLUGIN_PATH")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `plugwire pack` then `plugwire install`: the digest is printed, the
/// package installs, the installed plugin runs, and a hostile file is
/// refused with nothing installed.
#[test]
fn pack_then_install_then_call() {
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("config");
    let root = work.path().join("installed");
    let run = |args: &[&str]| in_home(&config, work.path(), args);
    let echo = examples().join("echo");
    let out = run(&[
        "pack",
        echo.to_str().unwrap(),
        "-o",
        work.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("sha256:"), "{stdout}");
    let package = work.path().join("echo-0.1.0.tar.gz");
    assert!(stdout.contains(package.to_str().unwrap()), "{stdout}");

    let out = run(&[
        "install",
        package.to_str().unwrap(),
        "--into",
        root.to_str().unwrap(),
        "--yes",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("installed echo 0.1.0"));

    let out = run(&[
        "--no-standard-dirs",
        "--sandbox",
        "none",
        "--plugin-dir",
        root.to_str().unwrap(),
        "call",
        "echo.echo",
        r#"{"text":"from a package"}"#,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "from a package"
    );

    // The registry knows it; disabling is remembered and honoured.
    let out = run(&["list", "--installed"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains("echo") && listed.contains("intact"),
        "{listed}"
    );
    let call = |text: &str| {
        run(&[
            "--no-standard-dirs",
            "--sandbox",
            "none",
            "--plugin-dir",
            root.to_str().unwrap(),
            "call",
            "echo.echo",
            &format!("{{\"text\":\"{text}\"}}"),
        ])
    };
    assert!(run(&["disable", "echo"]).status.success());
    let out = call("off");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("disabled"));
    assert!(run(&["enable", "echo"]).status.success());
    assert!(call("on").status.success());

    // A file changed after install: refused at launch, and `verify` says so.
    let manifest = root.join("echo/plugin.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("Echoes", "Tampered")).unwrap();
    let out = call("tampered");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("modified since install") && stderr.contains("plugin.toml"),
        "{stderr}"
    );
    let out = run(&["verify"]);
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("modified") && report.contains("plugin.toml"),
        "{report}"
    );

    // Reinstalling repairs it; removing takes it away.
    assert!(
        run(&[
            "install",
            package.to_str().unwrap(),
            "--into",
            root.to_str().unwrap()
        ])
        .status
        .success()
    );
    assert_eq!(run(&["verify"]).status.code(), Some(0));
    assert!(call("repaired").status.success());
    let out = run(&["uninstall", "echo"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!root.join("echo").exists());
    let out = run(&["remove", "echo"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no installed plugin"));

    let junk = work.path().join("junk.tar.gz");
    std::fs::write(&junk, b"not a package").unwrap();
    let out = run(&[
        "install",
        junk.to_str().unwrap(),
        "--into",
        work.path().join("other").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a plugwire package"), "{stderr}");
    assert!(
        std::fs::read_dir(work.path().join("other")).map_or(true, |d| d.count() == 0),
        "nothing installed"
    );
}

/// keygen, sign, trust: a package signed by a trusted key installs and
/// records its signer; by an unknown key, or altered after signing, it is
/// refused with the key named and nothing installed.
#[test]
fn signed_packages_need_a_trusted_key() {
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("config");
    let run = |args: &[&str]| in_home(&config, work.path(), args);
    let ok = |out: &Output| succeeded(out.clone());
    let keys = work.path().join("keys");
    let made = ok(&run(&["keygen", "--dir", keys.to_str().unwrap()]));
    let id = made.split_whitespace().nth(1).unwrap().to_owned();
    let echo = examples().join("echo");
    ok(&run(&[
        "pack",
        echo.to_str().unwrap(),
        "-o",
        work.path().to_str().unwrap(),
    ]));
    let package = work.path().join("echo-0.1.0.tar.gz");
    let secret = keys.join("plugwire.key");
    ok(&run(&[
        "sign",
        package.to_str().unwrap(),
        "--key",
        secret.to_str().unwrap(),
    ]));
    let root = work.path().join("installed");
    let install = || {
        run(&[
            "install",
            package.to_str().unwrap(),
            "--into",
            root.to_str().unwrap(),
        ])
    };

    let out = install();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&id) && stderr.contains("not trusted"),
        "{stderr}"
    );
    assert!(!root.join("echo").exists());

    let public = keys.join("plugwire.pub");
    ok(&run(&[
        "trust",
        "add",
        public.to_str().unwrap(),
        "--name",
        "tester",
    ]));
    assert!(ok(&run(&["trust", "list"])).contains("tester"));
    let out = install();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("signature: valid"));
    let registry =
        std::fs::read_to_string(work.path().join("data/plugwire/installed.json")).unwrap();
    assert!(
        registry.contains(&id) && registry.contains("tester"),
        "{registry}"
    );

    // Altered after signing.
    let mut bytes = std::fs::read(&package).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&package, bytes).unwrap();
    let out = install();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not match"));
    ok(&run(&["trust", "remove", "tester"]));
}

/// A real HTTP server on 127.0.0.1 serving the files of `dir`; a request
/// for `/truncated/<file>` gets the file's length announced and half of it
/// sent, as a download cut off.
fn serve(dir: std::path::PathBuf) -> String {
    use std::io::{BufRead, BufReader};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).map_or(true, |n| n == 0) || header == "\r\n" {
                    break;
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let (truncated, file) = match path.strip_prefix("/truncated/") {
                Some(file) => (true, file.to_owned()),
                None => (false, path.trim_start_matches('/').to_owned()),
            };
            match std::fs::read(dir.join(&file)) {
                Ok(body) => {
                    let sent = if truncated {
                        &body[..body.len() / 2]
                    } else {
                        &body[..]
                    };
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(sent);
                }
                Err(_) => {
                    let _ = write!(
                        stream,
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                }
            }
        }
    });
    format!("http://{address}")
}

/// Publishing and installing through an index served over HTTP: build,
/// add, search, install by name with its signature checked, refusals of
/// unsigned, tampered and cut-off packages, outdated, an update, and a
/// broken update rolled back.
#[test]
fn an_index_served_over_http() {
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("config");
    let run = |args: &[&str]| in_home(&config, work.path(), args);
    let ok = succeeded;
    let fails = failed;
    let site = work.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    let keys = work.path().join("keys");
    ok(run(&["keygen", "--dir", keys.to_str().unwrap()]));
    let key = keys.join("plugwire.key");
    let publish = |dir: &std::path::Path, sign: bool| {
        let out = ok(run(&[
            "pack",
            dir.to_str().unwrap(),
            "-o",
            site.to_str().unwrap(),
        ]));
        let package = out.split_whitespace().nth(1).unwrap().to_owned();
        if sign {
            ok(run(&["sign", &package, "--key", key.to_str().unwrap()]));
        }
        ok(run(&["index", "build", site.to_str().unwrap()]));
        package
    };
    // Version 0.1.0 of echo, signed.
    let echo = work.path().join("echo");
    copy_dir(&examples().join("echo"), &echo);
    publish(&echo, true);
    let url = serve(site.clone());
    ok(run(&["index", "add", "test", &format!("{url}/index.json")]));
    assert!(ok(run(&["search", "ech"])).contains("echo"));
    let info = ok(run(&["info", "echo", "--remote"]));
    assert!(
        info.contains("echo 0.1.0") && info.contains("not trusted"),
        "{info}"
    );

    let root = work.path().join("installed");
    let install = |what: &str, extra: &[&str]| {
        let mut args = vec!["install", what, "--into", root.to_str().unwrap()];
        args.extend_from_slice(extra);
        run(&args)
    };
    let err = fails(install("echo", &[]));
    assert!(err.contains("not trusted"), "{err}");
    ok(run(&[
        "trust",
        "add",
        keys.join("plugwire.pub").to_str().unwrap(),
        "--name",
        "publisher",
    ]));
    let out = install("echo@^0.1", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("installed echo 0.1.0"));
    let listed = ok(run(&["list", "--installed"]));
    assert!(
        listed.contains("index test") && listed.contains("^0.1"),
        "pinned: {listed}"
    );
    // Within the pin nothing newer will come; the pin is lifted by
    // installing without one.
    assert!(install("echo", &[]).status.success());

    // Version 0.2.0, unsigned: refused, then installed only when allowed.
    let text = std::fs::read_to_string(echo.join("plugin.toml")).unwrap();
    std::fs::write(
        echo.join("plugin.toml"),
        text.replace("version = \"0.1.0\"", "version = \"0.2.0\""),
    )
    .unwrap();
    let v2 = publish(&echo, false);
    assert!(ok(run(&["outdated"])).contains("0.2.0"));
    let err = fails(run(&["update", "echo"]));
    assert!(
        err.contains("not signed") && err.contains("--allow-unsigned"),
        "{err}"
    );
    assert!(
        ok(run(&["update", "echo", "--dry-run", "--allow-unsigned"]))
            .contains("would update echo 0.1.0 -> 0.2.0")
    );

    // The package is altered on the server: its digest no longer matches.
    let good = std::fs::read(&v2).unwrap();
    let mut bad = good.clone();
    let at = bad.len() / 2;
    bad[at] ^= 0xff;
    std::fs::write(&v2, &bad).unwrap();
    let err = fails(run(&["update", "echo", "--allow-unsigned"]));
    assert!(err.contains("digest") && err.contains("altered"), "{err}");
    std::fs::write(&v2, &good).unwrap();

    // A download cut off halfway keeps nothing.
    let index_path = site.join("index.json");
    let index = std::fs::read_to_string(&index_path).unwrap();
    std::fs::write(
        &index_path,
        index.replace("\"echo-0.2.0.tar.gz\"", "\"truncated/echo-0.2.0.tar.gz\""),
    )
    .unwrap();
    let err = fails(run(&["update", "echo", "--allow-unsigned"]));
    assert!(
        err.contains("ended early") && err.contains("nothing was kept"),
        "{err}"
    );
    std::fs::write(&index_path, &index).unwrap();

    let out = ok(run(&[
        "--sandbox",
        "none",
        "update",
        "echo",
        "--allow-unsigned",
    ]));
    assert!(out.contains("updated echo 0.1.0 -> 0.2.0"), "{out}");

    // 0.3.0 does not start: the update is rolled back, 0.2.0 stays.
    std::fs::write(
        echo.join("plugin.toml"),
        text.replace("version = \"0.1.0\"", "version = \"0.3.0\"")
            .replace(
                "plugwire-example-echo\"",
                "plugwire-example-echo\"\nargs = [\"--no-such-flag\"]",
            ),
    )
    .unwrap();
    std::fs::write(echo.join("broken.sh"), "#!/bin/sh\nexit 3\n").unwrap();
    let manifest = std::fs::read_to_string(echo.join("plugin.toml")).unwrap();
    std::fs::write(
        echo.join("plugin.toml"),
        manifest.replace(
            "executable = \"plugwire-example-echo\"",
            "executable = \"broken.sh\"",
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        echo.join("broken.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    publish(&echo, false);
    let out = run(&["--sandbox", "none", "update", "echo", "--allow-unsigned"]);
    let err = fails(out);
    assert!(err.contains("0.2.0 stays"), "{err}");
    let installed = std::fs::read_to_string(root.join("echo/plugin.toml")).unwrap();
    assert!(installed.contains("0.2.0"), "{installed}");
    assert_eq!(
        run(&["verify"]).status.code(),
        Some(0),
        "the rolled-back files are intact"
    );

    // Straight from a URL: unsigned is refused unless allowed.
    let direct = format!("{url}/echo-0.2.0.tar.gz");
    let elsewhere = work.path().join("direct");
    let err = fails(run(&[
        "install",
        &direct,
        "--into",
        elsewhere.to_str().unwrap(),
    ]));
    assert!(err.contains("not signed"), "{err}");
    ok(run(&[
        "install",
        &direct,
        "--into",
        elsewhere.to_str().unwrap(),
        "--allow-unsigned",
    ]));
    assert!(elsewhere.join("echo/plugin.toml").is_file());
}

/// Installing from an index resolves what a plugin needs (PubGrub): the
/// dependency is installed first, and a conflict is explained.
#[test]
fn dependencies_are_resolved_from_the_index() {
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("config");
    let run = |args: &[&str]| in_home(&config, work.path(), args);
    let site = work.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    let copy = |from: &str, name: &str, extra: &str| {
        let dir = work.path().join("src").join(name);
        copy_dir(&examples().join(from), &dir);
        let manifest = std::fs::read_to_string(dir.join("plugin.toml"))
            .unwrap()
            .replacen(&format!("name = \"{from}\""), &format!("name = \"{name}\""), 1)
            .replacen(
                &format!("executable = \"plugwire-example-{from}\""),
                &format!(
                    "executable = \"plugwire-example-{from}\"\nenv = {{ {}_PLUGIN_NAME = \"{name}\" }}",
                    from.to_uppercase()
                ),
                1,
            );
        std::fs::write(dir.join("plugin.toml"), format!("{manifest}{extra}")).unwrap();
        let out = run(&["pack", dir.to_str().unwrap(), "-o", site.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    copy("kv", "kv", "");
    copy("echo", "app", "\n[dependencies]\nkv = \"^0.1\"\n");
    copy("echo", "greedy", "\n[dependencies]\nkv = \"^0.2\"\n");
    assert!(
        run(&["index", "build", site.to_str().unwrap()])
            .status
            .success()
    );
    assert!(
        run(&["index", "add", "local", site.to_str().unwrap()])
            .status
            .success()
    );
    let root = work.path().join("installed");
    let out = run(&[
        "install",
        "app",
        "--allow-unsigned",
        "--into",
        root.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("also installing kv 0.1.0, which app needs"),
        "{stderr}"
    );
    assert!(root.join("kv/plugin.toml").is_file() && root.join("app/plugin.toml").is_file());

    let out = run(&[
        "install",
        "greedy",
        "--allow-unsigned",
        "--into",
        root.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no set of versions works") && stderr.contains("kv"),
        "{stderr}"
    );
    assert!(!root.join("greedy").exists());
}

/// Two `plugwire install` processes at once, of different plugins into the
/// same registry: both are recorded, the registry stays valid.
#[test]
fn two_installs_racing_on_the_registry_lose_nothing() {
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("config");
    let root = work.path().join("installed");
    let spawn = |plugin: &str| {
        Command::new(env!("CARGO_BIN_EXE_plugwire"))
            .args([
                "install",
                examples().join(plugin).to_str().unwrap(),
                "--into",
                root.to_str().unwrap(),
            ])
            .env("XDG_CONFIG_HOME", &config)
            .env("XDG_DATA_HOME", work.path().join("data"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    for _ in 0..2 {
        let racers: Vec<_> = ["echo", "kv", "wordcount", "audit"]
            .map(spawn)
            .into_iter()
            .collect();
        for racer in racers {
            let out = racer.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let out = in_home(&config, work.path(), &["list", "--installed", "--json"]);
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["audit", "echo", "kv", "wordcount"]);
}

/// An update of a plugin that requests permissions: what was granted to
/// the installed version carries over to the new one (a grant binds to a
/// digest, which the update changes), so the new version starts and is kept.
#[test]
fn an_update_keeps_the_grants_it_needs() {
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("config");
    let run = |args: &[&str]| in_home(&config, work.path(), args);
    let ok = succeeded;
    let site = work.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    let audit = work.path().join("audit");
    copy_dir(&examples().join("audit"), &audit);
    ok(run(&[
        "pack",
        audit.to_str().unwrap(),
        "-o",
        site.to_str().unwrap(),
    ]));
    ok(run(&["index", "build", site.to_str().unwrap()]));
    ok(run(&["index", "add", "local", site.to_str().unwrap()]));
    let root = work.path().join("installed");
    let root = root.to_str().unwrap();
    ok(run(&[
        "install",
        "audit",
        "--allow-unsigned",
        "--into",
        root,
        "--yes",
    ]));
    let manifest = std::fs::read_to_string(audit.join("plugin.toml")).unwrap();
    std::fs::write(
        audit.join("plugin.toml"),
        manifest.replacen("version = \"0.1.0\"", "version = \"0.2.0\"", 1),
    )
    .unwrap();
    ok(run(&[
        "pack",
        audit.to_str().unwrap(),
        "-o",
        site.to_str().unwrap(),
    ]));
    ok(run(&["index", "build", site.to_str().unwrap()]));
    let out = ok(run(&[
        "--sandbox",
        "none",
        "update",
        "--all",
        "--allow-unsigned",
    ]));
    assert!(out.contains("updated audit 0.1.0 -> 0.2.0"), "{out}");
    let grants = std::fs::read_to_string(config.join("plugwire/grants.toml")).unwrap();
    assert!(grants.contains("host.storage"), "{grants}");
}

//! Every command's `--json`, as docs/cli.md documents it: each row of its
//! table runs, in order, from a fresh home, and its output parses and has
//! the keys the row names.

mod common;

use std::path::Path;
use std::process::Command;

use common::{copy_dir, examples};
use serde_json::Value;

/// (command line, shape) from docs/cli.md's table.
fn documented() -> Vec<(String, String)> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli.md"))
            .unwrap();
    doc.lines()
        .filter(|l| l.starts_with("| `plugwire "))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            (cells[0].trim_matches('`').to_owned(), cells[1].to_owned())
        })
        .collect()
}

fn keys_of(value: &Value) -> Vec<String> {
    value
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Checks `value` against "object: a, b", "array of: a, b", "object", "array".
fn check(shape: &str, value: &Value, line: &str) {
    let (kind, keys) = shape.split_once(": ").unwrap_or((shape, ""));
    let keys: Vec<&str> = keys.split(", ").filter(|k| !k.is_empty()).collect();
    let has = |v: &Value| {
        let present = keys_of(v);
        for key in &keys {
            assert!(
                present.iter().any(|p| p == key),
                "`{line}`: no key {key:?} in {v}"
            );
        }
    };
    match kind {
        "object" => {
            assert!(value.is_object(), "`{line}`: not an object: {value}");
            has(value);
        }
        "array" | "array of" => {
            let items = value
                .as_array()
                .unwrap_or_else(|| panic!("`{line}`: not an array: {value}"));
            if !keys.is_empty() {
                assert!(!items.is_empty(), "`{line}`: an empty array shows no keys");
            }
            items.iter().for_each(has);
        }
        other => panic!("docs/cli.md: unknown shape {other:?}"),
    }
}

#[test]
fn every_command_prints_the_json_its_documentation_says() {
    let home = tempfile::tempdir().unwrap();
    let echo = home.path().join("src/echo");
    copy_dir(&examples().join("echo"), &echo);
    let site = home.path().join("site");
    let keys = home.path().join("keys");
    std::fs::create_dir_all(&site).unwrap();
    let rows = documented();
    assert!(rows.len() >= 30, "{rows:?}");
    for (line, shape) in &rows {
        let line = line
            .replace("$EXAMPLES", &examples().display().to_string())
            .replace("$ECHO", &echo.display().to_string())
            .replace("$SITE", &site.display().to_string())
            .replace("$KEYS", &keys.display().to_string())
            .replace("$NEW", &home.path().join("new").display().to_string());
        let mut words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words.remove(0), "plugwire");
        let out = Command::new(env!("CARGO_BIN_EXE_plugwire"))
            .arg("--json")
            .args(&words)
            .current_dir(home.path())
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_RUNTIME_DIR", home.path().join("run"))
            .env_remove("PLUGWIRE_PLUGIN_PATH")
            .env_remove("PLUGWIRE_SOCKET")
            .env("PLUGWIRE_SANDBOX", "none")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "`{line}` failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if let Some(keys) = shape.strip_prefix("lines of: ") {
            assert!(!stdout.trim().is_empty(), "`{line}` printed nothing");
            for record in stdout.lines() {
                let value: Value = serde_json::from_str(record)
                    .unwrap_or_else(|e| panic!("`{line}`: a line is not JSON ({e}): {record}"));
                check(&format!("object: {keys}"), &value, &line);
            }
        } else {
            let value: Value = serde_json::from_str(&stdout)
                .unwrap_or_else(|e| panic!("`{line}` printed no JSON ({e}): {stdout}"));
            check(shape, &value, &line);
        }
    }
}

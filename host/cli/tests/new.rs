//! `plugwire new LANG NAME` makes a plugin, outside the repository, that
//! builds and passes `plugwire check --exercise` as generated, in each
//! language it knows; and what it refuses.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use serde_json::Value;

fn plugwire(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plugwire"))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run_in(dir: &Path, program: &str, args: &[&str], env: &[(&str, &str)]) {
    let started = Instant::now();
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?} in {}: {}\n{}",
        dir.display(),
        text(&out.stdout),
        text(&out.stderr)
    );
    eprintln!(
        "{program} {args:?}: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Makes, builds and checks one plugin; returns the check's JSON report.
fn made_builds_and_passes(language: &str, build: &dyn Fn(&Path)) -> Value {
    // Outside the repository: the generated files must stand alone.
    let root = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    // A root host runs sandboxed plugins as a leased uid, who must be able
    // to reach the plugin directory (docs/sandbox.md).
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = root.path().join(format!("hello-{language}"));
    let name = format!("hello-{language}");
    let out = plugwire(&["new", language, &name, "--dir", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("plugwire check . --exercise"),
        "{}",
        text(&out.stdout)
    );
    build(&dir);
    let started = Instant::now();
    let out = plugwire(&["--json", "check", dir.to_str().unwrap(), "--exercise"]);
    eprintln!(
        "plugwire check --exercise: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
    assert!(out.status.success(), "{report:#}");
    assert_eq!(report["failed"], 0, "{report:#}");
    let status = |id: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| c["status"].as_str().unwrap().to_owned())
    };
    // Its own tool and command were exercised, not skipped.
    for id in [
        "exercise/tools-valid-arguments",
        "exercise/tools-invalid-arguments",
        "exercise/commands",
    ] {
        assert_eq!(status(id).as_deref(), Some("passed"), "{id}: {report:#}");
    }
    // And under the standard sandbox, which shows the plugin nothing but its
    // own directory and the system's: a Python venv's interpreter (pyenv's,
    // on these machines) and Node's `#!/usr/bin/env node` must be made
    // visible by the host.
    let out = plugwire(&[
        "--json",
        "--sandbox",
        "standard",
        "check",
        dir.to_str().unwrap(),
    ]);
    let sandboxed: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
    assert_eq!(sandboxed["failed"], 0, "under the sandbox: {sandboxed:#}");
    report
}

#[test]
fn a_new_python_plugin_passes_as_generated() {
    let report = made_builds_and_passes("python", &|dir| run_in(dir, "./setup.sh", &[], &[]));
    let message = &report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "exercise/tools-valid-arguments")
        .unwrap()["message"];
    assert!(
        message
            .as_str()
            .unwrap()
            .contains(r#"greet {"name":"a"} → "hello, a!""#),
        "{message}"
    );
}

#[test]
fn a_new_node_plugin_passes_as_generated() {
    made_builds_and_passes("node", &|dir| run_in(dir, "./setup.sh", &[], &[]));
}

#[test]
fn a_new_go_plugin_passes_as_generated() {
    made_builds_and_passes("go", &|dir| {
        run_in(dir, "go", &["mod", "tidy"], &[]);
        run_in(dir, "go", &["build", "-o", "hello-go", "."], &[]);
    });
}

#[test]
fn a_new_rust_plugin_passes_as_generated() {
    // What is tested is that it builds and passes, not how fast it runs:
    // an unoptimised release build keeps CI short.
    let fast = [
        ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0"),
        ("CARGO_PROFILE_RELEASE_DEBUG", "false"),
        ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "256"),
    ];
    made_builds_and_passes("rust", &|dir| {
        run_in(dir, "cargo", &["build", "--release", "--quiet"], &fast)
    });
}

#[test]
fn new_refuses_what_it_cannot_make_and_says_why() {
    let out = plugwire(&["new", "cobol", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(r#"no template for "cobol"; known: rust, python, node, go"#),
        "{}",
        text(&out.stderr)
    );
    let out = plugwire(&["new", "python", "Bad_Name"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("lower-case"),
        "{}",
        text(&out.stderr)
    );
    let busy = tempfile::tempdir().unwrap();
    std::fs::write(busy.path().join("keep.txt"), "mine").unwrap();
    let out = plugwire(&["new", "python", "x", "--dir", busy.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("already exists and is not empty"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(busy.path().join("keep.txt")).unwrap(),
        "mine"
    );
    let out = plugwire(&["new", "python", "x", "--sdk", "/nonexistent"]);
    assert!(
        text(&out.stderr).contains("is not a plugwire checkout"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn check_reports_a_missing_plugin_and_bad_config_clearly() {
    let out = plugwire(&["check", "/nonexistent/plugin"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("nothing is there"),
        "{}",
        text(&out.stderr)
    );
    let out = plugwire(&["check", "/nonexistent/plugin", "--config", "{"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--config: expected a JSON object"),
        "{}",
        text(&out.stderr)
    );
}

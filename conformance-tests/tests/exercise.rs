//! `--exercise` on plugins that get it right and on one that gets each of
//! its checks wrong (`tests/fixtures/lax.py`, on the Python SDK's
//! example virtualenv, which `scripts/test.sh` sets up).

use std::path::{Path, PathBuf};

use plugwire_conformance::exercise::Exercise;
use plugwire_conformance::report::{Outcome, Report, Status};
use plugwire_conformance::{Options, check_plugin};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn exercising(destructive: bool) -> Options {
    Options {
        exercise: Some(Exercise { destructive }),
        ..Options::default()
    }
}

fn outcome<'a>(report: &'a Report, id: &str) -> &'a Outcome {
    report
        .outcomes
        .iter()
        .find(|o| o.id == id)
        .unwrap_or_else(|| panic!("no outcome {id}:\n{}", report.summary()))
}

/// A plugin directory running `fixtures/lax.py` under the example's venv.
fn lax_plugin() -> tempfile::TempDir {
    let python = repo().join("sdk-examples/python/.venv/bin/python");
    assert!(
        python.exists(),
        "run sdk-examples/python/setup.sh first (scripts/test.sh does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lax.py");
    std::fs::write(
        dir.path().join("plugin.toml"),
        "name = \"lax\"\nversion = \"0.1.0\"\n[run]\nexecutable = \"plugin\"\n[protocol]\nversions = [1]\n",
    )
    .unwrap();
    let launcher = dir.path().join("plugin");
    std::fs::write(
        &launcher,
        format!(
            "#!/bin/sh\nexec {} {}\n",
            python.display(),
            script.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&launcher, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[tokio::test]
async fn a_plugin_that_gets_it_right_passes_the_exercise_and_says_what_it_did() {
    let dir = repo().join("target/plugwire-examples-debug/echo");
    let report = check_plugin(&dir, &[], &exercising(false)).await.unwrap();
    assert!(report.passed(), "{}", report.summary());
    let valid = outcome(&report, "exercise/tools-valid-arguments");
    assert_eq!(valid.status, Status::Passed);
    assert!(
        valid.message.contains(r#"echo {"text":"a"} → "a""#),
        "{}",
        valid.message
    );
    assert!(
        valid.message.contains("fail") && valid.message.contains("reported its own failure"),
        "the fail tool's is_error result is reported, not failed: {}",
        valid.message
    );
    let invalid = outcome(&report, "exercise/tools-invalid-arguments");
    assert!(
        invalid.message.contains("echo (missing /text): refused"),
        "{}",
        invalid.message
    );
    let commands = outcome(&report, "exercise/commands");
    assert!(
        commands.message.contains("cat < /dev/null: exit 0"),
        "{}",
        commands.message
    );
}

#[tokio::test]
async fn each_exercise_check_fails_a_plugin_that_gets_it_wrong() {
    let dir = lax_plugin();
    let report = check_plugin(dir.path(), &[], &exercising(false))
        .await
        .unwrap();
    let valid = outcome(&report, "exercise/tools-valid-arguments");
    assert_eq!(valid.status, Status::Failed, "{}", report.summary());
    assert!(
        valid
            .message
            .contains("failed with Internal instead of a result: valid arguments, and yet"),
        "{}",
        valid.message
    );
    let invalid = outcome(&report, "exercise/tools-invalid-arguments");
    assert_eq!(invalid.status, Status::Failed);
    assert!(
        invalid
            .message
            .contains("count (missing /n, {}): accepted, and the tool ran"),
        "{}",
        invalid.message
    );
    let commands = outcome(&report, "exercise/commands");
    assert_eq!(commands.status, Status::Failed);
    assert!(
        commands
            .message
            .contains("hang < /dev/null: no exit within"),
        "{}",
        commands.message
    );
    // The destructive tool was left alone (calling it raises, which would
    // have shown as its own failure).
    assert!(
        valid.message.contains("wipe: skipped, destructive"),
        "{}",
        valid.message
    );
}

#[tokio::test]
async fn destructive_tools_are_called_only_when_asked() {
    let dir = lax_plugin();
    let report = check_plugin(dir.path(), &[], &exercising(true))
        .await
        .unwrap();
    let valid = outcome(&report, "exercise/tools-valid-arguments");
    assert!(
        !valid.message.contains("wipe: skipped"),
        "{}",
        valid.message
    );
}

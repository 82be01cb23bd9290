//! `--exercise` on plugins that get it right and on one that gets each of
//! its checks wrong (`tests/fixtures/lax.py`, on the Python SDK's
//! example virtualenv, which `scripts/test.sh` sets up).

mod common;

use common::{python_fixture, repo};
use plugwire_conformance::exercise::Exercise;
use plugwire_conformance::report::{Outcome, Report, Status};
use plugwire_conformance::{Options, check_plugin};

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
    let dir = python_fixture("lax");
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
    let dir = python_fixture("lax");
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

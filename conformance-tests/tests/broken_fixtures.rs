//! Checks that only a deliberately broken plugin can fail, failed by one:
//! configure/calls-before and configure/twice by `fixtures/unordered.py`
//! (calls before `Configure`, `Configure` twice), shutdown/sighup by
//! `fixtures/nohup.py` (no SIGHUP handler); and passed by the reference
//! plugin.

mod common;

use common::{outcome, python_fixture, repo};
use plugwire_conformance::report::Status;
use plugwire_conformance::{Options, check_plugin};

#[tokio::test]
async fn a_plugin_that_ignores_the_order_of_configure_fails_both_checks() {
    let dir = python_fixture("unordered");
    let report = check_plugin(dir.path(), &[], &Options::default())
        .await
        .unwrap();
    let (before, message) = outcome(&report, "configure/calls-before");
    assert_eq!(before, Status::Failed, "{}", report.summary());
    assert!(
        message.contains(
            "CallTool(\"echo\") before Configure: expected FailedPrecondition, the call succeeded"
        ),
        "{message}"
    );
    let (twice, message) = outcome(&report, "configure/twice");
    assert_eq!(twice, Status::Failed, "{}", report.summary());
    assert!(
        message.contains("a second Configure: expected FailedPrecondition"),
        "{message}"
    );
}

#[tokio::test]
async fn a_plugin_without_a_sighup_handler_fails_only_that_check() {
    let dir = python_fixture("nohup");
    let report = check_plugin(dir.path(), &[], &Options::default())
        .await
        .unwrap();
    let (hup, message) = outcome(&report, "shutdown/sighup");
    assert_eq!(hup, Status::Failed, "{}", report.summary());
    assert!(
        message.contains("after SIGHUP the plugin ended with"),
        "{message}"
    );
    assert_eq!(
        outcome(&report, "shutdown/sigint").0,
        Status::Passed,
        "{}",
        report.summary()
    );
    assert_eq!(
        outcome(&report, "shutdown/sigterm").0,
        Status::Passed,
        "{}",
        report.summary()
    );
}

#[tokio::test]
async fn the_reference_plugin_passes_them() {
    let report = check_plugin(
        &repo().join("target/plugwire-examples-debug/echo"),
        &[],
        &Options::default(),
    )
    .await
    .unwrap();
    for id in [
        "configure/calls-before",
        "configure/twice",
        "shutdown/sigint",
        "shutdown/sighup",
    ] {
        assert_eq!(
            outcome(&report, id).0,
            Status::Passed,
            "{id}:\n{}",
            report.summary()
        );
    }
}

//! Checks that only a deliberately broken plugin can fail, failed by one:
//! configure/calls-before and configure/twice by `fixtures/unordered.py`
//! (calls before `Configure`, `Configure` twice), shutdown/sighup by
//! `fixtures/nohup.py` (no SIGHUP handler), handshake/name-matches-manifest
//! by `fixtures/misnamed.py`, handshake/host-service-unlisted by
//! `fixtures/dialer.py` (HostService dialled unasked), commands/declarations-well-formed by
//! `fixtures/orphan.py` (a subcommand without its parent), boot/16-mib-messages by a plugin
//! served by go-plugin's `plugin.Serve` at its defaults
//! (`interop/go-plugin/served`, 4 MiB); and passed by the reference plugin.

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
async fn a_plugin_named_apart_from_its_manifest_fails_that_check() {
    let dir = python_fixture("misnamed");
    let report = check_plugin(dir.path(), &[], &Options::default())
        .await
        .unwrap();
    let (named, message) = outcome(&report, "handshake/name-matches-manifest");
    assert_eq!(named, Status::Failed, "{}", report.summary());
    assert!(
        message.contains(r#"names the plugin "someone-else", its manifest "misnamed""#),
        "{message}"
    );
    assert_eq!(
        outcome(&report, "handshake/fields").0,
        Status::Passed,
        "{}",
        report.summary()
    );
}

#[tokio::test]
async fn a_plugin_that_dials_the_host_unasked_fails_that_check() {
    let dir = python_fixture("dialer");
    let report = check_plugin(dir.path(), &[], &Options::default())
        .await
        .unwrap();
    let (unlisted, message) = outcome(&report, "handshake/host-service-unlisted");
    assert_eq!(unlisted, Status::Failed, "{}", report.summary());
    assert!(
        message.contains("connected to PLUGWIRE_HOST_SOCKET")
            && message.contains("did not list `host.service`"),
        "{message}"
    );
    assert_eq!(
        outcome(&report, "configure/valid").0,
        Status::Passed,
        "{}",
        report.summary()
    );
}

#[tokio::test]
async fn a_subcommand_without_its_parent_fails_the_declarations_check() {
    let dir = python_fixture("orphan");
    let report = check_plugin(dir.path(), &[], &Options::default())
        .await
        .unwrap();
    let (declared, message) = outcome(&report, "commands/declarations-well-formed");
    assert_eq!(declared, Status::Failed, "{}", report.summary());
    assert!(
        message.contains(
            r#"command "remote add": its parent "remote" is not a declared command (PW-CMD-1)"#
        ),
        "{message}"
    );
}

#[tokio::test]
async fn a_go_plugin_server_at_its_4_mib_default_fails_the_message_size_check_with_the_fix() {
    let served = repo().join("interop/go-plugin/served");
    assert!(
        served.join("go-plugin-served").is_file(),
        "run interop/go-plugin/test.sh first (scripts/test.sh does)"
    );
    let report = check_plugin(&served, &[], &Options::default())
        .await
        .unwrap();
    let (limit, message) = outcome(&report, "boot/16-mib-messages");
    assert_eq!(limit, Status::Failed, "{}", report.summary());
    assert!(
        message.contains("accepts at most 4 MiB")
            && message.contains("PW-BOOT-13")
            && message.contains("grpc.MaxRecvMsgSize(16 << 20)"),
        "{message}"
    );
    assert_eq!(
        outcome(&report, "health/plugin-serving").0,
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
        "boot/16-mib-messages",
        "handshake/name-matches-manifest",
        "handshake/host-service-unlisted",
    ] {
        assert_eq!(
            outcome(&report, id).0,
            Status::Passed,
            "{id}:\n{}",
            report.summary()
        );
    }
}

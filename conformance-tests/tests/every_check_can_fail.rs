//! Every check of the suite can fail: for each check id there is a
//! deliberately broken plugin that fails it. Most are one sabotage each of
//! the Python example (`fixtures/saboteur.py`, run here once per check);
//! the rest are failed by fixtures whose own tests are named in
//! `ELSEWHERE`. The two lists together must cover `CHECKS`.

mod common;

use std::collections::BTreeSet;

use common::{outcome, python_plugin};
use futures_util::StreamExt as _;
use plugwire_conformance::report::Status;
use plugwire_conformance::{CHECKS, Options, check_plugin};

/// The checks `fixtures/saboteur.py` breaks, one per run.
const SABOTAGED: &[&str] = &[
    "health/plugin-serving",
    "boot/version-highest-common",
    "handshake/fields",
    "handshake/capabilities-well-formed",
    "hooks/subscriptions-well-formed",
    "providers/served",
    "configure/valid",
    "configure/invalid",
    "tools/list-matches-handshake",
    "tools/schemas-valid",
    "tools/unknown-tool",
    "tools/arguments-not-an-object",
    "tools/arguments-violating-schema",
    "tools/stream",
    "commands/stdin-eof",
    "shutdown/shutdown-honoured",
    "shutdown/socket-removed",
    "shutdown/sigterm",
    "shutdown/sigint",
];

/// The checks failed by other fixtures, and the test that shows it.
const ELSEWHERE: &[(&str, &str)] = &[
    (
        "boot/no-cookie",
        "plugins.rs: bootstrap_faults_fail_their_checks (noise-before-line)",
    ),
    (
        "boot/version-none-common",
        "plugins.rs: bootstrap_faults_fail_their_checks (wrong-version)",
    ),
    (
        "boot/line-format",
        "plugins.rs: bootstrap_faults_fail_their_checks (noise-before-line)",
    ),
    (
        "boot/stdout-clean",
        "plugins.rs: bootstrap_faults_fail_their_checks (noise-before-line)",
    ),
    (
        "boot/socket-in-dir",
        "plugins.rs: bootstrap_faults_fail_their_checks (outside-socket)",
    ),
    (
        "boot/16-mib-messages",
        "broken_fixtures.rs: a go-plugin server at its 4 MiB default",
    ),
    (
        "handshake/host-service-unlisted",
        "broken_fixtures.rs: fixtures/dialer.py",
    ),
    (
        "handshake/name-matches-manifest",
        "broken_fixtures.rs: fixtures/misnamed.py",
    ),
    (
        "commands/declarations-well-formed",
        "broken_fixtures.rs: fixtures/orphan.py",
    ),
    (
        "configure/calls-before",
        "broken_fixtures.rs: fixtures/unordered.py",
    ),
    (
        "configure/twice",
        "broken_fixtures.rs: fixtures/unordered.py",
    ),
    ("shutdown/sighup", "broken_fixtures.rs: fixtures/nohup.py"),
    (
        "tools/deadline",
        "plugins.rs: a_bad_fixture_fails_exactly_what_it_breaks",
    ),
    (
        "tools/cancellation",
        "plugins.rs: a_bad_fixture_fails_exactly_what_it_breaks",
    ),
    (
        "tools/concurrent-calls",
        "plugins.rs: a_bad_fixture_fails_exactly_what_it_breaks",
    ),
    (
        "tools/large-argument",
        "plugins.rs: a_bad_fixture_fails_exactly_what_it_breaks",
    ),
    (
        "commands/exit-codes",
        "plugins.rs: a_bad_fixture_fails_exactly_what_it_breaks",
    ),
    (
        "commands/stdio-streaming",
        "plugins.rs: a_bad_fixture_fails_exactly_what_it_breaks",
    ),
    (
        "hooks/decisions-valid",
        "plugins.rs: a_bad_fixture_fails_exactly_what_it_breaks",
    ),
    (
        "hooks/deadline",
        "plugins.rs: a_bad_fixture_fails_exactly_what_it_breaks",
    ),
];

/// The saboteur as a plugin directory, breaking `sabotage` (nothing when
/// empty); named as the example is, so that only the sabotage differs.
fn saboteur(sabotage: &str) -> tempfile::TempDir {
    python_plugin(
        "saboteur",
        &format!(
            "name = \"echo-python\"\nversion = \"0.1.0\"\n\
             [run]\nexecutable = \"plugin\"\nenv = {{ SABOTAGE = \"{sabotage}\" }}\n\
             [protocol]\nversions = [1]\n\
             [hooks]\npatterns = [\"conformance.intercept\"]\nintercept = true\n"
        ),
    )
}

#[test]
fn every_check_has_a_plugin_that_fails_it() {
    let all: BTreeSet<&str> = CHECKS.iter().map(|c| c.id).collect();
    let covered: BTreeSet<&str> = SABOTAGED
        .iter()
        .copied()
        .chain(ELSEWHERE.iter().map(|(id, _)| *id))
        .collect();
    assert_eq!(
        covered.len(),
        SABOTAGED.len() + ELSEWHERE.len(),
        "a check is listed twice"
    );
    let missing: Vec<_> = all.difference(&covered).collect();
    let unknown: Vec<_> = covered.difference(&all).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "checks no fixture fails: {missing:?}; listed ids that are not checks: {unknown:?}"
    );
}

#[tokio::test]
async fn each_sabotage_fails_its_check() {
    // A few at a time: each run starts the plugin several times.
    let failures: Vec<String> = futures_util::stream::iter(SABOTAGED)
        .map(|id| async move {
            let dir = saboteur(id);
            let report = check_plugin(dir.path(), &[], &Options::default())
                .await
                .unwrap();
            let (status, message) = outcome(&report, id);
            if status != Status::Failed {
                Some(format!(
                    "{id}: {status:?}, expected Failed\n{}",
                    report.summary()
                ))
            } else if message.starts_with("not run") {
                Some(format!("{id} was not run rather than failed: {message}"))
            } else {
                None
            }
        })
        .buffer_unordered(3)
        .filter_map(std::future::ready)
        .collect()
        .await;
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test]
async fn without_a_sabotage_the_saboteur_passes() {
    let dir = saboteur("");
    let report = check_plugin(dir.path(), &[], &Options::default())
        .await
        .unwrap();
    let failed: Vec<_> = report
        .outcomes
        .iter()
        .filter(|o| o.status == Status::Failed)
        .map(|o| o.id)
        .collect();
    assert!(failed.is_empty(), "{}", report.summary());
}

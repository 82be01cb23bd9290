//! The host suite against two real hosts: the plugwire CLI, which must pass
//! every host check, and the go-plugin host of `interop/go-plugin` (built by
//! its test.sh), which passes its whole environment on, gives the plugin no
//! runtime directory and knows no manifest, and must fail exactly those
//! checks.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::repo;
use plugwire_conformance::host_suite::{check_host, checks};
use plugwire_conformance::report::{Report, Status};

/// The probe is this package's binary.
fn probe() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_BIN_EXE_plugwire-conformance"))
}

fn failed(report: &Report) -> BTreeSet<&'static str> {
    report
        .outcomes
        .iter()
        .filter(|o| o.status == Status::Failed)
        .map(|o| o.id)
        .collect()
}

#[tokio::test]
async fn the_plugwire_host_passes_every_host_check() {
    let plugwire = repo().join("target/debug/plugwire");
    assert!(
        plugwire.is_file(),
        "{} is missing: scripts/build-examples.sh builds it",
        plugwire.display()
    );
    let home = tempfile::tempdir().unwrap();
    for sandbox in ["none", "standard"] {
        let command = format!(
            "HOME={home} XDG_DATA_HOME={home}/data XDG_CONFIG_HOME={home}/config \
             {plugwire} --no-standard-dirs --plugin-dir {{plugins}} --sandbox {sandbox} --best-effort \
             call plugwire-probe.observe",
            home = home.path().display(),
            plugwire = plugwire.display(),
        );
        let report = check_host(&command, probe(), Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(report.outcomes.len(), checks().len());
        // Under the sandbox the probe cannot write where the suite reads
        // how it ended: only that check may be not applicable there.
        let expected = |id: &str| {
            if sandbox == "standard" && id == "host/shutdown-first" {
                vec![Status::Passed, Status::NotApplicable]
            } else {
                vec![Status::Passed]
            }
        };
        assert!(
            report
                .outcomes
                .iter()
                .all(|o| expected(o.id).contains(&o.status)),
            "sandbox {sandbox}:\n{}",
            report.summary()
        );
        if sandbox == "none" {
            assert_eq!(
                report.outcomes.last().map(|o| (o.id, o.status)),
                Some(("host/shutdown-first", Status::Passed))
            );
        }
    }
}

#[tokio::test]
async fn a_go_plugin_host_fails_what_go_plugin_does_not_do() {
    let host = repo().join("interop/go-plugin/go-plugin-host");
    assert!(
        host.is_file(),
        "{} is missing: run interop/go-plugin/test.sh first (scripts/test.sh does)",
        host.display()
    );
    let command = format!(
        "{} -tool observe -arguments '{{}}' -- {{executable}} --probe",
        host.display()
    );
    let report = check_host(&command, probe(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        failed(&report),
        BTreeSet::from([
            "host/environment-allow-list",
            "host/runtime-dir",
            "host/handshake-once",
            "host/shutdown-first",
            "host/call-deadline",
        ]),
        "{}",
        report.summary()
    );
    let message = |id: &str| {
        report
            .outcomes
            .iter()
            .find(|o| o.id == id)
            .map(|o| o.message.clone())
            .unwrap()
    };
    let gated = report
        .outcomes
        .iter()
        .find(|o| o.id == "host/host-service-gated")
        .unwrap();
    assert_eq!(
        gated.status,
        Status::NotApplicable,
        "go-plugin lists no host.service"
    );
    assert!(message("host/environment-allow-list").contains("PLUGWIRE_CONFORMANCE_CANARY"));
    assert!(message("host/runtime-dir").contains("PLUGIN_UNIX_SOCKET_DIR was not set"));
    assert!(message("host/handshake-once").contains("plugin_name was \"plugin\""));
    assert!(message("host/shutdown-first").contains("neither Shutdown nor SIGTERM"));
    // go-plugin's Ping checks health without a deadline.
    assert!(message("host/call-deadline").contains("no grpc-timeout: health;"));
}

#[tokio::test]
async fn a_command_that_never_calls_the_probe_fails_every_check_saying_so() {
    let report = check_host("echo nothing to see", probe(), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(failed(&report).len(), checks().len());
    assert!(
        report.outcomes[0]
            .message
            .contains("printed no answer of the probe's `observe` tool"),
        "{}",
        report.summary()
    );
}

//! The suite starting real plugin executables the way the host does: every
//! Rust example passes, the faulty fixture fails exactly what it breaks,
//! and the binary reports and exits as documented.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use plugwire_conformance::report::{Report, Status};
use plugwire_conformance::{CHECKS, Options, check_plugin};

/// The example plugins, built in debug by `scripts/test.sh`.
fn examples() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugwire-examples-debug");
    assert!(
        dir.join("echo/plugin.toml").is_file(),
        "{} is missing: run `PLUGWIRE_PROFILE=debug ./scripts/build-examples.sh` first (scripts/test.sh does)",
        dir.display()
    );
    dir
}

/// A copy of an example plugin directory that nobody else edits, readable
/// by the sandbox's unprivileged user; `env` is added to its `[run]`.
fn copy_example(name: &str, env: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    for entry in std::fs::read_dir(examples().join(name)).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            // A dashboard panel: nothing the suite looks at.
            continue;
        }
        let to = dir.path().join(entry.file_name());
        // The executable is linked (debug builds are large); the manifest,
        // edited below, is copied.
        if entry.file_name() == "plugin.toml" || std::fs::hard_link(entry.path(), &to).is_err() {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
    let manifest = dir.path().join("plugin.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let text = text.replace("[run]\n", &format!("[run]\n{env}\n"));
    std::fs::write(&manifest, text).unwrap();
    dir
}

fn ids(report: &Report, status: Status) -> BTreeSet<&'static str> {
    report
        .outcomes
        .iter()
        .filter(|o| o.status == status)
        .map(|o| o.id)
        .collect()
}

fn status(report: &Report, id: &str) -> Status {
    report
        .outcomes
        .iter()
        .find(|o| o.id == id)
        .unwrap_or_else(|| panic!("no outcome for {id}"))
        .status
}

#[tokio::test]
async fn every_rust_example_passes() {
    let options = Options::default();
    for name in ["echo", "wordcount", "audit", "kv", "probe", "faulty"] {
        let report = check_plugin(&examples().join(name), &[], &options)
            .await
            .unwrap();
        assert!(report.passed(), "{name}:\n{}", report.summary());
        // Every check is reported, once, in the documented order.
        let order: Vec<(&str, &str)> = report
            .outcomes
            .iter()
            .map(|o| (o.id, o.requirement))
            .collect();
        let table: Vec<(&str, &str)> = CHECKS.iter().map(|c| (c.id, c.requirement)).collect();
        assert_eq!(order, table, "{name}");
        match name {
            // echo carries the fixture profile: nothing is left untested
            // but providers, which it has none of.
            "echo" => assert_eq!(
                ids(&report, Status::NotApplicable),
                BTreeSet::from(["providers/served"])
            ),
            "kv" => assert_eq!(status(&report, "providers/served"), Status::Passed),
            // Without the feature, fixture checks are not applicable, never
            // passed.
            _ => assert_eq!(status(&report, "tools/cancellation"), Status::NotApplicable),
        }
    }
}

#[tokio::test]
async fn echo_passes_under_the_standard_sandbox() {
    assert!(
        plugwire_host::launch::find_launcher(None).is_some(),
        "plugwire-launcher must be built next to the test binaries"
    );
    let echo = copy_example("echo", "");
    let options = Options {
        sandbox: true,
        ..Options::default()
    };
    let report = check_plugin(echo.path(), &[], &options).await.unwrap();
    assert!(report.passed(), "{}", report.summary());
    assert_eq!(status(&report, "shutdown/sigterm"), Status::Passed);
}

#[tokio::test]
async fn a_bad_fixture_fails_exactly_what_it_breaks() {
    let faulty = copy_example("faulty", "env = { FAULTY_MODE = \"bad-fixture\" }");
    let report = check_plugin(faulty.path(), &[], &Options::default())
        .await
        .unwrap();
    assert_eq!(
        ids(&report, Status::Failed),
        BTreeSet::from([
            "tools/deadline",
            "tools/cancellation",
            "tools/concurrent-calls",
            "tools/large-argument",
            "commands/exit-codes",
            "commands/stdio-streaming",
            "hooks/decisions-valid",
            "hooks/deadline",
        ]),
        "{}",
        report.summary()
    );
    assert_eq!(
        ids(&report, Status::NotApplicable),
        BTreeSet::from(["providers/served"])
    );
}

#[tokio::test]
async fn bootstrap_faults_fail_their_checks() {
    let options = Options {
        bootstrap_timeout: std::time::Duration::from_secs(3),
        ..Options::default()
    };
    let run = |mode: &'static str| {
        let options = options.clone();
        async move {
            let dir = copy_example("faulty", &format!("env = {{ FAULTY_MODE = \"{mode}\" }}"));
            let report = check_plugin(dir.path(), &[], &options).await.unwrap();
            (mode, report)
        }
    };
    let reports = futures_util::future::join_all(
        [
            "noise-before-line",
            "outside-socket",
            "wrong-version",
            "exit-before-line",
        ]
        .map(run),
    )
    .await;
    for (mode, report) in &reports {
        let failed = ids(report, Status::Failed);
        let expected: &[(&str, Status)] = match *mode {
            // A line of noise is both a stray line and an invalid line, and
            // it is printed even without the cookie.
            "noise-before-line" => &[
                ("boot/no-cookie", Status::Failed),
                ("boot/stdout-clean", Status::Failed),
                ("boot/line-format", Status::Failed),
            ],
            "outside-socket" => &[
                ("boot/line-format", Status::Passed),
                ("boot/socket-in-dir", Status::Failed),
            ],
            // It answers version 99 whatever is offered.
            "wrong-version" => &[
                ("boot/version-none-common", Status::Failed),
                ("boot/line-format", Status::Passed),
            ],
            // Exiting at once with a message is exactly right without the
            // cookie, and exactly wrong with it.
            "exit-before-line" => &[
                ("boot/no-cookie", Status::Passed),
                ("boot/version-none-common", Status::Passed),
                ("boot/line-format", Status::Failed),
                ("health/plugin-serving", Status::Failed),
            ],
            _ => unreachable!(),
        };
        for (id, want) in expected {
            assert_eq!(
                status(report, id),
                *want,
                "{mode} {id}:\n{}",
                report.summary()
            );
        }
        // A plugin that did not start fails everything it could not show,
        // and nothing is counted as passed or not applicable for it.
        assert!(failed.contains("shutdown/sigterm"), "{mode}");
        assert!(ids(report, Status::NotApplicable).is_empty(), "{mode}");
    }
}

#[test]
fn the_binary_writes_reports_and_exits_by_outcome() {
    let bin = env!("CARGO_BIN_EXE_plugwire-conformance");
    let out = tempfile::tempdir().unwrap();
    let (json, junit, tap) = (
        out.path().join("r.json"),
        out.path().join("r.xml"),
        out.path().join("r.tap"),
    );
    let run = std::process::Command::new(bin)
        .arg("--json")
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .arg("--tap")
        .arg(&tap)
        .arg("--plugin")
        .arg(examples().join("echo"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("PASS boot/no-cookie (PW-BOOT-1)"),
        "{stdout}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["failed"], 0);
    assert_eq!(report["checks"].as_array().unwrap().len(), CHECKS.len());
    assert!(
        std::fs::read_to_string(&junit)
            .unwrap()
            .contains("<testsuite")
    );
    assert!(
        std::fs::read_to_string(&tap)
            .unwrap()
            .starts_with("TAP version 13")
    );

    // A failing plugin exits 1; listing its failures as known makes it 0,
    // and a listed check that passes fails the run again.
    let faulty = copy_example("faulty", "env = { FAULTY_MODE = \"bad-fixture\" }");
    let known = out.path().join("known");
    let run_faulty = |known: Option<&Path>| {
        let mut c = std::process::Command::new(bin);
        if let Some(known) = known {
            c.arg("--known-failing").arg(known);
        }
        c.arg("--plugin").arg(faulty.path()).output().unwrap()
    };
    assert_eq!(run_faulty(None).status.code(), Some(1));
    let failing = "tools/deadline\ntools/cancellation\ntools/concurrent-calls\ntools/large-argument\ncommands/exit-codes\ncommands/stdio-streaming\nhooks/decisions-valid\nhooks/deadline\n";
    std::fs::write(&known, format!("# bad on purpose\n{failing}")).unwrap();
    let r = run_faulty(Some(&known));
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stdout)
    );
    std::fs::write(&known, format!("{failing}boot/no-cookie\n")).unwrap();
    assert_eq!(run_faulty(Some(&known)).status.code(), Some(1));

    // Nothing to check is a usage error.
    let r = std::process::Command::new(bin)
        .args(["--plugin", "/nonexistent/plugin"])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(stderr.contains("expected a plugin directory"), "{stderr}");
}

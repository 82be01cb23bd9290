//! The Python, TypeScript/Node and Go example plugins pass the whole suite,
//! fixture profile included. `scripts/test.sh` sets them up first (each
//! directory's `setup.sh`: dependencies, stubs generated from `proto/`,
//! build).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use plugwire_conformance::report::Status;
use plugwire_conformance::{CHECKS, Options, check_plugin};

fn example(language: &str, built: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sdk-examples")
        .join(language);
    assert!(
        dir.join(built).exists(),
        "{} is not set up: run {}/setup.sh first (scripts/test.sh does)",
        dir.display(),
        dir.display()
    );
    dir
}

async fn passes(dir: &Path) {
    let report = check_plugin(dir, &[], &Options::default()).await.unwrap();
    assert!(report.passed(), "{}:\n{}", dir.display(), report.summary());
    assert_eq!(report.outcomes.len(), CHECKS.len());
    let not_applicable: BTreeSet<&str> = report
        .outcomes
        .iter()
        .filter(|o| o.status == Status::NotApplicable)
        .map(|o| o.id)
        .collect();
    // Everything but providers and streaming (neither is offered) is
    // exercised: the fixture profile is there.
    assert_eq!(
        not_applicable,
        BTreeSet::from(["providers/served", "tools/stream"]),
        "{}",
        dir.display()
    );
}

#[tokio::test]
async fn the_python_plugin_passes() {
    passes(&example("python", "gen/plugwire/v1/tool_pb2.py")).await;
}

#[tokio::test]
async fn the_node_plugin_passes() {
    passes(&example("node", "dist/echo.js")).await;
}

#[tokio::test]
async fn the_go_plugin_passes() {
    passes(&example("go", "echo-go")).await;
}

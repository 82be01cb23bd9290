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

async fn passes(dir: &Path, not_applicable_expected: &[&str]) {
    passes_with(dir, not_applicable_expected, &Options::default()).await;
}

async fn passes_with(dir: &Path, not_applicable_expected: &[&str], options: &Options) {
    let report = check_plugin(dir, &[], options).await.unwrap();
    assert!(report.passed(), "{}:\n{}", dir.display(), report.summary());
    assert_eq!(report.outcomes.len(), CHECKS.len());
    let not_applicable: BTreeSet<&str> = report
        .outcomes
        .iter()
        .filter(|o| o.status == Status::NotApplicable)
        .map(|o| o.id)
        .collect();
    // Everything but what the plugin does not offer is exercised: the
    // fixture profile is there.
    assert_eq!(
        not_applicable,
        BTreeSet::from_iter(not_applicable_expected.iter().copied()),
        "{}",
        dir.display()
    );
}

#[tokio::test]
async fn the_python_plugin_passes() {
    // The SDKs stream progress: only providers are not offered.
    passes(
        &example("python", ".venv/.plugwire-sdk"),
        &["providers/served"],
    )
    .await;
}

#[tokio::test]
async fn the_node_plugin_passes() {
    passes(&example("node", "dist/echo.js"), &["providers/served"]).await;
}

#[tokio::test]
async fn the_go_plugin_passes() {
    passes(&example("go", "echo-go"), &["providers/served"]).await;
}

/// The standard sandbox shows only the system directories and the plugin's
/// own; the virtual environment's interpreter (pyenv's, on these machines)
/// is made visible by its prefix, read-only, or the plugin could not start
/// (`python: not found`, exit 127).
#[tokio::test]
async fn the_python_plugin_passes_under_the_sandbox() {
    let options = Options {
        sandbox: true,
        ..Options::default()
    };
    passes_with(
        &example("python", ".venv/.plugwire-sdk"),
        &["providers/served"],
        &options,
    )
    .await;
}

#[tokio::test]
async fn the_node_plugin_passes_under_the_sandbox() {
    let options = Options {
        sandbox: true,
        ..Options::default()
    };
    passes_with(
        &example("node", "dist/echo.js"),
        &["providers/served"],
        &options,
    )
    .await;
}

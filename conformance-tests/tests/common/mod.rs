//! What the suite's own tests share: plugin directories around the
//! deliberately broken Python fixtures in `tests/fixtures/`, run on the
//! Python example's virtualenv (which `scripts/test.sh` sets up).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use plugwire_conformance::report::{Report, Status};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A plugin directory named `name` that runs `tests/fixtures/<name>.py`.
pub fn python_fixture(name: &str) -> tempfile::TempDir {
    python_plugin(
        name,
        &format!(
            "name = \"{name}\"\nversion = \"0.1.0\"\n[run]\nexecutable = \"plugin\"\n[protocol]\nversions = [1]\n"
        ),
    )
}

/// A plugin directory whose manifest is `manifest` (its executable is
/// `plugin`) and that runs `tests/fixtures/<script>.py` on the Python
/// example's virtualenv.
pub fn python_plugin(script: &str, manifest: &str) -> tempfile::TempDir {
    let python = repo().join("sdk-examples/python/.venv/bin/python");
    assert!(
        python.exists(),
        "run sdk-examples/python/setup.sh first (scripts/test.sh does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{script}.py"));
    std::fs::write(dir.path().join("plugin.toml"), manifest).unwrap();
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

/// One check's status and message.
pub fn outcome(report: &Report, id: &str) -> (Status, String) {
    let o = report
        .outcomes
        .iter()
        .find(|o| o.id == id)
        .unwrap_or_else(|| panic!("no outcome {id}:\n{}", report.summary()));
    (o.status, o.message.clone())
}

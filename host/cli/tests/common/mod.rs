//! What the CLI's integration tests share.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The example plugins, built by `scripts/build-examples.sh`.
pub fn examples() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/plugwire-examples-debug");
    assert!(
        dir.join("echo/plugin.toml").is_file(),
        "{} is missing: run `PLUGWIRE_PROFILE=debug ./scripts/build-examples.sh` first (scripts/test.sh does)",
        dir.display()
    );
    dir
}

/// Copies a plugin directory, with its subfolders (a panel, say).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

//! Helpers shared by the host's integration tests: plugin directories built
//! by `scripts/build-examples.sh`, host configurations, process checks.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use plugwire_host::{Host, HostConfig};

/// The example plugins, built in debug by `scripts/test.sh`.
pub fn examples() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugwire-examples-debug");
    assert!(
        dir.join("echo/plugin.toml").is_file(),
        "{} is missing: run `PLUGWIRE_PROFILE=debug ./scripts/build-examples.sh` first (scripts/test.sh does)",
        dir.display()
    );
    dir
}

/// The `plugwire` command (crate `plugwire-cli`), built beside this
/// package's binaries by `scripts/build-examples.sh`.
pub fn cli() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_plugwire-launcher")).with_file_name("plugwire");
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build -p plugwire-cli` (scripts/test.sh does)",
        path.display()
    );
    path
}

/// A scratch directory with copies of some example plugins, whose
/// manifests may then be edited.
pub struct Plugins {
    pub dir: tempfile::TempDir,
    pub data: tempfile::TempDir,
}

impl Plugins {
    pub fn new(names: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Sandboxed plugins run as nobody, who must reach them.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        for name in names {
            let from = examples().join(name);
            let to = dir.path().join(name);
            copy_dir(&from, &to);
        }
        Self {
            dir,
            data: tempfile::tempdir().unwrap(),
        }
    }

    /// Adds a copy of example `from` named `name` (its manifest renamed,
    /// and the plugin told its new name through `<FROM>_PLUGIN_NAME`, which
    /// echo and hostile read).
    pub fn copy_as(&self, from: &str, name: &str) {
        let to = self.dir.path().join(name);
        copy_dir(&examples().join(from), &to);
        let variable = format!("{}_PLUGIN_NAME", from.to_uppercase());
        self.edit(name, |t| {
            t.replacen(
                &format!("name = \"{from}\""),
                &format!("name = \"{name}\""),
                1,
            )
            .replacen(
                &format!("executable = \"plugwire-example-{from}\""),
                &format!(
                    "executable = \"plugwire-example-{from}\"\nenv = {{ {variable} = \"{name}\" }}"
                ),
                1,
            )
        });
    }

    /// Appends TOML to a plugin's manifest (e.g. a `[run]` env override).
    pub fn edit(&self, name: &str, edit: impl FnOnce(String) -> String) {
        let path = self.dir.path().join(name).join("plugin.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, edit(text)).unwrap();
    }

    /// Runs the faulty plugin in a bootstrap fault mode.
    pub fn faulty_mode(&self, mode: &str) {
        self.edit("faulty", |t| {
            t.replace(
                "executable = \"plugwire-example-faulty\"",
                &format!(
                    "executable = \"plugwire-example-faulty\"\nenv = {{ FAULTY_MODE = \"{mode}\" }}"
                ),
            )
        });
    }

    /// A host configuration for these plugins, unsandboxed unless a test
    /// asks for a level (the default level has its own tests).
    pub fn config(&self) -> HostConfig {
        let mut config = HostConfig::new("test", "0.0.0")
            .sandbox(plugwire_host::sandbox::SandboxLevel::None)
            .without_standard_dirs()
            .plugin_dir(self.dir.path())
            .data_dir(self.data.path())
            .grant_all();
        config.launcher = Some(PathBuf::from(env!("CARGO_BIN_EXE_plugwire-launcher")));
        config.timeouts.bootstrap = Duration::from_secs(3);
        config.timeouts.handshake = Duration::from_secs(2);
        config.timeouts.shutdown_grace = Duration::from_millis(500);
        config.restart.initial_backoff = Duration::from_millis(20);
        config.restart.max_backoff = Duration::from_millis(200);
        config
    }

    pub async fn host(&self) -> Host {
        Host::start(self.config()).await.unwrap()
    }
}

/// Whether a process exists (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            stat.rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next())
                != Some("Z")
        }
        Err(_) => false,
    }
}

/// Live processes in a process group.
pub fn group_members(pgid: u32) -> Vec<u32> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r.to_owned()) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() != Some(&"Z")
            && fields.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid)
        {
            members.push(pid);
        }
    }
    members
}

/// Waits until `check` holds, up to `limit`.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
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

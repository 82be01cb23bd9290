//! Helpers shared by the MCP tests: the example plugins built by
//! `scripts/build-examples.sh`, the real MCP software `interop/mcp/setup.sh`
//! installs, and host configurations over them.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use plugwire_host::HostConfig;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The example plugins, built in debug by `scripts/test.sh`.
pub fn examples() -> PathBuf {
    let dir = repo().join("target/plugwire-examples-debug");
    assert!(
        dir.join("echo/plugin.toml").is_file(),
        "{} is missing: run `PLUGWIRE_PROFILE=debug ./scripts/build-examples.sh` first (scripts/test.sh does)",
        dir.display()
    );
    dir
}

/// A binary of the workspace built beside this package's (the launcher and
/// the `plugwire` command come from `scripts/build-examples.sh`).
pub fn sibling(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_plugwire-mcp-adapter")).with_file_name(name);
    assert!(
        path.is_file(),
        "{} is missing: `PLUGWIRE_PROFILE=debug ./scripts/build-examples.sh` builds it (scripts/test.sh does)",
        path.display()
    );
    path
}

/// `interop/mcp`, with the real MCP software its `setup.sh` installs: the
/// Python SDK's client and the inspector's in `client/`, and MCP servers as
/// plugin directories in `plugins/` (`everything`, `time`).
pub fn interop() -> PathBuf {
    let dir = repo().join("interop/mcp");
    for installed in [
        "client/.venv/bin/python",
        "client/node_modules/.bin/mcp-inspector",
        "plugins/everything/node_modules/.bin/mcp-server-everything",
        "plugins/time/.venv/bin/mcp-server-time",
    ] {
        assert!(
            dir.join(installed).exists(),
            "{installed} is missing in {}: run interop/mcp/setup.sh (scripts/test.sh does)",
            dir.display()
        );
    }
    dir
}

/// A host configuration over the MCP servers of `interop/mcp/plugins`,
/// under the standard sandbox.
pub fn mcp_servers(data: &Path) -> HostConfig {
    let mut config = HostConfig::new("test", "0.0.0")
        .without_standard_dirs()
        .plugin_dir(interop().join("plugins"))
        .data_dir(data)
        .grant_all();
    config.launcher = Some(sibling("plugwire-launcher"));
    config.mcp_adapter = Some(PathBuf::from(env!("CARGO_BIN_EXE_plugwire-mcp-adapter")));
    config.timeouts.shutdown_grace = Duration::from_millis(500);
    config
}

/// Adds the misbehaving MCP server of `interop/mcp/fixtures/unruly.py` as
/// plugin `unruly`, recording cancellations in `record`.
pub fn add_unruly(plugins: &Plugins, record: &Path) {
    let interop = interop();
    plugins.add_mcp_script(
        "unruly",
        &format!(
            "exec {} {}",
            interop.join("client/.venv/bin/python").display(),
            interop.join("fixtures/unruly.py").display()
        ),
        &format!(
            "env = {{ UNRULY_RECORD = \"{}\" }}\n[limits]\nmemory = \"1GiB\"\n",
            record.display()
        ),
    );
}

/// Every live descendant of `pid`, with its command line.
pub fn descendants(pid: u32) -> Vec<(u32, String)> {
    let mut parents = std::collections::HashMap::<u32, Vec<u32>>::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() == Some(&"Z") {
            continue;
        }
        if let Some(parent) = fields.get(1).and_then(|p| p.parse().ok()) {
            parents.entry(parent).or_default().push(child);
        }
    }
    let mut found = Vec::new();
    let mut queue = vec![pid];
    while let Some(next) = queue.pop() {
        for &child in parents.get(&next).map(Vec::as_slice).unwrap_or_default() {
            let cmdline = std::fs::read(format!("/proc/{child}/cmdline"))
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .unwrap_or_default();
            found.push((child, cmdline));
            queue.push(child);
        }
    }
    found
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

/// A scratch directory of plugins.
pub struct Plugins {
    pub dir: tempfile::TempDir,
    pub data: tempfile::TempDir,
}

impl Plugins {
    /// Copies of some example plugins.
    pub fn new(names: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Sandboxed plugins run as a uid of their own, who must reach them.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let plugins = Self {
            dir,
            data: tempfile::tempdir().unwrap(),
        };
        for name in names {
            plugins.add_example(name);
        }
        plugins
    }

    /// Adds a copy of an example plugin.
    pub fn add_example(&self, name: &str) -> PathBuf {
        let to = self.dir.path().join(name);
        copy_dir(&examples().join(name), &to);
        to
    }

    /// Adds a copy of the echo example named `name` (echo reads its name
    /// from `ECHO_PLUGIN_NAME`).
    pub fn add_echo_as(&self, name: &str) -> PathBuf {
        let to = self.dir.path().join(name);
        copy_dir(&examples().join("echo"), &to);
        let manifest = to.join("plugin.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        let text = text
            .replacen("name = \"echo\"", &format!("name = \"{name}\""), 1)
            .replacen(
                "executable = \"plugwire-example-echo\"",
                &format!("executable = \"plugwire-example-echo\"\nenv = {{ ECHO_PLUGIN_NAME = \"{name}\" }}"),
                1,
            );
        std::fs::write(&manifest, text).unwrap();
        to
    }

    /// Adds a plugin directory holding only `manifest`.
    pub fn add_manifest(&self, name: &str, manifest: &str) -> PathBuf {
        let to = self.dir.path().join(name);
        std::fs::create_dir_all(&to).unwrap();
        std::fs::write(to.join("plugin.toml"), manifest).unwrap();
        to
    }

    /// Adds an MCP server plugin (`kind = "mcp"`) run by the shell script
    /// `script`, with `extra` appended to its manifest's `[run]` table.
    pub fn add_mcp_script(&self, name: &str, script: &str, extra: &str) -> PathBuf {
        let dir = self.add_manifest(
            name,
            &format!(
                "name = \"{name}\"\nversion = \"0.1.0\"\nkind = \"mcp\"\n[run]\nexecutable = \"server.sh\"\n{extra}"
            ),
        );
        let path = dir.join("server.sh");
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        dir
    }

    /// A host configuration for these plugins, unsandboxed.
    pub fn config(&self) -> HostConfig {
        let mut config = HostConfig::new("test", "0.0.0")
            .sandbox(plugwire_host::sandbox::SandboxLevel::None)
            .without_standard_dirs()
            .plugin_dir(self.dir.path())
            .data_dir(self.data.path())
            .grant_all();
        config.launcher = Some(sibling("plugwire-launcher"));
        config.mcp_adapter = Some(PathBuf::from(env!("CARGO_BIN_EXE_plugwire-mcp-adapter")));
        config.timeouts.shutdown_grace = Duration::from_millis(500);
        config
    }
}

/// Copies a directory tree.
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

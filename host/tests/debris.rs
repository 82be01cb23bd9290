//! No debris: what a host killed with SIGKILL left behind is reclaimed by
//! the next host. Its own test binary, so that no other test's host has
//! reclaimed (or claimed) anything in this process first.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Plugins, eventually};
use plugwire_host::sandbox::SandboxLevel;
use plugwire_host::{CallOptions, Host};
use serde_json::json;

/// This user's runtime base, found as the host finds it, without creating
/// a runtime directory (which would reclaim too early).
fn runtime_base() -> PathBuf {
    let uid = nix::unistd::geteuid();
    [
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
        Some("/tmp".into()),
    ]
    .into_iter()
    .flatten()
    .map(|b| b.join(format!("plugwire-{uid}")))
    .find(|b| b.is_dir())
    .unwrap_or_else(|| PathBuf::from(format!("/tmp/plugwire-{uid}")))
}

/// Where this machine puts `plugwire-<pid>` cgroups, for each controller.
fn cgroup_parents() -> Vec<PathBuf> {
    use plugwire_host::sandbox::cgroup::Layout;
    match Layout::detect() {
        Ok(Layout::V2 { mount, own, .. }) => {
            vec![mount.join(own.parent().unwrap_or(Path::new("")))]
        }
        Ok(Layout::V1 { controllers }) => controllers
            .into_iter()
            .map(|(_, mount, own)| mount.join(own))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// No debris: a host killed with SIGKILL leaves its plugins' runtime
/// directories and cgroups behind; the next host to start removes them.
#[tokio::test]
async fn what_a_killed_host_left_is_reclaimed() {
    let plugins = Plugins::new(&["faulty", "echo"]);
    let mut cli = std::process::Command::new(common::cli())
        .args([
            "--no-standard-dirs",
            "--yes",
            "--sandbox",
            "standard",
            "--best-effort",
        ])
        .arg("--plugin-dir")
        .arg(plugins.dir.path())
        .env("XDG_DATA_HOME", plugins.data.path())
        .env("XDG_CONFIG_HOME", plugins.data.path())
        .args(["call", "faulty.hang"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = cli.id();
    let base = runtime_base();
    let leftovers = || -> Vec<PathBuf> {
        let prefix = format!("pw-{pid}-");
        let mut found: Vec<PathBuf> = std::fs::read_dir(&base)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&prefix)
            })
            .collect();
        found.extend(
            cgroup_parents()
                .into_iter()
                .map(|p| p.join(format!("plugwire-{pid}")))
                .filter(|p| p.exists()),
        );
        found
    };
    assert!(
        eventually(Duration::from_secs(10), || base
            .join(format!("host-{pid}.lock"))
            .exists()
            && !leftovers().is_empty())
        .await,
        "the plugin started"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    cli.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!leftovers().is_empty(), "debris was left, as expected");

    let host = Host::start(plugins.config().sandbox(SandboxLevel::Standard))
        .await
        .unwrap();
    host.call_tool("echo.echo", json!({"text": "x"}), CallOptions::default())
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(5), || leftovers().is_empty()).await,
        "left behind: {:?}",
        leftovers()
    );
    host.shutdown().await;
}

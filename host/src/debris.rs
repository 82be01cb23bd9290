//! Reclaiming what a host killed with SIGKILL left behind: its plugins'
//! runtime directories (sockets, sandbox roots) and its cgroups. Each host
//! holds an `flock` on `host-<pid>.lock` in its runtime base for as long as
//! it lives; a lock nobody holds belongs to a dead host, whose `pw-<pid>-*`
//! and `pwr-<pid>-*` directories the next host removes. Cgroups are named
//! `plugwire-<pid>`; one whose host process is gone is killed and removed.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The locks this process holds, one per runtime base it used.
static HELD: Mutex<Vec<(PathBuf, std::fs::File)>> = Mutex::new(Vec::new());

/// The prefix of this host's runtime directories.
pub(crate) fn runtime_prefix() -> String {
    format!("pw-{}-", std::process::id())
}

/// The prefix of this host's sandbox root directories.
pub(crate) fn root_prefix() -> String {
    format!("pwr-{}-", std::process::id())
}

fn try_lock(file: &std::fs::File) -> bool {
    // SAFETY: flock on an fd we own.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// Makes sure this process holds its lock in `base`, reclaiming what dead
/// hosts left there the first time.
pub(crate) fn claim(base: &Path) -> std::io::Result<()> {
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    if held.iter().any(|(b, _)| b == base) {
        return Ok(());
    }
    reclaim_runtime(base);
    let path = base.join(format!("host-{}.lock", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    // SAFETY: flock on an fd we own; blocking only while another host is
    // reclaiming a dead predecessor's lock of the same pid.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    held.push((base.to_path_buf(), file));
    Ok(())
}

/// Removes the directories of every host in `base` whose lock is free.
/// Returns how many directories were removed.
pub(crate) fn reclaim_runtime(base: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(base) else {
        return 0;
    };
    let mut removed = 0;
    let names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for lock in names
        .iter()
        .filter(|n| n.starts_with("host-") && n.ends_with(".lock"))
    {
        let pid = &lock["host-".len()..lock.len() - ".lock".len()];
        if pid == std::process::id().to_string() {
            continue;
        }
        let path = base.join(lock);
        let Ok(file) = std::fs::File::open(&path) else {
            continue;
        };
        if !try_lock(&file) {
            continue; // a live host
        }
        for name in &names {
            if name.starts_with(&format!("pw-{pid}-")) || name.starts_with(&format!("pwr-{pid}-")) {
                // `remove_dir_all` does not follow links a plugin planted.
                if std::fs::remove_dir_all(base.join(name)).is_ok() {
                    removed += 1;
                }
            }
        }
        let _ = std::fs::remove_file(&path);
    }
    removed
}

/// Kills and removes `plugwire-<pid>` cgroups under `parent` whose host
/// process no longer exists. Returns how many were removed.
pub(crate) fn reclaim_cgroups(parent: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("plugwire-")
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let group = entry.path();
        let children: Vec<PathBuf> = std::fs::read_dir(&group)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        for child in &children {
            kill_members(child);
            for _ in 0..100 {
                if std::fs::remove_dir(child).is_ok() || !child.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        if std::fs::remove_dir(&group).is_ok() {
            removed += 1;
        }
    }
    removed
}

fn kill_members(dir: &Path) {
    let kill = dir.join("cgroup.kill");
    if kill.exists() && std::fs::write(kill, "1").is_ok() {
        return;
    }
    for _ in 0..20 {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        let pids: Vec<i32> = procs
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_hosts_directories_are_removed_and_a_live_ones_kept() {
        let base = tempfile::tempdir().unwrap();
        // A dead host: its lock file exists, nobody holds it.
        std::fs::write(base.path().join("host-999999.lock"), "").unwrap();
        std::fs::create_dir_all(base.path().join("pw-999999-abc/sub")).unwrap();
        std::os::unix::fs::symlink("/etc", base.path().join("pw-999999-abc/sub/etc")).unwrap();
        std::fs::create_dir(base.path().join("pwr-999999-def")).unwrap();
        // A live host: its lock is held.
        let live = std::fs::File::create(base.path().join("host-888888.lock")).unwrap();
        assert!(try_lock(&live));
        std::fs::create_dir(base.path().join("pw-888888-ghi")).unwrap();

        assert_eq!(reclaim_runtime(base.path()), 2);
        assert!(!base.path().join("pw-999999-abc").exists());
        assert!(!base.path().join("host-999999.lock").exists());
        assert!(base.path().join("pw-888888-ghi").exists());
        assert!(Path::new("/etc/passwd").exists(), "links are not followed");
    }

    #[test]
    fn cgroups_of_dead_hosts_are_removed() {
        // An ordinary directory tree stands in for a cgroup hierarchy.
        let parent = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(parent.path().join("plugwire-999999/echo-1")).unwrap();
        let own = format!("plugwire-{}", std::process::id());
        std::fs::create_dir_all(parent.path().join(&own).join("kv-1")).unwrap();
        assert_eq!(reclaim_cgroups(parent.path()), 1);
        assert!(!parent.path().join("plugwire-999999").exists());
        assert!(parent.path().join(own).exists());
    }
}

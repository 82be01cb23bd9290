//! What differs between cgroup versions, as one trait, and the file
//! helpers both versions use.

use std::path::{Path, PathBuf};

/// CFS period used for CPU limits.
pub(crate) const CPU_PERIOD_US: u64 = 100_000;

/// Limits to write.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CgroupLimits {
    /// Bytes of memory (and no swap beyond it).
    pub memory: Option<u64>,
    /// Processes and threads.
    pub pids: Option<u32>,
    /// CPUs.
    pub cpu: Option<f64>,
}

/// One instance's cgroup in one version of the hierarchy.
pub(crate) trait CgroupManager: std::fmt::Debug + Send + Sync {
    /// Each directory and the controller it holds (one per controller on
    /// v1; one, `unified`, on v2).
    fn dirs(&self) -> &[(String, PathBuf)];

    /// The directory that holds `controller`.
    fn dir(&self, controller: &str) -> Option<&Path>;

    /// The directory a process can be started in directly (`clone3` with
    /// `CLONE_INTO_CGROUP`, v2 only) instead of joining through
    /// `cgroup.procs`.
    fn spawn_dir(&self) -> Option<&Path>;

    /// Writes the limits; called before any process joins.
    fn apply(&self, limits: &CgroupLimits) -> Result<(), String>;

    /// How many times the OOM killer killed inside.
    fn oom_kills(&self) -> Option<u64>;

    /// Kills every member at once, where the version can; false when the
    /// caller must signal them one by one.
    fn kill_all(&self) -> bool;

    /// Memory in use by every member, in bytes.
    fn memory_bytes(&self) -> Option<u64>;

    /// CPU time every member has used, in microseconds.
    fn cpu_usec(&self) -> Option<u64>;
}

/// A number alone in a file (`memory.current`, `cpuacct.usage`).
pub(crate) fn read_number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Reclaims dead hosts' cgroups under `parent`, once per process.
pub(crate) fn reclaim_once(parent: &Path) {
    static DONE: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if !done.iter().any(|d| d == parent) {
        let removed = crate::debris::reclaim_cgroups(parent);
        if removed > 0 {
            tracing::info!("removed {removed} cgroups left by hosts that died");
        }
        done.push(parent.to_path_buf());
    }
}

/// The value of `key` in a flat-keyed file (`memory.events`, `cpu.stat`).
pub(crate) fn counter(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

pub(crate) fn create_dir(dir: &Path) -> Result<(), String> {
    match std::fs::create_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) => Err(format!("cannot create cgroup {}: {e}", dir.display())),
    }
}

pub(crate) fn write(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value)
        .map_err(|e| format!("cannot write {value:?} to {}: {e}", path.display()))
}

/// The CFS quota for `cpus` CPUs, at least 1 ms per period.
pub(crate) fn cpu_quota(cpus: f64) -> u64 {
    ((cpus * CPU_PERIOD_US as f64) as u64).max(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters() {
        assert_eq!(
            counter("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n", "oom_kill"),
            Some(1)
        );
        assert_eq!(counter("max 7\n", "max"), Some(7));
        assert_eq!(counter("", "max"), None);
    }

    #[test]
    fn cpu_quota_has_a_floor() {
        assert_eq!(cpu_quota(0.5), 50_000);
        assert_eq!(cpu_quota(2.0), 200_000);
        assert_eq!(cpu_quota(0.0001), 1000);
    }
}

//! cgroups for sandboxed plugins, created and limited by the host before
//! the plugin joins (v2 where the unified hierarchy has the controllers,
//! v1 otherwise, as on hybrid hosts), and killed and removed at teardown.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
const TMPFS_MAGIC: i64 = 0x0102_1994;

/// Controllers plugwire uses.
pub const CONTROLLERS: [&str; 3] = ["memory", "pids", "cpu"];

/// CFS period used for CPU limits.
const CPU_PERIOD_US: u64 = 100_000;

/// The cgroup layout of this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// The unified hierarchy, mounted at the root given, with these
    /// controllers available to us.
    V2 {
        /// Mount point (normally `/sys/fs/cgroup`).
        mount: PathBuf,
        /// Our own cgroup, relative to the mount.
        own: PathBuf,
        /// Controllers enabled for our subtree.
        controllers: Vec<String>,
    },
    /// Legacy hierarchies: controller name → (mount point, our cgroup).
    V1 {
        /// One entry per available controller of [`CONTROLLERS`].
        controllers: Vec<(String, PathBuf, PathBuf)>,
    },
}

impl Layout {
    /// Detects the layout the way youki does: statfs on `/sys/fs/cgroup`,
    /// cgroup2 means unified; tmpfs means v1 (possibly hybrid, with an
    /// empty cgroup2 at `unified`); our own place comes from
    /// `/proc/self/cgroup`.
    ///
    /// ```no_run
    /// let layout = plugwire_host::sandbox::cgroup::Layout::detect()?;
    /// println!("{}", layout.describe());
    /// # Ok::<(), String>(())
    /// ```
    pub fn detect() -> Result<Self, String> {
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
        Self::detect_at(Path::new("/sys/fs/cgroup"), &own)
    }

    fn detect_at(root: &Path, own: &str) -> Result<Self, String> {
        let fs = nix::sys::statfs::statfs(root)
            .map_err(|e| format!("cannot statfs {}: {e}", root.display()))?;
        let magic = fs.filesystem_type().0;
        if magic == CGROUP2_SUPER_MAGIC {
            let path = own
                .lines()
                .find_map(|l| l.strip_prefix("0::"))
                .ok_or("no cgroup v2 entry in /proc/self/cgroup")?;
            return Ok(Self::v2(root, path));
        }
        if magic != TMPFS_MAGIC {
            return Err(format!(
                "{} is neither cgroup2 nor a tmpfs of v1 hierarchies",
                root.display()
            ));
        }
        Ok(Self::v1(root, own))
    }

    fn v2(root: &Path, own: &str) -> Self {
        let own = PathBuf::from(own.trim_start_matches('/'));
        // Our group is created next to our own cgroup (a cgroup with
        // processes cannot have children with controllers), so it can use
        // what the parent hands its children.
        let parent = own.parent().map(Path::to_path_buf).unwrap_or_default();
        let controllers =
            std::fs::read_to_string(root.join(&parent).join("cgroup.subtree_control"))
                .unwrap_or_default()
                .split_whitespace()
                .filter(|c| CONTROLLERS.contains(c))
                .map(str::to_owned)
                .collect();
        Self::V2 {
            mount: root.to_path_buf(),
            own,
            controllers,
        }
    }

    fn v1(root: &Path, own: &str) -> Self {
        let mut controllers = Vec::new();
        for controller in CONTROLLERS {
            let mount = root.join(controller);
            if !mount.join("cgroup.procs").is_file() {
                continue;
            }
            // Lines look like "4:memory:/path" or "1:cpu,cpuacct:/path".
            let path = own
                .lines()
                .filter_map(|l| {
                    let mut parts = l.splitn(3, ':');
                    let (_, names, path) = (parts.next()?, parts.next()?, parts.next()?);
                    names.split(',').any(|n| n == controller).then_some(path)
                })
                .next()
                .unwrap_or("/");
            controllers.push((
                controller.to_owned(),
                mount,
                PathBuf::from(path.trim_start_matches('/')),
            ));
        }
        Self::V1 { controllers }
    }

    /// Controllers available to plugwire.
    ///
    /// ```no_run
    /// # let layout = plugwire_host::sandbox::cgroup::Layout::detect().unwrap();
    /// let has_memory = layout.controllers().contains(&"memory".to_owned());
    /// # let _ = has_memory;
    /// ```
    pub fn controllers(&self) -> Vec<String> {
        match self {
            Self::V2 { controllers, .. } => controllers.clone(),
            Self::V1 { controllers } => controllers.iter().map(|(c, _, _)| c.clone()).collect(),
        }
    }

    /// One line for `plugwire doctor`.
    ///
    /// ```no_run
    /// # let layout = plugwire_host::sandbox::cgroup::Layout::detect().unwrap();
    /// println!("{}", layout.describe());
    /// ```
    pub fn describe(&self) -> String {
        match self {
            Self::V2 {
                own, controllers, ..
            } => format!(
                "v2 (own cgroup /{}); controllers: {}",
                own.display(),
                controllers.join(" ")
            ),
            Self::V1 { controllers } => format!(
                "v1; controllers: {}",
                controllers
                    .iter()
                    .map(|(c, _, p)| format!("{c} (at /{})", p.display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

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

/// One plugin instance's cgroup(s). Dropping it kills what is left inside
/// and removes the directories.
#[derive(Debug)]
pub struct Cgroup {
    /// Directories created (one per v1 controller, or one for v2).
    dirs: Vec<(String, PathBuf)>,
    v2: bool,
    limits: CgroupLimits,
}

/// Reclaims dead hosts' cgroups under `parent`, once per process.
fn reclaim_once(parent: &Path) {
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

impl Cgroup {
    /// Creates `plugwire-<host pid>/<name>` under our own cgroup (v1) or
    /// next to it (v2, where a cgroup with processes cannot have children
    /// with controllers), and writes the limits before anyone joins.
    pub fn create(layout: &Layout, name: &str, limits: CgroupLimits) -> Result<Self, String> {
        let group = format!("plugwire-{}", std::process::id());
        let mut cgroup = match layout {
            Layout::V2 {
                mount,
                own,
                controllers,
            } => {
                let parent = own.parent().map(Path::to_path_buf).unwrap_or_default();
                reclaim_once(&mount.join(&parent));
                let base = mount.join(&parent).join(&group);
                create_dir(&base)?;
                // Let our subtree use the controllers.
                let enable: Vec<String> = controllers.iter().map(|c| format!("+{c}")).collect();
                write(&base.join("cgroup.subtree_control"), &enable.join(" "))?;
                let dir = base.join(name);
                create_dir(&dir)?;
                Self {
                    dirs: vec![("unified".into(), dir)],
                    v2: true,
                    limits,
                }
            }
            Layout::V1 { controllers } => {
                let mut dirs = Vec::new();
                for (controller, mount, own) in controllers {
                    reclaim_once(&mount.join(own));
                    let dir = mount.join(own).join(&group).join(name);
                    create_dir(&dir)?;
                    dirs.push((controller.clone(), dir));
                }
                Self {
                    dirs,
                    v2: false,
                    limits,
                }
            }
        };
        cgroup.apply_limits().inspect_err(|_| cgroup.remove())?;
        Ok(cgroup)
    }

    fn dir(&self, controller: &str) -> Option<&Path> {
        if self.v2 {
            return self.dirs.first().map(|(_, d)| d.as_path());
        }
        self.dirs
            .iter()
            .find(|(c, _)| c == controller)
            .map(|(_, d)| d.as_path())
    }

    fn apply_limits(&mut self) -> Result<(), String> {
        let limits = self.limits;
        if let Some(bytes) = limits.memory {
            let dir = self
                .dir("memory")
                .ok_or("the memory controller is not available")?
                .to_path_buf();
            if self.v2 {
                write(&dir.join("memory.max"), &bytes.to_string())?;
                // Absent without swap accounting; then there is no swap to limit.
                let _ = write(&dir.join("memory.swap.max"), "0");
            } else {
                write(&dir.join("memory.limit_in_bytes"), &bytes.to_string())?;
                let memsw = dir.join("memory.memsw.limit_in_bytes");
                if memsw.exists() {
                    write(&memsw, &bytes.to_string())?;
                }
            }
        }
        if let Some(pids) = limits.pids {
            let dir = self
                .dir("pids")
                .ok_or("the pids controller is not available")?;
            write(&dir.join("pids.max"), &pids.to_string())?;
        }
        if let Some(cpus) = limits.cpu {
            let dir = self
                .dir("cpu")
                .ok_or("the cpu controller is not available")?;
            let quota = ((cpus * CPU_PERIOD_US as f64) as u64).max(1000);
            if self.v2 {
                write(&dir.join("cpu.max"), &format!("{quota} {CPU_PERIOD_US}"))?;
            } else {
                write(&dir.join("cpu.cfs_period_us"), &CPU_PERIOD_US.to_string())?;
                write(&dir.join("cpu.cfs_quota_us"), &quota.to_string())?;
            }
        }
        Ok(())
    }

    /// The `cgroup.procs` files a process writes its pid to, to join.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs
            .iter()
            .map(|(_, d)| d.join("cgroup.procs"))
            .collect()
    }

    /// Why the plugin died, if a limit explains it: the OOM killer, or
    /// forks refused at the pids limit.
    pub fn explain_death(&self) -> Option<String> {
        let mib = |b: u64| b / (1 << 20);
        if let (Some(limit), Some(dir)) = (self.limits.memory, self.dir("memory")) {
            let events = if self.v2 {
                std::fs::read_to_string(dir.join("memory.events")).ok()
            } else {
                std::fs::read_to_string(dir.join("memory.oom_control")).ok()
            };
            if events
                .as_deref()
                .and_then(|e| counter(e, "oom_kill"))
                .unwrap_or(0)
                > 0
            {
                return Some(format!("killed: memory limit {} MiB", mib(limit)));
            }
        }
        if let (Some(limit), Some(dir)) = (self.limits.pids, self.dir("pids"))
            && std::fs::read_to_string(dir.join("pids.events"))
                .ok()
                .as_deref()
                .and_then(|e| counter(e, "max"))
                .unwrap_or(0)
                > 0
        {
            return Some(format!("process limit {limit} reached"));
        }
        None
    }

    /// Times the CPU limit throttled the plugin.
    pub fn throttled(&self) -> Option<u64> {
        let dir = self.dir("cpu")?;
        let stat = std::fs::read_to_string(dir.join("cpu.stat")).ok()?;
        counter(&stat, "nr_throttled")
    }

    /// Processes still in the cgroup.
    pub fn members(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = self
            .procs_files()
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .flat_map(|s| {
                s.lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<_>>()
            })
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Kills everything inside (`cgroup.kill` on v2; repeated SIGKILL on
    /// v1, where forks may race the kill but the pids limit bounds them).
    pub fn kill(&self) {
        if self.v2
            && let Some(dir) = self
                .dir("pids")
                .or(self.dirs.first().map(|(_, d)| d.as_path()))
            && write(&dir.join("cgroup.kill"), "1").is_ok()
        {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let members = self.members();
            if members.is_empty() || Instant::now() > deadline {
                return;
            }
            for pid in members {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Kills what is left and removes the directories (and the shared
    /// parent when it is empty).
    pub fn remove(&self) {
        self.kill();
        for (_, dir) in &self.dirs {
            // A killed process leaves the cgroup a moment after it dies.
            for _ in 0..200 {
                match std::fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            if let Some(parent) = dir.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
    }

    /// The cgroup directories (for tests and diagnostics).
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|(_, d)| d.clone()).collect()
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        self.remove();
    }
}

fn counter(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

fn create_dir(dir: &Path) -> Result<(), String> {
    match std::fs::create_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) => Err(format!("cannot create cgroup {}: {e}", dir.display())),
    }
}

fn write(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value)
        .map_err(|e| format!("cannot write {value:?} to {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_lines_are_matched_per_controller() {
        let root = tempfile::tempdir().unwrap();
        for c in ["memory", "pids", "cpu"] {
            std::fs::create_dir_all(root.path().join(c)).unwrap();
            std::fs::write(root.path().join(c).join("cgroup.procs"), "").unwrap();
        }
        let own = "9:name=systemd:/\n8:pids:/\n4:memory:/job/42\n1:cpu,cpuacct:/\n0::/\n";
        let Layout::V1 { controllers } = Layout::v1(root.path(), own) else {
            panic!()
        };
        assert_eq!(controllers.len(), 3);
        assert_eq!(controllers[0].2, PathBuf::from("job/42"));
        assert_eq!(controllers[2].0, "cpu");
    }

    #[test]
    fn v1_limits_are_written_before_anyone_joins() {
        let root = tempfile::tempdir().unwrap();
        for c in ["memory", "pids", "cpu"] {
            std::fs::create_dir_all(root.path().join(c)).unwrap();
            std::fs::write(root.path().join(c).join("cgroup.procs"), "").unwrap();
        }
        let layout = Layout::v1(root.path(), "4:memory:/\n8:pids:/\n1:cpu,cpuacct:/\n");
        let limits = CgroupLimits {
            memory: Some(64 << 20),
            pids: Some(32),
            cpu: Some(0.5),
        };
        let cgroup = Cgroup::create(&layout, "echo", limits).unwrap();
        let dir = |c: &str| {
            root.path()
                .join(c)
                .join(format!("plugwire-{}", std::process::id()))
                .join("echo")
        };
        assert_eq!(
            std::fs::read_to_string(dir("memory").join("memory.limit_in_bytes")).unwrap(),
            "67108864"
        );
        assert_eq!(
            std::fs::read_to_string(dir("pids").join("pids.max")).unwrap(),
            "32"
        );
        assert_eq!(
            std::fs::read_to_string(dir("cpu").join("cpu.cfs_quota_us")).unwrap(),
            "50000"
        );
        assert_eq!(cgroup.procs_files().len(), 3);
        std::fs::write(
            dir("memory").join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
        )
        .unwrap();
        assert_eq!(
            cgroup.explain_death().as_deref(),
            Some("killed: memory limit 64 MiB")
        );
        // (A fake directory cannot be removed while it holds files; the
        // real cgroupfs has no such files.)
        std::mem::forget(cgroup);
    }

    #[test]
    fn v2_limits() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("user.slice")).unwrap();
        std::fs::write(
            root.path().join("user.slice/cgroup.subtree_control"),
            "cpuset cpu io memory pids",
        )
        .unwrap();
        let layout = Layout::v2(root.path(), "/user.slice/session-1");
        assert_eq!(layout.controllers(), ["cpu", "memory", "pids"]);
        let limits = CgroupLimits {
            memory: Some(1 << 30),
            pids: Some(10),
            cpu: Some(2.0),
        };
        let cgroup = Cgroup::create(&layout, "kv", limits).unwrap();
        let dir = root
            .path()
            .join(format!("user.slice/plugwire-{}/kv", std::process::id()));
        assert_eq!(
            std::fs::read_to_string(dir.join("memory.max")).unwrap(),
            "1073741824"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("cpu.max")).unwrap(),
            "200000 100000"
        );
        assert_eq!(
            std::fs::read_to_string(dir.parent().unwrap().join("cgroup.subtree_control")).unwrap(),
            "+cpu +memory +pids"
        );
        std::mem::forget(cgroup);
    }

    #[test]
    fn counters() {
        assert_eq!(
            counter("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n", "oom_kill"),
            Some(1)
        );
        assert_eq!(counter("max 7\n", "max"), Some(7));
        assert_eq!(counter("", "max"), None);
    }
}

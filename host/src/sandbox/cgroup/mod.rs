//! cgroups for sandboxed plugins, created and limited by the host before
//! the plugin joins (v2 where the unified hierarchy has the controllers,
//! v1 otherwise, as on hybrid hosts), and killed and removed at teardown.
//!
//! [`Layout::detect`] finds which version this machine has; [`Cgroup`] is
//! one instance's cgroup whatever the version; what differs per version
//! is the `CgroupManager` trait (`manager.rs`) with one implementation
//! each, `v1.rs` and `v2.rs`, as youki's `libcgroups` does.

mod manager;
mod v1;
mod v2;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use manager::CgroupLimits;
use manager::{CgroupManager, counter};
use v1::V1;
use v2::V2;

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
const TMPFS_MAGIC: i64 = 0x0102_1994;

/// Controllers plugwire uses.
pub const CONTROLLERS: [&str; 3] = ["memory", "pids", "cpu"];

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

/// The cgroup2 hierarchy of this machine, where there is one: the unified
/// hierarchy at `/sys/fs/cgroup`, or the one a hybrid (v1) machine mounts
/// at `/sys/fs/cgroup/unified`, which has no controllers but can hold
/// processes.
///
/// ```no_run
/// match plugwire_host::sandbox::cgroup::cgroup2_mount() {
///     Some(mount) => println!("cgroup2 at {}", mount.display()),
///     None => println!("no cgroup2 hierarchy"),
/// }
/// ```
pub fn cgroup2_mount() -> Option<&'static Path> {
    ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .into_iter()
        .map(Path::new)
        .find(|p| {
            nix::sys::statfs::statfs(*p)
                .is_ok_and(|fs| fs.filesystem_type().0 == CGROUP2_SUPER_MAGIC)
        })
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

/// One plugin instance's cgroup(s). Dropping it kills what is left inside
/// and removes the directories.
#[derive(Debug)]
pub struct Cgroup {
    manager: Box<dyn CgroupManager>,
    limits: CgroupLimits,
}

impl Cgroup {
    /// Creates `plugwire-<host pid>/<name>` under our own cgroup (v1) or
    /// next to it (v2, where a cgroup with processes cannot have children
    /// with controllers), and writes the limits before anyone joins.
    ///
    /// ```no_run
    /// use plugwire_host::sandbox::cgroup::{Cgroup, CgroupLimits, Layout};
    /// let layout = Layout::detect()?;
    /// let limits = CgroupLimits { pids: Some(32), ..Default::default() };
    /// let cgroup = Cgroup::create(&layout, "echo-1", limits)?;
    /// assert!(cgroup.members().is_empty(), "nobody has joined yet");
    /// # Ok::<(), String>(())
    /// ```
    pub fn create(layout: &Layout, name: &str, limits: CgroupLimits) -> Result<Self, String> {
        let group = format!("plugwire-{}", std::process::id());
        let manager: Box<dyn CgroupManager> = match layout {
            Layout::V2 {
                mount,
                own,
                controllers,
            } => Box::new(V2::create(mount, own, controllers, &group, name)?),
            Layout::V1 { controllers } => Box::new(V1::create(controllers, &group, name)?),
        };
        let cgroup = Self { manager, limits };
        cgroup
            .manager
            .apply(&limits)
            .inspect_err(|_| cgroup.remove())?;
        Ok(cgroup)
    }

    /// The `cgroup.procs` files a process writes its pid to, to join.
    ///
    /// ```no_run
    /// # fn f(cgroup: plugwire_host::sandbox::cgroup::Cgroup) {
    /// for file in cgroup.procs_files() { assert!(file.ends_with("cgroup.procs")); }
    /// # }
    /// ```
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.manager
            .dirs()
            .iter()
            .map(|(_, d)| d.join("cgroup.procs"))
            .collect()
    }

    /// The directory a sandbox's launcher starts the plugin in directly
    /// (cgroup v2, `clone3` with `CLONE_INTO_CGROUP`); `None` on v1, where
    /// a process joins by writing [`Cgroup::procs_files`].
    ///
    /// ```no_run
    /// # fn f(cgroup: plugwire_host::sandbox::cgroup::Cgroup) {
    /// match cgroup.spawn_dir() {
    ///     Some(dir) => assert!(dir.join("cgroup.procs").is_file()),
    ///     None => assert!(!cgroup.procs_files().is_empty(), "v1: joined by a write"),
    /// }
    /// # }
    /// ```
    pub fn spawn_dir(&self) -> Option<&Path> {
        self.manager.spawn_dir()
    }

    /// Why the plugin died, if a limit explains it: the OOM killer, or
    /// forks refused at the pids limit.
    ///
    /// ```no_run
    /// # fn f(cgroup: plugwire_host::sandbox::cgroup::Cgroup) {
    /// if let Some(why) = cgroup.explain_death() { eprintln!("the plugin died: {why}"); }
    /// # }
    /// ```
    pub fn explain_death(&self) -> Option<String> {
        let mib = |b: u64| b / (1 << 20);
        if let Some(limit) = self.limits.memory
            && self.manager.oom_kills().unwrap_or(0) > 0
        {
            return Some(format!("killed: memory limit {} MiB", mib(limit)));
        }
        if let (Some(limit), Some(dir)) = (self.limits.pids, self.manager.dir("pids"))
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
    ///
    /// ```no_run
    /// # fn f(cgroup: plugwire_host::sandbox::cgroup::Cgroup) {
    /// println!("throttled {} times", cgroup.throttled().unwrap_or(0));
    /// # }
    /// ```
    pub fn throttled(&self) -> Option<u64> {
        let dir = self.manager.dir("cpu")?;
        let stat = std::fs::read_to_string(dir.join("cpu.stat")).ok()?;
        counter(&stat, "nr_throttled")
    }

    /// Memory and CPU time used by everything inside.
    ///
    /// ```no_run
    /// # fn f(cgroup: plugwire_host::sandbox::cgroup::Cgroup) {
    /// let usage = cgroup.usage();
    /// assert!(usage.memory_bytes.is_some(), "the memory controller counts");
    /// # }
    /// ```
    pub fn usage(&self) -> crate::usage::Usage {
        crate::usage::Usage {
            memory_bytes: self.manager.memory_bytes(),
            cpu_time: self
                .manager
                .cpu_usec()
                .map(std::time::Duration::from_micros),
        }
    }

    /// Processes still in the cgroup.
    ///
    /// ```no_run
    /// # fn f(cgroup: plugwire_host::sandbox::cgroup::Cgroup) {
    /// cgroup.kill();
    /// assert!(cgroup.members().is_empty());
    /// # }
    /// ```
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

    /// Kills everything inside: at once where the version can (v2's
    /// `cgroup.kill`), else by repeated SIGKILL of the members (v1, where
    /// forks may race the kill but the pids limit bounds them).
    ///
    /// ```no_run
    /// # fn f(cgroup: plugwire_host::sandbox::cgroup::Cgroup) {
    /// cgroup.kill();
    /// assert!(cgroup.members().is_empty());
    /// # }
    /// ```
    pub fn kill(&self) {
        if self.manager.kill_all() {
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
    ///
    /// ```no_run
    /// # fn f(cgroup: plugwire_host::sandbox::cgroup::Cgroup) {
    /// cgroup.remove();
    /// assert!(cgroup.dirs().iter().all(|d| !d.exists()));
    /// # }
    /// ```
    pub fn remove(&self) {
        self.kill();
        for (_, dir) in self.manager.dirs() {
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
    ///
    /// ```no_run
    /// # fn f(cgroup: plugwire_host::sandbox::cgroup::Cgroup) {
    /// for dir in cgroup.dirs() { println!("{}", dir.display()); }
    /// # }
    /// ```
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.manager.dirs().iter().map(|(_, d)| d.clone()).collect()
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        self.remove();
    }
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
}

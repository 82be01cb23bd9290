//! cgroup v1: one hierarchy per controller, a directory in each.

use std::path::{Path, PathBuf};

use super::manager::{
    CPU_PERIOD_US, CgroupLimits, CgroupManager, counter, cpu_quota, create_dir, read_number,
    reclaim_once, write,
};

#[derive(Debug)]
pub(crate) struct V1 {
    dirs: Vec<(String, PathBuf)>,
}

impl V1 {
    /// Creates `<mount>/<own>/<group>/<name>` for each (controller, mount,
    /// own cgroup).
    pub(crate) fn create(
        controllers: &[(String, PathBuf, PathBuf)],
        group: &str,
        name: &str,
    ) -> Result<Self, String> {
        let mut dirs = Vec::new();
        for (controller, mount, own) in controllers {
            reclaim_once(&mount.join(own));
            let dir = mount.join(own).join(group).join(name);
            create_dir(&dir)?;
            dirs.push((controller.clone(), dir));
        }
        Ok(Self { dirs })
    }
}

impl CgroupManager for V1 {
    fn dirs(&self) -> &[(String, PathBuf)] {
        &self.dirs
    }

    fn dir(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(c, _)| c == controller)
            .map(|(_, d)| d.as_path())
    }

    fn spawn_dir(&self) -> Option<&Path> {
        // CLONE_INTO_CGROUP takes a cgroup2 directory only.
        None
    }

    fn apply(&self, limits: &CgroupLimits) -> Result<(), String> {
        if let Some(bytes) = limits.memory {
            let dir = self
                .dir("memory")
                .ok_or("the memory controller is not available")?;
            write(&dir.join("memory.limit_in_bytes"), &bytes.to_string())?;
            let memsw = dir.join("memory.memsw.limit_in_bytes");
            if memsw.exists() {
                write(&memsw, &bytes.to_string())?;
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
            write(&dir.join("cpu.cfs_period_us"), &CPU_PERIOD_US.to_string())?;
            write(&dir.join("cpu.cfs_quota_us"), &cpu_quota(cpus).to_string())?;
        }
        Ok(())
    }

    fn oom_kills(&self) -> Option<u64> {
        let text = std::fs::read_to_string(self.dir("memory")?.join("memory.oom_control")).ok()?;
        counter(&text, "oom_kill")
    }

    fn kill_all(&self) -> bool {
        false
    }

    fn memory_bytes(&self) -> Option<u64> {
        read_number(&self.dir("memory")?.join("memory.usage_in_bytes"))
    }

    fn cpu_usec(&self) -> Option<u64> {
        // cpuacct shares the cpu directory where both are mounted together
        // ("cpu,cpuacct"); it counts nanoseconds.
        read_number(&self.dir("cpu")?.join("cpuacct.usage")).map(|ns| ns / 1000)
    }
}

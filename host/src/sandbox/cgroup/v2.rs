//! cgroup v2: one unified hierarchy, one directory for every controller.

use std::path::{Path, PathBuf};

use super::manager::{
    CPU_PERIOD_US, CgroupLimits, CgroupManager, counter, cpu_quota, create_dir, read_number,
    reclaim_once, write,
};

#[derive(Debug)]
pub(crate) struct V2 {
    dirs: Vec<(String, PathBuf)>,
}

impl V2 {
    /// Creates `<mount>/<parent of own>/<group>/<name>`, next to our own
    /// cgroup (one with processes cannot have children with controllers),
    /// with the controllers enabled for the group's subtree.
    pub(crate) fn create(
        mount: &Path,
        own: &Path,
        controllers: &[String],
        group: &str,
        name: &str,
    ) -> Result<Self, String> {
        let parent = mount.join(own.parent().unwrap_or(Path::new("")));
        reclaim_once(&parent);
        let base = parent.join(group);
        create_dir(&base)?;
        let enable: Vec<String> = controllers.iter().map(|c| format!("+{c}")).collect();
        write(&base.join("cgroup.subtree_control"), &enable.join(" "))?;
        let dir = base.join(name);
        create_dir(&dir)?;
        Ok(Self {
            dirs: vec![("unified".into(), dir)],
        })
    }

    fn unified(&self) -> &Path {
        &self.dirs[0].1
    }
}

impl CgroupManager for V2 {
    fn dirs(&self) -> &[(String, PathBuf)] {
        &self.dirs
    }

    fn dir(&self, _controller: &str) -> Option<&Path> {
        Some(self.unified())
    }

    fn spawn_dir(&self) -> Option<&Path> {
        Some(self.unified())
    }

    fn apply(&self, limits: &CgroupLimits) -> Result<(), String> {
        let dir = self.unified();
        if let Some(bytes) = limits.memory {
            write(&dir.join("memory.max"), &bytes.to_string())?;
            // Absent without swap accounting; then there is no swap to limit.
            let _ = write(&dir.join("memory.swap.max"), "0");
        }
        if let Some(pids) = limits.pids {
            write(&dir.join("pids.max"), &pids.to_string())?;
        }
        if let Some(cpus) = limits.cpu {
            write(
                &dir.join("cpu.max"),
                &format!("{} {CPU_PERIOD_US}", cpu_quota(cpus)),
            )?;
        }
        Ok(())
    }

    fn oom_kills(&self) -> Option<u64> {
        let text = std::fs::read_to_string(self.unified().join("memory.events")).ok()?;
        counter(&text, "oom_kill")
    }

    fn kill_all(&self) -> bool {
        write(&self.unified().join("cgroup.kill"), "1").is_ok()
    }

    fn memory_bytes(&self) -> Option<u64> {
        read_number(&self.unified().join("memory.current"))
    }

    fn cpu_usec(&self) -> Option<u64> {
        let text = std::fs::read_to_string(self.unified().join("cpu.stat")).ok()?;
        counter(&text, "usage_usec")
    }
}

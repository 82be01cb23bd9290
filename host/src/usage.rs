//! What a running plugin uses: memory and CPU time, read from its cgroup
//! when it has one (the whole process tree), else from `/proc` (the plugin
//! process alone).

use std::time::Duration;

/// Memory and CPU time in use by a plugin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Resident memory, in bytes.
    pub memory_bytes: Option<u64>,
    /// CPU time used since it started (user and system).
    pub cpu_time: Option<Duration>,
}

impl Usage {
    /// The usage of one process, from `/proc/<pid>/status` and `stat`.
    ///
    /// ```
    /// let usage = plugwire_host::Usage::of_process(std::process::id());
    /// assert!(usage.memory_bytes.unwrap() > 0, "this test runs in memory");
    /// assert!(usage.cpu_time.is_some());
    /// ```
    pub fn of_process(pid: u32) -> Self {
        let memory_bytes = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|text| resident_bytes(&text));
        let cpu_time = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|text| cpu_ticks(&text))
            .map(|ticks| Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second()));
        Self {
            memory_bytes,
            cpu_time,
        }
    }
}

/// `VmRSS:   1234 kB` in `/proc/<pid>/status`.
fn resident_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// utime + stime, the 14th and 15th fields of `/proc/<pid>/stat`, counted
/// after the command name's closing parenthesis (the name may hold spaces).
fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rss_and_cpu_fields() {
        assert_eq!(
            resident_bytes("Name:\tx\nVmRSS:\t    2048 kB\n"),
            Some(2 << 20)
        );
        assert_eq!(resident_bytes("Name:\tx\n"), None);
        // A name with spaces and parentheses does not shift the fields.
        let stat = "42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0";
        assert_eq!(cpu_ticks(stat), Some(300));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn a_gone_process_has_no_usage() {
        assert_eq!(Usage::of_process(u32::MAX), Usage::default());
    }
}

//! Signalling a plugin's process tree, and saying how a process ended.

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Sends `signal` to every process of group `pgid` but its leader (the
/// launcher's reaper, which must outlive the plugin to clean up after it).
pub(crate) fn signal_group_but_leader(pgid: u32, signal: Signal) {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if pid as u32 == pgid {
            continue;
        }
        let in_group = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                let rest = stat.rsplit_once(')')?.1.to_owned();
                rest.split_whitespace().nth(2)?.parse::<u32>().ok()
            })
            == Some(pgid);
        if in_group {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), signal);
        }
    }
}

/// Signals a whole process group; a group that is already gone is fine.
///
/// ```
/// use nix::sys::signal::Signal;
/// plugwire_host::launch::signal_group(4_000_000, Signal::SIGTERM); // no such group: fine
/// ```
pub fn signal_group(pgid: u32, signal: Signal) {
    if let Ok(pid) = i32::try_from(pgid)
        && pid > 1
    {
        let _ = killpg(Pid::from_raw(pid), signal);
    }
}

/// How a process ended, in words for error messages.
pub(crate) fn describe_exit(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => {
            let name = Signal::try_from(signal)
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|_| signal.to_string());
            format!("killed by signal {name}")
        }
        _ => "ended".to_owned(),
    }
}

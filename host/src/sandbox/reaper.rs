//! The launcher's reaper for unsandboxed plugins on machines where the host
//! cannot make a cgroup: it becomes a child subreaper, runs the plugin as its
//! child, and when the plugin ends kills every process the plugin left
//! behind, even those that left its process group with `setsid` (they are
//! re-parented to the reaper when their parents die). Then it ends the way
//! the plugin ended.

use std::path::Path;

use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid};

use super::launch::{Ending, exec_plugin, fork_supervised, forward_and_reap};

/// Runs `program` under the reaper; returns only with an error.
pub fn run(program: &Path, args: &[std::ffi::OsString]) -> String {
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        return format!("cannot become a subreaper: {e}");
    }
    let (forked, signals, previous) = match fork_supervised() {
        Ok(forked) => forked,
        Err(e) => return format!("{e} (the plugin)"),
    };
    match forked {
        ForkResult::Child => {
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&previous), None);
            if let Err(e) = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL) {
                return format!("cannot set the parent-death signal: {e}");
            }
            exec_plugin(program, args)
        }
        ForkResult::Parent { child } => watch(child, &signals),
    }
}

/// Forwards signals to the plugin, reaps orphans, and when the plugin ends
/// kills what is left and ends the same way.
fn watch(plugin: Pid, signals: &SigSet) -> ! {
    let ending = forward_and_reap(plugin, signals);
    kill_descendants();
    match ending {
        Ending::Exited(code) => std::process::exit(code),
        Ending::Killed(sig) => die_by(sig),
    }
}

/// Our children, from `/proc/self/task/<pid>/children`.
fn children() -> Vec<Pid> {
    let pid = std::process::id();
    std::fs::read_to_string(format!("/proc/self/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .map(Pid::from_raw)
        .collect()
}

/// Kills our children until there are none: each one killed re-parents its
/// own children to us, so the whole tree goes, level by level.
fn kill_descendants() {
    for _ in 0..10_000 {
        let left = children();
        if left.is_empty() {
            return;
        }
        for pid in &left {
            let _ = kill(*pid, Signal::SIGKILL);
        }
        for pid in left {
            let _ = waitpid(pid, None);
        }
    }
}

fn die_by(signal: Signal) -> ! {
    let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&SigSet::all()), None);
    // SAFETY: restoring the default disposition before re-raising.
    let _ = unsafe { nix::sys::signal::signal(signal, nix::sys::signal::SigHandler::SigDfl) };
    let _ = kill(Pid::this(), signal);
    std::process::exit(128 + signal as i32)
}

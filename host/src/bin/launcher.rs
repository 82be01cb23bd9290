//! `plugwire-launcher`: the small single-threaded program the host starts
//! instead of a plugin, which prepares the process and then execs the
//! plugin. Doing this here, not in a `pre_exec` hook of the multi-threaded
//! host, keeps the host on the fast posix_spawn path and keeps
//! non-async-signal-safe work out of a forked child.
//!
//! Usage: `plugwire-launcher [--join <cgroup.procs>]... [--sandbox-fd <fd>]
//! <executable> [args...]`,
//! with `PLUGWIRE_LAUNCHER_PARENT=<host pid>` in the environment.
//!
//! Always: ask to be killed when the host dies (`PR_SET_PDEATHSIG`) and make
//! sure the host did not die before that took effect. With `--sandbox-fd`:
//! read the spec from that inherited descriptor, which must be a sealed
//! memory file (nothing a plugin can write is ever read here: this program
//! runs with the host's privileges), apply it (docs/sandbox.md) and exec the
//! plugin inside it. With `--join` (no sandbox): join those cgroups (paths
//! the host created, writable by root only) first, so that the host can
//! kill everything the plugin starts. With `--reap` (no sandbox, no cgroup):
//! run the plugin as a child of this subreaper, which kills whatever the
//! plugin left behind when it ends.

use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use plugwire_host::sandbox::spec::SandboxSpec;

const PARENT_VAR: &str = "PLUGWIRE_LAUNCHER_PARENT";

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("plugwire-launcher: {message}");
    ExitCode::from(127)
}

/// `FLAG N` at the front of `args`: the number of an open descriptor above
/// 2 that the host left to this process, taken off `args`.
fn inherited_fd(args: &mut Vec<std::ffi::OsString>, flag: &str) -> Result<Option<i32>, String> {
    if args.first().is_none_or(|a| a != flag) {
        return Ok(None);
    }
    let fd = args
        .get(1)
        .and_then(|a| a.to_str()?.parse::<i32>().ok())
        .filter(|fd| *fd > 2)
        .ok_or_else(|| format!("{flag} needs the number of an inherited descriptor above 2"))?;
    // SAFETY: F_GETFD only asks whether the descriptor is open.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(format!("{flag} {fd}: no such open descriptor"));
    }
    args.drain(..2);
    Ok(Some(fd))
}

fn main() -> ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let mut join: Vec<PathBuf> = Vec::new();
    while args.first().is_some_and(|a| a == "--join") {
        let Some(path) = args.get(1).map(PathBuf::from) else {
            return fail("--join needs a cgroup.procs file");
        };
        join.push(path);
        args.drain(..2);
    }
    let reap = args.first().is_some_and(|a| a == "--reap");
    if reap {
        args.remove(0);
    }
    let spec_fd = match inherited_fd(&mut args, "--sandbox-fd") {
        // SAFETY: the descriptor is open, inherited for us alone, and
        // owned from here on (closed before the plugin runs).
        Ok(fd) => fd.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
        Err(why) => return fail(why),
    };
    match inherited_fd(&mut args, "--egress-fd") {
        // The sandbox's init hands the egress listener over it, then
        // closes it.
        Ok(fd) => fd
            .into_iter()
            .for_each(plugwire_host::sandbox::launch::set_egress_channel),
        Err(why) => return fail(why),
    }
    if args.is_empty() {
        return fail(
            "expected the plugin executable as an argument; this program is started by a plugwire host",
        );
    }
    let executable = PathBuf::from(args.remove(0));
    if let Err(e) = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL) {
        return fail(format!("cannot set the parent-death signal: {e}"));
    }
    // The host may have died between spawning us and the prctl above; then
    // the signal will never come, so check by hand.
    if let Some(expected) = std::env::var(PARENT_VAR)
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
        && nix::unistd::getppid().as_raw() != expected
    {
        return fail("the host exited before the plugin started");
    }
    for procs in &join {
        if let Err(e) = std::fs::write(procs, std::process::id().to_string()) {
            return fail(format!("cannot join the cgroup {}: {e}", procs.display()));
        }
    }
    match spec_fd {
        None if reap => fail(plugwire_host::sandbox::reaper::run(&executable, &args)),
        None => {
            let error = Command::new(&executable)
                .args(&args)
                .env_remove(PARENT_VAR)
                .exec();
            fail(format!("cannot execute {}: {error}", executable.display()))
        }
        Some(fd) => {
            let spec = match SandboxSpec::read_sealed(&fd) {
                Ok(spec) => spec,
                Err(e) => return fail(e),
            };
            drop(fd);
            let error = plugwire_host::sandbox::launch::run(&spec, &executable, &args);
            fail(error)
        }
    }
}

//! `plugwire-launcher`: the small single-threaded program the host starts
//! instead of a plugin, which prepares the process and then execs the
//! plugin. Doing this here, not in a `pre_exec` hook of the multi-threaded
//! host, keeps the host on the fast posix_spawn path and keeps
//! non-async-signal-safe work out of a forked child.
//!
//! Usage: `plugwire-launcher <executable> [args...]`, with
//! `PLUGWIRE_LAUNCHER_PARENT=<host pid>` in the environment.
//!
//! Steps: ask to be killed when the host dies (`PR_SET_PDEATHSIG`), make
//! sure the host did not die before that took effect, then exec.

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

const PARENT_VAR: &str = "PLUGWIRE_LAUNCHER_PARENT";

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(executable) = args.next() else {
        eprintln!(
            "plugwire-launcher: expected the plugin executable as the first argument; this program is started by a plugwire host"
        );
        return ExitCode::from(127);
    };
    if let Err(e) = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL) {
        eprintln!("plugwire-launcher: cannot set the parent-death signal: {e}");
        return ExitCode::from(127);
    }
    // The host may have died between spawning us and the prctl above; then
    // the signal will never come, so check by hand.
    if let Some(expected) = std::env::var(PARENT_VAR)
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
        && nix::unistd::getppid().as_raw() != expected
    {
        eprintln!("plugwire-launcher: the host exited before the plugin started");
        return ExitCode::from(127);
    }
    let error = Command::new(&executable)
        .args(args)
        .env_remove(PARENT_VAR)
        .exec();
    eprintln!(
        "plugwire-launcher: cannot execute {}: {error}",
        std::path::Path::new(&executable).display()
    );
    ExitCode::from(127)
}

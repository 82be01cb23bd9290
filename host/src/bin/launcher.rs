//! `plugwire-launcher`: the small single-threaded program the host starts
//! instead of a plugin, which prepares the process and then execs the
//! plugin. Doing this here, not in a `pre_exec` hook of the multi-threaded
//! host, keeps the host on the fast posix_spawn path and keeps
//! non-async-signal-safe work out of a forked child.
//!
//! Usage: `plugwire-launcher [--sandbox <spec.json>] <executable> [args...]`,
//! with `PLUGWIRE_LAUNCHER_PARENT=<host pid>` in the environment.
//!
//! Always: ask to be killed when the host dies (`PR_SET_PDEATHSIG`) and make
//! sure the host did not die before that took effect. With `--sandbox`:
//! apply the spec (docs/sandbox.md) and exec the plugin inside it.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use plugwire_host::sandbox::spec::SandboxSpec;

const PARENT_VAR: &str = "PLUGWIRE_LAUNCHER_PARENT";
const MAX_SPEC: u64 = 1 << 20;

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("plugwire-launcher: {message}");
    ExitCode::from(127)
}

fn main() -> ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let mut spec_path: Option<PathBuf> = None;
    if args.first().is_some_and(|a| a == "--sandbox") {
        if args.len() < 2 {
            return fail("--sandbox needs the spec file");
        }
        spec_path = Some(PathBuf::from(args.remove(1)));
        args.remove(0);
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
    match spec_path {
        None => {
            let error = Command::new(&executable)
                .args(&args)
                .env_remove(PARENT_VAR)
                .exec();
            fail(format!("cannot execute {}: {error}", executable.display()))
        }
        Some(path) => {
            let mut text = String::new();
            let read =
                std::fs::File::open(&path).and_then(|f| f.take(MAX_SPEC).read_to_string(&mut text));
            if let Err(e) = read {
                return fail(format!(
                    "cannot read the sandbox spec {}: {e}",
                    path.display()
                ));
            }
            let spec: SandboxSpec = match serde_json::from_str(&text) {
                Ok(spec) => spec,
                Err(e) => return fail(format!("invalid sandbox spec {}: {e}", path.display())),
            };
            let error = plugwire_host::sandbox::launch::run(&spec, &executable, &args);
            fail(error)
        }
    }
}

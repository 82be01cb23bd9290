//! A sandboxed launcher's start into a cgroup v2 directory after a quiet
//! spell: forked straight into it (`clone3` with `CLONE_INTO_CGROUP`)
//! against joining it through `cgroup.procs`, whose first write after a
//! quiet spell waits for an RCU grace period. Needs root and a cgroup2
//! mount (a hybrid machine's empty `unified` one will do); the hosts on
//! such a machine use v1, so this row shows the mechanism by itself.

use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use plugwire_host::sandbox::cgroup::cgroup2_mount;

use crate::table::{Row, row};

/// Longer than an RCU grace period, so each start finds the kernel quiet.
const QUIET: Duration = Duration::from_millis(150);

/// Launcher spawn → the plugin's first line, with the standard steps but
/// no new root (the same in both rows), `n` times after a quiet spell.
fn starts(dir: &Path, born: bool, n: usize) -> Vec<Duration> {
    let launcher =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/plugwire-launcher");
    let mut spec = plugwire_host::sandbox::example_spec();
    spec.root = None;
    spec.landlock = None;
    if born {
        spec.cgroup_procs.clear();
        spec.spawn_into_cgroup = Some(dir.to_path_buf());
    } else {
        spec.cgroup_procs = vec![dir.join("cgroup.procs")];
        spec.spawn_into_cgroup = None;
    }
    (0..n)
        .map(|_| {
            std::thread::sleep(QUIET);
            let sealed = spec.seal().unwrap();
            let fd = sealed.as_raw_fd();
            let mut command = Command::new(&launcher);
            command
                .args(["--sandbox-fd", "100", "/bin/echo", "up"])
                .stdout(Stdio::piped());
            // SAFETY: dup2 is async-signal-safe; the child execs right after.
            unsafe {
                command.pre_exec(move || {
                    if libc::dup2(fd, 100) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let t = Instant::now();
            let mut child = command.spawn().unwrap();
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            let took = t.elapsed();
            assert_eq!(line, "up\n", "the launcher failed");
            child.wait().unwrap();
            took
        })
        .collect()
}

/// The two rows, or none (with a note) where they cannot run.
pub fn rows(rows: &mut Vec<Row>, n: usize) {
    let Some(mount) = cgroup2_mount().filter(|_| nix::unistd::geteuid().is_root()) else {
        eprintln!("skipped the cgroup v2 spawn rows: they need root and a cgroup2 mount");
        return;
    };
    let dir: PathBuf = mount.join(format!("plugwire-bench-{}", std::process::id()));
    std::fs::create_dir(&dir).unwrap();
    let joined = "sandboxed launcher after a quiet spell, joins a v2 cgroup (cgroup.procs)";
    rows.push(row(joined, starts(&dir, false, n), None));
    rows.push(row(
        "sandboxed launcher after a quiet spell, born in a v2 cgroup (CLONE_INTO_CGROUP)",
        starts(&dir, true, n),
        Some(joined),
    ));
    let start = Instant::now();
    while std::fs::remove_dir(&dir).is_err() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

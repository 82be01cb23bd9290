//! Applying a [`SandboxSpec`] inside `plugwire-launcher`: a single-threaded
//! process, so forking and mounting are safe here, unlike in the host.
//!
//! Three processes take part:
//! - the **outer** launcher (the host's child) joins the cgroups, creates
//!   the namespaces, forks (on cgroup v2 straight into the plugin's
//!   cgroup), then forwards signals and reports the exit;
//! - **init**, pid 1 of the new pid namespace, builds the root file system,
//!   forks the plugin, reaps zombies and forwards signals;
//! - the **plugin** child lowers its limits and privileges, seccomp last,
//!   and execs.
//!
//! Each step is a [`Step`], and [`plan`] lists them per process in order,
//! so the order is data that tests check.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, unshare};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

use super::spec::{CgroupMount, RootFs, SandboxSpec};

/// One sandbox step.
pub trait Step {
    /// A short name, for error messages and order tests.
    fn name(&self) -> &'static str;
    /// Applies the step to the calling process.
    fn apply(&self, spec: &SandboxSpec) -> Result<(), String>;
}

/// The steps of each process, in order.
pub struct Plan {
    /// The outer launcher, before forking init.
    pub outer: Vec<Box<dyn Step>>,
    /// Init (pid 1), before forking the plugin.
    pub init: Vec<Box<dyn Step>>,
    /// The plugin child, before exec.
    pub child: Vec<Box<dyn Step>>,
}

/// The steps `spec` calls for.
///
/// ```
/// use plugwire_host::sandbox::launch::plan;
/// # let spec = plugwire_host::sandbox::example_spec();
/// let plan = plan(&spec);
/// let names: Vec<_> = plan.child.iter().map(|s| s.name()).collect();
/// assert_eq!(names.last(), Some(&"seccomp"));
/// ```
pub fn plan(spec: &SandboxSpec) -> Plan {
    let mut outer: Vec<Box<dyn Step>> = vec![Box::new(JoinCgroups)];
    if spec.namespaces.user {
        outer.push(Box::new(UserNamespace));
    }
    outer.push(Box::new(Unshare));
    let mut init: Vec<Box<dyn Step>> = vec![Box::new(DieWithParent)];
    if spec.namespaces.cgroup && spec.spawn_into_cgroup.is_some() {
        // A cgroup namespace is rooted where its creator is: init is born
        // in the plugin's cgroup, the outer launcher never enters it.
        init.push(Box::new(CgroupNamespace));
    }
    if spec.namespaces.uts {
        init.push(Box::new(Hostname));
    }
    if spec.namespaces.net {
        init.push(Box::new(Loopback));
        if spec.egress_port.is_some() {
            init.push(Box::new(EgressListener));
        }
    }
    if spec.root.is_some() {
        init.push(Box::new(BuildRoot));
    }
    let mut child: Vec<Box<dyn Step>> = vec![
        Box::new(Rlimits),
        Box::new(DropBoundingSet),
        Box::new(Identity),
        Box::new(DropCapabilities),
        Box::new(NoNewPrivs),
    ];
    if spec.landlock.is_some() {
        child.push(Box::new(Landlock));
    }
    child.push(Box::new(CloseFds));
    if spec.seccomp {
        child.push(Box::new(Seccomp));
    }
    Plan { outer, init, child }
}

/// The launcher's end of the socket pair the egress listener is handed to
/// the host over (`--egress-fd`), or -1.
static EGRESS_CHANNEL: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

/// Names the inherited descriptor `EgressListener` hands the listener over.
pub fn set_egress_channel(fd: i32) {
    EGRESS_CHANNEL.store(fd, std::sync::atomic::Ordering::Relaxed);
}

/// Read end of the pipe whose write end only the outer launcher holds.
static PARENT_PIPE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

fn run_steps(steps: &[Box<dyn Step>], spec: &SandboxSpec) -> Result<(), String> {
    for step in steps {
        step.apply(spec)
            .map_err(|e| format!("{}: {e}", step.name()))?;
    }
    Ok(())
}

/// Signals forwarded to the plugin.
const FORWARDED: [Signal; 6] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

fn handled_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    set.add(Signal::SIGCHLD);
    set
}

/// Runs the whole sandbox and execs `program`; returns only with an error
/// (or, in the outer launcher, never: it exits with the plugin's status).
pub fn run(spec: &SandboxSpec, program: &Path, args: &[std::ffi::OsString]) -> String {
    let plan = plan(spec);
    if let Err(e) = run_steps(&plan.outer, spec) {
        return e;
    }
    // Kept open (write end) by the outer launcher for its whole life.
    let (alive_read, _alive_write) = match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
        Ok(pipe) => pipe,
        Err(e) => return format!("pipe: {e}"),
    };
    let (forked, signals, previous) = match fork_init(spec) {
        Ok(forked) => forked,
        Err(e) => return format!("{e} (init)"),
    };
    match forked {
        ForkResult::Child => {
            drop(_alive_write);
            use std::os::fd::AsRawFd;
            PARENT_PIPE.store(alive_read.as_raw_fd(), std::sync::atomic::Ordering::Relaxed);
            let error = init(spec, &plan, &previous, program, args);
            eprintln!("plugwire-launcher: {error}");
            std::process::exit(127);
        }
        ForkResult::Parent { child } => supervise(child, &signals),
    }
}

/// Blocks the signals a supervisor forwards, then forks. Returns the fork,
/// the blocked set (the parent waits for them) and the mask from before
/// (the child restores it before it execs).
pub(crate) fn fork_supervised() -> Result<(ForkResult, SigSet, SigSet), String> {
    let signals = handled_signals();
    let mut previous = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&signals), Some(&mut previous))
        .map_err(|e| format!("blocking signals: {e}"))?;
    // SAFETY: the launcher is single-threaded, so the child may do anything.
    let forked = unsafe { fork() }.map_err(|e| format!("fork: {e}"))?;
    Ok((forked, signals, previous))
}

/// [`fork_supervised`], with init started in the spec's cgroup v2
/// directory when there is one (`clone3` with `CLONE_INTO_CGROUP`): then no
/// process migrates, and no `cgroup.procs` write waits for the kernel's
/// RCU grace period. Where the kernel refuses (older than 5.7, `clone3`
/// filtered by a container runtime's seccomp, not a cgroup2 directory),
/// this process joins by writing `cgroup.procs` and forks.
///
/// The pid namespace is made by the same `clone3` (the `namespaces` step
/// leaves it out), because a first fork that fails inside a new pid
/// namespace leaves it refusing every later fork (ENOMEM).
fn fork_init(spec: &SandboxSpec) -> Result<(ForkResult, SigSet, SigSet), String> {
    let Some(dir) = spec.spawn_into_cgroup.as_deref() else {
        return fork_supervised();
    };
    let signals = handled_signals();
    let mut previous = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&signals), Some(&mut previous))
        .map_err(|e| format!("blocking signals: {e}"))?;
    let refused = match clone_into_cgroup(dir, spec.namespaces.pid) {
        Ok(forked) => return Ok((forked, signals, previous)),
        Err(e) => e,
    };
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&previous), None);
    if spec.namespaces.pid {
        unshare(CloneFlags::CLONE_NEWPID).map_err(|e| format!("unshare: {e}"))?;
    }
    let procs = dir.join("cgroup.procs");
    std::fs::write(&procs, std::process::id().to_string()).map_err(|e| {
        format!(
            "cannot start in the cgroup {} ({refused}) nor join it through {}: {e}",
            dir.display(),
            procs.display()
        )
    })?;
    fork_supervised()
}

/// `clone3` with `CLONE_INTO_CGROUP`: a fork whose child is born in `dir`
/// (and, with `new_pid`, is pid 1 of a new pid namespace).
fn clone_into_cgroup(dir: &Path, new_pid: bool) -> Result<ForkResult, String> {
    use std::os::fd::AsRawFd;
    /// `struct clone_args` up to `cgroup` (CLONE_ARGS_SIZE_VER2).
    #[repr(C)]
    #[derive(Default)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
        set_tid: u64,
        set_tid_size: u64,
        cgroup: u64,
    }
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let cgroup = std::fs::File::open(dir).map_err(|e| format!("open: {e}"))?;
    let pid_namespace = if new_pid {
        libc::CLONE_NEWPID as u64
    } else {
        0
    };
    let args = CloneArgs {
        flags: CLONE_INTO_CGROUP | pid_namespace,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..Default::default()
    };
    // SAFETY: without CLONE_VM this is a fork: the child gets a copy of
    // this single-threaded process and returns here with 0. `args` lives
    // across the call and its size is passed with it.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match pid {
        0 => Ok(ForkResult::Child),
        pid if pid > 0 => Ok(ForkResult::Parent {
            child: Pid::from_raw(pid as i32),
        }),
        _ => Err(format!("clone3: {}", std::io::Error::last_os_error())),
    }
}

/// Init: build the root, fork the plugin, then reap and forward.
fn init(
    spec: &SandboxSpec,
    plan: &Plan,
    previous: &SigSet,
    program: &Path,
    args: &[std::ffi::OsString],
) -> String {
    if let Err(e) = run_steps(&plan.init, spec) {
        return e;
    }
    // SAFETY: single-threaded, as above.
    match unsafe { fork() } {
        Err(e) => format!("fork of the plugin: {e}"),
        Ok(ForkResult::Child) => {
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(previous), None);
            if let Err(e) = std::env::set_current_dir(&spec.workdir) {
                return format!("chdir {}: {e}", spec.workdir.display());
            }
            if let Err(e) = run_steps(&plan.child, spec) {
                return e;
            }
            exec_plugin(program, args)
        }
        Ok(ForkResult::Parent { child }) => reap(child, &handled_signals()),
    }
}

/// Execs the plugin with the environment minus the launcher's own variables.
pub(crate) fn exec_plugin(program: &Path, args: &[std::ffi::OsString]) -> String {
    let to_c = |s: &[u8]| CString::new(s).map_err(|_| "a NUL byte in an argument".to_owned());
    let result = (|| {
        let path = to_c(program.as_os_str().as_bytes())?;
        let mut argv = vec![path.clone()];
        for a in args {
            argv.push(to_c(a.as_bytes())?);
        }
        let env: Vec<CString> = std::env::vars_os()
            .filter(|(k, _)| !k.as_bytes().starts_with(b"PLUGWIRE_LAUNCHER_"))
            .map(|(k, v)| {
                let mut kv = k.as_bytes().to_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                to_c(&kv)
            })
            .collect::<Result<_, _>>()?;
        nix::unistd::execve(&path, &argv, &env).map_err(|e| e.to_string())?;
        Ok::<(), String>(())
    })();
    match result {
        Ok(()) => unreachable!("execve returned without an error"),
        Err(e) => format!("exec {}: {e}", program.display()),
    }
}

/// How the plugin ended.
pub(crate) enum Ending {
    /// It exited with this status.
    Exited(i32),
    /// A signal killed it.
    Killed(Signal),
}

/// Forwards every handled signal to `plugin` and reaps every child (orphans
/// included) until the plugin itself has ended.
pub(crate) fn forward_and_reap(plugin: Pid, signals: &SigSet) -> Ending {
    loop {
        let Ok(signal) = signals.wait() else { continue };
        if signal != Signal::SIGCHLD {
            let _ = kill(plugin, signal);
            continue;
        }
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == plugin => return Ending::Exited(code),
                Ok(WaitStatus::Signaled(pid, sig, _)) if pid == plugin => {
                    return Ending::Killed(sig);
                }
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
}

/// Pid 1: forward signals to the plugin, reap every zombie, exit with the
/// plugin's status (128 + signal when it was killed).
fn reap(plugin: Pid, signals: &SigSet) -> ! {
    match forward_and_reap(plugin, signals) {
        Ending::Exited(code) => std::process::exit(code),
        Ending::Killed(sig) => std::process::exit(128 + sig as i32),
    }
}

/// The outer launcher: forward signals to init, and end the way it ended,
/// so the host sees "killed by SIGKILL" when the plugin was.
fn supervise(init: Pid, signals: &SigSet) -> String {
    loop {
        let Ok(signal) = signals.wait() else { continue };
        if signal != Signal::SIGCHLD {
            let _ = kill(init, signal);
            continue;
        }
        match waitpid(init, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) if code > 128 && code < 128 + 65 => {
                // Init reports a signal death as 128 + signal: die the same way.
                if let Ok(sig) = Signal::try_from(code - 128) {
                    let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&SigSet::all()), None);
                    let _ = unsafe {
                        nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigDfl)
                    };
                    let _ = kill(Pid::this(), sig);
                }
                std::process::exit(code);
            }
            Ok(WaitStatus::Exited(_, code)) => std::process::exit(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => std::process::exit(128 + sig as i32),
            _ => {}
        }
    }
}

struct JoinCgroups;
impl Step for JoinCgroups {
    fn name(&self) -> &'static str {
        "join cgroups"
    }
    fn apply(&self, spec: &SandboxSpec) -> Result<(), String> {
        let pid = std::process::id().to_string();
        for procs in &spec.cgroup_procs {
            std::fs::write(procs, &pid).map_err(|e| format!("{}: {e}", procs.display()))?;
        }
        Ok(())
    }
}

struct UserNamespace;
impl Step for UserNamespace {
    fn name(&self) -> &'static str {
        "user namespace"
    }
    fn apply(&self, spec: &SandboxSpec) -> Result<(), String> {
        let (uid, gid) = spec.map_user.ok_or("no outer uid/gid to map")?;
        unshare(CloneFlags::CLONE_NEWUSER).map_err(|e| format!("unshare: {e}"))?;
        std::fs::write("/proc/self/setgroups", "deny").map_err(|e| format!("setgroups: {e}"))?;
        std::fs::write("/proc/self/uid_map", format!("0 {uid} 1"))
            .map_err(|e| format!("uid_map: {e}"))?;
        std::fs::write("/proc/self/gid_map", format!("0 {gid} 1"))
            .map_err(|e| format!("gid_map: {e}"))?;
        Ok(())
    }
}

struct Unshare;
impl Step for Unshare {
    fn name(&self) -> &'static str {
        "namespaces"
    }
    fn apply(&self, spec: &SandboxSpec) -> Result<(), String> {
        let ns = spec.namespaces;
        let mut flags = CloneFlags::empty();
        // Born in its cgroup, init gets its pid namespace from the same
        // clone3 and makes its own cgroup namespace (see `fork_init`).
        let born_in_cgroup = spec.spawn_into_cgroup.is_some();
        let cgroup_here = ns.cgroup && !born_in_cgroup;
        for (on, flag) in [
            (ns.pid && !born_in_cgroup, CloneFlags::CLONE_NEWPID),
            (ns.mount, CloneFlags::CLONE_NEWNS),
            (ns.ipc, CloneFlags::CLONE_NEWIPC),
            (ns.uts, CloneFlags::CLONE_NEWUTS),
            (ns.net, CloneFlags::CLONE_NEWNET),
            (cgroup_here, CloneFlags::CLONE_NEWCGROUP),
        ] {
            if on {
                flags |= flag;
            }
        }
        unshare(flags).map_err(|e| e.to_string())
    }
}

struct CgroupNamespace;
impl Step for CgroupNamespace {
    fn name(&self) -> &'static str {
        "cgroup namespace"
    }
    fn apply(&self, _spec: &SandboxSpec) -> Result<(), String> {
        unshare(CloneFlags::CLONE_NEWCGROUP).map_err(|e| format!("unshare: {e}"))
    }
}

struct DieWithParent;
impl Step for DieWithParent {
    fn name(&self) -> &'static str {
        "parent-death signal"
    }
    fn apply(&self, _spec: &SandboxSpec) -> Result<(), String> {
        nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| e.to_string())?;
        // The outer launcher may have died before the prctl took effect.
        // Our parent is outside our pid namespace, so its pid reads as 0;
        // instead the launcher holds the write end of a pipe, and its
        // death shows as a hang-up on the read end.
        let fd = PARENT_PIPE.load(std::sync::atomic::Ordering::Relaxed);
        if fd >= 0 {
            let mut poll = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: polls one descriptor we own, without waiting.
            let ready = unsafe { libc::poll(&mut poll, 1, 0) };
            if ready > 0 && poll.revents & (libc::POLLHUP | libc::POLLIN) != 0 {
                return Err("the launcher exited before init started".into());
            }
        }
        Ok(())
    }
}

struct Hostname;
impl Step for Hostname {
    fn name(&self) -> &'static str {
        "host name"
    }
    fn apply(&self, _spec: &SandboxSpec) -> Result<(), String> {
        nix::unistd::sethostname("plugwire").map_err(|e| e.to_string())
    }
}

struct Loopback;
impl Step for Loopback {
    fn name(&self) -> &'static str {
        "loopback"
    }
    fn apply(&self, _spec: &SandboxSpec) -> Result<(), String> {
        // SAFETY: a plain socket and two ioctls on a stack ifreq.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
            if fd < 0 {
                return Err(std::io::Error::last_os_error().to_string());
            }
            let mut req: libc::ifreq = std::mem::zeroed();
            for (i, b) in b"lo\0".iter().enumerate() {
                req.ifr_name[i] = *b as libc::c_char;
            }
            let mut result = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req);
            if result == 0 {
                req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
                result = libc::ioctl(fd, libc::SIOCSIFFLAGS, &req);
            }
            let error = std::io::Error::last_os_error();
            libc::close(fd);
            if result != 0 {
                return Err(error.to_string());
            }
        }
        Ok(())
    }
}

/// Binds the egress proxy's listener on 127.0.0.1 inside the new network
/// namespace, before the plugin exists, and hands it to the host: the host
/// accepts, checks and dials every connection (crate::egress).
struct EgressListener;
impl Step for EgressListener {
    fn name(&self) -> &'static str {
        "egress listener"
    }
    fn apply(&self, spec: &SandboxSpec) -> Result<(), String> {
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        let port = spec.egress_port.ok_or("no egress port in the spec")?;
        let raw = EGRESS_CHANNEL.swap(-1, std::sync::atomic::Ordering::Relaxed);
        if raw < 0 {
            return Err("the launcher was given no --egress-fd".into());
        }
        // SAFETY: the descriptor was inherited for this step alone.
        let channel = unsafe { OwnedFd::from_raw_fd(raw) };
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))
            .map_err(|e| format!("bind 127.0.0.1:{port}: {e}"))?;
        let fds = [listener.as_raw_fd()];
        let control = [nix::sys::socket::ControlMessage::ScmRights(&fds)];
        let iov = [std::io::IoSlice::new(b"L")];
        nix::sys::socket::sendmsg::<()>(
            channel.as_raw_fd(),
            &iov,
            &control,
            nix::sys::socket::MsgFlags::empty(),
            None,
        )
        .map_err(|e| format!("handing the listener to the host: {e}"))?;
        // Both close here: the plugin forked after this holds neither.
        Ok(())
    }
}

struct BuildRoot;
impl Step for BuildRoot {
    fn name(&self) -> &'static str {
        "root file system"
    }
    fn apply(&self, spec: &SandboxSpec) -> Result<(), String> {
        let root = spec
            .root
            .as_ref()
            .ok_or("no root file system in the spec")?;
        build_root(root)
    }
}

fn inside(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

fn err(what: impl std::fmt::Display, path: &Path, e: impl std::fmt::Display) -> String {
    format!("{what} {}: {e}", path.display())
}

fn mount_point(target: &Path, like: &Path) -> Result<(), String> {
    if like.is_dir() {
        std::fs::create_dir_all(target).map_err(|e| err("mkdir", target, e))
    } else {
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| err("mkdir", parent, e))?;
        }
        std::fs::File::create(target)
            .map(|_| ())
            .map_err(|e| err("create", target, e))
    }
}

fn bind(source: &Path, target: &Path, writable: bool) -> Result<(), String> {
    bind_with(source, target, writable, MsFlags::MS_NODEV)
}

/// Binds a device node: the mount must allow devices.
fn bind_device(source: &Path, target: &Path) -> Result<(), String> {
    bind_with(source, target, true, MsFlags::empty())
}

fn bind_with(source: &Path, target: &Path, writable: bool, extra: MsFlags) -> Result<(), String> {
    mount_point(target, source)?;
    mount(
        Some(source),
        target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| err("bind", source, e))?;
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | extra;
    if !writable {
        flags |= MsFlags::MS_RDONLY;
    }
    // Keep the flags the kernel locks on the source (noexec and friends).
    if let Ok(st) = nix::sys::statvfs::statvfs(source)
        && st.flags().contains(nix::sys::statvfs::FsFlags::ST_NOEXEC)
    {
        flags |= MsFlags::MS_NOEXEC;
    }
    mount(None::<&str>, target, None::<&str>, flags, None::<&str>)
        .map_err(|e| err("remount", target, e))
}

fn bind_all(new: &Path, binds: &[crate::sandbox::spec::Bind]) -> Result<(), String> {
    for b in binds {
        if !b.path.exists() {
            if b.optional {
                continue;
            }
            return Err(err("bind", &b.path, "does not exist"));
        }
        bind(&b.path, &inside(new, &b.path), b.writable)?;
    }
    Ok(())
}

fn build_root(root: &RootFs) -> Result<(), String> {
    let new = &root.new_root;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| err("make private", Path::new("/"), e))?;
    mount(
        Some("tmpfs"),
        new,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755,size=16m"),
    )
    .map_err(|e| err("mount tmpfs on", new, e))?;
    for (link, target) in &root.symlinks {
        let at = inside(new, link);
        if let Some(parent) = at.parent() {
            std::fs::create_dir_all(parent).map_err(|e| err("mkdir", parent, e))?;
        }
        std::os::unix::fs::symlink(target, &at).map_err(|e| err("symlink", &at, e))?;
    }
    // Private tmpfs first: binds below them (the runtime directory usually
    // lives in /tmp) must land on top, not be hidden by them.
    for dir in &root.tmpfs {
        let at = inside(new, dir);
        std::fs::create_dir_all(&at).map_err(|e| err("mkdir", &at, e))?;
        mount(
            Some("tmpfs"),
            &at,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some("mode=1777,size=64m"),
        )
        .map_err(|e| err("mount tmpfs on", &at, e))?;
    }
    bind_all(new, &root.binds)?;
    for dir in &root.masks {
        let at = inside(new, dir);
        // Only what a grant made visible needs hiding; creating the rest
        // would only add empty directories.
        if !at.is_dir() {
            continue;
        }
        mount(
            Some("tmpfs"),
            &at,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some("mode=0755,size=64k"),
        )
        .map_err(|e| err("hide", &at, e))?;
    }
    bind_all(new, &root.own)?;
    for dir in &root.masks {
        let at = inside(new, dir);
        if at.is_dir() {
            let flags = MsFlags::MS_REMOUNT
                | MsFlags::MS_RDONLY
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NODEV
                | MsFlags::MS_NOEXEC;
            // Busy when one of our own binds sits on top; it stays as it is.
            let _ = mount(None::<&str>, &at, None::<&str>, flags, None::<&str>);
        }
    }
    for (path, contents) in &root.files {
        let at = inside(new, path);
        if let Some(parent) = at.parent() {
            std::fs::create_dir_all(parent).map_err(|e| err("mkdir", parent, e))?;
        }
        std::fs::write(&at, contents).map_err(|e| err("write", &at, e))?;
    }
    // A /proc of the new pid namespace.
    let proc_dir = new.join("proc");
    std::fs::create_dir_all(&proc_dir).map_err(|e| err("mkdir", &proc_dir, e))?;
    mount(
        Some("proc"),
        &proc_dir,
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(|e| err("mount", &proc_dir, e))?;
    // A minimal /dev.
    let dev = new.join("dev");
    std::fs::create_dir_all(&dev).map_err(|e| err("mkdir", &dev, e))?;
    mount(
        Some("tmpfs"),
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("mode=0755,size=64k"),
    )
    .map_err(|e| err("mount tmpfs on", &dev, e))?;
    for node in ["null", "zero", "full", "random", "urandom"] {
        bind_device(&Path::new("/dev").join(node), &dev.join(node))?;
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        std::os::unix::fs::symlink(target, dev.join(link))
            .map_err(|e| err("symlink", &dev.join(link), e))?;
    }
    let shm = dev.join("shm");
    std::fs::create_dir_all(&shm).map_err(|e| err("mkdir", &shm, e))?;
    mount(
        Some("tmpfs"),
        &shm,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=1777,size=16m"),
    )
    .map_err(|e| err("mount tmpfs on", &shm, e))?;
    // The plugin's own cgroup, read-only, so it can see its limits.
    if let Some(cgroups) = &root.cgroupfs {
        let at = new.join("sys/fs/cgroup");
        std::fs::create_dir_all(&at).map_err(|e| err("mkdir", &at, e))?;
        let ro = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        match cgroups {
            CgroupMount::V2 => {
                let _ = mount(Some("cgroup2"), &at, Some("cgroup2"), ro, None::<&str>);
            }
            CgroupMount::V1(controllers) => {
                let _ = mount(
                    Some("tmpfs"),
                    &at,
                    Some("tmpfs"),
                    MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                    Some("mode=0755,size=16k"),
                );
                for c in controllers {
                    let dir = at.join(c);
                    if std::fs::create_dir_all(&dir).is_ok() {
                        let _ = mount(Some("cgroup"), &dir, Some("cgroup"), ro, Some(c.as_str()));
                    }
                }
            }
        }
    }
    // Swap roots and drop the old one.
    std::env::set_current_dir(new).map_err(|e| err("chdir", new, e))?;
    nix::unistd::pivot_root(".", ".").map_err(|e| err("pivot_root", new, e))?;
    umount2(".", MntFlags::MNT_DETACH)
        .map_err(|e| err("detach the old root at", Path::new("/"), e))?;
    std::env::set_current_dir("/").map_err(|e| err("chdir", Path::new("/"), e))?;
    // Nothing may be created outside the writable binds.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REMOUNT
            | MsFlags::MS_BIND
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV,
        None::<&str>,
    )
    .map_err(|e| err("remount read-only", Path::new("/"), e))?;
    Ok(())
}

struct Rlimits;
impl Step for Rlimits {
    fn name(&self) -> &'static str {
        "rlimits"
    }
    fn apply(&self, spec: &SandboxSpec) -> Result<(), String> {
        use nix::sys::resource::{Resource, getrlimit, setrlimit};
        for (resource, wanted) in [
            (Resource::RLIMIT_NOFILE, spec.rlimits.nofile),
            (Resource::RLIMIT_CORE, spec.rlimits.core),
        ] {
            // Only ever lower: raising needs CAP_SYS_RESOURCE.
            let (_, hard) = getrlimit(resource).map_err(|e| e.to_string())?;
            let value = wanted.min(hard);
            setrlimit(resource, value, value).map_err(|e| format!("{resource:?}: {e}"))?;
        }
        Ok(())
    }
}

fn last_cap() -> u64 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

struct DropBoundingSet;
impl Step for DropBoundingSet {
    fn name(&self) -> &'static str {
        "capability bounding set"
    }
    fn apply(&self, _spec: &SandboxSpec) -> Result<(), String> {
        for cap in 0..=last_cap() {
            // SAFETY: prctl with integer arguments only.
            if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) } != 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EINVAL) {
                    return Err(format!("cap {cap}: {e}"));
                }
            }
        }
        // SAFETY: as above.
        unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL,
                0,
                0,
                0,
            )
        };
        Ok(())
    }
}

struct Identity;
impl Step for Identity {
    fn name(&self) -> &'static str {
        "uid and gid"
    }
    fn apply(&self, spec: &SandboxSpec) -> Result<(), String> {
        let (uid, gid) = spec.run_as;
        if nix::unistd::getuid().as_raw() == uid && nix::unistd::getgid().as_raw() == gid {
            return Ok(());
        }
        let gid = nix::unistd::Gid::from_raw(gid);
        let uid = nix::unistd::Uid::from_raw(uid);
        if !spec.namespaces.user {
            nix::unistd::setgroups(&[gid]).map_err(|e| format!("setgroups: {e}"))?;
        }
        nix::unistd::setresgid(gid, gid, gid).map_err(|e| format!("setresgid: {e}"))?;
        nix::unistd::setresuid(uid, uid, uid).map_err(|e| format!("setresuid: {e}"))
    }
}

struct DropCapabilities;
impl Step for DropCapabilities {
    fn name(&self) -> &'static str {
        "capabilities"
    }
    fn apply(&self, _spec: &SandboxSpec) -> Result<(), String> {
        #[repr(C)]
        struct Header {
            version: u32,
            pid: i32,
        }
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        const VERSION_3: u32 = 0x2008_0522;
        let header = Header {
            version: VERSION_3,
            pid: 0,
        };
        let data = [Data {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        }; 2];
        // SAFETY: capset with a v3 header and two zeroed data words, the
        // layout the kernel expects.
        let result =
            unsafe { libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) };
        if result != 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
        Ok(())
    }
}

struct NoNewPrivs;
impl Step for NoNewPrivs {
    fn name(&self) -> &'static str {
        "no_new_privs"
    }
    fn apply(&self, _spec: &SandboxSpec) -> Result<(), String> {
        nix::sys::prctl::set_no_new_privs().map_err(|e| e.to_string())
    }
}

struct Landlock;
impl Step for Landlock {
    fn name(&self) -> &'static str {
        "landlock"
    }
    fn apply(&self, spec: &SandboxSpec) -> Result<(), String> {
        use landlock::{
            ABI, Access, AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
            path_beneath_rules,
        };
        let rules = spec.landlock.as_ref().ok_or("no landlock rules")?;
        let abi = ABI::V5;
        let status = Ruleset::default()
            .handle_access(AccessFs::from_all(abi))
            .and_then(|r| r.create())
            .and_then(|r| r.add_rules(path_beneath_rules(&rules.read, AccessFs::from_read(abi))))
            .and_then(|r| r.add_rules(path_beneath_rules(&rules.write, AccessFs::from_all(abi))))
            .and_then(|r| r.restrict_self())
            .map_err(|e| e.to_string())?;
        if rules.required && status.ruleset == RulesetStatus::NotEnforced {
            return Err(
                "the kernel does not enforce Landlock, and this sandbox level requires it".into(),
            );
        }
        Ok(())
    }
}

struct CloseFds;
impl Step for CloseFds {
    fn name(&self) -> &'static str {
        "close file descriptors"
    }
    fn apply(&self, _spec: &SandboxSpec) -> Result<(), String> {
        const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
        // SAFETY: marks descriptors 3.. close-on-exec; no memory involved.
        let result = unsafe {
            libc::syscall(
                libc::SYS_close_range,
                3 as libc::c_uint,
                libc::c_uint::MAX,
                CLOSE_RANGE_CLOEXEC,
            )
        };
        if result != 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
        Ok(())
    }
}

struct Seccomp;
impl Step for Seccomp {
    fn name(&self) -> &'static str {
        "seccomp"
    }
    fn apply(&self, _spec: &SandboxSpec) -> Result<(), String> {
        for filter in super::seccomp::filters()? {
            seccompiler::apply_filter(&filter).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(steps: &[Box<dyn Step>]) -> Vec<&'static str> {
        steps.iter().map(|s| s.name()).collect()
    }

    #[test]
    fn steps_run_in_the_documented_order() {
        let mut spec = crate::sandbox::example_spec();
        let steps = plan(&spec);
        assert_eq!(names(&steps.outer), ["join cgroups", "namespaces"]);
        assert_eq!(
            names(&steps.init),
            [
                "parent-death signal",
                "host name",
                "loopback",
                "root file system"
            ]
        );
        assert_eq!(
            names(&steps.child),
            [
                "rlimits",
                "capability bounding set",
                "uid and gid",
                "capabilities",
                "no_new_privs",
                "landlock",
                "close file descriptors",
                "seccomp",
            ]
        );
        spec.namespaces.user = true;
        spec.namespaces.net = false;
        spec.landlock = None;
        let steps = plan(&spec);
        assert_eq!(
            names(&steps.outer),
            ["join cgroups", "user namespace", "namespaces"]
        );
        assert!(!names(&steps.init).contains(&"loopback"));
        assert!(!names(&steps.child).contains(&"landlock"));
        assert_eq!(
            names(&steps.child).last(),
            Some(&"seccomp"),
            "seccomp always last"
        );
    }

    #[test]
    fn born_in_a_v2_cgroup_init_makes_the_cgroup_namespace() {
        let mut spec = crate::sandbox::example_spec();
        spec.cgroup_procs.clear();
        spec.spawn_into_cgroup = Some(PathBuf::from("/sys/fs/cgroup/plugwire-1/echo"));
        let steps = plan(&spec);
        assert_eq!(
            names(&steps.init)[..2],
            ["parent-death signal", "cgroup namespace"]
        );
        spec.namespaces.cgroup = false;
        assert!(!names(&plan(&spec).init).contains(&"cgroup namespace"));
    }
}

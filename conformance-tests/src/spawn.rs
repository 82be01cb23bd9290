//! Checking a plugin the suite starts itself, through the host's own launch
//! path (`plugwire_host::launch`): the bootstrap checks, everything a
//! serving plugin is checked for, then shutdown and `SIGTERM`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use plugwire_host::launch::{ExitWatch, Launch, Spawner, StartFailure, Started, signal_group};
use plugwire_host::manifest::{MANIFEST_FILE, Manifest};
use plugwire_host::sandbox::{Prepared, SandboxLevel, Support};
use plugwire_proto::bootstrap::BootstrapLine;
use plugwire_proto::pb;
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::check::{CheckResult, timed};
use crate::report::{Report, Status};

/// How a plugin is started for checking.
#[derive(Debug, Clone)]
pub struct Options {
    /// The configuration sent in `Configure`.
    pub config: Value,
    /// Run under the standard sandbox (best effort), as a host would.
    pub sandbox: bool,
    /// `plugwire-launcher`; found next to the suite or on `PATH` when
    /// `None`. Without one the plugin is run directly.
    pub launcher: Option<PathBuf>,
    /// How long each start may take to print its line.
    pub bootstrap_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            config: Value::Object(Default::default()),
            sandbox: false,
            launcher: None,
            bootstrap_timeout: Duration::from_secs(10),
        }
    }
}

/// The plugin to check: a directory holding `plugin.toml`, or an
/// executable; `args` are appended to the manifest's.
///
/// ```
/// let err = plugwire_conformance::target("/nonexistent".as_ref(), &[]).unwrap_err();
/// assert!(err.contains("expected a plugin directory"));
/// let m = plugwire_conformance::target("/bin/true".as_ref(), &["-v".into()]).unwrap();
/// assert_eq!((m.name.as_str(), m.args.as_slice()), ("true", &["-v".to_owned()][..]));
/// ```
pub fn target(path: &Path, args: &[String]) -> Result<Manifest, String> {
    let mut manifest = if path.is_dir() {
        Manifest::load(path).map_err(|e| e.to_string())?
    } else if path.is_file() {
        let path = std::path::absolute(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Manifest::for_executable(&path, Vec::new())
    } else {
        return Err(format!(
            "{}: expected a plugin directory (holding {MANIFEST_FILE}) or an executable; nothing is there",
            path.display()
        ));
    };
    manifest.args.extend(args.iter().cloned());
    Ok(manifest)
}

/// What the plugin wrote on stderr, the last 64 KiB of it.
#[derive(Clone, Default)]
struct StderrTail(Arc<Mutex<Vec<u8>>>);

impl StderrTail {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }

    fn collect(&self, mut stderr: tokio::process::ChildStderr) {
        let tail = self.0.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
                tail.extend_from_slice(&buf[..n]);
                let excess = tail.len().saturating_sub(64 * 1024);
                tail.drain(..excess);
            }
        });
    }
}

/// One started plugin process and what it needs to stay alive.
struct Process {
    pid: u32,
    line: BootstrapLine,
    exit: ExitWatch,
    stderr: StderrTail,
    _dir: tempfile::TempDir,
    sandbox: Option<Prepared>,
}

impl Process {
    fn socket(&self) -> &str {
        &self.line.socket_path
    }

    async fn channel(&self) -> Result<Channel, String> {
        Endpoint::from_shared(format!("unix:{}", self.socket()))
            .map_err(|e| e.to_string())?
            .origin(Uri::from_static("http://localhost"))
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", self.socket()))
    }

    /// Whether every process of its group is gone.
    fn group_gone(&self) -> bool {
        let Ok(pid) = i32::try_from(self.pid) else {
            return true;
        };
        matches!(
            killpg(Pid::from_raw(pid), None::<Signal>),
            Err(nix::errno::Errno::ESRCH)
        )
    }

    /// Waits for the process to exit; its status, or `None` on timeout.
    async fn exited_within(&self, limit: Duration) -> Option<String> {
        tokio::time::timeout(limit, self.exit.wait()).await.ok()
    }

    /// Waits for the whole group (and cgroup) to be gone.
    async fn group_gone_within(&self, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if self.group_gone() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.group_gone()
    }

    fn kill(&self) {
        signal_group(self.pid, Signal::SIGKILL);
        if let Some(cgroup) = self.sandbox.as_ref().and_then(|p| p.cgroup.clone()) {
            cgroup.kill();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A failed start, with the stderr it produced.
struct Failed {
    failure: StartFailure,
    stderr: StderrTail,
}

impl Failed {
    /// Waits (bounded) for the process to end; `None` if it is still
    /// running (then kills it).
    async fn exit_status(&self, limit: Duration) -> Option<String> {
        let exit = self.failure.exit.as_ref()?;
        let status = tokio::time::timeout(limit, exit.wait()).await.ok();
        if status.is_none()
            && let Some(pid) = self.failure.pid
        {
            signal_group(pid, Signal::SIGKILL);
        }
        // Let the stderr reader catch up with the last words.
        tokio::time::sleep(Duration::from_millis(50)).await;
        status
    }
}

struct Starter<'a> {
    spawner: Spawner,
    manifest: &'a Manifest,
    launcher: Option<PathBuf>,
    support: Option<Support>,
    data_root: tempfile::TempDir,
}

impl Starter<'_> {
    async fn start(
        &self,
        versions: &[u32],
        cookie: bool,
        bootstrap: Duration,
    ) -> Result<Process, Failed> {
        let stderr = StderrTail::default();
        let failed = |message: String| Failed {
            failure: StartFailure {
                message,
                pid: None,
                stdout: Vec::new(),
                exit: None,
            },
            stderr: stderr.clone(),
        };
        let dir = plugwire_host::launch::runtime_dir().map_err(|e| failed(e.to_string()))?;
        let sandbox = match &self.support {
            Some(support) => Some(
                plugwire_host::launch::prepare_sandbox(
                    self.manifest,
                    SandboxLevel::Standard,
                    true,
                    dir.path(),
                    self.data_root.path(),
                    support,
                )
                .map_err(failed)?,
            ),
            None => None,
        };
        let host_socket = dir.path().join("host.sock");
        let launch = Launch {
            host_socket: &host_socket,
            instance_id: "00000000-0000-4000-8000-00000000c0f0",
            protocol_versions: versions,
            sandbox: sandbox.as_ref(),
            cookie,
            bootstrap_timeout: bootstrap,
            ..Launch::new(self.manifest, dir.path(), self.launcher.as_deref())
        };
        let collector = stderr.clone();
        match self.spawner.start(&launch, |s| collector.collect(s)).await {
            Ok(Started {
                pid,
                line,
                stdout,
                exit,
            }) => {
                // Stdout after the line is logs (PW-BOOT-6): keep it flowing.
                let mut rest = stdout;
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut rest, &mut tokio::io::sink()).await;
                });
                Ok(Process {
                    pid,
                    line,
                    exit,
                    stderr,
                    _dir: dir,
                    sandbox,
                })
            }
            Err(failure) => Err(Failed { failure, stderr }),
        }
    }
}

/// Checks that a start without the cookie, or with no common version, ends
/// the way PW-BOOT-1 and PW-BOOT-3 require: no line, a message on stderr, a
/// non-zero exit.
async fn refuses(starter: &Starter<'_>, versions: &[u32], cookie: bool, what: &str) -> CheckResult {
    let failed = match starter
        .start(versions, cookie, Duration::from_secs(5))
        .await
    {
        Ok(process) => {
            return Err(format!(
                "{what}, the plugin printed a bootstrap line ({}) instead of exiting",
                process.line
            ));
        }
        Err(failed) => failed,
    };
    if !failed.failure.stdout.is_empty() {
        if let Some(pid) = failed.failure.pid {
            signal_group(pid, Signal::SIGKILL);
        }
        return Err(format!(
            "{what}, the plugin printed {:?} on stdout; it must print nothing there",
            String::from_utf8_lossy(&failed.failure.stdout)
        ));
    }
    let Some(status) = failed.exit_status(Duration::from_secs(5)).await else {
        return Err(format!(
            "{what}, the plugin kept running (it must exit with a non-zero status): {}",
            failed.failure.message
        ));
    };
    if status == "exit status 0" || !status.starts_with("exit status") {
        return Err(format!(
            "{what}, the plugin ended with {status}; expected a non-zero exit status"
        ));
    }
    if failed.stderr.text().trim().is_empty() {
        return Err(format!(
            "{what}, the plugin exited ({status}) without a message on stderr"
        ));
    }
    Ok(Status::Passed)
}

/// Starts the plugin (several times) and runs every check.
pub async fn check(manifest: &Manifest, options: &Options) -> Result<Report, String> {
    let launcher = options
        .launcher
        .clone()
        .or_else(|| plugwire_host::launch::find_launcher(None));
    let support = if options.sandbox {
        if launcher.is_none() {
            return Err(format!(
                "--sandbox needs {}: build it (cargo build -p plugwire-host) or pass --launcher",
                plugwire_host::LAUNCHER_NAME
            ));
        }
        Some(Support::detect())
    } else {
        None
    };
    let starter = Starter {
        spawner: Spawner::new().map_err(|e| format!("cannot start the spawner thread: {e}"))?,
        manifest,
        launcher,
        support,
        data_root: tempfile::tempdir().map_err(|e| e.to_string())?,
    };
    let mut report = Report::default();
    let r = &mut report;

    timed(
        r,
        "boot/no-cookie",
        refuses(&starter, &[1], false, "without the cookie"),
    )
    .await;
    timed(
        r,
        "boot/version-none-common",
        refuses(&starter, &[99], true, "offered only version 99"),
    )
    .await;

    let main = starter
        .start(&versions(manifest), true, options.bootstrap_timeout)
        .await;
    boot_line_checks(r, &main).await;
    let main = match main {
        Ok(process) => process,
        Err(failed) => {
            let status = failed.exit_status(Duration::from_millis(500)).await;
            let why = format!(
                "not run: the plugin did not start: {}{}\n  stderr: {}",
                failed.failure.message,
                status.map(|s| format!(" ({s})")).unwrap_or_default(),
                failed.stderr.text().trim()
            );
            for check in crate::CHECKS {
                if !r.outcomes.iter().any(|o| o.id == check.id) {
                    timed(r, check.id, async { Err(why.clone()) }).await;
                }
            }
            return Ok(report);
        }
    };
    let channel = main.channel().await;
    match &channel {
        Ok(channel) => {
            crate::checks::serving(r, channel, &options.config).await;
        }
        Err(e) => {
            timed(r, "health/plugin-serving", async { Err(e.clone()) }).await;
        }
    }

    let second = starter
        .start(&[1, 99], true, options.bootstrap_timeout)
        .await;
    timed(r, "boot/version-highest-common", async {
        match &second {
            Ok(p) if p.line.app_version == 1 => Ok(Status::Passed),
            Ok(p) => Err(format!(
                "offered 1,99 the plugin chose {}; version 99 does not exist, so the highest common version is 1",
                p.line.app_version
            )),
            Err(f) => Err(format!("offered 1,99 the plugin did not start: {}", f.failure.message)),
        }
    })
    .await;
    timed(r, "configure/invalid", async {
        let second = second
            .as_ref()
            .map_err(|f| format!("not run: {}", f.failure.message))?;
        configure_invalid(&second.channel().await?).await
    })
    .await;
    timed(r, "shutdown/shutdown-honoured", async {
        let channel = channel.as_ref().map_err(Clone::clone)?;
        shutdown(&main, channel).await
    })
    .await;
    timed(r, "shutdown/socket-removed", async {
        if main.exited_within(Duration::from_secs(1)).await.is_none() {
            return Err("not run: the plugin did not exit".into());
        }
        gone(&main).await
    })
    .await;
    timed(r, "shutdown/sigterm", async {
        let second = second
            .as_ref()
            .map_err(|f| format!("not run: {}", f.failure.message))?;
        sigterm(second).await
    })
    .await;
    Ok(report)
}

/// The versions the host offers this plugin.
fn versions(manifest: &Manifest) -> Vec<u32> {
    plugwire_host::PROTOCOL_VERSIONS
        .iter()
        .copied()
        .filter(|v| manifest.protocol_versions.contains(v))
        .collect()
}

/// Judges the main start's line: its format, that nothing preceded it, and
/// where its socket is.
async fn boot_line_checks(report: &mut Report, main: &Result<Process, Failed>) {
    let (line, seen, message) = match main {
        Ok(p) => (Ok(p.line.clone()), Vec::new(), String::new()),
        Err(f) => {
            let seen = f.failure.stdout.clone();
            let end = seen
                .iter()
                .position(|b| *b == b'\n')
                .map_or(seen.len(), |i| i + 1);
            let parsed = BootstrapLine::parse_line(&seen[..end]).map_err(|e| e.to_string());
            (parsed, seen, f.failure.message.clone())
        }
    };
    let line_format = match &line {
        Ok(_) => Ok(Status::Passed),
        Err(_) => Err(message.clone()),
    };
    timed(report, "boot/line-format", async { line_format }).await;
    let first = seen.split(|b| *b == b'\n').next().unwrap_or_default();
    let clean = if line.is_ok() || seen.is_empty() || first.starts_with(b"1|") {
        Ok(Status::Passed)
    } else {
        Err(format!(
            "the first line on stdout was {:?}: nothing may be printed before the bootstrap line (write logs to stderr)",
            String::from_utf8_lossy(first)
        ))
    };
    timed(report, "boot/stdout-clean", async { clean }).await;
    let socket = match (&line, main) {
        (Ok(_), Ok(_)) => Ok(Status::Passed),
        (Ok(l), Err(_)) if message.contains("socket") || message.contains(&l.socket_path) => {
            Err(message.clone())
        }
        (Ok(_), Err(_)) => Ok(Status::Passed),
        (Err(_), _) => Err("not run: no valid bootstrap line".into()),
    };
    timed(report, "boot/socket-in-dir", async { socket }).await;
}

async fn configure_invalid(channel: &Channel) -> CheckResult {
    let mut plugin = pb::plugin_service_client::PluginServiceClient::new(channel.clone());
    plugin
        .handshake(pb::HandshakeRequest {
            protocol_version: 1,
            ..crate::checks::handshake_request()
        })
        .await
        .map_err(|s| format!("Handshake: {:?}: {}", s.code(), s.message()))?;
    for text in ["this is not JSON", "[1, 2]"] {
        match plugin
            .configure(pb::ConfigureRequest {
                config_json: text.into(),
            })
            .await
        {
            Err(s)
                if s.code() == tonic::Code::InvalidArgument
                    && s.message().starts_with("config ") => {}
            Err(s) if s.code() == tonic::Code::InvalidArgument => {
                return Err(format!(
                    "Configure({text:?}): INVALID_ARGUMENT as required, but the message {:?} is not of the form `config <json-pointer>: <problem>`",
                    s.message()
                ));
            }
            Err(s) => {
                return Err(format!(
                    "Configure({text:?}): expected INVALID_ARGUMENT, got {:?}: {}",
                    s.code(),
                    s.message()
                ));
            }
            Ok(_) => {
                return Err(format!(
                    "Configure({text:?}) succeeded; a configuration that is not a JSON object must be rejected"
                ));
            }
        }
    }
    Ok(Status::Passed)
}

async fn shutdown(process: &Process, channel: &Channel) -> CheckResult {
    let grace = Duration::from_secs(1);
    let mut request = tonic::Request::new(pb::ShutdownRequest {
        grace: prost_types::Duration::try_from(grace).ok(),
    });
    request.set_timeout(grace + Duration::from_secs(1));
    pb::plugin_service_client::PluginServiceClient::new(channel.clone())
        .shutdown(request)
        .await
        .map_err(|s| format!("Shutdown: {:?}: {}", s.code(), s.message()))?;
    match process.exited_within(grace + Duration::from_secs(1)).await {
        Some(status) if status == "exit status 0" => Ok(Status::Passed),
        Some(status) => Err(format!(
            "after Shutdown the plugin ended with {status}; expected exit status 0"
        )),
        None => Err(format!(
            "the plugin was still running {:?} after Shutdown{{grace: {grace:?}}}",
            grace + Duration::from_secs(1)
        )),
    }
}

/// After an exit: the socket is removed and no process of the group is left.
async fn gone(process: &Process) -> CheckResult {
    if Path::new(process.socket()).exists() {
        return Err(format!(
            "the socket {} is still there after the plugin exited",
            process.socket()
        ));
    }
    if !process.group_gone_within(Duration::from_secs(1)).await {
        return Err(format!(
            "processes of the plugin's group {} were still running 1 s after it exited: no process may outlive the plugin",
            process.pid
        ));
    }
    Ok(Status::Passed)
}

async fn sigterm(process: &Process) -> CheckResult {
    if let Ok(pid) = i32::try_from(process.pid) {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
    let limit = Duration::from_secs(6);
    match process.exited_within(limit).await {
        Some(status) if status == "exit status 0" => gone(process).await,
        Some(status) => Err(format!(
            "after SIGTERM the plugin ended with {status}; expected exit status 0"
        )),
        None => Err(format!(
            "the plugin was still running {limit:?} after SIGTERM (its grace may be at most 5 s); stderr: {}",
            process.stderr.text().trim()
        )),
    }
}

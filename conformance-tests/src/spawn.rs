//! Starting the plugin under test through the host's own launch path
//! (`plugwire_host::launch`), and the processes it gives.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use plugwire_host::launch::{ExitWatch, Launch, Spawner, StartFailure, Started, signal_group};
use plugwire_host::manifest::{MANIFEST_FILE, Manifest};
use plugwire_host::sandbox::{Prepared, SandboxLevel, Support};
use plugwire_proto::bootstrap::BootstrapLine;
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tonic::transport::{Channel, Endpoint, Uri};

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
    /// Also exercise the plugin's own tools and commands
    /// ([`crate::exercise`]).
    pub exercise: Option<crate::exercise::settings::Exercise>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            config: Value::Object(Default::default()),
            sandbox: false,
            launcher: None,
            bootstrap_timeout: Duration::from_secs(10),
            exercise: None,
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
pub(crate) struct StderrTail(Arc<Mutex<Vec<u8>>>);

impl StderrTail {
    pub(crate) fn text(&self) -> String {
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
pub(crate) struct Process {
    pub(crate) pid: u32,
    pub(crate) line: BootstrapLine,
    exit: ExitWatch,
    pub(crate) stderr: StderrTail,
    /// Connections made to `PLUGWIRE_HOST_SOCKET`, which the suite, listing
    /// no `host.service`, only counts and closes (PW-HS-4).
    pub(crate) host_dials: Arc<AtomicUsize>,
    _host_listener: AbortOnDrop,
    _dir: tempfile::TempDir,
    sandbox: Option<Prepared>,
}

/// A task that ends with its owner.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Counts each connection to the host socket, and hangs up on it.
fn count_host_dials(listener: tokio::net::UnixListener) -> (Arc<AtomicUsize>, AbortOnDrop) {
    let dials = Arc::new(AtomicUsize::new(0));
    let counted = dials.clone();
    let task = tokio::spawn(async move {
        while let Ok((connection, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::Relaxed);
            drop(connection);
        }
    });
    (dials, AbortOnDrop(task))
}

impl Process {
    pub(crate) fn socket(&self) -> &str {
        &self.line.socket_path
    }

    pub(crate) async fn channel(&self) -> Result<Channel, String> {
        Endpoint::from_shared(format!("unix:{}", self.socket()))
            .map_err(|e| e.to_string())?
            .origin(Uri::from_static("http://localhost"))
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", self.socket()))
    }

    /// Whether every process of its group is gone.
    pub(crate) fn group_gone(&self) -> bool {
        let Ok(pid) = i32::try_from(self.pid) else {
            return true;
        };
        matches!(
            killpg(Pid::from_raw(pid), None::<Signal>),
            Err(nix::errno::Errno::ESRCH)
        )
    }

    /// Waits for the process to exit; its status, or `None` on timeout.
    pub(crate) async fn exited_within(&self, limit: Duration) -> Option<String> {
        tokio::time::timeout(limit, self.exit.wait()).await.ok()
    }

    /// Waits for the whole group (and cgroup) to be gone.
    pub(crate) async fn group_gone_within(&self, limit: Duration) -> bool {
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
pub(crate) struct Failed {
    pub(crate) failure: StartFailure,
    pub(crate) stderr: StderrTail,
}

impl Failed {
    /// Waits (bounded) for the process to end; `None` if it is still
    /// running (then kills it).
    pub(crate) async fn exit_status(&self, limit: Duration) -> Option<String> {
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

/// Starts the plugin under test, as often as the checks need.
pub(crate) struct Starter {
    spawner: Spawner,
    manifest: Manifest,
    launcher: Option<PathBuf>,
    /// `plugwire-mcp-adapter`, for an MCP server (`kind = "mcp"`): the
    /// suite then checks the plugin the host would run.
    mcp_adapter: Option<PathBuf>,
    support: Option<Support>,
    data_root: tempfile::TempDir,
    /// How long each start may take to print its line.
    pub(crate) bootstrap_timeout: Duration,
    /// The name the plugin's manifest gives it, which its handshake must
    /// repeat (PW-HS-3); `None` for a bare executable.
    pub(crate) manifest_name: Option<String>,
}

impl Starter {
    /// A starter for `manifest` as `options` say.
    pub(crate) fn new(manifest: &Manifest, options: &Options) -> Result<Self, String> {
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
        Ok(Self {
            spawner: Spawner::new().map_err(|e| format!("cannot start the spawner thread: {e}"))?,
            manifest: manifest.clone(),
            launcher,
            mcp_adapter: plugwire_host::launch::find_mcp_adapter(None),
            support,
            data_root: tempfile::tempdir().map_err(|e| e.to_string())?,
            bootstrap_timeout: options.bootstrap_timeout,
            manifest_name: None,
        })
    }

    /// Holds the plugin to its manifest's name (it was loaded from one).
    pub(crate) fn named_by_manifest(mut self) -> Self {
        self.manifest_name = Some(self.manifest.name.clone());
        self
    }

    /// The versions a host offers this plugin.
    pub(crate) fn versions(&self) -> Vec<u32> {
        plugwire_host::PROTOCOL_VERSIONS
            .iter()
            .copied()
            .filter(|v| self.manifest.protocol_versions.contains(v))
            .collect()
    }

    pub(crate) async fn start(
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
                    &self.manifest,
                    self.mcp_adapter.as_deref(),
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
        let listener = tokio::net::UnixListener::bind(&host_socket).map_err(|e| {
            failed(format!(
                "cannot bind the host socket {}: {e}",
                host_socket.display()
            ))
        })?;
        let (host_dials, host_listener) = count_host_dials(listener);
        let launch = Launch {
            host_socket: &host_socket,
            instance_id: "00000000-0000-4000-8000-00000000c0f0",
            protocol_versions: versions,
            sandbox: sandbox.as_ref(),
            cookie,
            bootstrap_timeout: bootstrap,
            mcp_adapter: self.mcp_adapter.as_deref(),
            ..Launch::new(&self.manifest, dir.path(), self.launcher.as_deref())
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
                    host_dials,
                    _host_listener: host_listener,
                    _dir: dir,
                    sandbox,
                })
            }
            Err(failure) => Err(Failed { failure, stderr }),
        }
    }
}

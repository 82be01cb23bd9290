//! The audit log: one JSON line per thing done to or by a plugin (grants,
//! installs, lifecycle changes, configuration changes, tool calls, command
//! runs, events emitted), appended to a file with rotation and a size cap,
//! and given to subscribers in the process. Arguments and payloads are not
//! recorded unless [`AuditConfig::arguments`] says so; configuration values
//! never are.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::broadcast;

/// The actor of what the embedding application asks for itself.
pub const APP: &str = "app";

tokio::task_local! {
    static ACTOR: Arc<str>;
}

/// Runs `work` on behalf of `actor`: what it asks of the host is recorded
/// as asked by `actor` (`token:ci`, `user`) unless a call names its own
/// ([`CallOptions::actor`](crate::CallOptions::actor)). A server in front
/// of the host wraps each request in it.
///
/// ```no_run
/// # async fn f(host: plugwire_host::Host) -> Result<(), tonic::Status> {
/// plugwire_host::audit::acting_as("token:deploy", host.reload_plugin("echo")).await?;
/// # Ok(()) }
/// ```
pub async fn acting_as<F: std::future::Future>(actor: impl Into<String>, work: F) -> F::Output {
    ACTOR.scope(Arc::from(actor.into()), work).await
}

/// Who the current task acts for: [`acting_as`]'s actor, or [`APP`].
pub(crate) fn current_actor() -> Arc<str> {
    ACTOR
        .try_with(Arc::clone)
        .unwrap_or_else(|_| Arc::from(APP))
}

/// One audit record.
///
/// ```
/// use plugwire_host::audit::AuditRecord;
/// let r = AuditRecord::new("cli:ada", "grant", Some("notes")).target("network:api.example.com:443");
/// let line = serde_json::to_string(&r).unwrap();
/// assert!(line.contains("\"action\":\"grant\""));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When, RFC 3339 in UTC.
    #[serde(with = "rfc3339")]
    pub time: SystemTime,
    /// Who asked: `app` (the embedding application), `plugin:<name>` (a
    /// plugin through the host service), `cli:<user>`, `token:<name>` (a
    /// daemon API token), `user` (the daemon's own user).
    pub actor: String,
    /// What was done: `grant`, `revoke`, `install`, `remove`, `add`,
    /// `enable`, `disable`, `reload`, `configure`, `tool.call`,
    /// `command.run`, `event.emit`.
    pub action: String,
    /// The plugin it was done to or by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    /// What exactly: the tool, command or event, the permissions, the
    /// version installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `ok`, `error`, `denied` or `refused`.
    pub outcome: String,
    /// The failure's message, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// How long it took, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    /// The arguments or payload, only when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
}

impl AuditRecord {
    /// A record of `action` by `actor` on `plugin`, now, outcome `ok`.
    pub fn new(actor: &str, action: &str, plugin: Option<&str>) -> Self {
        Self {
            time: SystemTime::now(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            plugin: plugin.map(str::to_owned),
            target: None,
            outcome: "ok".into(),
            detail: None,
            duration_ms: None,
            arguments: None,
        }
    }

    /// With what exactly was done.
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// With its outcome: `Ok` is `ok`, an error `error` with its message
    /// (`denied` for a permission refusal).
    pub fn outcome<T>(mut self, result: &Result<T, tonic::Status>) -> Self {
        if let Err(status) = result {
            self.outcome = match status.code() {
                tonic::Code::PermissionDenied => "denied",
                _ => "error",
            }
            .into();
            self.detail = Some(truncate(status.message()));
        }
        self
    }

    /// With how long it took.
    pub fn took(mut self, duration: Duration) -> Self {
        self.duration_ms = Some(duration.as_secs_f64() * 1000.0);
        self
    }
}

fn truncate(text: &str) -> String {
    const MOST: usize = 1024;
    match text.char_indices().nth(MOST) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// Where and how the audit log is kept.
///
/// ```
/// let audit = plugwire_host::audit::AuditConfig::new("/var/lib/acme/audit.jsonl");
/// assert_eq!(audit.max_bytes, 16 << 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// The log file; rotated ones are `<file>.1` (newest) to `<file>.<files>`.
    pub path: PathBuf,
    /// Rotate when the file would grow past this.
    pub max_bytes: u64,
    /// Rotated files kept.
    pub files: usize,
    /// Record tool arguments and event payloads too.
    pub arguments: bool,
}

impl AuditConfig {
    /// A log at `path`: 16 MiB per file, 4 rotated files, no arguments.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            max_bytes: 16 << 20,
            files: 4,
            arguments: false,
        }
    }
}

/// The host's audit trail: a file (when configured) and subscribers.
#[derive(Clone)]
pub struct Audit {
    inner: Arc<Inner>,
}

struct Inner {
    file: Option<(AuditConfig, std::sync::mpsc::SyncSender<Message>)>,
    subscribers: broadcast::Sender<AuditRecord>,
}

enum Message {
    Record(Box<AuditRecord>),
    /// Answered once everything sent before is written.
    Flush(std::sync::mpsc::Sender<()>),
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field("file", &self.inner.file.as_ref().map(|(c, _)| &c.path))
            .finish()
    }
}

impl Audit {
    /// An audit trail writing to `config`'s file (if any): records are
    /// written in order by a thread of their own, so a call never waits on
    /// the disk unless thousands are queued.
    pub fn new(config: Option<AuditConfig>) -> Self {
        let file = config.map(|config| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Message>(4096);
            let writer = config.clone();
            std::thread::Builder::new()
                .name("plugwire-audit".into())
                .spawn(move || {
                    for message in rx {
                        match message {
                            Message::Record(record) => {
                                if let Err(why) = append(&writer, &record) {
                                    tracing::warn!("audit log {}: {why}", writer.path.display());
                                }
                            }
                            Message::Flush(done) => {
                                let _ = done.send(());
                            }
                        }
                    }
                })
                .map(|_| (config, tx))
        });
        let file = match file {
            Some(Ok(file)) => Some(file),
            Some(Err(e)) => {
                tracing::warn!("no audit log: cannot start its writer: {e}");
                None
            }
            None => None,
        };
        Self {
            inner: Arc::new(Inner {
                file,
                subscribers: broadcast::channel(1024).0,
            }),
        }
    }

    /// Whether anything records: a file or a subscriber.
    pub fn enabled(&self) -> bool {
        self.inner.file.is_some() || self.inner.subscribers.receiver_count() > 0
    }

    /// Whether arguments and payloads are recorded.
    pub fn arguments(&self) -> bool {
        self.inner.file.as_ref().is_some_and(|(c, _)| c.arguments)
    }

    /// Records `record`.
    pub fn record(&self, record: AuditRecord) {
        // A copy only when both a subscriber and the file want one.
        let record = match &self.inner.file {
            Some((_, tx)) => {
                if self.inner.subscribers.receiver_count() > 0 {
                    let _ = self.inner.subscribers.send(record.clone());
                }
                let _ = tx.send(Message::Record(Box::new(record)));
                return;
            }
            None => record,
        };
        let _ = self.inner.subscribers.send(record);
    }

    /// Waits (up to `limit`) until every record made so far is in the
    /// file: a process that is about to exit calls this.
    pub fn flush(&self, limit: Duration) {
        if let Some((_, tx)) = &self.inner.file {
            let (done, written) = std::sync::mpsc::channel();
            if tx.send(Message::Flush(done)).is_ok() {
                let _ = written.recv_timeout(limit);
            }
        }
    }

    /// Every record from now on (a slow subscriber misses the oldest).
    pub fn subscribe(&self) -> broadcast::Receiver<AuditRecord> {
        self.inner.subscribers.subscribe()
    }
}

/// Appends one record, rotating first when the file would pass its cap.
/// Other processes (the CLI, a daemon) append to the same file: the lock
/// keeps rotation and appends apart.
pub fn append(config: &AuditConfig, record: &AuditRecord) -> Result<(), String> {
    let mut line = serde_json::to_vec(record).map_err(|e| e.to_string())?;
    line.push(b'\n');
    if let Some(dir) = config.path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&config.path)
            .map_err(|e| format!("cannot open: {e}"))
    };
    let file = open()?;
    let lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| format!("cannot lock: {e}"))?;
    let size = lock.metadata().map(|m| m.len()).unwrap_or(0);
    let mut file = if size > 0 && size + line.len() as u64 > config.max_bytes {
        rotate(&config.path, config.files);
        // The lock is on the old inode, now renamed: hold it while the new
        // file is made, so no other writer appends to the old one.
        let fresh = open()?;
        drop(lock);
        fresh
    } else {
        lock.unlock()
            .map_err(|(_, e)| format!("cannot unlock: {e}"))?
    };
    file.write_all(&line)
        .map_err(|e| format!("cannot write: {e}"))
}

fn rotate(path: &Path, files: usize) {
    let numbered = |n: usize| PathBuf::from(format!("{}.{n}", path.display()));
    if files == 0 {
        let _ = std::fs::remove_file(path);
        return;
    }
    let _ = std::fs::remove_file(numbered(files));
    for n in (1..files).rev() {
        let _ = std::fs::rename(numbered(n), numbered(n + 1));
    }
    let _ = std::fs::rename(path, numbered(1));
}

/// Which records [`read`] returns.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this plugin's.
    pub plugin: Option<String>,
    /// Only those at or after this time.
    pub since: Option<SystemTime>,
}

/// The records of the log at `config.path` and its rotated files, oldest
/// first; lines that are not records are skipped and counted.
pub fn read(config: &AuditConfig, filter: &Filter) -> Result<(Vec<AuditRecord>, usize), String> {
    let mut paths: Vec<PathBuf> = (1..=config.files)
        .rev()
        .map(|n| PathBuf::from(format!("{}.{n}", config.path.display())))
        .collect();
    paths.push(config.path.clone());
    let mut records = Vec::new();
    let mut skipped = 0;
    for path in paths {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<AuditRecord>(line) {
                Ok(r) => {
                    let plugin_ok = filter
                        .plugin
                        .as_ref()
                        .is_none_or(|p| r.plugin.as_deref() == Some(p.as_str()));
                    let time_ok = filter.since.is_none_or(|t| r.time >= t);
                    if plugin_ok && time_ok {
                        records.push(r);
                    }
                }
                Err(_) => skipped += 1,
            }
        }
    }
    Ok((records, skipped))
}

mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_rfc3339_millis(*time).to_string())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_rotate_at_the_cap_and_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let config = AuditConfig {
            max_bytes: 600,
            files: 2,
            ..AuditConfig::new(dir.path().join("audit.jsonl"))
        };
        for i in 0..20 {
            let plugin = if i % 2 == 0 { "even" } else { "odd" };
            append(
                &config,
                &AuditRecord::new("app", "tool.call", Some(plugin)).target(format!("t{i}")),
            )
            .unwrap();
        }
        for path in [config.path.clone(), dir.path().join("audit.jsonl.1")] {
            assert!(std::fs::metadata(&path).unwrap().len() <= 600, "{path:?}");
        }
        assert!(!dir.path().join("audit.jsonl.3").exists());
        let (all, skipped) = read(&config, &Filter::default()).unwrap();
        assert_eq!(skipped, 0);
        let targets: Vec<_> = all.iter().map(|r| r.target.clone().unwrap()).collect();
        assert!(
            targets.ends_with(&["t18".to_owned(), "t19".to_owned()]),
            "{targets:?}"
        );
        assert!(targets.len() < 20, "the oldest were rotated away");
        let (odd, _) = read(
            &config,
            &Filter {
                plugin: Some("odd".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(odd.iter().all(|r| r.plugin.as_deref() == Some("odd")));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&config.path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

//! What the daemon's integration tests share: the example plugins and a
//! daemon over them on a socket and a loopback port of its own.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use plugwire_daemon::tokens::{Scope, Tokens};
use plugwire_daemon::{Client, Daemon, DaemonOptions, Limits};
use plugwire_host::{Host, HostConfig};

pub fn examples() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/plugwire-examples-debug");
    assert!(
        dir.join("echo/plugin.toml").is_file(),
        "{} is missing: run `PLUGWIRE_PROFILE=debug ./scripts/build-examples.sh` first (scripts/test.sh does)",
        dir.display()
    );
    dir
}

/// The probe's secret `token` in every test daemon.
pub const SECRET: &str = "daemon-planted-secret";

/// A daemon over the examples, on a socket and a loopback port of its own.
pub struct Running {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub tcp: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub async fn start(limits: Limits) -> Self {
        Self::start_over(&examples(), limits).await
    }

    pub async fn start_over(plugins: &Path, limits: Limits) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = HostConfig::new("test", "0.0.0")
            .sandbox(plugwire_host::sandbox::SandboxLevel::None)
            .without_standard_dirs()
            .plugin_dir(plugins)
            .data_dir(dir.path().join("data"))
            .grant_all();
        config.timeouts.shutdown_grace = Duration::from_millis(500);
        // A secret for the probe, which the API must never show.
        let config_dir = dir.path().join("config");
        plugwire_host::secrets::store(&config_dir, "probe", "/token", SECRET.into()).unwrap();
        config.config_dir = Some(config_dir);
        config.audit = Some(plugwire_host::audit::AuditConfig::new(
            dir.path().join("audit.jsonl"),
        ));
        let host = Host::start(config).await.unwrap();
        host.start_all().await;
        let socket = dir.path().join("run/daemon.sock");
        let mut options = DaemonOptions::new(&socket);
        options.listen = Some("127.0.0.1:0".parse().unwrap());
        options.tokens = dir.path().join("tokens.json");
        options.limits = limits;
        let daemon = Daemon::bind(host, options).await.unwrap();
        let tcp = daemon.tcp_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(async move {
            daemon
                .run(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self {
            dir,
            socket,
            tcp,
            stop: Some(stop),
            done: Some(done),
        }
    }

    pub async fn client(&self) -> Client {
        Client::connect(&self.socket).await.unwrap()
    }

    pub fn token(&self, scope: Scope) -> String {
        let path = self.dir.path().join("tokens.json");
        let mut tokens = Tokens::load(&path).unwrap();
        let token = tokens
            .create(&format!("t{}", tokens.tokens.len()), scope)
            .unwrap();
        tokens.save(&path).unwrap();
        token
    }

    /// The audit log's records so far (written in the background: waits
    /// up to 5 s for one that `wanted` accepts).
    pub async fn audited(
        &self,
        wanted: impl Fn(&plugwire_host::audit::AuditRecord) -> bool,
    ) -> Vec<plugwire_host::audit::AuditRecord> {
        let log = plugwire_host::audit::AuditConfig::new(self.dir.path().join("audit.jsonl"));
        for _ in 0..100 {
            let (records, _) =
                plugwire_host::audit::read(&log, &Default::default()).unwrap_or_default();
            if records.iter().any(&wanted) {
                return records;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        plugwire_host::audit::read(&log, &Default::default())
            .unwrap_or_default()
            .0
    }

    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.done.take().unwrap().await.unwrap();
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

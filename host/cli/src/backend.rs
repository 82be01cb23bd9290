//! Where a command's plugins run: in a daemon already running for this
//! user (asked through its API), or in a host this process starts. Both
//! give the same views (`plugwire_daemon::api`), so a command prints the
//! same either way.

use std::time::Duration;

use hyper::Method;
use plugwire_daemon::Client;
use plugwire_daemon::api::{
    ApiError, CallRequest, CallResult, EmitView, LogView, PluginDetail, PluginList, PluginView,
    ProgressView, ToolView,
};
use plugwire_daemon::client::encode_segment;
use plugwire_host::{CallOptions, Host, Progress, RunOptions};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_stream::StreamExt;

use crate::output::Failure;

/// The plugins a command works with.
pub(crate) enum Backend {
    /// A host started by this process, stopped when the command ends.
    Local(Host),
    /// The daemon's host.
    Daemon(Box<Client>),
}

impl Backend {
    /// Every plugin; in-process, started first when `start` says so.
    pub(crate) async fn plugins(&self, start: bool) -> Result<PluginList, Failure> {
        match self {
            Self::Local(host) => {
                if start {
                    let spinner = crate::output::starting(host.status().len());
                    host.start_all().await;
                    if let Some(spinner) = spinner {
                        spinner.finish_and_clear();
                    }
                }
                Ok(plugwire_daemon::views::plugin_list(host))
            }
            Self::Daemon(client) => Ok(client.get("/v1/plugins").await?),
        }
    }

    /// One plugin in full.
    pub(crate) async fn detail(&self, name: &str) -> Result<PluginDetail, Failure> {
        match self {
            Self::Local(host) => Ok(plugwire_daemon::views::detail(host, name).await?),
            Self::Daemon(client) => Ok(client
                .get(&format!("/v1/plugins/{}", encode_segment(name)))
                .await?),
        }
    }

    /// Every tool.
    pub(crate) async fn tools(&self) -> Result<Vec<ToolView>, Failure> {
        match self {
            Self::Local(host) => Ok(host.tools().await.iter().map(ToolView::from).collect()),
            Self::Daemon(client) => Ok(client.get("/v1/tools").await?),
        }
    }

    /// Calls a tool; progress reports go to `progress` as they arrive; a
    /// cancelled call stops in the plugin too.
    pub(crate) async fn call(
        &self,
        tool: &str,
        arguments: Value,
        timeout: Option<Duration>,
        progress: Option<tokio::sync::mpsc::Sender<ProgressView>>,
        cancel: tokio_util::sync::CancellationToken,
    ) -> Result<CallResult, Failure> {
        match self {
            Self::Local(host) => {
                let mut options = CallOptions::default()
                    .cancel(cancel)
                    .actor(crate::commands::audit::actor());
                if let Some(t) = timeout {
                    options = options.timeout(t);
                }
                let forward = progress.map(|out| {
                    let (tx, mut rx) = tokio::sync::mpsc::channel::<Progress>(64);
                    options = options.clone().progress(tx);
                    tokio::spawn(async move {
                        while let Some(p) = rx.recv().await {
                            let view = ProgressView {
                                progress: p.progress,
                                total: p.total,
                                message: p.message,
                            };
                            let _ = out.send(view).await;
                        }
                    })
                });
                let output = host
                    .call_tool(tool, arguments, options)
                    .await
                    .map_err(|s| ApiError::from_status(&s))?;
                if let Some(forward) = forward {
                    let _ = forward.await;
                }
                Ok(CallResult {
                    is_error: output.is_error,
                    content: output.content,
                })
            }
            Self::Daemon(client) => {
                let request = CallRequest {
                    arguments,
                    timeout_ms: timeout.map(|t| t.as_millis() as u64),
                };
                let path = format!("/v1/tools/{}/call", encode_segment(tool));
                let body = serde_json::to_value(&request).unwrap_or_default();
                let Some(progress) = progress else {
                    return tokio::select! {
                        r = client.send(Method::POST, &path, Some(&body)) => Ok(r?),
                        () = cancel.cancelled() => Err(cancelled()),
                    };
                };
                let mut events = Box::pin(client.events(Method::POST, &path, Some(&body)).await?);
                loop {
                    let event = tokio::select! {
                        e = events.next() => e,
                        // Dropping the stream closes the request: the
                        // daemon cancels the call.
                        () = cancel.cancelled() => return Err(cancelled()),
                    };
                    let Some(event) = event else {
                        return Err(ApiError::new(
                            "unavailable",
                            "the daemon ended the call without a result",
                        )
                        .into());
                    };
                    let event = event?;
                    match event.event.as_str() {
                        "progress" => {
                            if let Ok(p) = serde_json::from_str(&event.data) {
                                let _ = progress.send(p).await;
                            }
                        }
                        "result" => return Ok(decode(&event.data)?),
                        "error" => return Err(decode::<ApiError>(&event.data)?.into()),
                        _ => {}
                    }
                }
            }
        }
    }

    /// Runs a command with streamed stdio; its exit code.
    pub(crate) async fn run<I, O, E>(
        &self,
        line: &[String],
        env: Vec<(String, String)>,
        signals: tokio::sync::mpsc::Receiver<plugwire_host::CommandSignal>,
        io: (I, O, E),
    ) -> Result<i32, Failure>
    where
        I: AsyncRead + Unpin + Send + Sync + 'static,
        O: AsyncWrite + Unpin + Send,
        E: AsyncWrite + Unpin + Send,
    {
        let (stdin, stdout, stderr) = io;
        match self {
            Self::Local(host) => {
                let mut options = RunOptions::default();
                options.env.extend(env);
                options.signals = Some(signals);
                Ok(host
                    .run_command(line, stdin, stdout, stderr, options)
                    .await
                    .map_err(|s| ApiError::from_status(&s))?)
            }
            Self::Daemon(client) => {
                // An interrupt ends the request, which stops the command.
                let mut signals = signals;
                tokio::select! {
                    code = client.run(line, &env, stdin, stdout, stderr) => Ok(code?),
                    Some(_) = signals.recv() => Ok(130),
                }
            }
        }
    }

    /// Emits an event.
    pub(crate) async fn emit(&self, event: &str, payload: Value) -> Result<EmitView, Failure> {
        match self {
            Self::Local(host) => {
                let outcome = host
                    .emit(event, payload)
                    .await
                    .map_err(|s| ApiError::from_status(&s))?;
                Ok(EmitView::from(&outcome))
            }
            Self::Daemon(client) => Ok(client
                .send(
                    Method::POST,
                    &format!("/v1/events/{}", encode_segment(event)),
                    Some(&payload),
                )
                .await?),
        }
    }

    /// Every plugin's hook subscriptions.
    pub(crate) async fn hooks(&self) -> Result<Vec<plugwire_daemon::api::PluginHook>, Failure> {
        match self {
            Self::Local(host) => Ok(host
                .hooks()
                .await
                .iter()
                .map(plugwire_daemon::api::PluginHook::from)
                .collect()),
            Self::Daemon(client) => Ok(client.get("/v1/hooks").await?),
        }
    }

    /// Log records after `after` (all: 0).
    pub(crate) async fn logs(
        &self,
        plugin: Option<&str>,
        after: u64,
    ) -> Result<Vec<LogView>, Failure> {
        match self {
            Self::Local(host) => Ok(host
                .logs(plugin)
                .iter()
                .filter(|r| r.seq > after)
                .map(LogView::from)
                .collect()),
            Self::Daemon(client) => {
                let mut query = form_urlencoded::Serializer::new(String::new());
                query.append_pair("after", &after.to_string());
                if let Some(p) = plugin {
                    query.append_pair("plugin", p);
                }
                Ok(client.get(&format!("/v1/logs?{}", query.finish())).await?)
            }
        }
    }

    /// Starts every plugin (in-process; the daemon's already run).
    pub(crate) async fn start_all(&self) {
        if let Self::Local(host) = self {
            let spinner = crate::output::starting(host.status().len());
            host.start_all().await;
            if let Some(spinner) = spinner {
                spinner.finish_and_clear();
            }
        }
    }

    /// Reloads a plugin from its directory.
    pub(crate) async fn reload(&self, name: &str) -> Result<PluginView, Failure> {
        match self {
            Self::Local(host) => Ok(PluginView::from(
                &host
                    .reload_plugin(name)
                    .await
                    .map_err(|s| ApiError::from_status(&s))?,
            )),
            Self::Daemon(client) => Ok(client
                .send(
                    Method::POST,
                    &format!("/v1/plugins/{}/reload", encode_segment(name)),
                    None,
                )
                .await?),
        }
    }

    /// A plugin's effective configuration, after setting `set` when given.
    pub(crate) async fn config(&self, name: &str, set: Option<Value>) -> Result<Value, Failure> {
        match self {
            Self::Local(host) => {
                if let Some(config) = set {
                    host.configure_plugin(name, config)
                        .await
                        .map_err(|s| ApiError::from_status(&s))?;
                }
                Ok(host
                    .plugin_config(name)
                    .map_err(|s| ApiError::from_status(&s))?)
            }
            Self::Daemon(client) => {
                let path = format!("/v1/plugins/{}/config", encode_segment(name));
                Ok(match set {
                    Some(config) => client.send(Method::PUT, &path, Some(&config)).await?,
                    None => client.get(&path).await?,
                })
            }
        }
    }

    /// Tells a running daemon that plugins changed on disk; nothing for a
    /// host of this process, which reads the disk when it starts.
    pub(crate) async fn changed(&self, change: Change<'_>) -> Result<(), Failure> {
        let Self::Daemon(client) = self else {
            return Ok(());
        };
        let _: Value = match change {
            Change::Installed(dir) => {
                client
                    .send(Method::POST, "/v1/plugins", Some(&json!({"dir": dir})))
                    .await?
            }
            Change::Removed(name) => {
                client
                    .send(
                        Method::DELETE,
                        &format!("/v1/plugins/{}", encode_segment(name)),
                        None,
                    )
                    .await?
            }
            Change::Enabled(name, enabled) => {
                let verb = if enabled { "enable" } else { "disable" };
                client
                    .send(
                        Method::POST,
                        &format!("/v1/plugins/{}/{verb}", encode_segment(name)),
                        None,
                    )
                    .await?
            }
        };
        Ok(())
    }

    /// Stops the plugins this process started.
    pub(crate) async fn close(self) {
        if let Self::Local(host) = self {
            host.shutdown().await;
        }
    }
}

/// A change on disk a running daemon should follow.
pub(crate) enum Change<'a> {
    /// A plugin was installed (or updated) in this directory.
    Installed(&'a std::path::Path),
    /// A plugin was removed.
    Removed(&'a str),
    /// A plugin was enabled (true) or disabled.
    Enabled(&'a str, bool),
}

fn cancelled() -> Failure {
    ApiError::new("cancelled", "the call was cancelled").into()
}

fn decode<T: serde::de::DeserializeOwned>(data: &str) -> Result<T, ApiError> {
    serde_json::from_str(data).map_err(|e| {
        ApiError::new(
            "internal",
            format!("the daemon sent an event this client cannot read: {e}"),
        )
    })
}

/// What changed between two readings of the registry of installed
/// plugins, as changes a daemon follows.
pub(crate) fn changes<'a>(
    before: &'a plugwire_host::packages::Registry,
    after: &'a plugwire_host::packages::Registry,
) -> Vec<Change<'a>> {
    let mut changes = Vec::new();
    for name in before.plugins.keys() {
        if !after.plugins.contains_key(name) {
            changes.push(Change::Removed(name));
        }
    }
    for (name, new) in &after.plugins {
        match before.plugins.get(name) {
            Some(old) if old.digest == new.digest && old.dir == new.dir => {
                if old.enabled != new.enabled {
                    changes.push(Change::Enabled(name, new.enabled));
                }
            }
            _ => {
                changes.push(Change::Installed(&new.dir));
                if !new.enabled {
                    changes.push(Change::Enabled(name, false));
                }
            }
        }
    }
    changes
}

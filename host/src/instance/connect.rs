//! Connecting one plugin process: spawn → bootstrap line → health →
//! handshake → configure → listing (PW-BOOT, PW-HS, PW-CFG), each step
//! under its own deadline, the whole under one more. A failed start kills
//! the process and says what it last wrote.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use plugwire_proto::constants::{HEALTH_SERVICE_NAME, MAX_MESSAGE_SIZE, features};
use plugwire_proto::pb;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tonic::Status;
use tonic::transport::Channel;
use tracing::Instrument;

use super::listing::{ToolEntry, check_commands, check_handshake, tool_entries};
use crate::context::Context;
use crate::host_service::PluginHostService;
use crate::launch::{ExitWatch, Launch, Started};
use crate::logs::{LogSink, Stream, pump};
use crate::manifest::Manifest;
use crate::peer::PeerCheck;
use crate::process::{runtime_dir, signal_group};
use crate::storage::Storage;

/// A running plugin process and its gRPC channel.
pub(crate) struct Connection {
    pub(crate) generation: u64,
    pub(crate) channel: Channel,
    pub(crate) handshake: pb::HandshakeResponse,
    pub(crate) tools: Vec<ToolEntry>,
    pub(crate) tools_by_name: HashMap<String, usize>,
    pub(crate) commands: Vec<pb::Command>,
    pub(crate) progress: bool,
    pub(crate) pid: u32,
    pub(crate) started: Instant,
    pub(crate) started_at: SystemTime,
    pub(crate) startup: Duration,
    exit: ExitWatch,
    pub(crate) observer: mpsc::Sender<(String, pb::Event)>,
    tasks: Vec<JoinHandle<()>>,
    pub(crate) sandbox: Option<crate::sandbox::Prepared>,
    /// Without a sandbox, the cgroup that holds every process of the plugin.
    containment: Option<Arc<crate::sandbox::cgroup::Cgroup>>,
    /// The process is the launcher's reaper (no sandbox, no cgroup).
    pub(crate) reaper: bool,
    _runtime_dir: tempfile::TempDir,
}

impl Connection {
    /// Resolves with how the process ended, once it has.
    pub(crate) async fn exited(&self) -> String {
        self.exit.wait().await
    }

    pub(crate) fn has_exited(&self) -> bool {
        self.exit.status().is_some()
    }

    /// The cgroup holding all the plugin's processes, if it has one.
    pub(crate) fn cgroup(&self) -> Option<Arc<crate::sandbox::cgroup::Cgroup>> {
        self.sandbox
            .as_ref()
            .and_then(|p| p.cgroup.clone())
            .or_else(|| self.containment.clone())
    }

    pub(crate) fn hooks(&self) -> &[pb::HookSubscription] {
        self.handshake
            .capabilities
            .as_ref()
            .map_or(&[], |c| c.hooks.as_slice())
    }

    pub(crate) fn providers(&self) -> &[pb::ProviderDeclaration] {
        self.handshake
            .capabilities
            .as_ref()
            .map_or(&[], |c| c.providers.as_slice())
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Everything one start of a plugin needs.
pub(crate) struct Plan<'a> {
    pub(crate) manifest: &'a Manifest,
    pub(crate) ctx: &'a Arc<Context>,
    pub(crate) logs: &'a Arc<LogSink>,
    pub(crate) storage: &'a Arc<Storage>,
    /// The checked configuration `Configure` sends (PW-CFG-3).
    pub(crate) config: &'a Value,
    pub(crate) generation: u64,
    pub(crate) call_timeout: Duration,
}

/// Spawn → bootstrap → health → handshake → configure → list.
pub(crate) async fn connect(plan: &Plan<'_>) -> Result<Connection, String> {
    let ctx = plan.ctx;
    let config = &ctx.config;
    let timeouts = &config.timeouts;
    let started = Instant::now();
    let manifest = plan.manifest;
    let span = tracing::info_span!("plugin", name = %manifest.name);
    plan.logs.clear_tail();
    let scrubber = match &manifest.config_schema {
        Some(schema) => crate::secrets::Scrubber::new(schema, plan.config),
        None => crate::secrets::Scrubber::default(),
    };
    plan.logs.set_scrubber(scrubber.clone());
    let grants = ctx.grants();
    let missing = grants.missing(manifest);
    if !missing.is_empty() {
        let mut why = crate::grants::refusal(&manifest.name, &missing);
        if let Some(mismatch) = grants.mismatch(manifest) {
            why.push_str(&format!("\n({mismatch})"));
        }
        if let (true, Some(most)) = (grants.all, grants.max_risk) {
            why.push_str(&format!(
                "\n(unattended grants stop at {most} risk (--max-risk); grant the rest by name)"
            ));
        }
        return Err(why);
    }
    // An installed plugin whose files changed since install never runs.
    crate::packages::launch_check(&config.data_dir, &manifest.dir)?;
    let level = config.sandbox.level_for(&manifest.name);

    let dir = runtime_dir().map_err(|e| e.to_string())?;
    let host_socket = dir.path().join("host.sock");
    let pgid = Arc::new(AtomicU32::new(0));
    let peer_uid = Arc::new(AtomicU32::new(nix::unistd::geteuid().as_raw()));
    let mut tasks = Vec::new();
    let listener = tokio::net::UnixListener::bind(&host_socket).map_err(|e| {
        format!(
            "cannot bind the host service socket {}: {e}",
            host_socket.display()
        )
    })?;
    let instance_id = uuid::Uuid::new_v4().to_string();
    let peer = PeerCheck {
        plugin: manifest.name.clone(),
        pgid: pgid.clone(),
        uid: peer_uid.clone(),
    };
    let service = PluginHostService {
        plugin: manifest.name.clone(),
        permissions: manifest.permissions.clone(),
        storage: plan.storage.clone(),
        ctx: ctx.clone(),
        peer: peer.clone(),
    };
    let caller = crate::app_services::PluginCaller {
        plugin: manifest.name.clone(),
        version: manifest.version.to_string(),
        instance_id: instance_id.clone(),
    };
    let routes = config.app_services.route(
        tonic::service::Routes::new(
            pb::host_service_server::HostServiceServer::new(service)
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
        ),
        &caller,
        &manifest.permissions.host,
        &peer,
    );
    let host_services = config.app_services.allowed(&manifest.permissions.host);
    let plugin_name = manifest.name.clone();
    tasks.push(tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_routes(routes.prepare())
            .serve_with_incoming(crate::connection_limit::accept_limited(
                listener,
                crate::connection_limit::MAX_HOST_CONNECTIONS,
                plugin_name,
            ))
            .await;
    }));

    // Unsandboxed plugins still get a cgroup where the host can make
    // one: a plugin that leaves its process group (setsid) is killed
    // with it all the same.
    let containment = if level == crate::sandbox::SandboxLevel::None && ctx.launcher.is_some() {
        match &ctx.support().cgroups {
            Ok(layout) if !layout.controllers().is_empty() => {
                let name = format!("{}-{}", manifest.name, uuid::Uuid::new_v4().simple());
                crate::sandbox::cgroup::Cgroup::create(layout, &name, Default::default())
                    .map(Arc::new)
                    .inspect_err(
                        |e| tracing::debug!(plugin = %manifest.name, "no containment cgroup: {e}"),
                    )
                    .ok()
            }
            _ => None,
        }
    } else {
        None
    };
    let reap = level == crate::sandbox::SandboxLevel::None
        && containment.is_none()
        && ctx.launcher.is_some();
    let sandbox = if level == crate::sandbox::SandboxLevel::None {
        None
    } else {
        if ctx.launcher.is_none() {
            return Err(format!(
                "sandbox level {level} needs {}, which was not found next to this executable or on PATH; install it beside the host, or choose --sandbox none",
                crate::LAUNCHER_NAME
            ));
        }
        let support = ctx.support();
        ctx.warn_once_about(level);
        let prepared = crate::launch::prepare_sandbox(
            manifest,
            ctx.mcp_adapter(),
            level,
            config.sandbox.best_effort,
            dir.path(),
            &config.data_dir,
            support,
        )?;
        peer_uid.store(prepared.host_uid, Ordering::Release);
        Some(prepared)
    };
    let versions: Vec<u32> = plugwire_proto::constants::SUPPORTED_APP_VERSIONS
        .iter()
        .copied()
        .filter(|v| manifest.protocol_versions.contains(v))
        .collect();
    let launch = Launch {
        host_socket: &host_socket,
        instance_id: &instance_id,
        protocol_versions: &versions,
        pass_env: &config.pass_env,
        sandbox: sandbox.as_ref(),
        containment: containment.as_ref(),
        reap,
        bootstrap_timeout: timeouts.bootstrap,
        mcp_adapter: ctx.mcp_adapter(),
        ..Launch::new(manifest, dir.path(), ctx.launcher.as_deref())
    };
    let logs = plan.logs.clone();
    let stderr_span = span.clone();
    let spawned = ctx
        .spawner
        .start(&launch, |stderr| {
            tasks.push(tokio::spawn(
                pump(stderr, Stream::Stderr, logs).instrument(stderr_span),
            ));
        })
        .await;
    let Started {
        pid,
        line,
        stdout,
        exit,
    } = match spawned {
        Ok(started) => started,
        Err(failure) => {
            return Err(match (failure.pid, failure.exit) {
                (Some(pid), Some(exit)) => {
                    abort_start(plan.logs, failure.message, pid, &exit).await
                }
                _ => failure.message,
            });
        }
    };
    pgid.store(pid, Ordering::Release);
    if let Some((host_end, _)) = sandbox.as_ref().and_then(|s| s.egress.as_ref()) {
        let granted = manifest
            .permissions
            .network_hosts
            .iter()
            .filter_map(|h| crate::egress::Destination::parse(h).ok())
            .collect();
        match crate::egress::receive(host_end) {
            Ok(listener) => tasks.push(tokio::spawn(
                crate::egress::serve(listener, manifest.name.clone(), granted)
                    .instrument(span.clone()),
            )),
            Err(why) => {
                let why = format!("network by host: {why}");
                return Err(abort_start(plan.logs, why, pid, &exit).await);
            }
        }
    }
    tasks.push(tokio::spawn(
        pump(stdout, Stream::Stdout, plan.logs.clone()).instrument(span.clone()),
    ));

    let limit = timeouts.handshake;
    let mut stdio_drain = None;
    let handshake_steps = async {
        let owner = peer_uid.load(Ordering::Acquire);
        let channel = crate::plugin_socket::connect(
            std::path::Path::new(&line.socket_path),
            dir.path(),
            owner,
            limit,
        )
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", line.socket_path))?;
        // Before anything else: a go-plugin plugin's writes block until
        // this stream drains them (PW-GP-5).
        stdio_drain = Some(tokio::spawn(
            super::go_plugin::drain_stdio(channel.clone(), plan.logs.clone())
                .instrument(span.clone()),
        ));
        let mut health_client = tonic_health::pb::health_client::HealthClient::new(channel.clone());
        let health = within(
            limit,
            "the health check",
            health_client.check(deadlined(
                limit,
                tonic_health::pb::HealthCheckRequest {
                    service: HEALTH_SERVICE_NAME.to_owned(),
                },
            )),
        )
        .await?
        .into_inner();
        if health.status != tonic_health::pb::health_check_response::ServingStatus::Serving as i32 {
            return Err(format!(
                "health check: the plugin is not SERVING (status {})",
                health.status
            ));
        }
        let mut plugin = pb::plugin_service_client::PluginServiceClient::new(channel.clone());
        let handshake = within(
            limit,
            "the handshake",
            plugin.handshake(deadlined(
                limit,
                pb::HandshakeRequest {
                    host: Some(pb::HostInfo {
                        name: "plugwire-host".into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        app_name: config.app_name.clone(),
                        app_version: config.app_version.clone(),
                    }),
                    protocol_version: line.app_version,
                    features: vec![
                        features::HOST_SERVICE.to_owned(),
                        features::TOOL_PROGRESS.to_owned(),
                    ],
                    instance_id: instance_id.clone(),
                    plugin_name: manifest.name.clone(),
                    default_call_timeout: prost_types::Duration::try_from(plan.call_timeout).ok(),
                    host_services: host_services.clone(),
                },
            )),
        )
        .await?
        .into_inner();
        check_handshake(manifest, &handshake)?;
        // Configure and the two lists go out together (PW-CFG-4: a plugin
        // answers List* before it is configured): one round trip where
        // three in sequence took 0.2-0.3 ms each. A refused configuration
        // is reported before any problem with the lists.
        let caps = handshake.capabilities.clone().unwrap_or_default();
        let configure = within(
            limit,
            "Configure",
            plugin.configure(deadlined(
                limit,
                pb::ConfigureRequest {
                    config_json: plan.config.to_string(),
                },
            )),
        );
        let list_tools = async {
            if caps.tools.is_empty() {
                return Ok(Vec::new());
            }
            let mut client = pb::tool_service_client::ToolServiceClient::new(channel.clone())
                .max_decoding_message_size(plugwire_proto::constants::MAX_TOOL_LIST_BYTES);
            let listed = within(
                limit,
                "ListTools",
                client.list_tools(deadlined(limit, pb::ListToolsRequest {})),
            )
            .await?
            .into_inner()
            .tools;
            tool_entries(&caps.tools, listed)
        };
        let list_commands = async {
            if caps.commands.is_empty() {
                return Ok::<_, String>(Vec::new());
            }
            let mut client = pb::command_service_client::CommandServiceClient::new(channel.clone());
            let listed = within(
                limit,
                "ListCommands",
                client.list_commands(deadlined(limit, pb::ListCommandsRequest {})),
            )
            .await?
            .into_inner()
            .commands;
            check_commands(&caps.commands, &listed)?;
            Ok(listed)
        };
        let (configured, tools, commands) = tokio::join!(configure, list_tools, list_commands);
        configured?;
        let (tools, commands) = (tools?, commands?);
        Ok::<_, String>((channel, handshake, tools, commands))
    };
    // Each step has its own deadline through the channel; the whole
    // sequence is bounded too, and a process that dies mid-way is
    // reported as such.
    let total = timeouts.handshake * 4;
    let outcome = tokio::select! {
        r = tokio::time::timeout(total, handshake_steps) => r.unwrap_or_else(|_| Err(format!("the handshake did not complete within {total:?}"))),
        status = exit.wait() => Err(format!("the plugin exited ({status}) during the handshake")),
    };
    // A plugin refusing its configuration may quote it.
    let outcome = outcome.map_err(|why| scrubber.text(&why).into_owned());
    let (channel, handshake, tools, commands) = match outcome {
        Ok(parts) => parts,
        Err(why) => {
            let why = abort_start(plan.logs, why, pid, &exit).await;
            if let Some(drain) = stdio_drain {
                drain.abort();
            }
            return Err(why);
        }
    };
    tasks.extend(stdio_drain);

    let progress = handshake
        .features
        .iter()
        .any(|f| f == features::TOOL_PROGRESS);
    let (observer, queue) = mpsc::channel(config.observer_queue.max(1));
    tasks.push(tokio::spawn(
        deliver_observed(channel.clone(), queue, config.timeouts.hook).instrument(span),
    ));
    let tools_by_name = tools
        .iter()
        .enumerate()
        .map(|(i, t)| (t.decl.name.clone(), i))
        .collect();
    Ok(Connection {
        generation: plan.generation,
        channel,
        handshake,
        tools,
        tools_by_name,
        commands,
        progress,
        pid,
        started: Instant::now(),
        started_at: SystemTime::now(),
        startup: started.elapsed(),
        exit,
        observer,
        tasks,
        sandbox,
        containment,
        reaper: reap,
        _runtime_dir: dir,
    })
}

/// Ends a failed start: the process gets a moment to exit by itself
/// (so its status and last words are known), then its whole group is
/// killed; the message gains the exit status and the stderr tail
/// (PW-BOOT-9).
async fn abort_start(logs: &LogSink, why: String, pid: u32, exit: &ExitWatch) -> String {
    let mut status = tokio::time::timeout(Duration::from_millis(300), exit.wait())
        .await
        .ok();
    signal_group(pid, nix::sys::signal::Signal::SIGKILL);
    if status.is_none() {
        status = tokio::time::timeout(Duration::from_millis(500), exit.wait())
            .await
            .ok()
            .map(|s| format!("{s} (the host killed it; it did not exit by itself)"));
    }
    // Let the stderr pump catch up with what was written before the end.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut message = why;
    match status {
        Some(status) if !message.contains(&status) => {
            message.push_str(&format!("\n  process: {status}"))
        }
        None => message.push_str("\n  process: still running; killed"),
        _ => {}
    }
    let tail = logs.stderr_tail();
    if tail.is_empty() {
        message.push_str("\n  stderr: (empty)");
    } else {
        let start = tail.len().saturating_sub(2048);
        let start = (start..tail.len())
            .find(|i| tail.is_char_boundary(*i))
            .unwrap_or(tail.len());
        message.push_str(&format!(
            "\n  stderr (last {} bytes):\n    {}",
            tail.len() - start,
            plugwire_proto::text::escape_controls(&tail[start..]).replace('\n', "\n    ")
        ));
    }
    message
}

/// A request that carries `limit` as its gRPC deadline (PW-DL-1: every
/// call the host makes has one, so the plugin can stop on it too).
fn deadlined<T>(limit: Duration, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(limit);
    request
}

/// Runs one protocol step under its own deadline.
async fn within<T>(
    limit: Duration,
    what: &str,
    step: impl std::future::Future<Output = Result<T, Status>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, step).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(status)) => Err(format!(
            "{what} failed: {:?}: {}",
            status.code(),
            status.message()
        )),
        Err(_) => Err(format!("{what} did not answer within {limit:?}")),
    }
}

/// Delivers observed events one at a time (PW-HOOK-7).
async fn deliver_observed(
    channel: Channel,
    mut queue: mpsc::Receiver<(String, pb::Event)>,
    timeout: Duration,
) {
    let mut hooks = pb::hook_service_client::HookServiceClient::new(channel);
    while let Some((pattern, event)) = queue.recv().await {
        let mut request = tonic::Request::new(pb::HandleEventRequest {
            pattern,
            mode: pb::HookMode::Observe as i32,
            event: Some(event),
        });
        request.set_timeout(timeout);
        if let Err(status) = tokio::time::timeout(timeout, hooks.handle_event(request))
            .await
            .unwrap_or_else(|_| Err(Status::deadline_exceeded("observer deadline")))
        {
            tracing::debug!(code = ?status.code(), "observer failed: {}", status.message());
        }
    }
}

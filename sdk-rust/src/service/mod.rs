//! The gRPC services the SDK serves on a plugin's behalf, and the runtime
//! state they share.

mod command;
mod go_plugin;
mod hook;
mod lazy;
mod plugin;
mod tool;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use plugwire_proto::constants::{HEALTH_SERVICE_NAME, MAX_MESSAGE_SIZE};
use plugwire_proto::go_plugin as gp;
use plugwire_proto::names::command_full_name;
use plugwire_proto::pb;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tonic::Status;
use tonic::service::Routes;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::command::Command;
use crate::handle::{PluginHandle, PluginState};
use crate::hook::Hook;
use crate::plugin::Plugin;
use crate::tool::Tool;

/// Grace for in-flight calls when a stop names none (PW-SHUT-1).
pub(crate) const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// Everything the services of one running plugin share.
pub(crate) struct Runtime {
    pub(crate) handle: PluginHandle,
    pub(crate) info: pb::PluginInfo,
    pub(crate) features: Vec<String>,
    pub(crate) capabilities: pb::Capabilities,
    pub(crate) tools: Vec<Tool>,
    pub(crate) tools_by_name: HashMap<String, usize>,
    pub(crate) commands: HashMap<String, Command>,
    pub(crate) hooks: Vec<Hook>,
    pub(crate) config: Option<crate::plugin::ConfigFnRef>,
    pub(crate) protocol_version: u32,
    pub(crate) host_socket: Option<PathBuf>,
    pub(crate) lifecycle: Lifecycle,
}

impl Runtime {
    /// Admits one call: the plugin is configured (PW-CFG-4) and not
    /// shutting down.
    pub(crate) fn begin_call(&self) -> Result<CallGuard, Status> {
        if self.handle.state.config_json.get().is_none() {
            return Err(Status::failed_precondition(
                "the plugin is not configured yet: the host calls Configure after Handshake, before any call (PW-CFG-4)",
            ));
        }
        self.lifecycle.begin_call()
    }

    pub(crate) fn new(
        mut plugin: Plugin,
        protocol_version: u32,
        host_socket: Option<PathBuf>,
        health: HealthReporter,
    ) -> (Arc<Self>, Routes) {
        let routes = plugin.take_routes();
        let capabilities = plugin.capabilities();
        let mut features = vec![plugwire_proto::constants::features::TOOL_PROGRESS.to_owned()];
        features.extend(plugin.features.iter().cloned());
        features.dedup();
        let tools_by_name = plugin
            .tools
            .iter()
            .enumerate()
            .map(|(i, t)| (t.decl.name.clone(), i))
            .collect();
        let mut commands = HashMap::new();
        for command in plugin.commands {
            commands.insert(command_full_name(&command.decl), command);
        }
        let runtime = Self {
            handle: PluginHandle {
                state: Arc::new(PluginState::new()),
            },
            info: plugin.info,
            features,
            capabilities,
            tools: plugin.tools,
            tools_by_name,
            commands,
            hooks: plugin.hooks,
            config: plugin.config,
            protocol_version,
            host_socket,
            lifecycle: Lifecycle::new(health),
        };
        (Arc::new(runtime), routes)
    }

    pub(crate) fn tool(&self, name: &str) -> Result<&Tool, Status> {
        self.tools_by_name
            .get(name)
            .map(|i| &self.tools[*i])
            .ok_or_else(|| {
                let known: Vec<&str> = self.tools.iter().map(|t| t.decl.name.as_str()).collect();
                Status::not_found(format!(
                    "unknown tool {name:?}: plugin {:?} has {}",
                    self.info.name,
                    if known.is_empty() {
                        "no tools".to_owned()
                    } else {
                        known.join(", ")
                    }
                ))
            })
    }

    /// Routes for every plugwire service of this runtime, plus health.
    pub(crate) fn routes(
        self: &Arc<Self>,
        health: tonic_health::pb::health_server::HealthServer<
            impl tonic_health::pb::health_server::Health,
        >,
        descriptors: &[&'static [u8]],
        providers: Routes,
    ) -> Routes {
        // PW-BOOT-13 holds for every service, health included (tonic
        // bounds each service by itself, at 4 MiB unless told).
        let health = health
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
        let mut routes = providers.add_service(health).add_service(
            pb::plugin_service_server::PluginServiceServer::from_arc(Arc::new(plugin::PluginSvc(
                self.clone(),
            )))
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE),
        );
        if !self.tools.is_empty() {
            routes = routes.add_service(
                pb::tool_service_server::ToolServiceServer::from_arc(Arc::new(tool::ToolSvc(
                    self.clone(),
                )))
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
            );
        }
        if !self.commands.is_empty() {
            routes = routes.add_service(
                pb::command_service_server::CommandServiceServer::from_arc(Arc::new(
                    command::CommandSvc(self.clone()),
                ))
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
            );
        }
        if !self.hooks.is_empty() {
            routes = routes.add_service(
                pb::hook_service_server::HookServiceServer::from_arc(Arc::new(hook::HookSvc(
                    self.clone(),
                )))
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
            );
        }
        // Reflection lists plugwire's services and any provider descriptors
        // the plugin registered (PW-PROV-2); both v1 and v1alpha for older
        // clients. Built on first use: it is most of a start's work.
        let descriptors = descriptors.to_vec();
        let reflection = move || {
            let mut builder = tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
            for descriptor in descriptors.iter().copied() {
                builder = builder.register_encoded_file_descriptor_set(descriptor);
            }
            builder
        };
        let v1 = reflection.clone();
        routes = routes
            .add_service(gp::grpc_controller_server::GrpcControllerServer::new(
                go_plugin::ControllerSvc(self.clone()),
            ))
            .add_service(gp::grpc_stdio_server::GrpcStdioServer::new(
                go_plugin::StdioSvc(self.clone()),
            ))
            .add_service(gp::grpc_broker_server::GrpcBrokerServer::new(
                go_plugin::BrokerSvc(self.clone()),
            ));
        routes = routes.add_service(lazy::Lazy::new(move || v1().build_v1().ok()));
        routes = routes.add_service(lazy::Lazy::new(move || reflection().build_v1alpha().ok()));
        routes
    }
}

/// Tracks in-flight calls and drives the shutdown sequence (PW-SHUT-1).
pub(crate) struct Lifecycle {
    /// Cancelled when the drain period ends; every call's token is a child.
    root: CancellationToken,
    /// Cancelled when the server should stop accepting and exit.
    stop: CancellationToken,
    shutting_down: AtomicBool,
    in_flight: Arc<InFlight>,
    health: HealthReporter,
}

struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

/// Held for the duration of one call.
pub(crate) struct CallGuard {
    pub(crate) token: CancellationToken,
    in_flight: Arc<InFlight>,
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if self.in_flight.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.in_flight.idle.notify_waiters();
        }
    }
}

impl Lifecycle {
    fn new(health: HealthReporter) -> Self {
        Self {
            root: CancellationToken::new(),
            stop: CancellationToken::new(),
            shutting_down: AtomicBool::new(false),
            in_flight: Arc::new(InFlight {
                count: AtomicUsize::new(0),
                idle: Notify::new(),
            }),
            health,
        }
    }

    /// Registers a call, or refuses it once shutdown has begun.
    pub(crate) fn begin_call(&self) -> Result<CallGuard, Status> {
        self.in_flight.count.fetch_add(1, Ordering::AcqRel);
        let guard = CallGuard {
            token: self.root.child_token(),
            in_flight: self.in_flight.clone(),
        };
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(Status::unavailable("the plugin is shutting down"));
        }
        Ok(guard)
    }

    /// Stops taking calls, lets in-flight ones finish for up to `grace`,
    /// cancels the rest. Idempotent; returns once draining is over.
    pub(crate) async fn drain(&self, grace: Duration) {
        if !self.shutting_down.swap(true, Ordering::AcqRel) {
            self.health
                .set_service_status(HEALTH_SERVICE_NAME, ServingStatus::NotServing)
                .await;
            self.health
                .set_service_status("", ServingStatus::NotServing)
                .await;
        }
        let idle = async {
            loop {
                let notified = self.in_flight.idle.notified();
                if self.in_flight.count.load(Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        };
        if tokio::time::timeout(grace, idle).await.is_err() {
            tracing::warn!(
                in_flight = self.in_flight.count.load(Ordering::Acquire),
                "shutdown grace period over; cancelling the calls still running"
            );
        }
        self.root.cancel();
    }

    /// Asks the server to stop after the current response.
    pub(crate) fn request_stop(&self) {
        self.stop.cancel();
    }

    /// Cancelled when the server should stop, for streams that must end
    /// then.
    pub(crate) fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Resolves when the server should stop.
    pub(crate) async fn stopped(&self) {
        self.stop.cancelled().await;
    }
}

/// The caller's deadline from the `grpc-timeout` header, which tonic
/// enforces for unary calls but not for streams.
pub(crate) fn grpc_timeout(metadata: &tonic::metadata::MetadataMap) -> Option<Duration> {
    plugwire_proto::deadline::parse_grpc_timeout(metadata.get("grpc-timeout")?.to_str().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_grpc_timeout() {
        let mut md = tonic::metadata::MetadataMap::new();
        assert_eq!(grpc_timeout(&md), None);
        md.insert("grpc-timeout", "250m".parse().unwrap());
        assert_eq!(grpc_timeout(&md), Some(Duration::from_millis(250)));
        md.insert("grpc-timeout", "3S".parse().unwrap());
        assert_eq!(grpc_timeout(&md), Some(Duration::from_secs(3)));
        md.insert("grpc-timeout", "123456789n".parse().unwrap());
        assert_eq!(grpc_timeout(&md), None, "more than 8 digits is invalid");
        md.insert("grpc-timeout", "5x".parse().unwrap());
        assert_eq!(grpc_timeout(&md), None);
    }

    #[tokio::test]
    async fn drain_waits_for_calls_then_cancels() {
        let (health, _svc) = tonic_health::server::health_reporter();
        let lifecycle = Lifecycle::new(health);
        let guard = lifecycle.begin_call().unwrap();
        let token = guard.token.clone();
        let started = tokio::time::Instant::now();
        lifecycle.drain(Duration::from_millis(50)).await;
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(
            token.is_cancelled(),
            "calls still running after the grace period are cancelled"
        );
        assert!(
            lifecycle.begin_call().is_err(),
            "no new calls after shutdown began"
        );
        drop(guard);
    }

    #[tokio::test]
    async fn drain_returns_as_soon_as_calls_finish() {
        let (health, _svc) = tonic_health::server::health_reporter();
        let lifecycle = Arc::new(Lifecycle::new(health));
        let guard = lifecycle.begin_call().unwrap();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop(guard);
        });
        let started = tokio::time::Instant::now();
        lifecycle.drain(Duration::from_secs(10)).await;
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

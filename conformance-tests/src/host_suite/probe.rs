//! The probe: the plugin side of the host suite. `plugwire-conformance
//! --probe` serves plugwire's services by hand (no SDK, so that every RPC
//! the host makes, in the order it makes it, is seen), and its one tool,
//! `observe`, answers with what it saw: its environment, its runtime
//! directory, the RPCs so far and the call's own deadline. The suite side
//! (`super`) judges the answer.

use std::os::unix::fs::MetadataExt as _;
use std::sync::{Arc, Mutex};

use plugwire_proto::constants::{
    ENV_HOST_SOCKET, ENV_PROTOCOL_VERSIONS, ENV_UNIX_SOCKET_DIR, HEALTH_SERVICE_NAME,
    MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE, MAX_MESSAGE_SIZE, MAX_SOCKET_PATH_LEN, features,
};
use plugwire_proto::pb;
use serde_json::{Value, json};
use tonic::{Request, Response, Status};

/// The name the suite's manifest gives the probe.
pub const PROBE_NAME: &str = "plugwire-probe";
/// The probe's tool.
pub const OBSERVE: &str = "observe";
/// A key only the probe's answer has: how the suite finds it in a host's
/// output.
pub const MARKER: &str = "plugwire_probe";
/// Set in the host command's environment; a host that builds its plugins'
/// environment from an allow-list does not pass it on (PW-BOOT-10).
pub const CANARY: &str = "PLUGWIRE_CONFORMANCE_CANARY";

/// Where the probe appends how it ends (`started`, `shutdown`, `sigterm`),
/// for the suite to read after the host command: that happens after the
/// `observe` answer. Set by the probe's manifest (which may not set
/// `PLUGWIRE_` names) and in the host command's environment; a sandbox may
/// hide the file, and then there is no record.
pub const EVENTS: &str = "CONFORMANCE_PROBE_EVENTS";

/// Appends one event to the events file, when there is one to write.
fn note(event: &str) {
    use std::io::Write as _;
    if let Some(path) = std::env::var_os(EVENTS) {
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(format!("{event}\n").as_bytes()));
    }
}

/// What the probe has seen, in order.
#[derive(Default)]
struct Seen {
    rpcs: Vec<String>,
    /// The RPCs that came without `grpc-timeout`.
    undeadlined: Vec<String>,
    handshakes: Vec<Value>,
    configs: Vec<String>,
}

#[derive(Clone)]
struct Probe {
    seen: Arc<Mutex<Seen>>,
    socket_dir: Option<String>,
    socket: std::path::PathBuf,
}

impl Probe {
    /// Notes an RPC, and whether it came with a deadline (PW-DL-1).
    fn record(&self, rpc: &str, metadata: &tonic::metadata::MetadataMap) {
        let mut seen = self.seen.lock().expect("probe state");
        seen.rpcs.push(rpc.to_owned());
        if metadata.get("grpc-timeout").is_none() {
            seen.undeadlined.push(rpc.to_owned());
        }
    }

    /// With `host.service` listed by the host, a `HostService` call the
    /// probe has no permission for (`GetValue`, gated by `host.storage`):
    /// its code and message; `None` when the host did not list it.
    async fn unpermitted_host_call(&self) -> Option<Value> {
        let listed = self
            .seen
            .lock()
            .expect("probe state")
            .handshakes
            .first()
            .is_some_and(|h| {
                h["features"]
                    .as_array()
                    .is_some_and(|f| f.iter().any(|f| f == features::HOST_SERVICE))
            });
        if !listed {
            return None;
        }
        let Ok(path) = std::env::var(ENV_HOST_SOCKET) else {
            return Some(json!({ "error": format!("{ENV_HOST_SOCKET} is not set") }));
        };
        let answer = async {
            let channel = tonic::transport::Endpoint::from_shared(format!("unix:{path}"))
                .map_err(|e| e.to_string())?
                .origin(tonic::transport::Uri::from_static("http://localhost"))
                .connect_timeout(std::time::Duration::from_secs(2))
                .connect()
                .await
                .map_err(|e| format!("cannot connect to {path}: {e}"))?;
            let mut request = Request::new(pb::GetValueRequest {
                key: "probe".into(),
            });
            request.set_timeout(std::time::Duration::from_secs(2));
            Ok::<_, String>(
                match pb::host_service_client::HostServiceClient::new(channel)
                    .get_value(request)
                    .await
                {
                    Ok(_) => json!({ "code": "Ok" }),
                    Err(status) => json!({
                        "code": format!("{:?}", status.code()),
                        "message": status.message(),
                    }),
                },
            )
        };
        Some(answer.await.unwrap_or_else(|e| json!({ "error": e })))
    }

    /// The answer of `observe`.
    fn observation(&self, deadline: Option<String>, host_call: Option<Value>) -> Value {
        let seen = self.seen.lock().expect("probe state");
        // The socket the probe made is owned by the user it runs as.
        let me = std::fs::metadata(&self.socket).map(|m| m.uid()).ok();
        let dir = self
            .socket_dir
            .as_ref()
            .map(|d| match std::fs::metadata(d) {
                Ok(m) => json!({
                    "path": d,
                    "socket_path_len": std::path::Path::new(d).join("plugin.sock").as_os_str().len(),
                    "max_socket_path_len": MAX_SOCKET_PATH_LEN,
                    "mode": format!("{:o}", m.mode() & 0o7777),
                    "owner_is_me": Some(m.uid()) == me,
                }),
                Err(e) => json!({ "path": d, "error": e.to_string() }),
            });
        json!({
            MARKER: 1,
            "cookie": std::env::var(MAGIC_COOKIE_KEY).ok(),
            "versions": std::env::var(ENV_PROTOCOL_VERSIONS).ok(),
            "canary_visible": std::env::var_os(CANARY).is_some(),
            "socket_dir": dir,
            "rpcs": seen.rpcs,
            "undeadlined": seen.undeadlined,
            "handshakes": seen.handshakes,
            "configs": seen.configs,
            "deadline": deadline,
            "unpermitted_host_call": host_call,
        })
    }
}

#[tonic::async_trait]
impl tonic_health::pb::health_server::Health for Probe {
    async fn check(
        &self,
        request: Request<tonic_health::pb::HealthCheckRequest>,
    ) -> Result<Response<tonic_health::pb::HealthCheckResponse>, Status> {
        self.record("health", request.metadata());
        if request.get_ref().service != HEALTH_SERVICE_NAME && !request.get_ref().service.is_empty()
        {
            return Err(Status::not_found("unknown service"));
        }
        Ok(Response::new(tonic_health::pb::HealthCheckResponse {
            status: tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
        }))
    }

    type WatchStream = tokio_stream::Pending<Result<tonic_health::pb::HealthCheckResponse, Status>>;

    async fn watch(
        &self,
        _: Request<tonic_health::pb::HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("the probe answers Check only"))
    }
}

#[tonic::async_trait]
impl pb::plugin_service_server::PluginService for Probe {
    async fn handshake(
        &self,
        request: Request<pb::HandshakeRequest>,
    ) -> Result<Response<pb::HandshakeResponse>, Status> {
        self.record("handshake", request.metadata());
        let r = request.get_ref();
        self.seen
            .lock()
            .expect("probe state")
            .handshakes
            .push(json!({
                "protocol_version": r.protocol_version,
                "plugin_name": r.plugin_name,
                "instance_id": r.instance_id,
                "host": r.host.as_ref().map(|h| h.name.clone()),
                "features": r.features,
            }));
        Ok(Response::new(pb::HandshakeResponse {
            plugin: Some(pb::PluginInfo {
                name: PROBE_NAME.into(),
                version: env!("CARGO_PKG_VERSION").into(),
                description: "plugwire's host conformance probe".into(),
            }),
            sdk: Some(pb::SdkInfo {
                name: "handwritten".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            }),
            features: Vec::new(),
            capabilities: Some(pb::Capabilities {
                tools: vec![OBSERVE.into()],
                ..Default::default()
            }),
        }))
    }

    async fn configure(
        &self,
        request: Request<pb::ConfigureRequest>,
    ) -> Result<Response<pb::ConfigureResponse>, Status> {
        self.record("configure", request.metadata());
        self.seen
            .lock()
            .expect("probe state")
            .configs
            .push(request.into_inner().config_json);
        Ok(Response::new(pb::ConfigureResponse {}))
    }

    async fn shutdown(
        &self,
        request: Request<pb::ShutdownRequest>,
    ) -> Result<Response<pb::ShutdownResponse>, Status> {
        self.record("shutdown", request.metadata());
        note("shutdown");
        // Answered first, then gone, the socket first (PW-SHUT-3).
        let socket = self.socket.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            let _ = std::fs::remove_file(socket);
            std::process::exit(0);
        });
        Ok(Response::new(pb::ShutdownResponse {}))
    }
}

#[tonic::async_trait]
impl pb::tool_service_server::ToolService for Probe {
    async fn list_tools(
        &self,
        request: Request<pb::ListToolsRequest>,
    ) -> Result<Response<pb::ListToolsResponse>, Status> {
        self.record("list_tools", request.metadata());
        Ok(Response::new(pb::ListToolsResponse {
            tools: vec![pb::Tool {
                name: OBSERVE.into(),
                description: "What the probe saw of its host".into(),
                input_schema_json: r#"{"type":"object","additionalProperties":false}"#.into(),
                ..Default::default()
            }],
        }))
    }

    async fn call_tool(
        &self,
        request: Request<pb::CallToolRequest>,
    ) -> Result<Response<pb::CallToolResponse>, Status> {
        self.record(
            &format!("call_tool:{}", request.get_ref().name),
            request.metadata(),
        );
        let deadline = request
            .metadata()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if request.get_ref().name != OBSERVE {
            return Err(Status::not_found(format!(
                "no tool {:?}; the probe has observe",
                request.get_ref().name
            )));
        }
        let host_call = self.unpermitted_host_call().await;
        Ok(Response::new(pb::CallToolResponse {
            result: Some(pb::ToolResult {
                is_error: false,
                content_json: self.observation(deadline, host_call).to_string(),
            }),
        }))
    }

    type CallToolStreamStream = tokio_stream::Pending<Result<pb::CallToolStreamResponse, Status>>;

    async fn call_tool_stream(
        &self,
        _: Request<pb::CallToolStreamRequest>,
    ) -> Result<Response<Self::CallToolStreamStream>, Status> {
        Err(Status::unimplemented(
            "the probe does not list tool.progress",
        ))
    }
}

/// Serves the probe until the host stops it (`Shutdown`, or a signal).
pub async fn serve() -> Result<(), String> {
    if std::env::var(MAGIC_COOKIE_KEY).as_deref() != Ok(MAGIC_COOKIE_VALUE) {
        return Err(format!(
            "--probe is the host suite's probe plugin, started by a host under test (the {MAGIC_COOKIE_KEY} cookie is missing)"
        ));
    }
    let offered = std::env::var(ENV_PROTOCOL_VERSIONS).unwrap_or_default();
    if !offered.split(',').any(|v| v.trim() == "1") {
        return Err(format!(
            "no common protocol version: the host offered {offered:?}, the probe speaks 1"
        ));
    }
    let socket_dir = std::env::var(ENV_UNIX_SOCKET_DIR)
        .ok()
        .filter(|d| !d.is_empty());
    let dir = socket_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().display().to_string());
    let socket = std::path::Path::new(&dir).join(format!("probe-{}.sock", std::process::id()));
    let listener = tokio::net::UnixListener::bind(&socket)
        .map_err(|e| format!("cannot bind {}: {e}", socket.display()))?;
    let probe = Probe {
        seen: Arc::default(),
        socket_dir,
        socket: socket.clone(),
    };
    let server = tonic::transport::Server::builder()
        .add_service(tonic_health::pb::health_server::HealthServer::new(
            probe.clone(),
        ))
        .add_service(
            pb::plugin_service_server::PluginServiceServer::new(probe.clone())
                .max_decoding_message_size(MAX_MESSAGE_SIZE),
        )
        .add_service(
            pb::tool_service_server::ToolServiceServer::new(probe)
                .max_decoding_message_size(MAX_MESSAGE_SIZE),
        );
    println!("1|1|unix|{}|grpc|", socket.display());
    note("started");
    let stop = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| e.to_string())?;
        term.recv().await;
        note("sigterm");
        Ok::<(), String>(())
    };
    let serving =
        server.serve_with_incoming(tokio_stream::wrappers::UnixListenerStream::new(listener));
    let outcome = tokio::select! {
        r = serving => r.map_err(|e| e.to_string()),
        r = stop => r,
    };
    let _ = std::fs::remove_file(&socket);
    outcome
}

//! Test plugins without a host binary.
//!
//! [`TestHost`] serves a [`Plugin`] inside the test process over a real Unix
//! socket in a temporary directory, performs the host's side of the
//! protocol (health, handshake, configure), and offers one-line calls to
//! tools, commands, hooks and providers. It also serves a fake
//! `HostService` with in-memory storage, so plugins that call back into the
//! host work too.
//!
//! ```
//! use plugwire_sdk::testing::TestHost;
//! use plugwire_sdk::{Plugin, Tool, ToolContext, ToolError};
//!
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! struct Args { text: String }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let plugin = Plugin::new("echo", "0.1.0").tool(Tool::new(
//!     "echo", "Echoes", |a: Args, _cx: ToolContext| async move { Ok::<_, ToolError>(a.text) },
//! ));
//! let host = TestHost::start(plugin).await?;
//! let out = host.call_tool("echo", serde_json::json!({"text": "hi"})).await?;
//! assert_eq!(out.content, "hi");
//! host.shutdown().await?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use plugwire_proto::cli::parse_invocation;
use plugwire_proto::constants::{
    APP_PROTOCOL_VERSION, HEALTH_SERVICE_NAME, MAX_MESSAGE_SIZE, features,
};
use plugwire_proto::names::command_full_name;
use plugwire_proto::pb;
use serde_json::Value;
use tokio::net::UnixListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::{ReceiverStream, UnixListenerStream};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::hook::Decision;
use crate::host_client::{ToolOutcome, unix_endpoint};
use crate::plugin::Plugin;
use crate::serve::RunningPlugin;

/// Why the harness could not start or stop a plugin.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestError {
    /// The plugin failed to start.
    #[error("the plugin did not start: {0}")]
    Serve(#[from] crate::ServeError),
    /// A protocol step failed.
    #[error("{step} failed: {code:?}: {message}", code = status.code(), message = status.message())]
    Protocol {
        /// Which step.
        step: &'static str,
        /// The status returned.
        status: Status,
    },
    /// Local I/O failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Connecting failed.
    #[error("cannot connect to the plugin: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// The output of a command run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandOutput {
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
    /// The exit code.
    pub code: i32,
}

impl CommandOutput {
    /// stdout as (lossy) UTF-8.
    ///
    /// ```
    /// let out = plugwire_sdk::testing::CommandOutput { stdout: b"hi".to_vec(), ..Default::default() };
    /// assert_eq!(out.stdout_text(), "hi");
    /// ```
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr as (lossy) UTF-8.
    ///
    /// ```
    /// let out = plugwire_sdk::testing::CommandOutput { stderr: b"oops".to_vec(), ..Default::default() };
    /// assert_eq!(out.stderr_text(), "oops");
    /// ```
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Configures a [`TestHost`] before it starts.
///
/// ```
/// # use plugwire_sdk::{Plugin, testing::TestHost};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let host = TestHost::builder()
///     .config(serde_json::json!({"greeting": "hey"}))
///     .start(Plugin::new("hello", "0.1.0"))
///     .await?;
/// # host.shutdown().await?;
/// # Ok::<(), plugwire_sdk::testing::TestError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct TestHostBuilder {
    config: Value,
    host_service: bool,
}

impl TestHostBuilder {
    /// The configuration sent in `Configure` (default `{}`).
    ///
    /// ```
    /// let b = plugwire_sdk::testing::TestHost::builder().config(serde_json::json!({"x": 1}));
    /// # let _ = b;
    /// ```
    pub fn config(mut self, config: Value) -> Self {
        self.config = config;
        self
    }

    /// Do not offer `HostService` (so `cx.host()` fails, as under a host
    /// that does not grant it).
    ///
    /// ```
    /// let b = plugwire_sdk::testing::TestHost::builder().without_host_service();
    /// # let _ = b;
    /// ```
    pub fn without_host_service(mut self) -> Self {
        self.host_service = false;
        self
    }

    /// Starts the plugin and performs health, handshake and configure.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let host = plugwire_sdk::testing::TestHost::builder().start(plugwire_sdk::Plugin::new("x", "0.1.0")).await?;
    /// # host.shutdown().await?;
    /// # Ok::<(), plugwire_sdk::testing::TestError>(())
    /// # }).unwrap();
    /// ```
    pub async fn start(self, plugin: Plugin) -> Result<TestHost, TestError> {
        let plugin_name = plugin.info.name.clone();
        let dir = tempfile::Builder::new()
            .prefix("pwt")
            .tempdir_in(short_tmp())?;
        let fake = Arc::new(FakeHost::default());
        let host_socket = dir.path().join("host.sock");
        let host_server = if self.host_service {
            let listener = UnixListener::bind(&host_socket)?;
            let service = pb::host_service_server::HostServiceServer::from_arc(fake.clone())
                .max_decoding_message_size(MAX_MESSAGE_SIZE);
            Some(tokio::spawn(
                tonic::transport::Server::builder()
                    .add_service(service)
                    .serve_with_incoming(UnixListenerStream::new(listener)),
            ))
        } else {
            None
        };
        let running = RunningPlugin::start(
            plugin,
            dir.path().join(crate::SOCKET_FILE_NAME),
            APP_PROTOCOL_VERSION,
            self.host_service.then(|| host_socket.clone()),
            None,
        )
        .await?;
        let channel = unix_endpoint(&running.socket)?.connect().await?;
        *fake.plugin.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((plugin_name.clone(), channel.clone()));

        let health = tonic_health::pb::health_client::HealthClient::new(channel.clone())
            .check(tonic_health::pb::HealthCheckRequest {
                service: HEALTH_SERVICE_NAME.to_owned(),
            })
            .await
            .map_err(|status| TestError::Protocol {
                step: "health check",
                status,
            })?
            .into_inner();
        if health.status != tonic_health::pb::health_check_response::ServingStatus::Serving as i32 {
            return Err(TestError::Protocol {
                step: "health check",
                status: Status::unavailable(format!("health status {}", health.status)),
            });
        }
        let mut plugin_client =
            pb::plugin_service_client::PluginServiceClient::new(channel.clone());
        let mut host_features = vec![];
        if self.host_service {
            host_features.push(features::HOST_SERVICE.to_owned());
        }
        let handshake = plugin_client
            .handshake(pb::HandshakeRequest {
                host: Some(pb::HostInfo {
                    name: "plugwire-sdk-testing".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    app_name: "test".into(),
                    app_version: "0.0.0".into(),
                }),
                protocol_version: APP_PROTOCOL_VERSION,
                features: host_features,
                instance_id: "00000000-0000-4000-8000-000000000000".into(),
                plugin_name,
                default_call_timeout: Some(prost_types::Duration {
                    seconds: 30,
                    nanos: 0,
                }),
                host_services: Vec::new(),
            })
            .await
            .map_err(|status| TestError::Protocol {
                step: "handshake",
                status,
            })?
            .into_inner();
        plugin_client
            .configure(pb::ConfigureRequest {
                config_json: self.config.to_string(),
            })
            .await
            .map_err(|status| TestError::Protocol {
                step: "configure",
                status,
            })?;
        Ok(TestHost {
            dir,
            running: Some(running),
            channel,
            handshake,
            fake,
            host_server,
        })
    }
}

/// A plugin running in the test process, with the host's side of the
/// protocol done. Dropping it stops the plugin; [`TestHost::shutdown`]
/// does so through the `Shutdown` RPC and checks the socket is removed.
pub struct TestHost {
    dir: tempfile::TempDir,
    running: Option<RunningPlugin>,
    channel: Channel,
    /// The plugin's handshake answer.
    pub handshake: pb::HandshakeResponse,
    fake: Arc<FakeHost>,
    host_server: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
}

impl TestHost {
    /// Starts `plugin` with an empty configuration and the host service.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let host = plugwire_sdk::testing::TestHost::start(plugwire_sdk::Plugin::new("x", "0.1.0")).await?;
    /// assert_eq!(host.handshake.plugin.as_ref().unwrap().name, "x");
    /// # host.shutdown().await?;
    /// # Ok::<(), plugwire_sdk::testing::TestError>(())
    /// # }).unwrap();
    /// ```
    pub async fn start(plugin: Plugin) -> Result<Self, TestError> {
        Self::builder().start(plugin).await
    }

    /// A builder for non-default settings.
    ///
    /// ```
    /// let builder = plugwire_sdk::testing::TestHost::builder();
    /// # let _ = builder;
    /// ```
    pub fn builder() -> TestHostBuilder {
        TestHostBuilder {
            config: Value::Object(Default::default()),
            host_service: true,
        }
    }

    /// The gRPC channel to the plugin, for provider clients and raw calls.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let host = plugwire_sdk::testing::TestHost::start(plugwire_sdk::Plugin::new("x", "0.1.0")).await?;
    /// let tools = plugwire_proto::pb::tool_service_client::ToolServiceClient::new(host.channel());
    /// # let _ = tools; host.shutdown().await?;
    /// # Ok::<(), plugwire_sdk::testing::TestError>(())
    /// # }).unwrap();
    /// ```
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// The directory holding the plugin's socket.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let host = plugwire_sdk::testing::TestHost::start(plugwire_sdk::Plugin::new("x", "0.1.0")).await?;
    /// assert!(host.socket_dir().join("plugin.sock").exists());
    /// # host.shutdown().await?;
    /// # Ok::<(), plugwire_sdk::testing::TestError>(())
    /// # }).unwrap();
    /// ```
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Lists the plugin's tools.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let host = plugwire_sdk::testing::TestHost::start(plugwire_sdk::Plugin::new("x", "0.1.0")).await?;
    /// let tools = host.list_tools().await;
    /// assert!(tools.is_err(), "a plugin without tools serves no ToolService");
    /// # host.shutdown().await?;
    /// # Ok::<(), plugwire_sdk::testing::TestError>(())
    /// # }).unwrap();
    /// ```
    pub async fn list_tools(&self) -> Result<Vec<pb::Tool>, Status> {
        Ok(self
            .tools()
            .list_tools(pb::ListToolsRequest {})
            .await?
            .into_inner()
            .tools)
    }

    /// Calls a tool (unary), as a host would after validation.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_sdk::testing::TestHost) -> Result<(), tonic::Status> {
    /// let out = host.call_tool("echo", serde_json::json!({"text": "hi"})).await?;
    /// assert!(!out.is_error);
    /// # Ok(()) }
    /// ```
    pub async fn call_tool(&self, name: &str, arguments: Value) -> Result<ToolOutcome, Status> {
        self.call_tool_with_timeout(name, arguments, Duration::from_secs(30))
            .await
    }

    /// Calls a tool with a deadline.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_sdk::testing::TestHost) {
    /// let err = host.call_tool_with_timeout("slow", serde_json::json!({}), std::time::Duration::from_millis(10)).await.unwrap_err();
    /// assert_eq!(err.code(), tonic::Code::DeadlineExceeded);
    /// # }
    /// ```
    pub async fn call_tool_with_timeout(
        &self,
        name: &str,
        arguments: Value,
        timeout: Duration,
    ) -> Result<ToolOutcome, Status> {
        let mut request = Request::new(pb::CallToolRequest {
            name: name.to_owned(),
            arguments_json: arguments.to_string(),
        });
        request.set_timeout(timeout);
        // Like any gRPC client, judge the deadline by our own clock: the
        // server's timer reports CANCELLED when it fires first.
        let mut tools = self.tools();
        let started = tokio::time::Instant::now();
        let expired = || Status::deadline_exceeded(format!("no answer within {timeout:?}"));
        let response = match tokio::time::timeout(timeout, tools.call_tool(request)).await {
            Err(_) => return Err(expired()),
            Ok(Err(_)) if started.elapsed() >= timeout => return Err(expired()),
            Ok(result) => result?,
        };
        let result = response
            .into_inner()
            .result
            .ok_or_else(|| Status::internal("CallToolResponse without a result"))?;
        outcome(result)
    }

    /// Calls a tool with progress; returns the progress reports and the
    /// result.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_sdk::testing::TestHost) -> Result<(), tonic::Status> {
    /// let (progress, out) = host.call_tool_stream("slow", serde_json::json!({"steps": 3})).await?;
    /// assert_eq!(progress.len(), 3);
    /// # let _ = out; Ok(()) }
    /// ```
    pub async fn call_tool_stream(
        &self,
        name: &str,
        arguments: Value,
    ) -> Result<(Vec<pb::ToolProgress>, ToolOutcome), Status> {
        let mut stream = self
            .tools()
            .call_tool_stream(pb::CallToolStreamRequest {
                name: name.to_owned(),
                arguments_json: arguments.to_string(),
            })
            .await?
            .into_inner();
        let mut progress = Vec::new();
        while let Some(message) = stream.next().await {
            match message?.event {
                Some(pb::call_tool_stream_response::Event::Progress(p)) => progress.push(p),
                Some(pb::call_tool_stream_response::Event::Result(r)) => {
                    if stream.next().await.is_some() {
                        return Err(Status::internal("messages after the result (PW-TOOL-10)"));
                    }
                    return Ok((progress, outcome(r)?));
                }
                None => return Err(Status::internal("an empty CallToolStream message")),
            }
        }
        Err(Status::internal(
            "the stream ended without a result (PW-TOOL-10)",
        ))
    }

    /// Runs a command as the host would: `line` is the command's full name
    /// followed by the user's words; flags are parsed against the
    /// declaration (PW-CMD-9). `stdin` is sent in 64 KiB chunks, then
    /// closed.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_sdk::testing::TestHost) -> Result<(), tonic::Status> {
    /// let out = host.run_command(&["wc", "--lines"], b"a\nb\n").await?;
    /// assert_eq!(out.code, 0);
    /// # Ok(()) }
    /// ```
    pub async fn run_command(&self, line: &[&str], stdin: &[u8]) -> Result<CommandOutput, Status> {
        let commands = self
            .commands()
            .list_commands(pb::ListCommandsRequest {})
            .await?
            .into_inner()
            .commands;
        // The longest declared full name that prefixes the line wins, so
        // subcommands beat their parents.
        let (command, words) = commands
            .iter()
            .filter_map(|c| {
                let full = command_full_name(c);
                let parts: Vec<&str> = full.split(' ').collect();
                (line.len() >= parts.len() && line[..parts.len()] == parts[..])
                    .then_some((c, parts.len()))
            })
            .max_by_key(|(_, n)| *n)
            .map(|(c, n)| (c.clone(), &line[n..]))
            .ok_or_else(|| Status::not_found(format!("no declared command matches {line:?}")))?;
        let argv: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        let invocation = parse_invocation(&command, &argv)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;

        let (tx, rx) = mpsc::channel(8);
        let start = pb::RunCommandRequest {
            message: Some(pb::run_command_request::Message::Start(pb::CommandStart {
                command: command_full_name(&command),
                argv,
                flags_json: invocation.flags_json(),
                args: invocation.args,
                ..Default::default()
            })),
        };
        let chunks: Vec<Vec<u8>> = stdin
            .chunks(plugwire_proto::constants::MAX_STDIO_CHUNK)
            .map(<[u8]>::to_vec)
            .collect();
        tokio::spawn(async move {
            let _ = tx.send(start).await;
            for chunk in chunks {
                let message = pb::RunCommandRequest {
                    message: Some(pb::run_command_request::Message::Stdin(chunk)),
                };
                if tx.send(message).await.is_err() {
                    return;
                }
            }
            let _ = tx
                .send(pb::RunCommandRequest {
                    message: Some(pb::run_command_request::Message::StdinClose(
                        pb::StdinClose {},
                    )),
                })
                .await;
            // Keep the request stream open until the plugin is done, as a
            // host does: closing it is not an error, but it is not needed.
            tx.closed().await;
        });
        let mut stream = self
            .commands()
            .run_command(ReceiverStream::new(rx))
            .await?
            .into_inner();
        let mut output = CommandOutput::default();
        while let Some(message) = stream.next().await {
            match message?.message {
                Some(pb::run_command_response::Message::Stdout(b)) => output.stdout.extend(b),
                Some(pb::run_command_response::Message::Stderr(b)) => output.stderr.extend(b),
                Some(pb::run_command_response::Message::Exit(e)) => {
                    output.code = e.code;
                    return Ok(output);
                }
                None => {}
            }
        }
        Err(Status::internal(
            "the command stream ended without an exit message (PW-CMD-7)",
        ))
    }

    /// Delivers an event for interception and returns the decision.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_sdk::testing::TestHost) -> Result<(), tonic::Status> {
    /// let d = host.intercept("request.before", serde_json::json!({"password": "x"})).await?;
    /// # let _ = d; Ok(()) }
    /// ```
    pub async fn intercept(&self, name: &str, payload: Value) -> Result<Decision, Status> {
        let response = self.deliver(name, payload, pb::HookMode::Intercept).await?;
        match pb::Decision::try_from(response.decision) {
            Ok(pb::Decision::Continue) => Ok(Decision::Continue),
            Ok(pb::Decision::Modify) => serde_json::from_str(&response.payload_json)
                .map(Decision::Modify)
                .map_err(|e| Status::internal(format!("MODIFY with invalid JSON: {e}"))),
            Ok(pb::Decision::Deny) => Ok(Decision::Deny(response.reason)),
            _ => Err(Status::internal(format!(
                "invalid decision {}",
                response.decision
            ))),
        }
    }

    /// Delivers an event to the plugin's observers.
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_sdk::testing::TestHost) -> Result<(), tonic::Status> {
    /// host.observe("session.start", serde_json::json!({"user": "ada"})).await?;
    /// # Ok(()) }
    /// ```
    pub async fn observe(&self, name: &str, payload: Value) -> Result<(), Status> {
        self.deliver(name, payload, pb::HookMode::Observe)
            .await
            .map(|_| ())
    }

    async fn deliver(
        &self,
        name: &str,
        payload: Value,
        mode: pb::HookMode,
    ) -> Result<pb::HandleEventResponse, Status> {
        let caps = self.handshake.capabilities.clone().unwrap_or_default();
        let pattern = caps
            .hooks
            .iter()
            .find(|s| {
                s.mode == mode as i32 && plugwire_proto::names::pattern_matches(&s.pattern, name)
            })
            .map(|s| s.pattern.clone())
            .unwrap_or_default();
        let event = pb::Event {
            id: format!("test-{}", self.fake.next_id()),
            name: name.to_owned(),
            payload_json: payload.to_string(),
            time: Some(prost_types::Timestamp::from(SystemTime::now())),
            source: "host".into(),
        };
        Ok(
            pb::hook_service_client::HookServiceClient::new(self.channel.clone())
                .handle_event(pb::HandleEventRequest {
                    event: Some(event),
                    mode: mode as i32,
                    pattern,
                })
                .await?
                .into_inner(),
        )
    }

    /// A snapshot of the plugin's storage in the fake host.
    ///
    /// ```no_run
    /// # fn f(host: plugwire_sdk::testing::TestHost) {
    /// let storage = host.storage();
    /// assert!(storage.is_empty());
    /// # }
    /// ```
    pub fn storage(&self) -> BTreeMap<String, Vec<u8>> {
        self.fake
            .storage
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Events the plugin emitted through the host, in order.
    ///
    /// ```no_run
    /// # fn f(host: plugwire_sdk::testing::TestHost) {
    /// for (name, payload) in host.emitted() { println!("{name}: {payload}"); }
    /// # }
    /// ```
    pub fn emitted(&self) -> Vec<(String, Value)> {
        self.fake
            .emitted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sends `Shutdown` and waits for the plugin to stop; fails if the
    /// socket was left behind (PW-SHUT-3).
    ///
    /// ```no_run
    /// # async fn f(host: plugwire_sdk::testing::TestHost) -> Result<(), plugwire_sdk::testing::TestError> {
    /// host.shutdown().await?;
    /// # Ok(()) }
    /// ```
    pub async fn shutdown(mut self) -> Result<(), TestError> {
        pb::plugin_service_client::PluginServiceClient::new(self.channel.clone())
            .shutdown(pb::ShutdownRequest {
                grace: Some(prost_types::Duration {
                    seconds: 2,
                    nanos: 0,
                }),
            })
            .await
            .map_err(|status| TestError::Protocol {
                step: "shutdown",
                status,
            })?;
        if let Some(running) = self.running.take() {
            let socket = running.socket.clone();
            running.stop(Duration::from_secs(2)).await?;
            if socket.exists() {
                return Err(TestError::Io(std::io::Error::other(format!(
                    "the plugin left its socket {} behind",
                    socket.display()
                ))));
            }
        }
        Ok(())
    }

    fn tools(&self) -> pb::tool_service_client::ToolServiceClient<Channel> {
        pb::tool_service_client::ToolServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE)
    }

    fn commands(&self) -> pb::command_service_client::CommandServiceClient<Channel> {
        pb::command_service_client::CommandServiceClient::new(self.channel.clone())
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.abort();
        }
        if let Some(server) = self.host_server.take() {
            server.abort();
        }
    }
}

fn outcome(result: pb::ToolResult) -> Result<ToolOutcome, Status> {
    let content = serde_json::from_str(&result.content_json)
        .map_err(|e| Status::internal(format!("content_json is not JSON (PW-TOOL-7): {e}")))?;
    Ok(ToolOutcome {
        is_error: result.is_error,
        content,
    })
}

/// `/tmp` keeps socket paths short even when `TMPDIR` is long.
fn short_tmp() -> std::path::PathBuf {
    let tmp = std::path::PathBuf::from("/tmp");
    if tmp.is_dir() {
        tmp
    } else {
        std::env::temp_dir()
    }
}

/// The in-memory `HostService` of the harness.
#[derive(Default)]
struct FakeHost {
    storage: Mutex<BTreeMap<String, Vec<u8>>>,
    emitted: Mutex<Vec<(String, Value)>>,
    plugin: Mutex<Option<(String, Channel)>>,
    ids: std::sync::atomic::AtomicU64,
}

impl FakeHost {
    fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}

#[tonic::async_trait]
impl pb::host_service_server::HostService for FakeHost {
    async fn emit_event(
        &self,
        request: Request<pb::EmitEventRequest>,
    ) -> Result<Response<pb::EmitEventResponse>, Status> {
        let request = request.into_inner();
        let payload: Value = serde_json::from_str(&request.payload_json)
            .map_err(|e| Status::invalid_argument(format!("payload_json: {e}")))?;
        self.emitted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((request.name, payload));
        Ok(Response::new(pb::EmitEventResponse {
            id: format!("test-{}", self.next_id()),
            denied: false,
            deny_reason: String::new(),
            final_payload_json: request.payload_json,
        }))
    }

    async fn call_plugin_tool(
        &self,
        request: Request<pb::CallPluginToolRequest>,
    ) -> Result<Response<pb::CallPluginToolResponse>, Status> {
        let request = request.into_inner();
        let Some((name, channel)) = self
            .plugin
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        else {
            return Err(Status::unavailable("the plugin is not connected yet"));
        };
        let tool = request
            .tool
            .strip_prefix(&format!("{name}."))
            .unwrap_or(&request.tool)
            .to_owned();
        let result = pb::tool_service_client::ToolServiceClient::new(channel)
            .call_tool(pb::CallToolRequest {
                name: tool,
                arguments_json: request.arguments_json,
            })
            .await?
            .into_inner()
            .result;
        Ok(Response::new(pb::CallPluginToolResponse { result }))
    }

    async fn get_value(
        &self,
        request: Request<pb::GetValueRequest>,
    ) -> Result<Response<pb::GetValueResponse>, Status> {
        let key = request.into_inner().key;
        let storage = self.storage.lock().unwrap_or_else(|e| e.into_inner());
        Ok(Response::new(match storage.get(&key) {
            Some(value) => pb::GetValueResponse {
                found: true,
                value: value.clone(),
            },
            None => pb::GetValueResponse::default(),
        }))
    }

    async fn put_value(
        &self,
        request: Request<pb::PutValueRequest>,
    ) -> Result<Response<pb::PutValueResponse>, Status> {
        let request = request.into_inner();
        if request.key.is_empty() || request.key.len() > 512 {
            return Err(Status::invalid_argument("key: expected 1 to 512 bytes"));
        }
        if request.value.len() > 1 << 20 {
            return Err(Status::invalid_argument("value: at most 1 MiB"));
        }
        self.storage
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(request.key, request.value);
        Ok(Response::new(pb::PutValueResponse {}))
    }

    async fn delete_value(
        &self,
        request: Request<pb::DeleteValueRequest>,
    ) -> Result<Response<pb::DeleteValueResponse>, Status> {
        let key = request.into_inner().key;
        let existed = self
            .storage
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key)
            .is_some();
        Ok(Response::new(pb::DeleteValueResponse { existed }))
    }

    async fn list_keys(
        &self,
        request: Request<pb::ListKeysRequest>,
    ) -> Result<Response<pb::ListKeysResponse>, Status> {
        let request = request.into_inner();
        let limit = if request.limit == 0 {
            1000
        } else {
            request.limit.min(1000)
        } as usize;
        let storage = self.storage.lock().unwrap_or_else(|e| e.into_inner());
        let mut keys: Vec<String> = storage
            .keys()
            .filter(|k| k.starts_with(&request.prefix) && k.as_str() > request.start_after.as_str())
            .take(limit + 1)
            .cloned()
            .collect();
        let more = keys.len() > limit;
        keys.truncate(limit);
        Ok(Response::new(pb::ListKeysResponse { keys, more }))
    }
}

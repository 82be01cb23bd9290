//! [`HostClient`]: the plugin's side of `HostService`.

use std::path::Path;
use std::time::Duration;

use plugwire_proto::constants::{CALL_CHAIN_METADATA, CALL_DEPTH_METADATA, MAX_MESSAGE_SIZE};
use plugwire_proto::pb;
use plugwire_proto::pb::host_service_client::HostServiceClient;
use serde_json::Value;
use tonic::Status;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint, Uri};

/// Deadline applied to every host call (PW-DL-3).
const HOST_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A client for the host's callbacks: events, other plugins' tools, and
/// this plugin's private key-value storage. Each call needs the matching
/// permission (PW-HOST-3) and fails with `PERMISSION_DENIED` without it.
///
/// Get one from any handler context with `cx.host()`.
///
/// ```
/// use plugwire_sdk::ToolContext;
/// async fn count_visit(cx: &ToolContext) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
///     let host = cx.host()?;
///     let n = host.get("visits").await?
///         .and_then(|v| String::from_utf8(v).ok()?.parse().ok())
///         .unwrap_or(0u64) + 1;
///     host.put("visits", n.to_string().into_bytes()).await?;
///     Ok(n)
/// }
/// ```
#[derive(Clone, Debug)]
pub struct HostClient {
    client: HostServiceClient<Channel>,
    /// The channel itself, for the application's services.
    channel: Channel,
    /// The application services the handshake said this plugin may call.
    services: std::sync::Arc<[String]>,
    /// The depth of the tool call this client acts for (PW-HOST-6).
    depth: u32,
    /// That call's chain id, echoed so the host knows which call continues.
    chain: Option<MetadataValue<Ascii>>,
}

/// What became of an emitted event.
#[derive(Debug, Clone, PartialEq)]
pub struct EmitOutcome {
    /// The id the host assigned.
    pub id: String,
    /// The denying hook's reason, if the event was denied.
    pub denied: Option<String>,
    /// The payload after every intercepting hook ran.
    pub payload: Value,
}

/// A tool's result as returned through the host.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutcome {
    /// True when the tool reported a failure.
    pub is_error: bool,
    /// The result content.
    pub content: Value,
}

impl HostClient {
    /// Connects (lazily) to the host service socket at `path`.
    ///
    /// ```no_run
    /// let host = plugwire_sdk::HostClient::connect_lazy("/run/pw/abc/host.sock".as_ref())?;
    /// # Ok::<(), tonic::transport::Error>(())
    /// ```
    pub fn connect_lazy(path: &Path) -> Result<Self, tonic::transport::Error> {
        let channel = unix_endpoint(path)?
            .timeout(HOST_CALL_TIMEOUT)
            .connect_lazy();
        Ok(Self {
            channel: channel.clone(),
            services: std::sync::Arc::from([]),
            client: HostServiceClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
            depth: 0,
            chain: None,
        })
    }

    /// The same client acting for a call `depth` deep in `chain`.
    pub(crate) fn for_call(&self, depth: u32, chain: Option<MetadataValue<Ascii>>) -> Self {
        Self {
            client: self.client.clone(),
            channel: self.channel.clone(),
            services: self.services.clone(),
            depth,
            chain,
        }
    }

    /// The same client, knowing which application services the handshake
    /// allowed.
    pub(crate) fn with_services(mut self, services: Vec<String>) -> Self {
        self.services = services.into();
        self
    }

    /// The application's services this plugin may call
    /// (`HandshakeRequest.host_services`; each granted as
    /// `host.service:<name>`).
    ///
    /// ```
    /// # fn f(host: plugwire_sdk::HostClient) {
    /// if host.services().iter().any(|s| s == "acme.session.v1.Sessions") {
    ///     println!("sessions are available");
    /// }
    /// # }
    /// ```
    pub fn services(&self) -> &[String] {
        &self.services
    }

    /// A typed client for one of the application's services, on the host
    /// channel: `make` is the generated client's constructor. Refused with
    /// `PERMISSION_DENIED` without a round trip when the handshake did not
    /// list the service; the host checks every call again.
    ///
    /// ```no_run
    /// # mod acme { pub struct SessionsClient<T>(T); impl<T> SessionsClient<T> { pub fn new(t: T) -> Self { Self(t) } } }
    /// # fn f(host: plugwire_sdk::HostClient) -> Result<(), tonic::Status> {
    /// let sessions = host.service("acme.session.v1.Sessions", acme::SessionsClient::new)?;
    /// # let _ = sessions; Ok(()) }
    /// ```
    pub fn service<C>(&self, name: &str, make: impl FnOnce(Channel) -> C) -> Result<C, Status> {
        if !self.services.iter().any(|s| s == name) {
            return Err(Status::permission_denied(format!(
                "the host does not offer {name:?} to this plugin (it offers {:?}); request \"host.service:{name}\" in `permissions.host` of plugin.toml and have it granted",
                self.services
            )));
        }
        Ok(make(self.channel.clone()))
    }

    /// The host channel itself, unchecked: for clients generated by other
    /// means. The host refuses calls to services this plugin was not
    /// granted with `PERMISSION_DENIED`.
    ///
    /// ```no_run
    /// # fn f(host: plugwire_sdk::HostClient) {
    /// let channel: tonic::transport::Channel = host.channel();
    /// # let _ = channel; }
    /// ```
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if self.depth > 0
            && let Ok(value) = self.depth.to_string().parse()
        {
            request.metadata_mut().insert(CALL_DEPTH_METADATA, value);
        }
        if let Some(chain) = &self.chain {
            request
                .metadata_mut()
                .insert(CALL_CHAIN_METADATA, chain.clone());
        }
        request
    }

    /// Emits an event (permission `host.events.emit`).
    ///
    /// ```
    /// # async fn f(host: plugwire_sdk::HostClient) -> Result<(), tonic::Status> {
    /// let outcome = host.emit("build.finished", serde_json::json!({"ok": true})).await?;
    /// assert!(outcome.denied.is_none() || outcome.denied.is_some());
    /// # Ok(()) }
    /// ```
    pub async fn emit(&self, name: &str, payload: Value) -> Result<EmitOutcome, Status> {
        let response = self
            .client
            .clone()
            .emit_event(self.request(pb::EmitEventRequest {
                name: name.to_owned(),
                payload_json: payload.to_string(),
            }))
            .await?
            .into_inner();
        Ok(EmitOutcome {
            id: response.id,
            denied: response.denied.then_some(response.deny_reason),
            payload: parse_json(&response.final_payload_json, "final_payload_json")?,
        })
    }

    /// Calls a tool, `<plugin>.<tool>` or a bare unambiguous name
    /// (permission `host.tools.call`).
    ///
    /// ```
    /// # async fn f(host: plugwire_sdk::HostClient) -> Result<(), tonic::Status> {
    /// let out = host.call_tool("echo.echo", serde_json::json!({"text": "hi"})).await?;
    /// assert!(!out.is_error);
    /// # Ok(()) }
    /// ```
    pub async fn call_tool(&self, tool: &str, arguments: Value) -> Result<ToolOutcome, Status> {
        let response = self
            .client
            .clone()
            .call_plugin_tool(self.request(pb::CallPluginToolRequest {
                tool: tool.to_owned(),
                arguments_json: arguments.to_string(),
            }))
            .await?
            .into_inner();
        let result = response
            .result
            .ok_or_else(|| Status::internal("the host's CallPluginTool response has no result"))?;
        Ok(ToolOutcome {
            is_error: result.is_error,
            content: parse_json(&result.content_json, "content_json")?,
        })
    }

    /// Reads a key of this plugin's storage (permission `host.storage`).
    ///
    /// ```
    /// # async fn f(host: plugwire_sdk::HostClient) -> Result<(), tonic::Status> {
    /// let value: Option<Vec<u8>> = host.get("token").await?;
    /// # let _ = value; Ok(()) }
    /// ```
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Status> {
        let response = self
            .client
            .clone()
            .get_value(self.request(pb::GetValueRequest {
                key: key.to_owned(),
            }))
            .await?
            .into_inner();
        Ok(response.found.then_some(response.value))
    }

    /// Writes a key durably (permission `host.storage`).
    ///
    /// ```
    /// # async fn f(host: plugwire_sdk::HostClient) -> Result<(), tonic::Status> {
    /// host.put("token", b"abc".to_vec()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), Status> {
        self.client
            .clone()
            .put_value(self.request(pb::PutValueRequest {
                key: key.to_owned(),
                value,
            }))
            .await?;
        Ok(())
    }

    /// Deletes a key; returns whether it existed (permission `host.storage`).
    ///
    /// ```
    /// # async fn f(host: plugwire_sdk::HostClient) -> Result<(), tonic::Status> {
    /// let existed = host.delete("token").await?;
    /// # let _ = existed; Ok(()) }
    /// ```
    pub async fn delete(&self, key: &str) -> Result<bool, Status> {
        Ok(self
            .client
            .clone()
            .delete_value(self.request(pb::DeleteValueRequest {
                key: key.to_owned(),
            }))
            .await?
            .into_inner()
            .existed)
    }

    /// Lists every key starting with `prefix`, in byte order, paging
    /// through the host's answers.
    ///
    /// ```
    /// # async fn f(host: plugwire_sdk::HostClient) -> Result<(), tonic::Status> {
    /// let keys = host.list("events/").await?;
    /// # let _ = keys; Ok(()) }
    /// ```
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, Status> {
        let mut keys = Vec::new();
        let mut start_after = String::new();
        loop {
            let page = self
                .client
                .clone()
                .list_keys(self.request(pb::ListKeysRequest {
                    prefix: prefix.to_owned(),
                    limit: 0,
                    start_after: start_after.clone(),
                }))
                .await?
                .into_inner();
            let more = page.more;
            if let Some(last) = page.keys.last() {
                start_after = last.clone();
            }
            let empty = page.keys.is_empty();
            keys.extend(page.keys);
            if !more || empty {
                return Ok(keys);
            }
        }
    }
}

fn parse_json(text: &str, field: &str) -> Result<Value, Status> {
    if text.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text)
        .map_err(|e| Status::internal(format!("the host sent invalid JSON in {field}: {e}")))
}

/// An endpoint for a Unix socket with `:authority` = `localhost`
/// (PW-BOOT-12).
pub(crate) fn unix_endpoint(path: &Path) -> Result<Endpoint, tonic::transport::Error> {
    Ok(Endpoint::from_shared(format!("unix:{}", path.display()))?
        .origin(Uri::from_static("http://localhost")))
}

//! `HostService`, served to one plugin on its private socket (PW-HOST-1..6).

use std::sync::Arc;

use plugwire_proto::constants::{CALL_CHAIN_METADATA, MAX_CALL_DEPTH};
use plugwire_proto::pb;
use serde_json::Value;
use tonic::transport::server::UdsConnectInfo;
use tonic::{Request, Response, Status};

use crate::calls::CallOptions;
use crate::context::{Context, HostCallbacks};
use crate::manifest::Permissions;
use crate::peer::PeerCheck;
use crate::storage::Storage;

/// The service for one plugin. Who is calling is known from the socket; the
/// peer's credentials confirm it.
pub(crate) struct PluginHostService {
    pub(crate) plugin: String,
    pub(crate) permissions: Permissions,
    pub(crate) storage: Arc<Storage>,
    /// The host's share, and through it the narrow way back to the host.
    pub(crate) ctx: Arc<Context>,
    pub(crate) peer: PeerCheck,
}

impl PluginHostService {
    fn authorize<T>(&self, request: &Request<T>, permission: &str) -> Result<(), Status> {
        self.peer
            .check(request.extensions().get::<UdsConnectInfo>())?;
        if !self.permissions.allows_host(permission) {
            return Err(Status::permission_denied(format!(
                "plugin {:?} lacks permission {permission:?}; add it to `permissions.host` in its plugin.toml",
                self.plugin
            )));
        }
        Ok(())
    }

    fn host(&self) -> Result<Arc<dyn HostCallbacks>, Status> {
        self.ctx
            .host()
            .ok_or_else(|| Status::unavailable("the host is shutting down"))
    }
}

fn parse_payload(text: &str, field: &str) -> Result<Value, Status> {
    if text.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text)
        .map_err(|e| Status::invalid_argument(format!("{field}: expected JSON text: {e}")))
}

#[tonic::async_trait]
impl pb::host_service_server::HostService for PluginHostService {
    async fn emit_event(
        &self,
        request: Request<pb::EmitEventRequest>,
    ) -> Result<Response<pb::EmitEventResponse>, Status> {
        self.authorize(&request, "host.events.emit")?;
        let request = request.into_inner();
        if request.name.starts_with("plugin.") {
            return Err(Status::permission_denied(
                "event names starting with \"plugin.\" are reserved for the host",
            ));
        }
        let payload = parse_payload(&request.payload_json, "payload_json")?;
        let outcome = self
            .host()?
            .emit(request.name, payload, format!("plugin:{}", self.plugin))
            .await?;
        Ok(Response::new(pb::EmitEventResponse {
            id: outcome.id,
            denied: outcome.denied.is_some(),
            deny_reason: outcome.denied.map(|d| d.reason).unwrap_or_default(),
            final_payload_json: outcome.payload.to_string(),
        }))
    }

    async fn call_plugin_tool(
        &self,
        request: Request<pb::CallPluginToolRequest>,
    ) -> Result<Response<pb::CallPluginToolResponse>, Status> {
        self.authorize(&request, "host.tools.call")?;
        let timeout = plugwire_deadline(request.metadata());
        // The depth is the host's own count (PW-HOST-6); the plugin only
        // says which of its in-flight chains this call continues.
        let claimed = request
            .metadata()
            .get(CALL_CHAIN_METADATA)
            .and_then(|v| v.to_str().ok()?.parse().ok());
        let host = self.host()?;
        let (chain, depth) = self.ctx.call_chains.callback(&self.plugin, claimed);
        if depth >= MAX_CALL_DEPTH {
            return Err(Status::failed_precondition(format!(
                "tool calls through the host are nested deeper than {MAX_CALL_DEPTH} (PW-HOST-6); is a plugin calling itself in a loop?"
            )));
        }
        let request = request.into_inner();
        let arguments = parse_payload(&request.arguments_json, "arguments_json")?;
        let mut options = CallOptions {
            depth,
            chain: Some(chain),
            actor: Some(format!("plugin:{}", self.plugin).into()),
            ..Default::default()
        };
        if let Some(t) = timeout {
            options = options.timeout(t);
        }
        let output = host.call_tool(request.tool, arguments, options).await?;
        Ok(Response::new(pb::CallPluginToolResponse {
            result: Some(pb::ToolResult {
                is_error: output.is_error,
                content_json: output.content.to_string(),
            }),
        }))
    }

    async fn get_value(
        &self,
        request: Request<pb::GetValueRequest>,
    ) -> Result<Response<pb::GetValueResponse>, Status> {
        self.authorize(&request, "host.storage")?;
        let value = self.storage.get(&request.into_inner().key)?;
        Ok(Response::new(pb::GetValueResponse {
            found: value.is_some(),
            value: value.unwrap_or_default(),
        }))
    }

    async fn put_value(
        &self,
        request: Request<pb::PutValueRequest>,
    ) -> Result<Response<pb::PutValueResponse>, Status> {
        self.authorize(&request, "host.storage")?;
        let request = request.into_inner();
        let storage = self.storage.clone();
        // fsync blocks; keep it off the async workers.
        tokio::task::spawn_blocking(move || storage.put(&request.key, request.value))
            .await
            .map_err(|e| Status::internal(e.to_string()))??;
        Ok(Response::new(pb::PutValueResponse {}))
    }

    async fn delete_value(
        &self,
        request: Request<pb::DeleteValueRequest>,
    ) -> Result<Response<pb::DeleteValueResponse>, Status> {
        self.authorize(&request, "host.storage")?;
        let key = request.into_inner().key;
        let storage = self.storage.clone();
        let existed = tokio::task::spawn_blocking(move || storage.delete(&key))
            .await
            .map_err(|e| Status::internal(e.to_string()))??;
        Ok(Response::new(pb::DeleteValueResponse { existed }))
    }

    async fn list_keys(
        &self,
        request: Request<pb::ListKeysRequest>,
    ) -> Result<Response<pb::ListKeysResponse>, Status> {
        self.authorize(&request, "host.storage")?;
        let request = request.into_inner();
        let (keys, more) =
            self.storage
                .list(&request.prefix, &request.start_after, request.limit)?;
        Ok(Response::new(pb::ListKeysResponse { keys, more }))
    }
}

/// The caller's deadline, from `grpc-timeout`.
fn plugwire_deadline(metadata: &tonic::metadata::MetadataMap) -> Option<std::time::Duration> {
    plugwire_proto::deadline::parse_grpc_timeout(metadata.get("grpc-timeout")?.to_str().ok()?)
}

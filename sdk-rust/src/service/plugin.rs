//! `PluginService`: handshake, configure, shutdown.

use std::sync::Arc;
use std::time::Duration;

use plugwire_proto::constants::features;
use plugwire_proto::pb;
use serde_json::Value;
use tonic::{Request, Response, Status};

use super::{DEFAULT_GRACE, Runtime};
use crate::host_client::HostClient;

/// The SDK's name in `HandshakeResponse.sdk`.
pub(crate) const SDK_NAME: &str = "plugwire-sdk-rust";

/// The longest grace a host may ask for.
const MAX_GRACE: Duration = Duration::from_secs(60);

pub(crate) struct PluginSvc(pub(crate) Arc<Runtime>);

#[tonic::async_trait]
impl pb::plugin_service_server::PluginService for PluginSvc {
    async fn handshake(
        &self,
        request: Request<pb::HandshakeRequest>,
    ) -> Result<Response<pb::HandshakeResponse>, Status> {
        let rt = &self.0;
        let request = request.into_inner();
        if request.protocol_version != rt.protocol_version {
            return Err(Status::failed_precondition(format!(
                "protocol version mismatch: the bootstrap line said {}, the handshake says {}",
                rt.protocol_version, request.protocol_version
            )));
        }
        let state = &rt.handle.state;
        let _ = state.instance_id.set(request.instance_id.clone());
        let host_offers = request.features.iter().any(|f| f == features::HOST_SERVICE);
        if host_offers && let Some(path) = &rt.host_socket {
            match HostClient::connect_lazy(path) {
                Ok(client) => {
                    let _ = state
                        .host
                        .set(client.with_services(request.host_services.clone()));
                }
                Err(e) => tracing::warn!(error = %e, "cannot prepare the host service client"),
            }
        }
        tracing::debug!(host = ?request.host, features = ?request.features, "handshake");
        Ok(Response::new(pb::HandshakeResponse {
            plugin: Some(rt.info.clone()),
            sdk: Some(pb::SdkInfo {
                name: SDK_NAME.to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
            }),
            features: rt.features.clone(),
            capabilities: Some(rt.capabilities.clone()),
        }))
    }

    async fn configure(
        &self,
        request: Request<pb::ConfigureRequest>,
    ) -> Result<Response<pb::ConfigureResponse>, Status> {
        let rt = &self.0;
        let text = request.into_inner().config_json;
        let text = if text.trim().is_empty() {
            "{}"
        } else {
            text.as_str()
        };
        let config: Value = serde_json::from_str(text).map_err(|e| {
            Status::invalid_argument(format!(
                "config: expected a JSON object, the text is not JSON: {e}"
            ))
        })?;
        if !config.is_object() {
            return Err(Status::invalid_argument(format!(
                "config: expected a JSON object, saw {config}"
            )));
        }
        let state = &rt.handle.state;
        if state.config_json.get().is_some() {
            return Err(Status::failed_precondition(
                "the plugin is already configured; Configure is called once",
            ));
        }
        if let Some(parse) = &rt.config {
            let typed = parse(&config).map_err(|e| Status::invalid_argument(e.to_string()))?;
            let _ = state.config.set(typed);
        }
        let _ = state.config_json.set(config);
        Ok(Response::new(pb::ConfigureResponse {}))
    }

    async fn shutdown(
        &self,
        request: Request<pb::ShutdownRequest>,
    ) -> Result<Response<pb::ShutdownResponse>, Status> {
        let grace = request
            .into_inner()
            .grace
            .and_then(|d| Duration::try_from(d).ok())
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_GRACE)
            .min(MAX_GRACE);
        tracing::info!(grace_ms = grace.as_millis() as u64, "shutdown requested");
        self.0.lifecycle.drain(grace).await;
        self.0.lifecycle.request_stop();
        Ok(Response::new(pb::ShutdownResponse {}))
    }
}

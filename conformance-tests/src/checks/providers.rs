//! PW-PROV-1: every declared provider service is really served. The suite
//! asks the plugin's reflection service (PW-PROV-2) for the service, then
//! calls one of its unary methods with an empty message: any answer but
//! `UNIMPLEMENTED` shows the service is routed.

use std::time::Duration;

use futures_util::StreamExt;
use plugwire_proto::pb;
use prost::Message as _;
use tonic::transport::Channel;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

use super::raw_codec::RawCodec;
use crate::check::{CheckFuture, CheckResult, na};
use crate::report::Status;
use crate::session::Session;

/// Asks one reflection question.
async fn reflect(channel: &Channel, request: MessageRequest) -> Result<MessageResponse, String> {
    let mut client = ServerReflectionClient::new(channel.clone());
    let question = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut call = tonic::Request::new(futures_util::stream::iter([question]));
    call.set_timeout(Duration::from_secs(5));
    let mut answers = client
        .server_reflection_info(call)
        .await
        .map_err(|s| format!("grpc.reflection.v1: {:?}: {}", s.code(), s.message()))?
        .into_inner();
    match answers.next().await {
        Some(Ok(ServerReflectionResponse {
            message_response: Some(MessageResponse::ErrorResponse(e)),
            ..
        })) => Err(format!(
            "reflection error {}: {}",
            e.error_code, e.error_message
        )),
        Some(Ok(ServerReflectionResponse {
            message_response: Some(answer),
            ..
        })) => Ok(answer),
        Some(Ok(_)) => Err("reflection answered nothing".into()),
        Some(Err(s)) => Err(format!("reflection: {:?}: {}", s.code(), s.message())),
        None => Err("reflection closed the stream without answering".into()),
    }
}

/// The unary method to probe: a reading one (`Get…`, `List…`) if there is
/// one, since the probe must not change the plugin's state.
fn probe_method(service: &str, files: &[Vec<u8>]) -> Option<String> {
    let (package, name) = service.rsplit_once('.').unwrap_or(("", service));
    let mut unary = Vec::new();
    for bytes in files {
        let Ok(file) = prost_types::FileDescriptorProto::decode(bytes.as_slice()) else {
            continue;
        };
        if file.package() != package {
            continue;
        }
        for svc in file.service.iter().filter(|s| s.name() == name) {
            unary.extend(
                svc.method
                    .iter()
                    .filter(|m| !m.client_streaming() && !m.server_streaming())
                    .map(|m| m.name().to_owned()),
            );
        }
    }
    unary
        .iter()
        .find(|m| m.starts_with("Get") || m.starts_with("List"))
        .or(unary.first())
        .cloned()
}

async fn probe(channel: &Channel, service: &str, method: &str) -> Result<tonic::Code, String> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| format!("the connection is not ready: {e}"))?;
    let path: tonic::codegen::http::uri::PathAndQuery = format!("/{service}/{method}")
        .parse()
        .map_err(|e| format!("/{service}/{method} is not a valid path: {e}"))?;
    let mut request = tonic::Request::new(Vec::new());
    request.set_timeout(Duration::from_secs(5));
    Ok(match grpc.unary(request, path, RawCodec).await {
        Ok(_) => tonic::Code::Ok,
        Err(status) => status.code(),
    })
}

/// The `providers/served` check.
async fn served(channel: &Channel, providers: &[pb::ProviderDeclaration]) -> CheckResult {
    if providers.is_empty() {
        return na("the plugin declares no providers");
    }
    let listed = match reflect(channel, MessageRequest::ListServices(String::new())).await? {
        MessageResponse::ListServicesResponse(list) => {
            list.service.into_iter().map(|s| s.name).collect::<Vec<_>>()
        }
        other => return Err(format!("ListServices answered {other:?}")),
    };
    for provider in providers {
        let service = &provider.service;
        if !listed.contains(service) {
            return Err(format!(
                "provider service {service} is declared but reflection lists only {listed:?} (PW-PROV-1, PW-PROV-2)"
            ));
        }
        let files = match reflect(
            channel,
            MessageRequest::FileContainingSymbol(service.clone()),
        )
        .await?
        {
            MessageResponse::FileDescriptorResponse(files) => files.file_descriptor_proto,
            other => {
                return Err(format!(
                    "FileContainingSymbol({service}) answered {other:?}"
                ));
            }
        };
        let Some(method) = probe_method(service, &files) else {
            // Streaming-only services are shown served by reflection alone.
            continue;
        };
        let code = probe(channel, service, &method).await?;
        if code == tonic::Code::Unimplemented {
            return Err(format!(
                "provider service {service}: a probe call of {method} answered UNIMPLEMENTED: the service is declared but not served"
            ));
        }
    }
    Ok(Status::Passed)
}

/// `providers/served`.
pub(crate) fn providers_served(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let providers = s.capabilities().await?.providers;
        if providers.is_empty() {
            return na("the plugin declares no providers");
        }
        let channel = s.ready().await?;
        served(&channel, &providers).await
    })
}

//! `ToolService`: list, call, and call with progress.

use std::sync::Arc;
use tonic::metadata::{Ascii, MetadataValue};

use plugwire_proto::pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{Runtime, grpc_timeout};
use crate::tool::ToolContext;

pub(crate) struct ToolSvc(pub(crate) Arc<Runtime>);

type StreamItem = Result<pb::CallToolStreamResponse, Status>;

#[tonic::async_trait]
impl pb::tool_service_server::ToolService for ToolSvc {
    async fn list_tools(
        &self,
        _request: Request<pb::ListToolsRequest>,
    ) -> Result<Response<pb::ListToolsResponse>, Status> {
        Ok(Response::new(pb::ListToolsResponse {
            tools: self.0.tools.iter().map(|t| t.decl.clone()).collect(),
        }))
    }

    async fn call_tool(
        &self,
        request: Request<pb::CallToolRequest>,
    ) -> Result<Response<pb::CallToolResponse>, Status> {
        let rt = &self.0;
        let guard = rt.begin_call()?;
        let (depth, chain) = call_position(request.metadata());
        let validated = arguments_validated(request.metadata());
        let request = request.into_inner();
        let tool = rt.tool(&request.name)?;
        // tonic drops this future when the client cancels or the deadline
        // passes; the drop guard turns that into a cancelled token the tool
        // can observe in work it spawned.
        let _cancel_on_drop = guard.token.clone().drop_guard();
        let mut cx = ToolContext::new(rt.handle.clone(), guard.token.clone(), None);
        cx.depth = depth;
        cx.chain = chain;
        let result = tool.invoke(&request.arguments_json, validated, cx).await?;
        Ok(Response::new(pb::CallToolResponse {
            result: Some(result),
        }))
    }

    type CallToolStreamStream = ReceiverStream<StreamItem>;

    async fn call_tool_stream(
        &self,
        request: Request<pb::CallToolStreamRequest>,
    ) -> Result<Response<Self::CallToolStreamStream>, Status> {
        let rt = self.0.clone();
        let guard = rt.begin_call()?;
        let deadline = grpc_timeout(request.metadata()).map(|d| tokio::time::Instant::now() + d);
        let (depth, chain) = call_position(request.metadata());
        let validated = arguments_validated(request.metadata());
        let request = request.into_inner();
        rt.tool(&request.name)?;
        let (tx, rx) = mpsc::channel::<StreamItem>(16);
        tokio::spawn(async move {
            let token = guard.token.clone();
            let (progress_tx, mut progress_rx) = mpsc::channel(16);
            let mut cx = ToolContext::new(rt.handle.clone(), token.clone(), Some(progress_tx));
            cx.depth = depth;
            cx.chain = chain;
            let tool = match rt.tool(&request.name) {
                Ok(tool) => tool,
                Err(status) => {
                    let _ = tx.send(Err(status)).await;
                    return;
                }
            };
            let work = tool.invoke(&request.arguments_json, validated, cx);
            tokio::pin!(work);
            let expired = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::pin!(expired);
            loop {
                tokio::select! {
                    biased;
                    _ = tx.closed() => {
                        token.cancel();
                        return;
                    }
                    _ = &mut expired => {
                        token.cancel();
                        let _ = tx.send(Err(Status::deadline_exceeded("the call's deadline passed"))).await;
                        return;
                    }
                    result = &mut work => {
                        while let Ok(progress) = progress_rx.try_recv() {
                            if tx.send(Ok(progress_message(progress))).await.is_err() {
                                return;
                            }
                        }
                        let last = result.map(|r| pb::CallToolStreamResponse {
                            event: Some(pb::call_tool_stream_response::Event::Result(r)),
                        });
                        let _ = tx.send(last).await;
                        return;
                    }
                    Some(progress) = progress_rx.recv() => {
                        if tx.send(Ok(progress_message(progress))).await.is_err() {
                            token.cancel();
                            return;
                        }
                    }
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// The depth and chain the host gave this call (PW-HOST-6); 0 and none
/// when absent.
fn call_position(metadata: &tonic::metadata::MetadataMap) -> (u32, Option<MetadataValue<Ascii>>) {
    let depth = metadata
        .get(plugwire_proto::constants::CALL_DEPTH_METADATA)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(0);
    let chain = metadata
        .get(plugwire_proto::constants::CALL_CHAIN_METADATA)
        .cloned();
    (depth, chain)
}

/// Whether the host marked the call's arguments as checked against the
/// tool's schema (PW-TOOL-16).
fn arguments_validated(metadata: &tonic::metadata::MetadataMap) -> bool {
    metadata
        .get(plugwire_proto::constants::ARGUMENTS_VALIDATED_METADATA)
        .is_some_and(|v| v.as_bytes() == plugwire_proto::constants::ARGUMENTS_VALIDATED.as_bytes())
}

fn progress_message(progress: pb::ToolProgress) -> pb::CallToolStreamResponse {
    pb::CallToolStreamResponse {
        event: Some(pb::call_tool_stream_response::Event::Progress(progress)),
    }
}

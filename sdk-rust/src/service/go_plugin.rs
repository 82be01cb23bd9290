//! go-plugin's own services (PW-GP-2), so a go-plugin host can drive a
//! plugwire plugin: the controller stops it, the stdio stream stays open
//! and empty (the plugin's stderr is the real one, which go-plugin reads as
//! its log), and the broker's control stream refuses knocks, since plugwire
//! plugins reach their host through `HostService`, not the broker.

use std::pin::Pin;
use std::sync::Arc;

use futures_util::Stream;
use plugwire_proto::go_plugin as gp;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::{DEFAULT_GRACE, Runtime};

pub(crate) struct ControllerSvc(pub(crate) Arc<Runtime>);

#[tonic::async_trait]
impl gp::grpc_controller_server::GrpcController for ControllerSvc {
    /// go-plugin's `Client.Kill` calls this and waits two seconds for the
    /// process to exit before killing it: drain as `Shutdown` would, then
    /// stop, so the process exits as soon as the client hangs up.
    async fn shutdown(&self, _request: Request<gp::Empty>) -> Result<Response<gp::Empty>, Status> {
        tracing::info!("go-plugin controller asked to shut down");
        self.0.lifecycle.drain(DEFAULT_GRACE).await;
        self.0.lifecycle.request_stop();
        Ok(Response::new(gp::Empty {}))
    }
}

pub(crate) struct StdioSvc(pub(crate) Arc<Runtime>);

type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl gp::grpc_stdio_server::GrpcStdio for StdioSvc {
    type StreamStdioStream = Boxed<gp::StdioData>;

    async fn stream_stdio(
        &self,
        _request: Request<gp::Empty>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        let stop = self.0.lifecycle.stop_token();
        // Open until the plugin stops, then ended, so the server's graceful
        // stop is not held up by it.
        let ended = futures_util::stream::once(async move { stop.cancelled_owned().await });
        Ok(Response::new(Box::pin(
            futures_util::StreamExt::filter_map(ended, |()| async { None }),
        )))
    }
}

pub(crate) struct BrokerSvc(pub(crate) Arc<Runtime>);

/// Said to a client that knocks on a brokered connection.
const NO_BROKER: &str = "this plugin does not use go-plugin's broker: plugwire plugins reach their host through HostService (PLUGWIRE_HOST_SOCKET)";

#[tonic::async_trait]
impl gp::grpc_broker_server::GrpcBroker for BrokerSvc {
    type StartStreamStream = ReceiverStream<Result<gp::ConnInfo, Status>>;

    async fn start_stream(
        &self,
        request: Request<Streaming<gp::ConnInfo>>,
    ) -> Result<Response<Self::StartStreamStream>, Status> {
        let mut incoming = request.into_inner();
        let stop = self.0.lifecycle.stop_token();
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            loop {
                let info = tokio::select! {
                    () = stop.cancelled() => break,
                    next = incoming.message() => match next {
                        Ok(Some(info)) => info,
                        Ok(None) | Err(_) => break,
                    },
                };
                // Announcements of services the host offers are ignored;
                // a knock (multiplexed brokers) gets a refusal, not silence.
                if info.knock.as_ref().is_some_and(|k| k.knock) {
                    let refusal = gp::ConnInfo {
                        service_id: info.service_id,
                        knock: Some(gp::conn_info::Knock {
                            knock: true,
                            ack: false,
                            error: NO_BROKER.to_owned(),
                        }),
                        ..gp::ConnInfo::default()
                    };
                    if tx.send(Ok(refusal)).await.is_err() {
                        break;
                    }
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

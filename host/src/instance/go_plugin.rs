//! What a plugin served by HashiCorp go-plugin's `plugin.Serve` needs of
//! its host (docs/protocol.md 2.6, PW-GP-5): go-plugin swaps the plugin's
//! stdout and stderr for pipes that only its `plugin.GRPCStdio` stream
//! drains, so the host reads that stream into the plugin's logs; and such a
//! plugin ends through go-plugin's controller rather than plugwire's
//! `Shutdown`.

use std::sync::Arc;
use std::time::Duration;

use plugwire_proto::constants::MAX_MESSAGE_SIZE;
use plugwire_proto::go_plugin::grpc_controller_client::GrpcControllerClient;
use plugwire_proto::go_plugin::grpc_stdio_client::GrpcStdioClient;
use plugwire_proto::go_plugin::{Empty, stdio_data};
use tokio::io::AsyncWriteExt;
use tonic::transport::Channel;

use crate::logs::{LogSink, Stream, pump};

/// What each stream's chunks wait in before the line reader takes them.
const CHUNK_BUFFER: usize = 64 * 1024;

/// Reads `plugin.GRPCStdio/StreamStdio` into the plugin's logs, each
/// channel line by line as the real stdout and stderr are, until the
/// stream ends; returns at once when the plugin does not serve it
/// (plugwire's SDKs serve it open and empty).
pub(crate) async fn drain_stdio(channel: Channel, logs: Arc<LogSink>) {
    let mut client = GrpcStdioClient::new(channel).max_decoding_message_size(MAX_MESSAGE_SIZE);
    let Ok(response) = client.stream_stdio(Empty {}).await else {
        return;
    };
    let mut chunks = response.into_inner();
    let (mut stdout, stdout_lines) = tokio::io::duplex(CHUNK_BUFFER);
    let (mut stderr, stderr_lines) = tokio::io::duplex(CHUNK_BUFFER);
    let feed = async move {
        while let Ok(Some(chunk)) = chunks.message().await {
            let into = match chunk.channel() {
                stdio_data::Channel::Stdout => &mut stdout,
                stdio_data::Channel::Stderr => &mut stderr,
                stdio_data::Channel::Invalid => continue,
            };
            if into.write_all(&chunk.data).await.is_err() {
                break;
            }
        }
        // Dropping the writers ends both line readers.
    };
    tokio::join!(
        feed,
        pump(stdout_lines, Stream::Stdout, logs.clone()),
        pump(stderr_lines, Stream::Stderr, logs),
    );
}

/// Asks go-plugin's controller to stop the plugin, as go-plugin's own
/// `Client.Kill` does; the answer does not matter, the exit does.
pub(crate) async fn ask_controller(channel: Channel, wait: Duration) {
    let mut request = tonic::Request::new(Empty {});
    request.set_timeout(wait);
    let _ = GrpcControllerClient::new(channel).shutdown(request).await;
}

//! The benchmark's floor for a cold start: the least a gRPC plugin server
//! can be. A tonic server with only the health service, bound on a Unix
//! socket in `PLUGIN_UNIX_SOCKET_DIR`, announcing itself with a bootstrap
//! line. No handshake, no SDK, no host.
//!
//! ```text
//! PLUGIN_UNIX_SOCKET_DIR=/tmp/x target/release/examples/bare_tonic_server
//! ```

use tokio_stream::wrappers::UnixListenerStream;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::var("PLUGIN_UNIX_SOCKET_DIR")?;
    let socket = std::path::Path::new(&dir).join("plugin.sock");
    let listener = tokio::net::UnixListener::bind(&socket)?;
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;
    println!("1|1|unix|{}|grpc|", socket.display());
    tonic::transport::Server::builder()
        .add_service(health)
        .serve_with_incoming(UnixListenerStream::new(listener))
        .await?;
    Ok(())
}

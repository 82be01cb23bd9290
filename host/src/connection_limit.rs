//! A cap on the connections one plugin may hold open to its host socket.
//! Without it a plugin (forking to get past its own fd limit) could make the
//! host hold one descriptor per connection until the host itself could open
//! no more, and then neither start nor serve any other plugin.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::transport::server::{Connected, UdsConnectInfo};

/// Connections one plugin may hold to its host socket at once. SDKs use one;
/// a plugin with many processes a few.
pub(crate) const MAX_HOST_CONNECTIONS: usize = 16;

/// An accepted connection, counted until it closes.
pub(crate) struct Counted {
    stream: UnixStream,
    _permit: OwnedSemaphorePermit,
}

/// Accepts from `listener`, closing at once every connection past `limit`
/// open ones (its descriptor is released before the next accept).
pub(crate) fn accept_limited(
    listener: UnixListener,
    limit: usize,
    plugin: String,
) -> impl Stream<Item = std::io::Result<Counted>> + Send + 'static {
    let permits = Arc::new(Semaphore::new(limit));
    futures_util::stream::unfold(
        (listener, permits, plugin, false),
        move |(listener, permits, plugin, mut warned)| async move {
            loop {
                let accepted = listener.accept().await;
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    // Out of descriptors or the like: keep serving the
                    // connections we have rather than ending the server.
                    Err(_) => {
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    }
                };
                match permits.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let counted = Counted {
                            stream,
                            _permit: permit,
                        };
                        return Some((Ok(counted), (listener, permits, plugin, warned)));
                    }
                    Err(_) => {
                        drop(stream);
                        if !warned {
                            warned = true;
                            tracing::warn!(
                                plugin = %plugin,
                                "plugin {plugin:?} holds {limit} connections to its host socket, the most allowed; refusing more"
                            );
                        }
                    }
                }
            }
        },
    )
}

impl Connected for Counted {
    type ConnectInfo = UdsConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Raises this process's soft open-file limit to its hard limit, so that
/// the host keeps a reserve of descriptors beyond what its plugins can make
/// it hold (their connections are capped well below it).
pub(crate) fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;
    use tokio::io::AsyncReadExt;

    use super::*;

    #[tokio::test]
    async fn connections_past_the_limit_are_closed_and_freed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let mut accepted = Box::pin(accept_limited(listener, 2, "p".into()));
        let mut clients = Vec::new();
        for _ in 0..2 {
            clients.push(UnixStream::connect(&path).await.unwrap());
        }
        let first = accepted.next().await.unwrap().unwrap();
        let _second = accepted.next().await.unwrap().unwrap();
        // The third is accepted and closed at once: its client sees EOF.
        let mut third = UnixStream::connect(&path).await.unwrap();
        let next = tokio::spawn(async move {
            let c = accepted.next().await;
            (c.is_some(), accepted)
        });
        let mut buf = [0u8; 1];
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), third.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 0, "refused connection is closed");
        // Closing one frees a place.
        drop(first);
        let _fourth = UnixStream::connect(&path).await.unwrap();
        let (got, _) = tokio::time::timeout(std::time::Duration::from_secs(5), next)
            .await
            .unwrap()
            .unwrap();
        assert!(got);
    }
}

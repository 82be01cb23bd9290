//! A service built on its first request. Reflection's state (every file
//! descriptor decoded and indexed, once per protocol version) was the
//! biggest part of a plugin's start, and most hosts never ask for it.

use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::NamedService;

type Build<S> = dyn Fn() -> Option<S> + Send + Sync;

/// Builds `S` on the first request and routes every request to it; if the
/// build fails, requests are answered `UNIMPLEMENTED`.
pub(crate) struct Lazy<S> {
    cell: Arc<OnceLock<Option<S>>>,
    build: Arc<Build<S>>,
}

impl<S> Clone for Lazy<S> {
    fn clone(&self) -> Self {
        Self {
            cell: self.cell.clone(),
            build: self.build.clone(),
        }
    }
}

impl<S> Lazy<S> {
    pub(crate) fn new(build: impl Fn() -> Option<S> + Send + Sync + 'static) -> Self {
        Self {
            cell: Arc::new(OnceLock::new()),
            build: Arc::new(build),
        }
    }
}

impl<S> Service<http::Request<Body>> for Lazy<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        match self.cell.get_or_init(|| (self.build)()) {
            Some(inner) => {
                // Generated tonic servers are always ready.
                let mut inner = inner.clone();
                Box::pin(async move { inner.call(request).await })
            }
            None => Box::pin(async {
                Ok(tonic::Status::unimplemented("reflection could not be built").into_http())
            }),
        }
    }
}

impl<S: NamedService> NamedService for Lazy<S> {
    const NAME: &'static str = S::NAME;
}

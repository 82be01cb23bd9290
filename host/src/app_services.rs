//! The embedding application's own gRPC services, served to plugins on
//! each plugin's host socket beside `HostService` (docs/protocol.md 13.1).
//!
//! Each service is gated by the permission `host.service:<name>`: the
//! plugin's manifest requests it, the user grants it, and the host checks
//! every call against what this very instance was started with. A call
//! that passes reaches the application's handler with a [`PluginCaller`]
//! in its extensions, set by the host from the socket the call came in on,
//! so a plugin cannot claim to be another.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::codegen::http;
use tonic::server::NamedService;
use tonic::transport::server::UdsConnectInfo;
use tower::Service;
use tower::util::BoxCloneSyncService;

use crate::grants::SERVICE_PREFIX;
use crate::peer::PeerCheck;

/// Who is calling an application service: set by the host on every call
/// that reaches the application's handler.
///
/// ```
/// use plugwire_host::app_services::PluginCaller;
/// fn who(request: &tonic::Request<()>) -> String {
///     match request.extensions().get::<PluginCaller>() {
///         Some(caller) => format!("{} {}", caller.plugin, caller.version),
///         None => "not a plugin".to_owned(),
///     }
/// }
/// assert_eq!(who(&tonic::Request::new(())), "not a plugin");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginCaller {
    /// The plugin's name.
    pub plugin: String,
    /// Its version, from its manifest.
    pub version: String,
    /// The instance (`PLUGWIRE_INSTANCE_ID`); a restart gets a new one.
    pub instance_id: String,
}

type Boxed = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Infallible>;

/// The application's services for plugins, added to
/// [`HostConfig::app_services`](crate::HostConfig::app_services).
///
/// ```
/// use plugwire_host::HostConfig;
/// # fn sessions() -> tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health> {
/// #     tonic_health::server::health_reporter().1
/// # }
/// // Any tonic server type generated from a .proto, e.g. SessionsServer::new(MySessions).
/// let config = HostConfig::new("acme", "2.1.0").app_service(sessions());
/// assert_eq!(config.app_services.names(), ["grpc.health.v1.Health"]);
/// ```
#[derive(Clone, Default)]
pub struct AppServices {
    services: Vec<(String, Boxed)>,
}

impl std::fmt::Debug for AppServices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl AppServices {
    /// Adds a service; a later one of the same name replaces it.
    pub fn add<S>(&mut self, service: S)
    where
        S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.services.retain(|(name, _)| name != S::NAME);
        self.services
            .push((S::NAME.to_owned(), BoxCloneSyncService::new(service)));
    }

    /// The services' fully qualified names, in the order added.
    pub fn names(&self) -> Vec<&str> {
        self.services.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// Which of the services `permissions` (a manifest's `permissions.host`)
    /// lets a plugin call: what its handshake lists.
    ///
    /// ```
    /// let services = plugwire_host::app_services::AppServices::default();
    /// assert!(services.allowed(&["host.service:acme.X".to_owned()]).is_empty());
    /// ```
    pub fn allowed(&self, permissions: &[String]) -> Vec<String> {
        self.services
            .iter()
            .map(|(name, _)| name)
            .filter(|name| permissions.iter().any(|p| is_service_grant(p, name)))
            .cloned()
            .collect()
    }

    /// Adds every service, gated for one plugin instance, to `routes`.
    pub(crate) fn route(
        &self,
        mut routes: tonic::service::Routes,
        caller: &PluginCaller,
        permissions: &[String],
        peer: &PeerCheck,
    ) -> tonic::service::Routes {
        let caller = Arc::new(caller.clone());
        for (name, service) in &self.services {
            let gate = Gate {
                service: Arc::from(name.as_str()),
                allowed: permissions.iter().any(|p| is_service_grant(p, name)),
                caller: caller.clone(),
                peer: peer.clone(),
                inner: service.clone(),
            };
            let router = std::mem::take(routes.axum_router_mut());
            *routes.axum_router_mut() = router.route_service(&format!("/{name}/{{*method}}"), gate);
        }
        routes
    }
}

fn is_service_grant(permission: &str, service: &str) -> bool {
    permission.strip_prefix(SERVICE_PREFIX) == Some(service)
}

/// One application service as one plugin instance reaches it.
#[derive(Clone)]
struct Gate {
    service: Arc<str>,
    allowed: bool,
    caller: Arc<PluginCaller>,
    peer: PeerCheck,
    inner: Boxed,
}

impl<B> Service<http::Request<B>> for Gate
where
    B: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = tonic::codegen::BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The inner service is cloned per call below, so it is made ready
        // there; being ready here never waits on it.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let refused = self
            .peer
            .check(request.extensions().get::<UdsConnectInfo>())
            .err()
            .or_else(|| {
                (!self.allowed).then(|| {
                    tonic::Status::permission_denied(format!(
                        "plugin {:?} lacks permission \"{SERVICE_PREFIX}{}\"; add it to `permissions.host` in its plugin.toml and grant it",
                        self.caller.plugin, self.service
                    ))
                })
            });
        if let Some(status) = refused {
            return Box::pin(async move { Ok(status.into_http()) });
        }
        let (parts, body) = request.into_parts();
        let mut request = http::Request::from_parts(parts, Body::new(body));
        request.extensions_mut().insert((*self.caller).clone());
        let mut inner = self.inner.clone();
        Box::pin(async move {
            std::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_service_is_granted() {
        assert!(is_service_grant(
            "host.service:acme.session.v1.Sessions",
            "acme.session.v1.Sessions"
        ));
        assert!(!is_service_grant(
            "host.service:acme.session.v1.Sessions",
            "acme.session.v1.SessionsAdmin"
        ));
        assert!(!is_service_grant("host.storage", "host.storage"));
    }
}

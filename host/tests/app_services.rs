//! An application's own services for plugins (docs/protocol.md 13.1): the
//! test plays an application serving `acme.session.v1.Sessions`, and the
//! `whoami` example plugin calls it on its host channel.

mod common;

use common::Plugins;
use plugwire_example_whoami::pb::sessions_server::{Sessions, SessionsServer};
use plugwire_example_whoami::pb::{CurrentRequest, Session};
use plugwire_host::app_services::PluginCaller;
use plugwire_host::discovery::Problem;
use plugwire_host::{CallOptions, Host, HostConfig};
use serde_json::json;
use tonic::{Request, Response, Status};

/// The application's session manager: answers with who the host says is
/// calling.
struct Acme;

#[tonic::async_trait]
impl Sessions for Acme {
    async fn current(&self, request: Request<CurrentRequest>) -> Result<Response<Session>, Status> {
        let caller = request
            .extensions()
            .get::<PluginCaller>()
            .ok_or_else(|| Status::internal("no PluginCaller: not called through a plugin host"))?;
        assert!(!caller.instance_id.is_empty());
        Ok(Response::new(Session {
            id: "s-1".into(),
            user: "ada".into(),
            caller: format!("{} {}", caller.plugin, caller.version),
        }))
    }
}

fn acme(plugins: &Plugins) -> HostConfig {
    let mut config = plugins.config();
    config.app_name = "acme".into();
    config.app_version = "2.1.0".into();
    config.app_service(SessionsServer::new(Acme))
}

#[tokio::test]
async fn a_granted_plugin_calls_the_application_as_itself() {
    let plugins = Plugins::new(&["whoami"]);
    let host = Host::start(acme(&plugins)).await.unwrap();
    let out = host
        .call_tool("whoami.current_session", json!({}), CallOptions::default())
        .await
        .unwrap();
    assert!(!out.is_error, "{}", out.content);
    assert_eq!(
        out.content,
        json!({"id": "s-1", "user": "ada", "caller": "whoami 0.1.0", "offered": ["acme.session.v1.Sessions"]})
    );
    host.shutdown().await;
}

#[tokio::test]
async fn a_plugin_without_the_permission_is_refused_naming_it() {
    let plugins = Plugins::new(&["whoami"]);
    plugins.edit("whoami", |t| {
        t.replace("host = [\"host.service:acme.session.v1.Sessions\"]", "")
    });
    let host = Host::start(acme(&plugins)).await.unwrap();
    // The SDK knows from the handshake that the service is not offered.
    let out = host
        .call_tool("whoami.current_session", json!({}), CallOptions::default())
        .await
        .unwrap();
    assert!(out.is_error);
    let text = out.content.to_string();
    assert!(
        text.contains("PermissionDenied") && text.contains("does not offer"),
        "{text}"
    );
    // Calling anyway, the host refuses it itself.
    let out = host
        .call_tool(
            "whoami.current_session",
            json!({"unchecked": true}),
            CallOptions::default(),
        )
        .await
        .unwrap();
    assert!(out.is_error);
    let text = out.content.to_string();
    assert!(
        text.contains("PermissionDenied")
            && text.contains("lacks permission \\\"host.service:acme.session.v1.Sessions\\\""),
        "{text}"
    );
    host.shutdown().await;
}

#[tokio::test]
async fn a_requested_service_is_not_granted_by_its_name_alone() {
    let plugins = Plugins::new(&["whoami"]);
    let mut config = acme(&plugins);
    config.grants = Default::default();
    config
        .grants
        .grant("whoami", ["host.service:acme.session.v1.Other"]);
    let host = Host::start(config).await.unwrap();
    let err = host
        .call_tool("whoami.current_session", json!({}), CallOptions::default())
        .await
        .unwrap_err();
    assert!(
        err.message()
            .contains("host.service:acme.session.v1.Sessions: medium risk"),
        "{}",
        err.message()
    );
    host.shutdown().await;
}

#[tokio::test]
async fn a_plugin_for_another_application_is_skipped() {
    let plugins = Plugins::new(&["whoami"]);
    plugins.edit("whoami", |t| {
        t.replace("[protocol]", "[protocol]\napp = \"acme\"")
    });
    let mut config = acme(&plugins);
    config.app_name = "zed".into();
    // Its own application runs it.
    let host = Host::start(acme(&plugins)).await.unwrap();
    assert!(host.problems().is_empty(), "{:?}", host.problems());
    host.shutdown().await;
    let host = Host::start(config).await.unwrap();
    let problems = host.problems();
    assert!(
        problems
            .iter()
            .any(|p| matches!(p, Problem::Incompatible { name, why }
            if name == "whoami" && why.contains("written for the application \"acme\""))),
        "{problems:?}"
    );
    host.shutdown().await;
}

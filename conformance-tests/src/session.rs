//! The plugin under test, as the checks reach it: started, connected,
//! handshaken and configured on first need, once. A check asks for what it
//! needs; whatever could not be had is its failure (or, attached to a
//! running plugin, not applicable).

use plugwire_proto::constants::features;
use plugwire_proto::pb;
use serde_json::Value;
use tonic::transport::Channel;

use crate::spawn::{Failed, Process, Starter};

/// The suite's handshake: it names itself and offers a feature nobody
/// knows, which the plugin must ignore (PW-HS-4).
pub(crate) fn handshake_request() -> pb::HandshakeRequest {
    pb::HandshakeRequest {
        host: Some(pb::HostInfo {
            name: "plugwire-conformance".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            app_name: "plugwire-conformance".into(),
            app_version: env!("CARGO_PKG_VERSION").into(),
        }),
        protocol_version: 1,
        features: vec!["a.feature.nobody.knows".into()],
        instance_id: "00000000-0000-4000-8000-000000000001".into(),
        plugin_name: String::new(),
        default_call_timeout: None,
        host_services: Vec::new(),
    }
}

/// A tool client that takes messages as large as the protocol allows.
pub(crate) fn tool_client(
    channel: &Channel,
) -> pb::tool_service_client::ToolServiceClient<Channel> {
    pb::tool_service_client::ToolServiceClient::new(channel.clone())
        .max_decoding_message_size(plugwire_proto::constants::MAX_MESSAGE_SIZE)
        .max_encoding_message_size(plugwire_proto::constants::MAX_MESSAGE_SIZE)
}

pub(crate) struct Session {
    /// What `Configure` sends.
    pub(crate) config: Value,
    /// Starts the plugin; `None` when attached to one already serving.
    starter: Option<Starter>,
    /// The main process, once started (or its failed start).
    main: Option<Result<Process, Failed>>,
    /// Why the main process is not there, once known.
    main_failure: Option<String>,
    channel: Option<Result<Channel, String>>,
    handshake: Option<Result<pb::HandshakeResponse, String>>,
    configured: Option<Result<(), String>>,
    listed_tools: Option<Option<Vec<pb::Tool>>>,
    /// A second process, offered versions 1 and 99.
    second: Option<Result<Process, Failed>>,
}

impl Session {
    /// A session that starts the plugin itself.
    pub(crate) fn launched(starter: Starter, config: Value) -> Self {
        Self::new(Some(starter), None, config)
    }

    /// A session on a plugin already serving on `channel`.
    pub(crate) fn attached(channel: Channel, config: Value) -> Self {
        Self::new(None, Some(Ok(channel)), config)
    }

    fn new(
        starter: Option<Starter>,
        channel: Option<Result<Channel, String>>,
        config: Value,
    ) -> Self {
        Self {
            config,
            starter,
            main: None,
            main_failure: None,
            channel,
            handshake: None,
            configured: None,
            listed_tools: None,
            second: None,
        }
    }

    /// The starter, or not applicable when attached.
    pub(crate) fn starter(&self) -> Result<&Starter, String> {
        self.starter.as_ref().ok_or_else(|| {
            "n/a: attached to a running plugin: only a plugin the suite starts can be checked for this"
                .to_owned()
        })
    }

    /// The main start, as it went (started on first call).
    pub(crate) async fn main_start(&mut self) -> Result<&Result<Process, Failed>, String> {
        if self.main.is_none() {
            let starter = self.starter()?;
            let started = starter
                .start(&starter.versions(), true, starter.bootstrap_timeout)
                .await;
            if let Err(failed) = &started {
                let status = failed
                    .exit_status(std::time::Duration::from_millis(500))
                    .await;
                self.main_failure = Some(format!(
                    "not run: the plugin did not start: {}{}\n  stderr: {}",
                    failed.failure.message,
                    status.map(|s| format!(" ({s})")).unwrap_or_default(),
                    failed.stderr.text().trim()
                ));
            }
            self.main = Some(started);
        }
        Ok(self.main.as_ref().expect("set above"))
    }

    /// The main process, or why there is none.
    pub(crate) async fn main(&mut self) -> Result<&Process, String> {
        self.main_start().await?;
        match (&self.main, &self.main_failure) {
            (Some(Ok(process)), _) => Ok(process),
            (_, Some(why)) => Err(why.clone()),
            _ => Err("not run: the plugin did not start".into()),
        }
    }

    /// The channel to the plugin.
    pub(crate) async fn channel(&mut self) -> Result<Channel, String> {
        if self.channel.is_none() {
            let channel = match self.main().await {
                Ok(process) => process.channel().await,
                Err(why) => Err(why),
            };
            self.channel = Some(channel);
        }
        self.channel.clone().expect("set above")
    }

    /// The plugin's answer to the suite's handshake.
    pub(crate) async fn handshake(&mut self) -> Result<pb::HandshakeResponse, String> {
        if self.handshake.is_none() {
            let channel = self.channel().await?;
            let answer = pb::plugin_service_client::PluginServiceClient::new(channel)
                .handshake(handshake_request())
                .await
                .map(|r| r.into_inner())
                .map_err(|s| {
                    format!(
                        "Handshake failed (unknown features must be ignored, PW-HS-4): {}",
                        s.message()
                    )
                });
            self.handshake = Some(answer);
        }
        self.handshake.clone().expect("set above")
    }

    /// What the plugin declared (nothing, if the handshake failed); an
    /// error when there is no plugin to ask.
    pub(crate) async fn capabilities(&mut self) -> Result<pb::Capabilities, String> {
        self.channel().await?;
        Ok(self
            .handshake()
            .await
            .ok()
            .and_then(|h| h.capabilities)
            .unwrap_or_default())
    }

    /// Sends `Configure` once, after the handshake; its outcome.
    pub(crate) async fn configure(&mut self) -> Result<(), String> {
        if self.configured.is_none() {
            self.handshake().await?;
            let channel = self.channel().await?;
            let config = self.config.to_string();
            let outcome = pb::plugin_service_client::PluginServiceClient::new(channel)
                .configure(pb::ConfigureRequest {
                    config_json: config.clone(),
                })
                .await
                .map(|_| ())
                .map_err(|s| {
                    format!(
                        "Configure({config}) failed: {:?}: {}",
                        s.code(),
                        s.message()
                    )
                });
            self.configured = Some(outcome);
        }
        self.configured.clone().expect("set above")
    }

    /// The channel of a handshaken, configured plugin, ready for calls.
    pub(crate) async fn ready(&mut self) -> Result<Channel, String> {
        // A failed Configure is its own check's failure; calls go on.
        let _ = self.configure().await;
        self.channel().await
    }

    /// `ListTools`, when the plugin declares tools and the call succeeds.
    pub(crate) async fn listed_tools(&mut self) -> Result<Option<Vec<pb::Tool>>, String> {
        if self.listed_tools.is_none() {
            let listed = if self.capabilities().await?.tools.is_empty() {
                None
            } else {
                match self.ready().await {
                    Ok(channel) => tool_client(&channel)
                        .list_tools(pb::ListToolsRequest {})
                        .await
                        .ok()
                        .map(|r| r.into_inner().tools),
                    Err(_) => None,
                }
            };
            self.listed_tools = Some(listed);
        }
        Ok(self.listed_tools.clone().expect("set above"))
    }

    /// Whether the handshake declared `feature`; an error when there is no
    /// plugin to ask.
    pub(crate) async fn has_feature(&mut self, feature: &str) -> Result<bool, String> {
        self.channel().await?;
        Ok(self
            .handshake()
            .await
            .is_ok_and(|h| h.features.iter().any(|f| f == feature)))
    }

    /// The ready channel of a plugin with the fixture profile, or not
    /// applicable.
    pub(crate) async fn fixture(&mut self) -> Result<Channel, String> {
        if !self.has_feature(features::CONFORMANCE).await? {
            return Err(
                "n/a: the plugin does not declare the `conformance` feature (docs/conformance.md)"
                    .into(),
            );
        }
        self.ready().await
    }

    /// A second process, offered versions 1 and 99 (started on first call,
    /// and only once the main one started).
    pub(crate) async fn second(&mut self) -> Result<&Process, String> {
        self.main().await?;
        if self.second.is_none() {
            let starter = self.starter()?;
            self.second = Some(
                starter
                    .start(&[1, 99], true, starter.bootstrap_timeout)
                    .await,
            );
        }
        match self.second.as_ref().expect("set above") {
            Ok(process) => Ok(process),
            Err(f) => Err(format!(
                "offered 1,99 the plugin did not start: {}",
                f.failure.message
            )),
        }
    }
}

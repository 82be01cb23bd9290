//! The [`Plugin`] builder: what a plugin is and what it offers.

use std::any::Any;
use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;

use plugwire_proto::names;
use plugwire_proto::pb;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tonic::server::NamedService;
use tonic::service::{Routes, RoutesBuilder};

use crate::command::Command;
use crate::error::ConfigError;
use crate::handle::json_pointer_of;
use crate::hook::Hook;
use crate::tool::Tool;

pub(crate) type ConfigFnRef = ConfigFn;
type ConfigFn =
    Arc<dyn Fn(&Value) -> Result<Arc<dyn Any + Send + Sync>, ConfigError> + Send + Sync>;

/// A plugin: its identity and everything it offers. Build one, then hand it
/// to [`serve`](crate::serve) (or [`testing::TestHost`](crate::testing::TestHost)).
///
/// ```no_run
/// use plugwire_sdk::{Plugin, Tool, ToolContext, ToolError};
/// use schemars::JsonSchema;
/// use serde::Deserialize;
///
/// #[derive(Deserialize, JsonSchema)]
/// struct Args { text: String }
///
/// let plugin = Plugin::new("echo", "0.1.0")
///     .description("Says things back")
///     .tool(Tool::new("echo", "Returns `text` unchanged", |args: Args, _cx: ToolContext| async move {
///         Ok::<_, ToolError>(args.text)
///     }));
/// plugwire_sdk::serve_blocking(plugin);
/// ```
pub struct Plugin {
    pub(crate) info: pb::PluginInfo,
    pub(crate) tools: Vec<Tool>,
    pub(crate) commands: Vec<Command>,
    pub(crate) hooks: Vec<Hook>,
    pub(crate) providers: Vec<pb::ProviderDeclaration>,
    pub(crate) provider_routes: RoutesBuilder,
    pub(crate) descriptors: Vec<&'static [u8]>,
    pub(crate) features: Vec<String>,
    pub(crate) config: Option<ConfigFn>,
}

impl Plugin {
    /// A plugin named `name` (lower-case letters, digits and `-`) at
    /// `version` (semver; `env!("CARGO_PKG_VERSION")` is typical).
    ///
    /// ```
    /// let plugin = plugwire_sdk::Plugin::new("hello", env!("CARGO_PKG_VERSION"));
    /// # let _ = plugin;
    /// ```
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            info: pb::PluginInfo {
                name: name.into(),
                version: version.into(),
                description: String::new(),
            },
            tools: Vec::new(),
            commands: Vec::new(),
            hooks: Vec::new(),
            providers: Vec::new(),
            provider_routes: RoutesBuilder::default(),
            descriptors: Vec::new(),
            features: Vec::new(),
            config: None,
        }
    }

    /// A one-line description shown by hosts.
    ///
    /// ```
    /// let plugin = plugwire_sdk::Plugin::new("hello", "0.1.0").description("Greets people");
    /// # let _ = plugin;
    /// ```
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.info.description = description.into();
        self
    }

    /// Adds a tool.
    ///
    /// ```
    /// use plugwire_sdk::{Plugin, Tool, ToolContext, ToolError};
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct NoArgs {}
    /// let plugin = Plugin::new("clock", "0.1.0").tool(Tool::new(
    ///     "now", "Seconds since the epoch",
    ///     |_: NoArgs, _cx: ToolContext| async move {
    ///         Ok::<_, ToolError>(std::time::UNIX_EPOCH.elapsed().map(|d| d.as_secs()).unwrap_or(0))
    ///     },
    /// ));
    /// # let _ = plugin;
    /// ```
    pub fn tool(mut self, tool: Tool) -> Self {
        self.tools.push(tool);
        self
    }

    /// Adds a CLI command.
    ///
    /// ```
    /// use plugwire_sdk::{Command, CommandContext, CommandIo, Plugin};
    /// let plugin = Plugin::new("hello", "0.1.0").command(
    ///     Command::new("hello").short("Prints a greeting").run(|_cx: CommandContext, mut io: CommandIo| async move {
    ///         io.stdout.print("hello\n").await?;
    ///         Ok(0)
    ///     }),
    /// );
    /// # let _ = plugin;
    /// ```
    pub fn command(mut self, command: Command) -> Self {
        self.commands.push(command);
        self
    }

    /// Adds a hook; its subscription is declared in the handshake.
    ///
    /// ```
    /// use plugwire_sdk::{Decision, Hook, HookContext, HookEvent, Plugin};
    /// let plugin = Plugin::new("guard", "0.1.0").hook(Hook::intercept(
    ///     "shell.exec",
    ///     |event: HookEvent, _cx: HookContext| async move {
    ///         Ok(if event.payload["cmd"] == "rm -rf /" { Decision::deny("no") } else { Decision::Continue })
    ///     },
    /// ));
    /// # let _ = plugin;
    /// ```
    pub fn hook(mut self, hook: Hook) -> Self {
        self.hooks.push(hook);
        self
    }

    /// Serves an application-defined gRPC service (any tonic server type) on
    /// the plugin's socket and declares it as provider `name` (PW-PROV-1).
    ///
    /// ```ignore
    /// let plugin = Plugin::new("kv", "0.1.0")
    ///     .provider("memory", KeyValueServer::new(MemoryStore::default()))
    ///     .reflection_descriptor(kv_proto::FILE_DESCRIPTOR_SET);
    /// ```
    pub fn provider<S>(mut self, name: impl Into<String>, service: S) -> Self
    where
        S: tonic::codegen::Service<
                tonic::codegen::http::Request<tonic::body::Body>,
                Response = tonic::codegen::http::Response<tonic::body::Body>,
                Error = Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.providers.push(pb::ProviderDeclaration {
            service: S::NAME.to_owned(),
            name: name.into(),
        });
        self.provider_routes.add_service(service);
        self
    }

    /// Registers an encoded `FileDescriptorSet` with the plugin's gRPC
    /// reflection service, so tools like `grpcurl` and the conformance suite
    /// can discover provider services (PW-PROV-2).
    ///
    /// ```
    /// let plugin = plugwire_sdk::Plugin::new("x", "0.1.0")
    ///     .reflection_descriptor(plugwire_proto::pb::FILE_DESCRIPTOR_SET);
    /// # let _ = plugin;
    /// ```
    pub fn reflection_descriptor(mut self, encoded: &'static [u8]) -> Self {
        self.descriptors.push(encoded);
        self
    }

    /// Declares an optional protocol feature (PW-HS-4), e.g.
    /// [`features::CONFORMANCE`](plugwire_proto::constants::features::CONFORMANCE).
    ///
    /// ```
    /// let plugin = plugwire_sdk::Plugin::new("x", "0.1.0").feature("conformance");
    /// # let _ = plugin;
    /// ```
    pub fn feature(mut self, name: impl Into<String>) -> Self {
        self.features.push(name.into());
        self
    }

    /// Accepts configuration of type `C` in `Configure`. A configuration that
    /// does not deserialize is rejected with `INVALID_ARGUMENT` naming the
    /// field (PW-CFG-2). Handlers read it with
    /// [`PluginHandle::config`].
    ///
    /// ```
    /// #[derive(serde::Deserialize)]
    /// struct Settings { greeting: String }
    /// let plugin = plugwire_sdk::Plugin::new("hello", "0.1.0").config::<Settings>();
    /// # let _ = plugin;
    /// ```
    pub fn config<C: DeserializeOwned + Send + Sync + 'static>(self) -> Self {
        self.config_with(|value: &Value| {
            serde_path_to_error::deserialize::<_, C>(value).map_err(|e| {
                let pointer = json_pointer_of(e.path());
                ConfigError::new(pointer, e.inner().to_string())
            })
        })
    }

    /// Like [`Plugin::config`], with a custom parser for extra checks.
    ///
    /// ```
    /// use plugwire_sdk::ConfigError;
    /// let plugin = plugwire_sdk::Plugin::new("x", "0.1.0").config_with(|v| {
    ///     let retries = v.get("retries").and_then(|r| r.as_u64()).unwrap_or(3);
    ///     if retries > 10 { return Err(ConfigError::new("/retries", "at most 10")); }
    ///     Ok(retries)
    /// });
    /// # let _ = plugin;
    /// ```
    pub fn config_with<C, F>(mut self, parse: F) -> Self
    where
        C: Send + Sync + 'static,
        F: Fn(&Value) -> Result<C, ConfigError> + Send + Sync + 'static,
    {
        self.config = Some(Arc::new(move |value| {
            parse(value).map(|c| Arc::new(c) as Arc<dyn Any + Send + Sync>)
        }));
        self
    }

    /// The handshake's capabilities for this plugin.
    pub(crate) fn capabilities(&self) -> pb::Capabilities {
        pb::Capabilities {
            tools: self.tools.iter().map(|t| t.decl.name.clone()).collect(),
            commands: self
                .commands
                .iter()
                .map(|c| names::command_full_name(&c.decl))
                .collect(),
            hooks: self.hooks.iter().map(Hook::subscription).collect(),
            providers: self.providers.clone(),
        }
    }

    /// Checks every declaration against the protocol's rules, so a mistake
    /// fails at start-up with a clear message instead of confusing a host.
    pub(crate) fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if let Err(e) = names::validate_plugin_name(&self.info.name) {
            problems.push(e);
        }
        let mut seen = HashSet::new();
        for tool in &self.tools {
            if let Err(e) = names::validate_tool_name(&tool.decl.name) {
                problems.push(e);
            }
            if !seen.insert(tool.decl.name.as_str()) {
                problems.push(format!("tool {:?} is declared twice", tool.decl.name));
            }
        }
        let mut seen = HashSet::new();
        for command in &self.commands {
            if let Err(mut e) = names::validate_command(&command.decl) {
                problems.append(&mut e);
            }
            if !seen.insert(names::command_full_name(&command.decl)) {
                problems.push(format!("command {:?} is declared twice", command.decl.name));
            }
        }
        let mut seen = HashSet::new();
        for hook in &self.hooks {
            let sub = hook.subscription();
            if let Err(e) = names::validate_subscription(&sub) {
                problems.push(e);
            }
            if !seen.insert((sub.pattern.clone(), sub.mode)) {
                problems.push(format!(
                    "two hooks of the same mode subscribe to {:?}",
                    sub.pattern
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    pub(crate) fn take_routes(&mut self) -> Routes {
        std::mem::take(&mut self.provider_routes).routes()
    }
}

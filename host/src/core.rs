//! The host's state, which the front ([`Host`](crate::Host)), dispatch and
//! the plugin set's changes share: the context instances get, the live
//! registry, the event bus, and what discovery found wrong.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::broadcast;
use tonic::Status;

use crate::context::Context;
use crate::discovery::Problem;
use crate::events::HostEvent;
use crate::in_flight::CallGuard;
use crate::instance::{Connection, Instance};
use crate::registry::Registry;

/// A running plugin held in flight, with its connection.
pub(crate) struct Held {
    pub(crate) instance: Arc<Instance>,
    pub(crate) guard: CallGuard,
    pub(crate) conn: Arc<Connection>,
}

pub(crate) struct Core {
    pub(crate) ctx: Arc<Context>,
    pub(crate) registry: Registry<Instance>,
    pub(crate) bus: broadcast::Sender<HostEvent>,
    /// Problems found by discovery (and by later additions).
    pub(crate) problems: Mutex<Vec<Problem>>,
    /// Configuration set at run time, per plugin ([`crate::Host::configure_plugin`]).
    pub(crate) overrides: Mutex<BTreeMap<String, Value>>,
    /// Changes to the plugin set happen one at a time.
    pub(crate) changes: tokio::sync::Mutex<()>,
}

impl Core {
    fn not_found(&self, name: &str) -> Status {
        let names = self.registry.names();
        let suggestion = plugwire_proto::text::did_you_mean(name, names.iter().map(String::as_str));
        Status::not_found(format!(
            "no plugin named {name:?}{suggestion}; loaded: {}",
            names.join(", ")
        ))
    }

    /// The plugin named `name`.
    pub(crate) fn instance(&self, name: &str) -> Result<Arc<Instance>, Status> {
        self.registry.get(name).ok_or_else(|| self.not_found(name))
    }

    /// The plugin named `name`, counted in flight until the guard drops:
    /// a reload lets the call finish on the instance it began on.
    pub(crate) fn checkout(&self, name: &str) -> Result<(Arc<Instance>, CallGuard), Status> {
        self.registry
            .checkout(name)
            .ok_or_else(|| self.not_found(name))
    }

    /// Every plugin with a live process, and its connection.
    pub(crate) fn running(&self) -> Vec<(Arc<Instance>, Arc<Connection>)> {
        self.registry
            .all()
            .into_iter()
            .filter_map(|i| {
                let conn = i.current().filter(|c| !c.has_exited())?;
                Some((i, conn))
            })
            .collect()
    }

    /// Every plugin with a live process, each checked out (held in flight
    /// until its guard drops) together with its connection: what a command
    /// or an event is resolved against, so that a reload in between cannot
    /// stop the plugin it resolves to.
    pub(crate) fn held(&self) -> Vec<Held> {
        self.registry
            .names()
            .into_iter()
            .filter_map(|name| {
                let (instance, guard) = self.registry.checkout(&name)?;
                let conn = instance.current().filter(|c| !c.has_exited())?;
                Some(Held {
                    instance,
                    guard,
                    conn,
                })
            })
            .collect()
    }

    /// Starts every enabled plugin that is not running, concurrently.
    pub(crate) async fn start_all(&self) {
        use crate::instance::PluginState;
        futures_util::future::join_all(
            self.registry
                .all()
                .into_iter()
                .filter(|i| i.phase() == PluginState::Stopped)
                .map(|i| async move {
                    let _ = i.ensure_ready().await;
                }),
        )
        .await;
    }

    /// The configuration a plugin starts with: every source merged, the
    /// schema's defaults applied, checked (docs/manifest.md).
    pub(crate) fn plugin_config(
        &self,
        manifest: &crate::manifest::Manifest,
        runtime: Option<&Value>,
    ) -> Result<Value, String> {
        let overrides = self.overrides.lock().unwrap_or_else(|e| e.into_inner());
        let config = &self.ctx.config;
        crate::plugin_config::effective(
            manifest,
            &crate::plugin_config::Sources {
                dir: config.config_dir.as_deref(),
                host: config.plugin_config.get(&manifest.name),
                runtime: runtime.or_else(|| overrides.get(&manifest.name)),
            },
        )
    }
}

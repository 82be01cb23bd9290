//! Changes to the live plugin set: add, remove, reload, reconfigure,
//! enable and disable, one at a time, under concurrent calls.
//!
//! A replacement (reload, or a reconfiguration of a running plugin) starts
//! the new instance first, beside the old one; only once it is ready does
//! the registry switch new calls to it. Calls already on the old instance
//! finish (up to the drain deadline, [`Timeouts::drain`](crate::Timeouts::drain)),
//! then the old one stops. If the new instance cannot start or be
//! configured, the old one keeps serving and the change returns the new
//! one's error.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use tonic::Status;

use crate::config::StartPolicy;
use crate::core::Core;
use crate::discovery::{Origin, load_one};
use crate::instance::{Instance, PluginStatus, Shared};
use crate::manifest::Manifest;
use crate::registry::Member;

impl Core {
    /// Builds the instance of `manifest` with its configuration resolved
    /// (an error in it is kept: the plugin is listed, and fails to start).
    fn instance_of(
        &self,
        manifest: Manifest,
        origin: Origin,
        shared: Shared,
        enabled: bool,
    ) -> Arc<Instance> {
        let config = self.plugin_config(&manifest, None);
        Arc::new(Instance::new(
            manifest,
            origin,
            self.ctx.clone(),
            shared,
            config,
            enabled,
        ))
    }

    pub(crate) async fn add_plugin(&self, dir: &Path) -> Result<PluginStatus, Status> {
        let _change = self.changes.lock().await;
        let manifest = load_one(dir, Origin::Explicit, &(&self.ctx.config).into())
            .map_err(|p| Status::invalid_argument(p.to_string()))?;
        let name = manifest.name.clone();
        if let Some(existing) = self.registry.get(&name) {
            return Err(Status::already_exists(format!(
                "a plugin named {name:?} is already loaded, from {}; remove it first, or reload it",
                existing.manifest.dir.display()
            )));
        }
        let shared = Shared::new(&self.ctx, &name);
        let enabled = !self.ctx.config.disabled.contains(&name);
        let instance = self.instance_of(manifest, Origin::Explicit, shared, enabled);
        self.registry
            .insert(instance.clone())
            .map_err(|_| Status::already_exists(format!("plugin {name:?} was added meanwhile")))?;
        self.lifecycle(
            "plugin.added",
            json!({
                "plugin": name,
                "version": instance.manifest.version.to_string(),
                "dir": instance.manifest.dir,
                "enabled": enabled,
            }),
        );
        if self.ctx.config.start == StartPolicy::Eager && enabled {
            // A failed start leaves the plugin added and failed, as at host start.
            let _ = instance.ensure_ready().await;
        }
        Ok(instance.status())
    }

    pub(crate) async fn remove_plugin(&self, name: &str) -> Result<(), Status> {
        let _change = self.changes.lock().await;
        let old = self.registry.remove(name).ok_or_else(|| {
            Status::not_found(format!(
                "no plugin named {name:?}; loaded: {}",
                self.registry.names().join(", ")
            ))
        })?;
        old.retire();
        self.overrides
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        self.lifecycle("plugin.removed", json!({"plugin": name}));
        self.drain_and_stop(&old).await;
        Ok(())
    }

    pub(crate) async fn reload_plugin(&self, name: &str) -> Result<PluginStatus, Status> {
        let _change = self.changes.lock().await;
        let old = self.instance(name)?;
        let manifest = load_one(&old.manifest.dir, old.origin, &(&self.ctx.config).into())
            .map_err(|p| Status::failed_precondition(format!("cannot reload {name:?}: {p}")))?;
        if manifest.name != name {
            return Err(Status::failed_precondition(format!(
                "the manifest in {} now names the plugin {:?}, not {name:?}; remove {name:?} and add the directory again to rename it",
                old.manifest.dir.display(),
                manifest.name
            )));
        }
        let previous = old.manifest.version.to_string();
        let new = self.replace(&old, manifest).await?;
        self.announce_replacement(
            "plugin.reloaded",
            &new,
            json!({"previous_version": previous}),
        );
        self.drain_and_stop(&old).await;
        Ok(new.status())
    }

    pub(crate) async fn configure_plugin(
        &self,
        name: &str,
        config: Value,
    ) -> Result<PluginStatus, Status> {
        let _change = self.changes.lock().await;
        let old = self.instance(name)?;
        // Checked before anything changes: a refused configuration leaves
        // the plugin as it was.
        self.plugin_config(&old.manifest, Some(&config))
            .map_err(Status::invalid_argument)?;
        let previous = self
            .overrides
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), config);
        match self.replace(&old, old.manifest.clone()).await {
            Ok(new) => {
                self.announce_replacement("plugin.configured", &new, json!({}));
                self.drain_and_stop(&old).await;
                Ok(new.status())
            }
            Err(status) => {
                let mut overrides = self.overrides.lock().unwrap_or_else(|e| e.into_inner());
                match previous {
                    Some(previous) => overrides.insert(name.to_owned(), previous),
                    None => overrides.remove(name),
                };
                Err(status)
            }
        }
    }

    pub(crate) async fn set_enabled(&self, name: &str, enabled: bool) -> Result<(), Status> {
        let _change = self.changes.lock().await;
        let instance = self.instance(name)?;
        if instance.enabled() == enabled {
            return Ok(());
        }
        instance.set_enabled(enabled);
        self.registry.bump();
        if enabled {
            self.lifecycle("plugin.enabled", json!({"plugin": name}));
            if self.ctx.config.start == StartPolicy::Eager {
                let _ = instance.ensure_ready().await;
            }
        } else {
            self.lifecycle("plugin.disabled", json!({"plugin": name}));
            // New calls are refused from now on; running ones finish.
            if !instance
                .in_flight()
                .drained(self.ctx.config.timeouts.drain)
                .await
            {
                tracing::warn!(
                    plugin = name,
                    "calls still running at the drain deadline; stopping it anyway"
                );
            }
            instance.stop().await;
        }
        Ok(())
    }

    /// Puts a new instance of `manifest` in the place of `old`. A running
    /// old instance is replaced only by a ready new one; a stopped one by
    /// an instance that starts on first use, once its configuration passes.
    async fn replace(
        &self,
        old: &Arc<Instance>,
        manifest: Manifest,
    ) -> Result<Arc<Instance>, Status> {
        let name = old.name().to_owned();
        let new = self.instance_of(manifest, old.origin, old.shared(), old.enabled());
        if let Err(why) = new.config() {
            return Err(self.refuse_replacement(&name, Status::invalid_argument(why.to_owned())));
        }
        let running = old.current().is_some_and(|c| !c.has_exited());
        if running && new.enabled() {
            new.set_announce(false);
            if let Err(status) = new.ensure_ready().await {
                new.retire();
                new.stop().await;
                return Err(self.refuse_replacement(&name, status));
            }
            new.set_announce(true);
        }
        if self.registry.replace(new.clone()).is_err() {
            // Removed while the new one started: it has nowhere to go.
            new.retire();
            new.stop().await;
            return Err(Status::not_found(format!(
                "plugin {name:?} was removed during the change"
            )));
        }
        old.retire();
        if !running && new.enabled() && self.ctx.config.start == StartPolicy::Eager {
            // Nothing was serving to keep; a failed start shows in the status.
            let _ = new.ensure_ready().await;
        }
        Ok(new)
    }

    fn refuse_replacement(&self, name: &str, status: Status) -> Status {
        self.lifecycle(
            "plugin.reload_failed",
            json!({"plugin": name, "reason": status.message()}),
        );
        Status::new(
            status.code(),
            format!(
                "{} (the running version of {name:?} keeps serving)",
                status.message()
            ),
        )
    }

    fn announce_replacement(&self, event: &str, new: &Instance, extra: Value) {
        let conn = new.current();
        let mut payload = json!({
            "plugin": new.name(),
            "version": new.manifest.version.to_string(),
            "pid": conn.as_ref().map(|c| c.pid),
            "tools": conn.as_ref().map(|c| c.tools.iter().map(|t| t.decl.name.clone()).collect::<Vec<_>>()),
            "commands": conn.as_ref().map(|c| c.commands.iter().map(plugwire_proto::names::command_full_name).collect::<Vec<_>>()),
        });
        if let (Some(payload), Value::Object(extra)) = (payload.as_object_mut(), extra) {
            payload.extend(extra);
        }
        self.lifecycle(event, payload);
    }

    /// Lets the calls on a retired instance finish, up to the drain
    /// deadline, then stops it (quietly: the change was announced).
    async fn drain_and_stop(&self, old: &Arc<Instance>) {
        let deadline = self.ctx.config.timeouts.drain;
        if !old.in_flight().drained(deadline).await {
            tracing::warn!(
                plugin = old.name(),
                in_flight = old.in_flight().count(),
                "calls still running on the replaced instance after {deadline:?}; stopping it"
            );
        }
        old.set_announce(false);
        old.stop().await;
    }
}

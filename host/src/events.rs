//! Events on the host's bus and what the hooks decided about them, without
//! I/O.

use std::time::SystemTime;

use plugwire_proto::pb;
use serde_json::Value;

/// Largest event payload accepted by [`Host::emit`](crate::Host::emit).
pub const MAX_EVENT_PAYLOAD: usize = 4 << 20;

/// An event on the host's bus: emitted by the application or a plugin, or a
/// lifecycle event: a process's (`plugin.started`, `plugin.stopped`,
/// `plugin.crashed`, `plugin.failed`) or a change to the plugin set
/// (`plugin.added`, `plugin.removed`, `plugin.reloaded`,
/// `plugin.reload_failed`, `plugin.configured`, `plugin.enabled`,
/// `plugin.disabled`). `plugin.started` and `plugin.reloaded` name the
/// tools and commands the plugin now offers, so a subscriber can follow
/// the lists as they change.
#[derive(Debug, Clone, PartialEq)]
pub struct HostEvent {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Payload (final, after interception).
    pub payload: Value,
    /// `host`, `plugin:<name>`, or `lifecycle`.
    pub source: String,
    /// When it was emitted.
    pub time: SystemTime,
}

/// One hook subscription of a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookInfo {
    /// The plugin.
    pub plugin: String,
    /// The event pattern (`name`, `prefix.*`, `*`).
    pub pattern: String,
    /// Intercepts (in order, may modify or deny) rather than observes.
    pub intercept: bool,
    /// Lower runs first among intercepting hooks.
    pub priority: i32,
    /// A failure denies the event (an intercepting hook's policy).
    pub fail_closed: bool,
}

/// Who denied an event, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The denying plugin.
    pub plugin: String,
    /// Its reason.
    pub reason: String,
}

/// What one intercepting hook did.
#[derive(Debug, Clone, PartialEq)]
pub enum HookOutcome {
    /// Let it through unchanged.
    Continued,
    /// Replaced the payload.
    Modified,
    /// Denied it.
    Denied(String),
    /// Failed; `denied` says whether its failure policy denied the event.
    Failed {
        /// What went wrong.
        error: String,
        /// True under fail-closed.
        denied: bool,
    },
}

/// One intercepting hook's decision.
#[derive(Debug, Clone, PartialEq)]
pub struct HookRecord {
    /// The plugin.
    pub plugin: String,
    /// The matching subscription.
    pub pattern: String,
    /// Its priority.
    pub priority: i32,
    /// What it did.
    pub outcome: HookOutcome,
}

/// The result of [`Host::emit`].
#[derive(Debug, Clone, PartialEq)]
pub struct EmitOutcome {
    /// The event's id.
    pub id: String,
    /// The final payload.
    pub payload: Value,
    /// Set when an intercepting hook denied the event.
    pub denied: Option<Denial>,
    /// Every intercepting hook's decision, in order.
    pub decisions: Vec<HookRecord>,
    /// Observers the event was queued for.
    pub observers: Vec<String>,
}

/// The event as the protocol carries it.
pub(crate) fn to_pb(event: &HostEvent) -> pb::Event {
    pb::Event {
        id: event.id.clone(),
        name: event.name.clone(),
        payload_json: event.payload.to_string(),
        time: Some(prost_types::Timestamp::from(event.time)),
        source: event.source.clone(),
    }
}

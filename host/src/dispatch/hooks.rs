//! Events: intercepting hooks in order (priority, then plugin name), each
//! able to modify or deny; then observers, queued without blocking; and
//! lifecycle events, which only observers see.

use std::sync::Arc;
use std::time::SystemTime;

use plugwire_proto::names::{pattern_matches, validate_event_name};
use plugwire_proto::pb;
use serde_json::Value;
use tonic::Status;

use super::{by_our_clock, resolve};
use crate::config::FailurePolicy;
use crate::core::{Core, Held};
use crate::events::{
    Denial, EmitOutcome, HookOutcome, HookRecord, HostEvent, MAX_EVENT_PAYLOAD, to_pb,
};
use crate::in_flight::CallGuard;
use crate::instance::{Connection, Instance};

/// One intercepting subscriber, held in flight while the event passes.
struct Link {
    priority: i32,
    plugin: String,
    instance: Arc<Instance>,
    _guard: CallGuard,
    conn: Arc<Connection>,
    sub: pb::HookSubscription,
}

enum Intercepted {
    Continue,
    Modify(Value),
    Deny(String),
}

impl Core {
    pub(crate) fn lifecycle(&self, name: &str, payload: Value) {
        let event = HostEvent {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_owned(),
            payload,
            // The host emits these itself (section 7.4: `host` or `plugin:<name>`).
            source: "host".to_owned(),
            time: SystemTime::now(),
        };
        self.observe(&event);
        let _ = self.bus.send(event);
    }

    /// Queues an event for every matching observer, never blocking.
    fn observe(&self, event: &HostEvent) -> Vec<String> {
        let mut queued = Vec::new();
        // Encoded once, whatever the number of observers.
        let encoded = to_pb(event);
        for (instance, conn) in self.running() {
            let Some(sub) = conn.hooks().iter().find(|s| {
                s.mode == pb::HookMode::Observe as i32 && pattern_matches(&s.pattern, &event.name)
            }) else {
                continue;
            };
            match conn
                .observer
                .try_send((sub.pattern.clone(), encoded.clone()))
            {
                Ok(()) => queued.push(instance.name().to_owned()),
                Err(_) => instance.drop_event(),
            }
        }
        queued
    }

    pub(crate) async fn emit_from(
        &self,
        name: &str,
        payload: Value,
        source: &str,
    ) -> Result<EmitOutcome, Status> {
        let audit = &self.ctx.audit;
        if !audit.enabled() {
            return self.emit_unaudited(name, payload, source).await;
        }
        let started = std::time::Instant::now();
        let recorded = audit.arguments().then(|| payload.clone());
        let result = self.emit_unaudited(name, payload, source).await;
        let actor: std::sync::Arc<str> = if source == "host" {
            crate::audit::current_actor()
        } else {
            source.into()
        };
        let mut record =
            crate::audit::AuditRecord::new(&actor, "event.emit", source.strip_prefix("plugin:"))
                .target(name)
                .outcome(&result)
                .took(started.elapsed());
        if let Ok(EmitOutcome {
            denied: Some(denial),
            ..
        }) = &result
        {
            record.outcome = "denied".into();
            record.detail = Some(format!("denied by {}: {}", denial.plugin, denial.reason));
        }
        record.arguments = recorded;
        audit.record(record);
        result
    }

    async fn emit_unaudited(
        &self,
        name: &str,
        payload: Value,
        source: &str,
    ) -> Result<EmitOutcome, Status> {
        validate_event_name(name).map_err(Status::invalid_argument)?;
        let size = payload.to_string().len();
        if size > MAX_EVENT_PAYLOAD {
            return Err(Status::invalid_argument(format!(
                "payload: {size} bytes, over the {MAX_EVENT_PAYLOAD}-byte limit"
            )));
        }
        // Subscriptions are only known from handshakes.
        self.start_all().await;
        let mut event = HostEvent {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_owned(),
            payload,
            source: source.to_owned(),
            time: SystemTime::now(),
        };
        let mut chain: Vec<Link> = Vec::new();
        for Held {
            instance,
            guard,
            conn,
        } in self.held()
        {
            if let Some(sub) = conn.hooks().iter().find(|s| {
                s.mode == pb::HookMode::Intercept as i32 && pattern_matches(&s.pattern, name)
            }) {
                let sub = sub.clone();
                chain.push(Link {
                    priority: sub.priority,
                    plugin: instance.name().to_owned(),
                    instance,
                    _guard: guard,
                    conn,
                    sub,
                });
            }
        }
        resolve::intercept_order(&mut chain, |l| (l.priority, l.plugin.as_str()));
        let mut decisions = Vec::new();
        for Link {
            priority,
            plugin,
            instance,
            conn,
            sub,
            ..
        } in chain
        {
            instance.touch();
            let outcome = self.intercept(&conn, &sub, &event).await;
            let (record, denial) = match outcome {
                Ok(Intercepted::Continue) => (HookOutcome::Continued, None),
                Ok(Intercepted::Modify(payload)) => {
                    event.payload = payload;
                    (HookOutcome::Modified, None)
                }
                Ok(Intercepted::Deny(reason)) => {
                    (HookOutcome::Denied(reason.clone()), Some(reason))
                }
                Err(error) => {
                    let closed = match pb::FailurePolicy::try_from(sub.failure_policy) {
                        Ok(pb::FailurePolicy::Closed) => true,
                        Ok(pb::FailurePolicy::Open) => false,
                        _ => self.ctx.config.hook_failure == FailurePolicy::Closed,
                    };
                    tracing::warn!(plugin = %plugin, event = name, "intercepting hook failed: {error}");
                    let reason = format!("hook of plugin {plugin:?} failed: {error}");
                    (
                        HookOutcome::Failed {
                            error,
                            denied: closed,
                        },
                        closed.then_some(reason),
                    )
                }
            };
            decisions.push(HookRecord {
                plugin: plugin.clone(),
                pattern: sub.pattern.clone(),
                priority,
                outcome: record,
            });
            if let Some(reason) = denial {
                return Ok(EmitOutcome {
                    id: event.id,
                    payload: event.payload,
                    denied: Some(Denial { plugin, reason }),
                    decisions,
                    observers: Vec::new(),
                });
            }
        }
        let observers = self.observe(&event);
        let outcome = EmitOutcome {
            id: event.id.clone(),
            payload: event.payload.clone(),
            denied: None,
            decisions,
            observers,
        };
        let _ = self.bus.send(event);
        Ok(outcome)
    }

    async fn intercept(
        &self,
        conn: &Connection,
        sub: &pb::HookSubscription,
        event: &HostEvent,
    ) -> Result<Intercepted, String> {
        let timeout = self.ctx.config.timeouts.hook;
        let mut request = tonic::Request::new(pb::HandleEventRequest {
            event: Some(to_pb(event)),
            mode: pb::HookMode::Intercept as i32,
            pattern: sub.pattern.clone(),
        });
        request.set_timeout(timeout);
        let mut client = pb::hook_service_client::HookServiceClient::new(conn.channel.clone());
        let response = tokio::select! {
            status = conn.exited() => return Err(format!("the plugin crashed ({status})")),
            r = by_our_clock(timeout, client.handle_event(request)) => match r {
                Err(status) if status.code() == tonic::Code::DeadlineExceeded => return Err(format!("no decision within {timeout:?}")),
                Err(status) => return Err(format!("{:?}: {}", status.code(), status.message())),
                Ok(response) => response.into_inner(),
            },
        };
        match pb::Decision::try_from(response.decision) {
            Ok(pb::Decision::Continue) => Ok(Intercepted::Continue),
            Ok(pb::Decision::Modify) => serde_json::from_str(&response.payload_json)
                .map(Intercepted::Modify)
                .map_err(|e| format!("MODIFY with a payload that is not JSON: {e}")),
            Ok(pb::Decision::Deny) if !response.reason.is_empty() => {
                Ok(Intercepted::Deny(response.reason))
            }
            Ok(pb::Decision::Deny) => Err("DENY without a reason (PW-HOOK-4)".into()),
            _ => Err(format!(
                "invalid decision {} (PW-HOOK-4)",
                response.decision
            )),
        }
    }
}

impl Core {
    /// Every hook subscription of every running plugin (starting them
    /// first).
    pub(crate) async fn hooks(&self) -> Vec<crate::events::HookInfo> {
        self.start_all().await;
        let mut out = Vec::new();
        for (instance, conn) in self.running() {
            for h in conn.hooks() {
                out.push(crate::events::HookInfo {
                    plugin: instance.name().to_owned(),
                    pattern: h.pattern.clone(),
                    intercept: h.mode == pb::HookMode::Intercept as i32,
                    priority: h.priority,
                    fail_closed: h.failure_policy == pb::FailurePolicy::Closed as i32,
                });
            }
        }
        out
    }
}

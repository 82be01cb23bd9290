//! `HookService`: deliver an event to the matching handler.

use std::sync::Arc;
use std::time::SystemTime;

use plugwire_proto::names::pattern_matches;
use plugwire_proto::pb;
use tonic::{Request, Response, Status};

use super::Runtime;
use crate::hook::{Decision, HookContext, HookEvent, HookMode};

pub(crate) struct HookSvc(pub(crate) Arc<Runtime>);

#[tonic::async_trait]
impl pb::hook_service_server::HookService for HookSvc {
    async fn handle_event(
        &self,
        request: Request<pb::HandleEventRequest>,
    ) -> Result<Response<pb::HandleEventResponse>, Status> {
        let rt = &self.0;
        let guard = rt.begin_call()?;
        let _cancel_on_drop = guard.token.clone().drop_guard();
        let request = request.into_inner();
        let event = request.event.ok_or_else(|| {
            Status::invalid_argument("event: missing; HandleEventRequest.event is required")
        })?;
        let mode = match pb::HookMode::try_from(request.mode) {
            Ok(pb::HookMode::Observe) => HookMode::Observe,
            Ok(pb::HookMode::Intercept) => HookMode::Intercept,
            _ => {
                return Err(Status::invalid_argument(format!(
                    "mode: expected HOOK_MODE_OBSERVE or HOOK_MODE_INTERCEPT, saw {}",
                    request.mode
                )));
            }
        };
        // The subscription the host named, else the first of this mode that
        // matches; an event nobody here wants continues (PW-HOOK-6).
        let hook = rt
            .hooks
            .iter()
            .find(|h| h.mode == mode && h.pattern == request.pattern)
            .or_else(|| {
                rt.hooks
                    .iter()
                    .find(|h| h.mode == mode && pattern_matches(&h.pattern, &event.name))
            });
        let Some(hook) = hook else {
            return Ok(Response::new(Decision::Continue.into_response()));
        };
        let payload = if event.payload_json.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&event.payload_json).map_err(|e| {
                Status::invalid_argument(format!("event.payload_json: expected JSON: {e}"))
            })?
        };
        let time = event
            .time
            .and_then(|t| SystemTime::try_from(t).ok())
            .unwrap_or_else(SystemTime::now);
        let hook_event = HookEvent {
            id: event.id,
            name: event.name,
            payload,
            time,
            source: event.source,
        };
        let cx = HookContext {
            plugin: rt.handle.clone(),
            mode,
        };
        match (hook.handler)(hook_event, cx).await {
            Ok(decision) => Ok(Response::new(decision.into_response())),
            Err(e) => {
                tracing::warn!(error = %e, pattern = %hook.pattern, "hook handler failed");
                Err(Status::internal(format!(
                    "hook {:?} failed: {e}",
                    hook.pattern
                )))
            }
        }
    }
}

//! Hooks: subscriptions derived from the handlers a plugin registers.

use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;
use std::time::SystemTime;

use futures_util::future::BoxFuture;
use plugwire_proto::pb;
use serde_json::Value;

use crate::error::BoxError;
use crate::handle::PluginHandle;

type Handler = Arc<
    dyn Fn(HookEvent, HookContext) -> BoxFuture<'static, Result<Decision, BoxError>> + Send + Sync,
>;

/// An intercepting hook's verdict (PW-HOOK-4).
///
/// ```
/// use plugwire_sdk::Decision;
/// let d = Decision::deny("not on Fridays");
/// assert!(matches!(d, Decision::Deny(_)));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Let the event proceed unchanged.
    Continue,
    /// Replace the payload and proceed.
    Modify(Value),
    /// Stop the event, with a reason.
    Deny(String),
}

impl Decision {
    /// Denies with `reason`.
    ///
    /// ```
    /// let d = plugwire_sdk::Decision::deny("quota");
    /// # let _ = d;
    /// ```
    pub fn deny(reason: impl Into<String>) -> Self {
        Self::Deny(reason.into())
    }

    pub(crate) fn into_response(self) -> pb::HandleEventResponse {
        match self {
            Self::Continue => pb::HandleEventResponse {
                decision: pb::Decision::Continue as i32,
                ..Default::default()
            },
            Self::Modify(payload) => pb::HandleEventResponse {
                decision: pb::Decision::Modify as i32,
                payload_json: payload.to_string(),
                reason: String::new(),
            },
            Self::Deny(reason) => pb::HandleEventResponse {
                decision: pb::Decision::Deny as i32,
                payload_json: String::new(),
                // PW-HOOK-4: a denial always carries a reason.
                reason: if reason.is_empty() {
                    "denied".to_owned()
                } else {
                    reason
                },
            },
        }
    }
}

/// An event delivered to a hook.
///
/// ```
/// use plugwire_sdk::HookEvent;
/// fn user(event: &HookEvent) -> Option<&str> { event.payload.get("user")?.as_str() }
/// ```
#[derive(Debug, Clone)]
pub struct HookEvent {
    /// The event's UUID.
    pub id: String,
    /// Its dot-separated name.
    pub name: String,
    /// The payload (as modified by earlier intercepting hooks).
    pub payload: Value,
    /// When it was emitted.
    pub time: SystemTime,
    /// `host` or `plugin:<name>`.
    pub source: String,
}

/// What a hook handler can reach: the plugin's configuration and the host.
///
/// ```
/// use plugwire_sdk::HookContext;
/// fn has_host(cx: &HookContext) -> bool { cx.host().is_ok() }
/// ```
#[derive(Clone)]
pub struct HookContext {
    pub(crate) plugin: PluginHandle,
    /// The subscription mode this delivery is for.
    pub mode: HookMode,
}

impl Deref for HookContext {
    type Target = PluginHandle;

    fn deref(&self) -> &PluginHandle {
        &self.plugin
    }
}

/// Observe or intercept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookMode {
    /// After the fact, concurrently, cannot change the event.
    Observe,
    /// In order, before the event takes effect; may modify or deny.
    Intercept,
}

/// A hook: a subscription and its handler.
///
/// ```
/// use plugwire_sdk::{Decision, Hook, HookContext, HookEvent};
/// let audit = Hook::observe("*", |event: HookEvent, _cx: HookContext| async move {
///     tracing::info!(event = %event.name, "seen");
///     Ok(())
/// });
/// let guard = Hook::intercept("request.before", |_e: HookEvent, _cx: HookContext| async {
///     Ok(Decision::Continue)
/// })
/// .priority(-10)
/// .fail_closed();
/// # let _ = (audit, guard);
/// ```
#[derive(Clone)]
pub struct Hook {
    pub(crate) pattern: String,
    pub(crate) mode: HookMode,
    pub(crate) priority: i32,
    pub(crate) failure_policy: pb::FailurePolicy,
    pub(crate) handler: Handler,
}

impl Hook {
    /// Observes events matching `pattern` (`*`, `name`, or `prefix.*`).
    ///
    /// ```
    /// use plugwire_sdk::{Hook, HookContext, HookEvent};
    /// let h = Hook::observe("session.*", |_e: HookEvent, _cx: HookContext| async { Ok(()) });
    /// # let _ = h;
    /// ```
    pub fn observe<F, Fut>(pattern: impl Into<String>, handler: F) -> Self
    where
        F: Fn(HookEvent, HookContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        Self {
            pattern: pattern.into(),
            mode: HookMode::Observe,
            priority: 0,
            failure_policy: pb::FailurePolicy::Unspecified,
            handler: Arc::new(move |event, cx| {
                let fut = handler(event, cx);
                Box::pin(async move { fut.await.map(|()| Decision::Continue) })
            }),
        }
    }

    /// Intercepts events matching `pattern`: the handler decides whether they
    /// continue, are modified or are denied.
    ///
    /// ```
    /// use plugwire_sdk::{Decision, Hook, HookContext, HookEvent};
    /// let h = Hook::intercept("*", |e: HookEvent, _cx: HookContext| async move {
    ///     let mut payload = e.payload;
    ///     payload["seen"] = true.into();
    ///     Ok(Decision::Modify(payload))
    /// });
    /// # let _ = h;
    /// ```
    pub fn intercept<F, Fut>(pattern: impl Into<String>, handler: F) -> Self
    where
        F: Fn(HookEvent, HookContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Decision, BoxError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        Self {
            pattern: pattern.into(),
            mode: HookMode::Intercept,
            priority: 0,
            failure_policy: pb::FailurePolicy::Unspecified,
            handler: Arc::new(move |event, cx| Box::pin(handler(event, cx))),
        }
    }

    /// Order among intercepting hooks: lower runs first (default 0).
    ///
    /// ```
    /// # use plugwire_sdk::{Decision, Hook, HookContext, HookEvent};
    /// let h = Hook::intercept("*", |_e: HookEvent, _cx: HookContext| async { Ok(Decision::Continue) }).priority(-5);
    /// # let _ = h;
    /// ```
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// If this hook fails, the event is denied (PW-HOOK-5).
    ///
    /// ```
    /// # use plugwire_sdk::{Decision, Hook, HookContext, HookEvent};
    /// let h = Hook::intercept("*", |_e: HookEvent, _cx: HookContext| async { Ok(Decision::Continue) }).fail_closed();
    /// # let _ = h;
    /// ```
    pub fn fail_closed(mut self) -> Self {
        self.failure_policy = pb::FailurePolicy::Closed;
        self
    }

    /// If this hook fails, the event continues unchanged.
    ///
    /// ```
    /// # use plugwire_sdk::{Decision, Hook, HookContext, HookEvent};
    /// let h = Hook::intercept("*", |_e: HookEvent, _cx: HookContext| async { Ok(Decision::Continue) }).fail_open();
    /// # let _ = h;
    /// ```
    pub fn fail_open(mut self) -> Self {
        self.failure_policy = pb::FailurePolicy::Open;
        self
    }

    pub(crate) fn subscription(&self) -> pb::HookSubscription {
        pb::HookSubscription {
            pattern: self.pattern.clone(),
            mode: match self.mode {
                HookMode::Observe => pb::HookMode::Observe as i32,
                HookMode::Intercept => pb::HookMode::Intercept as i32,
            },
            priority: self.priority,
            failure_policy: self.failure_policy as i32,
        }
    }
}

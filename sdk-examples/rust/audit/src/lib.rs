//! The `audit` example plugin: hooks that observe and intercept.
//!
//! - It observes every event and appends a record of it to its key-value
//!   storage in the host (`events/<time>-<id>`), so the log survives
//!   restarts of the plugin and the host.
//! - It intercepts `request.before` and replaces the value of every key whose
//!   name contains `password`, `secret`, `token` or `key` (any case, at any
//!   depth) with `"[REDACTED]"`.

use std::time::UNIX_EPOCH;

use plugwire_sdk::{Decision, Hook, HookContext, HookEvent, Plugin};
use serde_json::{Value, json};

/// What replaces a redacted value.
pub const REDACTED: &str = "[REDACTED]";

const SENSITIVE: [&str; 4] = ["password", "secret", "token", "key"];

fn is_sensitive(name: &str) -> bool {
    let lower = name.to_lowercase();
    SENSITIVE.iter().any(|word| lower.contains(word))
}

/// Redacts sensitive values in place; returns whether anything changed.
///
/// ```
/// let mut v = serde_json::json!({"user": "ada", "auth": {"API_Token": "t", "list": [{"secret": 1}]}});
/// assert!(plugwire_example_audit::redact(&mut v));
/// assert_eq!(v["auth"]["API_Token"], "[REDACTED]");
/// assert_eq!(v["auth"]["list"][0]["secret"], "[REDACTED]");
/// assert_eq!(v["user"], "ada");
/// ```
pub fn redact(value: &mut Value) -> bool {
    match value {
        Value::Object(map) => {
            let mut changed = false;
            for (name, inner) in map.iter_mut() {
                if is_sensitive(name) {
                    if *inner != Value::String(REDACTED.to_owned()) {
                        *inner = Value::String(REDACTED.to_owned());
                        changed = true;
                    }
                } else {
                    changed |= redact(inner);
                }
            }
            changed
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |changed, item| redact(item) | changed),
        _ => false,
    }
}

async fn record(event: HookEvent, cx: HookContext) -> Result<(), plugwire_sdk::BoxError> {
    let nanos = event
        .time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    // Zero-padded time first, so keys list in order of occurrence.
    let key = format!("events/{nanos:020}-{}", event.id);
    let entry = json!({
        "id": event.id,
        "name": event.name,
        "source": event.source,
        "time_unix_nanos": nanos as u64,
    });
    cx.host()?.put(&key, entry.to_string().into_bytes()).await?;
    Ok(())
}

async fn redact_request(
    event: HookEvent,
    _cx: HookContext,
) -> Result<Decision, plugwire_sdk::BoxError> {
    let mut payload = event.payload;
    Ok(if redact(&mut payload) {
        Decision::Modify(payload)
    } else {
        Decision::Continue
    })
}

/// The plugin.
pub fn plugin() -> Plugin {
    Plugin::new("audit", env!("CARGO_PKG_VERSION"))
        .description("Records every event and redacts secrets from requests")
        .hook(Hook::observe("*", record))
        // Early, so later hooks never see the secrets; if redaction fails
        // the request must not go through unredacted.
        .hook(
            Hook::intercept("request.before", redact_request)
                .priority(-100)
                .fail_closed(),
        )
}

#[cfg(test)]
mod tests {
    use plugwire_sdk::proto::pb;
    use plugwire_sdk::testing::TestHost;

    use super::*;

    #[test]
    fn redacts_any_case_any_depth_and_nothing_else() {
        let mut v = json!({
            "PASSWORD": "p", "db": {"Secret_Key": {"nested": 1}, "host": "h"},
            "items": [{"token": "t"}, {"name": "n"}], "monkey": "m", "plain": "x"
        });
        assert!(redact(&mut v));
        assert_eq!(
            v,
            json!({
                "PASSWORD": REDACTED, "db": {"Secret_Key": REDACTED, "host": "h"},
                "items": [{"token": REDACTED}, {"name": "n"}], "monkey": REDACTED, "plain": "x"
            })
        );
        let mut clean = json!({"a": [1, "two", {"b": null}]});
        assert!(!redact(&mut clean));
    }

    #[tokio::test]
    async fn intercepts_request_before_only() {
        let host = TestHost::start(plugin()).await.unwrap();
        let decision = host
            .intercept(
                "request.before",
                json!({"user": "ada", "auth": {"token": "abc"}}),
            )
            .await
            .unwrap();
        assert_eq!(
            decision,
            Decision::Modify(json!({"user": "ada", "auth": {"token": REDACTED}}))
        );
        let decision = host
            .intercept("request.before", json!({"user": "ada"}))
            .await
            .unwrap();
        assert_eq!(decision, Decision::Continue);
        let decision = host
            .intercept("other.event", json!({"token": "abc"}))
            .await
            .unwrap();
        assert_eq!(
            decision,
            Decision::Continue,
            "not subscribed: continue (PW-HOOK-6)"
        );
        host.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn subscriptions_are_derived_from_the_hooks() {
        let host = TestHost::start(plugin()).await.unwrap();
        let hooks = host.handshake.capabilities.clone().unwrap().hooks;
        assert_eq!(hooks.len(), 2);
        assert_eq!(
            (hooks[0].pattern.as_str(), hooks[0].mode),
            ("*", pb::HookMode::Observe as i32)
        );
        assert_eq!(hooks[1].pattern, "request.before");
        assert_eq!(hooks[1].mode, pb::HookMode::Intercept as i32);
        assert_eq!(hooks[1].priority, -100);
        assert_eq!(hooks[1].failure_policy, pb::FailurePolicy::Closed as i32);
        host.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn observed_events_are_appended_to_host_storage() {
        let host = TestHost::start(plugin()).await.unwrap();
        host.observe("session.start", json!({"user": "ada"}))
            .await
            .unwrap();
        host.observe("session.end", json!({})).await.unwrap();
        let storage = host.storage();
        let names: Vec<String> = storage
            .values()
            .map(|v| {
                serde_json::from_slice::<Value>(v).unwrap()["name"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(names, ["session.start", "session.end"]);
        assert!(storage.keys().all(|k| k.starts_with("events/")));
        host.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn without_host_storage_observing_fails_loudly() {
        let host = TestHost::builder()
            .without_host_service()
            .start(plugin())
            .await
            .unwrap();
        let err = host.observe("x", json!({})).await.unwrap_err();
        assert!(
            err.message().contains("host service is not available"),
            "{}",
            err.message()
        );
        host.shutdown().await.unwrap();
    }
}

//! `[hooks]` and `[providers]` in a manifest: the most a plugin may
//! subscribe to and provide (docs/protocol.md section 4.2). What its
//! handshake declares beyond them is refused at start, naming the item.
//! A manifest without them allows no hooks and no providers.

use plugwire_proto::names::{pattern_matches, validate_hook_pattern};
use plugwire_proto::pb;
use serde::Deserialize;

use super::http::Invalid;

/// What a plugin may subscribe to and provide.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bounds {
    /// Event patterns its subscriptions must fall within (`*`, a name,
    /// `prefix.*`).
    pub hook_patterns: Vec<String>,
    /// Whether it may intercept (modify or deny) rather than only observe.
    pub intercept: bool,
    /// Fully qualified services it may provide (`*` for any).
    pub providers: Vec<String>,
}

impl Bounds {
    /// No bounds at all: for a bare executable run without a manifest.
    pub fn unbounded() -> Self {
        Self {
            hook_patterns: vec!["*".into()],
            intercept: true,
            providers: vec!["*".into()],
        }
    }

    /// Checks a handshake's capabilities against the bounds.
    ///
    /// ```
    /// use plugwire_host::manifest::Bounds;
    /// use plugwire_proto::pb;
    /// let bounds = Bounds { hook_patterns: vec!["session.*".into()], intercept: false, providers: vec![] };
    /// let observe = |pattern: &str| pb::HookSubscription { pattern: pattern.into(), mode: pb::HookMode::Observe as i32, ..Default::default() };
    /// let caps = |hooks| pb::Capabilities { hooks, ..Default::default() };
    /// assert!(bounds.check(&caps(vec![observe("session.start"), observe("session.a.*")])).is_ok());
    /// let err = bounds.check(&caps(vec![observe("request.before")])).unwrap_err();
    /// assert!(err.contains("\"request.before\""), "{err}");
    /// ```
    pub fn check(&self, caps: &pb::Capabilities) -> Result<(), String> {
        for hook in &caps.hooks {
            if !self
                .hook_patterns
                .iter()
                .any(|allowed| covers(allowed, &hook.pattern))
            {
                return Err(format!(
                    "the plugin subscribes to {:?}, which its manifest does not allow (it allows {}); add the pattern to `[hooks] patterns` in plugin.toml",
                    hook.pattern,
                    listed(&self.hook_patterns)
                ));
            }
            if hook.mode == pb::HookMode::Intercept as i32 && !self.intercept {
                return Err(format!(
                    "the plugin intercepts {:?}, and its manifest allows observing only; set `[hooks] intercept = true` in plugin.toml",
                    hook.pattern
                ));
            }
        }
        for provider in &caps.providers {
            if !self
                .providers
                .iter()
                .any(|s| s == "*" || *s == provider.service)
            {
                return Err(format!(
                    "the plugin provides {:?}, which its manifest does not allow (it allows {}); add it to `[providers] services` in plugin.toml",
                    provider.service,
                    listed(&self.providers)
                ));
            }
        }
        Ok(())
    }
}

fn listed(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// Whether every event `pattern` matches, `allowed` matches too.
fn covers(allowed: &str, pattern: &str) -> bool {
    if allowed == "*" || allowed == pattern {
        return true;
    }
    match pattern.strip_suffix(".*") {
        // A prefix pattern is covered by a prefix pattern above it.
        Some(prefix) => allowed
            .strip_suffix(".*")
            .is_some_and(|a| prefix.starts_with(&format!("{a}."))),
        None => pattern != "*" && pattern_matches(allowed, pattern),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHooks {
    #[serde(default)]
    patterns: Vec<String>,
    #[serde(default)]
    intercept: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProviders {
    #[serde(default)]
    services: Vec<String>,
}

pub(super) fn validate(hooks: RawHooks, providers: RawProviders) -> Result<Bounds, Invalid> {
    for pattern in &hooks.patterns {
        validate_hook_pattern(pattern).map_err(|why| {
            (
                "hooks.patterns".to_owned(),
                pattern.clone(),
                why,
                "use `*`, an event name such as `session.start`, or a prefix such as `session.*`",
            )
        })?;
    }
    for service in &providers.services {
        let ok = service == "*"
            || (!service.is_empty()
                && service.split('.').count() >= 2
                && service.split('.').all(|p| {
                    !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                }));
        if !ok {
            return Err((
                "providers.services".to_owned(),
                service.clone(),
                "expected a fully qualified gRPC service name".to_owned(),
                "for example \"examples.kv.v1.KeyValue\"",
            ));
        }
    }
    Ok(Bounds {
        hook_patterns: hooks.patterns,
        intercept: hooks.intercept,
        providers: providers.services,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_cover_what_lies_below_them_and_nothing_else() {
        assert!(covers("*", "anything.*"));
        assert!(covers("session.*", "session.start"));
        assert!(covers("session.*", "session.a.*"));
        assert!(!covers("session.*", "session"));
        assert!(!covers("session.*", "*"), "a wider pattern is not covered");
        assert!(!covers("session.start", "session.*"));
        assert!(!covers("sessions.*", "session.start"));
    }

    #[test]
    fn bad_patterns_and_services_are_named() {
        let err = validate(
            RawHooks {
                patterns: vec!["a..b".into()],
                intercept: false,
            },
            RawProviders::default(),
        )
        .unwrap_err();
        assert_eq!((err.0.as_str(), err.1.as_str()), ("hooks.patterns", "a..b"));
        let err = validate(
            RawHooks::default(),
            RawProviders {
                services: vec!["KeyValue".into()],
            },
        )
        .unwrap_err();
        assert_eq!(err.0, "providers.services");
    }

    #[test]
    fn intercepting_needs_its_own_allowance() {
        let bounds = Bounds {
            hook_patterns: vec!["*".into()],
            intercept: false,
            providers: vec![],
        };
        let caps = pb::Capabilities {
            hooks: vec![pb::HookSubscription {
                pattern: "a.b".into(),
                mode: pb::HookMode::Intercept as i32,
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(
            bounds
                .check(&caps)
                .unwrap_err()
                .contains("intercept = true")
        );
        let provides = pb::Capabilities {
            providers: vec![pb::ProviderDeclaration {
                service: "x.v1.S".into(),
                name: "n".into(),
            }],
            ..Default::default()
        };
        assert!(
            bounds
                .check(&provides)
                .unwrap_err()
                .contains("[providers] services")
        );
    }
}

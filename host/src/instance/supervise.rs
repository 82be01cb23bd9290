//! Supervision's decisions, as pure functions: after an exit nobody asked
//! for, restart after a backoff, or give up; and when an idle plugin is
//! stopped. The instance applies them; these have no clock or process of
//! their own, so tests give them both.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::config::RestartPolicy;

/// What to do after a crash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Start again after this long.
    Restart(Duration),
    /// Too many crashes within the window: mark the plugin failed.
    GiveUp {
        /// Crashes counted within the window.
        crashes: u32,
    },
}

/// Records a crash at `now` in `crashes` (forgetting those older than the
/// window) and decides.
pub(crate) fn after_crash(
    policy: &RestartPolicy,
    crashes: &mut VecDeque<Instant>,
    now: Instant,
) -> Verdict {
    crashes.push_back(now);
    while crashes
        .front()
        .is_some_and(|t| now.duration_since(*t) > policy.window)
    {
        crashes.pop_front();
    }
    let count = u32::try_from(crashes.len()).unwrap_or(u32::MAX);
    if count >= policy.max_crashes {
        Verdict::GiveUp { crashes: count }
    } else {
        Verdict::Restart(backoff(policy, count))
    }
}

/// The delay before the restart after the `count`th crash in the window:
/// doubling from the initial backoff, capped.
pub(crate) fn backoff(policy: &RestartPolicy, count: u32) -> Duration {
    policy
        .initial_backoff
        .saturating_mul(1 << count.saturating_sub(1).min(16))
        .min(policy.max_backoff)
}

/// Whether a plugin unused for `quiet` should be stopped under `idle`.
pub(crate) fn idle_expired(quiet: Duration, idle: Option<Duration>) -> bool {
    idle.is_some_and(|idle| quiet >= idle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RestartPolicy {
        RestartPolicy {
            max_crashes: 3,
            window: Duration::from_secs(60),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(250),
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = policy();
        let ms = Duration::from_millis;
        assert_eq!(backoff(&p, 1), ms(100));
        assert_eq!(backoff(&p, 2), ms(200));
        assert_eq!(backoff(&p, 3), ms(250));
        assert_eq!(backoff(&p, 40), ms(250), "no overflow");
        assert_eq!(backoff(&p, 0), ms(100));
    }

    #[test]
    fn too_many_crashes_in_the_window_give_up() {
        let p = policy();
        let start = Instant::now();
        let mut crashes = VecDeque::new();
        let at = |s| start + Duration::from_secs(s);
        assert_eq!(
            after_crash(&p, &mut crashes, at(0)),
            Verdict::Restart(Duration::from_millis(100))
        );
        assert_eq!(
            after_crash(&p, &mut crashes, at(1)),
            Verdict::Restart(Duration::from_millis(200))
        );
        assert_eq!(
            after_crash(&p, &mut crashes, at(2)),
            Verdict::GiveUp { crashes: 3 }
        );
    }

    #[test]
    fn crashes_outside_the_window_are_forgotten() {
        let p = policy();
        let start = Instant::now();
        let mut crashes = VecDeque::new();
        for minute in 0..10 {
            let verdict = after_crash(&p, &mut crashes, start + Duration::from_secs(61 * minute));
            assert_eq!(verdict, Verdict::Restart(Duration::from_millis(100)));
        }
        assert_eq!(crashes.len(), 1);
    }

    #[test]
    fn idle_stop_needs_an_idle_timeout() {
        let s = Duration::from_secs;
        assert!(!idle_expired(s(1000), None));
        assert!(!idle_expired(s(1), Some(s(2))));
        assert!(idle_expired(s(2), Some(s(2))));
    }
}

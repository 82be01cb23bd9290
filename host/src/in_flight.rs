//! Calls in flight into one plugin instance, so that a reload or a removal
//! can let them finish before the old instance stops.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// A count of calls in flight that can be waited on until it is zero.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

/// One call in flight; the count drops with it.
#[derive(Debug)]
pub(crate) struct CallGuard(Arc<InFlight>);

impl Drop for CallGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl InFlight {
    /// Counts one more call until the guard drops.
    pub(crate) fn enter(self: &Arc<Self>) -> CallGuard {
        self.count.fetch_add(1, Ordering::AcqRel);
        CallGuard(self.clone())
    }

    /// Calls in flight now.
    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Waits until no call is in flight, at most `deadline`; says whether
    /// they all finished.
    pub(crate) async fn drained(&self, deadline: Duration) -> bool {
        let wait = async {
            loop {
                let idle = self.idle.notified();
                tokio::pin!(idle);
                // Registered before the check, so a drop in between is seen.
                idle.as_mut().enable();
                if self.count() == 0 {
                    return;
                }
                idle.await;
            }
        };
        tokio::time::timeout(deadline, wait).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drained_waits_for_the_last_call() {
        let calls = Arc::new(InFlight::default());
        assert!(calls.drained(Duration::ZERO).await, "nothing in flight");
        let first = calls.enter();
        let second = calls.enter();
        assert_eq!(calls.count(), 2);
        assert!(!calls.drained(Duration::from_millis(20)).await);
        let waiter = tokio::spawn({
            let calls = calls.clone();
            async move { calls.drained(Duration::from_secs(5)).await }
        });
        drop(first);
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiter.is_finished(), "one call is still running");
        drop(second);
        assert!(waiter.await.unwrap());
        assert_eq!(calls.count(), 0);
    }
}

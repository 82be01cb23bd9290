//! Routes an MCP server's progress notifications to the calls awaiting
//! them. rmcp gives each request its progress token as it sends it, so a
//! call learns its token only once the request is out, and a quick server
//! may report before the call has asked for its reports: those wait here,
//! a few at a time, for the call that asks.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use rmcp::model::{ProgressNotificationParam, ProgressToken};
use tokio::sync::mpsc;

/// Reports kept for calls that have not asked yet (across all tokens).
const EARLY: usize = 64;

/// Reports queued for one call before the newest are dropped: a tool
/// that reports faster than its caller reads loses reports, not memory.
const PER_CALL: usize = 64;

#[derive(Default)]
struct Routes {
    calls: HashMap<ProgressToken, mpsc::Sender<ProgressNotificationParam>>,
    early: VecDeque<ProgressNotificationParam>,
}

/// The router, shared by the MCP client's handler and the calls.
#[derive(Clone, Default)]
pub(crate) struct ProgressRouter(Arc<Mutex<Routes>>);

impl ProgressRouter {
    /// Hands a report to its call, or keeps it for the call to come.
    pub(crate) fn route(&self, report: ProgressNotificationParam) {
        let mut routes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(call) = routes.calls.get(&report.progress_token) {
            let _ = call.try_send(report);
            return;
        }
        if routes.early.len() == EARLY {
            routes.early.pop_front();
        }
        routes.early.push_back(report);
    }

    /// The reports for `token`, those that came early first; the call
    /// stops receiving them when the subscription is dropped.
    pub(crate) fn subscribe(&self, token: ProgressToken) -> Subscription {
        let (sender, receiver) = mpsc::channel(PER_CALL);
        let mut routes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (mine, others): (VecDeque<_>, VecDeque<_>) = std::mem::take(&mut routes.early)
            .into_iter()
            .partition(|r| r.progress_token == token);
        routes.early = others;
        for report in mine {
            let _ = sender.try_send(report);
        }
        routes.calls.insert(token.clone(), sender);
        Subscription {
            router: self.clone(),
            token,
            receiver,
        }
    }
}

/// One call's reports.
pub(crate) struct Subscription {
    router: ProgressRouter,
    token: ProgressToken,
    receiver: mpsc::Receiver<ProgressNotificationParam>,
}

impl Subscription {
    /// The next report.
    pub(crate) async fn next(&mut self) -> Option<ProgressNotificationParam> {
        self.receiver.recv().await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut routes = self.router.0.lock().unwrap_or_else(|e| e.into_inner());
        routes.calls.remove(&self.token);
    }
}

#[cfg(test)]
mod tests {
    use rmcp::model::NumberOrString;

    use super::*;

    fn report(token: i64, progress: f64) -> ProgressNotificationParam {
        ProgressNotificationParam::new(ProgressToken(NumberOrString::Number(token)), progress)
    }

    #[tokio::test]
    async fn a_report_that_comes_before_its_call_asks_is_kept_for_it() {
        let router = ProgressRouter::default();
        router.route(report(7, 1.0));
        router.route(report(8, 1.0));
        let mut seven = router.subscribe(ProgressToken(NumberOrString::Number(7)));
        router.route(report(7, 2.0));
        assert_eq!(seven.next().await.unwrap().progress, 1.0);
        assert_eq!(seven.next().await.unwrap().progress, 2.0);
        let mut eight = router.subscribe(ProgressToken(NumberOrString::Number(8)));
        assert_eq!(eight.next().await.unwrap().progress, 1.0);
    }

    #[tokio::test]
    async fn reports_for_no_call_are_bounded_and_a_dropped_call_is_forgotten() {
        let router = ProgressRouter::default();
        for token in 0..(EARLY as i64 * 2) {
            router.route(report(token, 1.0));
        }
        assert_eq!(router.0.lock().unwrap().early.len(), EARLY);
        let call = router.subscribe(ProgressToken(NumberOrString::Number(1000)));
        drop(call);
        assert!(router.0.lock().unwrap().calls.is_empty());
    }
}

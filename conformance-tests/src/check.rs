//! One check: what it is (id, requirement, what it needs, the function
//! that performs it), its result, and how a run records it.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use crate::report::{Outcome, Report, Status};
use crate::session::Session;

/// Deadline of each RPC a check makes.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A check's result: `Err` is a failure, or not applicable when it starts
/// with `n/a: ` (see [`na`]).
pub(crate) type CheckResult = Result<Status, String>;

/// The future a check's function returns.
pub(crate) type CheckFuture<'a> = Pin<Box<dyn Future<Output = CheckResult> + Send + 'a>>;

/// Not applicable, because `why`.
pub(crate) fn na(why: &str) -> CheckResult {
    Err(format!("n/a: {why}"))
}

/// `Ok` when `result` failed with `code`.
pub(crate) fn expect_code(
    result: Result<impl Sized, tonic::Status>,
    code: tonic::Code,
    what: &str,
) -> CheckResult {
    match result {
        Err(status) if status.code() == code => Ok(Status::Passed),
        Err(status) => Err(format!(
            "{what}: expected {code:?}, got {:?}: {}",
            status.code(),
            status.message()
        )),
        Ok(_) => Err(format!("{what}: expected {code:?}, the call succeeded")),
    }
}

/// What a check needs from the plugin under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// A plugin the suite starts itself (bootstrap, versions, shutdown):
    /// not applicable when attached to one already running.
    Launch,
    /// Any serving plugin.
    Serving,
    /// The fixture profile (the `conformance` feature, docs/conformance.md).
    Fixture,
}

/// One check of the suite.
#[derive(Clone, Copy)]
pub struct Check {
    /// Stable id, `<area>/<name>`.
    pub id: &'static str,
    /// The `docs/protocol.md` requirement it tests.
    pub requirement: &'static str,
    /// What it needs to run.
    pub needs: Needs,
    /// Performs it on the session, which starts, connects and handshakes
    /// the plugin on first need.
    pub(crate) run: for<'a> fn(&'a mut Session) -> CheckFuture<'a>,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check")
            .field("id", &self.id)
            .field("requirement", &self.requirement)
            .field("needs", &self.needs)
            .finish_non_exhaustive()
    }
}

/// Runs `check` under a bound and records its outcome.
pub(crate) async fn timed<F: Future<Output = CheckResult>>(
    report: &mut Report,
    check: &Check,
    run: F,
) {
    let started = Instant::now();
    let result = tokio::time::timeout(CALL_TIMEOUT * 2, run)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {:?}", CALL_TIMEOUT * 2)));
    let (status, message) = match result {
        Ok(status) => (status, String::new()),
        Err(m) if m.starts_with("n/a: ") => (Status::NotApplicable, m[5..].to_owned()),
        Err(m) => (Status::Failed, m),
    };
    report.outcomes.push(Outcome {
        id: check.id,
        requirement: check.requirement,
        status,
        message,
        duration: started.elapsed(),
    });
}

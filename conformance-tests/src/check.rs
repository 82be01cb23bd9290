//! One check: its result type and how it is run and recorded.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::report::{Outcome, Report, Status};

/// Deadline of each RPC a check makes.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A check's result: `Err` is a failure, or not applicable when it starts
/// with `n/a: ` (see [`na`]).
pub(crate) type CheckResult = Result<Status, String>;

/// Not applicable, because `why`.
pub(crate) fn na(why: &str) -> CheckResult {
    Err(format!("n/a: {why}"))
}

/// Runs one check under a bound and records its outcome.
pub(crate) async fn timed<F: Future<Output = CheckResult>>(
    report: &mut Report,
    id: &'static str,
    requirement: &'static str,
    check: F,
) {
    let started = Instant::now();
    let result = tokio::time::timeout(CALL_TIMEOUT * 2, check)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {:?}", CALL_TIMEOUT * 2)));
    let (status, message) = match result {
        Ok(status) => (status, String::new()),
        Err(m) if m.starts_with("n/a: ") => (Status::NotApplicable, m[5..].to_owned()),
        Err(m) => (Status::Failed, m),
    };
    report.outcomes.push(Outcome {
        id,
        requirement,
        status,
        message,
        duration: started.elapsed(),
    });
}

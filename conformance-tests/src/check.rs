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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    /// Stable id, `<area>/<name>`.
    pub id: &'static str,
    /// The `docs/protocol.md` requirement it tests.
    pub requirement: &'static str,
    /// What it needs to run.
    pub needs: Needs,
}

const fn check(id: &'static str, requirement: &'static str, needs: Needs) -> Check {
    Check {
        id,
        requirement,
        needs,
    }
}

/// Every check, in the order a run makes them: the one list the runner,
/// the reports and `docs/conformance.md` follow.
///
/// ```
/// use plugwire_conformance::{CHECKS, Needs};
/// let no_cookie = CHECKS.iter().find(|c| c.id == "boot/no-cookie").unwrap();
/// assert_eq!((no_cookie.requirement, no_cookie.needs), ("PW-BOOT-1", Needs::Launch));
/// ```
pub const CHECKS: &[Check] = &[
    check("boot/no-cookie", "PW-BOOT-1", Needs::Launch),
    check("boot/version-none-common", "PW-BOOT-3", Needs::Launch),
    check("boot/line-format", "PW-BOOT-2", Needs::Launch),
    check("boot/stdout-clean", "PW-BOOT-5", Needs::Launch),
    check("boot/socket-in-dir", "PW-BOOT-7", Needs::Launch),
    check("health/plugin-serving", "PW-HEALTH-1", Needs::Serving),
    check("handshake/fields", "PW-HS-3", Needs::Serving),
    check(
        "handshake/capabilities-well-formed",
        "PW-HS-7",
        Needs::Serving,
    ),
    check("configure/valid", "PW-CFG-1", Needs::Serving),
    check("tools/list-matches-handshake", "PW-HS-5", Needs::Serving),
    check("tools/schemas-valid", "PW-TOOL-3", Needs::Serving),
    check("tools/unknown-tool", "PW-TOOL-4", Needs::Serving),
    check("tools/arguments-not-an-object", "PW-TOOL-5", Needs::Serving),
    check(
        "tools/arguments-violating-schema",
        "PW-TOOL-5",
        Needs::Serving,
    ),
    check(
        "commands/declarations-well-formed",
        "PW-CMD-2",
        Needs::Serving,
    ),
    check(
        "hooks/subscriptions-well-formed",
        "PW-HOOK-1",
        Needs::Serving,
    ),
    check("providers/served", "PW-PROV-1", Needs::Serving),
    check("tools/stream", "PW-TOOL-10", Needs::Serving),
    check("tools/deadline", "PW-TOOL-8", Needs::Fixture),
    check("tools/cancellation", "PW-TOOL-8", Needs::Fixture),
    check("tools/concurrent-calls", "PW-TOOL-9", Needs::Fixture),
    check("tools/large-argument", "PW-TOOL-12", Needs::Fixture),
    check("commands/exit-codes", "PW-CMD-7", Needs::Fixture),
    check("commands/stdio-streaming", "PW-CMD-6", Needs::Fixture),
    check("commands/stdin-eof", "PW-CMD-5", Needs::Fixture),
    check("hooks/decisions-valid", "PW-HOOK-4", Needs::Fixture),
    check("hooks/deadline", "PW-HOOK-5", Needs::Fixture),
    check("boot/version-highest-common", "PW-BOOT-3", Needs::Launch),
    check("configure/invalid", "PW-CFG-2", Needs::Launch),
    check("shutdown/shutdown-honoured", "PW-SHUT-1", Needs::Launch),
    check("shutdown/socket-removed", "PW-SHUT-3", Needs::Launch),
    check("shutdown/sigterm", "PW-SHUT-2", Needs::Launch),
];

/// The check with `id`; every id the runner uses is in [`CHECKS`] (a test
/// holds it to that).
pub(crate) fn find(id: &str) -> &'static Check {
    CHECKS
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("check {id:?} is not in CHECKS"))
}

/// Runs check `id` under a bound and records its outcome.
pub(crate) async fn timed<F: Future<Output = CheckResult>>(
    report: &mut Report,
    id: &'static str,
    check: F,
) {
    let requirement = find(id).requirement;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_requirements_well_formed() {
        let mut ids: Vec<&str> = CHECKS.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), CHECKS.len(), "duplicate ids");
        for c in CHECKS {
            assert!(c.id.contains('/'), "{}", c.id);
            assert!(
                c.requirement.starts_with(crate::REQUIREMENT_PREFIX),
                "{}",
                c.id
            );
        }
    }

    /// Every check the runner makes is in the table, named where it runs.
    #[test]
    fn every_id_in_the_sources_is_in_the_table() {
        let sources = [
            include_str!("checks.rs"),
            include_str!("fixture.rs"),
            include_str!("spawn.rs"),
        ];
        let mut used = Vec::new();
        for source in sources {
            for piece in source.split("timed(").skip(1) {
                if let Some(id) = piece.split('"').nth(1)
                    && id.contains('/')
                {
                    used.push(id.to_owned());
                }
            }
        }
        for id in &used {
            assert!(CHECKS.iter().any(|c| c.id == id), "{id} is not in CHECKS");
        }
        for c in CHECKS {
            assert!(used.iter().any(|u| u == c.id), "{} is never run", c.id);
        }
    }

    /// docs/conformance.md lists every check with its requirement, in order.
    #[test]
    fn the_documentation_lists_the_table() {
        let doc = include_str!("../../docs/conformance.md");
        let rows: Vec<(String, String)> = doc
            .lines()
            .filter_map(|l| {
                let mut cells = l.split('|').map(str::trim).skip(1);
                let id = cells.next()?.strip_prefix('`')?.strip_suffix('`')?;
                let requirement = cells.next()?;
                (id.contains('/') && requirement.starts_with("PW-"))
                    .then(|| (id.to_owned(), requirement.to_owned()))
            })
            .collect();
        let table: Vec<(String, String)> = CHECKS
            .iter()
            .map(|c| (c.id.to_owned(), c.requirement.to_owned()))
            .collect();
        assert_eq!(rows, table);
    }
}

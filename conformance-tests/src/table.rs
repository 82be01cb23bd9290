//! The suite as one table: every check's id, requirement, what it needs,
//! and the function that performs it, in the order a run makes them. The
//! runner, the reports, attach mode and `docs/conformance.md` all follow
//! it.

use crate::check::{Check, Needs};
use crate::checks::{boot, fixture, providers, serving, shutdown, tools};

const fn check(
    id: &'static str,
    requirement: &'static str,
    needs: Needs,
    run: for<'a> fn(&'a mut crate::session::Session) -> crate::check::CheckFuture<'a>,
) -> Check {
    Check {
        id,
        requirement,
        needs,
        run,
    }
}

/// Every check, in the order a run makes them.
///
/// ```
/// use plugwire_conformance::{CHECKS, Needs};
/// let no_cookie = CHECKS.iter().find(|c| c.id == "boot/no-cookie").unwrap();
/// assert_eq!((no_cookie.requirement, no_cookie.needs), ("PW-BOOT-1", Needs::Launch));
/// ```
pub const CHECKS: &[Check] = &[
    check(
        "boot/no-cookie",
        "PW-BOOT-1",
        Needs::Launch,
        boot::no_cookie,
    ),
    check(
        "boot/version-none-common",
        "PW-BOOT-3",
        Needs::Launch,
        boot::version_none_common,
    ),
    check(
        "boot/line-format",
        "PW-BOOT-2",
        Needs::Launch,
        boot::line_format,
    ),
    check(
        "boot/stdout-clean",
        "PW-BOOT-5",
        Needs::Launch,
        boot::stdout_clean,
    ),
    check(
        "boot/socket-in-dir",
        "PW-BOOT-7",
        Needs::Launch,
        boot::socket_in_dir,
    ),
    check(
        "health/plugin-serving",
        "PW-HEALTH-1",
        Needs::Serving,
        serving::health,
    ),
    check(
        "boot/16-mib-messages",
        "PW-BOOT-13",
        Needs::Serving,
        serving::message_limit,
    ),
    check(
        "handshake/fields",
        "PW-HS-3",
        Needs::Serving,
        serving::handshake_fields,
    ),
    check(
        "handshake/name-matches-manifest",
        "PW-HS-3",
        Needs::Serving,
        serving::name_matches_manifest,
    ),
    check(
        "handshake/capabilities-well-formed",
        "PW-HS-7",
        Needs::Serving,
        serving::capabilities_well_formed,
    ),
    check(
        "configure/valid",
        "PW-CFG-1",
        Needs::Serving,
        serving::configure_valid,
    ),
    check(
        "tools/list-matches-handshake",
        "PW-HS-5",
        Needs::Serving,
        tools::list_matches_handshake,
    ),
    check(
        "tools/schemas-valid",
        "PW-TOOL-3",
        Needs::Serving,
        tools::schemas_valid,
    ),
    check(
        "tools/unknown-tool",
        "PW-TOOL-4",
        Needs::Serving,
        tools::unknown_tool,
    ),
    check(
        "tools/arguments-not-an-object",
        "PW-TOOL-5",
        Needs::Serving,
        tools::arguments_not_an_object,
    ),
    check(
        "tools/arguments-violating-schema",
        "PW-TOOL-5",
        Needs::Serving,
        tools::arguments_violating_schema,
    ),
    check(
        "commands/declarations-well-formed",
        "PW-CMD-1",
        Needs::Serving,
        serving::commands_well_formed,
    ),
    check(
        "hooks/subscriptions-well-formed",
        "PW-HOOK-1",
        Needs::Serving,
        serving::hooks_well_formed,
    ),
    check(
        "providers/served",
        "PW-PROV-1",
        Needs::Serving,
        providers::providers_served,
    ),
    check(
        "tools/stream",
        "PW-TOOL-10",
        Needs::Serving,
        fixture::stream,
    ),
    check(
        "tools/deadline",
        "PW-TOOL-8",
        Needs::Fixture,
        fixture::deadline,
    ),
    check(
        "tools/cancellation",
        "PW-TOOL-8",
        Needs::Fixture,
        fixture::cancellation,
    ),
    check(
        "tools/concurrent-calls",
        "PW-TOOL-9",
        Needs::Fixture,
        fixture::concurrent_calls,
    ),
    check(
        "tools/large-argument",
        "PW-BOOT-13",
        Needs::Fixture,
        fixture::large_argument,
    ),
    check(
        "commands/exit-codes",
        "PW-CMD-7",
        Needs::Fixture,
        fixture::exit_codes,
    ),
    check(
        "commands/stdio-streaming",
        "PW-CMD-6",
        Needs::Fixture,
        fixture::stdio_streaming,
    ),
    check(
        "commands/stdin-eof",
        "PW-CMD-5",
        Needs::Fixture,
        fixture::stdin_eof,
    ),
    check(
        "hooks/decisions-valid",
        "PW-HOOK-4",
        Needs::Fixture,
        fixture::decisions_valid,
    ),
    check(
        "hooks/deadline",
        "PW-HOOK-5",
        Needs::Fixture,
        fixture::hook_deadline,
    ),
    check(
        "boot/version-highest-common",
        "PW-BOOT-3",
        Needs::Launch,
        boot::version_highest_common,
    ),
    check(
        "configure/invalid",
        "PW-CFG-2",
        Needs::Launch,
        serving::configure_invalid,
    ),
    check(
        "configure/calls-before",
        "PW-CFG-4",
        Needs::Launch,
        serving::calls_before_configure,
    ),
    check(
        "configure/twice",
        "PW-CFG-5",
        Needs::Serving,
        serving::configure_twice,
    ),
    check(
        "handshake/host-service-unlisted",
        "PW-HS-4",
        Needs::Serving,
        serving::host_service_unlisted,
    ),
    check(
        "shutdown/sigint",
        "PW-SHUT-6",
        Needs::Launch,
        shutdown::sigint_honoured,
    ),
    check(
        "shutdown/sighup",
        "PW-SHUT-6",
        Needs::Launch,
        shutdown::sighup_honoured,
    ),
    check(
        "shutdown/shutdown-honoured",
        "PW-SHUT-1",
        Needs::Launch,
        shutdown::shutdown_honoured,
    ),
    check(
        "shutdown/socket-removed",
        "PW-SHUT-3",
        Needs::Launch,
        shutdown::socket_removed,
    ),
    check(
        "shutdown/sigterm",
        "PW-SHUT-2",
        Needs::Launch,
        shutdown::sigterm_honoured,
    ),
];

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

    /// docs/conformance.md lists every check with its requirement, in order,
    /// then the host checks.
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
            .map(|c| (c.id, c.requirement))
            .chain(crate::host_suite::checks())
            .map(|(id, requirement)| (id.to_owned(), requirement.to_owned()))
            .collect();
        assert_eq!(rows, table);
    }

    /// The shutdown checks end the plugin: nothing may come after them.
    #[test]
    fn shutdown_comes_last() {
        let first_shutdown = CHECKS
            .iter()
            .position(|c| c.id.starts_with("shutdown/"))
            .unwrap();
        assert!(
            CHECKS[first_shutdown..]
                .iter()
                .all(|c| c.id.starts_with("shutdown/"))
        );
    }
}

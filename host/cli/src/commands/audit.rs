//! `plugwire audit [--plugin P] [--since T] [--json]`: reads the audit log
//! (docs/security.md, "Audit log"); and the records the CLI itself makes of
//! what it changes on disk.

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use plugwire_host::audit::{AuditConfig, AuditRecord, Filter};

use crate::output::Failure;

/// The audit log every `plugwire` process and the daemon share: beside the
/// plugins' data.
pub(crate) fn log() -> AuditConfig {
    AuditConfig::new(
        plugwire_host::HostConfig::new("plugwire", env!("CARGO_PKG_VERSION"))
            .data_dir
            .join("audit.jsonl"),
    )
}

/// Who runs this command, as the audit log names them.
pub(crate) fn actor() -> String {
    let uid = nix::unistd::getuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => format!("cli:{}", user.name),
        _ => format!("cli:uid {uid}"),
    }
}

/// Records one change the CLI made; a log that cannot be written is
/// reported, and the change stands.
pub(crate) fn record(
    action: &str,
    plugin: Option<&str>,
    target: Option<String>,
    started: Instant,
    result: &Result<ExitCode, Failure>,
) {
    let mut record = AuditRecord::new(&actor(), action, plugin).took(started.elapsed());
    record.target = target;
    if let Err(failure) = result {
        record.outcome = "error".into();
        record.detail = Some(failure.message().to_owned());
    }
    if let Err(why) = plugwire_host::audit::append(&log(), &record) {
        eprintln!("warning: not recorded in the audit log: {why}");
    }
}

/// Records a grant (or other change) made on the way of another command:
/// at a prompt, by an install or an update.
pub(crate) fn recorded(action: &str, plugin: &str, target: String) {
    record(
        action,
        Some(plugin),
        Some(target),
        Instant::now(),
        &Ok(ExitCode::SUCCESS),
    );
}

/// `plugwire audit`.
pub(crate) fn run(
    plugin: Option<&str>,
    since: Option<&str>,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let since = since.map(parse_since).transpose()?;
    let filter = Filter {
        plugin: plugin.map(str::to_owned),
        since,
    };
    let log = log();
    let (records, skipped) = plugwire_host::audit::read(&log, &filter).map_err(Failure::new)?;
    if skipped > 0 {
        eprintln!(
            "warning: {skipped} lines of {} are not audit records",
            log.path.display()
        );
    }
    if as_json {
        for record in &records {
            println!("{}", serde_json::to_string(record).unwrap_or_default());
        }
        return Ok(ExitCode::SUCCESS);
    }
    if records.is_empty() {
        eprintln!("no audit records in {}", log.path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let rows = records
        .iter()
        .map(|r| {
            let outcome = match &r.detail {
                Some(detail) => format!("{}: {detail}", r.outcome),
                None => r.outcome.clone(),
            };
            vec![
                humantime::format_rfc3339_seconds(r.time).to_string(),
                r.actor.clone(),
                r.action.clone(),
                r.plugin.clone().unwrap_or_default(),
                r.target.clone().unwrap_or_default(),
                outcome,
                r.duration_ms
                    .map(|ms| format!("{ms:.1}"))
                    .unwrap_or_default(),
            ]
            .into_iter()
            .map(|cell| plugwire_proto::text::escape_line(&cell).into_owned())
            .collect()
        })
        .collect();
    print!(
        "{}",
        crate::output::table(
            &[
                "TIME", "ACTOR", "ACTION", "PLUGIN", "TARGET", "OUTCOME", "MS"
            ],
            rows
        )
    );
    Ok(ExitCode::SUCCESS)
}

/// An RFC 3339 time, or a duration back from now (`1h`, `30m`, `2days`).
fn parse_since(text: &str) -> Result<SystemTime, Failure> {
    if let Ok(time) = humantime::parse_rfc3339_weak(text) {
        return Ok(time);
    }
    humantime::parse_duration(text)
        .ok()
        .and_then(|back: Duration| SystemTime::now().checked_sub(back))
        .ok_or_else(|| {
            Failure::usage(format!(
                "--since {text:?}: expected a time (2026-12-03T10:00:00Z) or a duration back from now (1h, 30m, 2days)"
            ))
        })
}

//! The bootstrap (PW-BOOT): refusing to start without the cookie or a
//! common version, the line's format, a clean stdout, the socket's place,
//! and the choice of the highest common version.

use std::time::Duration;

use plugwire_host::launch::signal_group;
use plugwire_proto::bootstrap::BootstrapLine;

use crate::check::{CheckFuture, CheckResult};
use crate::report::Status;
use crate::session::Session;
use crate::spawn::{Failed, Process, Starter};

pub(crate) fn no_cookie(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move { refuses(s.starter()?, &[1], false, "without the cookie").await })
}

pub(crate) fn version_none_common(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move { refuses(s.starter()?, &[99], true, "offered only version 99").await })
}

pub(crate) fn line_format(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move { judge(s.main_start().await?).line_format })
}

pub(crate) fn stdout_clean(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move { judge(s.main_start().await?).clean })
}

pub(crate) fn socket_in_dir(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move { judge(s.main_start().await?).socket })
}

pub(crate) fn version_highest_common(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let second = s.second().await?;
        if second.line.app_version == 1 {
            Ok(Status::Passed)
        } else {
            Err(format!(
                "offered 1,99 the plugin chose {}; version 99 does not exist, so the highest common version is 1",
                second.line.app_version
            ))
        }
    })
}

/// Checks that a start without the cookie, or with no common version, ends
/// the way PW-BOOT-1 and PW-BOOT-3 require: no line, a message on stderr, a
/// non-zero exit.
async fn refuses(starter: &Starter, versions: &[u32], cookie: bool, what: &str) -> CheckResult {
    let failed = match starter
        .start(versions, cookie, Duration::from_secs(5))
        .await
    {
        Ok(process) => {
            return Err(format!(
                "{what}, the plugin printed a bootstrap line ({}) instead of exiting",
                process.line
            ));
        }
        Err(failed) => failed,
    };
    if !failed.failure.stdout.is_empty() {
        if let Some(pid) = failed.failure.pid {
            signal_group(pid, nix::sys::signal::Signal::SIGKILL);
        }
        return Err(format!(
            "{what}, the plugin printed {:?} on stdout; it must print nothing there",
            String::from_utf8_lossy(&failed.failure.stdout)
        ));
    }
    let Some(status) = failed.exit_status(Duration::from_secs(5)).await else {
        return Err(format!(
            "{what}, the plugin kept running (it must exit with a non-zero status): {}",
            failed.failure.message
        ));
    };
    if status == "exit status 0" || !status.starts_with("exit status") {
        return Err(format!(
            "{what}, the plugin ended with {status}; expected a non-zero exit status"
        ));
    }
    if failed.stderr.text().trim().is_empty() {
        return Err(format!(
            "{what}, the plugin exited ({status}) without a message on stderr"
        ));
    }
    Ok(Status::Passed)
}

/// The three judgements of the main start's line.
struct Judged {
    line_format: CheckResult,
    clean: CheckResult,
    socket: CheckResult,
}

/// Judges the main start's line: its format, that nothing preceded it, and
/// where its socket is.
fn judge(main: &Result<Process, Failed>) -> Judged {
    let (line, seen, message) = match main {
        Ok(p) => (Ok(p.line.clone()), Vec::new(), String::new()),
        Err(f) => {
            let seen = f.failure.stdout.clone();
            let end = seen
                .iter()
                .position(|b| *b == b'\n')
                .map_or(seen.len(), |i| i + 1);
            let parsed = BootstrapLine::parse_line(&seen[..end]).map_err(|e| e.to_string());
            (parsed, seen, f.failure.message.clone())
        }
    };
    let line_format = match &line {
        Ok(_) => Ok(Status::Passed),
        Err(_) => Err(message.clone()),
    };
    let first = seen.split(|b| *b == b'\n').next().unwrap_or_default();
    let clean = if line.is_ok() || seen.is_empty() || first.starts_with(b"1|") {
        Ok(Status::Passed)
    } else {
        Err(format!(
            "the first line on stdout was {:?}: nothing may be printed before the bootstrap line (write logs to stderr)",
            String::from_utf8_lossy(first)
        ))
    };
    let socket = match (&line, main) {
        (Ok(_), Ok(_)) => Ok(Status::Passed),
        (Ok(l), Err(_)) if message.contains("socket") || message.contains(&l.socket_path) => {
            Err(message.clone())
        }
        (Ok(_), Err(_)) => Ok(Status::Passed),
        (Err(_), _) => Err("not run: no valid bootstrap line".into()),
    };
    Judged {
        line_format,
        clean,
        socket,
    }
}

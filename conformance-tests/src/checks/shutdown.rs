//! Ending a plugin (PW-SHUT): `Shutdown` honoured with exit status 0, the
//! socket removed and no process left behind, and `SIGTERM`, `SIGINT` and
//! `SIGHUP` honoured.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use plugwire_proto::pb;
use tonic::transport::Channel;

use crate::check::{CheckFuture, CheckResult};
use crate::report::Status;
use crate::session::Session;
use crate::spawn::Process;

pub(crate) fn shutdown_honoured(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let channel = s.channel().await?;
        shutdown(s.main().await?, &channel).await
    })
}

pub(crate) fn socket_removed(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let main = s.main().await?;
        if main.exited_within(Duration::from_secs(1)).await.is_none() {
            return Err("not run: the plugin did not exit".into());
        }
        gone(main).await
    })
}

pub(crate) fn sigterm_honoured(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let second = s.second().await.map_err(|why| format!("not run: {why}"))?;
        signalled(second, Signal::SIGTERM).await
    })
}

/// PW-SHUT-6, on a process of its own: `SIGINT` as `SIGTERM`.
pub(crate) fn sigint_honoured(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move { on_its_own(s, Signal::SIGINT).await })
}

/// PW-SHUT-6, on a process of its own: `SIGHUP` as `SIGTERM`.
pub(crate) fn sighup_honoured(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move { on_its_own(s, Signal::SIGHUP).await })
}

async fn on_its_own(s: &mut Session, signal: Signal) -> CheckResult {
    let starter = s.starter()?;
    let process = starter
        .start(&[1], true, starter.bootstrap_timeout)
        .await
        .map_err(|f| format!("not run: the plugin did not start: {}", f.failure.message))?;
    signalled(&process, signal).await
}

async fn shutdown(process: &Process, channel: &Channel) -> CheckResult {
    let grace = Duration::from_secs(1);
    let mut request = tonic::Request::new(pb::ShutdownRequest {
        grace: prost_types::Duration::try_from(grace).ok(),
    });
    request.set_timeout(grace + Duration::from_secs(1));
    pb::plugin_service_client::PluginServiceClient::new(channel.clone())
        .shutdown(request)
        .await
        .map_err(|s| format!("Shutdown: {:?}: {}", s.code(), s.message()))?;
    match process.exited_within(grace + Duration::from_secs(1)).await {
        Some(status) if status == "exit status 0" => Ok(Status::Passed),
        Some(status) => Err(format!(
            "after Shutdown the plugin ended with {status}; expected exit status 0"
        )),
        None => Err(format!(
            "the plugin was still running {:?} after Shutdown{{grace: {grace:?}}}",
            grace + Duration::from_secs(1)
        )),
    }
}

/// After an exit: the socket is removed and no process of the group is left.
async fn gone(process: &Process) -> CheckResult {
    if Path::new(process.socket()).exists() {
        return Err(format!(
            "the socket {} is still there after the plugin exited",
            process.socket()
        ));
    }
    if !process.group_gone_within(Duration::from_secs(1)).await {
        return Err(format!(
            "processes of the plugin's group {} were still running 1 s after it exited: no process may outlive the plugin",
            process.pid
        ));
    }
    Ok(Status::Passed)
}

async fn signalled(process: &Process, signal: Signal) -> CheckResult {
    if let Ok(pid) = i32::try_from(process.pid) {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), signal);
    }
    let limit = Duration::from_secs(6);
    match process.exited_within(limit).await {
        Some(status) if status == "exit status 0" => gone(process).await,
        Some(status) => Err(format!(
            "after {signal} the plugin ended with {status}; expected exit status 0"
        )),
        None => Err(format!(
            "the plugin was still running {limit:?} after {signal} (its grace may be at most 5 s); stderr: {}",
            process.stderr.text().trim()
        )),
    }
}

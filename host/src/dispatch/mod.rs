//! Dispatch: a call from the application (or a plugin, through the host
//! service) to the plugin that serves it, by kind: `tools`, `commands`,
//! `hooks` (and lifecycle events), `providers`; `catalog` lists what the
//! running plugins offer. Each finds its plugin in the live registry and
//! holds it in flight for the call's length, so that a reload lets the
//! call finish where it began.

pub(crate) mod catalog;
pub(crate) mod commands;
pub(crate) mod hooks;
pub(crate) mod providers;
pub(crate) mod resolve;
pub(crate) mod tools;

use std::time::Duration;

use plugwire_proto::receive_limit::ReceiveLimit;
use tonic::Status;

use crate::instance::{Connection, Instance};

/// A transport failure because the plugin died reads as UNAVAILABLE
/// naming the plugin and its exit status, not as a broken pipe. The
/// broken connection is often noticed a moment before the exit, so wait
/// briefly for the status. A refusal over the plugin's receive limit says
/// which limit, against the protocol's, and how to raise it.
pub(crate) async fn explain(instance: &Instance, conn: &Connection, status: Status) -> Status {
    let transport = matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Internal
    ) && (conn.has_exited()
        || status.message().contains("transport")
        || status.message().contains("connection"));
    if transport {
        let how = tokio::time::timeout(Duration::from_millis(500), conn.exited())
            .await
            .unwrap_or_else(|_| "its connection broke".to_owned());
        return Status::unavailable(format!(
            "plugin {:?} crashed during the call ({how})",
            instance.name()
        ));
    }
    if let Some(limit) = ReceiveLimit::in_message(status.message())
        && limit.below_protocol()
    {
        return Status::resource_exhausted(limit.explain(&format!("plugin {:?}", instance.name())));
    }
    status
}

/// Runs a call under `timeout`, judged by our own clock: a call that fails
/// once the deadline has passed failed because of it, whatever the plugin's
/// own timer answered a moment earlier (tonic's server says CANCELLED).
pub(crate) async fn by_our_clock<T>(
    timeout: Duration,
    call: impl std::future::Future<Output = Result<T, Status>>,
) -> Result<T, Status> {
    let started = std::time::Instant::now();
    let expired = || Status::deadline_exceeded(format!("no answer within {timeout:?}"));
    match tokio::time::timeout(timeout, call).await {
        Err(_) => Err(expired()),
        Ok(Err(_)) if started.elapsed() >= timeout => Err(expired()),
        Ok(result) => result,
    }
}

/// The call-depth header's value: static for the depths that can occur, so
/// no call allocates it.
pub(crate) fn depth_metadata(depth: u32) -> tonic::metadata::MetadataValue<tonic::metadata::Ascii> {
    const DEPTHS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    usize::try_from(depth)
        .ok()
        .and_then(|d| DEPTHS.get(d))
        .map_or_else(
            || depth.into(),
            |d| tonic::metadata::MetadataValue::from_static(d),
        )
}

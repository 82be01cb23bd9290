//! Who is on the other end of a plugin's host socket (PW-HOST-2): checked
//! for `HostService` and the application's services alike.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tonic::Status;
use tonic::transport::server::UdsConnectInfo;

/// Whether a connection on a plugin's host socket comes from that plugin
/// (PW-HOST-2): same uid, and a process of the plugin's own group.
#[derive(Clone)]
pub(crate) struct PeerCheck {
    pub(crate) plugin: String,
    /// The plugin's process group, once spawned (0 before).
    pub(crate) pgid: Arc<AtomicU32>,
    /// The uid the plugin's processes have, seen from the host.
    pub(crate) uid: Arc<AtomicU32>,
}

impl PeerCheck {
    pub(crate) fn check(&self, info: Option<&UdsConnectInfo>) -> Result<(), Status> {
        let credentials = info
            .and_then(|info| info.peer_cred)
            .ok_or_else(|| Status::permission_denied("the peer's credentials are unknown"))?;
        if credentials.uid() != self.uid.load(Ordering::Acquire) {
            return Err(Status::permission_denied(format!(
                "peer uid {} is not the plugin's uid",
                credentials.uid()
            )));
        }
        let pgid = self.pgid.load(Ordering::Acquire);
        let pid = credentials.pid().unwrap_or(0);
        match process_group(pid) {
            Some(group) if pgid != 0 && group == pgid => Ok(()),
            _ => Err(Status::permission_denied(format!(
                "process {pid} is not part of plugin {:?}",
                self.plugin
            ))),
        }
    }
}

/// The process group of `pid`, from `/proc/<pid>/stat`.
fn process_group(pid: i32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start
    // after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_process_group() {
        let own = nix::unistd::getpgrp().as_raw() as u32;
        assert_eq!(process_group(std::process::id() as i32), Some(own));
        assert_eq!(process_group(-1), None);
    }
}

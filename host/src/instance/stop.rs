//! Stopping one plugin process within one budget (PW-SHUT-4): `Shutdown`
//! (go-plugin's controller for a plugin that does not serve it), then
//! SIGTERM, then SIGKILL of its whole tree.

use std::time::Duration;

use nix::sys::signal::Signal;
use plugwire_proto::pb;

use super::connect::Connection;
use crate::config::Timeouts;
use crate::process::{signal_group, signal_group_but_leader};

/// Asks the process to shut down, then escalates until it has exited or
/// the budget is spent; its group is killed in any case.
pub(crate) async fn escalate(conn: &Connection, timeouts: &Timeouts) {
    let (grace, wait, term, kill) = stop_schedule(timeouts.shutdown_grace, timeouts.stop);
    let mut plugin = pb::plugin_service_client::PluginServiceClient::new(conn.channel.clone());
    let mut request = tonic::Request::new(pb::ShutdownRequest {
        grace: prost_types::Duration::try_from(grace).ok(),
    });
    request.set_timeout(wait);
    let asked = async {
        if let Err(status) = plugin.shutdown(request).await
            && status.code() == tonic::Code::Unimplemented
        {
            // A plugin served by go-plugin ends through go-plugin's
            // controller (PW-GP-5).
            super::go_plugin::ask_controller(conn.channel.clone(), wait).await;
        }
        conn.exited().await
    };
    let exited = |d| tokio::time::timeout(d, conn.exited());
    if tokio::time::timeout(wait, asked).await.is_err() {
        signal_group(conn.pid, Signal::SIGTERM);
        if exited(term).await.is_err() {
            if conn.reaper {
                // The reaper must outlive the plugin to kill what it left
                // outside its group; it ends by itself right after.
                signal_group_but_leader(conn.pid, Signal::SIGKILL);
                let _ = exited(kill / 2).await;
            }
            signal_group(conn.pid, Signal::SIGKILL);
            if let Some(cgroup) = conn.cgroup() {
                let _ = tokio::task::spawn_blocking(move || cgroup.kill()).await;
            }
            let _ = exited(kill).await;
        }
    }
    signal_group(conn.pid, Signal::SIGKILL);
}

/// How a stop budget is spent: `Shutdown` and the wait for the exit (the
/// grace plus the 1 s PW-SHUT-1 allows, at most 60% of the budget, the grace
/// sent shrunk to fit), then the wait after SIGTERM, then a reserve for
/// SIGKILL to take effect (a tenth of the budget, at least 100 ms). Returns
/// (grace sent, wait for it, wait after SIGTERM, wait after SIGKILL); the
/// waits add up to the budget.
fn stop_schedule(grace: Duration, budget: Duration) -> (Duration, Duration, Duration, Duration) {
    let kill = (budget / 10).max(Duration::from_millis(100)).min(budget);
    let wait = (grace + Duration::from_secs(1)).min(budget.mul_f64(0.6));
    let grace = grace.min(wait.saturating_sub(Duration::from_secs(1)));
    let term = budget.saturating_sub(wait).saturating_sub(kill);
    (grace, wait, term, kill)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stop_schedule_fits_the_budget() {
        let ms = Duration::from_millis;
        let s = |g, b| stop_schedule(ms(g), ms(b));
        assert_eq!(s(2000, 5000), (ms(2000), ms(3000), ms(1500), ms(500)));
        assert_eq!(
            s(10_000, 5000),
            (ms(2000), ms(3000), ms(1500), ms(500)),
            "grace shrunk"
        );
        assert_eq!(s(500, 500).0, ms(0), "no time for a grace");
        for (g, b) in [
            (2000, 5000),
            (10_000, 3000),
            (0, 50),
            (500, 500),
            (0, 60_000),
        ] {
            let (_, wait, term, kill) = s(g, b);
            assert!(wait + term + kill <= ms(b).max(ms(100)), "{g} {b}");
        }
    }
}

//! `plugwire logs [PLUGIN] [--follow]`: print plugins' logs (starting them
//! first when no daemon runs them).

use std::process::ExitCode;
use std::time::Duration;

use crate::backend::Backend;
use crate::output::{Failure, log_json, log_text};

pub(crate) async fn run(
    backend: &Backend,
    plugin: Option<&str>,
    follow: bool,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    backend.start_all().await;
    let mut after = 0;
    loop {
        for record in backend.logs(plugin, after).await? {
            after = record.seq;
            if as_json {
                // JSON Lines: one record per line, for `jq` and log shippers.
                println!("{}", log_json(&record));
            } else {
                println!("{}", log_text(&record));
            }
        }
        if !follow {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
}

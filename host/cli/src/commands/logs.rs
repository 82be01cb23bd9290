//! `plugwire logs [PLUGIN] [--follow]`: start plugins and print their logs.

use std::process::ExitCode;
use std::time::Duration;

use plugwire_host::Host;

use crate::output::{Failure, log_json, log_text, print_json};

pub(crate) async fn run(
    host: &Host,
    plugin: Option<&str>,
    follow: bool,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    host.start_all().await;
    let mut seen = 0;
    loop {
        let records = host.logs(plugin);
        for record in records.iter().skip(seen) {
            if as_json {
                print_json(&log_json(record));
            } else {
                println!("{}", log_text(record));
            }
        }
        seen = records.len();
        if !follow {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
}

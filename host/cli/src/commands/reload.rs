//! `plugwire reload PLUGIN`: replace a running plugin with what its
//! directory holds now, without dropping a call (in the daemon), or check
//! that the new version starts (in-process).

use std::process::ExitCode;

use crate::backend::Backend;
use crate::output::{Failure, print_json, to_json};

pub(crate) async fn run(
    backend: &Backend,
    plugin: &str,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let status = backend.reload(plugin).await?;
    if as_json {
        print_json(&to_json(&status));
    } else {
        println!(
            "reloaded {} {} (pid {})",
            status.name,
            status.version,
            status.pid.map_or("-".into(), |p| p.to_string())
        );
    }
    Ok(ExitCode::SUCCESS)
}

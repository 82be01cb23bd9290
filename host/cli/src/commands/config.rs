//! `plugwire config PLUGIN [JSON]`: show a plugin's effective
//! configuration, or set its run-time part (checked against its schema).

use std::process::ExitCode;

use crate::backend::Backend;
use crate::input::read_json;
use crate::output::{Failure, print_json};

pub(crate) async fn run(
    backend: &Backend,
    plugin: &str,
    set: Option<&str>,
) -> Result<ExitCode, Failure> {
    let set = set
        .map(|text| read_json(Some(text), "configuration"))
        .transpose()?;
    let config = backend.config(plugin, set).await?;
    print_json(&config);
    Ok(ExitCode::SUCCESS)
}

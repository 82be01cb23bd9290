//! `plugwire-mcp-adapter`: runs an MCP server as a plugwire plugin. A
//! plugwire host starts it for a manifest with `kind = "mcp"`, inside the
//! plugin's sandbox (docs/mcp.md); it is not meant to be run by hand.

use std::process::ExitCode;

use plugwire_mcp::adapter::{AdapterArgs, run};

fn main() -> ExitCode {
    let args = match AdapterArgs::parse(std::env::args_os().skip(1)) {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    // rmcp logs every notification at info; the plugin's log is for what
    // the server and the adapter have to say.
    plugwire_sdk::logging::init_with_default("info,rmcp=warn");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

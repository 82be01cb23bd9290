//! plugwire and the Model Context Protocol, both ways (`docs/mcp.md`).
//!
//! - [`Bridge`]: an MCP server offering every tool of a host's plugins to
//!   any MCP client, over stdio ([`Bridge::serve_stdio`]) or MCP's
//!   streamable HTTP ([`http`]).
//! - The adapter (`plugwire-mcp-adapter`, [`adapter`]): runs an MCP server
//!   as a plugwire plugin, so that a manifest with `kind = "mcp"` gets the
//!   sandbox, limits, supervision and every way of calling a tool.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let host = plugwire_host::Host::start(plugwire_host::HostConfig::new("acme", "1.0.0").plugin_dir("plugins")).await?;
//! plugwire_mcp::Bridge::new(host.clone()).serve_stdio().await?;
//! host.shutdown().await;
//! # Ok(()) }
//! ```

pub mod adapter;
pub mod bridge;
pub mod convert;
pub mod http;
pub mod names;

pub use bridge::{Bridge, BridgeError};

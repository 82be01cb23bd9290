//! Write plugwire plugins in Rust.
//!
//! The SDK owns everything the protocol (`docs/protocol.md`) asks of a
//! plugin: the magic-cookie check, version negotiation, binding the socket,
//! printing the bootstrap line, health, handshake, configuration, graceful
//! shutdown on `Shutdown` or SIGTERM, removing the socket, and hclog-style
//! logs on stderr. You write tools, commands, hooks and providers.
//!
//! # Your first plugin in 20 lines
//!
//! ```no_run
//! use plugwire_sdk::{Plugin, Tool, ToolContext, ToolError};
//! use schemars::JsonSchema;
//! use serde::Deserialize;
//!
//! /// Arguments of the `greet` tool; doc comments become schema descriptions.
//! #[derive(Deserialize, JsonSchema)]
//! struct Greet {
//!     /// Who to greet.
//!     name: String,
//! }
//!
//! fn main() {
//!     let plugin = Plugin::new("hello", env!("CARGO_PKG_VERSION"))
//!         .description("Greets people")
//!         .tool(Tool::new("greet", "Greets someone by name", |args: Greet, _cx: ToolContext| async move {
//!             Ok::<_, ToolError>(format!("hello, {}!", args.name))
//!         }));
//!     plugwire_sdk::serve_blocking(plugin);
//! }
//! ```
//!
//! Build it, put the binary next to a `plugin.toml` (see `docs/manifest.md`),
//! and `plugwire call hello.greet '{"name":"Ada"}'` prints `"hello, Ada!"`.
//!
//! # Testing
//!
//! [`testing::TestHost`] runs the plugin inside your test, over a real
//! socket, with the host's side of the protocol done for you:
//!
//! ```
//! # use plugwire_sdk::{Plugin, Tool, ToolContext, ToolError};
//! # #[derive(serde::Deserialize, schemars::JsonSchema)] struct Greet { name: String }
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let plugin = Plugin::new("hello", "0.1.0").tool(Tool::new("greet", "Greets", |a: Greet, _cx: ToolContext| async move {
//!     Ok::<_, ToolError>(format!("hello, {}!", a.name))
//! }));
//! let host = plugwire_sdk::testing::TestHost::start(plugin).await?;
//! let out = host.call_tool("greet", serde_json::json!({"name": "Ada"})).await?;
//! assert_eq!(out.content, "hello, Ada!");
//! let bad = host.call_tool("greet", serde_json::json!({})).await.unwrap_err();
//! assert_eq!(bad.code(), tonic::Code::InvalidArgument);
//! host.shutdown().await?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # What goes where
//!
//! - [`Tool`]: typed arguments (`serde` + `schemars`), progress and
//!   cancellation through [`ToolContext`]; failures with [`ToolError`].
//! - [`Command`]: flags ([`Flag`]), positional [`Arg`]s, streamed stdio
//!   ([`CommandIo`]) and an exit code.
//! - [`Hook`]: observe or intercept events; return a [`Decision`].
//! - [`Plugin::provider`]: serve any tonic service generated from your
//!   application's own `.proto`.
//! - [`HostClient`]: emit events, call other plugins' tools, and keep
//!   key-value state in the host, from any handler via `cx.host()`.
//!
//! # Building a plugin
//!
//! A plugin is started often, so what its loader does counts. On glibc 2.36
//! and binutils 2.38 or newer, link with packed relative relocations; in
//! the plugin's `.cargo/config.toml`:
//!
//! ```toml
//! [target.x86_64-unknown-linux-gnu]
//! rustflags = ["-C", "link-arg=-Wl,-z,pack-relative-relocs"]
//! ```
//!
//! The loader then reads 7 KiB of relocations instead of about 600 KiB:
//! the example echo plugin's idle RSS falls from 6.6 to 5.9 MiB, and the
//! binary stays position-independent. [`serve_blocking`] serves on one
//! thread, with no cross-CPU wake-up per call; a handler that blocks for
//! long moves that work to `tokio::task::spawn_blocking`.

// The guide and `serve_blocking` show a whole `fn main` on purpose.
#![allow(clippy::needless_doctest_main)]

mod auto_mtls;
mod command;
mod error;
mod handle;
mod hook;
mod host_client;
pub mod logging;
mod plugin;
mod serve;
mod service;
pub mod testing;
mod tool;

pub use command::{
    Arg, Command, CommandContext, CommandIo, CommandSpec, Flag, Output, Signal, Stdin,
};
pub use error::{BoxError, ConfigError, HostUnavailable, ServeError, ToolError};
pub use handle::PluginHandle;
pub use hook::{Decision, Hook, HookContext, HookEvent, HookMode};
pub use host_client::{EmitOutcome, HostClient, ToolOutcome};
pub use plugin::Plugin;
pub use serve::{SOCKET_FILE_NAME, serve, serve_blocking, try_serve};
pub use tool::{Tool, ToolContext};

pub use plugwire_proto as proto;
pub use tokio_util::sync::CancellationToken;

//! The plugwire wire contract, version 1.
//!
//! This crate holds everything both sides of a plugwire connection must agree
//! on, and nothing that performs I/O:
//!
//! - [`pb`]: the tonic/prost code generated from `proto/plugwire/v1/*.proto`;
//! - [`constants`]: protocol versions, the magic cookie, environment variable
//!   names, limits;
//! - [`bootstrap`]: the go-plugin compatible bootstrap line
//!   (`1|1|unix|/path|grpc|`) with a strict parser and a formatter;
//! - [`version`]: parsing `PLUGIN_PROTOCOL_VERSIONS` and picking the
//!   highest common version;
//! - [`log`]: the hclog-style JSON log line that plugins write to stderr;
//! - [`text`]: escaping a plugin's text before it reaches a terminal;
//! - [`receive_limit`]: recognising a peer's gRPC receive limit in an error.
//!
//! The normative description is `docs/protocol.md`.
//!
//! ```
//! use plugwire_proto::bootstrap::BootstrapLine;
//!
//! let line = BootstrapLine::parse_line(b"1|1|unix|/run/pw/p.sock|grpc|\n")?;
//! assert_eq!(line.app_version, 1);
//! assert_eq!(line.socket_path, "/run/pw/p.sock");
//! # Ok::<(), plugwire_proto::bootstrap::BootstrapLineError>(())
//! ```

pub mod bootstrap;
pub mod cli;
pub mod constants;
pub mod deadline;
pub mod help;
pub mod log;
pub mod names;
pub mod problem;
pub mod receive_limit;
pub mod text;
pub mod version;

/// Generated protobuf messages and gRPC stubs for `plugwire.v1`.
///
/// Every message and field is documented in the `.proto` files and in
/// `docs/protocol.md`.
///
/// ```
/// use plugwire_proto::pb::CallToolRequest;
///
/// let request = CallToolRequest {
///     name: "echo".into(),
///     arguments_json: r#"{"text":"hi"}"#.into(),
/// };
/// assert_eq!(request.name, "echo");
/// ```
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod pb {
    tonic::include_proto!("plugwire.v1");

    /// The encoded `FileDescriptorSet` of `plugwire.v1`, for gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("plugwire_v1_descriptor");
}

/// Generated messages and stubs for HashiCorp go-plugin's own services
/// (package `plugin`): the controller a go-plugin client stops a plugin
/// with, the stdio stream that carries a go-plugin plugin's output, and the
/// broker's control stream. See `docs/protocol.md`, "go-plugin
/// interoperability".
///
/// ```
/// use plugwire_proto::go_plugin::{StdioData, stdio_data::Channel};
///
/// let chunk = StdioData { channel: Channel::Stderr as i32, data: b"hi".to_vec() };
/// assert_eq!(chunk.channel(), Channel::Stderr);
/// ```
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod go_plugin {
    tonic::include_proto!("plugin");
}

pub use prost_types;

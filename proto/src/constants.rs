//! Protocol constants shared by hosts and plugins.
//!
//! ```
//! use plugwire_proto::constants::{MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE};
//!
//! let plugin_may_start = std::env::var(MAGIC_COOKIE_KEY).as_deref() == Ok(MAGIC_COOKIE_VALUE);
//! # let _ = plugin_may_start;
//! ```

/// The go-plugin "core" protocol version: the first field of the bootstrap line.
pub const CORE_PROTOCOL_VERSION: u32 = 1;

/// The plugwire app protocol version this crate implements (`plugwire.v1`).
pub const APP_PROTOCOL_VERSION: u32 = 1;

/// Every app protocol version this crate can speak, lowest first.
pub const SUPPORTED_APP_VERSIONS: &[u32] = &[APP_PROTOCOL_VERSION];

/// Environment variable holding the magic cookie (PW-BOOT-1).
pub const MAGIC_COOKIE_KEY: &str = "PLUGWIRE_PLUGIN";

/// The magic cookie's value. A UX guard against running a plugin by hand,
/// not a security measure.
pub const MAGIC_COOKIE_VALUE: &str = "5d3c1f0e-plugwire";

/// Environment variable listing the app versions the host speaks, e.g. `1,2`.
pub const ENV_PROTOCOL_VERSIONS: &str = "PLUGIN_PROTOCOL_VERSIONS";

/// Environment variable naming the directory the plugin binds its socket in.
pub const ENV_UNIX_SOCKET_DIR: &str = "PLUGIN_UNIX_SOCKET_DIR";

/// Environment variable in which a go-plugin client with `AutoMTLS` passes
/// its one-time certificate (PEM); the plugin then answers over TLS
/// (PW-GP-3).
pub const ENV_CLIENT_CERT: &str = "PLUGIN_CLIENT_CERT";

/// Environment variable a go-plugin client sets to `true` to ask for its
/// multiplexed broker; a plugin that sees it states its choice in the
/// bootstrap line's seventh field (PW-GP-4).
pub const ENV_MULTIPLEX_GRPC: &str = "PLUGIN_MULTIPLEX_GRPC";

/// Environment variable naming the host's callback socket for this plugin.
pub const ENV_HOST_SOCKET: &str = "PLUGWIRE_HOST_SOCKET";

/// Environment variable holding this plugin instance's UUID.
pub const ENV_INSTANCE_ID: &str = "PLUGWIRE_INSTANCE_ID";

/// The service name whose health the host checks with `grpc.health.v1`.
pub const HEALTH_SERVICE_NAME: &str = "plugin";

/// The `:authority` clients use when dialling a plugin's Unix socket.
pub const UNIX_AUTHORITY: &str = "localhost";

/// Longest bootstrap line accepted, newline included. go-plugin lines with a
/// certificate are about 2 KiB; anything past this is not a bootstrap line.
pub const MAX_BOOTSTRAP_LINE_LEN: usize = 8 * 1024;

/// Longest socket path, in bytes: `sun_path` is 108 bytes with the NUL.
pub const MAX_SOCKET_PATH_LEN: usize = 107;

/// Longest log line a host reads from a plugin's stdout or stderr before
/// cutting it (the rest of the line is dropped and counted).
pub const MAX_LOG_LINE_LEN: usize = 64 * 1024;

/// Largest gRPC message either side must accept (tool arguments and results
/// up to this size must work).
pub const MAX_MESSAGE_SIZE: usize = 16 * 1024 * 1024;

/// Largest stdin/stdout/stderr chunk in a command stream.
pub const MAX_STDIO_CHUNK: usize = 64 * 1024;

/// Largest JSON Schema a tool may declare, for input or output, in bytes
/// (PW-TOOL-14). Hosts compile and keep every schema: a cap keeps one
/// plugin from growing the host by hundreds of megabytes.
pub const MAX_SCHEMA_BYTES: usize = 256 * 1024;

/// Deepest nesting of arrays and objects in a tool's JSON Schema (PW-TOOL-14).
pub const MAX_SCHEMA_DEPTH: usize = 32;

/// Largest `ListTools` response a host accepts, in bytes (PW-TOOL-14).
pub const MAX_TOOL_LIST_BYTES: usize = 4 * 1024 * 1024;

/// Metadata key carrying how many tool calls deep a call is (PW-HOST-6).
/// The host sets it on every call to a plugin; a plugin copies it onto the
/// `HostService` calls it makes while serving that call.
pub const CALL_DEPTH_METADATA: &str = "plugwire-call-depth";

/// Metadata key carrying the id of the chain of tool calls a call belongs
/// to (PW-HOST-6). The host sets it on every tool call to a plugin; a plugin
/// copies it onto the `HostService` calls it makes while serving that call,
/// so the host knows which of the plugin's calls the callback continues.
/// The host counts depth itself and never trusts a depth a plugin sends.
pub const CALL_CHAIN_METADATA: &str = "plugwire-call-chain";

/// Metadata key a host MAY set on `CallTool` and `CallToolStream`, with the
/// value [`ARGUMENTS_VALIDATED`], when it has checked the call's arguments
/// against the tool's listed input schema (PW-TOOL-16). A plugin may then
/// skip its own schema check of that call: only the host reaches the
/// plugin's socket, so the mark is as trusted as the host's arguments.
pub const ARGUMENTS_VALIDATED_METADATA: &str = "plugwire-arguments-validated";

/// The only value of [`ARGUMENTS_VALIDATED_METADATA`]; any other value
/// means the arguments were not validated.
pub const ARGUMENTS_VALIDATED: &str = "1";

/// Deepest chain of tool calls through the host (PW-HOST-6).
pub const MAX_CALL_DEPTH: u32 = 8;

/// Optional protocol features (PW-HS-4). A side uses a feature only when
/// both sides listed it in the handshake; unknown names are ignored.
pub mod features {
    /// The plugin serves `CallToolStream` with progress.
    pub const TOOL_PROGRESS: &str = "tool.progress";
    /// The plugin exposes the conformance fixture profile of
    /// `docs/conformance.md`.
    pub const CONFORMANCE: &str = "conformance";
    /// The host serves `HostService` on `PLUGWIRE_HOST_SOCKET`.
    pub const HOST_SERVICE: &str = "host.service";
}

/// Metadata key on a host's `INVALID_ARGUMENT` whose value `usage` says a
/// command line did not fit its command's declaration (not a tool's
/// arguments): clients show the command's help rather than a schema.
pub const USAGE_METADATA: &str = "plugwire-error-kind";

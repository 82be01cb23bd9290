//! The plugwire host: the side of the protocol that applications embed.
//!
//! This crate currently exposes the protocol version it speaks; discovery,
//! spawning, supervision and dispatch are being built (see `docs/`).
//!
//! ```
//! assert_eq!(plugwire_host::PROTOCOL_VERSIONS, &[1]);
//! ```

/// The app protocol versions this host offers plugins, lowest first.
pub const PROTOCOL_VERSIONS: &[u32] = plugwire_proto::constants::SUPPORTED_APP_VERSIONS;

//! The plugwire conformance suite.
//!
//! Checks are being written; until then this crate only names the
//! requirement-id prefix every check cites from `docs/protocol.md`.
//!
//! ```
//! assert!(plugwire_conformance::REQUIREMENT_PREFIX.starts_with("PW-"));
//! ```

/// Every requirement id in `docs/protocol.md` starts with this prefix.
pub const REQUIREMENT_PREFIX: &str = "PW-";

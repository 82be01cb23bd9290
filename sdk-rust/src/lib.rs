//! Rust SDK for plugwire plugins (being built).

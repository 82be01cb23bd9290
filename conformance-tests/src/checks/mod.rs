//! The checks, one function each, by area; `table.rs` lists them.

pub(crate) mod boot;
pub(crate) mod fixture;
pub(crate) mod providers;
mod raw_codec;
pub(crate) mod serving;
pub(crate) mod shutdown;
pub(crate) mod tools;

//! Plugin packages (docs/packages.md): a reproducible `.tar.gz` of a plugin
//! directory with the SHA-256 of every file inside it (`SHA256SUMS`),
//! built by [`pack`], and unpacked by [`unpack`] with every check a hostile
//! archive calls for, then installed atomically by [`install`].
//!
//! ```no_run
//! use plugwire_host::packages::{Limits, install, pack};
//! # fn f() -> Result<(), plugwire_host::packages::PackageError> {
//! let package = pack("plugins/echo".as_ref())?;
//! println!("{} bytes, {}", package.bytes.len(), package.digest);
//! let installed = install(&package.bytes[..], "/home/me/.config/plugwire/plugins".as_ref(), &Limits::default())?;
//! assert_eq!(installed.name, "echo");
//! # Ok(()) }
//! ```

mod error;
mod fetch;
mod index;
mod install;
mod pack;
mod registry;
mod resolve;
mod sign;
mod sums;
mod unpack;

pub use error::PackageError;
pub(crate) use fetch::join;
pub use fetch::{fetch, fetch_with};
pub use index::{Downloaded, Entry, INDEX_FILE, Index};
pub use install::{Installed, Staged, install, stage};
pub use pack::{Package, pack, pack_for};
pub(crate) use registry::launch_check;
pub use registry::{Check, FileRecord, REGISTRY_FILE, Record, Registry};
pub use resolve::Catalog;
pub use sign::{SIGNATURE_SUFFIX, Signer, TrustStore, TrustedKey, keygen, sign};
pub use sums::{SUMS_FILE, digest_of};
pub use unpack::{Limits, PLATFORM_FILE, Unpacked, unpack};

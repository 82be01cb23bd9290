//! Why a package could not be built, read or installed: what was expected,
//! what was seen, and where.

/// A package problem, naming the file or archive entry it is about.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// An archive entry is refused (traversal, link, device, setuid, ...).
    #[error("entry {entry:?}: {why}")]
    Entry {
        /// The entry's path as the archive names it.
        entry: String,
        /// Why it is refused, and what would be accepted.
        why: String,
    },
    /// The archive breaks a cap (entries, size, path length).
    #[error("{0}")]
    TooLarge(String),
    /// A file's digest is not the one `SHA256SUMS` records, or the list
    /// and the files disagree.
    #[error("{path}: {why}")]
    Digest {
        /// The file.
        path: String,
        /// Expected and seen.
        why: String,
    },
    /// The package's manifest is invalid.
    #[error("{0}")]
    Manifest(String),
    /// The directory cannot be packed as it is.
    #[error("{path}: {why}")]
    Source {
        /// The file.
        path: String,
        /// Why, and how to fix it.
        why: String,
    },
}

impl PackageError {
    pub(crate) fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_string(),
            source,
        }
    }

    pub(crate) fn entry(entry: impl Into<String>, why: impl Into<String>) -> Self {
        Self::Entry {
            entry: entry.into(),
            why: why.into(),
        }
    }
}

//! App protocol version negotiation (PW-BOOT-3).
//!
//! The host lists the versions it speaks in `PLUGIN_PROTOCOL_VERSIONS`; the
//! plugin picks the highest version both speak and prints it in the
//! bootstrap line.
//!
//! ```
//! use plugwire_proto::version::{negotiate, parse_protocol_versions};
//!
//! let host = parse_protocol_versions("1,2")?;
//! assert_eq!(negotiate(&host, &[1]), Some(1));
//! assert_eq!(negotiate(&host, &[3]), None);
//! # Ok::<(), plugwire_proto::version::VersionListError>(())
//! ```

/// Longest `PLUGIN_PROTOCOL_VERSIONS` value accepted.
pub const MAX_VERSION_LIST_LEN: usize = 256;

/// Why a `PLUGIN_PROTOCOL_VERSIONS` value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionListError {
    /// The variable was empty.
    #[error(
        "PLUGIN_PROTOCOL_VERSIONS is empty: expected a comma-separated list of positive integers such as `1` or `1,2`; run the plugin through a plugwire host"
    )]
    Empty,
    /// The variable was longer than [`MAX_VERSION_LIST_LEN`].
    #[error(
        "PLUGIN_PROTOCOL_VERSIONS is {len} bytes, over the {MAX_VERSION_LIST_LEN}-byte limit: expected a short list such as `1,2`"
    )]
    TooLong {
        /// Length seen.
        len: usize,
    },
    /// An entry was not a positive decimal integer.
    #[error(
        "PLUGIN_PROTOCOL_VERSIONS entry {entry:?} is not a positive integer: expected a comma-separated list such as `1,2`"
    )]
    BadEntry {
        /// The offending entry.
        entry: String,
    },
}

/// Parses a comma-separated version list such as `1,2` (spaces around
/// entries are tolerated, as go-plugin does). The result is sorted and free
/// of duplicates.
///
/// ```
/// use plugwire_proto::version::parse_protocol_versions;
/// assert_eq!(parse_protocol_versions(" 2, 1,2")?, vec![1, 2]);
/// assert!(parse_protocol_versions("1,x").is_err());
/// # Ok::<(), plugwire_proto::version::VersionListError>(())
/// ```
pub fn parse_protocol_versions(value: &str) -> Result<Vec<u32>, VersionListError> {
    if value.len() > MAX_VERSION_LIST_LEN {
        return Err(VersionListError::TooLong { len: value.len() });
    }
    if value.trim().is_empty() {
        return Err(VersionListError::Empty);
    }
    let mut versions = Vec::new();
    for entry in value.split(',') {
        let entry = entry.trim();
        match parse_positive(entry) {
            Some(v) => versions.push(v),
            None => {
                return Err(VersionListError::BadEntry {
                    entry: entry.to_owned(),
                });
            }
        }
    }
    versions.sort_unstable();
    versions.dedup();
    Ok(versions)
}

/// Parses a positive decimal integer made of ASCII digits only (no sign, no
/// spaces, no leading zeros), which is stricter than `str::parse`.
pub(crate) fn parse_positive(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) || text.starts_with('0') {
        return None;
    }
    text.parse().ok().filter(|v| *v > 0)
}

/// Returns the highest version present in both lists.
///
/// ```
/// use plugwire_proto::version::negotiate;
/// assert_eq!(negotiate(&[1, 2, 3], &[2, 3, 4]), Some(3));
/// assert_eq!(negotiate(&[1], &[2]), None);
/// ```
pub fn negotiate(host: &[u32], plugin: &[u32]) -> Option<u32> {
    host.iter().copied().filter(|v| plugin.contains(v)).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sorts_and_dedups() {
        assert_eq!(parse_protocol_versions("3,1,3").unwrap(), vec![1, 3]);
        assert_eq!(parse_protocol_versions("1").unwrap(), vec![1]);
    }

    #[test]
    fn rejects_bad_lists() {
        assert_eq!(parse_protocol_versions(""), Err(VersionListError::Empty));
        assert_eq!(parse_protocol_versions("  "), Err(VersionListError::Empty));
        for bad in ["0", "-1", "1,,2", "a", "1.5", "+1", "01", "99999999999"] {
            assert!(
                matches!(
                    parse_protocol_versions(bad),
                    Err(VersionListError::BadEntry { .. })
                ),
                "{bad} should be rejected"
            );
        }
        let long = "1,".repeat(200);
        assert!(matches!(
            parse_protocol_versions(&long),
            Err(VersionListError::TooLong { .. })
        ));
    }

    #[test]
    fn negotiation_picks_highest_common() {
        assert_eq!(negotiate(&[1, 2], &[1, 2]), Some(2));
        assert_eq!(negotiate(&[1, 2], &[1]), Some(1));
        assert_eq!(negotiate(&[], &[1]), None);
    }

    #[test]
    fn error_messages_say_what_was_expected() {
        let msg = parse_protocol_versions("x").unwrap_err().to_string();
        assert!(msg.contains("\"x\"") && msg.contains("1,2"), "{msg}");
    }
}

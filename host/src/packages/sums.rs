//! `SHA256SUMS`: the digest of every file of a package, in the format
//! `sha256sum -c` reads (`<64 hex>  <path>`, one per line, sorted by path).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::PackageError;

/// The name of the digest list at the root of a package.
pub const SUMS_FILE: &str = "SHA256SUMS";

/// `sha256:<hex>` of `bytes`: how packages are named by digest.
///
/// ```
/// let d = plugwire_host::packages::digest_of(b"");
/// assert_eq!(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
/// ```
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes the list for `files` (path → hex digest).
pub(crate) fn format(files: &BTreeMap<String, String>) -> String {
    files
        .iter()
        .map(|(path, digest)| format!("{digest}  {path}\n"))
        .collect()
}

/// Reads a list, refusing malformed lines and repeated paths.
pub(crate) fn parse(text: &str) -> Result<BTreeMap<String, String>, PackageError> {
    let mut files = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let bad = |why: &str| PackageError::Digest {
            path: format!("{SUMS_FILE} line {}", n + 1),
            why: format!("{why}; expected `<64 hex digits>  <path>`, saw {line:?}"),
        };
        let (digest, path) = line
            .split_once("  ")
            .ok_or_else(|| bad("no two-space separator"))?;
        if digest.len() != 64
            || !digest
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return Err(bad("not a lowercase SHA-256"));
        }
        if files.insert(path.to_owned(), digest.to_owned()).is_some() {
            return Err(bad("the path is listed twice"));
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let mut files = BTreeMap::new();
        files.insert("plugin.toml".to_owned(), "a".repeat(64));
        files.insert("bin/x".to_owned(), "b".repeat(64));
        let text = format(&files);
        assert!(
            text.starts_with(&format!("{}  bin/x\n", "b".repeat(64))),
            "sorted"
        );
        assert_eq!(parse(&text).unwrap(), files);
        assert!(parse("abc  x").is_err());
        assert!(parse(&format!("{} x", "a".repeat(64))).is_err());
        let twice = format!("{0}  x\n{0}  x\n", "a".repeat(64));
        assert!(parse(&twice).unwrap_err().to_string().contains("twice"));
    }
}

//! MCP tool names for plugwire tools, and back.
//!
//! A plugwire tool is `<plugin>.<tool>`. MCP allows dots since 2025-11-25,
//! but many clients (and the model APIs behind them) accept only
//! `^[A-Za-z0-9_-]{1,64}$`, so the bridge names it `<plugin>__<tool>`.
//! Plugin names have no `_` (PW-HS-3), so the first `_` ends the plugin's
//! name and the mapping back is unambiguous whatever the tool is called.
//! A name longer than 64 bytes keeps its first 55 and ends in `-` and 8 hex
//! digits of its SHA-256, and is mapped back through the current listing.

use sha2::{Digest, Sha256};

/// The longest tool name the strictest MCP clients accept.
pub const MAX_NAME: usize = 64;

const SEPARATOR: &str = "__";
const HASH_HEX: usize = 8;

/// The MCP name of `plugin`'s tool `tool`.
///
/// ```
/// assert_eq!(plugwire_mcp::names::mcp_name("word-count", "count_words"), "word-count__count_words");
/// let long = plugwire_mcp::names::mcp_name("p", &"t".repeat(70));
/// assert_eq!(long.len(), 64);
/// ```
pub fn mcp_name(plugin: &str, tool: &str) -> String {
    let full = format!("{plugin}{SEPARATOR}{tool}");
    if full.len() <= MAX_NAME {
        return full;
    }
    let digest = Sha256::digest(full.as_bytes());
    let hash: String = digest
        .iter()
        .take(HASH_HEX / 2)
        .map(|b| format!("{b:02x}"))
        .collect();
    // Every byte is ASCII (PW-HS-3, PW-TOOL-2), so any cut is a boundary.
    format!("{}-{hash}", &full[..MAX_NAME - HASH_HEX - 1])
}

/// The `<plugin>.<tool>` an MCP name stands for, when it is not a
/// shortened one (those are looked up in the listing instead).
///
/// ```
/// use plugwire_mcp::names::qualified;
/// assert_eq!(qualified("word-count__count_words").as_deref(), Some("word-count.count_words"));
/// assert_eq!(qualified("a__b__c").as_deref(), Some("a.b__c"));
/// assert_eq!(qualified("no-separator"), None);
/// ```
pub fn qualified(name: &str) -> Option<String> {
    let at = name.find('_')?;
    let (plugin, rest) = name.split_at(at);
    let tool = rest.strip_prefix(SEPARATOR)?;
    if plugin.is_empty() || tool.is_empty() {
        return None;
    }
    Some(format!("{plugin}.{tool}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_one_strict_clients_accept_and_maps_back() {
        let cases = [
            ("echo", "echo".to_owned()),
            ("a", "x-y_z".to_owned()),
            ("p", "__leading".to_owned()),
            (&"p".repeat(64) as &str, "t".repeat(64)),
        ];
        for (plugin, tool) in &cases {
            let name = mcp_name(plugin, tool);
            assert!(name.len() <= MAX_NAME, "{name}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
                "{name}"
            );
            if plugin.len() + SEPARATOR.len() + tool.len() <= MAX_NAME {
                assert_eq!(qualified(&name), Some(format!("{plugin}.{tool}")));
            } else {
                assert_eq!(name.len(), MAX_NAME);
            }
        }
    }

    #[test]
    fn shortened_names_differ_for_different_tools() {
        let a = mcp_name("p", &format!("{}a", "t".repeat(70)));
        let b = mcp_name("p", &format!("{}b", "t".repeat(70)));
        assert_ne!(a, b);
        assert_eq!(a.len(), MAX_NAME);
    }

    #[test]
    fn a_single_underscore_is_not_a_separator() {
        assert_eq!(qualified("plugin_tool"), None);
        assert_eq!(qualified("__tool"), None);
        assert_eq!(qualified("plugin__"), None);
    }
}

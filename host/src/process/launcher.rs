//! Finding the host's helper programs: `plugwire-launcher`, the small
//! program that applies the sandbox and ties a plugin's life to the
//! host's, and `plugwire-mcp-adapter`, which runs an MCP server as a
//! plugin (`kind = "mcp"`).

use std::path::{Path, PathBuf};

/// The environment variable the launcher checks its parent against.
pub(crate) const LAUNCHER_PARENT_VAR: &str = "PLUGWIRE_LAUNCHER_PARENT";

/// Name of the launcher executable.
pub const LAUNCHER_NAME: &str = "plugwire-launcher";

/// Finds `plugwire-launcher`: the configured path, next to the current
/// executable (or its parent, for test binaries in `deps/`), or on `PATH`.
///
/// ```
/// let launcher = plugwire_host::launch::find_launcher(None);
/// # drop(launcher);
/// ```
pub fn find_launcher(configured: Option<&Path>) -> Option<PathBuf> {
    find_helper(LAUNCHER_NAME, configured)
}

/// Name of the MCP adapter executable.
pub const MCP_ADAPTER_NAME: &str = "plugwire-mcp-adapter";

/// Finds `plugwire-mcp-adapter`, where [`find_launcher`] looks.
///
/// ```
/// let adapter = plugwire_host::launch::find_mcp_adapter(Some("/no/such/adapter".as_ref()));
/// assert_eq!(adapter, None, "a configured path that is not a file is not replaced");
/// ```
pub fn find_mcp_adapter(configured: Option<&Path>) -> Option<PathBuf> {
    find_helper(MCP_ADAPTER_NAME, configured)
}

fn find_helper(name: &str, configured: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = configured {
        return path.is_file().then(|| path.to_path_buf());
    }
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1).take(2) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

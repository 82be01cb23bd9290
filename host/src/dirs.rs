//! The user's directories, by the XDG base directory rules (one place for
//! what grants, discovery, the data directory and the daemon's socket each
//! read): `$XDG_CONFIG_HOME` else `~/.config`, `$XDG_DATA_HOME` else
//! `~/.local/share`, `$XDG_RUNTIME_DIR`. A variable that is empty or not an
//! absolute path counts as unset, as the rules say.

use std::path::PathBuf;

use etcetera::BaseStrategy as _;

fn strategy() -> Option<etcetera::base_strategy::Xdg> {
    etcetera::base_strategy::Xdg::new().ok()
}

/// `$XDG_CONFIG_HOME/plugwire` (`~/.config/plugwire`), or `None` without a
/// home directory.
///
/// ```
/// if let Some(dir) = plugwire_host::dirs::config() {
///     assert!(dir.ends_with("plugwire"));
/// }
/// ```
pub fn config() -> Option<PathBuf> {
    Some(strategy()?.config_dir().join("plugwire"))
}

/// `$XDG_DATA_HOME/plugwire` (`~/.local/share/plugwire`), or `None` without
/// a home directory.
///
/// ```
/// if let Some(dir) = plugwire_host::dirs::data() {
///     assert!(dir.ends_with("plugwire"));
/// }
/// ```
pub fn data() -> Option<PathBuf> {
    Some(strategy()?.data_dir().join("plugwire"))
}

/// `$XDG_RUNTIME_DIR`, when it is set.
///
/// ```
/// if let Some(dir) = plugwire_host::dirs::runtime() {
///     assert!(dir.is_absolute());
/// }
/// ```
pub fn runtime() -> Option<PathBuf> {
    // Not through the strategy: a runtime directory needs no home.
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

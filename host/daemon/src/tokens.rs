//! API tokens for the TCP listener: made by `plugwire token create`, shown
//! once, stored only as their SHA-256 (a token is 256 random bits, so a
//! fast hash is enough: there is nothing to guess).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a token may do; each scope includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read status, tools, logs and events.
    Read,
    /// Also call tools, run commands and emit events.
    Call,
    /// Also install, remove, enable, disable, reload and configure.
    Admin,
}

impl std::str::FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "read" => Ok(Self::Read),
            "call" => Ok(Self::Call),
            "admin" => Ok(Self::Admin),
            other => Err(format!(
                "unknown scope {other:?}: expected read, call or admin"
            )),
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Read => "read",
            Self::Call => "call",
            Self::Admin => "admin",
        })
    }
}

/// One stored token: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Public id, the token's second part (`pwt_<id>_<secret>`).
    pub id: String,
    /// A name for people.
    pub name: String,
    /// What it may do.
    pub scope: Scope,
    /// SHA-256 of the whole token, hex.
    pub sha256: String,
    /// When it was made, in seconds since the Unix epoch.
    pub created: u64,
}

/// The tokens file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    /// Every token.
    pub tokens: Vec<TokenRecord>,
}

/// Dashboard panels' tokens start so (API tokens with `pwt_`).
pub(crate) const PANEL_PREFIX: &str = "pwp_";

/// Largest tokens file read.
const MAX_FILE: u64 = 1 << 20;

impl Tokens {
    /// `$XDG_CONFIG_HOME/plugwire/tokens.json`.
    pub fn default_path() -> PathBuf {
        plugwire_host::grants::Grants::default_path().with_file_name("tokens.json")
    }

    /// Reads the file; a missing file is no tokens.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let tokens = plugwire_daemon::tokens::Tokens::load(&dir.path().join("tokens.json")).unwrap();
    /// assert!(tokens.tokens.is_empty());
    /// ```
    pub fn load(path: &Path) -> Result<Self, String> {
        use std::io::Read;
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let mut text = String::new();
        file.take(MAX_FILE + 1)
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if text.len() as u64 > MAX_FILE {
            return Err(format!("{} is over {MAX_FILE} bytes", path.display()));
        }
        serde_json::from_str(&text).map_err(|e| {
            format!(
                "{} is not a tokens file: {e}; remove it and create the tokens again",
                path.display()
            )
        })
    }

    /// Writes the file (mode 0600, atomically).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
            file.write_all(text.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        }
        std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// Makes a token and records its hash; returns the token, which is
    /// shown once and never stored.
    ///
    /// ```
    /// use plugwire_daemon::tokens::{Scope, Tokens};
    /// let mut tokens = Tokens::default();
    /// let token = tokens.create("ci", Scope::Read).unwrap();
    /// assert!(token.starts_with("pwt_"));
    /// assert_eq!(tokens.check(&token).map(|r| r.scope), Some(Scope::Read));
    /// assert_eq!(tokens.check("pwt_00000000_wrong"), None);
    /// ```
    pub fn create(&mut self, name: &str, scope: Scope) -> Result<String, String> {
        let mut secret = [0u8; 32];
        let mut id = [0u8; 4];
        getrandom::fill(&mut secret).map_err(|e| format!("no randomness: {e}"))?;
        getrandom::fill(&mut id).map_err(|e| format!("no randomness: {e}"))?;
        let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let token = format!(
            "pwt_{id}_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
        );
        self.tokens.push(TokenRecord {
            id,
            name: name.to_owned(),
            scope,
            sha256: hash(&token),
            created: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        });
        Ok(token)
    }

    /// The record of a presented token, if it is one of ours.
    pub fn check(&self, token: &str) -> Option<&TokenRecord> {
        let id = token.strip_prefix("pwt_")?.split('_').next()?;
        let record = self.tokens.iter().find(|r| r.id == id)?;
        constant_time_eq(hash(token).as_bytes(), record.sha256.as_bytes()).then_some(record)
    }

    /// Forgets a token by id or name; says whether one was.
    pub fn revoke(&mut self, id_or_name: &str) -> bool {
        let before = self.tokens.len();
        self.tokens
            .retain(|r| r.id != id_or_name && r.name != id_or_name);
        self.tokens.len() != before
    }
}

/// SHA-256 of a token, hex.
pub(crate) fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hashes_are_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        let mut tokens = Tokens::default();
        let token = tokens.create("dash", Scope::Admin).unwrap();
        tokens.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        // The secret is all after the id (base64url may hold `_` itself).
        let secret = token.splitn(3, '_').nth(2).unwrap();
        assert_eq!(secret.len(), 43, "256 bits");
        assert!(!text.contains(secret), "{text}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let loaded = Tokens::load(&path).unwrap();
        assert_eq!(loaded.check(&token).unwrap().name, "dash");
    }

    #[test]
    fn a_token_with_a_known_id_and_a_wrong_secret_fails() {
        let mut tokens = Tokens::default();
        let token = tokens.create("a", Scope::Call).unwrap();
        let id = &tokens.tokens[0].id;
        assert!(tokens.check(&format!("pwt_{id}_AAAA")).is_none());
        assert!(tokens.check(&token[..token.len() - 1]).is_none());
        assert!(tokens.revoke("a"));
        assert!(tokens.check(&token).is_none());
    }

    #[test]
    fn scopes_order_and_parse() {
        assert!(Scope::Read < Scope::Call && Scope::Call < Scope::Admin);
        assert_eq!("call".parse::<Scope>(), Ok(Scope::Call));
        assert!(
            "root"
                .parse::<Scope>()
                .unwrap_err()
                .contains("read, call or admin")
        );
    }
}

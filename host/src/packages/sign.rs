//! Signatures (Ed25519, in minisign's format, so `minisign -V` checks them
//! too) and the trust store of keys whose signatures are accepted.
//!
//! A package `echo-0.1.0.tar.gz` is signed by `echo-0.1.0.tar.gz.minisig`
//! beside it. The trust store is `$XDG_CONFIG_HOME/plugwire/trusted-keys.toml`:
//! key id → name and public key.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The suffix of a signature file.
pub const SIGNATURE_SUFFIX: &str = ".minisig";

/// A key id as minisign shows it: 16 upper-case hex digits.
fn key_id(keynum: &[u8]) -> String {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&keynum[..8]);
    format!("{:016X}", u64::from_le_bytes(bytes))
}

/// A new key pair: the public key (minisign's `.pub` text) and the secret
/// key (its `.key` text, unencrypted: keep it readable by you only).
///
/// ```
/// let (public, secret) = plugwire_host::packages::keygen().unwrap();
/// assert!(public.contains("minisign public key"));
/// assert!(secret.contains("signing key"), "its comment says what it is");
/// ```
pub fn keygen() -> Result<(String, String), String> {
    let minisign::KeyPair { pk, sk } =
        minisign::KeyPair::generate_unencrypted_keypair().map_err(|e| e.to_string())?;
    let public = pk.to_box().map_err(|e| e.to_string())?.into_string();
    let secret = sk
        .to_box(Some("plugwire package signing key"))
        .map_err(|e| e.to_string())?
        .into_string();
    Ok((public, secret))
}

/// Signs `package` (its bytes) with the secret key text; the signature
/// text, whose trusted comment names the package and its digest.
///
/// ```
/// let (public, secret) = plugwire_host::packages::keygen().unwrap();
/// let signature = plugwire_host::packages::sign(b"package bytes", "echo-0.1.0.tar.gz", &secret).unwrap();
/// let mut trust = plugwire_host::packages::TrustStore::default();
/// trust.add(&public, "me").unwrap();
/// assert!(trust.verify(b"package bytes", &signature).is_ok());
/// assert!(trust.verify(b"other bytes", &signature).is_err());
/// ```
pub fn sign(package: &[u8], file_name: &str, secret: &str) -> Result<String, String> {
    let sk = minisign::SecretKeyBox::from_string(secret)
        .and_then(|b| b.into_unencrypted_secret_key())
        .map_err(|e| format!("not an unencrypted minisign secret key: {e}"))?;
    let comment = format!("plugwire package {file_name} {}", super::digest_of(package));
    let signature = minisign::sign(None, &sk, Cursor::new(package), Some(&comment), None)
        .map_err(|e| e.to_string())?;
    Ok(signature.into_string())
}

/// A trusted key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedKey {
    /// What the user calls it.
    pub name: String,
    /// The public key, base64 (minisign's second line).
    pub key: String,
}

/// Keys whose signatures are accepted, by key id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustStore {
    /// By key id.
    pub keys: BTreeMap<String, TrustedKey>,
}

/// Who signed a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The key id.
    pub key_id: String,
    /// The name the user gave it.
    pub name: String,
    /// The signature's trusted comment.
    pub comment: String,
}

impl TrustStore {
    /// Where the CLI keeps it.
    ///
    /// ```
    /// assert!(plugwire_host::packages::TrustStore::default_path().ends_with("plugwire/trusted-keys.toml"));
    /// ```
    pub fn default_path() -> PathBuf {
        crate::grants::Grants::default_path().with_file_name("trusted-keys.toml")
    }

    /// Reads the store; none there is an empty one.
    pub fn load(path: &Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
            Ok(text) => toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display())),
        }
    }

    /// Writes the store atomically.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let text = toml::to_string(self).map_err(|e| e.to_string())?;
        crate::atomic_file::write(path, text.as_bytes())
    }

    /// Trusts the public key given as minisign's `.pub` text or its base64
    /// line, under `name`; its key id.
    pub fn add(&mut self, public: &str, name: &str) -> Result<String, String> {
        let line = public
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
            .ok_or("no public key in the text given")?;
        let pk = minisign::PublicKey::from_base64(line)
            .map_err(|e| format!("not a minisign public key ({e}): {line:?}"))?;
        let id = key_id(pk.keynum());
        self.keys.insert(
            id.clone(),
            TrustedKey {
                name: name.to_owned(),
                key: pk.to_base64(),
            },
        );
        Ok(id)
    }

    /// Stops trusting the key with this id or name; whether one was there.
    pub fn remove(&mut self, id_or_name: &str) -> bool {
        let before = self.keys.len();
        self.keys
            .retain(|id, k| !id.eq_ignore_ascii_case(id_or_name) && k.name != id_or_name);
        self.keys.len() != before
    }

    /// Checks `signature` (minisign text) over `package`: by a trusted key,
    /// and valid. The error says which key and what is wrong.
    pub fn verify(&self, package: &[u8], signature: &str) -> Result<Signer, String> {
        let signature = minisign::SignatureBox::from_string(signature)
            .map_err(|e| format!("not a minisign signature: {e}"))?;
        let id = key_id(signature.keynum());
        let trusted = self.keys.get(&id).ok_or_else(|| {
            format!(
                "signed by key {id}, which is not trusted; if you trust its publisher, `plugwire trust add KEYFILE`"
            )
        })?;
        let pk = minisign::PublicKey::from_base64(&trusted.key)
            .map_err(|e| format!("trusted key {id} ({}) is unreadable: {e}", trusted.name))?;
        minisign::verify(&pk, &signature, Cursor::new(package), true, false, false).map_err(|e| {
            format!(
                "the signature by key {id} ({}) does not match the package: it was altered after signing, or the signature is another file's ({e})",
                trusted.name
            )
        })?;
        Ok(Signer {
            key_id: id,
            name: trusted.name.clone(),
            comment: signature.trusted_comment().unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_altered_packages_are_refused() {
        let (public, secret) = keygen().unwrap();
        let (other_public, _) = keygen().unwrap();
        let signature = sign(b"the package", "p-1.0.0.tar.gz", &secret).unwrap();
        let mut trust = TrustStore::default();
        let err = trust.verify(b"the package", &signature).unwrap_err();
        assert!(err.contains("not trusted"), "{err}");
        trust.add(&other_public, "someone else").unwrap();
        assert!(trust.verify(b"the package", &signature).is_err());
        let id = trust.add(&public, "me").unwrap();
        let signer = trust.verify(b"the package", &signature).unwrap();
        assert_eq!(
            (signer.key_id.as_str(), signer.name.as_str()),
            (id.as_str(), "me")
        );
        assert!(signer.comment.contains("p-1.0.0.tar.gz"));
        let err = trust.verify(b"the packagf", &signature).unwrap_err();
        assert!(err.contains("does not match"), "{err}");
        assert!(
            trust
                .verify(b"x", "garbage")
                .unwrap_err()
                .contains("not a minisign")
        );
        assert!(trust.remove("me"));
        assert!(trust.verify(b"the package", &signature).is_err());
    }
}

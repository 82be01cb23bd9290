//! Signing packages: `plugwire keygen`, `plugwire sign PACKAGE`, and the
//! trust store, `plugwire trust add|list|remove`.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use plugwire_host::packages::{SIGNATURE_SUFFIX, TrustStore, keygen, sign};

use crate::output::{Failure, print_json, table};

fn keys_dir() -> PathBuf {
    plugwire_host::grants::Grants::default_path().with_file_name("keys")
}

/// Writes a new key pair into `dir`: `plugwire.pub` and `plugwire.key`
/// (0600); never over an existing key.
pub(crate) fn generate(dir: Option<&Path>) -> Result<ExitCode, Failure> {
    let dir = dir.map_or_else(keys_dir, Path::to_path_buf);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::new(format!("cannot create {}: {e}", dir.display())))?;
    let (public, secret) = keygen().map_err(Failure::new)?;
    let secret_path = dir.join("plugwire.key");
    let public_path = dir.join("plugwire.pub");
    let write = |path: &Path, text: &str, mode: u32| {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| {
                Failure::new(format!("cannot write {}: {e}", path.display()))
                    .hint("a key is never overwritten; move the old one away, or pass --dir")
            })
    };
    write(&secret_path, &secret, 0o600)?;
    write(&public_path, &public, 0o644)?;
    let mut store = TrustStore::default();
    let id = store.add(&public, "").map_err(Failure::new)?;
    crate::output::said(
        format!(
            "key {id}\n  public {}  (publish it; users `plugwire trust add` it)\n  secret {}  (keep it to yourself)",
            public_path.display(),
            secret_path.display()
        ),
        serde_json::json!({"key": id, "public": public_path, "secret": secret_path}),
    );
    Ok(ExitCode::SUCCESS)
}

/// Signs a package file, writing `<package>.minisig` beside it.
pub(crate) fn sign_package(package: &Path, key: Option<&Path>) -> Result<ExitCode, Failure> {
    let key = key.map_or_else(|| keys_dir().join("plugwire.key"), Path::to_path_buf);
    let secret = std::fs::read_to_string(&key).map_err(|e| {
        Failure::new(format!("cannot read the secret key {}: {e}", key.display()))
            .hint("`plugwire keygen` makes one, or pass --key FILE")
    })?;
    let bytes = std::fs::read(package)
        .map_err(|e| Failure::new(format!("cannot read {}: {e}", package.display())))?;
    let name = package
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let signature = sign(&bytes, &name, &secret).map_err(Failure::new)?;
    let path = PathBuf::from(format!("{}{SIGNATURE_SUFFIX}", package.display()));
    std::fs::write(&path, signature)
        .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))?;
    crate::output::said(
        format!("signed {} -> {}", package.display(), path.display()),
        serde_json::json!({"signed": package, "signature": path}),
    );
    Ok(ExitCode::SUCCESS)
}

/// `plugwire trust add KEY [--name NAME]`: KEY is a `.pub` file or the
/// key's base64 text.
pub(crate) fn add(key: &str, name: Option<&str>) -> Result<ExitCode, Failure> {
    let text = if Path::new(key).is_file() {
        std::fs::read_to_string(key).map_err(|e| Failure::new(format!("cannot read {key}: {e}")))?
    } else {
        key.to_owned()
    };
    let path = TrustStore::default_path();
    let mut store = TrustStore::load(&path).map_err(Failure::new)?;
    let fallback = Path::new(key)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|_| Path::new(key).is_file())
        .unwrap_or_else(|| "key".to_owned());
    let id = store
        .add(&text, name.unwrap_or(&fallback))
        .map_err(|e| Failure::new(e).hint("give a minisign .pub file, or its second line"))?;
    store.save(&path).map_err(Failure::new)?;
    crate::output::said(
        format!("trusted key {id}"),
        serde_json::json!({"trusted": id}),
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn list(as_json: bool) -> Result<ExitCode, Failure> {
    let store = TrustStore::load(&TrustStore::default_path()).map_err(Failure::new)?;
    if as_json {
        print_json(&serde_json::to_value(&store.keys).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    if store.keys.is_empty() {
        eprintln!("no trusted keys; `plugwire trust add KEYFILE` adds one");
    }
    let rows = store
        .keys
        .iter()
        .map(|(id, k)| vec![id.clone(), k.name.clone(), k.key.clone()])
        .collect();
    print!("{}", table(&["KEY ID", "NAME", "PUBLIC KEY"], rows));
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn remove(id_or_name: &str) -> Result<ExitCode, Failure> {
    let path = TrustStore::default_path();
    let mut store = TrustStore::load(&path).map_err(Failure::new)?;
    if !store.remove(id_or_name) {
        return Err(Failure::new(format!("no trusted key {id_or_name:?}"))
            .hint("`plugwire trust list` shows them"));
    }
    store.save(&path).map_err(Failure::new)?;
    crate::output::said(
        format!("no longer trusted: {id_or_name}"),
        serde_json::json!({"untrusted": id_or_name}),
    );
    Ok(ExitCode::SUCCESS)
}

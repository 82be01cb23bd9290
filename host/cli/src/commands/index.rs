//! Indexes of packages: `plugwire index build DIR`, `index add|list|remove`,
//! and `plugwire search QUERY` over the configured ones.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use plugwire_host::packages::{INDEX_FILE, Index, fetch};
use serde::{Deserialize, Serialize};

use crate::output::{Failure, print_json, table};

/// Largest index read.
const MAX_INDEX: u64 = 16 << 20;
/// How long fetching one index may take.
pub(crate) const FETCH_DEADLINE: Duration = Duration::from_secs(30);

/// The configured indexes, by name: `$XDG_CONFIG_HOME/plugwire/indexes.toml`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Indexes {
    pub(crate) indexes: BTreeMap<String, String>,
}

impl Indexes {
    fn path() -> PathBuf {
        plugwire_host::grants::Grants::default_path().with_file_name("indexes.toml")
    }

    pub(crate) fn load() -> Result<Self, Failure> {
        let path = Self::path();
        match std::fs::read_to_string(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(Failure::new(format!("cannot read {}: {e}", path.display()))),
            Ok(text) => {
                toml::from_str(&text).map_err(|e| Failure::new(format!("{}: {e}", path.display())))
            }
        }
    }

    fn save(&self) -> Result<(), Failure> {
        let path = Self::path();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Failure::new(format!("cannot create {}: {e}", dir.display())))?;
        }
        let text = toml::to_string(self).map_err(|e| Failure::new(e.to_string()))?;
        std::fs::write(&path, text)
            .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))
    }

    /// Every configured index, fetched: (name, location, index).
    pub(crate) fn fetch_all(&self) -> Result<Vec<(String, String, Index)>, Failure> {
        if self.indexes.is_empty() {
            return Err(Failure::new("no index is configured")
                .hint("`plugwire index add NAME PATH-OR-URL` adds one"));
        }
        self.indexes
            .iter()
            .map(|(name, location)| {
                let bytes = fetch(location, MAX_INDEX, FETCH_DEADLINE)
                    .map_err(|why| Failure::new(format!("index {name}: {why}")))?;
                let index = Index::parse(&bytes, location).map_err(Failure::new)?;
                Ok((name.clone(), location.clone(), index))
            })
            .collect()
    }
}

/// The index file of `location`: a directory means its `index.json`.
fn index_location(location: &str) -> String {
    if location.contains("://") {
        return location.to_owned();
    }
    // A path is kept absolute: the index is used from anywhere later.
    let path = std::path::absolute(location).unwrap_or_else(|_| PathBuf::from(location));
    if path.is_dir() {
        path.join(INDEX_FILE).display().to_string()
    } else {
        path.display().to_string()
    }
}

pub(crate) fn build(dir: &Path) -> Result<ExitCode, Failure> {
    let index = Index::build(dir).map_err(|e| Failure::new(e.to_string()))?;
    let text = serde_json::to_string_pretty(&index).map_err(|e| Failure::new(e.to_string()))?;
    let path = dir.join(INDEX_FILE);
    std::fs::write(&path, text)
        .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))?;
    let versions: usize = index.plugins.values().map(Vec::len).sum();
    let unsigned = index
        .plugins
        .values()
        .flatten()
        .filter(|e| e.signature.is_none())
        .count();
    crate::output::said(
        format!(
            "{}: {} plugins, {versions} packages{}",
            path.display(),
            index.plugins.len(),
            if unsigned > 0 {
                format!(" ({unsigned} unsigned: `plugwire sign` them first)")
            } else {
                String::new()
            }
        ),
        serde_json::json!({
            "index": path,
            "plugins": index.plugins.len(),
            "packages": versions,
            "unsigned": unsigned,
        }),
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn add(name: &str, location: &str) -> Result<ExitCode, Failure> {
    let location = index_location(location);
    // Refuse an index that cannot be read now rather than at install.
    let bytes = fetch(&location, MAX_INDEX, FETCH_DEADLINE).map_err(Failure::new)?;
    Index::parse(&bytes, &location).map_err(Failure::new)?;
    let mut indexes = Indexes::load()?;
    indexes.indexes.insert(name.to_owned(), location.clone());
    indexes.save()?;
    crate::output::said(
        format!("index {name}: {location}"),
        serde_json::json!({"index": name, "location": location}),
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn list(as_json: bool) -> Result<ExitCode, Failure> {
    let indexes = Indexes::load()?;
    if as_json {
        print_json(&serde_json::to_value(&indexes.indexes).unwrap_or_default());
    } else {
        let rows = indexes
            .indexes
            .iter()
            .map(|(n, l)| vec![n.clone(), l.clone()])
            .collect();
        print!("{}", table(&["INDEX", "LOCATION"], rows));
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn remove(name: &str) -> Result<ExitCode, Failure> {
    let mut indexes = Indexes::load()?;
    if indexes.indexes.remove(name).is_none() {
        return Err(Failure::new(format!("no index named {name:?}"))
            .hint("`plugwire index list` shows them"));
    }
    indexes.save()?;
    crate::output::said(
        format!("removed index {name}"),
        serde_json::json!({"removed_index": name}),
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn search(query: &str, as_json: bool) -> Result<ExitCode, Failure> {
    let mut rows = Vec::new();
    let mut found = Vec::new();
    for (index_name, _, index) in Indexes::load()?.fetch_all()? {
        for (name, entry) in index.search(query) {
            rows.push(vec![
                name.to_owned(),
                entry.version.clone(),
                index_name.clone(),
                if entry.signature.is_some() {
                    "signed"
                } else {
                    "unsigned"
                }
                .to_owned(),
                entry.description.clone(),
            ]);
            found.push(serde_json::json!({
                "name": name, "version": entry.version, "index": index_name,
                "signed": entry.signature.is_some(), "description": entry.description,
            }));
        }
    }
    if as_json {
        print_json(&serde_json::Value::Array(found));
    } else {
        if rows.is_empty() {
            eprintln!("nothing matches {query:?}");
        }
        print!(
            "{}",
            table(
                &["PLUGIN", "VERSION", "INDEX", "SIGNATURE", "DESCRIPTION"],
                rows
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `plugwire info NAME --remote`: what the indexes offer of a plugin,
/// before installing it.
pub(crate) fn remote_info(name: &str, as_json: bool) -> Result<ExitCode, Failure> {
    let trust = plugwire_host::packages::TrustStore::load(
        &plugwire_host::packages::TrustStore::default_path(),
    )
    .map_err(Failure::new)?;
    let mut found = Vec::new();
    for (index_name, location, index) in Indexes::load()?.fetch_all()? {
        for entry in index.plugins.get(name).into_iter().flatten() {
            found.push((index_name.clone(), location.clone(), entry.clone()));
        }
    }
    if found.is_empty() {
        return Err(Failure::new(format!("no index offers {name:?}"))
            .hint("`plugwire search WORD` looks by name and description"));
    }
    // A signature is only worth naming when it can be checked: the key
    // must be trusted, and the bytes are not downloaded here.
    let signed_by = |e: &plugwire_host::packages::Entry| match &e.signature {
        None => "unsigned".to_owned(),
        Some(text) => match minisign_key_id(text) {
            Some(id) if trust.keys.contains_key(&id) => {
                format!("signed by {id} ({}), trusted", trust.keys[&id].name)
            }
            Some(id) => format!("signed by {id}, not trusted"),
            None => "a signature that cannot be read".to_owned(),
        },
    };
    if as_json {
        print_json(&serde_json::Value::Array(
            found
                .iter()
                .map(|(index, _, e)| {
                    serde_json::json!({
                        "index": index, "version": e.version, "description": e.description,
                        "digest": e.digest, "size": e.size, "host": e.host,
                        "dependencies": e.dependencies, "keywords": e.keywords,
                        "signature": signed_by(e),
                    })
                })
                .collect(),
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let (_, _, newest) = found
        .iter()
        .max_by_key(|(_, _, e)| semver::Version::parse(&e.version).ok())
        .expect("not empty");
    println!("{name} {}", newest.version);
    if !newest.description.is_empty() {
        println!(
            "  {}",
            plugwire_proto::text::escape_line(&newest.description)
        );
    }
    println!(
        "  host {}, protocol {:?}",
        newest.host, newest.protocol_versions
    );
    for (dependency, requirement) in &newest.dependencies {
        println!("  needs {dependency} {requirement}");
    }
    let rows = found
        .iter()
        .map(|(index, _, e)| {
            vec![
                e.version.clone(),
                index.clone(),
                format!("{:.1} MiB", e.size as f64 / (1 << 20) as f64),
                signed_by(e),
                e.digest.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(&["VERSION", "INDEX", "SIZE", "SIGNATURE", "DIGEST"], rows)
    );
    Ok(ExitCode::SUCCESS)
}

/// The key id a minisign signature names (its second line, base64: two
/// algorithm bytes, then the 8-byte key id, little-endian).
fn minisign_key_id(signature: &str) -> Option<String> {
    use base64::Engine as _;
    let line = signature.lines().nth(1)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(line.trim())
        .ok()?;
    let id: [u8; 8] = bytes.get(2..10)?.try_into().ok()?;
    Some(format!("{:016X}", u64::from_le_bytes(id)))
}

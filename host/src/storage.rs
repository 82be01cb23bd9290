//! Per-plugin key-value storage behind `HostService` (PW-HOST-4, PW-HOST-5):
//! private to the plugin, persistent across restarts of either side, written
//! atomically (temporary file, fsync, rename, fsync of the directory).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use tonic::Status;

/// Longest key, in bytes.
pub const MAX_KEY: usize = 512;
/// Largest value.
pub const MAX_VALUE: usize = 1 << 20;
/// Most bytes one plugin may store.
pub const MAX_TOTAL: usize = 64 << 20;
/// Most keys one `ListKeys` page returns.
pub const MAX_PAGE: usize = 1000;

/// One plugin's storage.
pub(crate) struct Storage {
    path: PathBuf,
    data: Mutex<Option<BTreeMap<String, Vec<u8>>>>,
}

impl Storage {
    pub(crate) fn new(data_dir: &Path, plugin: &str) -> Self {
        Self {
            path: data_dir.join("storage").join(format!("{plugin}.json")),
            data: Mutex::new(None),
        }
    }

    fn with_data<T>(
        &self,
        f: impl FnOnce(&mut BTreeMap<String, Vec<u8>>) -> Result<T, Status>,
    ) -> Result<T, Status> {
        let mut guard = self.data.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = Some(self.load()?);
        }
        f(guard.as_mut().expect("loaded above"))
    }

    fn load(&self) -> Result<BTreeMap<String, Vec<u8>>, Status> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => {
                return Err(Status::internal(format!(
                    "cannot read {}: {e}",
                    self.path.display()
                )));
            }
        };
        let encoded: BTreeMap<String, String> = serde_json::from_str(&text).map_err(|e| {
            Status::internal(format!(
                "{} is corrupt: {e}; move it away to start afresh",
                self.path.display()
            ))
        })?;
        encoded
            .into_iter()
            .map(|(k, v)| {
                base64::engine::general_purpose::STANDARD
                    .decode(v)
                    .map(|v| (k, v))
                    .map_err(|e| {
                        Status::internal(format!("{} is corrupt: {e}", self.path.display()))
                    })
            })
            .collect()
    }

    fn persist(&self, data: &BTreeMap<String, Vec<u8>>) -> Result<(), Status> {
        let io = |e: std::io::Error| {
            Status::internal(format!("cannot write {}: {e}", self.path.display()))
        };
        let dir = self
            .path
            .parent()
            .expect("storage files live in a directory");
        std::fs::create_dir_all(dir).map_err(io)?;
        let encoded: BTreeMap<&String, String> = data
            .iter()
            .map(|(k, v)| (k, base64::engine::general_purpose::STANDARD.encode(v)))
            .collect();
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        file.write_all(
            serde_json::to_string(&encoded)
                .unwrap_or_default()
                .as_bytes(),
        )
        .map_err(io)?;
        file.as_file().sync_all().map_err(io)?;
        file.persist(&self.path).map_err(|e| io(e.error))?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
        Ok(())
    }

    pub(crate) fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Status> {
        check_key(key)?;
        self.with_data(|data| Ok(data.get(key).cloned()))
    }

    pub(crate) fn put(&self, key: &str, value: Vec<u8>) -> Result<(), Status> {
        check_key(key)?;
        if value.len() > MAX_VALUE {
            return Err(Status::invalid_argument(format!(
                "value: expected at most {MAX_VALUE} bytes, saw {}",
                value.len()
            )));
        }
        self.with_data(|data| {
            let total: usize = data.iter().filter(|(k, _)| k.as_str() != key).map(|(k, v)| k.len() + v.len()).sum();
            if total + key.len() + value.len() > MAX_TOTAL {
                return Err(Status::resource_exhausted(format!(
                    "storage is full: a plugin may store at most {MAX_TOTAL} bytes; delete keys first"
                )));
            }
            let previous = data.insert(key.to_owned(), value);
            if let Err(e) = self.persist(data) {
                // Keep memory and disk in agreement.
                match previous {
                    Some(v) => data.insert(key.to_owned(), v),
                    None => data.remove(key),
                };
                return Err(e);
            }
            Ok(())
        })
    }

    pub(crate) fn delete(&self, key: &str) -> Result<bool, Status> {
        check_key(key)?;
        self.with_data(|data| {
            let Some(previous) = data.remove(key) else {
                return Ok(false);
            };
            if let Err(e) = self.persist(data) {
                data.insert(key.to_owned(), previous);
                return Err(e);
            }
            Ok(true)
        })
    }

    pub(crate) fn list(
        &self,
        prefix: &str,
        start_after: &str,
        limit: u32,
    ) -> Result<(Vec<String>, bool), Status> {
        let limit = if limit == 0 {
            MAX_PAGE
        } else {
            (limit as usize).min(MAX_PAGE)
        };
        self.with_data(|data| {
            let mut keys: Vec<String> = data
                .range::<str, _>((
                    std::ops::Bound::Excluded(start_after),
                    std::ops::Bound::Unbounded,
                ))
                .map(|(k, _)| k)
                .skip_while(|k| k.as_str() < prefix)
                .take_while(|k| k.starts_with(prefix))
                .take(limit + 1)
                .cloned()
                .collect();
            let more = keys.len() > limit;
            keys.truncate(limit);
            Ok((keys, more))
        })
    }
}

fn check_key(key: &str) -> Result<(), Status> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(Status::invalid_argument(format!(
            "key: expected 1 to {MAX_KEY} bytes of UTF-8, saw {} bytes",
            key.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_persist_across_instances() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::new(dir.path(), "p");
        s.put("a", b"1".to_vec()).unwrap();
        s.put("b/x", vec![0, 255]).unwrap();
        assert!(s.delete("a").unwrap());
        assert!(!s.delete("a").unwrap());
        let again = Storage::new(dir.path(), "p");
        assert_eq!(again.get("b/x").unwrap(), Some(vec![0, 255]));
        assert_eq!(again.get("a").unwrap(), None);
        assert_eq!(
            Storage::new(dir.path(), "other").get("b/x").unwrap(),
            None,
            "private per plugin"
        );
    }

    #[test]
    fn listing_pages_in_byte_order() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::new(dir.path(), "p");
        for k in ["b/3", "a", "b/1", "b/2", "c"] {
            s.put(k, vec![]).unwrap();
        }
        assert_eq!(
            s.list("b/", "", 2).unwrap(),
            (vec!["b/1".to_owned(), "b/2".to_owned()], true)
        );
        assert_eq!(
            s.list("b/", "b/2", 2).unwrap(),
            (vec!["b/3".to_owned()], false)
        );
        assert_eq!(s.list("", "", 0).unwrap().0.len(), 5);
    }

    #[test]
    fn limits_are_enforced() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::new(dir.path(), "p");
        assert_eq!(
            s.put("", vec![]).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
        assert_eq!(
            s.put(&"k".repeat(MAX_KEY + 1), vec![]).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
        assert_eq!(
            s.put("k", vec![0; MAX_VALUE + 1]).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
    }

    #[test]
    fn corrupt_files_are_reported_not_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("storage")).unwrap();
        std::fs::write(dir.path().join("storage/p.json"), "{oops").unwrap();
        let err = Storage::new(dir.path(), "p").get("a").unwrap_err();
        assert!(err.message().contains("corrupt"), "{}", err.message());
    }
}

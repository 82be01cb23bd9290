//! Per-plugin key-value storage behind `HostService` (PW-HOST-4, PW-HOST-5):
//! private to the plugin, persistent across restarts of either side, and
//! durable once a call returns.
//!
//! Each plugin's storage is an append-only log (`storage/<plugin>.log`): a
//! put or a delete appends one checked record and syncs it, so a write costs
//! what it changes, not the size of everything stored. When dead records
//! outweigh live ones the log is compacted (rewritten with the live records,
//! synced, renamed into place), which keeps the file under about three times
//! the live data. A record torn by a crash fails its check and is cut off at
//! the next load; every record before it stands.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::Digest as _;
use tonic::Status;

/// Longest key, in bytes.
pub const MAX_KEY: usize = 512;
/// Largest value.
pub const MAX_VALUE: usize = 1 << 20;
/// Most bytes one plugin may store.
pub const MAX_TOTAL: usize = 64 << 20;
/// Most keys one `ListKeys` page returns.
pub const MAX_PAGE: usize = 1000;

/// The first bytes of a log file.
const MAGIC: &[u8] = b"plugwire-kv 1\n";
const PUT: u8 = 1;
const DELETE: u8 = 2;
/// op, key length, value length.
const HEADER: usize = 1 + 4 + 4;
/// A truncated SHA-256 of the record.
const CHECK: usize = 8;
/// Logs smaller than this are never compacted.
const MIN_COMPACT: u64 = 1 << 20;

/// One plugin's storage.
pub(crate) struct Storage {
    path: PathBuf,
    /// The storage of earlier versions, migrated on first use.
    legacy: PathBuf,
    state: Mutex<Option<State>>,
}

struct State {
    data: BTreeMap<String, Vec<u8>>,
    log: std::fs::File,
    /// Bytes in the log file.
    log_len: u64,
}

impl State {
    fn live_bytes(&self) -> u64 {
        self.data
            .iter()
            .map(|(k, v)| record_len(k, v) as u64)
            .sum::<u64>()
            + MAGIC.len() as u64
    }
}

fn record_len(key: &str, value: &[u8]) -> usize {
    HEADER + key.len() + value.len() + CHECK
}

fn encode(op: u8, key: &str, value: &[u8]) -> Vec<u8> {
    let mut record = Vec::with_capacity(record_len(key, value));
    record.push(op);
    record.extend_from_slice(&(key.len() as u32).to_le_bytes());
    record.extend_from_slice(&(value.len() as u32).to_le_bytes());
    record.extend_from_slice(key.as_bytes());
    record.extend_from_slice(value);
    let check = sha2::Sha256::digest(&record);
    record.extend_from_slice(&check[..CHECK]);
    record
}

/// Replays a log: the live data, and how many leading bytes are sound.
pub(crate) fn replay(bytes: &[u8]) -> Result<(BTreeMap<String, Vec<u8>>, usize), String> {
    if !bytes.starts_with(MAGIC) {
        return Err("it does not start as a plugwire storage log".into());
    }
    let mut data = BTreeMap::new();
    let mut at = MAGIC.len();
    loop {
        let rest = &bytes[at..];
        if rest.len() < HEADER {
            break;
        }
        let op = rest[0];
        let key_len = u32::from_le_bytes(rest[1..5].try_into().expect("4 bytes")) as usize;
        let value_len = u32::from_le_bytes(rest[5..9].try_into().expect("4 bytes")) as usize;
        if key_len > MAX_KEY || value_len > MAX_VALUE {
            break;
        }
        let body = HEADER + key_len + value_len;
        if rest.len() < body + CHECK {
            break;
        }
        let check = sha2::Sha256::digest(&rest[..body]);
        if check[..CHECK] != rest[body..body + CHECK] {
            break;
        }
        let Ok(key) = std::str::from_utf8(&rest[HEADER..HEADER + key_len]) else {
            break;
        };
        match op {
            PUT => {
                data.insert(key.to_owned(), rest[HEADER + key_len..body].to_vec());
            }
            DELETE => {
                data.remove(key);
            }
            _ => break,
        }
        at += body + CHECK;
    }
    Ok((data, at))
}

impl Storage {
    pub(crate) fn new(data_dir: &Path, plugin: &str) -> Self {
        let dir = data_dir.join("storage");
        Self {
            path: dir.join(format!("{plugin}.log")),
            legacy: dir.join(format!("{plugin}.json")),
            state: Mutex::new(None),
        }
    }

    fn io(&self) -> impl Fn(std::io::Error) -> Status + '_ {
        |e| Status::internal(format!("cannot write {}: {e}", self.path.display()))
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> Result<T, Status>) -> Result<T, Status> {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = Some(self.open()?);
        }
        f(guard.as_mut().expect("opened above"))
    }

    fn open(&self) -> Result<State, Status> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let data = self.load_legacy()?;
                return self.rewrite(data);
            }
            Err(e) => {
                return Err(Status::internal(format!(
                    "cannot read {}: {e}",
                    self.path.display()
                )));
            }
        };
        let (data, sound) = replay(&bytes).map_err(|why| {
            Status::internal(format!(
                "{} is corrupt: {why}; move it away to start afresh",
                self.path.display()
            ))
        })?;
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(self.io())?;
        if sound < bytes.len() {
            // A record torn by a crash: everything before it stands.
            tracing::warn!(
                "{}: dropping {} bytes of a record torn by a crash",
                self.path.display(),
                bytes.len() - sound
            );
            log.set_len(sound as u64).map_err(self.io())?;
            log.sync_all().map_err(self.io())?;
        }
        Ok(State {
            data,
            log,
            log_len: sound as u64,
        })
    }

    /// Reads the JSON file of earlier versions, if there is one.
    fn load_legacy(&self) -> Result<BTreeMap<String, Vec<u8>>, Status> {
        use base64::Engine as _;
        let text = match std::fs::read_to_string(&self.legacy) {
            Ok(text) => text,
            Err(_) => return Ok(BTreeMap::new()),
        };
        let corrupt = |e: &dyn std::fmt::Display| {
            Status::internal(format!(
                "{} is corrupt: {e}; move it away to start afresh",
                self.legacy.display()
            ))
        };
        let encoded: BTreeMap<String, String> =
            serde_json::from_str(&text).map_err(|e| corrupt(&e))?;
        encoded
            .into_iter()
            .map(|(k, v)| {
                base64::engine::general_purpose::STANDARD
                    .decode(v)
                    .map(|v| (k, v))
                    .map_err(|e| corrupt(&e))
            })
            .collect()
    }

    /// Writes a fresh log holding `data` and puts it in place atomically.
    fn rewrite(&self, data: BTreeMap<String, Vec<u8>>) -> Result<State, Status> {
        let io = self.io();
        let dir = self
            .path
            .parent()
            .expect("storage files live in a directory");
        std::fs::create_dir_all(dir).map_err(&io)?;
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(&io)?;
        let mut len = MAGIC.len() as u64;
        {
            let mut out = std::io::BufWriter::new(file.as_file_mut());
            out.write_all(MAGIC).map_err(&io)?;
            for (k, v) in &data {
                let record = encode(PUT, k, v);
                len += record.len() as u64;
                out.write_all(&record).map_err(&io)?;
            }
            out.flush().map_err(&io)?;
        }
        file.as_file().sync_all().map_err(&io)?;
        file.persist(&self.path).map_err(|e| io(e.error))?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(&io)?;
        let _ = std::fs::remove_file(&self.legacy);
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(&io)?;
        Ok(State {
            data,
            log,
            log_len: len,
        })
    }

    /// Appends one record and syncs it; compacts when the log has grown to
    /// twice its live data.
    fn append(&self, state: &mut State, record: &[u8]) -> Result<(), Status> {
        let io = self.io();
        if let Err(e) = state
            .log
            .write_all(record)
            .and_then(|()| state.log.sync_data())
        {
            // Leave no partial record behind a record that follows.
            let _ = state.log.set_len(state.log_len);
            return Err(io(e));
        }
        state.log_len += record.len() as u64;
        if state.log_len > MIN_COMPACT && state.log_len > 2 * state.live_bytes() {
            let data = std::mem::take(&mut state.data);
            match self.rewrite(data.clone()) {
                Ok(fresh) => *state = fresh,
                Err(e) => {
                    // The log is still good; compaction can wait.
                    state.data = data;
                    tracing::warn!("{}", e.message());
                }
            }
        }
        Ok(())
    }

    /// The size of the log file, for tests of write costs.
    #[cfg(test)]
    fn log_len(&self) -> u64 {
        self.with_state(|s| Ok(s.log_len)).unwrap()
    }

    pub(crate) fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Status> {
        check_key(key)?;
        self.with_state(|state| Ok(state.data.get(key).cloned()))
    }

    pub(crate) fn put(&self, key: &str, value: Vec<u8>) -> Result<(), Status> {
        check_key(key)?;
        if value.len() > MAX_VALUE {
            return Err(Status::invalid_argument(format!(
                "value: expected at most {MAX_VALUE} bytes, saw {}",
                value.len()
            )));
        }
        self.with_state(|state| {
            let total: usize = state
                .data
                .iter()
                .filter(|(k, _)| k.as_str() != key)
                .map(|(k, v)| k.len() + v.len())
                .sum();
            if total + key.len() + value.len() > MAX_TOTAL {
                return Err(Status::resource_exhausted(format!(
                    "storage is full: a plugin may store at most {MAX_TOTAL} bytes; delete keys first"
                )));
            }
            self.append(state, &encode(PUT, key, &value))?;
            state.data.insert(key.to_owned(), value);
            Ok(())
        })
    }

    pub(crate) fn delete(&self, key: &str) -> Result<bool, Status> {
        check_key(key)?;
        self.with_state(|state| {
            if !state.data.contains_key(key) {
                return Ok(false);
            }
            self.append(state, &encode(DELETE, key, &[]))?;
            state.data.remove(key);
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
        self.with_state(|state| {
            let mut keys: Vec<String> = state
                .data
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
        std::fs::write(dir.path().join("storage/q.log"), "not a log").unwrap();
        let err = Storage::new(dir.path(), "q").get("a").unwrap_err();
        assert!(err.message().contains("corrupt"), "{}", err.message());
    }

    #[test]
    fn earlier_json_storage_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("storage")).unwrap();
        std::fs::write(dir.path().join("storage/p.json"), r#"{"a":"AP8="}"#).unwrap();
        let s = Storage::new(dir.path(), "p");
        assert_eq!(s.get("a").unwrap(), Some(vec![0, 255]));
        assert!(!dir.path().join("storage/p.json").exists());
        assert_eq!(
            Storage::new(dir.path(), "p").get("a").unwrap(),
            Some(vec![0, 255])
        );
    }

    #[test]
    fn a_write_costs_what_it_changes_not_what_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::new(dir.path(), "p");
        const BIG: usize = 256 << 10;
        for i in 0..40 {
            s.put(&format!("k{i}"), vec![i as u8; BIG]).unwrap();
        }
        let before = s.log_len();
        s.put("small", vec![1; 10]).unwrap();
        assert_eq!(s.log_len() - before, record_len("small", &[0; 10]) as u64);
        // Rewriting one big value again and again compacts now and then but
        // never lets the log grow past about three times the live data.
        let mut compacted = false;
        for _ in 0..60 {
            let before = s.log_len();
            s.put("k0", vec![7; BIG]).unwrap();
            compacted |= s.log_len() < before;
            assert!(s.log_len() <= 3 * 41 * BIG as u64, "{}", s.log_len());
        }
        assert!(compacted, "dead records were compacted away");
        let again = Storage::new(dir.path(), "p");
        assert_eq!(again.get("k0").unwrap(), Some(vec![7; BIG]));
        assert_eq!(again.get("k39").unwrap(), Some(vec![39; BIG]));
    }

    #[test]
    fn a_record_torn_by_a_crash_is_cut_off_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::new(dir.path(), "p");
        s.put("a", b"1".to_vec()).unwrap();
        s.put("b", b"2".to_vec()).unwrap();
        drop(s);
        let path = dir.path().join("storage/p.log");
        let mut bytes = std::fs::read(&path).unwrap();
        // Half of a third record, as a crash mid-write leaves it.
        let torn = encode(PUT, "c", b"3");
        bytes.extend_from_slice(&torn[..torn.len() / 2]);
        std::fs::write(&path, &bytes).unwrap();
        let s = Storage::new(dir.path(), "p");
        assert_eq!(s.get("b").unwrap(), Some(b"2".to_vec()));
        assert_eq!(s.get("c").unwrap(), None);
        s.put("d", b"4".to_vec()).unwrap();
        assert_eq!(
            Storage::new(dir.path(), "p").get("d").unwrap(),
            Some(b"4".to_vec()),
            "appends after the cut are sound"
        );
    }
}

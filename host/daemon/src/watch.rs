//! `plugwire serve --watch`: a plugin whose directory changes is reloaded
//! (by the live set's rules: the old version serves until the new one is
//! ready, and stays if the new one fails), once the changes have settled.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};
use plugwire_host::Host;

/// Changes closer together than this are one change (an editor's save, a
/// build writing its output).
const SETTLE: Duration = Duration::from_millis(300);

/// Watching stops when this drops.
pub(crate) struct Watcher {
    _debouncer: Debouncer<notify::RecommendedWatcher>,
    _task: tokio::task::JoinHandle<()>,
}

pub(crate) fn start(host: Host) -> Result<Watcher, String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<PathBuf>>();
    let mut debouncer = new_debouncer(SETTLE, move |result: DebounceEventResult| {
        if let Ok(events) = result {
            let _ = tx.send(events.into_iter().map(|e| e.path).collect());
        }
    })
    .map_err(|e| e.to_string())?;
    let mut watched = BTreeSet::new();
    watch_plugins(&host, &mut debouncer, &mut watched);
    // Starting a plugin opens its files, which the watcher also reports:
    // a plugin is reloaded only when what its files hold has changed.
    let mut loaded: BTreeMap<String, Fingerprint> = host
        .status()
        .iter()
        .map(|s| (s.name.clone(), fingerprint(&s.dir)))
        .collect();
    let task = tokio::spawn(async move {
        while let Some(paths) = rx.recv().await {
            let status = host.status();
            let mut changed = BTreeSet::new();
            for s in status
                .iter()
                .filter(|s| paths.iter().any(|p| p.starts_with(&s.dir)))
            {
                let now = fingerprint(&s.dir);
                if loaded.get(&s.name) != Some(&now) {
                    loaded.insert(s.name.clone(), now);
                    changed.insert(s.name.clone());
                }
            }
            for name in changed {
                match host.reload_plugin(&name).await {
                    Ok(s) => {
                        tracing::info!(plugin = %name, pid = ?s.pid, "reloaded after a change")
                    }
                    Err(e) => tracing::warn!(plugin = %name, "not reloaded: {}", e.message()),
                }
            }
        }
    });
    Ok(Watcher {
        _debouncer: debouncer,
        _task: task,
    })
}

fn watch_plugins(
    host: &Host,
    debouncer: &mut Debouncer<notify::RecommendedWatcher>,
    watched: &mut BTreeSet<PathBuf>,
) {
    for status in host.status() {
        if watched.insert(status.dir.clone())
            && let Err(e) = debouncer
                .watcher()
                .watch(&status.dir, RecursiveMode::Recursive)
        {
            tracing::warn!(dir = %status.dir.display(), "cannot watch: {e}");
        }
    }
}

/// What a plugin directory holds, as far as a reload cares: each file's
/// path, size and modification time (at most [`MAX_FILES`] of them).
type Fingerprint = Vec<(PathBuf, u64, Option<std::time::SystemTime>)>;

/// Files looked at per plugin directory.
const MAX_FILES: usize = 10_000;

fn fingerprint(dir: &std::path::Path) -> Fingerprint {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if files.len() >= MAX_FILES {
                return files;
            }
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                files.push((entry.path(), meta.len(), meta.modified().ok()));
            }
        }
    }
    files.sort();
    files
}

//! The live plugin set: members by name, changed at run time under
//! concurrent calls. A call checks a member out together with a guard
//! counting it in flight, under the same lock a change swaps members
//! under: once a swap returns, every call still on the old member holds a
//! guard on it, and waiting for those guards is waiting for those calls.
//! Each change bumps the set's version, which subscribers can watch.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use tokio::sync::watch;

use crate::in_flight::{CallGuard, InFlight};

/// What the registry needs of a member.
pub(crate) trait Member: Send + Sync {
    /// Its name, unique in the set.
    fn name(&self) -> &str;
    /// Its calls in flight.
    fn in_flight(&self) -> &Arc<InFlight>;
}

/// A plugin set.
pub(crate) struct Registry<M> {
    members: RwLock<BTreeMap<String, Arc<M>>>,
    version: watch::Sender<u64>,
}

impl<M> Default for Registry<M> {
    fn default() -> Self {
        Self {
            members: RwLock::new(BTreeMap::new()),
            version: watch::channel(0).0,
        }
    }
}

impl<M: Member> Registry<M> {
    /// A set of `members`; later duplicates of a name are returned, not kept.
    #[cfg(test)]
    pub(crate) fn new(members: impl IntoIterator<Item = Arc<M>>) -> (Self, Vec<Arc<M>>) {
        let registry = Self::default();
        let mut refused = Vec::new();
        for member in members {
            if let Err(member) = registry.insert(member) {
                refused.push(member);
            }
        }
        registry.version.send_replace(0);
        (registry, refused)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<M>>> {
        self.members.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<M>>> {
        self.members.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The member named `name`.
    pub(crate) fn get(&self, name: &str) -> Option<Arc<M>> {
        self.read().get(name).cloned()
    }

    /// The member named `name`, with a guard counting a call into it.
    pub(crate) fn checkout(&self, name: &str) -> Option<(Arc<M>, CallGuard)> {
        let members = self.read();
        let member = members.get(name)?;
        let guard = member.in_flight().enter();
        Some((member.clone(), guard))
    }

    /// Every member, by name.
    pub(crate) fn all(&self) -> Vec<Arc<M>> {
        self.read().values().cloned().collect()
    }

    /// Every name.
    pub(crate) fn names(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    /// Adds a member; a name already taken gives the member back.
    pub(crate) fn insert(&self, member: Arc<M>) -> Result<(), Arc<M>> {
        {
            let mut members = self.write();
            if members.contains_key(member.name()) {
                return Err(member);
            }
            members.insert(member.name().to_owned(), member);
        }
        self.bump();
        Ok(())
    }

    /// Puts `member` in the place of the member of the same name, which it
    /// returns; with no such member, gives `member` back.
    pub(crate) fn replace(&self, member: Arc<M>) -> Result<Arc<M>, Arc<M>> {
        let old = {
            let mut members = self.write();
            match members.get_mut(member.name()) {
                Some(slot) => std::mem::replace(slot, member),
                None => return Err(member),
            }
        };
        self.bump();
        Ok(old)
    }

    /// Removes the member named `name`.
    pub(crate) fn remove(&self, name: &str) -> Option<Arc<M>> {
        let removed = self.write().remove(name);
        if removed.is_some() {
            self.bump();
        }
        removed
    }

    /// Marks a change that is not a swap (a member enabled, say).
    pub(crate) fn bump(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    /// Follows the set's version, which every change bumps.
    pub(crate) fn watch(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[derive(Debug)]
    struct Fake {
        name: String,
        version: u32,
        calls: Arc<InFlight>,
    }

    fn fake(name: &str, version: u32) -> Arc<Fake> {
        Arc::new(Fake {
            name: name.into(),
            version,
            calls: Arc::default(),
        })
    }

    impl Member for Fake {
        fn name(&self) -> &str {
            &self.name
        }
        fn in_flight(&self) -> &Arc<InFlight> {
            &self.calls
        }
    }

    #[test]
    fn names_are_unique() {
        let (registry, refused) = Registry::new([fake("a", 1), fake("b", 1), fake("a", 2)]);
        assert_eq!(registry.names(), ["a", "b"]);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].version, 2, "the first of a name is kept");
        assert!(registry.insert(fake("b", 2)).is_err());
        assert_eq!(registry.get("b").unwrap().version, 1);
    }

    #[test]
    fn replace_and_remove_need_a_member_of_that_name() {
        let (registry, _) = Registry::new([fake("a", 1)]);
        assert!(registry.replace(fake("z", 1)).is_err());
        let old = registry.replace(fake("a", 2)).ok().unwrap();
        assert_eq!(old.version, 1);
        assert_eq!(registry.get("a").unwrap().version, 2);
        assert!(registry.remove("z").is_none());
        assert_eq!(registry.remove("a").unwrap().version, 2);
        assert!(registry.all().is_empty());
    }

    #[test]
    fn every_change_bumps_the_version() {
        let (registry, _) = Registry::new([fake("a", 1)]);
        let watch = registry.watch();
        assert_eq!(*watch.borrow(), 0, "building the set is no change");
        registry.insert(fake("b", 1)).unwrap();
        registry.replace(fake("b", 2)).ok().unwrap();
        registry.remove("a");
        registry.remove("a");
        registry.bump();
        assert_eq!(*watch.borrow(), 4, "insert, replace, remove, bump");
    }

    #[tokio::test]
    async fn a_checked_out_call_keeps_the_replaced_member_busy() {
        let (registry, _) = Registry::new([fake("a", 1)]);
        let (member, guard) = registry.checkout("a").unwrap();
        assert_eq!(member.version, 1);
        let old = registry.replace(fake("a", 2)).ok().unwrap();
        let (new, _new_guard) = registry.checkout("a").unwrap();
        assert_eq!(new.version, 2, "new calls go to the new member");
        assert_eq!(old.calls.count(), 1, "the old call is still counted");
        assert!(!old.calls.drained(Duration::from_millis(10)).await);
        drop(guard);
        assert!(old.calls.drained(Duration::from_millis(10)).await);
    }

    #[test]
    fn concurrent_checkouts_and_swaps_never_lose_a_guard() {
        let (registry, _) = Registry::new([fake("a", 0)]);
        let registry = Arc::new(registry);
        let seen = std::thread::scope(|scope| {
            let callers: Vec<_> = (0..4)
                .map(|_| {
                    let registry = registry.clone();
                    scope.spawn(move || {
                        let mut members = Vec::new();
                        for _ in 0..2000 {
                            let (member, guard) = registry.checkout("a").unwrap();
                            assert!(member.calls.count() >= 1);
                            drop(guard);
                            members.push(member);
                        }
                        members
                    })
                })
                .collect();
            for version in 1..200 {
                registry.replace(fake("a", version)).ok().unwrap();
            }
            callers
                .into_iter()
                .flat_map(|c| c.join().unwrap())
                .collect::<Vec<_>>()
        });
        assert!(seen.iter().all(|m| m.calls.count() == 0));
    }
}

//! The call-depth limit (PW-HOST-6), enforced from what the host itself
//! knows: which tool calls it has in flight into each plugin, in which
//! chain and how deep. A plugin's own claims are never believed; the chain
//! id it echoes (`plugwire-call-chain`) only picks which of its own
//! in-flight chains a callback continues, and that chain's depth is the
//! host's count.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// A chain of tool calls, started by a call from the application (or from
/// a plugin's background work).
pub(crate) type ChainId = u64;

#[derive(Debug, Clone, Copy)]
struct Active {
    id: u64,
    chain: ChainId,
    depth: u32,
}

/// Every tool call the host has in flight into each plugin.
#[derive(Debug, Default)]
pub(crate) struct CallChains {
    next: AtomicU64,
    active: Mutex<HashMap<String, Vec<Active>>>,
}

/// A call in flight; forgotten when dropped.
pub(crate) struct InFlight<'a> {
    chains: &'a CallChains,
    plugin: &'a str,
    id: u64,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut active = self.chains.lock();
        // The emptied list stays (one per plugin), so that the next call
        // into the plugin allocates nothing.
        if let Some(calls) = active.get_mut(self.plugin) {
            calls.retain(|c| c.id != self.id);
        }
    }
}

impl CallChains {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Active>>> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new chain id.
    pub(crate) fn new_chain(&self) -> ChainId {
        self.next.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Records a call into `plugin` at `depth` in `chain`.
    pub(crate) fn enter<'a>(&'a self, plugin: &'a str, chain: ChainId, depth: u32) -> InFlight<'a> {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let call = Active { id, chain, depth };
        let mut active = self.lock();
        // Only a plugin's first call ever allocates.
        match active.get_mut(plugin) {
            Some(calls) => calls.push(call),
            None => {
                active.insert(plugin.to_owned(), vec![call]);
            }
        }
        InFlight {
            chains: self,
            plugin,
            id,
        }
    }

    /// The chain and depth of a tool call that `plugin` makes through the
    /// host: the deepest of its in-flight calls in the chain it names, or,
    /// when it names none of its own, the deepest of all its in-flight
    /// calls (so that leaving the header out never makes a call shallower);
    /// a new chain at depth 0 when it has no call in flight.
    ///
    /// Every nested call raises the depth of the chain it joins, so a
    /// plugin cannot nest more than the limit in any chain it can name.
    pub(crate) fn callback(&self, plugin: &str, claimed: Option<ChainId>) -> (ChainId, u32) {
        let active = self.lock();
        let calls = active.get(plugin).map(Vec::as_slice).unwrap_or_default();
        let in_claimed = claimed.and_then(|chain| {
            calls
                .iter()
                .filter(|c| c.chain == chain)
                .map(|c| c.depth)
                .max()
                .map(|depth| (chain, depth))
        });
        if let Some(found) = in_claimed {
            return found;
        }
        match calls.iter().max_by_key(|c| c.depth) {
            Some(deepest) => (deepest.chain, deepest.depth),
            None => {
                drop(active);
                (self.new_chain(), 0)
            }
        }
    }

    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaving_the_chain_out_never_makes_a_call_shallower() {
        let chains = CallChains::default();
        let a = chains.new_chain();
        let _one = chains.enter("p", a, 1);
        let _five = chains.enter("p", a, 5);
        assert_eq!(chains.callback("p", None), (a, 5));
        assert_eq!(
            chains.callback("p", Some(999)),
            (a, 5),
            "a chain not its own"
        );
    }

    #[test]
    fn a_named_chain_is_continued_at_its_own_depth() {
        let chains = CallChains::default();
        let (a, b) = (chains.new_chain(), chains.new_chain());
        let _deep = chains.enter("p", a, 6);
        let _shallow = chains.enter("p", b, 1);
        assert_eq!(chains.callback("p", Some(b)), (b, 1));
        assert_eq!(chains.callback("q", Some(b)).1, 0, "another plugin's chain");
    }

    #[test]
    fn nesting_raises_the_chain_it_joins_even_when_a_shallow_call_stays_open() {
        // The attack: keep a shallow call open and name its chain from
        // every nested call. Each nested call joins that chain deeper.
        let chains = CallChains::default();
        let a = chains.new_chain();
        let mut held = vec![chains.enter("p", a, 1)];
        let mut depth = 1;
        for _ in 0..20 {
            let (chain, seen) = chains.callback("p", Some(a));
            assert_eq!(chain, a);
            assert_eq!(seen, depth);
            depth = seen + 1;
            held.push(chains.enter("p", chain, depth));
        }
        assert_eq!(depth, 21);
        drop(held);
        assert_eq!(chains.in_flight(), 0, "finished calls are forgotten");
    }
}

//! The transaction table's map, split into shards so that it never stalls the endpoint.
//!
//! A `HashMap` grows by allocating twice the room and moving every entry at once. With half a
//! million open transactions (a completed non-INVITE server transaction lives 32 s on UDP, so
//! 15k requests/s keep that many) one such move took long enough for the SIP socket's receive
//! buffer to overflow: a registration storm lost datagrams exactly when the table crossed a
//! power of two. Split over [`SHARDS`] maps chosen by the key's branch, each growth moves a
//! sixty-fourth of the entries, and the shards grow at different moments.
//!
//! The shard is picked with FNV-1a over the branch (cheap, not keyed); each shard is a std
//! `HashMap` with its own random SipHash keys, so chosen branches can at worst crowd one
//! shard, which then behaves as the single map did.

use std::collections::HashMap;

use super::key::TransactionKey;

/// Number of shards: a power of two.
const SHARDS: usize = 64;

#[derive(Debug)]
pub(super) struct Shards<V> {
    maps: Vec<HashMap<TransactionKey, V>>,
    len: usize,
}

impl<V> Default for Shards<V> {
    fn default() -> Self {
        Self {
            maps: (0..SHARDS).map(|_| HashMap::new()).collect(),
            len: 0,
        }
    }
}

impl<V> Shards<V> {
    fn index(key: &TransactionKey) -> usize {
        let mut h: u32 = 0x811c_9dc5;
        for b in key.id().bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        h as usize % SHARDS
    }

    fn shard(&self, key: &TransactionKey) -> Option<&HashMap<TransactionKey, V>> {
        self.maps.get(Self::index(key))
    }

    fn shard_mut(&mut self, key: &TransactionKey) -> Option<&mut HashMap<TransactionKey, V>> {
        self.maps.get_mut(Self::index(key))
    }

    pub fn get(&self, key: &TransactionKey) -> Option<&V> {
        self.shard(key)?.get(key)
    }

    pub fn get_mut(&mut self, key: &TransactionKey) -> Option<&mut V> {
        self.shard_mut(key)?.get_mut(key)
    }

    pub fn contains_key(&self, key: &TransactionKey) -> bool {
        self.shard(key).is_some_and(|m| m.contains_key(key))
    }

    /// Inserts, returning the value that was there.
    pub fn insert(&mut self, key: TransactionKey, value: V) -> Option<V> {
        let old = self.shard_mut(&key)?.insert(key, value);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    pub fn remove(&mut self, key: &TransactionKey) -> Option<V> {
        let old = self.shard_mut(key)?.remove(key);
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Entries per shard, for tests of the spread.
    #[cfg(test)]
    pub fn shard_lens(&self) -> Vec<usize> {
        self.maps.iter().map(HashMap::len).collect()
    }
}

//! An in-memory [`Store`] for tests and benchmarks.

use super::{Store, StoreError, Swap};
use std::cell::RefCell;
use std::collections::HashMap;

/// A map from key to a version and a value, in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: RefCell<HashMap<String, (u64, Vec<u8>)>>,
}

/// The version of a key that [`MemoryStore::watch`] read.
#[derive(Debug, Clone)]
pub struct MemoryWatch {
    key: String,
    version: u64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `value` under `key` unconditionally, as another writer would.
    pub fn set(&self, key: &str, value: &[u8]) {
        let mut entries = self.entries.borrow_mut();
        let version = entries.get(key).map_or(0, |(version, _)| *version);
        entries.insert(key.to_owned(), (version + 1, value.to_vec()));
    }
}

impl Store for MemoryStore {
    type Watch = MemoryWatch;

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.entries.borrow().get(key).map(|(_, value)| value.clone()))
    }

    fn watch(&self, key: &str) -> Result<(MemoryWatch, Option<Vec<u8>>), StoreError> {
        let entries = self.entries.borrow();
        let (version, value) = match entries.get(key) {
            Some((version, value)) => (*version, Some(value.clone())),
            None => (0, None),
        };
        Ok((MemoryWatch { key: key.to_owned(), version }, value))
    }

    fn swap(&self, watch: MemoryWatch, value: &[u8]) -> Result<Swap, StoreError> {
        let mut entries = self.entries.borrow_mut();
        let current = entries.get(&watch.key).map_or(0, |(version, _)| *version);
        if current != watch.version {
            return Ok(Swap::Conflict);
        }
        entries.insert(watch.key, (current + 1, value.to_vec()));
        Ok(Swap::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap_fails_after_a_concurrent_write() {
        let store = MemoryStore::new();
        let (first, none) = store.watch("k").unwrap();
        assert_eq!(none, None);
        let (second, _) = store.watch("k").unwrap();
        assert_eq!(store.swap(first, b"a").unwrap(), Swap::Done);
        assert_eq!(store.swap(second, b"b").unwrap(), Swap::Conflict);
        assert_eq!(store.get("k").unwrap().as_deref(), Some(&b"a"[..]));
    }
}

//! An in-memory [`Store`] for tests and benchmarks.

use super::{Store, StoreError, Swap};
use std::cell::RefCell;
use std::collections::HashMap;

/// A map from key to a version and a value, in memory. Cloning it copies the data.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    entries: RefCell<HashMap<String, (u64, Vec<u8>)>>,
    tombstones: RefCell<HashMap<String, u64>>,
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

    /// How many keys the store holds.
    pub fn len(&self) -> usize {
        self.entries.borrow().len()
    }

    /// Whether the store holds no key.
    pub fn is_empty(&self) -> bool {
        self.entries.borrow().is_empty()
    }

    /// The total size of all values, in bytes.
    pub fn value_bytes(&self) -> usize {
        self.entries.borrow().values().map(|(_, value)| value.len()).sum()
    }
}

impl Store for MemoryStore {
    type Watch = MemoryWatch;

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.entries.borrow().get(key).map(|(_, value)| value.clone()))
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let mut entries = self.entries.borrow_mut();
        let version = entries.get(key).map_or(0, |(version, _)| *version);
        entries.insert(key.to_owned(), (version + 1, value.to_vec()));
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        // Versions must never repeat, so a deleted key keeps its version as an empty tombstone.
        let mut entries = self.entries.borrow_mut();
        if let Some((version, _)) = entries.remove(key) {
            self.tombstones.borrow_mut().insert(key.to_owned(), version);
        }
        Ok(())
    }

    fn keys(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.entries.borrow().keys().cloned().collect())
    }

    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        let current = match self.get(key)? {
            Some(bytes) => std::str::from_utf8(&bytes)
                .ok()
                .and_then(|text| text.parse::<i64>().ok())
                .ok_or_else(|| StoreError(format!("{key} does not hold an integer")))?,
            None => 0,
        };
        let sum = current + delta;
        self.set(key, sum.to_string().as_bytes())?;
        Ok(sum)
    }

    fn watch(&self, key: &str) -> Result<(MemoryWatch, Option<Vec<u8>>), StoreError> {
        let entries = self.entries.borrow();
        let (version, value) = match entries.get(key) {
            Some((version, value)) => (*version, Some(value.clone())),
            None => (self.tombstones.borrow().get(key).copied().unwrap_or(0), None),
        };
        Ok((MemoryWatch { key: key.to_owned(), version }, value))
    }

    fn swap(&self, watch: MemoryWatch, value: &[u8]) -> Result<Swap, StoreError> {
        let mut entries = self.entries.borrow_mut();
        let current = match entries.get(&watch.key) {
            Some((version, _)) => *version,
            None => self.tombstones.borrow().get(&watch.key).copied().unwrap_or(0),
        };
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

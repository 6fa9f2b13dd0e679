//! The narrow byte-level interface the storage layout is written against.
//!
//! It is the part of `wasi:keyvalue` (store and atomics, 0.2.0-draft2) that JSONStore needs:
//! read, write, delete and list keys, and replace a key's value only if nobody changed it since
//! it was read.

mod hooked;
mod memory;
pub use hooked::{Call, Counter, Hook, Hooked, Watched};
pub use memory::MemoryStore;

#[cfg(target_os = "wasi")]
mod kv;
#[cfg(target_os = "wasi")]
pub use kv::KvStore;

/// A failure of the store itself (not of the client's request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The result of a compare-and-swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swap {
    /// The new value is stored.
    Done,
    /// Someone changed the key since it was watched; nothing was stored.
    Conflict,
}

/// A key-value store with compare-and-swap.
pub trait Store {
    /// A handle on the version of a key that [`Store::watch`] read.
    type Watch;

    /// Reads the current value of `key`.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Stores `value` under `key`, replacing any value.
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;

    /// Removes `key`; removing a missing key is not an error.
    fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Every key in the store, in no particular order.
    fn keys(&self) -> Result<Vec<String>, StoreError>;

    /// Atomically adds `delta` to the integer at `key` (0 when absent) and returns the sum.
    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError>;

    /// Reads the current value of `key` and remembers its version for [`Store::swap`].
    fn watch(&self, key: &str) -> Result<(Self::Watch, Option<Vec<u8>>), StoreError>;

    /// Stores `value` under the watched key if the key still has the watched version.
    ///
    /// It is atomic: afterwards the key holds the old value or `value`, never a mix,
    /// whatever fails in between.
    fn swap(&self, watch: Self::Watch, value: &[u8]) -> Result<Swap, StoreError>;
}

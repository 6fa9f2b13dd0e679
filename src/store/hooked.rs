//! A [`Store`] wrapper that lets a [`Hook`] see, fail or alter every operation: the one
//! faulty, counting or racing store that tests need, instead of a hand-written forwarding
//! store per test.

use super::{Store, StoreError, Swap};

/// One store operation, as a [`Hook`] sees it before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call<'a> {
    /// [`Store::get`] of a key.
    Get(&'a str),
    /// [`Store::set`] of a key to a value.
    Set(&'a str, &'a [u8]),
    /// [`Store::delete`] of a key.
    Delete(&'a str),
    /// [`Store::keys`].
    Keys,
    /// [`Store::increment`] of a key.
    Increment(&'a str),
    /// [`Store::watch`] of a key.
    Watch(&'a str),
    /// [`Store::swap`] of the watched key to a value.
    Swap(&'a str, &'a [u8]),
}

/// What a [`Hooked`] store does around the operations of the store `S` it wraps. Every method
/// has a default that changes nothing.
pub trait Hook<S: Store> {
    /// Runs before every operation; an error fails the operation without running it.
    fn before(&self, _inner: &S, _call: Call<'_>) -> Result<(), StoreError> {
        Ok(())
    }

    /// Sees what a read ([`Store::get`] or [`Store::watch`]) of `key` returned.
    fn after_read(&self, _inner: &S, _key: &str, _value: Option<&[u8]>) {}

    /// Runs a compare-and-swap: by default the inner store's. A hook may stand in for a host
    /// whose compare-and-swap is faulty (one that writes a missing key blindly, or reports a
    /// conflict for a swap that happened).
    fn swap(&self, inner: &S, watched: Watched<S::Watch>, value: &[u8]) -> Result<Swap, StoreError> {
        inner.swap(watched.watch, value)
    }
}

/// What [`Hooked::watch`] remembers: the inner store's watch, the key, and whether the key was
/// missing when it was watched.
#[derive(Debug, Clone)]
pub struct Watched<W> {
    /// The inner store's watch.
    pub watch: W,
    /// The watched key.
    pub key: String,
    /// Whether the key had no value when it was watched.
    pub missing: bool,
}

/// The store `inner`, with `hook` around each of its operations.
#[derive(Debug, Default, Clone)]
pub struct Hooked<S, H> {
    /// The wrapped store.
    pub inner: S,
    /// What runs around its operations.
    pub hook: H,
}

impl<S: Store, H: Hook<S>> Hooked<S, H> {
    /// `inner` with `hook` around it.
    pub fn new(inner: S, hook: H) -> Self {
        Hooked { inner, hook }
    }
}

impl<S: Store, H: Hook<S>> Store for Hooked<S, H> {
    type Watch = Watched<S::Watch>;

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.hook.before(&self.inner, Call::Get(key))?;
        let value = self.inner.get(key)?;
        self.hook.after_read(&self.inner, key, value.as_deref());
        Ok(value)
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.hook.before(&self.inner, Call::Set(key, value))?;
        self.inner.set(key, value)
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.hook.before(&self.inner, Call::Delete(key))?;
        self.inner.delete(key)
    }

    fn keys(&self) -> Result<Vec<String>, StoreError> {
        self.hook.before(&self.inner, Call::Keys)?;
        self.inner.keys()
    }

    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.hook.before(&self.inner, Call::Increment(key))?;
        self.inner.increment(key, delta)
    }

    fn watch(&self, key: &str) -> Result<(Self::Watch, Option<Vec<u8>>), StoreError> {
        self.hook.before(&self.inner, Call::Watch(key))?;
        let (watch, value) = self.inner.watch(key)?;
        self.hook.after_read(&self.inner, key, value.as_deref());
        Ok((Watched { watch, key: key.to_owned(), missing: value.is_none() }, value))
    }

    fn swap(&self, watched: Self::Watch, value: &[u8]) -> Result<Swap, StoreError> {
        self.hook.before(&self.inner, Call::Swap(&watched.key, value))?;
        self.hook.swap(&self.inner, watched, value)
    }
}

/// A hook that counts the operations and the bytes read and written.
#[derive(Debug, Default)]
pub struct Counter {
    /// Operations of every kind.
    pub calls: std::cell::Cell<usize>,
    /// Values read by `get` and `watch` (missing keys included).
    pub reads: std::cell::Cell<usize>,
    /// Bytes read.
    pub read_bytes: std::cell::Cell<usize>,
    /// Bytes written by `set` and `swap`.
    pub written_bytes: std::cell::Cell<usize>,
}

impl Counter {
    /// Starts counting again from zero.
    pub fn reset(&self) {
        for cell in [&self.calls, &self.reads, &self.read_bytes, &self.written_bytes] {
            cell.set(0);
        }
    }
}

impl<S: Store> Hook<S> for Counter {
    fn before(&self, _inner: &S, call: Call<'_>) -> Result<(), StoreError> {
        self.calls.set(self.calls.get() + 1);
        if let Call::Set(_, value) | Call::Swap(_, value) = call {
            self.written_bytes.set(self.written_bytes.get() + value.len());
        }
        Ok(())
    }

    fn after_read(&self, _inner: &S, _key: &str, value: Option<&[u8]>) {
        self.reads.set(self.reads.get() + 1);
        self.read_bytes.set(self.read_bytes.get() + value.map_or(0, <[u8]>::len));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    struct FailSets;

    impl Hook<MemoryStore> for FailSets {
        fn before(&self, _inner: &MemoryStore, call: Call<'_>) -> Result<(), StoreError> {
            match call {
                Call::Set(key, _) => Err(StoreError(format!("no set of {key}"))),
                _ => Ok(()),
            }
        }
    }

    #[test]
    fn a_hook_sees_and_fails_operations() {
        let counted = Hooked::new(MemoryStore::new(), Counter::default());
        counted.set("a", b"12345").unwrap();
        assert_eq!(counted.get("a").unwrap().as_deref(), Some(&b"12345"[..]));
        let (watch, _) = counted.watch("a").unwrap();
        assert_eq!(counted.swap(watch, b"xy").unwrap(), Swap::Done);
        assert_eq!(counted.hook.calls.get(), 4);
        assert_eq!(counted.hook.reads.get(), 2);
        assert_eq!(counted.hook.read_bytes.get(), 10);
        assert_eq!(counted.hook.written_bytes.get(), 7);

        let failing = Hooked::new(MemoryStore::new(), FailSets);
        assert_eq!(failing.set("k", b"v"), Err(StoreError("no set of k".into())));
        assert_eq!(failing.inner.get("k").unwrap(), None);
    }
}

//! The host's key-value store, through `wasi:keyvalue` (store and atomics, 0.2.0-draft2).

use super::{Store, StoreError, Swap};
use crate::bindings::wasi::keyvalue::atomics::{self, Cas, CasError};
use crate::bindings::wasi::keyvalue::store::{self, Bucket, Error};

/// A bucket of the host's key-value store.
pub struct KvStore {
    bucket: Bucket,
}

impl KvStore {
    /// Opens the bucket named `label` (`"default"` is the one every host provides).
    pub fn open(label: &str) -> Result<Self, StoreError> {
        Ok(KvStore { bucket: store::open(label).map_err(|error| describe("open", error))? })
    }
}

impl Store for KvStore {
    type Watch = Cas;

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.bucket.get(key).map_err(|error| describe("get", error))
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.bucket.set(key, value).map_err(|error| describe("set", error))
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.bucket.delete(key).map_err(|error| describe("delete", error))
    }

    fn keys(&self) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.bucket.list_keys(cursor.as_deref()).map_err(|error| describe("list", error))?;
            keys.extend(page.keys);
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(keys),
            }
        }
    }

    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        atomics::increment(&self.bucket, key, delta).map_err(|error| describe("increment", error))
    }

    fn watch(&self, key: &str) -> Result<(Cas, Option<Vec<u8>>), StoreError> {
        let cas = Cas::new(&self.bucket, key).map_err(|error| describe("watch", error))?;
        let value = cas.current().map_err(|error| describe("read", error))?;
        Ok((cas, value))
    }

    fn swap(&self, watch: Cas, value: &[u8]) -> Result<Swap, StoreError> {
        match atomics::swap(watch, value) {
            Ok(()) => Ok(Swap::Done),
            Err(CasError::CasFailed(_)) => Ok(Swap::Conflict),
            Err(CasError::StoreError(error)) => Err(describe("swap", error)),
        }
    }
}

fn describe(operation: &str, error: Error) -> StoreError {
    StoreError(match error {
        Error::NoSuchStore => format!("{operation}: no such store"),
        Error::AccessDenied => format!("{operation}: access denied"),
        Error::Other(message) => format!("{operation}: {message}"),
    })
}

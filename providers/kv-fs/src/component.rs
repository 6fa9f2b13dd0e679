//! The component's exports, `wasi:keyvalue/store` and `atomics`, as thin calls into [`crate::files`].
//!
//! Resources hold only a [`Bucket`] (a directory path) and, for a CAS handle, the version (and
//! the key's incarnation) and value it read: every request gets a fresh instance, so all other
//! state must be in the files.

use std::path::PathBuf;

use crate::files::{self, Bucket, Swap};
use bindings::exports::wasi::config::store as config;
use bindings::exports::wasi::keyvalue::atomics::{self, CasError};
use bindings::exports::wasi::keyvalue::store;

/// The generated bindings and the export glue, which is the only unsafe code in the crate.
#[allow(unsafe_code)]
mod bindings {
    wit_bindgen::generate!({ path: "../../wit", world: "kv-fs", generate_all });

    use super::Provider;
    export!(Provider);
}

/// Where buckets live unless `JSONSTORE_KV_DIR` says otherwise.
const ROOT_DEFAULT: &str = "/data";

struct Provider;

struct BucketHandle(Bucket);

struct CasHandle {
    bucket: Bucket,
    cas: files::Cas,
}

impl store::Guest for Provider {
    type Bucket = BucketHandle;

    fn open(identifier: String) -> Result<store::Bucket, store::Error> {
        let root = std::env::var_os("JSONSTORE_KV_DIR").map_or_else(|| PathBuf::from(ROOT_DEFAULT), PathBuf::from);
        let bucket = Bucket::open(&root, &identifier, random).map_err(to_wit)?;
        Ok(store::Bucket::new(BucketHandle(bucket)))
    }
}

impl store::GuestBucket for BucketHandle {
    fn get(&self, key: String) -> Result<Option<Vec<u8>>, store::Error> {
        self.0.get(&key).map_err(to_wit)
    }

    fn set(&self, key: String, value: Vec<u8>) -> Result<(), store::Error> {
        self.0.set(&key, &value).map_err(to_wit)
    }

    fn delete(&self, key: String) -> Result<(), store::Error> {
        self.0.delete(&key).map_err(to_wit)
    }

    fn exists(&self, key: String) -> Result<bool, store::Error> {
        self.0.exists(&key).map_err(to_wit)
    }

    /// Returns every key at once; the cursor is ignored and never returned.
    fn list_keys(&self, _cursor: Option<String>) -> Result<store::KeyResponse, store::Error> {
        let keys = self.0.list().map_err(to_wit)?;
        Ok(store::KeyResponse { keys, cursor: None })
    }
}

impl atomics::Guest for Provider {
    type Cas = CasHandle;

    fn increment(bucket: atomics::BucketBorrow<'_>, key: String, delta: i64) -> Result<i64, store::Error> {
        bucket.get::<BucketHandle>().0.increment(&key, delta).map_err(to_wit)
    }

    fn swap(cas: atomics::Cas, value: Vec<u8>) -> Result<(), CasError> {
        let CasHandle { bucket, cas } = cas.into_inner();
        match bucket.swap(cas, &value) {
            Ok(Swap::Done) => Ok(()),
            Ok(Swap::Conflict(latest)) => {
                Err(CasError::CasFailed(atomics::Cas::new(CasHandle { bucket, cas: latest })))
            }
            Err(error) => Err(CasError::StoreError(to_wit(error))),
        }
    }
}

impl atomics::GuestCas for CasHandle {
    fn new(bucket: atomics::BucketBorrow<'_>, key: String) -> Result<atomics::Cas, store::Error> {
        let bucket = bucket.get::<BucketHandle>().0.clone();
        let cas = bucket.begin_cas(&key).map_err(to_wit)?;
        Ok(atomics::Cas::new(CasHandle { bucket, cas }))
    }

    fn current(&self) -> Result<Option<Vec<u8>>, store::Error> {
        Ok(self.cas.current().map(<[u8]>::to_vec))
    }
}

fn to_wit(error: files::Error) -> store::Error {
    match error {
        files::Error::NoSuchStore => store::Error::NoSuchStore,
        other => store::Error::Other(other.to_string()),
    }
}

fn random() -> u64 {
    bindings::wasi::random::random::get_random_u64()
}

/// `wasi:config/store`: the handler's configuration variables, from `JSONSTORE_*` environment
/// variables (see [`jsonstore_provider_common::config`]).
impl config::Guest for Provider {
    fn get(key: String) -> Result<Option<String>, config::Error> {
        Ok(jsonstore_provider_common::config::get(&key))
    }

    fn get_all() -> Result<Vec<(String, String)>, config::Error> {
        Ok(jsonstore_provider_common::config::all())
    }
}

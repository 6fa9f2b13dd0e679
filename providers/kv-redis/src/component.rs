//! The component's exports, `wasi:keyvalue/store` and `atomics`, as thin calls into [`crate::server`].
//!
//! Every request gets a fresh instance, so resources hold only a [`Bucket`] (a key prefix) and,
//! for a CAS handle, the version and value it read. The instance's one connection is opened on
//! its first operation, and closed when it breaks, so that the next operation opens a new one.

use std::cell::RefCell;
use std::net::TcpStream;

use crate::server::{self, Bucket, Connection, Swap};
use bindings::exports::wasi::config::store as config;
use bindings::exports::wasi::keyvalue::atomics::{self, CasError};
use bindings::exports::wasi::keyvalue::store;

/// The generated bindings and the export glue, which is the only unsafe code in the crate.
#[allow(unsafe_code)]
mod bindings {
    wit_bindgen::generate!({ path: "../../wit", world: "kv-redis", generate_all });

    use super::Provider;
    export!(Provider);
}

thread_local! {
    /// The instance's connection to the server, once opened.
    static CONNECTION: RefCell<Option<Connection<TcpStream>>> = const { RefCell::new(None) };
}

struct Provider;

struct BucketHandle(Bucket);

struct CasHandle {
    bucket: Bucket,
    cas: server::Cas,
}

impl store::Guest for Provider {
    type Bucket = BucketHandle;

    fn open(identifier: String) -> Result<store::Bucket, store::Error> {
        let bucket = Bucket::open(&identifier).map_err(to_wit)?;
        Ok(store::Bucket::new(BucketHandle(bucket)))
    }
}

impl store::GuestBucket for BucketHandle {
    fn get(&self, key: String) -> Result<Option<Vec<u8>>, store::Error> {
        connected(|connection| self.0.get(connection, &key))
    }

    fn set(&self, key: String, value: Vec<u8>) -> Result<(), store::Error> {
        connected(|connection| self.0.set(connection, &key, &value))
    }

    fn delete(&self, key: String) -> Result<(), store::Error> {
        connected(|connection| self.0.delete(connection, &key))
    }

    fn exists(&self, key: String) -> Result<bool, store::Error> {
        connected(|connection| self.0.exists(connection, &key))
    }

    fn list_keys(&self, cursor: Option<String>) -> Result<store::KeyResponse, store::Error> {
        let (keys, cursor) = connected(|connection| self.0.list(connection, cursor.as_deref()))?;
        Ok(store::KeyResponse { keys, cursor })
    }
}

impl atomics::Guest for Provider {
    type Cas = CasHandle;

    fn increment(bucket: atomics::BucketBorrow<'_>, key: String, delta: i64) -> Result<i64, store::Error> {
        let bucket = &bucket.get::<BucketHandle>().0;
        connected(|connection| bucket.increment(connection, &key, delta))
    }

    fn swap(cas: atomics::Cas, value: Vec<u8>) -> Result<(), CasError> {
        let CasHandle { bucket, cas } = cas.into_inner();
        match connected(|connection| bucket.swap(connection, cas, &value)) {
            Ok(Swap::Done) => Ok(()),
            Ok(Swap::Conflict(latest)) => {
                Err(CasError::CasFailed(atomics::Cas::new(CasHandle { bucket, cas: latest })))
            }
            Err(error) => Err(CasError::StoreError(error)),
        }
    }
}

impl atomics::GuestCas for CasHandle {
    fn new(bucket: atomics::BucketBorrow<'_>, key: String) -> Result<atomics::Cas, store::Error> {
        let bucket = bucket.get::<BucketHandle>().0.clone();
        let cas = connected(|connection| bucket.begin_cas(connection, &key))?;
        Ok(atomics::Cas::new(CasHandle { bucket, cas }))
    }

    fn current(&self) -> Result<Option<Vec<u8>>, store::Error> {
        Ok(self.cas.current().map(<[u8]>::to_vec))
    }
}

/// Runs `operation` on the instance's connection, opening it first if needed.
fn connected<T>(
    operation: impl FnOnce(&mut Connection<TcpStream>) -> Result<T, server::Error>,
) -> Result<T, store::Error> {
    CONNECTION.with_borrow_mut(|slot| {
        let mut connection = match slot.take() {
            Some(connection) => connection,
            None => open().map_err(to_wit)?,
        };
        let result = operation(&mut connection);
        if !result.as_ref().is_err_and(server::Error::breaks_connection) {
            *slot = Some(connection);
        }
        result.map_err(to_wit)
    })
}

/// Connects to the server that `$JSONSTORE_REDIS_URL` names.
fn open() -> Result<Connection<TcpStream>, server::Error> {
    let url = std::env::var("JSONSTORE_REDIS_URL").unwrap_or_else(|_| server::URL_DEFAULT.to_owned());
    Connection::open(&server::address(&url)?)
}

fn to_wit(error: server::Error) -> store::Error {
    match error {
        server::Error::NoSuchStore => store::Error::NoSuchStore,
        other => store::Error::Other(other.to_string()),
    }
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

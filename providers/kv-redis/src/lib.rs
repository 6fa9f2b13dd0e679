//! A `wasi:keyvalue` provider over a Redis-protocol server, so that several `wasmtime serve`
//! nodes share one JSONStore.
//!
//! Each node runs the handler composed with this component; every request gets a fresh instance,
//! which opens one TCP connection (through `wasi:sockets`) to the server named by
//! `$JSONSTORE_REDIS_URL` (`redis://HOST[:PORT]`, default `redis://127.0.0.1:6379`).
//! The protocol is written here rather than taken from a client crate: the part needed is small,
//! and the `redis` crate, which does build for `wasm32-wasip2`, brings some forty crates with it.
//!
//! - [`resp`] encodes commands and decodes replies (RESP2), bounded against any server input.
//! - [`server`] is the store: key layout, compare-and-swap by Lua script, reply checking.
//!   Both are plain `std`, so they compile and are tested natively.
//! - `component` (WASI only) exports `wasi:keyvalue/store` and `wasi:keyvalue/atomics`
//!   (`@0.2.0-draft2`) over [`server`].

pub mod resp;
pub mod server;

#[cfg(target_os = "wasi")]
mod component;

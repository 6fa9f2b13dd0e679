//! JSONStore: one JSON document over HTTP, where the URL path is a JSON Pointer into it.
//!
//! The crate compiles natively (for tests) and to a `wasm32-wasip2` component that exports
//! `wasi:http/incoming-handler` and keeps the document in the host's `wasi:keyvalue` store.
//!
//! - [`core`] is the pure document logic: pointers, reads and writes, patches, ETags,
//!   limits and the encoding of the layout's records. It never touches WASI.
//! - [`layout`] keeps the document in a store as a tree of pages: read snapshots, write
//!   transactions and the write protocol.
//! - [`store`] is the narrow byte-level [`store::Store`] trait the layout is written against,
//!   with an in-memory implementation and, on WASI, the host key-value store.
//! - [`service`] turns a plain [`service::Request`] into a [`service::Response`]:
//!   parse into an operation, run it against a store, render the outcome.
//! - [`access`] decides who may read and write which part of the document: tokens, users'
//!   JWTs ([`access::jwt`]) and the access rules language ([`access::rules`]).
//! - `http` (WASI only) is the thin adapter between `wasi:http` and [`service`].

pub mod access;
pub mod core;
pub mod layout;
pub mod service;
pub mod store;

#[cfg(target_os = "wasi")]
mod bindings;
#[cfg(target_os = "wasi")]
mod http;

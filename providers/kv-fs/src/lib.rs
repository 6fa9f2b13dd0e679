//! A `wasi:keyvalue` provider over `wasi:filesystem`, so that JSONStore persists under `wasmtime serve`.
//!
//! `wasmtime serve` gives every request a fresh instance and runs many at once, and its own
//! key-value store forgets everything, so this component keeps nothing in memory between calls:
//! the files in one preopened directory are the only state.
//!
//! - [`files`] is the store: buckets, keys and versions as plain files, with compare-and-swap
//!   by `hard_link`. It is plain `std::fs`, so it compiles and is tested natively.
//! - `component` (WASI only) exports `wasi:keyvalue/store` and `wasi:keyvalue/atomics`
//!   (`@0.2.0-draft2`) over [`files`], rooted at `$JSONSTORE_KV_DIR` or `/data`.

pub mod files;

#[cfg(target_os = "wasi")]
mod component;

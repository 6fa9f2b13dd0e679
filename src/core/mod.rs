//! The pure core: everything JSONStore knows about documents, with no WASI dependency.
//!
//! Each function takes plain values and returns plain results, so all of it is tested natively.
//! That includes the storage layout's records as bytes ([`record`]); reading and writing them
//! in a store is [`crate::layout`]'s.

pub mod document;
pub mod etag;
pub mod hash;
pub mod json;
pub mod patch;
pub mod path;
pub mod push_id;
pub mod record;

pub use jsonptr::{Pointer, PointerBuf, Token};

//! The pure core: everything JSONStore knows about documents, with no WASI dependency.
//!
//! Each function takes plain values and returns plain results, so all of it is tested natively.

pub mod document;
pub mod etag;
pub mod hash;
pub mod json;
pub mod layout;
pub mod patch;
pub mod path;
pub mod push_id;

pub use jsonptr::{Pointer, PointerBuf, Token};

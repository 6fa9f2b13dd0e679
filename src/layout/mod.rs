//! How the document is laid out in the key-value store: a tree of pages under one root record.
//!
//! The format is specified in `docs/storage.md`; the records' bytes are [`crate::core::record`].
//! In short: a value whose JSON is small is stored inline in its parent; a larger object or
//! array is a tree of pages (members or elements at the bottom, index pages above), a larger
//! scalar a record of its own, and any record larger than a chunk is split into parts. Records
//! are immutable and never reused: a write stores new pages for the path it changes and then
//! swaps the root record with compare-and-swap. So a write is all-or-nothing, and a reader or
//! writer that started from an older root either finds its pages or learns that it must start
//! again.
//!
//! The code reads like a database's: a [`Snapshot`] is the document as of one root record
//! (reads, lookups, streaming out); a [`Txn`] is a snapshot plus its writes (new records, the
//! key budget, retired records, the commit); [`transact`] is the whole write protocol around
//! a transaction's body (the first root's election, the write lease, retries, false conflicts,
//! the sweep after a full store), and [`Garbage`] is what a commit left to delete. Reads and
//! writes are different types rather than one type with a mode, because a snapshot is shared
//! while it streams out and a transaction is owned by the one writer that commits it.
//!
//! Keys of pages carry the generation they were built on. A page that no root reaches and whose
//! generation is older than the root's can never be reached again, because only a writer that
//! read the current root can commit. That is the garbage-collection rule ([`gc::sweep`]).

mod build;
pub mod gc;
mod ops;
mod records;
pub mod root;
mod snapshot;
mod stream;
mod tagged;
mod transact;
mod txn;

pub use crate::core::record::Lease;
pub use gc::Garbage;
pub use ops::{OpError, Payload, Posted};
pub use snapshot::Snapshot;
pub use tagged::{Read, Reading};
pub use transact::{
    Host, LEASE_MILLIS, READ_ATTEMPTS_MAX, WAIT_MILLIS_MAX, WRITE_ATTEMPTS_MAX, read_consistent, transact,
};
pub use txn::Txn;

use crate::store::StoreError;

/// Sizes that shape the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayoutConfig {
    /// A value whose JSON is at most this long is stored inline in its parent.
    pub inline_bytes_max: usize,
    /// Pages are split when they grow past twice this size.
    pub page_bytes_target: usize,
    /// No stored value is longer than this; longer records are split into parts.
    pub chunk_bytes_max: usize,
    /// Every this many generations, a writer sweeps unreachable records.
    pub sweep_every: u64,
    /// The key budget: the most keys the store may hold (0: no budget). See [`Txn::begin`].
    pub keys_max: usize,
}

impl LayoutConfig {
    /// The layout for chunks of at most `chunk_bytes_max` bytes (at least 4 KiB).
    pub fn for_chunk(chunk_bytes_max: usize) -> Self {
        LayoutConfig {
            inline_bytes_max: 1024.min(chunk_bytes_max / 16),
            page_bytes_target: (16 * 1024).min(chunk_bytes_max / 4),
            chunk_bytes_max,
            sweep_every: 64,
            keys_max: 0,
        }
    }

    /// How long the JSON of a document kept inline in the root record may be: one page, and
    /// never less than any other inline value.
    pub fn root_inline_max(&self) -> usize {
        self.page_bytes_target.max(self.inline_bytes_max)
    }
}

impl Default for LayoutConfig {
    fn default() -> Self {
        LayoutConfig::for_chunk(1024 * 1024)
    }
}

/// A failure to read or write the layout itself, or to commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The store failed.
    Store(StoreError),
    /// A record is not in this layout's format.
    Corrupt(String),
    /// A record the root reaches is gone: a newer root replaced it. Start again from the root.
    Stale(String),
    /// The write would take the store past its key budget ([`LayoutConfig::keys_max`]).
    OverBudget {
        /// How many keys the store would hold.
        keys: usize,
        /// How many it may hold for this write.
        allowed: usize,
    },
    /// Other writers kept committing first, or kept the write lease, for every attempt.
    Contention {
        /// How many times the write was tried.
        attempts: u32,
    },
    /// The store has no root record yet, and the writer elected to write it has not (see
    /// [`root::initialise`]).
    Unelected {
        /// How many times the write was tried.
        attempts: u32,
    },
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        Error::Store(error)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Store(error) => write!(f, "the key-value store failed: {error}"),
            Error::Corrupt(reason) => write!(f, "the stored document is unreadable: {reason}"),
            Error::Stale(key) => write!(f, "record {key} was replaced while it was read"),
            Error::OverBudget { keys, allowed } => {
                write!(f, "the write needs the store to hold {keys} keys, but its key budget allows {allowed} here")
            }
            Error::Contention { attempts } => {
                write!(f, "other writers kept committing first ({attempts} attempts); nothing was written")
            }
            Error::Unelected { attempts } => {
                write!(f, "the store's first record is not written yet ({attempts} attempts); nothing was written")
            }
        }
    }
}

impl std::error::Error for Error {}

/// A record that does not decode.
fn corrupt(what: &str, key: &str, error: impl std::fmt::Display) -> Error {
    Error::Corrupt(format!("{what} {key} is not valid: {error}"))
}

#[cfg(test)]
mod tests;

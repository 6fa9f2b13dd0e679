//! Reading records from the store: joining split records, decoding pages, and keeping what was
//! read for the next lookup.
//!
//! Records are immutable and keyed by content's place in one tree, so a cache needs no
//! invalidation within one snapshot. Two caches, because reads and writes want different
//! things: a read looks one member up in a page's text and keeps the bytes ([`Records::look_up`]
//! skips the rest of the page, a tenth of the cost of decoding it), while an edit needs the
//! whole page decoded ([`Records::page`]).

use super::{Error, corrupt};
use crate::core::record::decode::{self, Lookup, OnPage};
use crate::core::record::{Page, PageAt, TAG_PAGE, TAG_PARTS, TAG_SCALAR};
use crate::store::Store;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// The prefix of every key of the layout's records but the root record and the counter.
pub const NODE_PREFIX: &str = "jsonstore.n.";

/// The records of one snapshot, read through its caches.
pub struct Records<'s, S: Store> {
    store: &'s S,
    /// Decoded pages.
    pages: RefCell<HashMap<String, Rc<Page>>>,
    /// The bytes of pages only looked up in.
    bytes: RefCell<HashMap<String, Rc<Vec<u8>>>>,
    /// The number of parts of each split record read or written.
    parts: RefCell<HashMap<String, usize>>,
}

impl<'s, S: Store> Records<'s, S> {
    /// Records read from `store`, with empty caches.
    pub fn new(store: &'s S) -> Self {
        Records { store, pages: RefCell::default(), bytes: RefCell::default(), parts: RefCell::default() }
    }

    /// The store the records are in.
    pub fn store(&self) -> &'s S {
        self.store
    }

    /// Reads a whole record, joining its parts if it was split.
    pub fn read(&self, key: &str) -> Result<Vec<u8>, Error> {
        let bytes = self.store.get(key)?.ok_or_else(|| Error::Stale(key.to_owned()))?;
        let Some((&TAG_PARTS, count)) = bytes.split_first() else { return Ok(bytes) };
        let count: usize = std::str::from_utf8(count)
            .ok()
            .and_then(|count| count.parse().ok())
            .ok_or_else(|| Error::Corrupt(format!("record {key} has a bad part count")))?;
        let mut whole = Vec::new();
        for part in 0..count {
            let part_key = part_key(key, part);
            whole.extend(self.store.get(&part_key)?.ok_or(Error::Stale(part_key))?);
        }
        self.note_parts(key, count);
        Ok(whole)
    }

    /// Notes that the record `key` was split into `count` parts.
    pub fn note_parts(&self, key: &str, count: usize) {
        self.parts.borrow_mut().insert(key.to_owned(), count);
    }

    /// How many parts the record `key` is known to have (0: not split, or not read).
    pub fn parts(&self, key: &str) -> usize {
        self.parts.borrow().get(key).copied().unwrap_or(0)
    }

    /// Whether page `key` was decoded before.
    pub fn decoded(&self, key: &str) -> bool {
        self.pages.borrow().contains_key(key)
    }

    /// A page, decoded once.
    pub fn page(&self, key: &str) -> Result<Rc<Page>, Error> {
        if let Some(page) = self.pages.borrow().get(key) {
            return Ok(Rc::clone(page));
        }
        let bytes = self.page_bytes(key)?;
        let page = Rc::new(Page::decode(&bytes[1..]).map_err(|error| corrupt("page", key, error))?);
        self.keep(key, Rc::clone(&page));
        Ok(page)
    }

    /// A page where it is: embedded, or stored.
    pub fn page_at(&self, at: &PageAt) -> Result<Rc<Page>, Error> {
        match at {
            PageAt::Embedded(page) => Ok(Rc::clone(page)),
            PageAt::Key(key) => self.page(key),
        }
    }

    /// Keeps a decoded page (one just written, say) for the next read of `key`.
    pub fn keep(&self, key: &str, page: Rc<Page>) {
        self.pages.borrow_mut().insert(key.to_owned(), page);
    }

    /// The record of page `key` (its tag, then its JSON), taken from the bytes a lookup kept if
    /// there are any: whoever asks for them now decodes the page or streams it out.
    pub fn page_bytes(&self, key: &str) -> Result<Vec<u8>, Error> {
        let looked_up = self.bytes.borrow_mut().remove(key);
        let bytes = match looked_up {
            Some(bytes) => Rc::unwrap_or_clone(bytes),
            None => self.read(key)?,
        };
        match bytes.first() {
            Some(&TAG_PAGE) => Ok(bytes),
            _ => Err(Error::Corrupt(format!("record {key} is not a page"))),
        }
    }

    /// Looks `lookup` up on page `key` without decoding the rest; the page's bytes are kept
    /// for the next lookup.
    pub fn look_up(&self, key: &str, lookup: Lookup<'_>) -> Result<OnPage, Error> {
        let kept = self.bytes.borrow().get(key).cloned();
        let bytes = match kept {
            Some(bytes) => bytes,
            None => {
                let bytes = Rc::new(self.read(key)?);
                self.bytes.borrow_mut().insert(key.to_owned(), Rc::clone(&bytes));
                bytes
            }
        };
        match bytes.split_first() {
            Some((&TAG_PAGE, json)) => decode::look_up(json, lookup).map_err(|error| corrupt("page", key, error)),
            _ => Err(Error::Corrupt(format!("record {key} is not a page"))),
        }
    }

    /// The value of a big scalar.
    pub fn scalar(&self, key: &str) -> Result<Value, Error> {
        match self.read(key)?.split_first() {
            Some((&TAG_SCALAR, json)) => decode::value(json).map_err(|error| corrupt("scalar", key, error)),
            _ => Err(Error::Corrupt(format!("record {key} is not a scalar"))),
        }
    }
}

/// The key of part `part` of the split record `key`.
pub fn part_key(key: &str, part: usize) -> String {
    format!("{key}/{part}")
}

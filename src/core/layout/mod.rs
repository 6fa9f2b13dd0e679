//! How the document is laid out in the key-value store: a tree of pages under one root record.
//!
//! The format is specified in `docs/storage.md`. In short: a value whose JSON is small is stored
//! inline in its parent; a larger object or array is a tree of pages (members or elements at the
//! bottom, index pages above), a larger scalar a record of its own, and any record larger than a
//! chunk is split into parts. Records are immutable and never reused: a write stores new pages
//! for the path it changes and then swaps the root record, which names the root and a
//! generation, with compare-and-swap. So a write is all-or-nothing, and a reader or writer that
//! started from an older root either finds its pages or learns that it must start again.
//!
//! Keys of pages carry the generation they were built on. A page that no root reaches and whose
//! generation is older than the root's can never be reached again, because only a writer that
//! read the current root can commit. That is the garbage-collection rule ([`Tree::sweep`]).

mod decode;
mod edit;
pub mod node;
mod ops;
mod stream;

pub use ops::{OpError, Payload, Reading};

use crate::core::{Pointer, etag};
use crate::store::{Store, StoreError, Swap};
use node::{Child, Kind, Page, PageAt, TAG_PAGE, TAG_PARTS, TAG_SCALAR};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// The key of the root record.
pub const ROOT_KEY: &str = "jsonstore.root";

/// The counter that elects the writer who creates the first root record.
pub const INIT_KEY: &str = "jsonstore.init";

/// How many tickets an election of the writer of the first root record spans: if the elected
/// writer dies before it writes the record, the one that draws this many tickets later does.
const INIT_ROUND_TICKETS: i64 = 1000;

/// How many times the elected writer tries to write the first root record.
const INIT_TRIES: u32 = 3;

/// The prefix of every other key the layout writes.
pub const NODE_PREFIX: &str = "jsonstore.n.";

/// The first byte of a root record: the layout's format version.
pub const FORMAT: u8 = b'3';

/// The format before nodes could embed their top page, which this one reads as it is.
const FORMAT_2: u8 = b'2';

/// How many bytes of the pages a transaction writes it keeps in memory, to read them back.
const WRITTEN_CACHE_BYTES: usize = 256 * 1024;

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
    /// The key budget: the most keys the store may hold (0: no budget). See [`Tree::watch`].
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
}

impl Default for LayoutConfig {
    fn default() -> Self {
        LayoutConfig::for_chunk(1024 * 1024)
    }
}

/// A failure to read or write the layout itself.
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
        }
    }
}

impl std::error::Error for Error {}

/// How many recent commits a root record names.
pub const COMMITS_KEPT: usize = 32;

/// A writer's claim to go first: while it lasts, other writers wait rather than start
/// transactions that would lose to it. It only saves wasted work; compare-and-swap alone keeps
/// writes safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// Who holds it: a random number per write request.
    pub holder: u64,
    /// When it ends, in milliseconds since the Unix epoch.
    pub until_millis: u64,
}

/// What [`Tree::find_now`] found: the JSON text of a value, or a stored collection (or big
/// scalar) to stream from its tree with [`Tree::write_json`].
pub enum Found<'s, S: Store> {
    /// The value's JSON.
    Json(Vec<u8>),
    /// The tree, and the child to stream from it.
    Stream(Box<Tree<'s, S>>, Child),
}

/// The root record: the generation of the last commit, the sessions of the last
/// [`COMMITS_KEPT`] commits (oldest first), the write lease, if any, and the document's root
/// (decoded as an `R`: a [`Child`], or for reading a [`decode::RawChild`]).
#[derive(Debug, Clone, PartialEq)]
struct RootRecord<R = Child> {
    generation: u64,
    commits: Vec<u64>,
    lease: Option<Lease>,
    root: Option<R>,
}

impl RootRecord {
    fn empty() -> Self {
        RootRecord { generation: 0, commits: Vec::new(), lease: None, root: None }
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = vec![FORMAT];
        let commits: Vec<String> = self.commits.iter().map(|session| format!("\"{session:x}\"")).collect();
        let head = format!("{{\"generation\":{},\"commits\":[{}],", self.generation, commits.join(","));
        out.extend_from_slice(head.as_bytes());
        if let Some(Lease { holder, until_millis }) = self.lease {
            out.extend_from_slice(format!("\"lease\":[\"{holder:x}\",{until_millis}],").as_bytes());
        }
        out.extend_from_slice(b"\"root\":");
        match &self.root {
            Some(child) => child.write(&mut out, true),
            None => out.extend_from_slice(b"null"),
        }
        out.push(b'}');
        out
    }

    fn decode(json: &[u8]) -> Result<RootRecord, String> {
        decode::root_record(json)
    }
}

/// The document as of one root record, with the writes of one transaction on top.
pub struct Tree<'s, S: Store> {
    store: &'s S,
    config: LayoutConfig,
    generation: u64,
    root: Option<Child>,
    session: u64,
    counter: Cell<u64>,
    cache: RefCell<HashMap<String, Rc<Page>>>,
    /// Pages only looked up in, as bytes (see [`Tree::look_up`]).
    raw: RefCell<HashMap<String, Rc<Vec<u8>>>>,
    /// The bytes of the written pages in `cache`, at most [`WRITTEN_CACHE_BYTES`].
    written_cached: Cell<usize>,
    written: RefCell<Vec<String>>,
    replaced: RefCell<Vec<String>>,
    /// The number of parts of each split record this tree has read or written.
    parts: RefCell<HashMap<String, usize>>,
    /// Whether the store had a root record when this tree was read.
    has_record: bool,
    /// With a key budget, how many keys the store held when this transaction began.
    keys_held: Option<usize>,
    /// The sessions of the last commits, from the root record.
    commits: Vec<u64>,
    /// The write lease the root record names.
    lease: Option<Lease>,
    /// The write lease the committed root record will name.
    next_lease: Option<Lease>,
}

impl<'s, S: Store> Tree<'s, S> {
    /// What is at `pointer` in the document as the store holds it now, and its strong ETag
    /// (see [`Tree::read_at`]). A document small enough to be inline in the root record is not
    /// parsed: the value is found in the record's JSON text, skipping the rest.
    pub fn find_now(
        store: &'s S,
        config: LayoutConfig,
        pointer: &Pointer,
    ) -> Result<Option<(Found<'s, S>, String)>, Error> {
        let bytes = store.get(ROOT_KEY)?;
        let Some(json) = root_json(bytes.as_deref())? else { return Ok(None) };
        let record = decode::root_record::<decode::RawChild<'_>>(json).map_err(invalid_root)?;
        let root = match record.root {
            None => return Ok(None),
            Some(decode::RawChild::Inline(document)) => {
                let found = crate::core::json::find(document, pointer).map_err(invalid_root)?;
                return Ok(found.map(|value| {
                    let json = value.get().as_bytes().to_vec();
                    let tag = etag::of(&json);
                    (Found::Json(json), tag)
                }));
            }
            Some(decode::RawChild::Node(node)) => Child::Node(node),
        };
        let RootRecord { generation, commits, lease, .. } = record;
        let tree = Tree::new(store, config, RootRecord { generation, commits, lease, root: Some(root) }, 0);
        Ok(match tree.read_at(pointer)? {
            None => None,
            Some((Reading::Json(json), tag)) => Some((Found::Json(json), tag)),
            Some((Reading::Node(node), tag)) => Some((Found::Stream(Box::new(tree), node), tag)),
        })
    }

    /// The document as the store holds it now, for reading.
    pub fn read(store: &'s S, config: LayoutConfig) -> Result<Self, Error> {
        let record = decode_root(store.get(ROOT_KEY)?.as_deref())?;
        Ok(Tree::new(store, config, record, 0))
    }

    /// The document as the store holds it now, for a transaction that ends with
    /// [`Tree::commit`]. `session` (random) keeps this writer's new keys apart from others'.
    ///
    /// With a key budget ([`LayoutConfig::keys_max`]), the transaction counts the store's keys
    /// first; then no write may take the store past the budget at any moment (the host's limit
    /// is never met), and one that adds keys must leave an eighth of the budget free, so that
    /// writes that shrink the document, which store a few new pages too, always fit.
    /// Writers that run at the same time each count alone.
    pub fn watch(store: &'s S, config: LayoutConfig, session: u64) -> Result<(Self, S::Watch), Error> {
        let keys_held = if config.keys_max > 0 { Some(store.keys()?.len()) } else { None };
        let (watch, bytes) = store.watch(ROOT_KEY)?;
        let record = decode_root(bytes.as_deref())?;
        let mut tree = Tree::new(store, config, record, session);
        tree.has_record = bytes.is_some();
        tree.keys_held = keys_held;
        Ok((tree, watch))
    }

    fn new(store: &'s S, config: LayoutConfig, record: RootRecord, session: u64) -> Self {
        Tree {
            store,
            config,
            generation: record.generation,
            root: record.root,
            commits: record.commits,
            lease: record.lease,
            next_lease: None,
            session,
            counter: Cell::new(0),
            cache: RefCell::default(),
            raw: RefCell::default(),
            written_cached: Cell::new(0),
            written: RefCell::default(),
            replaced: RefCell::default(),
            parts: RefCell::default(),
            has_record: true,
            keys_held: None,
        }
    }

    /// Whether the store has a root record at all. A transaction must not commit the first one
    /// by compare-and-swap (some hosts do not compare for a missing key); it calls
    /// [`Tree::initialise`] and starts again.
    pub fn has_root_record(&self) -> bool {
        self.has_record
    }

    /// Creates the empty root record of a new store, exactly once however many writers try:
    /// the writer that draws ticket 1 from [`INIT_KEY`] writes it (and, should that writer die
    /// before it does, the one that draws ticket 1001, and so on: every attempt to write to a
    /// store without a root draws a ticket). The elected writer tries a failed step again
    /// rather than leave the store to the next election.
    pub fn initialise(store: &'s S) -> Result<(), Error> {
        let ticket = store.increment(INIT_KEY, 1)?;
        if ticket % INIT_ROUND_TICKETS != 1 {
            return Ok(());
        }
        let create = || match store.get(ROOT_KEY)? {
            Some(_) => Ok(()),
            None => store.set(ROOT_KEY, &RootRecord::empty().encode()),
        };
        let mut tries = 1;
        loop {
            match create() {
                Err(_) if tries < INIT_TRIES => tries += 1,
                outcome => return Ok(outcome?),
            }
        }
    }

    /// The write lease the root record names, if any (it may have ended).
    pub fn lease(&self) -> Option<Lease> {
        self.lease
    }

    /// Makes the commit name `lease` as the write lease; without this call, it names none.
    pub fn set_lease(&mut self, lease: Option<Lease>) {
        self.next_lease = lease;
    }

    /// Checks that the transaction, if it commits, leaves the store within its key budget:
    /// a transaction that adds keys must leave an eighth of the budget free.
    pub fn check_budget(&self) -> Result<(), Error> {
        let Some(held) = self.keys_held else { return Ok(()) };
        let parts = self.parts.borrow();
        let removed: usize = self.replaced.borrow().iter().map(|key| 1 + parts.get(key).copied().unwrap_or(0)).sum();
        let added = self.written.borrow().len();
        let allowed = self.config.keys_max - self.config.keys_max / 8;
        if added > removed && held + added - removed > allowed {
            return Err(Error::OverBudget { keys: held + added - removed, allowed });
        }
        Ok(())
    }

    /// Notes that `count` more keys are about to be written; fails if the store would then hold
    /// more than its key budget.
    fn spend(&self, count: usize) -> Result<(), Error> {
        let Some(held) = self.keys_held else { return Ok(()) };
        let keys = held + self.written.borrow().len() + count;
        if keys > self.config.keys_max {
            return Err(Error::OverBudget { keys, allowed: self.config.keys_max });
        }
        Ok(())
    }

    /// Commits the transaction: swaps in a root record of the next generation if the root is
    /// still the one this tree read. Returns what became garbage: on success, what the commit
    /// replaced; on a conflict, nothing (the sweep collects what this transaction wrote).
    /// Deleting it is left to the caller ([`Garbage::collect`]), so that it can answer its
    /// client first.
    pub fn commit(mut self, watch: S::Watch) -> Result<(Swap, Garbage), Error> {
        let generation = self.generation + 1;
        let mut commits = std::mem::take(&mut self.commits);
        commits.push(self.session);
        commits.drain(..commits.len().saturating_sub(COMMITS_KEPT));
        let record = RootRecord { generation, commits, lease: self.next_lease, root: self.root.take() };
        let mut swap = self.store.swap(watch, &record.encode())?;
        // Some hosts report a conflict for a swap that happened (Spin 4.0.2's Redis store does).
        // Root records name the sessions of recent commits, so finding this one there means
        // the swap happened, even if others committed since: trying again would apply the
        // write twice (a POST would append twice).
        if swap == Swap::Conflict && decode_root(self.store.get(ROOT_KEY)?.as_deref())?.commits.contains(&self.session)
        {
            swap = Swap::Done;
        }
        // After a conflict, what this transaction wrote is left to the sweep: on a host that
        // reports false conflicts, the swap may have happened after all, and a later root may
        // still name these records.
        let keys = match swap {
            Swap::Done => self.replaced.take(),
            Swap::Conflict => Vec::new(),
        };
        let sweep = swap == Swap::Done && generation.is_multiple_of(self.config.sweep_every);
        Ok((swap, self.garbage(keys, sweep)))
    }

    /// Ends the transaction without committing; what it wrote is garbage.
    pub fn abort(self) -> Garbage {
        let keys = self.written.take();
        self.garbage(keys, false)
    }

    fn garbage(&self, keys: Vec<String>, sweep: bool) -> Garbage {
        let parts = self.parts.borrow();
        let keys = keys.into_iter().map(|key| (parts.get(&key).copied().unwrap_or(0), key)).collect();
        Garbage { keys, sweep }
    }

    /// Deletes every record that the current root does not reach and that was built on an
    /// older generation. Safe while others read and write: see the module docs.
    /// Returns how many keys it deleted.
    pub fn sweep(store: &'s S, config: LayoutConfig) -> Result<usize, Error> {
        let tree = Tree::read(store, config)?;
        let mut reachable = HashSet::new();
        if let Some(root) = &tree.root {
            tree.mark(root, &mut reachable)?;
        }
        let mut deleted = 0;
        for key in store.keys()? {
            let Some(rest) = key.strip_prefix(NODE_PREFIX) else { continue };
            let base = key.split('/').next().unwrap_or_default();
            let built_on = rest.split('.').next().and_then(|generation| u64::from_str_radix(generation, 16).ok());
            if built_on.is_some_and(|built_on| built_on < tree.generation) && !reachable.contains(base) {
                store.delete(&key)?;
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    /// Adds the keys of `child`'s records to `keys`, reading only pages that have records below.
    fn mark(&self, child: &Child, keys: &mut HashSet<String>) -> Result<(), Error> {
        let Child::Node(node) = child else { return Ok(()) };
        match &node.page {
            Some(page) => self.mark_items(page, keys),
            None if node.kind == Kind::Scalar => {
                keys.insert(node.key.clone());
                Ok(())
            }
            None => self.mark_page(&node.key, true, keys),
        }
    }

    fn mark_page(&self, key: &str, below: bool, keys: &mut HashSet<String>) -> Result<(), Error> {
        keys.insert(key.to_owned());
        if !below {
            return Ok(());
        }
        self.mark_items(&*self.page(key)?, keys)
    }

    /// Adds the keys of the records below `page`'s items to `keys`.
    fn mark_items(&self, page: &Page, keys: &mut HashSet<String>) -> Result<(), Error> {
        match page {
            Page::Members(members) => members.iter().try_for_each(|(_, child)| self.mark(child, keys)),
            Page::Elements(elements) => elements.iter().try_for_each(|child| self.mark(child, keys)),
            Page::Index(pages) => pages.iter().try_for_each(|page| self.mark_page(&page.key, page.below, keys)),
        }
    }

    /// Whether a lookup on page `key` should skip what it does not need rather than decode the
    /// whole page: in a tree only read, for pages not decoded before.
    fn reads_lazily(&self, key: &str) -> bool {
        self.session == 0 && !self.cache.borrow().contains_key(key)
    }

    /// Looks `lookup` up on page `key`, decoding only what it finds; the page's bytes are kept
    /// for the next lookup.
    fn look_up(&self, key: &str, lookup: decode::Lookup<'_>) -> Result<decode::OnPage, Error> {
        let cached = self.raw.borrow().get(key).cloned();
        let bytes = match cached {
            Some(bytes) => bytes,
            None => {
                let bytes = Rc::new(self.read_record(key)?);
                self.raw.borrow_mut().insert(key.to_owned(), Rc::clone(&bytes));
                bytes
            }
        };
        match bytes.split_first() {
            Some((&TAG_PAGE, json)) => decode::look_up(json, lookup)
                .map_err(|error| Error::Corrupt(format!("page {key} is not valid: {error}"))),
            _ => Err(Error::Corrupt(format!("record {key} is not a page"))),
        }
    }

    /// A page where it is: embedded, or read (through the cache).
    fn page_at(&self, at: &PageAt) -> Result<Rc<Page>, Error> {
        match at {
            PageAt::Embedded(page) => Ok(Rc::clone(page)),
            PageAt::Key(key) => self.page(key),
        }
    }

    /// Notes that a page is replaced once this commits (an embedded one has no record).
    fn retire_at(&self, at: &PageAt) {
        if let PageAt::Key(key) = at {
            self.retire(key);
        }
    }

    /// Reads a page, from this tree's cache when it was read before.
    fn page(&self, key: &str) -> Result<Rc<Page>, Error> {
        if let Some(page) = self.cache.borrow().get(key) {
            return Ok(Rc::clone(page));
        }
        let page = Rc::new(self.read_page_uncached(key)?);
        self.cache.borrow_mut().insert(key.to_owned(), Rc::clone(&page));
        Ok(page)
    }

    /// Reads a page from the store, without caching it.
    fn read_page_uncached(&self, key: &str) -> Result<Page, Error> {
        let bytes = self.page_record(key)?;
        Page::decode(&bytes[1..]).map_err(|error| Error::Corrupt(format!("page {key} is not valid: {error}")))
    }

    /// Reads the record of page `key` (its tag, then its JSON), taking it from the bytes kept
    /// by a lookup if there are any.
    fn page_record(&self, key: &str) -> Result<Vec<u8>, Error> {
        let looked_up = self.raw.borrow_mut().remove(key);
        let bytes = match looked_up {
            Some(bytes) => Rc::unwrap_or_clone(bytes),
            None => self.read_record(key)?,
        };
        match bytes.first() {
            Some(&TAG_PAGE) => Ok(bytes),
            _ => Err(Error::Corrupt(format!("record {key} is not a page"))),
        }
    }

    /// Reads the JSON of a big scalar.
    fn scalar(&self, key: &str) -> Result<serde_json::Value, Error> {
        let bytes = self.read_record(key)?;
        match bytes.split_first() {
            Some((&TAG_SCALAR, json)) => {
                decode::value(json).map_err(|error| Error::Corrupt(format!("scalar {key} is not valid: {error}")))
            }
            _ => Err(Error::Corrupt(format!("record {key} is not a scalar"))),
        }
    }

    /// Reads a whole record, joining its parts if it was split.
    fn read_record(&self, key: &str) -> Result<Vec<u8>, Error> {
        let bytes = self.store.get(key)?.ok_or_else(|| Error::Stale(key.to_owned()))?;
        let Some((&TAG_PARTS, count)) = bytes.split_first() else { return Ok(bytes) };
        let count: usize = std::str::from_utf8(count)
            .ok()
            .and_then(|count| count.parse().ok())
            .ok_or_else(|| Error::Corrupt(format!("record {key} has a bad part count")))?;
        let mut whole = Vec::new();
        for part in 0..count {
            let part_key = format!("{key}/{part}");
            whole.extend(self.store.get(&part_key)?.ok_or(Error::Stale(part_key))?);
        }
        self.parts.borrow_mut().insert(key.to_owned(), count);
        Ok(whole)
    }

    /// Writes a new record under a new key, split into parts if it is larger than a chunk.
    fn write_record(&self, bytes: &[u8]) -> Result<String, Error> {
        let counter = self.counter.get();
        self.counter.set(counter + 1);
        let key = format!("{NODE_PREFIX}{:x}.{:x}.{counter:x}", self.generation, self.session);
        let chunk = self.config.chunk_bytes_max.max(1);
        if bytes.len() > chunk {
            let parts = bytes.chunks(chunk);
            let count = parts.len();
            self.spend(count + 1)?;
            for (part, bytes) in parts.enumerate() {
                let part_key = format!("{key}/{part}");
                self.written.borrow_mut().push(part_key.clone());
                self.store.set(&part_key, bytes)?;
            }
            self.written.borrow_mut().push(key.clone());
            self.parts.borrow_mut().insert(key.clone(), count);
            self.store.set(&key, format!("{}{count}", TAG_PARTS as char).as_bytes())?;
        } else {
            self.spend(1)?;
            self.written.borrow_mut().push(key.clone());
            self.store.set(&key, bytes)?;
        }
        Ok(key)
    }

    /// Notes that the record `key` is no longer part of the document once this commits.
    fn retire(&self, key: &str) {
        self.replaced.borrow_mut().push(key.to_owned());
    }

    /// Notes that a replaced child and every record below it are garbage once this commits.
    /// Finding them reads only the pages that have records below; if that fails, the sweep
    /// collects what is missed.
    fn retire_child(&self, child: Option<Child>) {
        let Some(child) = child else { return };
        let mut keys = HashSet::new();
        let _ = self.mark(&child, &mut keys);
        self.replaced.borrow_mut().extend(keys);
    }
}

/// Records that no root reaches any more, to delete when a transaction is over; deleting them
/// is best effort, since the sweep finds whatever is missed.
#[derive(Debug, Default)]
#[must_use = "garbage is deleted by `collect`"]
pub struct Garbage {
    /// Keys, with how many parts each record is known to have.
    keys: Vec<(usize, String)>,
    /// Whether to sweep the whole store afterwards.
    sweep: bool,
}

impl Garbage {
    /// Adds `other` to this garbage.
    pub fn absorb(&mut self, other: Garbage) {
        self.keys.extend(other.keys);
        self.sweep |= other.sweep;
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && !self.sweep
    }

    /// Deletes the records (and their parts), then sweeps if it is time to.
    pub fn collect<S: Store>(self, store: &S, config: LayoutConfig) {
        for (parts, key) in self.keys {
            let _ = store.delete(&key);
            for part in 0..parts {
                let _ = store.delete(&format!("{key}/{part}"));
            }
        }
        if self.sweep {
            let _ = Tree::sweep(store, config);
        }
    }
}

fn decode_root(bytes: Option<&[u8]>) -> Result<RootRecord, Error> {
    match root_json(bytes)? {
        None => Ok(RootRecord::empty()),
        Some(json) => RootRecord::decode(json).map_err(invalid_root),
    }
}

/// The JSON of a root record (without its tag), if there is one.
fn root_json(bytes: Option<&[u8]>) -> Result<Option<&[u8]>, Error> {
    match bytes {
        None | Some([]) => Ok(None),
        Some([FORMAT | FORMAT_2, json @ ..]) => Ok(Some(json)),
        Some([tag, ..]) => Err(Error::Corrupt(format!("the root record has unknown format {tag:#04x}"))),
    }
}

fn invalid_root(error: impl std::fmt::Display) -> Error {
    Error::Corrupt(format!("the root record is not valid: {error}"))
}

#[cfg(test)]
mod tests;

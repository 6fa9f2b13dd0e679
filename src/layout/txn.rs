//! A write transaction: a snapshot, plus the records it writes, the key budget they spend,
//! the records they retire, and the commit that swaps the root record.
//!
//! Nothing a transaction writes is part of the document until [`Txn::commit`] swaps the root:
//! new records go under new keys (`<prefix><generation>.<session>.<n>`, never reused), and the
//! records they replace are only noted, to delete once the commit is done. Dropping or
//! aborting a transaction leaves the document as it was.

use super::gc::{self, Garbage};
use super::records::{NODE_PREFIX, part_key};
use super::root::{self, ROOT_KEY};
use super::snapshot::Snapshot;
use super::{Error, LayoutConfig};
use crate::core::record::root::COMMITS_KEPT;
use crate::core::record::{Child, Lease, Page, PageAt, RootRecord, TAG_PARTS};
use crate::store::{Store, Swap};
use std::collections::HashSet;
use std::rc::Rc;

/// How many bytes of the pages a transaction writes it keeps decoded, to read them back.
const WRITTEN_KEPT_BYTES: usize = 256 * 1024;

/// A write transaction on the document as of one root record.
pub struct Txn<'s, S: Store> {
    /// The document as this transaction has it: the root read, then its writes.
    pub(super) snapshot: Snapshot<'s, S>,
    /// The root record's version, for the commit's compare-and-swap.
    watch: S::Watch,
    /// This transaction's random number, in its keys and in the commits it makes.
    session: u64,
    /// The number in the next key this transaction writes.
    next_key: u64,
    /// The keys written, parts included.
    written: Vec<String>,
    /// The keys the commit replaces.
    retired: Vec<String>,
    /// The bytes of the written pages kept decoded, at most [`WRITTEN_KEPT_BYTES`].
    written_kept_bytes: usize,
    /// With a key budget, how many keys the store held when this transaction began.
    keys_held: Option<usize>,
    /// Whether the store had a root record when the transaction began.
    had_record: bool,
    /// The sessions of the last commits, from the root record.
    commits: Vec<u64>,
    /// The write lease the root record names.
    lease: Option<Lease>,
    /// The write lease the committed root record will name.
    next_lease: Option<Lease>,
}

impl<'s, S: Store> std::ops::Deref for Txn<'s, S> {
    type Target = Snapshot<'s, S>;

    fn deref(&self) -> &Snapshot<'s, S> {
        &self.snapshot
    }
}

impl<'s, S: Store> Txn<'s, S> {
    /// Begins a transaction on the document as the store holds it now. `session` (random)
    /// keeps this writer's new keys apart from others'.
    ///
    /// With a key budget ([`LayoutConfig::keys_max`]), the transaction counts the store's keys
    /// first; then no write may take the store past the budget at any moment (the host's limit
    /// is never met), and one that adds keys must leave an eighth of the budget free, so that
    /// writes that shrink the document, which store a few new pages too, always fit.
    /// Writers that run at the same time each count alone.
    pub fn begin(store: &'s S, config: LayoutConfig, session: u64) -> Result<Self, Error> {
        let keys_held = if config.keys_max > 0 { Some(store.keys()?.len()) } else { None };
        let (watch, bytes) = store.watch(ROOT_KEY)?;
        let RootRecord { generation, commits, lease, root } = root::decode(bytes.as_deref())?;
        Ok(Txn {
            snapshot: Snapshot::of(store, config, generation, root, false),
            watch,
            session,
            next_key: 0,
            written: Vec::new(),
            retired: Vec::new(),
            written_kept_bytes: 0,
            keys_held,
            had_record: bytes.is_some(),
            commits,
            lease,
            next_lease: None,
        })
    }

    /// Whether the store had a root record at all. A transaction must not commit the first one
    /// by compare-and-swap (some hosts do not compare for a missing key): see
    /// [`root::initialise`].
    pub fn had_record(&self) -> bool {
        self.had_record
    }

    /// The write lease the root record names, if any (it may have ended).
    pub fn lease(&self) -> Option<Lease> {
        self.lease
    }

    /// Makes the commit name `lease` as the write lease; without this call, it names none.
    pub fn set_lease(&mut self, lease: Option<Lease>) {
        self.next_lease = lease;
    }

    /// Replaces the document's root.
    pub(super) fn set_root(&mut self, root: Option<Child>) {
        self.snapshot.root = root;
    }

    /// Takes the document's root out, leaving no document.
    pub(super) fn take_root(&mut self) -> Option<Child> {
        self.snapshot.root.take()
    }

    /// Writes a new record under a new key, split into parts if it is larger than a chunk.
    pub(super) fn write(&mut self, bytes: &[u8]) -> Result<String, Error> {
        let key = format!("{NODE_PREFIX}{:x}.{:x}.{:x}", self.snapshot.generation, self.session, self.next_key);
        self.next_key += 1;
        let store = self.snapshot.store();
        let chunk = self.snapshot.config.chunk_bytes_max.max(1);
        if bytes.len() > chunk {
            let parts = bytes.chunks(chunk);
            let count = parts.len();
            self.spend(count + 1)?;
            for (part, bytes) in parts.enumerate() {
                let part_key = part_key(&key, part);
                self.written.push(part_key.clone());
                store.set(&part_key, bytes)?;
            }
            self.written.push(key.clone());
            self.snapshot.records.note_parts(&key, count);
            store.set(&key, format!("{}{count}", TAG_PARTS as char).as_bytes())?;
        } else {
            self.spend(1)?;
            self.written.push(key.clone());
            store.set(&key, bytes)?;
        }
        Ok(key)
    }

    /// Writes a page's record and keeps the page decoded while the kept pages are small, for
    /// the response to read back; a big write would otherwise hold the whole document.
    pub(super) fn write_page(&mut self, page: Rc<Page>, bytes: &[u8]) -> Result<String, Error> {
        let key = self.write(bytes)?;
        if self.written_kept_bytes + bytes.len() <= WRITTEN_KEPT_BYTES {
            self.written_kept_bytes += bytes.len();
            self.snapshot.records.keep(&key, page);
        }
        Ok(key)
    }

    /// Notes that `count` more keys are about to be written; fails if the store would then hold
    /// more than its key budget.
    fn spend(&self, count: usize) -> Result<(), Error> {
        let Some(held) = self.keys_held else { return Ok(()) };
        let keys = held + self.written.len() + count;
        let keys_max = self.snapshot.config.keys_max;
        if keys > keys_max {
            return Err(Error::OverBudget { keys, allowed: keys_max });
        }
        Ok(())
    }

    /// Checks that the transaction, if it commits, leaves the store within its key budget:
    /// a transaction that adds keys must leave an eighth of the budget free.
    pub fn check_budget(&self) -> Result<(), Error> {
        let Some(held) = self.keys_held else { return Ok(()) };
        let records = &self.snapshot.records;
        let removed: usize = self.retired.iter().map(|key| 1 + records.parts(key)).sum();
        let added = self.written.len();
        let keys_max = self.snapshot.config.keys_max;
        let allowed = keys_max - keys_max / 8;
        if added > removed && held + added - removed > allowed {
            return Err(Error::OverBudget { keys: held + added - removed, allowed });
        }
        Ok(())
    }

    /// Notes that the record `key` is no longer part of the document once this commits.
    pub(super) fn retire(&mut self, key: &str) {
        self.retired.push(key.to_owned());
    }

    /// Notes that a page is replaced once this commits (an embedded one has no record).
    pub(super) fn retire_at(&mut self, at: &PageAt) {
        if let PageAt::Key(key) = at {
            self.retire(key);
        }
    }

    /// Notes that a replaced child and every record below it are garbage once this commits.
    /// Finding them reads only the pages that have records below; if that fails, the sweep
    /// collects what is missed.
    pub(super) fn retire_child(&mut self, child: Option<Child>) {
        let Some(child) = child else { return };
        let mut keys = HashSet::new();
        let _ = gc::mark(&self.snapshot, &child, &mut keys);
        self.retired.extend(keys);
    }

    /// Commits: swaps in a root record of the next generation if the root is still the one this
    /// transaction read. Returns what became garbage: on success, what the commit replaced; on
    /// a conflict, nothing (the sweep collects what this transaction wrote). Deleting it is
    /// left to the caller ([`Garbage::collect`]), so that it can answer its client first.
    pub fn commit(mut self) -> Result<(Swap, Garbage), Error> {
        let generation = (self.snapshot.generation.checked_add(1))
            .ok_or_else(|| Error::Corrupt("the root record's generation is the last one".to_owned()))?;
        let mut commits = std::mem::take(&mut self.commits);
        commits.push(self.session);
        commits.drain(..commits.len().saturating_sub(COMMITS_KEPT));
        let record = RootRecord { generation, commits, lease: self.next_lease, root: self.snapshot.root.take() };
        let store = self.snapshot.store();
        let mut swap = store.swap(self.watch, &record.encode())?;
        // Some hosts report a conflict for a swap that happened (Spin 4.0.2's Redis store does).
        // Root records name the sessions of recent commits, so finding this one there means
        // the swap happened, even if others committed since: trying again would apply the
        // write twice (a POST would append twice).
        if swap == Swap::Conflict && root::decode(store.get(ROOT_KEY)?.as_deref())?.commits.contains(&self.session) {
            swap = Swap::Done;
        }
        // After a conflict, what this transaction wrote is left to the sweep: on a host that
        // reports false conflicts, the swap may have happened after all, and a later root may
        // still name these records.
        let keys = match swap {
            Swap::Done => std::mem::take(&mut self.retired),
            Swap::Conflict => Vec::new(),
        };
        let sweep = swap == Swap::Done && generation.is_multiple_of(self.snapshot.config.sweep_every);
        Ok((swap, Garbage::of(keys, &self.snapshot.records, sweep)))
    }

    /// Ends the transaction without committing; what it wrote is garbage.
    pub fn abort(mut self) -> Garbage {
        let keys = std::mem::take(&mut self.written);
        Garbage::of(keys, &self.snapshot.records, false)
    }
}

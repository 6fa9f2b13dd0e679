//! Garbage collection: deleting the records that no root reaches any more.
//!
//! A commit knows what it replaced and leaves it as [`Garbage`], deleted after the client has
//! its answer. Whatever is missed (a writer that failed or crashed, a host that reported a
//! false conflict) is found by [`sweep`]: a record that the current root does not reach and
//! that was built on an older generation can never be reached again, since only a writer that
//! read the current root can commit.

use super::records::{NODE_PREFIX, Records, part_key};
use super::snapshot::{Snapshot, deeper};
use super::{Error, LayoutConfig};
use crate::core::record::{Child, Kind, Page};
use crate::store::Store;
use std::collections::HashSet;

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
    /// The records `keys`, whose parts `records` knows, and a sweep if `sweep`.
    pub(super) fn of<S: Store>(keys: Vec<String>, records: &Records<'_, S>, sweep: bool) -> Self {
        Garbage { keys: keys.into_iter().map(|key| (records.parts(&key), key)).collect(), sweep }
    }

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
                let _ = store.delete(&part_key(&key, part));
            }
        }
        if self.sweep {
            let _ = sweep(store, config);
        }
    }
}

/// Deletes every record that the current root does not reach and that was built on an older
/// generation. Safe while others read and write: see the module docs. Returns how many keys it
/// deleted.
pub fn sweep<S: Store>(store: &S, config: LayoutConfig) -> Result<usize, Error> {
    let snapshot = Snapshot::open(store, config)?;
    let mut reachable = HashSet::new();
    if let Some(root) = &snapshot.root {
        mark(&snapshot, root, &mut reachable)?;
    }
    let mut deleted = 0;
    for key in store.keys()? {
        let Some(rest) = key.strip_prefix(NODE_PREFIX) else { continue };
        let base = key.split('/').next().unwrap_or_default();
        let built_on = rest.split('.').next().and_then(|generation| u64::from_str_radix(generation, 16).ok());
        if built_on.is_some_and(|built_on| built_on < snapshot.generation) && !reachable.contains(base) {
            store.delete(&key)?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Adds the keys of `child`'s records to `keys`, reading only pages that have records below.
pub(super) fn mark<S: Store>(
    snapshot: &Snapshot<'_, S>,
    child: &Child,
    keys: &mut HashSet<String>,
) -> Result<(), Error> {
    mark_below(snapshot, child, 0, keys)
}

/// [`mark`] for a child `depth` nodes and index pages below the first.
fn mark_below<S: Store>(
    snapshot: &Snapshot<'_, S>,
    child: &Child,
    depth: usize,
    keys: &mut HashSet<String>,
) -> Result<(), Error> {
    let Child::Node(node) = child else { return Ok(()) };
    match &node.page {
        Some(page) => mark_items(snapshot, page, deeper(depth)?, keys),
        None if node.kind == Kind::Scalar => {
            keys.insert(node.key.clone());
            Ok(())
        }
        None => mark_page(snapshot, &node.key, true, depth, keys),
    }
}

fn mark_page<S: Store>(
    snapshot: &Snapshot<'_, S>,
    key: &str,
    below: bool,
    depth: usize,
    keys: &mut HashSet<String>,
) -> Result<(), Error> {
    // A page marked already (only in a tree changed by something else) is not read again.
    if !keys.insert(key.to_owned()) || !below {
        return Ok(());
    }
    mark_items(snapshot, &*snapshot.records.page(key)?, deeper(depth)?, keys)
}

/// Adds the keys of the records below `page`'s items to `keys`.
fn mark_items<S: Store>(
    snapshot: &Snapshot<'_, S>,
    page: &Page,
    depth: usize,
    keys: &mut HashSet<String>,
) -> Result<(), Error> {
    match page {
        Page::Members(members) => members.iter().try_for_each(|(_, child)| mark_below(snapshot, child, depth, keys)),
        Page::Elements(elements) => elements.iter().try_for_each(|child| mark_below(snapshot, child, depth, keys)),
        Page::Index(pages) => pages.iter().try_for_each(|page| mark_page(snapshot, &page.key, page.below, depth, keys)),
    }
}

//! Storing values as page trees, and editing them.
//!
//! A collection is built bottom-up: members are packed into pages of about
//! [`LayoutConfig::page_bytes_target`](super::LayoutConfig) bytes, and index pages over them
//! until one page is left, the top. An edit changes one member: it rewrites the page that holds
//! it and the index pages above, splitting a page that grew past twice the target and dropping
//! one that became empty, so it costs the tree's height times a page, whatever the collection's
//! size.

use super::Error;
use super::snapshot::{deeper, index_for_name, locate};
use super::txn::Txn;
use crate::core::record::{self, Child, Kind, NodeRef, Page, PageAt, PageRef, TAG_SCALAR};
use crate::store::Store;
use serde_json::{Map, Value};
use std::rc::Rc;

/// One change to one member of a collection.
#[derive(Debug)]
pub enum Edit {
    /// Sets the object member `name`.
    Set(String, Child),
    /// Removes the object member `name`, which exists.
    Remove(String),
    /// Replaces element `index`, which exists.
    Replace(usize, Child),
    /// Inserts an element before `index` (the length appends).
    Insert(usize, Child),
    /// Removes element `index`, which exists.
    RemoveAt(usize),
}

impl Edit {
    fn name(&self) -> &str {
        match self {
            Edit::Set(name, _) | Edit::Remove(name) => name,
            _ => "",
        }
    }
}

impl<S: Store> Txn<'_, S> {
    /// Stores `value`, returning how its parent refers to it.
    pub(super) fn store_value(&mut self, value: Value) -> Result<Child, Error> {
        Ok(self.store_sized(value)?.0)
    }

    /// Stores `value` as the whole document: inline in the root record when it fits
    /// [`LayoutConfig::root_inline_max`], so that a small document is one record.
    pub(super) fn store_root_value(&mut self, value: Value) -> Result<Child, Error> {
        if record::json_fits(&value, self.config.root_inline_max()) {
            return Ok(Child::Inline(value));
        }
        self.store_value(value)
    }

    /// `root` as the document's root: a collection whose JSON fits [`LayoutConfig::root_inline_max`]
    /// (it shrank) is inlined, and its records retired.
    pub(super) fn settle_root(&mut self, root: Child) -> Result<Child, Error> {
        let Child::Node(node) = &root else { return Ok(root) };
        if node.kind == Kind::Scalar {
            return Ok(root);
        }
        let value = match self.small_inline_within(&*self.records.page_at(&node.top())?, self.config.root_inline_max())
        {
            Some(value) => value,
            None => return Ok(root),
        };
        self.retire_child(Some(root));
        Ok(Child::Inline(value))
    }

    /// [`Txn::store_value`], also returning the JSON length when the child is inline.
    fn store_sized(&mut self, value: Value) -> Result<(Child, Option<usize>), Error> {
        let inline_max = self.config.inline_bytes_max;
        match value {
            Value::Object(map) => {
                let mut inline_len = Some(2 + map.len().saturating_sub(1));
                let mut members = Vec::with_capacity(map.len());
                for (name, value) in map {
                    let (child, len) = self.store_sized(value)?;
                    inline_len = inline_len.zip(len).map(|(total, len)| total + len + record::str_json_len(&name) + 1);
                    members.push((name, child));
                }
                if let Some(len) = inline_len.filter(|&len| len <= inline_max) {
                    let map: Map<String, Value> =
                        members.into_iter().map(|(name, child)| (name, inline(child))).collect();
                    return Ok((Child::Inline(Value::Object(map)), Some(len)));
                }
                Ok((self.store_collection(Kind::Object, Page::Members(members))?, None))
            }
            Value::Array(items) => {
                let mut inline_len = Some(2 + items.len().saturating_sub(1));
                let mut elements = Vec::with_capacity(items.len());
                for value in items {
                    let (child, len) = self.store_sized(value)?;
                    inline_len = inline_len.zip(len).map(|(total, len)| total + len);
                    elements.push(child);
                }
                if let Some(len) = inline_len.filter(|&len| len <= inline_max) {
                    let items = elements.into_iter().map(inline).collect();
                    return Ok((Child::Inline(Value::Array(items)), Some(len)));
                }
                Ok((self.store_collection(Kind::Array, Page::Elements(elements))?, None))
            }
            scalar => {
                let len = record::json_len(&scalar);
                if len <= inline_max {
                    return Ok((Child::Inline(scalar), Some(len)));
                }
                let mut bytes = vec![TAG_SCALAR];
                serde_json::to_writer(&mut bytes, &scalar).expect("a Value always serializes");
                let hash = record::hash(&bytes[1..]);
                let key = self.write(&bytes)?;
                Ok((Child::Node(NodeRef { key, page: None, hash, kind: Kind::Scalar, len: 0 }), None))
            }
        }
    }

    /// Stores a collection given as one (possibly huge) bottom page.
    fn store_collection(&mut self, kind: Kind, page: Page) -> Result<Child, Error> {
        let pages = self.pack(page)?;
        self.top(kind, pages)
    }

    /// The child for a collection whose top level is `pages`: index pages are added until one
    /// page is left; a collection small enough is inlined again.
    pub(super) fn top(&mut self, kind: Kind, mut pages: Vec<PageRef>) -> Result<Child, Error> {
        loop {
            match pages.len() {
                0 => {
                    return Ok(Child::Inline(if kind == Kind::Object {
                        Value::Object(Map::new())
                    } else {
                        Value::Array(Vec::new())
                    }));
                }
                1 => break,
                _ => {
                    let stored = self.store_pending(pages)?;
                    pages = self.pack(Page::Index(stored))?;
                }
            }
        }
        let mut top = pages.pop().expect("one page");
        // An index over a single page is that page.
        let mut depth = 0;
        while let Page::Index(below) = &*self.ref_page(&top)? {
            if below.len() != 1 {
                break;
            }
            depth = deeper(depth)?;
            self.retire_ref(&top);
            top = below[0].clone();
        }
        let page = self.ref_page(&top)?;
        if let Some(value) = self.small_inline(&page) {
            self.retire_ref(&top);
            return Ok(Child::Inline(value));
        }
        // A small top page is embedded in the reference: no record of its own.
        let (key, page) = match top.pending {
            Some(page) => (String::new(), Some(page)),
            None => (top.key, None),
        };
        Ok(Child::Node(NodeRef { key, page, hash: top.hash, kind, len: top.len }))
    }

    /// The page a reference names: pending, or stored.
    fn ref_page(&self, page: &PageRef) -> Result<Rc<Page>, Error> {
        match &page.pending {
            Some(pending) => Ok(Rc::clone(pending)),
            None => self.records.page(&page.key),
        }
    }

    /// Notes that a referenced page is replaced (a pending one was never stored).
    fn retire_ref(&mut self, page: &PageRef) {
        if page.pending.is_none() {
            self.retire(&page.key);
        }
    }

    /// Stores the pending pages among `pages`, so that an index page can name them by key.
    fn store_pending(&mut self, pages: Vec<PageRef>) -> Result<Vec<PageRef>, Error> {
        pages
            .into_iter()
            .map(|mut page| match page.pending.take() {
                Some(pending) => {
                    page.key = self.write(&pending.encode())?;
                    self.snapshot.records.keep(&page.key, pending);
                    Ok(page)
                }
                None => Ok(page),
            })
            .collect()
    }

    /// The value of a bottom page whose members are all inline and small enough together.
    fn small_inline(&self, page: &Page) -> Option<Value> {
        self.small_inline_within(page, self.config.inline_bytes_max)
    }

    /// The value of a bottom page whose members are all inline, if its JSON is at most `max` long.
    fn small_inline_within(&self, page: &Page, max: usize) -> Option<Value> {
        let value = match page {
            Page::Members(members) => Value::Object(
                members
                    .iter()
                    .map(|(name, child)| Some((name.clone(), inline_ref(child)?.clone())))
                    .collect::<Option<_>>()?,
            ),
            Page::Elements(elements) => {
                Value::Array(elements.iter().map(|child| inline_ref(child).cloned()).collect::<Option<_>>()?)
            }
            Page::Index(_) => return None,
        };
        record::json_fits(&value, max).then_some(value)
    }

    /// Writes the items of `page` as one or more pages of about the target size.
    pub(super) fn pack(&mut self, page: Page) -> Result<Vec<PageRef>, Error> {
        let target = self.config.page_bytes_target.max(1);
        let sizes: Vec<usize> = match &page {
            Page::Members(members) => members.iter().map(|(name, child)| record::member_bytes(name, child)).collect(),
            Page::Elements(elements) => elements.iter().map(record::child_bytes).collect(),
            Page::Index(pages) => pages.iter().map(record::page_ref_bytes).collect(),
        };
        let total: usize = sizes.iter().sum();
        if sizes.is_empty() {
            return Ok(Vec::new());
        }
        if total <= 2 * target {
            return Ok(vec![self.store_page(page)?]);
        }
        // Cut greedily after the item that reaches the target; every page but the last gets at
        // least two items, so that each index level is about half as long as the one below.
        // The streaming builder (`stream.rs`) cuts by the same rule.
        let mut cuts = Vec::new();
        let (mut filled, mut items_on_page) = (0, 0);
        for (index, size) in sizes.iter().enumerate() {
            filled += size;
            items_on_page += 1;
            if cut_after(filled, items_on_page, target) && index + 1 < sizes.len() {
                cuts.push(index + 1);
                (filled, items_on_page) = (0, 0);
            }
        }
        let mut pages = Vec::with_capacity(cuts.len() + 1);
        let mut items = page;
        for &cut in cuts.iter().rev() {
            pages.push(split_off(&mut items, cut));
        }
        pages.push(items);
        pages.reverse();
        pages.into_iter().map(|page| self.store_page(page)).collect()
    }

    /// Stores `page`, or, if it is small enough to be embedded in a node reference, keeps it
    /// pending: [`Txn::top`] embeds it, and anything else stores it first.
    pub(super) fn store_page(&mut self, page: Page) -> Result<PageRef, Error> {
        let bytes = page.encode();
        let below = page.below();
        // Keys appear only in references to records below, so without those the record is
        // its own keyless form.
        let hash = if below { page.hash() } else { record::hash(&bytes) };
        let reference =
            PageRef { key: String::new(), hash, len: page.len(), first: page.first(), below, pending: None };
        if bytes.len() <= self.config.inline_bytes_max {
            return Ok(PageRef { pending: Some(Rc::new(page)), ..reference });
        }
        let key = self.write_page(Rc::new(page), &bytes)?;
        Ok(PageRef { key, ..reference })
    }

    /// Applies `edit` to the collection `node` and returns the collection's new child.
    pub(super) fn edit(&mut self, node: &NodeRef, edit: Edit) -> Result<Child, Error> {
        let pages = self.edit_page(&node.top(), edit)?;
        self.top(node.kind, pages)
    }

    fn edit_page(&mut self, at: &PageAt, edit: Edit) -> Result<Vec<PageRef>, Error> {
        let page = self.records.page_at(at)?;
        self.retire_at(at);
        let edited = match (&*page, edit) {
            (Page::Members(members), Edit::Set(name, child)) => {
                let mut members = members.clone();
                match members.binary_search_by(|(member, _)| member.as_str().cmp(&name)) {
                    Ok(at) => members[at].1 = child,
                    Err(at) => members.insert(at, (name, child)),
                }
                Page::Members(members)
            }
            (Page::Members(members), Edit::Remove(name)) => {
                let mut members = members.clone();
                if let Ok(at) = members.binary_search_by(|(member, _)| member.as_str().cmp(&name)) {
                    members.remove(at);
                }
                Page::Members(members)
            }
            (Page::Elements(elements), edit) => {
                let mut elements = elements.clone();
                // The index comes from lengths in the records: past the page's end, they lie.
                let past_end = || Error::Corrupt(format!("array page {at:?} is shorter than its length says"));
                match edit {
                    Edit::Replace(index, child) => *elements.get_mut(index).ok_or_else(past_end)? = child,
                    Edit::Insert(index, child) if index <= elements.len() => elements.insert(index, child),
                    Edit::RemoveAt(index) if index < elements.len() => drop(elements.remove(index)),
                    Edit::Insert(..) | Edit::RemoveAt(_) => return Err(past_end()),
                    _ => return Err(Error::Corrupt(format!("a member edit on array page {at:?}"))),
                }
                Page::Elements(elements)
            }
            (Page::Index(pages), _) if pages.is_empty() => {
                return Err(Error::Corrupt(format!("index page {at:?} is empty")));
            }
            (Page::Index(pages), edit) => {
                let (at, edit) = match edit {
                    Edit::Set(..) | Edit::Remove(_) => (index_for_name(pages, edit.name()), edit),
                    Edit::Replace(index, child) => shift(pages, index, false, |i| Edit::Replace(i, child))?,
                    Edit::Insert(index, child) => shift(pages, index, true, |i| Edit::Insert(i, child))?,
                    Edit::RemoveAt(index) => shift(pages, index, false, Edit::RemoveAt)?,
                };
                let edited = self.edit_page(&PageAt::Key(pages[at].key.clone()), edit)?;
                let replacement = self.store_pending(edited)?;
                let mut pages = pages.clone();
                pages.splice(at..=at, replacement);
                Page::Index(pages)
            }
            _ => return Err(Error::Corrupt(format!("an edit on page {at:?} of the wrong kind"))),
        };
        self.pack(edited)
    }
}

/// Whether a page being filled is closed after its latest item.
pub(super) fn cut_after(filled: usize, items_on_page: usize, target: usize) -> bool {
    filled >= target && items_on_page >= 2
}

fn shift(
    pages: &[PageRef],
    index: usize,
    append: bool,
    edit: impl FnOnce(usize) -> Edit,
) -> Result<(usize, Edit), Error> {
    let (at, offset) =
        locate(pages, index, append).ok_or_else(|| Error::Corrupt(format!("index {index} is out of range")))?;
    Ok((at, edit(index - offset)))
}

fn split_off(page: &mut Page, at: usize) -> Page {
    match page {
        Page::Members(members) => Page::Members(members.split_off(at)),
        Page::Elements(elements) => Page::Elements(elements.split_off(at)),
        Page::Index(pages) => Page::Index(pages.split_off(at)),
    }
}

fn inline(child: Child) -> Value {
    match child {
        Child::Inline(value) => value,
        Child::Node(_) => unreachable!("only all-inline collections are inlined"),
    }
}

fn inline_ref(child: &Child) -> Option<&Value> {
    match child {
        Child::Inline(value) => Some(value),
        Child::Node(_) => None,
    }
}

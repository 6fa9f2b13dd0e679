//! Building, reading and editing the page trees of collections.
//!
//! A collection is built bottom-up: members are packed into pages of about
//! [`LayoutConfig::page_bytes_target`](super::LayoutConfig) bytes, and index pages over them
//! until one page is left, the top. An edit changes one member: it rewrites the page that holds
//! it and the index pages above, splitting a page that grew past twice the target and dropping
//! one that became empty, so it costs the tree's height times a page, whatever the collection's
//! size.

use super::decode::{self, Lookup, OnPage, RawChild, RawPage};
use super::node::{self, Child, Kind, NodeRef, Page, PageAt, PageRef, TAG_SCALAR};
use super::{Error, Tree, WRITTEN_CACHE_BYTES};
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

impl<S: Store> Tree<'_, S> {
    /// Stores `value`, returning how its parent refers to it.
    pub(super) fn chunk(&self, value: Value) -> Result<Child, Error> {
        Ok(self.chunk_sized(value)?.0)
    }

    /// Stores `value` as the whole document: inline in the root record when it fits
    /// [`Tree::root_inline_max`], so that a small document is one record.
    pub(super) fn chunk_root(&self, value: Value) -> Result<Child, Error> {
        if node::json_fits(&value, self.root_inline_max()) {
            return Ok(Child::Inline(value));
        }
        self.chunk(value)
    }

    /// How long the JSON of a document kept inline in the root record may be: one page
    /// ([`LayoutConfig::page_bytes_target`](super::LayoutConfig)), and never less than any
    /// other inline value.
    pub(super) fn root_inline_max(&self) -> usize {
        self.config.page_bytes_target.max(self.config.inline_bytes_max)
    }

    /// `root` as the document's root: a collection whose JSON fits [`Tree::root_inline_max`]
    /// (it shrank) is inlined, and its records retired.
    pub(super) fn settle_root(&self, root: Child) -> Result<Child, Error> {
        let Child::Node(node) = &root else { return Ok(root) };
        if node.kind == Kind::Scalar {
            return Ok(root);
        }
        let value = match self.small_inline_within(&*self.page_at(&node.top())?, self.root_inline_max()) {
            Some(value) => value,
            None => return Ok(root),
        };
        self.retire_child(Some(root));
        Ok(Child::Inline(value))
    }

    /// [`Tree::chunk`], also returning the JSON length when the child is inline.
    fn chunk_sized(&self, value: Value) -> Result<(Child, Option<usize>), Error> {
        let inline_max = self.config.inline_bytes_max;
        match value {
            Value::Object(map) => {
                let mut inline_len = Some(2 + map.len().saturating_sub(1));
                let mut members = Vec::with_capacity(map.len());
                for (name, value) in map {
                    let (child, len) = self.chunk_sized(value)?;
                    inline_len = inline_len.zip(len).map(|(total, len)| total + len + node::str_json_len(&name) + 1);
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
                    let (child, len) = self.chunk_sized(value)?;
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
                let len = node::json_len(&scalar);
                if len <= inline_max {
                    return Ok((Child::Inline(scalar), Some(len)));
                }
                let mut bytes = vec![TAG_SCALAR];
                serde_json::to_writer(&mut bytes, &scalar).expect("a Value always serializes");
                let hash = node::hash(&bytes[1..]);
                let key = self.write_record(&bytes)?;
                Ok((Child::Node(NodeRef { key, page: None, hash, kind: Kind::Scalar, len: 0 }), None))
            }
        }
    }

    /// Stores a collection given as one (possibly huge) bottom page.
    fn store_collection(&self, kind: Kind, page: Page) -> Result<Child, Error> {
        let pages = self.pack(page)?;
        self.top(kind, pages)
    }

    /// The child for a collection whose top level is `pages`: index pages are added until one
    /// page is left; a collection small enough is inlined again.
    pub(super) fn top(&self, kind: Kind, mut pages: Vec<PageRef>) -> Result<Child, Error> {
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
                _ => pages = self.pack(Page::Index(self.store_pending(pages)?))?,
            }
        }
        let mut top = pages.pop().expect("one page");
        // An index over a single page is that page.
        while let Page::Index(below) = &*self.ref_page(&top)? {
            if below.len() != 1 {
                break;
            }
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
            None => self.page(&page.key),
        }
    }

    /// Notes that a referenced page is replaced (a pending one was never stored).
    fn retire_ref(&self, page: &PageRef) {
        if page.pending.is_none() {
            self.retire(&page.key);
        }
    }

    /// Stores the pending pages among `pages`, so that an index page can name them by key.
    fn store_pending(&self, pages: Vec<PageRef>) -> Result<Vec<PageRef>, Error> {
        pages
            .into_iter()
            .map(|mut page| match page.pending.take() {
                Some(pending) => {
                    page.key = self.write_record(&pending.encode())?;
                    self.cache.borrow_mut().insert(page.key.clone(), pending);
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
        node::json_fits(&value, max).then_some(value)
    }

    /// Writes the items of `page` as one or more pages of about the target size.
    pub(super) fn pack(&self, page: Page) -> Result<Vec<PageRef>, Error> {
        let target = self.config.page_bytes_target.max(1);
        let sizes: Vec<usize> = match &page {
            Page::Members(members) => members.iter().map(|(name, child)| node::member_bytes(name, child)).collect(),
            Page::Elements(elements) => elements.iter().map(node::child_bytes).collect(),
            Page::Index(pages) => pages.iter().map(node::page_ref_bytes).collect(),
        };
        let total: usize = sizes.iter().sum();
        if sizes.is_empty() {
            return Ok(Vec::new());
        }
        if total <= 2 * target {
            return Ok(vec![self.write_page(page)?]);
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
        pages.into_iter().map(|page| self.write_page(page)).collect()
    }

    /// Stores `page`, or, if it is small enough to be embedded in a node reference, keeps it
    /// pending: [`Tree::top`] embeds it, and anything else stores it first.
    pub(super) fn write_page(&self, page: Page) -> Result<PageRef, Error> {
        let bytes = page.encode();
        let below = page.below();
        // Keys appear only in references to records below, so without those the record is
        // its own keyless form.
        let hash = if below { page.hash() } else { node::hash(&bytes) };
        let reference =
            PageRef { key: String::new(), hash, len: page.len(), first: page.first(), below, pending: None };
        if bytes.len() <= self.config.inline_bytes_max {
            return Ok(PageRef { pending: Some(Rc::new(page)), ..reference });
        }
        let key = self.write_record(&bytes)?;
        // Cached while small, for the response to read back; a big write would otherwise hold
        // the whole document in memory.
        let cached = self.written_cached.get() + bytes.len();
        if cached <= WRITTEN_CACHE_BYTES {
            self.written_cached.set(cached);
            self.cache.borrow_mut().insert(key.clone(), Rc::new(page));
        }
        Ok(PageRef { key, ..reference })
    }

    /// The value a child stands for.
    pub(super) fn value_of(&self, child: &Child) -> Result<Value, Error> {
        match child {
            Child::Inline(value) => Ok(value.clone()),
            Child::Node(node) => match node.kind {
                Kind::Scalar => self.scalar(&node.key),
                Kind::Object => {
                    let mut map = Map::new();
                    self.collect(&node.top(), &mut |name, value| {
                        map.insert(name.expect("object pages hold members"), value);
                    })?;
                    Ok(Value::Object(map))
                }
                Kind::Array => {
                    let mut items = Vec::with_capacity(node.len as usize);
                    self.collect(&node.top(), &mut |_, value| items.push(value))?;
                    Ok(Value::Array(items))
                }
            },
        }
    }

    /// Writes a child's JSON to `out` page by page, holding one page at a time, so a value of
    /// any size streams in bounded memory.
    pub fn write_json(&self, child: &Child, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        match child {
            Child::Inline(value) => serde_json::to_writer(&mut *out, value).map_err(std::io::Error::other),
            Child::Node(node) if node.kind == Kind::Scalar => {
                let bytes = self.read_record(&node.key).map_err(std::io::Error::other)?;
                out.write_all(bytes.get(1..).unwrap_or_default())
            }
            Child::Node(node) => {
                let (open, close) = if node.kind == Kind::Object { (b"{", b"}") } else { (b"[", b"]") };
                out.write_all(open)?;
                self.write_page_json(&node.top(), &mut true, out)?;
                out.write_all(close)
            }
        }
    }

    /// Writes the items of a page, after an item if `first` is false. A stored page's inline
    /// values and member names are copied from the record as they are: records are compact
    /// JSON, written by the same serializer, so the bytes are the ones serializing would give.
    fn write_page_json(&self, at: &PageAt, first: &mut bool, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let mut separate = |out: &mut dyn std::io::Write| -> std::io::Result<()> {
            if !std::mem::take(first) {
                out.write_all(b",")?;
            }
            Ok(())
        };
        // An embedded page (at most `inline_bytes_max` long) is encoded again, so that every
        // page is written out from its record's text.
        let (bytes, key) = match at {
            PageAt::Key(key) => (self.page_record(key).map_err(std::io::Error::other)?, key.as_str()),
            PageAt::Embedded(page) => (page.encode(), "(embedded)"),
        };
        let page = decode::raw_page(&bytes[1..])
            .map_err(|error| std::io::Error::other(Error::Corrupt(format!("page {key} is not valid: {error}"))))?;
        let write_child = |child: RawChild<'_>, out: &mut dyn std::io::Write| match child {
            RawChild::Inline(json) => out.write_all(json.get().as_bytes()),
            RawChild::Node(node) => self.write_json(&Child::Node(node), out),
        };
        match page {
            RawPage::Members(members) => {
                for (name, child) in members {
                    separate(out)?;
                    out.write_all(name.get().as_bytes())?;
                    out.write_all(b":")?;
                    write_child(child, out)?;
                }
            }
            RawPage::Elements(elements) => {
                for child in elements {
                    separate(out)?;
                    write_child(child, out)?;
                }
            }
            RawPage::Index(pages) => {
                for page in pages {
                    self.write_page_json(&PageAt::Key(page.key), first, out)?;
                }
            }
        }
        Ok(())
    }

    fn collect(&self, at: &PageAt, out: &mut dyn FnMut(Option<String>, Value)) -> Result<(), Error> {
        match &*self.page_at(at)? {
            Page::Members(members) => {
                for (name, child) in members {
                    out(Some(name.clone()), self.value_of(child)?);
                }
            }
            Page::Elements(elements) => {
                for child in elements {
                    out(None, self.value_of(child)?);
                }
            }
            Page::Index(pages) => {
                for page in pages {
                    self.collect(&PageAt::Key(page.key.clone()), out)?;
                }
            }
        }
        Ok(())
    }

    /// The member `name` of an object node, if it has one.
    pub(super) fn member(&self, object: &NodeRef, name: &str) -> Result<Option<Child>, Error> {
        self.find(object, Lookup::Member(name))
    }

    /// Element `index` of an array node, if it has one.
    pub(super) fn element(&self, array: &NodeRef, index: usize) -> Result<Option<Child>, Error> {
        self.find(array, Lookup::Element(index))
    }

    /// Finds `lookup` in a collection node, from its top page down through index pages.
    fn find(&self, node: &NodeRef, mut lookup: Lookup<'_>) -> Result<Option<Child>, Error> {
        let mut at = node.top();
        loop {
            match self.step(&at, lookup)? {
                Step::Found(child) => return Ok(child),
                Step::Below { key, skipped } => {
                    if let Lookup::Element(index) = lookup {
                        lookup = Lookup::Element(index - skipped);
                    }
                    at = PageAt::Key(key);
                }
                Step::WrongKind => {
                    let (kind, other) = match lookup {
                        Lookup::Member(_) => ("object", "elements"),
                        Lookup::Element(_) => ("array", "members"),
                    };
                    let page = match &at {
                        PageAt::Key(key) => key.as_str(),
                        PageAt::Embedded(_) => "(embedded)",
                    };
                    return Err(Error::Corrupt(format!("{kind} page {page} holds {other}")));
                }
            }
        }
    }

    /// One step of [`Tree::find`] on one page: skipping what it does not need in a page only
    /// read, or in the decoded page.
    fn step(&self, at: &PageAt, lookup: Lookup<'_>) -> Result<Step, Error> {
        if let PageAt::Key(key) = at
            && self.reads_lazily(key)
        {
            return Ok(match self.look_up(key, lookup)? {
                OnPage::Child(child) => Step::Found(child),
                OnPage::Index(pages) => Step::below(&pages, lookup),
                OnPage::WrongKind => Step::WrongKind,
            });
        }
        Ok(match (&*self.page_at(at)?, lookup) {
            (Page::Members(members), Lookup::Member(name)) => Step::Found(
                members.binary_search_by(|(member, _)| member.as_str().cmp(name)).ok().map(|at| members[at].1.clone()),
            ),
            (Page::Elements(elements), Lookup::Element(index)) => Step::Found(elements.get(index).cloned()),
            (Page::Index(pages), _) => Step::below(pages, lookup),
            _ => Step::WrongKind,
        })
    }

    /// Applies `edit` to the collection `node` and returns the collection's new child.
    pub(super) fn edit(&self, node: &NodeRef, edit: Edit) -> Result<Child, Error> {
        let pages = self.edit_page(&node.top(), edit)?;
        self.top(node.kind, pages)
    }

    fn edit_page(&self, at: &PageAt, edit: Edit) -> Result<Vec<PageRef>, Error> {
        let page = self.page_at(at)?;
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
                match edit {
                    Edit::Replace(at, child) => elements[at] = child,
                    Edit::Insert(at, child) => elements.insert(at, child),
                    Edit::RemoveAt(at) => {
                        elements.remove(at);
                    }
                    _ => return Err(Error::Corrupt(format!("a member edit on array page {at:?}"))),
                }
                Page::Elements(elements)
            }
            (Page::Index(pages), edit) => {
                let (at, edit) = match edit {
                    Edit::Set(..) | Edit::Remove(_) => (index_for_name(pages, edit.name()), edit),
                    Edit::Replace(index, child) => shift(pages, index, false, |i| Edit::Replace(i, child))?,
                    Edit::Insert(index, child) => shift(pages, index, true, |i| Edit::Insert(i, child))?,
                    Edit::RemoveAt(index) => shift(pages, index, false, Edit::RemoveAt)?,
                };
                let replacement = self.store_pending(self.edit_page(&PageAt::Key(pages[at].key.clone()), edit)?)?;
                let mut pages = pages.clone();
                pages.splice(at..=at, replacement);
                Page::Index(pages)
            }
            _ => return Err(Error::Corrupt(format!("an edit on page {at:?} of the wrong kind"))),
        };
        self.pack(edited)
    }
}

/// Where [`Tree::find`] goes from one page.
enum Step {
    /// The page holds the place sought: this child, or none.
    Found(Option<Child>),
    /// The page below, under `key`, with `skipped` elements before it.
    Below { key: String, skipped: usize },
    /// The page holds the other kind of item.
    WrongKind,
}

impl Step {
    /// The step from an index page over `pages`.
    fn below(pages: &[PageRef], lookup: Lookup<'_>) -> Step {
        let (at, skipped) = match lookup {
            Lookup::Member(name) => (index_for_name(pages, name), 0),
            Lookup::Element(index) => match locate(pages, index, false) {
                Some(found) => found,
                None => return Step::Found(None),
            },
        };
        Step::Below { key: pages[at].key.clone(), skipped }
    }
}

/// Whether a page being filled is closed after its latest item.
pub(super) fn cut_after(filled: usize, items_on_page: usize, target: usize) -> bool {
    filled >= target && items_on_page >= 2
}

/// The index page entry whose range holds member `name`.
fn index_for_name(pages: &[PageRef], name: &str) -> usize {
    pages.iter().rposition(|page| page.first.as_deref().is_some_and(|first| first <= name)).unwrap_or(0)
}

/// The page holding element `index`, and the number of elements before it. With `append`, the
/// index may equal the length, which falls in the last page.
fn locate(pages: &[PageRef], index: usize, append: bool) -> Option<(usize, usize)> {
    let mut offset = 0usize;
    for (at, page) in pages.iter().enumerate() {
        let len = page.len as usize;
        if index < offset + len || (append && at + 1 == pages.len() && index == offset + len) {
            return Some((at, offset));
        }
        offset += len;
    }
    None
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

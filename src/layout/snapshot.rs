//! A read snapshot: the document as of one root record, and the records it reaches.
//!
//! Every read is a walk from the root down through stored collections, one lookup per level,
//! then either the JSON of an inline value or a stored node to stream out a page at a time.
//! A snapshot only read looks members up in page text without decoding pages; a transaction's
//! snapshot decodes the pages on its path, because it is about to edit them.

use super::records::Records;
use super::root::{self, ROOT_KEY};
use super::{Error, LayoutConfig, corrupt};
use crate::core::record::decode::RECORD_DEPTH_MAX;
use crate::core::record::decode::{self, Lookup, OnPage, RawChild, RawPage};
use crate::core::record::{Child, Kind, NodeRef, Page, PageAt, PageRef, TAG_SCALAR};
use crate::core::{Pointer, PointerBuf, Token, document};
use crate::store::Store;
use jsonptr::index::Index;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// The document as of one root record.
pub struct Snapshot<'s, S: Store> {
    /// The records, through their caches.
    pub(super) records: Records<'s, S>,
    /// The layout's sizes.
    pub(super) config: LayoutConfig,
    /// The generation of the root record read.
    pub(super) generation: u64,
    /// The document's root (`None`: no document).
    pub(super) root: Option<Child>,
    /// Whether lookups skip what they do not need in pages not decoded yet.
    skim: bool,
}

/// A collection passed on a walk, and the member taken in it.
pub(super) struct Passed {
    pub node: NodeRef,
    pub token: Token<'static>,
}

/// Where a walk stopped: the collections passed, and the child reached (`None`: no document).
pub(super) struct Walk {
    pub passed: Vec<Passed>,
    pub reached: Option<Child>,
}

impl Walk {
    /// How many tokens the walk followed.
    pub fn depth(&self) -> usize {
        self.passed.len()
    }

    /// The reached child, when it is a stored collection.
    pub fn collection(&self) -> Option<&NodeRef> {
        match &self.reached {
            Some(Child::Node(node)) if node.kind != Kind::Scalar => Some(node),
            _ => None,
        }
    }
}

impl<'s, S: Store> Snapshot<'s, S> {
    /// The document as the store holds it now.
    pub fn open(store: &'s S, config: LayoutConfig) -> Result<Self, Error> {
        let record = root::decode(store.get(ROOT_KEY)?.as_deref())?;
        Ok(Snapshot::of(store, config, record.generation, record.root, true))
    }

    /// The document under a root record already read.
    pub(super) fn of(store: &'s S, config: LayoutConfig, generation: u64, root: Option<Child>, skim: bool) -> Self {
        Snapshot { records: Records::new(store), config, generation, root, skim }
    }

    /// The store the snapshot reads.
    pub fn store(&self) -> &'s S {
        self.records.store()
    }

    /// The value at `pointer`, read whole.
    pub fn value(&self, pointer: &Pointer) -> Result<Option<Value>, Error> {
        let mut depth = 0;
        let Some(reached) = self.follow(pointer, pointer.count(), |_, _| depth += 1)? else { return Ok(None) };
        if depth == pointer.count() {
            return self.value_of(&reached).map(Some);
        }
        match &*reached {
            Child::Inline(value) => Ok(document::get(Some(value), &rest(pointer, depth)).cloned()),
            Child::Node(_) => Ok(None),
        }
    }

    /// The value a child stands for, read whole.
    pub(super) fn value_of(&self, child: &Child) -> Result<Value, Error> {
        self.value_below(child, 0)
    }

    /// [`Snapshot::value_of`] for a child `depth` nodes and index pages below the first.
    fn value_below(&self, child: &Child, depth: usize) -> Result<Value, Error> {
        match child {
            Child::Inline(value) => Ok(value.clone()),
            Child::Node(node) => match node.kind {
                Kind::Scalar => self.records.scalar(&node.key),
                Kind::Object => {
                    let mut map = Map::new();
                    self.collect(&node.top(), node.kind, depth, &mut |name, value| {
                        map.insert(name.unwrap_or_default(), value);
                    })?;
                    Ok(Value::Object(map))
                }
                Kind::Array => {
                    // The length is a record's word: reserved only up to what a page holds.
                    let mut items = Vec::with_capacity((node.len as usize).min(4096));
                    self.collect(&node.top(), node.kind, depth, &mut |_, value| items.push(value))?;
                    Ok(Value::Array(items))
                }
            },
        }
    }

    fn collect(
        &self,
        at: &PageAt,
        kind: Kind,
        depth: usize,
        out: &mut dyn FnMut(Option<String>, Value),
    ) -> Result<(), Error> {
        let depth = deeper(depth)?;
        match (&*self.records.page_at(at)?, kind) {
            (Page::Members(members), Kind::Object) => {
                for (name, child) in members {
                    out(Some(name.clone()), self.value_below(child, depth)?);
                }
            }
            (Page::Elements(elements), Kind::Array) => {
                for child in elements {
                    out(None, self.value_below(child, depth)?);
                }
            }
            (Page::Index(pages), _) => {
                for page in pages {
                    self.collect(&PageAt::Key(page.key.clone()), kind, depth, out)?;
                }
            }
            _ => return Err(wrong_kind(at, kind)),
        }
        Ok(())
    }

    /// Writes a child's JSON to `out` page by page, holding one page at a time, so a value of
    /// any size streams in bounded memory.
    pub fn write_json(&self, child: &Child, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        self.write_below(child, 0, out)
    }

    /// [`Snapshot::write_json`] for a child `depth` nodes and index pages below the first.
    fn write_below(&self, child: &Child, depth: usize, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        match child {
            Child::Inline(value) => serde_json::to_writer(&mut *out, value).map_err(std::io::Error::other),
            Child::Node(node) if node.kind == Kind::Scalar => {
                // Checked, since a record changed by something else would be sent as it is.
                let bytes = self.records.read(&node.key).map_err(std::io::Error::other)?;
                match bytes.split_first() {
                    Some((&TAG_SCALAR, json)) if decode::value(json).is_ok() => out.write_all(json),
                    _ => Err(std::io::Error::other(Error::Corrupt(format!("record {} is not a scalar", node.key)))),
                }
            }
            Child::Node(node) => {
                let (open, close) = if node.kind == Kind::Object { (b"{", b"}") } else { (b"[", b"]") };
                out.write_all(open)?;
                self.write_page_json(&node.top(), node.kind, depth, &mut true, out)?;
                out.write_all(close)
            }
        }
    }

    /// Writes the items of a page of a collection of `kind`, after an item if `first` is false.
    /// A stored page's inline values and member names are copied from the record as they are:
    /// records are compact JSON, written by the same serializer, so the bytes are the ones
    /// serializing would give.
    fn write_page_json(
        &self,
        at: &PageAt,
        kind: Kind,
        depth: usize,
        first: &mut bool,
        out: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        let depth = deeper(depth).map_err(std::io::Error::other)?;
        let mut separate = |out: &mut dyn std::io::Write| -> std::io::Result<()> {
            if !std::mem::take(first) {
                out.write_all(b",")?;
            }
            Ok(())
        };
        // An embedded page (at most `inline_bytes_max` long) is encoded again, so that every
        // page is written out from its record's text.
        let (bytes, key) = match at {
            PageAt::Key(key) => (self.records.page_bytes(key).map_err(std::io::Error::other)?, key.as_str()),
            PageAt::Embedded(page) => (page.encode(), "(embedded)"),
        };
        let page = decode::raw_page(&bytes[1..]).map_err(|error| std::io::Error::other(corrupt("page", key, error)))?;
        let write_child = |child: RawChild<'_>, out: &mut dyn std::io::Write| match child {
            RawChild::Inline(json) => out.write_all(json.get().as_bytes()),
            RawChild::Node(node) => self.write_below(&Child::Node(node), depth, out),
        };
        match (page, kind) {
            (RawPage::Members(members), Kind::Object) => {
                for (name, child) in members {
                    if !name.get().starts_with('"') {
                        return Err(std::io::Error::other(corrupt("page", key, "a member name is not a string")));
                    }
                    separate(out)?;
                    out.write_all(name.get().as_bytes())?;
                    out.write_all(b":")?;
                    write_child(child, out)?;
                }
            }
            (RawPage::Elements(elements), Kind::Array) => {
                for child in elements {
                    separate(out)?;
                    write_child(child, out)?;
                }
            }
            (RawPage::Index(pages), _) => {
                for page in pages {
                    self.write_page_json(&PageAt::Key(page.key), kind, depth, first, out)?;
                }
            }
            _ => return Err(std::io::Error::other(wrong_kind(at, kind))),
        }
        Ok(())
    }

    /// Walks from the root along at most `limit` tokens of `pointer`, through stored
    /// collections whose members exist.
    pub(super) fn walk(&self, pointer: &Pointer, limit: usize) -> Result<Walk, Error> {
        let mut passed = Vec::new();
        let reached = self.follow(pointer, limit, |node, token| passed.push(Passed { node: node.clone(), token }))?;
        Ok(Walk { passed, reached: reached.map(Cow::into_owned) })
    }

    /// Follows `pointer` down from the root through stored collections, at most `limit` steps,
    /// telling `pass` each collection passed and the token taken in it; returns the child
    /// reached. The root is borrowed rather than copied: reads of a small document follow it
    /// all in memory.
    pub(super) fn follow(
        &self,
        pointer: &Pointer,
        limit: usize,
        mut pass: impl FnMut(&NodeRef, Token<'static>),
    ) -> Result<Option<Cow<'_, Child>>, Error> {
        let mut reached = self.root.as_ref().map(Cow::Borrowed);
        for token in pointer.tokens().take(limit) {
            let node = match reached.as_deref() {
                Some(Child::Node(node)) if node.kind != Kind::Scalar => node,
                _ => break,
            };
            let child = match node.kind {
                Kind::Object => self.member(node, &token.decoded())?,
                _ => match token.to_index() {
                    Ok(Index::Num(index)) => self.element(node, index)?,
                    _ => None,
                },
            };
            let Some(child) = child else { break };
            pass(node, token.into_owned());
            reached = Some(Cow::Owned(child));
        }
        Ok(reached)
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
        let mut depth = 0;
        loop {
            depth = deeper(depth)?;
            match self.look(&at, lookup)? {
                Next::Found(child) => return Ok(child),
                Next::Below { key, skipped } => {
                    if let Lookup::Element(index) = lookup {
                        lookup = Lookup::Element(index - skipped);
                    }
                    at = PageAt::Key(key);
                }
                Next::WrongKind => {
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

    /// Looks `lookup` up on one page: in its text, when skimming a page not decoded yet, or in
    /// the decoded page.
    fn look(&self, at: &PageAt, lookup: Lookup<'_>) -> Result<Next, Error> {
        if let PageAt::Key(key) = at
            && self.skim
            && !self.records.decoded(key)
        {
            return Ok(match self.records.look_up(key, lookup)? {
                OnPage::Child(child) => Next::Found(child),
                OnPage::Index(pages) => Next::below(&pages, lookup),
                OnPage::WrongKind => Next::WrongKind,
            });
        }
        Ok(match (&*self.records.page_at(at)?, lookup) {
            (Page::Members(members), Lookup::Member(name)) => Next::Found(
                members.binary_search_by(|(member, _)| member.as_str().cmp(name)).ok().map(|at| members[at].1.clone()),
            ),
            (Page::Elements(elements), Lookup::Element(index)) => Next::Found(elements.get(index).cloned()),
            (Page::Index(pages), _) => Next::below(pages, lookup),
            _ => Next::WrongKind,
        })
    }
}

/// Where [`Snapshot::find`] goes from one page.
enum Next {
    /// The page holds the place sought: this child, or none.
    Found(Option<Child>),
    /// The page below, under `key`, with `skipped` elements before it.
    Below { key: String, skipped: usize },
    /// The page holds the other kind of item.
    WrongKind,
}

impl Next {
    /// The way on from an index page over `pages`.
    fn below(pages: &[PageRef], lookup: Lookup<'_>) -> Next {
        if pages.is_empty() {
            // Only in a store changed by something else: JSONStore writes no empty index.
            return Next::Found(None);
        }
        let (at, skipped) = match lookup {
            Lookup::Member(name) => (index_for_name(pages, name), 0),
            Lookup::Element(index) => match locate(pages, index, false) {
                Some(found) => found,
                None => return Next::Found(None),
            },
        };
        Next::Below { key: pages[at].key.clone(), skipped }
    }
}

/// The index page entry whose range holds member `name`.
pub(super) fn index_for_name(pages: &[PageRef], name: &str) -> usize {
    pages.iter().rposition(|page| page.first.as_deref().is_some_and(|first| first <= name)).unwrap_or(0)
}

/// The page holding element `index`, and the number of elements before it. With `append`, the
/// index may equal the length, which falls in the last page.
pub(super) fn locate(pages: &[PageRef], index: usize, append: bool) -> Option<(usize, usize)> {
    let mut offset = 0usize;
    for (at, page) in pages.iter().enumerate() {
        // Saturating: the lengths are records' words, and a corrupt sum must not overflow.
        let end = offset.saturating_add(usize::try_from(page.len).unwrap_or(usize::MAX));
        if index < end || (append && at + 1 == pages.len() && index == end) {
            return Some((at, offset));
        }
        offset = end;
    }
    None
}

/// The first `depth` tokens of `pointer`.
pub(super) fn prefix(pointer: &Pointer, depth: usize) -> PointerBuf {
    PointerBuf::from_tokens(pointer.tokens().take(depth))
}

/// `pointer` without its first `depth` tokens.
pub(super) fn rest(pointer: &Pointer, depth: usize) -> PointerBuf {
    PointerBuf::from_tokens(pointer.tokens().skip(depth))
}

/// How many nodes and index pages deep a read may go below the first: deeper than any tree
/// JSONStore writes (the document nests at most 128 deep, and a collection's index is a few
/// pages deep), so that a page tree changed by something else, or one with a page that names
/// itself, is an error rather than a stack overflow or a loop.
pub(super) const TREE_DEPTH_MAX: usize = RECORD_DEPTH_MAX + 32;

/// `depth` one level down, unless that is deeper than [`TREE_DEPTH_MAX`].
pub(super) fn deeper(depth: usize) -> Result<usize, Error> {
    match depth < TREE_DEPTH_MAX {
        true => Ok(depth + 1),
        false => Err(Error::Corrupt(format!(
            "the page tree is more than {TREE_DEPTH_MAX} pages deep, or a page names itself"
        ))),
    }
}

/// The error for a page whose items are not of its collection's kind.
fn wrong_kind(at: &PageAt, kind: Kind) -> Error {
    let page = match at {
        PageAt::Key(key) => key.as_str(),
        PageAt::Embedded(_) => "(embedded)",
    };
    let (holds, other) = if kind == Kind::Object { ("an object", "elements") } else { ("an array", "members") };
    Error::Corrupt(format!("page {page} of {holds} holds {other}"))
}

//! The records of the storage layout as bytes: children, pages, the root record, and how they
//! are encoded, decoded and hashed. Pure: reading and writing them is `crate::layout`'s.
//!
//! Records are JSON behind a one-byte tag, so a store can be inspected with ordinary tools.
//! A page's hash covers its content and its children's hashes but not their keys, so it is a
//! Merkle hash of the content: equal pages built the same way have equal hashes.
//!
//! Records are written by hand here and decoded with `serde` visitors in `decode`, straight
//! from their JSON: only inline values become `serde_json::Value`s.

pub mod decode;
pub mod root;

pub use root::{Lease, RootRecord};

use serde_json::Value;
use std::rc::Rc;

/// The first byte of a page record.
pub const TAG_PAGE: u8 = b'P';
/// The first byte of a big-scalar record.
pub const TAG_SCALAR: u8 = b'S';
/// The first byte of a record split into parts because it is larger than a chunk.
pub const TAG_PARTS: u8 = b'M';

/// A content hash: the first 16 bytes of BLAKE3, in lower-case hex.
pub type Hash = String;

/// The hash of `bytes`.
pub fn hash(bytes: &[u8]) -> Hash {
    crate::core::hash::hex(bytes)
}

/// What a stored node holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// An object, as a tree of pages.
    Object,
    /// An array, as a tree of pages.
    Array,
    /// One big string or number.
    Scalar,
}

/// A reference to a stored node: its key, its content hash and how many members it has.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRef {
    /// The key of the node's record (for a collection, its top page); empty when the top page
    /// is embedded.
    pub key: String,
    /// A collection's top page, when it is small enough to be embedded in the reference rather
    /// than stored under a key of its own.
    pub page: Option<Rc<Page>>,
    /// The content hash.
    pub hash: Hash,
    /// What the node holds.
    pub kind: Kind,
    /// The number of members (0 for a scalar).
    pub len: u64,
}

/// A value in its parent: inline when small, else a reference to its own node.
#[derive(Debug, Clone, PartialEq)]
pub enum Child {
    /// The value itself.
    Inline(Value),
    /// The value's node.
    Node(NodeRef),
}

/// A reference from an index page to a page below it; decoded as the record has it.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct PageRef {
    /// The page's key.
    pub key: String,
    /// The page's content hash (never an ETag, so not checked when decoded: only node hashes
    /// are, see `decode::hash`).
    pub hash: Hash,
    /// The number of collection members under the page.
    pub len: u64,
    /// For objects, the first member name under the page.
    #[serde(default)]
    pub first: Option<String>,
    /// Whether other records hang below the page (it is an index page, or has a child node),
    /// so that collecting garbage need not read pages that have none.
    #[serde(default)]
    pub below: bool,
    /// A small page not stored yet (its key is empty): it may become a node's embedded top
    /// page; anything else stores it first. Never encoded.
    #[serde(skip)]
    pub pending: Option<Rc<Page>>,
}

/// Where a collection's page is: embedded in its reference, or stored under a key.
#[derive(Debug, Clone)]
pub enum PageAt {
    /// In the reference.
    Embedded(Rc<Page>),
    /// Under this key.
    Key(String),
}

impl NodeRef {
    /// Where the node's top page is.
    pub fn top(&self) -> PageAt {
        match &self.page {
            Some(page) => PageAt::Embedded(Rc::clone(page)),
            None => PageAt::Key(self.key.clone()),
        }
    }
}

/// One page of a collection's tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Page {
    /// Object members, sorted by name.
    Members(Vec<(String, Child)>),
    /// Array elements.
    Elements(Vec<Child>),
    /// Pages of the level below, in order.
    Index(Vec<PageRef>),
}

impl Page {
    /// The number of items on this page (not members under it).
    pub fn items(&self) -> usize {
        match self {
            Page::Members(members) => members.len(),
            Page::Elements(elements) => elements.len(),
            Page::Index(pages) => pages.len(),
        }
    }

    /// The number of collection members under this page.
    pub fn len(&self) -> u64 {
        match self {
            Page::Members(members) => members.len() as u64,
            Page::Elements(elements) => elements.len() as u64,
            Page::Index(pages) => pages.iter().map(|page| page.len).sum(),
        }
    }

    /// Whether the page has no items.
    pub fn is_empty(&self) -> bool {
        self.items() == 0
    }

    /// Whether other records hang below this page.
    pub fn below(&self) -> bool {
        let node = |child: &Child| matches!(child, Child::Node(_));
        match self {
            Page::Members(members) => members.iter().any(|(_, child)| node(child)),
            Page::Elements(elements) => elements.iter().any(node),
            Page::Index(_) => true,
        }
    }

    /// The first member name under this page, for object pages.
    pub fn first(&self) -> Option<String> {
        match self {
            Page::Members(members) => members.first().map(|(name, _)| name.clone()),
            Page::Index(pages) => pages.first().and_then(|page| page.first.clone()),
            Page::Elements(_) => None,
        }
    }

    /// The record bytes: the tag and the page as JSON.
    pub fn encode(&self) -> Vec<u8> {
        self.encode_with(true)
    }

    /// The content hash: of the page's JSON with every key left empty, so it depends only on
    /// content.
    pub fn hash(&self) -> Hash {
        hash(&self.encode_with(false))
    }

    pub(super) fn encode_with(&self, keys: bool) -> Vec<u8> {
        let mut out = vec![TAG_PAGE];
        let (name, count) = match self {
            Page::Members(members) => ("members", members.len()),
            Page::Elements(elements) => ("elements", elements.len()),
            Page::Index(pages) => ("index", pages.len()),
        };
        out.extend_from_slice(format!("{{\"{name}\":[").as_bytes());
        for at in 0..count {
            if at > 0 {
                out.push(b',');
            }
            match self {
                Page::Members(members) => {
                    out.push(b'[');
                    write_json(&mut out, &members[at].0);
                    out.push(b',');
                    members[at].1.write(&mut out, keys);
                    out.push(b']');
                }
                Page::Elements(elements) => elements[at].write(&mut out, keys),
                Page::Index(pages) => pages[at].write(&mut out, keys),
            }
        }
        out.extend_from_slice(b"]}");
        out
    }

    /// Decodes a page's JSON (without the tag).
    pub fn decode(json: &[u8]) -> Result<Page, String> {
        decode::page(json)
    }
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Object => "object",
            Kind::Array => "array",
            Kind::Scalar => "scalar",
        }
    }
}

impl Child {
    /// Writes `{"v":VALUE}` or `{"n":NODEREF}`, with the node's key only if `keys`.
    pub fn write(&self, out: &mut Vec<u8>, keys: bool) {
        match self {
            Child::Inline(value) => {
                out.extend_from_slice(b"{\"v\":");
                serde_json::to_writer(&mut *out, value).expect("a Value always serializes");
                out.push(b'}');
            }
            Child::Node(node) => {
                match &node.page {
                    Some(page) => {
                        out.extend_from_slice(b"{\"n\":{\"page\":");
                        out.extend_from_slice(&page.encode_with(keys)[1..]);
                    }
                    None => {
                        out.extend_from_slice(b"{\"n\":{\"key\":");
                        write_json(out, if keys { &node.key } else { "" });
                    }
                }
                out.extend_from_slice(b",\"hash\":");
                write_json(out, &node.hash);
                let tail = format!(",\"kind\":\"{}\",\"len\":{}}}}}", node.kind.name(), node.len);
                out.extend_from_slice(tail.as_bytes());
            }
        }
    }
}

impl PageRef {
    fn write(&self, out: &mut Vec<u8>, keys: bool) {
        out.extend_from_slice(b"{\"key\":");
        write_json(out, if keys { &self.key } else { "" });
        out.extend_from_slice(b",\"hash\":");
        write_json(out, &self.hash);
        out.extend_from_slice(format!(",\"len\":{}", self.len).as_bytes());
        if let Some(first) = &self.first {
            out.extend_from_slice(b",\"first\":");
            write_json(out, first);
        }
        if self.below {
            out.extend_from_slice(b",\"below\":true");
        }
        out.push(b'}');
    }
}

fn write_json(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(&mut *out, text).expect("a string always serializes");
}

/// The encoded size of one page item, for packing pages.
pub fn member_bytes(name: &str, child: &Child) -> usize {
    name.len() + child_bytes(child) + 6
}

/// What an inline child's record adds to its value's JSON: `{"v":` and `}`, and a separator.
pub const INLINE_OVERHEAD: usize = 7;

/// The encoded size of a child, for packing pages.
pub fn child_bytes(child: &Child) -> usize {
    match child {
        Child::Inline(value) => json_len(value) + INLINE_OVERHEAD,
        Child::Node(NodeRef { page: Some(page), .. }) => page.encode().len() + 90,
        Child::Node(node) => node.key.len() + 90,
    }
}

/// The encoded size of a page reference, for packing pages.
pub fn page_ref_bytes(page: &PageRef) -> usize {
    page.key.len() + page.first.as_ref().map_or(0, |first| first.len() + 10) + 80
}

/// The length of `text` as a JSON string.
pub fn str_json_len(text: &str) -> usize {
    serde_json::to_string(text).map_or(0, |json| json.len())
}

/// Whether `value`'s compact JSON is at most `max` bytes long; stops counting past `max`.
pub fn json_fits(value: &Value, max: usize) -> bool {
    serde_json::to_writer(&mut Counter { len: 0, max }, value).is_ok()
}

/// The length of `value`'s compact JSON, without allocating it.
pub fn json_len(value: &Value) -> usize {
    let mut counter = Counter { len: 0, max: usize::MAX };
    serde_json::to_writer(&mut counter, value).expect("a Value always serializes");
    counter.len
}

/// A writer that counts the bytes written to it, and fails once they pass `max`.
struct Counter {
    len: usize,
    max: usize,
}

impl std::io::Write for Counter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.len += bytes.len();
        if self.len > self.max {
            return Err(std::io::Error::other("longer than the limit"));
        }
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hashes_ignore_keys() {
        let node = |key: &str| {
            Child::Node(NodeRef { key: key.into(), page: None, hash: hash(b"x"), kind: Kind::Array, len: 2 })
        };
        let a = Page::Members(vec![("a".into(), node("k1")), ("b".into(), Child::Inline(json!(1)))]);
        let b = Page::Members(vec![("a".into(), node("k2")), ("b".into(), Child::Inline(json!(1)))]);
        assert_eq!(a.hash(), b.hash());
        assert_ne!(a.encode(), b.encode());
        let c = Page::Members(vec![("a".into(), node("k1")), ("b".into(), Child::Inline(json!(2)))]);
        assert_ne!(a.hash(), c.hash());
    }

    #[test]
    fn pages_round_trip() {
        let page = Page::Index(vec![PageRef {
            key: "k".into(),
            hash: hash(b""),
            len: 3,
            first: Some("a".into()),
            below: true,
            pending: None,
        }]);
        let bytes = page.encode();
        assert_eq!(bytes[0], TAG_PAGE);
        assert_eq!(Page::decode(&bytes[1..]).unwrap(), page);
        let node = Child::Node(NodeRef { key: "k".into(), page: None, hash: hash(b"x"), kind: Kind::Scalar, len: 0 });
        let members = Page::Members(vec![("a\"b".into(), node), ("c".into(), Child::Inline(json!({"v": [1]})))]);
        assert_eq!(Page::decode(&members.encode()[1..]).unwrap(), members);
        let expected =
            r#"P{"members":[["a\"b",{"n":{"key":"k","hash":"H","kind":"scalar","len":0}}],["c",{"v":{"v":[1]}}]]}"#;
        assert_eq!(String::from_utf8(members.encode()).unwrap(), expected.replace('H', &hash(b"x")));
        assert_eq!(json_len(&json!({"a": [1, "x"]})), r#"{"a":[1,"x"]}"#.len());
        // A node whose top page is embedded.
        let top = Rc::new(Page::Members(vec![("x".into(), node_ref("k2"))]));
        let embedded = NodeRef { key: String::new(), page: Some(top), hash: hash(b"y"), kind: Kind::Object, len: 1 };
        let outer = Page::Elements(vec![Child::Node(embedded)]);
        assert_eq!(Page::decode(&outer.encode()[1..]).unwrap(), outer);
        assert!(!String::from_utf8(outer.encode_with(false)).unwrap().contains("k2"), "keys stay out of hashes");
    }

    fn node_ref(key: &str) -> Child {
        Child::Node(NodeRef { key: key.into(), page: None, hash: hash(b"x"), kind: Kind::Array, len: 2 })
    }
}

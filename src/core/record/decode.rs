//! Decoding records straight from their JSON with `serde`, and finding one child of a page
//! without decoding the others.
//!
//! A page is first read as a [`RawPage`], its inline values and member names left as the JSON
//! text they are in the record: streaming a page out copies that text, and decoding it parses
//! only those values into `Value`s. A read looks up one member or element; [`look_up`] skips
//! the rest of the page without building anything, which costs a tenth of decoding it.
//!
//! Records whose decoding only mirrors their shape use `serde`'s derive (node and page
//! references, the root record); the seeds of [`look_up`] are written by hand because they
//! skip, unparsed, whatever the lookup does not need.

use super::root::RootRecord;
use super::{Child, Kind, NodeRef, Page, PageRef};
use crate::core::json::{DEPTH_MAX_LIMIT, NameIs, nesting, unbounded};
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::de::SliceRead;
use serde_json::value::RawValue;
use std::fmt;
use std::rc::Rc;

/// What to find on a page.
#[derive(Debug, Clone, Copy)]
pub enum Lookup<'a> {
    /// The element at this index of an elements page.
    Element(usize),
    /// The member with this name on a members page.
    Member(&'a str),
}

/// What [`look_up`] found on a page.
#[derive(Debug)]
pub enum OnPage {
    /// The child, if the page has it.
    Child(Option<Child>),
    /// The page is an index page: the pages below it.
    Index(Vec<PageRef>),
    /// The page holds the other kind of item.
    WrongKind,
}

/// Looks `lookup` up on the page whose JSON (without its tag) is `json`.
pub fn look_up(json: &[u8], lookup: Lookup<'_>) -> Result<OnPage, String> {
    record(json, |deserializer| PageSeed(lookup).deserialize(deserializer))
}

/// Decodes a page's JSON (without its tag), keeping inline values and member names as the
/// JSON text they are in the record.
pub fn raw_page(json: &[u8]) -> Result<RawPage<'_>, String> {
    record(json, |deserializer| RawPage::deserialize(deserializer))
}

/// A page whose inline values and member names are left as JSON text, for copying out.
/// In the record, an object with one of these members: `{"members": [...]}`.
#[derive(Debug, serde::Deserialize)]
pub enum RawPage<'a> {
    /// Members: each name (a JSON string) and child.
    #[serde(rename = "members", borrow)]
    Members(Vec<(&'a RawValue, RawChild<'a>)>),
    /// Elements.
    #[serde(rename = "elements", borrow)]
    Elements(Vec<RawChild<'a>>),
    /// The pages below.
    #[serde(rename = "index")]
    Index(Vec<PageRef>),
}

/// A child whose inline value is left as JSON text: `{"v": value}` or `{"n": node}`.
#[derive(Debug, serde::Deserialize)]
pub enum RawChild<'a> {
    /// The value's JSON.
    #[serde(rename = "v", borrow)]
    Inline(&'a RawValue),
    /// A node of its own.
    #[serde(rename = "n")]
    Node(NodeRef),
}

/// Decodes a page's JSON (without its tag).
pub fn page(json: &[u8]) -> Result<Page, String> {
    record(json, |deserializer| Page::deserialize(deserializer))
}

/// Parses the JSON of a record (without its tag) as a `Value`.
pub fn value(json: &[u8]) -> Result<Value, String> {
    record(json, |deserializer| Value::deserialize(deserializer))
}

/// Decodes the root record's JSON (without its tag), its root as an `R`: a [`Child`], or a
/// [`RawChild`] to leave an inline document as JSON text.
pub fn root_record<'a, R: Deserialize<'a>>(json: &'a [u8]) -> Result<RootRecord<R>, String> {
    record(json, |deserializer| RootRecord::deserialize(deserializer))
}

/// The deepest nesting a record can have: the document's deepest, plus the record's own
/// wrapping of a value (a member on a page, `{"members":[["name",{"v":...}]]}`, adds four).
pub const RECORD_DEPTH_MAX: usize = DEPTH_MAX_LIMIT + 4;

/// Parses a record's JSON with `parse`. `serde_json` stops at 128 levels, and a record may
/// wrap a value nested 128 deep in four levels of its own: a record that fails to parse is
/// scanned, and parsed again without the limit only if the scan shows it nests past 127 levels
/// and no deeper than [`RECORD_DEPTH_MAX`]. So the scan costs nothing on the records a read
/// meets every time, and a record the layout never wrote (a store changed by something else)
/// is an error, never a stack overflow.
fn record<'a, T>(
    json: &'a [u8],
    parse: impl Fn(&mut serde_json::Deserializer<SliceRead<'a>>) -> serde_json::Result<T>,
) -> Result<T, String> {
    let parse_all = |deserializer: &mut serde_json::Deserializer<SliceRead<'a>>| -> serde_json::Result<T> {
        let value = parse(deserializer)?;
        deserializer.end()?;
        Ok(value)
    };
    let error = match parse_all(&mut serde_json::Deserializer::from_slice(json)) {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    match nesting(json) {
        depth if depth < SERDE_DEPTH_MAX => Err(error.to_string()),
        depth if depth > RECORD_DEPTH_MAX => Err(format!("the record nests {depth} deep, past {RECORD_DEPTH_MAX}")),
        _ => parse_all(&mut unbounded(json)).map_err(|error| error.to_string()),
    }
}

/// How deep `serde_json` parses before its recursion limit stops it.
const SERDE_DEPTH_MAX: usize = 128;

/// The names of a page's list, as [`PageSeed`] reads them; any other name is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Field {
    Members,
    Elements,
    Index,
    #[serde(other)]
    Other,
}

/// A page is read as a `RawPage`, then its member names and inline values are parsed.
impl<'de> Deserialize<'de> for Page {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match RawPage::deserialize(deserializer)? {
            RawPage::Members(members) => Page::Members(
                members
                    .into_iter()
                    .map(|(name, child)| Ok((parse(name)?, child.parsed()?)))
                    .collect::<Result<_, D::Error>>()?,
            ),
            RawPage::Elements(elements) => {
                Page::Elements(elements.into_iter().map(RawChild::parsed).collect::<Result<_, D::Error>>()?)
            }
            RawPage::Index(pages) => Page::Index(pages),
        })
    }
}

/// A child is read as a `RawChild`, then its inline value is parsed.
impl<'de> Deserialize<'de> for Child {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        RawChild::deserialize(deserializer)?.parsed()
    }
}

impl RawChild<'_> {
    /// The child, its inline value parsed.
    fn parsed<E: de::Error>(self) -> Result<Child, E> {
        Ok(match self {
            RawChild::Inline(json) => Child::Inline(parse(json)?),
            RawChild::Node(node) => Child::Node(node),
        })
    }
}

/// Parses JSON text taken from a record, as [`record`] parses a record: the text was captured
/// without being parsed, so its nesting is bounded here.
fn parse<T: serde::de::DeserializeOwned, E: de::Error>(json: &RawValue) -> Result<T, E> {
    record(json.get().as_bytes(), |deserializer| T::deserialize(deserializer)).map_err(E::custom)
}

/// A node reference as its record has it: a key, or the node's top page embedded. The
/// derived decoding mirrors the record; [`NodeRef`] checks that it has one or the other.
#[derive(serde::Deserialize)]
struct NodeRecord {
    key: Option<String>,
    page: Option<Page>,
    #[serde(deserialize_with = "hash")]
    hash: String,
    kind: Kind,
    len: u64,
}

impl<'de> Deserialize<'de> for NodeRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let NodeRecord { key, page, hash, kind, len } = NodeRecord::deserialize(deserializer)?;
        if key.is_some() == page.is_some() {
            return Err(de::Error::custom("a node reference has a key or an embedded page"));
        }
        Ok(NodeRef { key: key.unwrap_or_default(), page: page.map(Rc::new), hash, kind, len })
    }
}

/// A content hash: 32 lower-case hex digits, so that it is safe in an ETag header.
pub(super) fn hash<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let hash = String::deserialize(deserializer)?;
    match hash.len() == 32 && hash.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f')) {
        true => Ok(hash),
        false => Err(de::Error::custom("a hash is not 32 lower-case hex digits")),
    }
}

/// Fails if the map has another entry.
fn only_one<'de, A: MapAccess<'de>>(map: &mut A, message: &'static str) -> Result<(), A::Error> {
    match map.next_key::<IgnoredAny>()? {
        Some(_) => Err(de::Error::custom(message)),
        None => Ok(()),
    }
}

/// Finds one child of a page, skipping the others.
struct PageSeed<'a>(Lookup<'a>);

impl<'de> DeserializeSeed<'de> for PageSeed<'_> {
    type Value = OnPage;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<OnPage, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PageSeed<'_> {
    type Value = OnPage;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a page")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OnPage, A::Error> {
        let found = match (map.next_key::<Field>()?, self.0) {
            (Some(Field::Index), _) => OnPage::Index(map.next_value()?),
            (Some(Field::Elements), Lookup::Element(_)) => OnPage::Child(map.next_value_seed(ListSeed(self.0))?),
            (Some(Field::Members), Lookup::Member(_)) => OnPage::Child(map.next_value_seed(ListSeed(self.0))?),
            (Some(Field::Elements | Field::Members), _) => {
                map.next_value::<IgnoredAny>()?;
                OnPage::WrongKind
            }
            _ => return Err(de::Error::custom("a page holds one list of members, elements or pages")),
        };
        only_one(&mut map, "a page holds one list")?;
        Ok(found)
    }
}

/// Finds one item of a page's list, skipping the others.
struct ListSeed<'a>(Lookup<'a>);

impl<'de> DeserializeSeed<'de> for ListSeed<'_> {
    type Value = Option<Child>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<Child>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_> {
    type Value = Option<Child>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of members or elements")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Child>, A::Error> {
        let mut found = None;
        let mut at = 0;
        loop {
            let more = match self.0 {
                Lookup::Element(index) if at == index => seq.next_element::<Child>()?.map(|child| found = Some(child)),
                Lookup::Element(_) => seq.next_element::<IgnoredAny>()?.map(drop),
                Lookup::Member(name) if found.is_none() => {
                    seq.next_element_seed(MemberSeed(name))?.map(|child| found = child)
                }
                Lookup::Member(_) => seq.next_element::<IgnoredAny>()?.map(drop),
            };
            if more.is_none() {
                return Ok(found);
            }
            at += 1;
        }
    }
}

/// One member, `[name, child]`: the child if the name is the one sought.
struct MemberSeed<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for MemberSeed<'_> {
    type Value = Option<Child>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<Child>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for MemberSeed<'_> {
    type Value = Option<Child>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member: [name, child]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Child>, A::Error> {
        let matches = seq.next_element_seed(NameIs(self.0))?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let child = if matches {
            Some(seq.next_element::<Child>()?.ok_or_else(|| de::Error::invalid_length(1, &self))?)
        } else {
            seq.next_element::<IgnoredAny>()?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
            None
        };
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(3, &self));
        }
        Ok(child)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::record::hash;
    use serde_json::json;

    fn pages() -> Vec<Page> {
        let node = Child::Node(NodeRef { key: "k1".into(), page: None, hash: hash(b"x"), kind: Kind::Array, len: 2 });
        let reference = |key: &str, first: Option<&str>| PageRef {
            key: key.into(),
            hash: hash(key.as_bytes()),
            len: 3,
            first: first.map(Into::into),
            below: first.is_some(),
            pending: None,
        };
        vec![
            Page::Members(vec![
                ("a".into(), Child::Inline(json!(1))),
                ("b\"\\é".into(), node.clone()),
                ("c".into(), Child::Inline(json!({"x": [1, "two", null]}))),
            ]),
            Page::Elements(vec![Child::Inline(json!("zero")), node, Child::Inline(json!(2.5))]),
            Page::Index(vec![reference("p1", Some("a")), reference("p2", None)]),
        ]
    }

    #[test]
    fn pages_decode_to_what_was_encoded() {
        for page in pages() {
            let bytes = page.encode();
            assert_eq!(super::page(&bytes[1..]), Ok(page));
        }
    }

    #[test]
    fn look_up_finds_what_decoding_finds() {
        for page in pages() {
            let bytes = page.encode();
            match &page {
                Page::Members(members) => {
                    for name in ["a", "b\"\\é", "c", "", "d"] {
                        let expected =
                            members.iter().find(|(member, _)| member == name).map(|(_, child)| child.clone());
                        let Ok(OnPage::Child(found)) = look_up(&bytes[1..], Lookup::Member(name)) else { panic!() };
                        assert_eq!(found, expected, "{name}");
                    }
                    assert!(matches!(look_up(&bytes[1..], Lookup::Element(0)), Ok(OnPage::WrongKind)));
                }
                Page::Elements(elements) => {
                    for index in 0..5 {
                        let Ok(OnPage::Child(found)) = look_up(&bytes[1..], Lookup::Element(index)) else { panic!() };
                        assert_eq!(found.as_ref(), elements.get(index));
                    }
                    assert!(matches!(look_up(&bytes[1..], Lookup::Member("a")), Ok(OnPage::WrongKind)));
                }
                Page::Index(pages) => {
                    let Ok(OnPage::Index(found)) = look_up(&bytes[1..], Lookup::Element(0)) else { panic!() };
                    assert_eq!(&found, pages);
                }
            }
        }
    }

    #[test]
    fn malformed_pages_are_errors() {
        for bad in
            [&b"{}"[..], b"[]", b"{\"members\":[[\"a\"]]}", b"{\"elements\":[{\"v\":1,\"n\":2}]}", b"{\"index\":[{}]}"]
        {
            assert!(super::page(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(look_up(b"{\"elements\":[{\"v\":1}]} x", Lookup::Element(0)).is_err());
        assert!(look_up(b"{\"members\":[[\"a\",{\"v\":1},3]]}", Lookup::Member("a")).is_err());
    }
}

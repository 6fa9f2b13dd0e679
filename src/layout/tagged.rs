//! Values read for responses, with their strong ETags.
//!
//! A value's tag is its content hash: a node's hash, or for a value held inline, the hash of
//! its JSON. One decision shapes this module: a value's tag must not change when a write
//! elsewhere changes how the value is stored. A document that fits the root record holds
//! collections inline that would be nodes of their own once the document is stored in pages;
//! such a collection (longer than [`LayoutConfig::inline_bytes_max`]) is tagged with the hash
//! of the node it would be, built in memory, so its tag is the same in either form.

use super::root::{self, ROOT_KEY};
use super::snapshot::{Snapshot, rest};
use super::txn::Txn;
use super::{Error, LayoutConfig};
use crate::core::record::Child;
use crate::core::record::decode::{self, RawChild};
use crate::core::{Pointer, document, etag, json};
use crate::store::{MemoryStore, Store};
use serde_json::Value;

/// A value read for a response: the JSON of a value held inline, or a node of its own, to
/// stream with [`Snapshot::write_json`].
#[derive(Debug)]
pub enum Reading {
    /// The value's JSON.
    Json(Vec<u8>),
    /// The value's node.
    Node(Child),
}

/// What [`Snapshot::read_now`] found: the value, its strong ETag, and the snapshot to stream
/// it from.
pub struct Read<'s, S: Store> {
    /// The snapshot the value was read in.
    pub snapshot: Snapshot<'s, S>,
    /// The value.
    pub reading: Reading,
    /// Its strong ETag.
    pub tag: String,
}

impl<'s, S: Store> Snapshot<'s, S> {
    /// What is at `pointer` in the document as the store holds it now, with its strong ETag.
    /// A document small enough to be inline in the root record is not parsed: the value is
    /// found in the record's JSON text, skipping the rest.
    pub fn read_now(store: &'s S, config: LayoutConfig, pointer: &Pointer) -> Result<Option<Read<'s, S>>, Error> {
        let bytes = store.get(ROOT_KEY)?;
        let Some(text) = root::json(bytes.as_deref())? else { return Ok(None) };
        let record = decode::root_record::<RawChild<'_>>(text).map_err(root::invalid)?;
        let root = match record.root {
            None => return Ok(None),
            Some(RawChild::Inline(document)) => {
                let Some(found) = json::find(document, pointer).map_err(root::invalid)? else { return Ok(None) };
                let json = found.get().as_bytes().to_vec();
                let tag = if pointer.is_root() || !may_be_a_node(config, &json) {
                    etag::of(&json)
                } else {
                    let value = decode::value(&json).map_err(root::invalid)?;
                    inline_tag(config, &value, &json)
                };
                let snapshot = Snapshot::of(store, config, record.generation, None, true);
                return Ok(Some(Read { snapshot, reading: Reading::Json(json), tag }));
            }
            Some(RawChild::Node(node)) => Child::Node(node),
        };
        let snapshot = Snapshot::of(store, config, record.generation, Some(root), true);
        Ok(snapshot.read(pointer)?.map(|(reading, tag)| Read { snapshot, reading, tag }))
    }

    /// The value at `pointer`, for a response, and its strong ETag (see [`Snapshot::tag`]), in
    /// one walk.
    pub fn read(&self, pointer: &Pointer) -> Result<Option<(Reading, String)>, Error> {
        let mut depth = 0;
        let Some(reached) = self.follow(pointer, pointer.count(), |_, _| depth += 1)? else { return Ok(None) };
        if let Child::Inline(value) = &*reached {
            return Ok(document::get(Some(value), &rest(pointer, depth)).map(|value| {
                let json = serde_json::to_vec(value).expect("a Value always serializes");
                let tag = if pointer.is_root() { etag::of(&json) } else { inline_tag(self.config, value, &json) };
                (Reading::Json(json), tag)
            }));
        }
        if depth < pointer.count() {
            return Ok(None);
        }
        let child = reached.into_owned();
        let tag = match &child {
            Child::Node(node) => format!("\"{}\"", node.hash),
            Child::Inline(_) => unreachable!("inline values are read above"),
        };
        Ok(Some((Reading::Node(child), tag)))
    }

    /// The strong ETag of the value at `pointer` (see the module docs).
    pub fn tag(&self, pointer: &Pointer) -> Result<Option<String>, Error> {
        Ok(self.read(pointer)?.map(|(_, tag)| tag))
    }
}

/// Whether JSON text held inline may stand for a value that would be a node in pages: a
/// collection longer than the inline limit.
fn may_be_a_node(config: LayoutConfig, json: &[u8]) -> bool {
    json.len() > config.inline_bytes_max && matches!(json.first(), Some(b'{' | b'['))
}

/// The tag of a value held inline, whose JSON is `json`: the hash of its JSON, or of the node
/// it would be in pages (see the module docs).
fn inline_tag(config: LayoutConfig, value: &Value, json: &[u8]) -> String {
    if !may_be_a_node(config, json) {
        return etag::of(json);
    }
    // Built as a write would store it, in a store of its own that is then dropped: the hash
    // covers content only, never keys, so it is the hash the stored node has.
    let scratch = MemoryStore::new();
    let built = Txn::begin(&scratch, LayoutConfig { keys_max: 0, ..config }, 0)
        .and_then(|mut txn| txn.store_value(value.clone()));
    match built {
        Ok(Child::Node(node)) => format!("\"{}\"", node.hash),
        _ => etag::of(json),
    }
}

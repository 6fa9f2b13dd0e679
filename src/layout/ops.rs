//! The document operations on the stored tree, with the semantics of [`crate::core::document`].
//!
//! Each operation walks down from the root through stored collections as far as it can, then
//! either edits one member of a stored collection ([`Edit`]), or reads the small value it
//! reached into memory, applies the plain [`document`] operation to it, and stores the result.
//! Only the target of a patch is read whole. The changed children are written back up the walked
//! path, so a write costs the path's pages plus the value it writes.

use super::Error;
use super::build::Edit;
use super::snapshot::{Walk, prefix, rest};
use super::txn::Txn;
use crate::core::document::{self, Conflict, Placed};
use crate::core::patch::{self, JsonPatch, MergePatch, PatchError};
use crate::core::record::{Child, Kind, NodeRef};
use crate::core::{Pointer, PointerBuf, Token};
use crate::store::Store;
use jsonptr::index::Index;
use serde_json::{Map, Value};

/// Why an operation on the tree failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpError {
    /// Nothing is at the pointer.
    NotFound,
    /// The write cannot be done in the document as it is.
    Conflict(Conflict),
    /// A JSON Patch failed.
    Patch(PatchError),
    /// A condition of the write (`If-Match` or `If-None-Match`, named here) is false.
    Precondition(&'static str),
    /// The write would nest the document deeper than this limit.
    TooDeep(usize),
    /// The layout could not be read or written.
    Layout(Error),
}

impl From<Error> for OpError {
    fn from(error: Error) -> Self {
        OpError::Layout(error)
    }
}

/// A value to write: parsed, or as JSON text known to be valid.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// A parsed value.
    Value(Value),
    /// Valid JSON text, stored as it is parsed; shared, so retries do not copy it.
    Json(std::rc::Rc<Vec<u8>>),
}

impl Payload {
    /// The value, parsed if need be.
    pub fn into_value(self) -> Result<Value, Error> {
        match self {
            Payload::Value(value) => Ok(value),
            // The body was validated, its nesting bounded, when the request was parsed.
            Payload::Json(json) => serde::Deserialize::deserialize(&mut crate::core::json::unbounded(&json))
                .map_err(|error| Error::Corrupt(format!("the body is not valid JSON: {error}"))),
        }
    }

    /// The payload `{name: self}`.
    fn wrap(self, name: &str) -> Payload {
        match self {
            Payload::Value(value) => Payload::Value(Value::Object(Map::from_iter([(name.to_owned(), value)]))),
            Payload::Json(json) => {
                let mut wrapped = serde_json::to_vec(&Value::Object(Map::new())).expect("serializes");
                wrapped.pop();
                serde_json::to_writer(&mut wrapped, name).expect("a string serializes");
                wrapped.push(b':');
                wrapped.extend_from_slice(&json);
                wrapped.push(b'}');
                Payload::Json(std::rc::Rc::new(wrapped))
            }
        }
    }
}

/// Where a POST added its value, learnt from the collection it added to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    /// At this index of an array.
    Element(usize),
    /// Under this new name in an object.
    Member(String),
}

impl<S: Store> Txn<'_, S> {
    fn store_payload(&mut self, payload: Payload) -> Result<Child, Error> {
        match payload {
            Payload::Value(value) => self.store_value(value),
            Payload::Json(json) => self.store_json(&json),
        }
    }

    /// Creates or replaces the value at `pointer`, like [`document::put`].
    pub fn put(&mut self, pointer: &Pointer, value: Value) -> Result<(Placed, PointerBuf), OpError> {
        self.put_payload(pointer, Payload::Value(value))
    }

    /// [`Txn::put`] for a value given as JSON text, which is stored as it is parsed when its
    /// place is in a stored collection or the root (the usual case for a big value).
    pub fn put_payload(&mut self, pointer: &Pointer, value: Payload) -> Result<(Placed, PointerBuf), OpError> {
        let Some((parent, last)) = pointer.split_back() else {
            let old = self.take_root();
            let placed = if old.is_some() { Placed::Replaced } else { Placed::Created };
            self.retire_child(old);
            // Text short enough for the root record whatever its spacing is parsed, so that the
            // document is stored the same way from either form.
            let root = match value {
                Payload::Json(json) if json.len() > 4 * self.config.root_inline_max() => {
                    let stored = self.store_json(&json)?;
                    self.settle_root(stored)?
                }
                payload => self.store_root_value(payload.into_value()?)?,
            };
            self.set_root(Some(root));
            return Ok((placed, PointerBuf::new()));
        };
        let walk = self.walk(pointer, parent.count())?;
        let depth = walk.depth();
        let Some(node) = walk.collection().cloned() else {
            let value = value.into_value()?;
            return self
                .in_value(walk, pointer, |doc, rest| document::put(doc, rest, value).map_err(OpError::Conflict));
        };
        let base = prefix(pointer, depth);
        let token = pointer.tokens().nth(depth).expect("the walk stopped before the last token");
        let conflict = |reason| OpError::Conflict(Conflict { at: base.clone(), reason });
        if depth < parent.count() {
            // The member on the way is missing: create it, with objects down to the target.
            if node.kind == Kind::Array {
                document::element_index_for_write(node.len as usize, &token, &base).map_err(OpError::Conflict)?;
                return Err(conflict("is an array; a missing element cannot be created on the way to the target"));
            }
            let nested = pointer
                .tokens()
                .skip(depth + 1)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .fold(value, |value, token| value.wrap(&token.decoded()));
            let child = self.store_payload(nested)?;
            self.set_member(walk, node, Edit::Set(token.decoded().into_owned(), child))?;
            return Ok((Placed::Created, pointer.to_buf()));
        }
        let child = self.store_payload(value)?;
        match node.kind {
            Kind::Object => {
                let name = last.decoded().into_owned();
                let old = self.member(&node, &name)?;
                let placed = if old.is_some() { Placed::Replaced } else { Placed::Created };
                self.retire_child(old);
                self.set_member(walk, node, Edit::Set(name, child))?;
                Ok((placed, pointer.to_buf()))
            }
            _ => {
                let len = node.len as usize;
                let index = document::element_index_for_write(len, &last, &base).map_err(OpError::Conflict)?;
                let location = base.with_trailing_token(Token::from(index));
                if index == len {
                    self.set_member(walk, node, Edit::Insert(index, child))?;
                    Ok((Placed::Created, location))
                } else {
                    let old = self.element(&node, index)?;
                    self.retire_child(old);
                    self.set_member(walk, node, Edit::Replace(index, child))?;
                    Ok((Placed::Replaced, location))
                }
            }
        }
    }

    /// Adds `value` to the collection at `pointer`, like [`document::post`]; says where, from
    /// the collection it read on the way (no second read of the collection).
    pub fn post(
        &mut self,
        pointer: &Pointer,
        value: Value,
        new_key: impl FnOnce() -> String,
    ) -> Result<(PointerBuf, Posted), OpError> {
        let walk = self.walk(pointer, pointer.count())?;
        match walk.collection().cloned() {
            Some(node) if walk.depth() == pointer.count() => {
                let child = self.store_value(value)?;
                if node.kind == Kind::Array {
                    let index = node.len as usize;
                    self.set_member(walk, node, Edit::Insert(index, child))?;
                    Ok((pointer.with_trailing_token(Token::from(index)), Posted::Element(index)))
                } else {
                    let name = new_key();
                    self.set_member(walk, node, Edit::Set(name.clone(), child))?;
                    Ok((pointer.with_trailing_token(Token::new(name.clone())), Posted::Member(name)))
                }
            }
            // The target is missing: as `document::post` does, put a new object there.
            Some(_) => {
                let name = new_key();
                let collection = Value::Object(Map::from_iter([(name.clone(), value)]));
                let (_, at) = self.put(pointer, collection)?;
                Ok((at.with_trailing_token(Token::new(name.clone())), Posted::Member(name)))
            }
            None => {
                let target = rest(pointer, walk.depth());
                self.in_value(walk, pointer, |doc, rest| {
                    let location = document::post(doc, rest, value, new_key).map_err(OpError::Conflict)?;
                    let in_array = document::get(doc.as_ref(), &target).is_some_and(Value::is_array);
                    let last = location.back().expect("a post adds a token").decoded().into_owned();
                    let posted = match last.parse() {
                        Ok(index) if in_array => Posted::Element(index),
                        _ => Posted::Member(last),
                    };
                    Ok((location, posted))
                })
            }
        }
    }

    /// Removes the value at `pointer`, like [`document::delete`].
    pub fn delete(&mut self, pointer: &Pointer) -> Result<(), OpError> {
        let Some((parent, last)) = pointer.split_back() else {
            let root = self.take_root().ok_or(OpError::NotFound)?;
            self.retire_child(Some(root));
            return Ok(());
        };
        let walk = self.walk(pointer, parent.count())?;
        let Some(node) = walk.collection().cloned() else {
            return self
                .in_value(walk, pointer, |doc, rest| document::delete(doc, rest).map(drop).ok_or(OpError::NotFound));
        };
        if walk.depth() < parent.count() {
            return Err(OpError::NotFound);
        }
        let edit = match node.kind {
            Kind::Object => {
                let name = last.decoded().into_owned();
                let old = self.member(&node, &name)?.ok_or(OpError::NotFound)?;
                self.retire_child(Some(old));
                Edit::Remove(name)
            }
            _ => match last.to_index() {
                Ok(Index::Num(index)) if index < node.len as usize => {
                    let old = self.element(&node, index)?;
                    self.retire_child(old);
                    Edit::RemoveAt(index)
                }
                _ => return Err(OpError::NotFound),
            },
        };
        Ok(self.set_member(walk, node, edit)?)
    }

    /// Applies a JSON Merge Patch at `pointer`, like [`patch::apply_merge_patch`], if the
    /// value there and the patch together hold no more JSON than the patch's bounds allow.
    /// Returns what happened and where the value now is.
    pub fn merge_patch(
        &mut self,
        pointer: &Pointer,
        merge_patch: &MergePatch,
    ) -> Result<(Placed, PointerBuf), OpError> {
        let bytes_max = merge_patch.bounds.bytes_max;
        let too_large =
            |at: &Pointer| OpError::Patch(PatchError::TooLarge { operation: None, pointer: at.to_buf(), bytes_max });
        let walk = self.walk(pointer, pointer.count())?;
        if walk.collection().is_some() && walk.depth() < pointer.count() {
            if !merge_patch.fits(None) {
                return Err(too_large(pointer));
            }
            let mut value = Value::Null;
            json_patch::merge(&mut value, &merge_patch.value);
            return self.put(pointer, value);
        }
        self.in_value_within(walk, pointer, bytes_max, |doc, rest| {
            if !merge_patch.fits(document::get(doc.as_ref(), rest)) {
                return Err(too_large(rest));
            }
            patch::apply_merge_patch(doc, rest, &merge_patch.value).map_err(OpError::Conflict)
        })
    }

    /// Applies a JSON Patch at `pointer`, like [`patch::apply_json_patch`], within its bounds:
    /// the target is read only if it is within them.
    pub fn json_patch(&mut self, pointer: &Pointer, json_patch: &JsonPatch) -> Result<(), OpError> {
        let walk = self.walk(pointer, pointer.count())?;
        if walk.collection().is_some() && walk.depth() < pointer.count() {
            return Err(OpError::NotFound);
        }
        self.in_value_within(walk, pointer, json_patch.bounds.bytes_max, |doc, rest| {
            let above = pointer.count() - rest.count();
            patch::apply_json_patch(doc, above, rest, json_patch).map_err(|error| match error {
                PatchError::NotFound => OpError::NotFound,
                other => OpError::Patch(other),
            })
        })
    }

    /// Applies a plain operation to the value the walk reached, read into memory, with the
    /// rest of the pointer; then stores the result in its place.
    fn in_value<T: Relocate>(
        &mut self,
        walk: Walk,
        pointer: &Pointer,
        operation: impl FnOnce(&mut Option<Value>, &Pointer) -> Result<T, OpError>,
    ) -> Result<T, OpError> {
        self.in_value_within(walk, pointer, usize::MAX, operation)
    }

    /// [`Txn::in_value`], if the value the walk reached is inline (in memory already) or at
    /// most `bytes_max` bytes of JSON; a larger stored one is read no further than that, and
    /// the answer is [`PatchError::TooLarge`].
    fn in_value_within<T: Relocate>(
        &mut self,
        walk: Walk,
        pointer: &Pointer,
        bytes_max: usize,
        operation: impl FnOnce(&mut Option<Value>, &Pointer) -> Result<T, OpError>,
    ) -> Result<T, OpError> {
        let depth = walk.depth();
        let base = prefix(pointer, depth);
        let mut doc = match &walk.reached {
            None => None,
            Some(child) => match self.value_within(child, bytes_max)? {
                Some(value) => Some(value),
                None => {
                    let pointer = base;
                    return Err(OpError::Patch(PatchError::TooLarge { operation: None, pointer, bytes_max }));
                }
            },
        };
        let outcome = operation(&mut doc, &rest(pointer, depth)).map_err(|error| error.relocate(&base))?;
        self.retire_child(walk.reached.clone());
        match doc {
            Some(value) => {
                let child =
                    if walk.passed.is_empty() { self.store_root_value(value)? } else { self.store_value(value)? };
                self.replace_reached(walk, child)?;
            }
            None => self.remove_reached(walk)?,
        }
        Ok(outcome.relocate(&base))
    }

    /// The value a child stands for, read whole; `None` if it is stored and its JSON is longer
    /// than `bytes_max`, which it is streamed out as text to find out, no further than that.
    fn value_within(&self, child: &Child, bytes_max: usize) -> Result<Option<Value>, Error> {
        if bytes_max == usize::MAX || matches!(child, Child::Inline(_)) {
            return self.value_of(child).map(Some);
        }
        let mut text = Capped { bytes: Vec::new(), max: bytes_max, over: false };
        if let Err(error) = self.write_json(child, &mut text) {
            if text.over {
                return Ok(None);
            }
            let inner = error.get_ref().and_then(|inner| inner.downcast_ref::<Error>()).cloned();
            return Err(inner.unwrap_or_else(|| Error::Corrupt(format!("the stored value cannot be read: {error}"))));
        }
        // Written from records, which hold values nested no deeper than a document may.
        serde::Deserialize::deserialize(&mut crate::core::json::unbounded(&text.bytes))
            .map(Some)
            .map_err(|error| Error::Corrupt(format!("the stored value is not valid JSON: {error}")))
    }

    /// Applies `edit` to the collection the walk reached and writes the path back.
    fn set_member(&mut self, walk: Walk, node: NodeRef, edit: Edit) -> Result<(), Error> {
        let child = self.edit(&node, edit)?;
        self.replace_reached(walk, child)
    }

    /// Puts `child` where the walk ended and rewrites the collections above it.
    fn replace_reached(&mut self, walk: Walk, mut child: Child) -> Result<(), Error> {
        for passed in walk.passed.into_iter().rev() {
            let edit = match passed.node.kind {
                Kind::Object => Edit::Set(passed.token.decoded().into_owned(), child),
                _ => Edit::Replace(index_of(&passed.token), child),
            };
            child = self.edit(&passed.node, edit)?;
        }
        let root = self.settle_root(child)?;
        self.set_root(Some(root));
        Ok(())
    }

    /// Removes what the walk reached from its parent (a plain `document::delete` of a whole
    /// reached value only happens at the root).
    fn remove_reached(&mut self, mut walk: Walk) -> Result<(), Error> {
        let Some(passed) = walk.passed.pop() else {
            self.set_root(None);
            return Ok(());
        };
        let edit = match passed.node.kind {
            Kind::Object => Edit::Remove(passed.token.decoded().into_owned()),
            _ => Edit::RemoveAt(index_of(&passed.token)),
        };
        let child = self.edit(&passed.node, edit)?;
        walk.reached = None;
        self.replace_reached(walk, child)
    }
}

/// A buffer that takes at most `max` bytes, then fails and says so.
struct Capped {
    bytes: Vec<u8>,
    max: usize,
    over: bool,
}

impl std::io::Write for Capped {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + bytes.len() > self.max {
            self.over = true;
            return Err(std::io::Error::other("longer than the limit"));
        }
        self.bytes.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Results and errors that hold pointers relative to where an operation ran.
trait Relocate {
    fn relocate(self, base: &Pointer) -> Self;
}

impl Relocate for () {
    fn relocate(self, _: &Pointer) -> Self {}
}

impl Relocate for PointerBuf {
    fn relocate(self, base: &Pointer) -> Self {
        base.concat(&self)
    }
}

impl Relocate for (PointerBuf, Posted) {
    fn relocate(self, base: &Pointer) -> Self {
        (base.concat(&self.0), self.1)
    }
}

impl Relocate for (Placed, PointerBuf) {
    fn relocate(self, base: &Pointer) -> Self {
        (self.0, base.concat(&self.1))
    }
}

impl Relocate for OpError {
    fn relocate(self, base: &Pointer) -> Self {
        match self {
            OpError::Conflict(conflict) => OpError::Conflict(Conflict { at: base.concat(&conflict.at), ..conflict }),
            OpError::Patch(PatchError::Failed { operation, pointer, reason }) => {
                OpError::Patch(PatchError::Failed { operation, pointer: base.concat(&pointer), reason })
            }
            OpError::Patch(PatchError::TooLarge { operation, pointer, bytes_max }) => {
                OpError::Patch(PatchError::TooLarge { operation, pointer: base.concat(&pointer), bytes_max })
            }
            OpError::Patch(PatchError::TooDeep { operation, pointer, depth_max }) => {
                OpError::Patch(PatchError::TooDeep { operation, pointer: base.concat(&pointer), depth_max })
            }
            other => other,
        }
    }
}

fn index_of(token: &Token) -> usize {
    match token.to_index() {
        Ok(Index::Num(index)) => index,
        _ => unreachable!("walks only step through existing elements"),
    }
}

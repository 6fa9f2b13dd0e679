//! Reads and writes at a pointer inside the document.
//!
//! The store may hold no document at all (`None`), which is different from a document that is
//! `null`. Writes create missing object members on the way to their target, like `mkdir -p`,
//! but never invent array elements and never write through a scalar: that is a [`Conflict`].
//! A write that fails leaves the document as it was: every check happens before the first change.
//!
//! Reads walk the document with `jsonptr`'s `resolve`, whose RFC 6901 rules are JSONStore's: an
//! array index is decimal digits without leading zeros, and `-` names no element.

use super::{Pointer, PointerBuf, Token};
use jsonptr::index::Index;
use jsonptr::resolve::Error as ResolveError;
use jsonptr::{Resolve, ResolveMut};
use serde_json::{Map, Value};

/// Why a write cannot be done in the document as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The pointer of the value that stands in the way.
    pub at: PointerBuf,
    /// What is wrong there, as a sentence fragment.
    pub reason: &'static str,
}

/// Whether a write made a new value or replaced one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// Nothing was at the target before.
    Created,
    /// The target's old value was replaced.
    Replaced,
}

/// Returns the value at `pointer`, if there is one.
pub fn get<'v>(doc: Option<&'v Value>, pointer: &Pointer) -> Option<&'v Value> {
    doc?.resolve(pointer).ok()
}

/// Returns the value at `pointer` for writing, if there is one.
pub fn get_mut<'v>(doc: Option<&'v mut Value>, pointer: &Pointer) -> Option<&'v mut Value> {
    doc?.resolve_mut(pointer).ok()
}

/// Creates or replaces the value at `pointer`.
///
/// Returns what happened and where the value now is (`-` resolved to its index).
pub fn put(doc: &mut Option<Value>, pointer: &Pointer, value: Value) -> Result<(Placed, PointerBuf), Conflict> {
    let Some((parent_pointer, last)) = pointer.split_back() else {
        let placed = if doc.is_some() { Placed::Replaced } else { Placed::Created };
        *doc = Some(value);
        return Ok((placed, PointerBuf::new()));
    };
    check_parent_writable(doc.as_ref(), parent_pointer)?;
    let parent = make_parents(doc, parent_pointer);
    let mut location = parent_pointer.to_buf();
    let placed = match parent {
        Value::Object(map) => {
            let key = last.decoded().into_owned();
            location.push_back(Token::new(key.clone()));
            match map.insert(key, value) {
                Some(_) => Placed::Replaced,
                None => Placed::Created,
            }
        }
        Value::Array(items) => {
            let index = element_index_for_write(items.len(), &last, parent_pointer)?;
            location.push_back(Token::from(index));
            if index == items.len() {
                items.push(value);
                Placed::Created
            } else {
                items[index] = value;
                Placed::Replaced
            }
        }
        _ => unreachable!("check_parent_writable rejects scalar parents"),
    };
    Ok((placed, location))
}

/// Adds `value` to the collection at `pointer`: appended to an array, or under the new key
/// `new_key()` in an object. A missing collection is created as an object.
///
/// Returns where the value now is.
pub fn post(
    doc: &mut Option<Value>,
    pointer: &Pointer,
    value: Value,
    new_key: impl FnOnce() -> String,
) -> Result<PointerBuf, Conflict> {
    let mut location = pointer.to_buf();
    match get_mut(doc.as_mut(), pointer) {
        Some(Value::Array(items)) => {
            location.push_back(Token::from(items.len()));
            items.push(value);
        }
        Some(Value::Object(map)) => {
            let key = new_key();
            location.push_back(Token::new(key.clone()));
            map.insert(key, value);
        }
        Some(_) => {
            return Err(Conflict { at: location, reason: "is not an array or object to add to" });
        }
        None => {
            let key = new_key();
            let collection = Value::Object(Map::from_iter([(key.clone(), value)]));
            // Where the new collection went: `-` becomes the index it was appended at.
            let (_, at) = put(doc, pointer, collection)?;
            location = at.with_trailing_token(Token::new(key));
        }
    }
    Ok(location)
}

/// Removes the value at `pointer` and returns it; `None` if there was none.
///
/// Removing the root leaves no document.
pub fn delete(doc: &mut Option<Value>, pointer: &Pointer) -> Option<Value> {
    let Some((parent_pointer, last)) = pointer.split_back() else {
        return doc.take();
    };
    match get_mut(doc.as_mut(), parent_pointer)? {
        Value::Object(map) => map.remove(last.decoded().as_ref()),
        Value::Array(items) => match last.to_index() {
            Ok(Index::Num(index)) if index < items.len() => Some(items.remove(index)),
            _ => None,
        },
        _ => None,
    }
}

/// How deep `value` nests: 0 for a scalar, 1 for a flat array or object, and so on.
pub fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0)];
    while let Some((value, level)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        deepest = deepest.max(level + 1);
        stack.extend(children.map(|child| (child, level + 1)));
    }
    deepest
}

/// Checks, without changing anything, that `make_parents` can reach `parent_pointer`
/// and that an object or array is (or will be) there.
///
/// `resolve` stops where the walk would: at a missing member, which `make_parents` creates
/// with the rest; or at an array or a scalar, the value the write conflicts with, named by
/// the first `position` tokens.
fn check_parent_writable(doc: Option<&Value>, parent_pointer: &Pointer) -> Result<(), Conflict> {
    let Some(doc) = doc else { return Ok(()) };
    let conflict = |position: usize, reason| Conflict {
        at: parent_pointer.get(..position).expect("resolve stops at one of the pointer's tokens").to_buf(),
        reason,
    };
    match doc.resolve(parent_pointer) {
        Ok(Value::Object(_) | Value::Array(_)) | Err(ResolveError::NotFound { .. }) => Ok(()),
        Ok(_) => Err(conflict(parent_pointer.count(), NOT_A_CONTAINER)),
        Err(ResolveError::Unreachable { position, .. }) => Err(conflict(position, NOT_A_CONTAINER)),
        Err(ResolveError::FailedToParseIndex { position, .. }) => Err(conflict(position, TOKEN_NOT_AN_INDEX)),
        Err(ResolveError::OutOfBounds { position, source, .. }) if source.index > source.length => {
            Err(conflict(position, INDEX_PAST_THE_END))
        }
        // The length itself, or `-`: the element after the last, which a write could append
        // as the target but not walk through.
        Err(ResolveError::OutOfBounds { position, .. }) => {
            Err(conflict(position, "is an array; a missing element cannot be created on the way to the target"))
        }
    }
}

/// Walks to `parent_pointer`, creating missing object members (and a missing root) as objects.
/// Callers check first with [`check_parent_writable`].
///
/// A walk by hand: `resolve` only finds values, and `jsonptr`'s `assign`, which creates them,
/// makes an array where the next token is `0` or `-`, but `/a/0` on a missing `a` makes the
/// object `{"0": ...}` here.
fn make_parents<'v>(doc: &'v mut Option<Value>, parent_pointer: &Pointer) -> &'v mut Value {
    let mut value = doc.get_or_insert_with(|| Value::Object(Map::new()));
    for token in parent_pointer.tokens() {
        value = match value {
            Value::Object(map) => map.entry(token.decoded().into_owned()).or_insert_with(|| Value::Object(Map::new())),
            Value::Array(items) => match token.to_index() {
                Ok(Index::Num(index)) => &mut items[index],
                _ => unreachable!("checked by check_parent_writable"),
            },
            _ => unreachable!("checked by check_parent_writable"),
        };
    }
    value
}

/// The index a write to `token` in an array of `len` elements goes to: an existing element,
/// or `len` itself (also spelled `-`) to append.
pub fn element_index_for_write(len: usize, token: &Token, array: &Pointer) -> Result<usize, Conflict> {
    let conflict = |reason| Conflict { at: array.to_buf(), reason };
    match token.to_index() {
        Ok(Index::Next) => Ok(len),
        Ok(Index::Num(index)) if index <= len => Ok(index),
        Ok(Index::Num(_)) => Err(conflict(INDEX_PAST_THE_END)),
        Err(_) => Err(conflict(TOKEN_NOT_AN_INDEX)),
    }
}

// Reasons shared by the checks of a walk and of its last step.
const NOT_A_CONTAINER: &str = "is not an object or array to write into";
const INDEX_PAST_THE_END: &str = "is an array, and the index is past its end";
const TOKEN_NOT_AN_INDEX: &str =
    "is an array, and the token is not an index (decimal digits without leading zeros, or '-')";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ptr(s: &str) -> PointerBuf {
        PointerBuf::parse(s).unwrap()
    }

    #[test]
    fn seed_example() {
        let mut doc = Some(json!({
            "sniffles": [{"name": "fred"}, {"name": "irma"}, {"name": "wobble"}],
            "snuffle": {"name": "gundar"}
        }));
        assert_eq!(get(doc.as_ref(), &ptr("/sniffles/0")), Some(&json!({"name": "fred"})));
        let (placed, at) = put(&mut doc, &ptr("/sniffles/0/rank"), json!("sniffle chief")).unwrap();
        assert_eq!((placed, at), (Placed::Created, ptr("/sniffles/0/rank")));
        assert_eq!(get(doc.as_ref(), &ptr("/sniffles/0")), Some(&json!({"name": "fred", "rank": "sniffle chief"})));
    }

    #[test]
    fn put_creates_missing_objects_like_mkdir_p() {
        let mut doc = None;
        put(&mut doc, &ptr("/a/b/0"), json!(1)).unwrap();
        assert_eq!(doc, Some(json!({"a": {"b": {"0": 1}}})));
    }

    #[test]
    fn put_into_arrays() {
        let mut doc = Some(json!({"a": [1, 2]}));
        assert_eq!(put(&mut doc, &ptr("/a/-"), json!(3)).unwrap(), (Placed::Created, ptr("/a/2")));
        assert_eq!(put(&mut doc, &ptr("/a/3"), json!(4)).unwrap(), (Placed::Created, ptr("/a/3")));
        assert_eq!(put(&mut doc, &ptr("/a/0"), json!(0)).unwrap(), (Placed::Replaced, ptr("/a/0")));
        assert_eq!(doc, Some(json!({"a": [0, 2, 3, 4]})));
    }

    #[test]
    fn put_conflicts_leave_the_document_alone() {
        let original = json!({"a": [1, {"b": 2}], "s": "text", "n": null});
        let missing = "is an array; a missing element cannot be created on the way to the target";
        let cases = [
            ("/s/x", "/s", NOT_A_CONTAINER),
            ("/s/x/y", "/s", NOT_A_CONTAINER),
            ("/a/5", "/a", INDEX_PAST_THE_END),
            ("/a/01", "/a", TOKEN_NOT_AN_INDEX),
            ("/a/x", "/a", TOKEN_NOT_AN_INDEX),
            ("/a/7/b", "/a", INDEX_PAST_THE_END),
            ("/a/01/b", "/a", TOKEN_NOT_AN_INDEX),
            ("/a/2/b", "/a", missing),
            ("/a/-/b", "/a", missing),
            ("/a/1/b/c", "/a/1/b", NOT_A_CONTAINER),
            ("/a/1/b/c/d", "/a/1/b", NOT_A_CONTAINER),
            ("/n/x", "/n", NOT_A_CONTAINER),
        ];
        for (target, at, reason) in cases {
            let mut doc = Some(original.clone());
            let conflict = put(&mut doc, &ptr(target), json!(0)).unwrap_err();
            assert_eq!(conflict, Conflict { at: ptr(at), reason }, "{target}");
            assert_eq!(doc.as_ref(), Some(&original), "{target}");
        }
    }

    #[test]
    fn post_appends_or_adds_a_new_key() {
        let mut doc = Some(json!({"list": [1], "map": {}}));
        assert_eq!(post(&mut doc, &ptr("/list"), json!(2), || unreachable!()).unwrap(), ptr("/list/1"));
        assert_eq!(post(&mut doc, &ptr("/map"), json!(3), || "k".into()).unwrap(), ptr("/map/k"));
        assert_eq!(post(&mut doc, &ptr("/new/deep"), json!(4), || "n".into()).unwrap(), ptr("/new/deep/n"));
        assert_eq!(doc, Some(json!({"list": [1, 2], "map": {"k": 3}, "new": {"deep": {"n": 4}}})));
        let conflict = post(&mut doc, &ptr("/list/0"), json!(5), || "x".into()).unwrap_err();
        assert_eq!(conflict.at, ptr("/list/0"));
    }

    #[test]
    fn delete_removes_or_reports_absence() {
        let mut doc = Some(json!({"a": [1, 2], "b": {"c": 3}}));
        assert_eq!(delete(&mut doc, &ptr("/a/0")), Some(json!(1)));
        assert_eq!(delete(&mut doc, &ptr("/a/-")), None);
        assert_eq!(delete(&mut doc, &ptr("/a/5")), None);
        assert_eq!(delete(&mut doc, &ptr("/b/x")), None);
        assert_eq!(delete(&mut doc, &ptr("/b/c/x")), None);
        assert_eq!(delete(&mut doc, &ptr("/b")), Some(json!({"c": 3})));
        assert_eq!(delete(&mut doc, &ptr("")), Some(json!({"a": [2]})));
        assert_eq!(doc, None);
    }

    #[test]
    fn get_follows_rfc6901_indexes() {
        let doc = json!({"a": [10, 20], "": {"": 1}});
        assert_eq!(get(Some(&doc), &ptr("/a/1")), Some(&json!(20)));
        assert_eq!(get(Some(&doc), &ptr("/a/01")), None);
        assert_eq!(get(Some(&doc), &ptr("/a/-")), None);
        assert_eq!(get(Some(&doc), &ptr("//")), Some(&json!(1)));
        assert_eq!(get(None, &ptr("")), None);
    }

    #[test]
    fn depth_counts_containers() {
        assert_eq!(depth(&json!(1)), 0);
        assert_eq!(depth(&json!([])), 1);
        assert_eq!(depth(&json!({"a": [1, {"b": []}]})), 4);
    }
}

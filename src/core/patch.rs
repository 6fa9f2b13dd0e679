//! PATCH bodies: JSON Merge Patch (RFC 7396) and JSON Patch (RFC 6902), applied at a pointer.
//!
//! Both are applied with the `json-patch` crate. JSON Patch pointers are relative to the
//! target. A JSON Patch is all-or-nothing because it is applied to a working copy that the
//! caller throws away when an operation fails; `test` compares numbers by value, as RFC 6902
//! asks (`1` equals `1.0`), which `serde_json`'s equality does not.
//!
//! A patch is small, but what it builds need not be: forty `copy` operations that each copy a
//! value into itself double it forty times. So a parsed patch carries its [`Bounds`], and each
//! operation is checked against them before it runs: how deep its value would sit, and how much
//! JSON the target would then hold at most (what it held, plus all that was added or copied).

use super::document::{self, Conflict, Placed};
use super::json;
use super::record::json_len;
use super::{Pointer, PointerBuf};
use json_patch::{PatchErrorKind, PatchOperation};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

/// Why a JSON Patch was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchError {
    /// The patch document is not a valid JSON Patch; `operation` is the bad operation's index.
    Invalid {
        /// Index of the invalid operation, if one is to blame.
        operation: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A valid operation could not be applied to the document as it is.
    Failed {
        /// Index of the failing operation.
        operation: usize,
        /// The operation's `path`, made absolute.
        pointer: PointerBuf,
        /// What went wrong.
        reason: String,
    },
    /// The target of the patch does not exist.
    NotFound,
    /// The patch has more operations than it may.
    TooManyOperations {
        /// How many it may have.
        operations_max: usize,
    },
    /// The patch would make the target hold more JSON than it may; nothing was built past it.
    TooLarge {
        /// The operation that would, or none when the target itself is too large to patch.
        operation: Option<usize>,
        /// Where the operation would write, or the target, made absolute.
        pointer: PointerBuf,
        /// The most JSON the target may hold, in bytes.
        bytes_max: usize,
    },
    /// An operation would nest the document deeper than it may.
    TooDeep {
        /// The operation.
        operation: usize,
        /// Where it would write, made absolute.
        pointer: PointerBuf,
        /// The deepest the document may nest.
        depth_max: usize,
    },
}

/// What a patch may build, checked before each operation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// The deepest the document may nest, the target's own pointer included.
    pub depth_max: usize,
    /// The most JSON the patched target may hold: what it held, plus everything the patch adds
    /// or copies (what it removes is not taken off, so the count bounds the work too), in bytes.
    pub bytes_max: usize,
}

/// A JSON Patch document, parsed, with the bounds it is applied within.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPatch {
    /// The operations, in order.
    pub operations: Vec<PatchOperation>,
    /// What it may build.
    pub bounds: Bounds,
}

/// A JSON Merge Patch, parsed, with the bounds it is applied within (a merge patch builds at
/// most itself, so only the bytes are checked when it is applied; its depth is the body's).
#[derive(Debug, Clone, PartialEq)]
pub struct MergePatch {
    /// The patch.
    pub value: Value,
    /// What it may build.
    pub bounds: Bounds,
}

impl MergePatch {
    /// Whether the value at the target (`None`: there is none) and the patch together hold no
    /// more JSON than the bound; if they do, the patched value may not.
    pub fn fits(&self, target: Option<&Value>) -> bool {
        let room = self.bounds.bytes_max.checked_sub(json_len(&self.value));
        room.is_some_and(|room| target.is_none_or(|target| super::record::json_fits(target, room)))
    }
}

/// Parses a JSON Patch document, an array of at most `operations_max` operation objects, from
/// JSON text already known to be valid and nested no deeper than a document may be. The
/// operations are counted before any is parsed.
///
/// From the text, not from a parsed `Value`: deserializing from a `Value` hands an integer past
/// 64 bits to the operation's `value` as a `u128`, which it refuses; from text it stays a number
/// as written.
pub fn parse_json_patch(text: &[u8], operations_max: usize, bounds: Bounds) -> Result<JsonPatch, PatchError> {
    let operations = Vec::<&RawValue>::deserialize(&mut json::unbounded(text)).map_err(|_| PatchError::Invalid {
        operation: None,
        message: "a JSON Patch document is an array of operations".into(),
    })?;
    if operations.len() > operations_max {
        return Err(PatchError::TooManyOperations { operations_max });
    }
    let operations = operations
        .into_iter()
        .enumerate()
        .map(|(index, operation)| {
            PatchOperation::deserialize(&mut json::unbounded(operation.get().as_bytes()))
                .map_err(|error| PatchError::Invalid { operation: Some(index), message: error.to_string() })
        })
        .collect::<Result<_, _>>()?;
    Ok(JsonPatch { operations, bounds })
}

/// Applies a JSON Patch to the value at `target` in `doc`, which itself sits `above` levels deep
/// in the document (0: it is the document); a missing `doc` is `null` when the target is its
/// root. On error, `doc` is partly patched: callers discard it.
pub fn apply_json_patch(
    doc: &mut Option<Value>,
    above: usize,
    target: &Pointer,
    patch: &JsonPatch,
) -> Result<(), PatchError> {
    if target.is_root() && doc.is_none() {
        let mut value = Value::Null;
        apply_at(&mut value, above + target.count(), target, patch)?;
        *doc = Some(value);
        return Ok(());
    }
    let value = document::get_mut(doc.as_mut(), target).ok_or(PatchError::NotFound)?;
    apply_at(value, above + target.count(), target, patch)
}

/// Applies the patch to `value`, at `target` and `levels` deep in the document.
fn apply_at(value: &mut Value, levels: usize, target: &Pointer, patch: &JsonPatch) -> Result<(), PatchError> {
    let Bounds { depth_max, bytes_max } = patch.bounds;
    let mut room = bytes_max.checked_sub(json_len(value)).ok_or_else(|| PatchError::TooLarge {
        operation: None,
        pointer: target.to_buf(),
        bytes_max,
    })?;
    for (index, operation) in patch.operations.iter().enumerate() {
        let failed = |pointer: &Pointer, reason: String| PatchError::Failed {
            operation: index,
            pointer: target.concat(pointer),
            reason,
        };
        // What the operation puts where, checked before it runs. A move adds no bytes, but
        // may take its value deeper; a `from` that is missing fails in the operation itself.
        let (path, placed, adds) = match operation {
            PatchOperation::Add(add) => (&add.path, Some(&add.value), true),
            PatchOperation::Replace(replace) => (&replace.path, Some(&replace.value), true),
            PatchOperation::Copy(copy) => (&copy.path, copy.from.resolve(value).ok(), true),
            PatchOperation::Move(moved) => (&moved.path, moved.from.resolve(value).ok(), false),
            PatchOperation::Remove(_) | PatchOperation::Test(_) => (&PointerBuf::new(), None, false),
        };
        if let Some(placed) = placed {
            // Everything in the target is within `bytes_max`, so measuring is bounded too.
            let len = json_len(placed);
            if adds {
                room = room.checked_sub(len).ok_or_else(|| PatchError::TooLarge {
                    operation: Some(index),
                    pointer: target.concat(path),
                    bytes_max,
                })?;
            }
            if levels + path.count() + document::depth(placed) > depth_max {
                return Err(PatchError::TooDeep { operation: index, pointer: target.concat(path), depth_max });
            }
        }
        if let PatchOperation::Test(test) = operation {
            match test.path.resolve(value) {
                Ok(actual) if same(actual, &test.value) => continue,
                Ok(_) => return Err(failed(&test.path, "the value is not the one the test expects".into())),
                Err(_) => return Err(failed(&test.path, "the path does not exist".into())),
            }
        }
        json_patch::patch_unsafe(value, std::slice::from_ref(operation)).map_err(|error| {
            failed(
                &error.path,
                match error.kind {
                    PatchErrorKind::InvalidFromPointer => "the 'from' location does not exist".into(),
                    PatchErrorKind::InvalidPointer => "the path does not exist".into(),
                    PatchErrorKind::CannotMoveInsideItself => "a value cannot be moved inside itself".into(),
                    other => other.to_string(),
                },
            )
        })?;
    }
    Ok(())
}

/// JSON equality as RFC 6902 `test` defines it: numbers are equal when their values are,
/// compared exactly (`1`, `1.0` and `10e-1` are equal; numbers are kept as written).
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (Decimal::of(x.as_str()), Decimal::of(y.as_str())) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(key, x)| y.get(key).is_some_and(|y| same(x, y)))
        }
        _ => a == b,
    }
}

/// A number's exact value, `digits` × 10^`exponent`, with no leading or trailing zeros in
/// `digits` (zero has none, exponent 0 and no sign), so that equal values compare equal.
#[derive(Debug, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    digits: String,
    exponent: i64,
}

impl Decimal {
    /// The value of a JSON number's text; `None` if its exponent does not fit an `i64`.
    fn of(text: &str) -> Option<Decimal> {
        let (negative, text) = text.strip_prefix('-').map_or((false, text), |rest| (true, rest));
        let (mantissa, exponent) = match text.split_once(['e', 'E']) {
            Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().ok()?),
            None => (text, 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits = [whole, fraction].concat();
        let significant = digits.trim_start_matches('0').trim_end_matches('0');
        if significant.is_empty() {
            return Some(Decimal { negative: false, digits: String::new(), exponent: 0 });
        }
        let trailing = digits.len() - digits.trim_end_matches('0').len();
        let exponent =
            exponent.checked_sub(i64::try_from(fraction.len()).ok()?)?.checked_add(i64::try_from(trailing).ok()?)?;
        Some(Decimal { negative, digits: significant.to_owned(), exponent })
    }
}

/// Applies the merge patch `patch` (RFC 7396) to the value at `target`, creating it (from
/// `null`) when it is missing. Returns what happened and where the value now is (`-`
/// resolved to its index).
pub fn apply_merge_patch(
    doc: &mut Option<Value>,
    target: &Pointer,
    patch: &Value,
) -> Result<(Placed, PointerBuf), Conflict> {
    if let Some(value) = document::get_mut(doc.as_mut(), target) {
        json_patch::merge(value, patch);
        return Ok((Placed::Replaced, target.to_buf()));
    }
    let mut value = Value::Null;
    json_patch::merge(&mut value, patch);
    document::put(doc, target, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ptr(s: &str) -> PointerBuf {
        PointerBuf::parse(s).unwrap()
    }

    const WIDE: Bounds = Bounds { depth_max: 64, bytes_max: 1 << 20 };

    fn parse(patch: Value) -> Result<JsonPatch, PatchError> {
        parse_json_patch(patch.to_string().as_bytes(), 1000, WIDE)
    }

    #[test]
    fn json_patch_is_relative_to_the_target() {
        let mut doc = Some(json!({"a": {"b": 1}}));
        let ops = parse(json!([{"op": "add", "path": "/c", "value": 2}])).unwrap();
        apply_json_patch(&mut doc, 0, &ptr("/a"), &ops).unwrap();
        assert_eq!(doc, Some(json!({"a": {"b": 1, "c": 2}})));
    }

    #[test]
    fn failed_json_patch_names_the_operation() {
        let mut doc = Some(json!({"a": {"b": 1}}));
        let ops = parse(json!([
            {"op": "add", "path": "/c", "value": 2},
            {"op": "test", "path": "/b", "value": 5}
        ]))
        .unwrap();
        let error = apply_json_patch(&mut doc, 0, &ptr("/a"), &ops).unwrap_err();
        assert!(matches!(error, PatchError::Failed { operation: 1, ref pointer, .. } if *pointer == ptr("/a/b")));
    }

    #[test]
    fn invalid_operations_are_named() {
        let error = parse(json!([{"op": "add", "path": "/a", "value": 1}, {"op": "frob"}]));
        assert!(matches!(error, Err(PatchError::Invalid { operation: Some(1), .. })));
        assert!(matches!(parse(json!({})), Err(PatchError::Invalid { operation: None, .. })));
    }

    #[test]
    fn test_compares_numbers_by_value() {
        assert!(same(&json!({"n": [1, 2.5]}), &json!({"n": [1.0, 2.5]})));
        let number = |text: &str| serde_json::from_str::<Value>(text).unwrap();
        for (a, b) in [("100", "1e2"), ("0.5", "5E-1"), ("-0", "0.000e7"), ("1.50", "15e-1"), ("-12.0", "-1.2e+1")] {
            assert!(same(&number(a), &number(b)), "{a} = {b}");
        }
        let big = "123456789012345678901234567890";
        assert!(same(&number(big), &number("1.2345678901234567890123456789e29")));
        for (a, b) in
            [("1", "-1"), (big, "123456789012345678901234567891"), ("1e400", "1e401"), ("0.1", "0.10000000000000001")]
        {
            assert!(!same(&number(a), &number(b)), "{a} ≠ {b}");
        }
        assert!(!same(&json!([1, 2]), &json!([2, 1])));
        assert!(!same(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
    }

    #[test]
    fn json_patch_target_must_exist() {
        let mut doc = Some(json!({}));
        assert_eq!(apply_json_patch(&mut doc, 0, &ptr("/x"), &parse(json!([])).unwrap()), Err(PatchError::NotFound));
    }

    #[test]
    fn operations_are_counted_before_they_are_parsed() {
        let ops = json!([{"op": "test", "path": "", "value": 1}, {"op": "frob"}, {"op": "frob"}]);
        let error = parse_json_patch(ops.to_string().as_bytes(), 2, WIDE);
        assert_eq!(error, Err(PatchError::TooManyOperations { operations_max: 2 }));
        assert!(matches!(parse_json_patch(ops.to_string().as_bytes(), 3, WIDE), Err(PatchError::Invalid { .. })));
    }

    /// Copying a value into itself doubles it: the patch stops at the operation that would pass
    /// the bound, before it copies, however many follow.
    #[test]
    fn a_patch_stops_before_it_builds_too_much() {
        let copies: Vec<Value> =
            (0..40).map(|i| json!({"op": "copy", "from": "/a", "path": format!("/a/c{i}")})).collect();
        let mut patch = parse(Value::Array(copies)).unwrap();
        patch.bounds = Bounds { depth_max: 64, bytes_max: 64 * 1024 };
        let mut doc = Some(json!({"t": {"a": {"b": 1}}}));
        let Err(PatchError::TooLarge { operation: Some(operation), pointer, bytes_max }) =
            apply_json_patch(&mut doc, 0, &ptr("/t"), &patch)
        else {
            panic!("the patch was applied")
        };
        assert!((10..20).contains(&operation), "operation {operation}");
        assert_eq!((pointer, bytes_max), (ptr(&format!("/t/a/c{operation}")), 64 * 1024));
        // A target already over the bound is not patched at all.
        let mut doc = Some(json!({"a": "x".repeat(100)}));
        patch.bounds.bytes_max = 50;
        assert_eq!(
            apply_json_patch(&mut doc, 0, &ptr("/a"), &patch),
            Err(PatchError::TooLarge { operation: None, pointer: ptr("/a"), bytes_max: 50 })
        );
    }

    /// Each copy into itself nests one level deeper; an add or a move may go deep at once.
    #[test]
    fn a_patch_stops_before_it_nests_too_deep() {
        let copies: Vec<Value> = (0..10).map(|_| json!({"op": "copy", "from": "/a", "path": "/a/x"})).collect();
        let mut patch = parse(Value::Array(copies)).unwrap();
        patch.bounds.depth_max = 6;
        let mut doc = Some(json!({"t": {"a": {}}}));
        let error = apply_json_patch(&mut doc, 0, &ptr("/t"), &patch).unwrap_err();
        // `/t/a/x` gets a copy of `/t/a`, which nests one deeper each time: 1, 2, 3, then the
        // fourth copy would sit at 1 + 2 + 4 = 7 levels.
        assert_eq!(error, PatchError::TooDeep { operation: 3, pointer: ptr("/t/a/x"), depth_max: 6 });
        let deep = parse(json!([
            {"op": "add", "path": "/b", "value": {"c": [[[1]]]}},
            {"op": "move", "from": "/b", "path": "/a/b"},
        ]))
        .unwrap();
        let mut patch = deep.clone();
        patch.bounds.depth_max = 5;
        let mut doc = Some(json!({"a": {}}));
        assert_eq!(
            apply_json_patch(&mut doc, 0, &ptr(""), &patch),
            Err(PatchError::TooDeep { operation: 1, pointer: ptr("/a/b"), depth_max: 5 })
        );
        patch.bounds.depth_max = 6;
        let mut doc = Some(json!({"a": {}}));
        assert_eq!(apply_json_patch(&mut doc, 0, &ptr(""), &patch), Ok(()));
        assert_eq!(doc, Some(json!({"a": {"b": {"c": [[[1]]]}}})));
    }

    #[test]
    fn merge_patch_creates_missing_targets() {
        let mut doc = Some(json!({"a": 1}));
        let placed = apply_merge_patch(&mut doc, &ptr("/b/c"), &json!({"d": 1, "e": null})).unwrap();
        assert_eq!(placed, (Placed::Created, ptr("/b/c")));
        assert_eq!(doc, Some(json!({"a": 1, "b": {"c": {"d": 1}}})));
        // The end of an array is the index the value went to.
        let mut doc = Some(json!({"list": [1]}));
        let placed = apply_merge_patch(&mut doc, &ptr("/list/-"), &json!({"x": 2})).unwrap();
        assert_eq!(placed, (Placed::Created, ptr("/list/1")));
        assert_eq!(doc, Some(json!({"list": [1, {"x": 2}]})));
    }
}

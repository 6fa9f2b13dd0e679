//! PATCH bodies: JSON Merge Patch (RFC 7396) and JSON Patch (RFC 6902), applied at a pointer.
//!
//! Both are applied with the `json-patch` crate. JSON Patch pointers are relative to the
//! target. A JSON Patch is all-or-nothing because it is applied to a working copy that the
//! caller throws away when an operation fails; `test` compares numbers by value, as RFC 6902
//! asks (`1` equals `1.0`), which `serde_json`'s equality does not.

use super::document::{self, Conflict, Placed};
use super::json;
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
}

/// Parses a JSON Patch document, an array of operation objects, from JSON text already known
/// to be valid and nested no deeper than a document may be.
///
/// From the text, not from a parsed `Value`: deserializing from a `Value` hands an integer past
/// 64 bits to the operation's `value` as a `u128`, which it refuses; from text it stays a number
/// as written.
pub fn parse_json_patch(text: &[u8]) -> Result<Vec<PatchOperation>, PatchError> {
    let operations = Vec::<&RawValue>::deserialize(&mut json::unbounded(text)).map_err(|_| PatchError::Invalid {
        operation: None,
        message: "a JSON Patch document is an array of operations".into(),
    })?;
    operations
        .into_iter()
        .enumerate()
        .map(|(index, operation)| {
            PatchOperation::deserialize(&mut json::unbounded(operation.get().as_bytes()))
                .map_err(|error| PatchError::Invalid { operation: Some(index), message: error.to_string() })
        })
        .collect()
}

/// Applies JSON Patch `operations` to the value at `target`; a missing document is `null`
/// when the target is the root. On error, `doc` is partly patched: callers discard it.
pub fn apply_json_patch(
    doc: &mut Option<Value>,
    target: &Pointer,
    operations: &[PatchOperation],
) -> Result<(), PatchError> {
    if target.is_root() && doc.is_none() {
        let mut value = Value::Null;
        apply_at(&mut value, target, operations)?;
        *doc = Some(value);
        return Ok(());
    }
    let value = document::get_mut(doc.as_mut(), target).ok_or(PatchError::NotFound)?;
    apply_at(value, target, operations)
}

fn apply_at(value: &mut Value, target: &Pointer, operations: &[PatchOperation]) -> Result<(), PatchError> {
    for (index, operation) in operations.iter().enumerate() {
        let failed = |pointer: &Pointer, reason: String| PatchError::Failed {
            operation: index,
            pointer: target.concat(pointer),
            reason,
        };
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

    fn parse(patch: Value) -> Result<Vec<PatchOperation>, PatchError> {
        parse_json_patch(patch.to_string().as_bytes())
    }

    #[test]
    fn json_patch_is_relative_to_the_target() {
        let mut doc = Some(json!({"a": {"b": 1}}));
        let ops = parse(json!([{"op": "add", "path": "/c", "value": 2}])).unwrap();
        apply_json_patch(&mut doc, &ptr("/a"), &ops).unwrap();
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
        let error = apply_json_patch(&mut doc, &ptr("/a"), &ops).unwrap_err();
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
        assert_eq!(apply_json_patch(&mut doc, &ptr("/x"), &[]), Err(PatchError::NotFound));
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

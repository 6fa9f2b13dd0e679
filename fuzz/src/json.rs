//! JSON values, pointers, URL paths and JSON Patches made from an [`Input`].
//!
//! Names and pointer tokens come from one small alphabet, so that requests in a sequence meet
//! each other's values, and the alphabet holds the tokens whose spelling is tricky (`/`, `~`,
//! `-`, the empty name, leading zeros, non-ASCII). Numbers come from a list of spellings that
//! must be kept exactly as written. A few kinds of value are big or deep on purpose: big enough
//! for pages, parts and streamed bodies in a small layout, deeper than the depth limit.

use super::input::Input;
use jsonstore::core::PointerBuf;
use serde_json::{Map, Value};

/// Member names and pointer tokens.
pub const TOKENS: [&str; 16] = ["a", "b", "c", "0", "1", "2", "-", "", "a/b", "m~n", "10", "01", "k1", "é", "%", " "];

/// Number spellings, each kept as written: exponents, a negative zero, and integers and
/// fractions too long for 64 bits.
const NUMBERS: [&str; 20] = [
    "0",
    "-0",
    "1",
    "2",
    "10",
    "-3",
    "1.5",
    "1.0",
    "0.1",
    "1e2",
    "1E2",
    "100",
    "1e-7",
    "2.5E+3",
    "1e400",
    "-1e-400",
    "9007199254740993",
    "18446744073709551616",
    "-9223372036854775809",
    "123456789012345678901234567890.000000000000000000001",
];

/// Pieces of strings: what needs escaping in JSON, in URLs and in pointers.
const PIECES: [&str; 12] = ["", "a", "fred", "/", "~", "%", "é", "\u{0}", "\"", "\\", "\n", "😀"];

/// A member name or pointer token.
pub fn token(input: &mut Input<'_>) -> &'static str {
    input.pick(&TOKENS)
}

/// A pointer of up to `tokens_max` tokens.
pub fn pointer(input: &mut Input<'_>, tokens_max: usize) -> PointerBuf {
    let count = input.below(tokens_max + 1);
    PointerBuf::from_tokens((0..count).map(|_| token(input)))
}

/// A URL path (and sometimes a query) for a pointer, in one of the spellings that mean it:
/// `~` escapes, percent escapes or both; now and then a bad escape, a trailing slash or a
/// path that is not absolute.
pub fn url_path(input: &mut Input<'_>) -> String {
    if input.one_in(64) {
        return input.pick(&["", "a", "*", "?", "%2F"]).to_owned();
    }
    let count = input.below(5);
    let mut path = String::new();
    for _ in 0..count {
        path.push('/');
        let token = token(input);
        match input.below(8) {
            0 => path.extend(token.bytes().map(|byte| format!("%{byte:02X}"))),
            1 => path.push_str(&token.replace('~', "%7E0").replace('/', "%2F")),
            2 => path.push_str(&token.replace('~', "~0").replace('/', "%2f")),
            _ => path.push_str(&token.replace('~', "~0").replace('/', "~1").replace('%', "%25")),
        }
    }
    if input.one_in(16) {
        path.push('/');
        path.push_str(input.pick(&["%", "%2", "%zz", "~", "~2", "%FF", "%C3", "%00"]));
    }
    if path.is_empty() || input.one_in(8) {
        path.push('/');
    }
    match input.below(16) {
        0 => path.push_str("?x=1"),
        1 => path.push_str("#/a"),
        _ => {}
    }
    path
}

/// A JSON Pointer (RFC 6901) as JSON Patch writes it; now and then a bad one.
pub fn json_pointer(input: &mut Input<'_>) -> String {
    if input.one_in(32) {
        return input.pick(&["a", "/~2", "/~", "#/a", "/a/~"]).to_owned();
    }
    let count = input.below(4);
    (0..count).map(|_| format!("/{}", token(input).replace('~', "~0").replace('/', "~1"))).collect()
}

/// A JSON value nested at most `depth` deep, but for the kinds that are deep on purpose.
pub fn value(input: &mut Input<'_>, depth: usize) -> Value {
    match input.below(if depth == 0 { 8 } else { 32 }) {
        0 => Value::Null,
        1 => Value::Bool(input.byte() % 2 == 1),
        2..=4 => number(input),
        5..=7 => string(input),
        8..=15 => Value::Array((0..input.below(5)).map(|_| value(input, depth - 1)).collect()),
        16..=27 => {
            let mut members = Map::new();
            for _ in 0..input.below(5) {
                members.insert(token(input).to_owned(), value(input, depth - 1));
            }
            Value::Object(members)
        }
        28..=30 => big(input),
        _ => deep(input),
    }
}

/// A number, from the list of spellings or a small integer.
pub fn number(input: &mut Input<'_>) -> Value {
    let text = if input.one_in(2) { input.pick(&NUMBERS).to_owned() } else { input.byte().to_string() };
    serde_json::from_str(&text).expect("the spellings are JSON numbers")
}

fn string(input: &mut Input<'_>) -> Value {
    Value::String((0..input.below(4)).map(|_| input.pick(&PIECES)).collect())
}

/// A value too big to be inline in a small layout: a long string, or an array or object of
/// many members, and now and then one bigger than a streamed body's threshold.
fn big(input: &mut Input<'_>) -> Value {
    let count = match input.below(16) {
        0 => 1000 + input.below(3000),
        _ => 10 + input.below(200),
    };
    match input.below(3) {
        0 => Value::String("x".repeat(count * 8)),
        1 => Value::Array((0..count).map(|at| Value::from(format!("element {at} of the big array"))).collect()),
        _ => Value::Object((0..count).map(|at| (format!("k{at}"), Value::from(at))).collect()),
    }
}

/// Arrays and objects nested up to 140 deep: around the depth limits (64 by default, at most
/// 128).
fn deep(input: &mut Input<'_>) -> Value {
    let levels = input.pick(&[2, 8, 63, 64, 65, 127, 128, 129, 140]);
    let mut value = Value::from(1);
    for level in 0..levels {
        value = if level % 2 == 0 {
            Value::Array(vec![value])
        } else {
            Value::Object(Map::from_iter([("a".to_owned(), value)]))
        };
    }
    value
}

/// The JSON text of `value`, compact or spaced out.
pub fn text(input: &mut Input<'_>, value: &Value) -> Vec<u8> {
    if input.one_in(4) {
        serde_json::to_vec_pretty(value).expect("a Value always serializes")
    } else {
        serde_json::to_vec(value).expect("a Value always serializes")
    }
}

/// A merge patch: mostly an object whose `null` members remove, sometimes any value.
pub fn merge_patch(input: &mut Input<'_>) -> Value {
    if input.one_in(4) {
        return value(input, 3);
    }
    let mut members = Map::new();
    for _ in 0..input.below(4) {
        let member = if input.one_in(3) { Value::Null } else { merge_patch_member(input) };
        members.insert(token(input).to_owned(), member);
    }
    Value::Object(members)
}

fn merge_patch_member(input: &mut Input<'_>) -> Value {
    if input.one_in(3) { merge_patch(input) } else { value(input, 2) }
}

/// A JSON Patch: mostly well-formed operations on the alphabet's pointers, now and then one
/// with a member missing, one too many, or an unknown `op`.
pub fn json_patch(input: &mut Input<'_>) -> Value {
    Value::Array((0..input.below(5)).map(|_| operation(input)).collect())
}

fn operation(input: &mut Input<'_>) -> Value {
    let op = input.pick(&["add", "add", "remove", "replace", "move", "copy", "test", "test", "frob"]);
    let mut members = Map::new();
    members.insert("op".into(), op.into());
    members.insert("path".into(), json_pointer(input).into());
    if matches!(op, "move" | "copy") {
        members.insert("from".into(), json_pointer(input).into());
    }
    if matches!(op, "add" | "replace" | "test") {
        members.insert("value".into(), value(input, 2));
    }
    match input.below(16) {
        0 => {
            let name = input.pick(&["op", "path", "from", "value"]);
            members.remove(name);
        }
        1 => {
            members.insert(input.pick(&["from", "value", "extra"]).into(), number(input));
        }
        _ => {}
    }
    Value::Object(members)
}

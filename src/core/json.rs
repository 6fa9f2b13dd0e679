//! Parsing client JSON with a bound on nesting, and one check for every body.
//!
//! The nesting depth is checked by a byte scan before `serde_json` sees the input, so a
//! hostile body is rejected in linear time, and input known to be shallow enough is parsed
//! without `serde_json`'s own recursion limit (which stops at 127 levels). Whether input is
//! too deep is decided by the scan alone, never read from the wording of a `serde_json` error.
//!
//! A big body is stored as it is parsed, so it must be known to be good before the first
//! record is written; [`validate`] decides that without building it, and [`parse`] calls
//! it too, so a body is accepted or refused alike whichever way it is then read.

use crate::core::{Pointer, Token};
use jsonptr::index::Index;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::de::{SliceRead, StrRead};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// The deepest nesting a document may have.
pub const DEPTH_MAX_LIMIT: usize = 128;

/// Why a body is not acceptable JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonError {
    /// Not JSON; `line` and `column` are 1-based.
    Syntax {
        /// What `serde_json` said.
        message: String,
        /// The line of the error.
        line: usize,
        /// The column of the error.
        column: usize,
    },
    /// Nested deeper than allowed.
    TooDeep {
        /// The allowed depth.
        depth_max: usize,
    },
}

/// Parses `bytes` as one JSON value nested at most `depth_max` arrays or objects deep, once
/// [`validate`] accepts them: what is parsed and what is stored as it is parsed pass one check.
pub fn parse(bytes: &[u8], depth_max: usize) -> Result<Value, JsonError> {
    validate(bytes, depth_max)?;
    Value::deserialize(&mut unbounded(bytes)).map_err(|error| syntax(&error))
}

/// Checks that `bytes` is one JSON value nested at most `depth_max` deep, without building it:
/// every string and member name is decoded, so a lone surrogate (`"\ud800"`) or bytes that are
/// not UTF-8 are errors, as they are when the value is built; and no object names a member
/// twice, since which of the two would count is anybody's guess (RFC 8259, section 4).
pub fn validate(bytes: &[u8], depth_max: usize) -> Result<(), JsonError> {
    let mut deserializer = bounded(bytes, depth_max.min(DEPTH_MAX_LIMIT))?;
    Checked.deserialize(&mut deserializer).and_then(|()| deserializer.end()).map_err(|error| syntax(&error))
}

/// The member name under which `serde_json` (with its `arbitrary_precision` feature) hands a
/// number to a visitor: a map with one member, the number's text.
pub const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// One value, checked as [`validate`] says, without building it.
struct Checked;

impl<'de> DeserializeSeed<'de> for Checked {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checked {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Checked)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut names = Vec::new();
        while let Some(name) = map.next_key_seed(Name)? {
            if names.is_empty() && name == NUMBER_TOKEN {
                // A number, checked as `Value` reads it (and as an object that starts with
                // this name is read too: the same way, whichever path the body takes).
                let text = map.next_value_seed(Name)?;
                text.parse::<serde_json::Number>().map_err(de::Error::custom)?;
                return Ok(());
            }
            map.next_value_seed(Checked)?;
            names.push(name);
        }
        names.sort_unstable();
        match names.windows(2).find(|pair| pair[0] == pair[1]) {
            Some(pair) => Err(de::Error::custom(format_args!("the member name {:?} appears twice", pair[0]))),
            None => Ok(()),
        }
    }
}

/// A string, borrowed from the input when it has no escapes.
struct Name;

impl<'de> DeserializeSeed<'de> for Name {
    type Value = Cow<'de, str>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Name {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(text))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(text.to_owned()))
    }
}

/// A deserializer for `bytes` once a scan has shown they nest at most `depth_max` deep, or
/// [`JsonError::TooDeep`]. The scan bounds the recursion, so the deserializer has no recursion
/// limit of its own; `depth_max` is not capped, so that a record may wrap a value as deep as
/// a document can be.
pub fn bounded(bytes: &[u8], depth_max: usize) -> Result<serde_json::Deserializer<SliceRead<'_>>, JsonError> {
    if nesting(bytes) > depth_max {
        return Err(JsonError::TooDeep { depth_max });
    }
    Ok(unbounded(bytes))
}

/// A deserializer for `bytes` without `serde_json`'s recursion limit: only for input whose
/// [`nesting`] is known to be bounded (a checked body, or a record written from one), so that
/// the recursion is bounded all the same. [`bounded`] checks first.
pub fn unbounded(bytes: &[u8]) -> serde_json::Deserializer<SliceRead<'_>> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    deserializer.disable_recursion_limit();
    deserializer
}

/// The deepest nesting of arrays and objects in `bytes`: brackets are counted outside strings,
/// and a string ends at a quote that no backslash escapes.
///
/// For JSON it is the depth of the value; for other input it is at least the depth `serde_json`
/// reaches before it finds the error, so it bounds the recursion either way.
pub fn nesting(bytes: &[u8]) -> usize {
    let (mut level, mut deepest) = (0usize, 0usize);
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'"' => at = string_end(bytes, at + 1),
            b'[' | b'{' => {
                level += 1;
                deepest = deepest.max(level);
            }
            b']' | b'}' => level = level.saturating_sub(1),
            _ => {}
        }
        at += 1;
    }
    deepest
}

/// The offset of the quote that ends the string whose text starts at `at`, or the length of
/// `bytes` if none does. It looks only for quotes and backslashes, which makes the scan twice
/// as fast as going byte by byte through long strings.
fn string_end(bytes: &[u8], mut at: usize) -> usize {
    let special = |byte: &u8| matches!(byte, b'"' | b'\\');
    while let Some(offset) = bytes.get(at..).and_then(|rest| rest.iter().position(special)) {
        at += offset;
        if bytes[at] == b'"' {
            return at;
        }
        // A backslash and the byte it escapes.
        at += 2;
    }
    bytes.len()
}

/// A syntax error with `serde_json`'s message, less its " at line L column C" suffix, which is
/// reported apart.
fn syntax(error: &serde_json::Error) -> JsonError {
    let message = error.to_string();
    let message = match message.rfind(" at line ") {
        Some(end) => message[..end].to_owned(),
        None => message,
    };
    JsonError::Syntax { message, line: error.line(), column: error.column() }
}

/// The JSON text of the value at `pointer` in the JSON text `json`, with the semantics of
/// [`crate::core::document::get`], found without parsing what is not on the way: each step
/// skips the other members or elements. `json` must have a [`nesting`] known to be bounded.
///
/// A walk by hand, token by token: `jsonptr`'s `resolve` walks a parsed `Value`, and the point
/// here is not to parse one.
pub fn find<'a>(json: &'a RawValue, pointer: &Pointer) -> Result<Option<&'a RawValue>, serde_json::Error> {
    let mut at = json;
    for token in pointer.tokens() {
        let text = at.get();
        let mut deserializer = serde_json::Deserializer::new(StrRead::new(text));
        deserializer.disable_recursion_limit();
        let next = match text.as_bytes().first() {
            Some(b'{') => Step { token: &token }.deserialize(&mut deserializer)?,
            Some(b'[') => match token.to_index() {
                Ok(Index::Num(_)) => Step { token: &token }.deserialize(&mut deserializer)?,
                _ => None,
            },
            _ => None,
        };
        match next {
            Some(next) => at = next,
            None => return Ok(None),
        }
    }
    Ok(Some(at))
}

/// One step of [`find`]: the member or element named by `token` in an object or array.
struct Step<'t, 'p> {
    token: &'t Token<'p>,
}

impl<'de> DeserializeSeed<'de> for Step<'_, '_> {
    type Value = Option<&'de RawValue>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Step<'_, '_> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object or an array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let name = self.token.decoded();
        let mut found = None;
        while let Some(matches) = map.next_key_seed(NameIs(&name))? {
            if found.is_none() && matches {
                found = Some(map.next_value::<&'de RawValue>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let Ok(Index::Num(index)) = self.token.to_index() else { return Ok(None) };
        let mut found = None;
        let mut at = 0;
        loop {
            if at == index {
                match seq.next_element::<&'de RawValue>()? {
                    Some(value) => found = Some(value),
                    None => return Ok(None),
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(found);
            }
            at += 1;
        }
    }
}

/// Whether a string is the one sought, compared without copying it when it has no escapes.
pub struct NameIs<'a>(pub &'a str);

impl<'de> DeserializeSeed<'de> for NameIs<'_> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for NameIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<bool, E> {
        Ok(name == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::document::depth;
    use proptest::prelude::{Just, Strategy, any, prop_oneof};

    #[test]
    fn reports_line_and_column() {
        let error = parse(b"{\n  \"a\": @\n}", 64).unwrap_err();
        assert_eq!(error, JsonError::Syntax { message: "expected value".into(), line: 2, column: 8 });
    }

    #[test]
    fn bounds_depth() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(parse(deep(3).as_bytes(), 3).is_ok());
        assert_eq!(parse(deep(4).as_bytes(), 3), Err(JsonError::TooDeep { depth_max: 3 }));
        assert_eq!(parse(deep(200).as_bytes(), 1000), Err(JsonError::TooDeep { depth_max: DEPTH_MAX_LIMIT }));
        assert!(parse(br#"{"a":"[[[[\"[[["}"#, 1).is_ok());
        assert!(parse(deep(DEPTH_MAX_LIMIT).as_bytes(), DEPTH_MAX_LIMIT).is_ok(), "past serde_json's own limit");
        assert!(validate(deep(DEPTH_MAX_LIMIT).as_bytes(), DEPTH_MAX_LIMIT).is_ok());
        assert_eq!(validate(deep(4).as_bytes(), 3), Err(JsonError::TooDeep { depth_max: 3 }));
        let record = deep(DEPTH_MAX_LIMIT + 4);
        let mut deserializer = bounded(record.as_bytes(), DEPTH_MAX_LIMIT + 4).unwrap();
        assert!(IgnoredAny::deserialize(&mut deserializer).is_ok(), "a record may be deeper than a document");
        assert!(matches!(bounded(record.as_bytes(), DEPTH_MAX_LIMIT + 3), Err(JsonError::TooDeep { depth_max: 131 })));
    }

    /// What building a value refuses, checking it without building refuses too: the streamed
    /// path stores what `validate` accepts.
    #[test]
    fn validate_refuses_what_parse_refuses() {
        let bad: [&[u8]; 9] = [
            br#""\ud800""#,
            br#"["a", "\udc00x"]"#,
            br#"{"\ud83d": 1}"#,
            b"\"caf\xe9\"",
            b"{\"\xff\": 1}",
            b"\xef\xbb\xbf1",
            br#"{"$serde_json::private::Number": "one"}"#,
            br#"{"$serde_json::private::Number": "1", "b": 2}"#,
            br#"[1, 2"#,
        ];
        for body in bad {
            let shown = String::from_utf8_lossy(body);
            assert!(matches!(validate(body, 8), Err(JsonError::Syntax { .. })), "{shown}");
            assert!(matches!(parse(body, 8), Err(JsonError::Syntax { .. })), "{shown}");
        }
        assert_eq!(parse(br#""\ud83d\ude00""#, 8), Ok(Value::String("\u{1F600}".into())));
        assert_eq!(parse(br#"{"a\u0000b": "\u0000"}"#, 8).unwrap()["a\u{0}b"], "\u{0}");
    }

    #[test]
    fn a_member_named_twice_is_refused() {
        for body in [r#"{"a": 1, "a": 2}"#, r#"{"a": 1, "b": 2, "a": 1}"#, r#"[{"x": {"a": 1, "\u0061": 2}}]"#] {
            let Err(JsonError::Syntax { message, .. }) = parse(body.as_bytes(), 8) else { panic!("{body} parsed") };
            assert!(message.contains(r#""a" appears twice"#), "{message}");
            assert!(validate(body.as_bytes(), 8).is_err(), "{body}");
        }
        assert!(parse(br#"{"a": {"a": 1}, "b": {"a": 2}}"#, 8).is_ok(), "the same name in different objects");
    }

    #[test]
    fn a_body_200_000_deep_is_refused_before_parsing() {
        let too_deep = Err(JsonError::TooDeep { depth_max: DEPTH_MAX_LIMIT });
        let open = "[".repeat(200_000);
        let closed = format!("{open}{}", "]".repeat(200_000));
        let members = format!("{}1{}", r#"{"a":"#.repeat(200_000), "}".repeat(200_000));
        for body in [&open, &closed, &members] {
            assert_eq!(parse(body.as_bytes(), DEPTH_MAX_LIMIT), too_deep);
            assert_eq!(validate(body.as_bytes(), DEPTH_MAX_LIMIT).map(|()| Value::Null), too_deep);
        }
        let string = format!("\"{open}\"");
        assert_eq!(parse(string.as_bytes(), DEPTH_MAX_LIMIT), Ok(Value::String(open)));
    }

    #[test]
    fn nesting_skips_strings_and_their_escapes() {
        let check = |json: &str, depth: usize| assert_eq!(nesting(json.as_bytes()), depth, "{json}");
        check("1", 0);
        check("[]", 1);
        check(r#"{"a":[1,{"b":[]}]}"#, 4);
        check(r#"["[[", "]]]", "{"]"#, 1);
        check(r#"["\"[["]"#, 1);
        check(r#"["\\", []]"#, 2);
        check(r#"["\\\"[", []]"#, 2);
        check(r#"["\u005b\u007B", "\/"]"#, 1);
        check(r#"{"[": {"]": ["{"]}}"#, 3);
        check("[\"caf\u{e9} \u{1F600} [\"]", 1);
        check(r#""\"["#, 0);
        check(r#"[["\"#, 2);
        check(r#"[[""#, 2);
        check("]]][", 1);
    }

    /// The scan one byte at a time, which [`nesting`] must agree with on any bytes.
    fn nesting_byte_by_byte(bytes: &[u8]) -> usize {
        let (mut level, mut deepest) = (0usize, 0usize);
        let (mut in_string, mut escaped) = (false, false);
        for &byte in bytes {
            match byte {
                _ if in_string && escaped => escaped = false,
                b'\\' if in_string => escaped = true,
                b'"' => in_string = !in_string,
                _ if in_string => {}
                b'[' | b'{' => {
                    level += 1;
                    deepest = deepest.max(level);
                }
                b']' | b'}' => level = level.saturating_sub(1),
                _ => {}
            }
        }
        deepest
    }

    /// Random JSON values with strings full of brackets, quotes and backslashes.
    fn values() -> impl Strategy<Value = Value> {
        let text = "[\\[\\]{}\"\\\\/a\u{e9}\u{1F600}\n\t\u{1}]{0,6}";
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |float| float.is_finite()).prop_map(Value::from),
            text.prop_map(Value::String),
        ];
        leaf.prop_recursive(8, 64, 4, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec((text, inner), 0..4)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    /// Writes `value` as JSON, picking at random (from `seed`) among the ways to escape each
    /// character and where to put whitespace, so the text has escapes `serde_json` never writes.
    fn write(value: &Value, seed: &mut u64, out: &mut String) {
        let mut pick = |choices: usize| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            (*seed % choices as u64) as usize
        };
        out.push_str(["", " ", "\n\t"][pick(3)]);
        match value {
            Value::String(text) => {
                out.push('"');
                for character in text.chars() {
                    let unicode = format!("\\u{:04x}", u32::from(character));
                    let escaped = match character {
                        '"' => ["\\\"", &unicode][pick(2)].to_owned(),
                        '\\' => ["\\\\", &unicode][pick(2)].to_owned(),
                        '/' => ["/", "\\/"][pick(2)].to_owned(),
                        '\n' => ["\\n", &unicode][pick(2)].to_owned(),
                        '\t' => ["\\t", &unicode][pick(2)].to_owned(),
                        '\u{0}'..='\u{1f}' => unicode,
                        '[' | ']' | '{' | '}' => [character.to_string(), unicode][pick(2)].clone(),
                        _ => character.to_string(),
                    };
                    out.push_str(&escaped);
                }
                out.push('"');
            }
            Value::Array(items) => {
                out.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    write(item, seed, out);
                }
                out.push(']');
            }
            Value::Object(members) => {
                out.push('{');
                for (index, (name, member)) in members.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    write(&Value::String(name.clone()), seed, out);
                    out.push(':');
                    write(member, seed, out);
                }
                out.push('}');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }

    proptest::proptest! {
        /// The scan finds the depth of the value the text parses to, however its strings are
        /// escaped.
        #[test]
        fn nesting_is_the_depth_of_the_parsed_value(value in values(), seed in 1u64..) {
            let mut seed = seed;
            let mut text = String::new();
            write(&value, &mut seed, &mut text);
            let parsed = parse(text.as_bytes(), DEPTH_MAX_LIMIT).unwrap();
            proptest::prop_assert_eq!(&parsed, &value, "{}", text);
            proptest::prop_assert_eq!(nesting(text.as_bytes()), depth(&parsed), "{}", text);
            let compact = serde_json::to_string(&value).unwrap();
            proptest::prop_assert_eq!(nesting(compact.as_bytes()), depth(&value), "{}", compact);
        }

        /// The scan that skips through strings finds what going byte by byte finds, in JSON
        /// or not.
        #[test]
        fn nesting_is_the_byte_by_byte_nesting(bytes in proptest::collection::vec(proptest::sample::select(b"[]{}\"\\a ".to_vec()), 0..40)) {
            proptest::prop_assert_eq!(nesting(&bytes), nesting_byte_by_byte(&bytes));
        }

        /// Every number comes back as it was written, with every digit: the text of any
        /// finite `f64`, and integers of any length.
        #[test]
        fn numbers_are_kept_as_written(bits in proptest::prelude::any::<u64>(), digits in "-?[1-9][0-9]{0,60}") {
            let float = f64::from_bits(bits);
            proptest::prop_assume!(float.is_finite());
            for text in [serde_json::to_string(&float).unwrap(), digits] {
                let parsed = parse(text.as_bytes(), DEPTH_MAX_LIMIT).unwrap();
                proptest::prop_assert_eq!(parsed.to_string(), text);
            }
        }
    }
}

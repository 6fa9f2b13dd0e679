//! Parsing client JSON with a bound on nesting.
//!
//! The nesting depth is checked by a byte scan before `serde_json` sees the input, so a
//! hostile body is rejected in linear time, and input known to be shallow enough is parsed
//! without `serde_json`'s own recursion limit (which stops at 127 levels).

use crate::core::{Pointer, Token};
use jsonptr::index::Index;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::de::{SliceRead, StrRead};
use serde_json::value::RawValue;
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

/// Parses `bytes` as one JSON value nested at most `depth_max` arrays or objects deep.
pub fn parse(bytes: &[u8], depth_max: usize) -> Result<Value, JsonError> {
    let depth_max = depth_max.min(DEPTH_MAX_LIMIT);
    if nesting(bytes) > depth_max {
        return Err(JsonError::TooDeep { depth_max });
    }
    let mut deserializer = unbounded(bytes);
    serde::Deserialize::deserialize(&mut deserializer).and_then(|value| deserializer.end().map(|()| value)).map_err(
        |error| JsonError::Syntax { message: syntax_message(&error), line: error.line(), column: error.column() },
    )
}

/// Checks that `bytes` is one JSON value nested at most `depth_max` deep, without building it.
pub fn validate(bytes: &[u8], depth_max: usize) -> Result<(), JsonError> {
    let depth_max = depth_max.min(DEPTH_MAX_LIMIT);
    if nesting(bytes) > depth_max {
        return Err(JsonError::TooDeep { depth_max });
    }
    let mut deserializer = unbounded(bytes);
    <serde::de::IgnoredAny as serde::Deserialize>::deserialize(&mut deserializer)
        .and_then(|_| deserializer.end())
        .map_err(|error| JsonError::Syntax {
            message: syntax_message(&error),
            line: error.line(),
            column: error.column(),
        })
}

/// A deserializer for `bytes` without `serde_json`'s recursion limit: only for input whose
/// [`nesting`] is known to be bounded (a checked body, or a record written from one), so that
/// the recursion is bounded all the same.
pub fn unbounded(bytes: &[u8]) -> serde_json::Deserializer<SliceRead<'_>> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    deserializer.disable_recursion_limit();
    deserializer
}

/// The deepest bracket nesting in `bytes`, ignoring brackets inside strings.
pub fn nesting(bytes: &[u8]) -> usize {
    let (mut level, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &byte in bytes {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
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

/// `serde_json`'s message without its " at line L column C" suffix, which we report apart.
fn syntax_message(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(end) => message[..end].to_owned(),
        None => message,
    }
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
    }

    proptest::proptest! {
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

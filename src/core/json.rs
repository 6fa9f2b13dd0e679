//! Parsing client JSON with a bound on nesting.
//!
//! The nesting depth is checked by a byte scan before `serde_json` sees the input, so a
//! hostile body is rejected in linear time, and input known to be shallow enough is parsed
//! without `serde_json`'s own recursion limit (which stops at 127 levels).

use serde_json::Value;
use serde_json::de::SliceRead;

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
}

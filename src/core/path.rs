//! URL paths as JSON Pointers (RFC 6901).
//!
//! The URL path is split on `/`, each segment is percent-decoded on its own (so `%2F` is a
//! slash inside a member name, like `~1`), and then `~1` and `~0` are unescaped.
//! One trailing slash is ignored, so `/sniffles/` is `/sniffles` and `/` is the whole document;
//! the member named by the empty string is therefore reached with one more slash: `//`.

use super::{Pointer, PointerBuf, Token};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// Why a URL path is not a JSON Pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// The path does not start with `/`.
    NotAbsolute,
    /// A `%` is not followed by two hexadecimal digits, or the bytes are not UTF-8.
    BadPercentEncoding,
    /// A `~` is not followed by `0` or `1`.
    BadTildeEscape,
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PathError::NotAbsolute => "the path must start with '/'",
            PathError::BadPercentEncoding => {
                "the path has an invalid percent-encoding ('%' must be followed by two hex digits encoding UTF-8)"
            }
            PathError::BadTildeEscape => "the path has a '~' that is not followed by '0' or '1'",
        })
    }
}

/// Parses the path part of a URL (no query) into a pointer.
pub fn parse(url_path: &str) -> Result<PointerBuf, PathError> {
    let rest = url_path.strip_prefix('/').ok_or(PathError::NotAbsolute)?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let mut pointer = PointerBuf::new();
    if url_path == "/" {
        return Ok(pointer);
    }
    for segment in rest.split('/') {
        pointer.push_back(Token::new(unescape(&percent_decode(segment)?)?));
    }
    Ok(pointer)
}

/// Characters escaped in a path segment: controls, space, and what URLs give meaning to.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// Renders a pointer as a URL path that [`parse`] reads back to the same pointer.
pub fn render(pointer: &Pointer) -> String {
    if pointer.is_root() {
        return "/".to_owned();
    }
    let mut out = String::new();
    for token in pointer.tokens() {
        out.push('/');
        out.extend(utf8_percent_encode(token.encoded(), SEGMENT));
    }
    // A trailing empty token needs the extra slash that `parse` strips.
    if pointer.back().is_some_and(|token| token.decoded().is_empty()) {
        out.push('/');
    }
    out
}

/// Undoes RFC 6901 escapes: `~1` is `/` and `~0` is `~`, in that order.
fn unescape(token: &str) -> Result<String, PathError> {
    let mut rest = token;
    while let Some(at) = rest.find('~') {
        if !matches!(rest.as_bytes().get(at + 1), Some(b'0' | b'1')) {
            return Err(PathError::BadTildeEscape);
        }
        rest = &rest[at + 2..];
    }
    Ok(token.replace("~1", "/").replace("~0", "~"))
}

/// Strictly percent-decodes one segment: every `%` must start a `%XX` escape.
fn percent_decode(segment: &str) -> Result<String, PathError> {
    let bytes = segment.as_bytes();
    if !bytes.contains(&b'%') {
        return Ok(segment.to_owned());
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(PathError::BadPercentEncoding)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return Err(PathError::BadPercentEncoding);
            }
            let hex = std::str::from_utf8(hex).expect("hex digits are ASCII");
            out.push(u8::from_str_radix(hex, 16).expect("two hex digits make a byte"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| PathError::BadPercentEncoding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(url: &str, tokens: &[&str]) {
        let pointer = parse(url).unwrap();
        let got: Vec<String> = pointer.tokens().map(|t| t.decoded().into_owned()).collect();
        assert_eq!(got, tokens, "parsing {url}");
    }

    #[test]
    fn parses_paths() {
        check("/", &[]);
        check("/sniffles", &["sniffles"]);
        check("/sniffles/", &["sniffles"]);
        check("/sniffles/0", &["sniffles", "0"]);
        check("//", &[""]);
        check("/a//", &["a", ""]);
        check("/a//b", &["a", "", "b"]);
        check("/a~1b/m~0n", &["a/b", "m~n"]);
        check("/a%2Fb", &["a/b"]);
        check("/c%25d/%20/caf%C3%A9", &["c%d", " ", "café"]);
        check("/%7E1", &["/"]);
        check("/~01", &["~1"]);
    }

    #[test]
    fn rejects_bad_paths() {
        assert_eq!(parse(""), Err(PathError::NotAbsolute));
        assert_eq!(parse("a"), Err(PathError::NotAbsolute));
        assert_eq!(parse("/a%"), Err(PathError::BadPercentEncoding));
        assert_eq!(parse("/a%2"), Err(PathError::BadPercentEncoding));
        assert_eq!(parse("/a%zz"), Err(PathError::BadPercentEncoding));
        assert_eq!(parse("/a%+f"), Err(PathError::BadPercentEncoding));
        assert_eq!(parse("/%FF"), Err(PathError::BadPercentEncoding));
        assert_eq!(parse("/a~2"), Err(PathError::BadTildeEscape));
        assert_eq!(parse("/a~"), Err(PathError::BadTildeEscape));
    }

    #[test]
    fn renders_paths() {
        let pointer = PointerBuf::from_tokens(["a/b", "", "c d", "%", "~"]);
        assert_eq!(render(&pointer), "/a~1b//c%20d/%25/~0");
        assert_eq!(render(&PointerBuf::from_tokens([""])), "//");
        assert_eq!(render(&PointerBuf::new()), "/");
    }

    proptest! {
        #[test]
        fn render_then_parse_round_trips(tokens in proptest::collection::vec(".*", 0..5)) {
            let pointer = PointerBuf::from_tokens(tokens.iter().map(String::as_str));
            prop_assert_eq!(parse(&render(&pointer)).unwrap(), pointer);
        }
    }
}

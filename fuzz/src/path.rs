//! URL paths to pointers and back: `core::path::parse` and `render`.
//!
//! The input is both a URL path (read as UTF-8, lossily) and, split at its tabs, the tokens
//! of a pointer. Checked: parsing never panics; a path that parses renders to a path that
//! parses to the same pointer; a pointer renders to a path that parses back to it; and a
//! rendered path is an absolute URL path of visible ASCII without `?` or `#`, so that a request
//! target made of it names the same pointer.

use jsonstore::core::PointerBuf;
use jsonstore::core::path::{parse, render};

/// Runs an input.
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(pointer) = parse(&text) {
        round_trip(&pointer, &format!("the path {text:?}"));
    }
    let pointer = PointerBuf::from_tokens(text.split('\t'));
    round_trip(&pointer, &format!("the tokens {:?}", text.split('\t').collect::<Vec<_>>()));
}

/// Renders `pointer`, checks the path, and parses it back.
fn round_trip(pointer: &PointerBuf, what: &str) {
    let rendered = render(pointer);
    assert!(
        rendered.starts_with('/') && rendered.bytes().all(|byte| byte.is_ascii_graphic() && !b"?#".contains(&byte)),
        "{what} renders to {rendered:?}, not an absolute path of visible ASCII without '?' or '#'"
    );
    assert_eq!(
        parse(&rendered).as_ref(),
        Ok(pointer),
        "{what} renders to {rendered:?}, which parses to another pointer"
    );
}

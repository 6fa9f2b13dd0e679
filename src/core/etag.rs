//! Strong entity tags: a hash of a value's canonical JSON.
//!
//! `serde_json` keeps object members sorted, so equal values serialize to equal bytes and
//! get equal tags, wherever they are stored. A tag is the content hash of that JSON
//! ([`hash::hex`]), in the encoding storage records use for their hashes.

use super::hash;

/// The strong ETag (with its quotes) of a value serialized as `json`.
pub fn of(json: &[u8]) -> String {
    format!("\"{}\"", hash::hex(json))
}

/// Whether an `If-Match` or `If-None-Match` header value matches `current`, the tag of the
/// value there now (`None` when there is no value). `*` matches any existing value.
///
/// Comparison is byte-for-byte on the opaque tag; a weak tag (`W/"…"`) matches its strong
/// twin only when `weak` is allowed (the weak comparison `If-None-Match` uses).
pub fn matches(header: &str, current: Option<&str>, weak: bool) -> bool {
    let Some(current) = current else { return false };
    header.split(',').map(str::trim).any(|candidate| {
        if candidate == "*" {
            return true;
        }
        match candidate.strip_prefix("W/") {
            Some(strong) => weak && strong == current,
            None => candidate == current,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_quoted_and_stable() {
        let tag = of(b"{\"a\":1}");
        assert_eq!(tag.len(), 34);
        assert!(tag.starts_with('"') && tag.ends_with('"'));
        assert_eq!(tag, of(b"{\"a\":1}"));
        assert_ne!(tag, of(b"{\"a\":2}"));
    }

    #[test]
    fn tags_are_the_first_sixteen_bytes_of_blake3_in_hex() {
        assert_eq!(of(b""), "\"af1349b9f5f9a1a6a0404dea36dcc949\"");
        assert_eq!(of(b"2"), "\"813e9b729141e7f385afa0a2d0df3e6c\"");
    }

    #[test]
    fn matching() {
        let tag = of(b"1");
        assert!(matches("*", Some(&tag), false));
        assert!(!matches("*", None, false));
        assert!(matches(&format!("\"x\", {tag}"), Some(&tag), false));
        assert!(!matches(&format!("W/{tag}"), Some(&tag), false));
        assert!(matches(&format!("W/{tag}"), Some(&tag), true));
        assert!(!matches("\"other\"", Some(&tag), true));
    }
}

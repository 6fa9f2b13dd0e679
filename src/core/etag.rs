//! Strong entity tags: a hash of a value's canonical JSON.
//!
//! `serde_json` keeps object members sorted, so equal values serialize to equal bytes and
//! get equal tags, wherever they are stored.

/// The strong ETag (with its quotes) of a value serialized as `json`.
pub fn of(json: &[u8]) -> String {
    let hash = blake3::hash(json);
    let mut tag = String::with_capacity(34);
    tag.push('"');
    for byte in &hash.as_bytes()[..16] {
        tag.push_str(&format!("{byte:02x}"));
    }
    tag.push('"');
    tag
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

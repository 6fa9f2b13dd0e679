//! How the document is laid out in the key-value store.
//!
//! Layout 1 keeps the whole document under one key, [`DOCUMENT_KEY`], so that one
//! compare-and-swap of that key commits a write all-or-nothing. The value is empty when the
//! store holds no document, and otherwise the byte [`FORMAT_1`] followed by the document's
//! compact JSON. The leading byte lets a later layout (a chunked tree) tell its records apart.

use serde_json::Value;

/// The key that holds the document.
pub const DOCUMENT_KEY: &str = "jsonstore.document";

/// The first byte of a layout 1 record.
pub const FORMAT_1: u8 = b'1';

/// A stored record that this layout cannot read: the store was changed by something else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrupt(pub String);

/// Encodes the document (or its absence) as the value stored under [`DOCUMENT_KEY`].
pub fn encode(doc: Option<&Value>) -> Vec<u8> {
    let Some(doc) = doc else { return Vec::new() };
    let mut bytes = vec![FORMAT_1];
    serde_json::to_writer(&mut bytes, doc).expect("a Value always serializes");
    bytes
}

/// Decodes what [`encode`] wrote; a missing key is no document.
pub fn decode(bytes: Option<&[u8]>) -> Result<Option<Value>, Corrupt> {
    match bytes {
        None | Some([]) => Ok(None),
        Some([FORMAT_1, json @ ..]) => serde_json::from_slice(json)
            .map(Some)
            .map_err(|error| Corrupt(format!("the stored document is not valid JSON: {error}"))),
        Some([tag, ..]) => Err(Corrupt(format!("unknown record format {tag:#04x}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips() {
        for doc in [None, Some(json!(null)), Some(json!({"a": [1, "x"]}))] {
            assert_eq!(decode(Some(&encode(doc.as_ref()))).unwrap(), doc);
        }
        assert_eq!(decode(None).unwrap(), None);
    }

    #[test]
    fn rejects_foreign_records() {
        assert!(decode(Some(b"{}")).is_err());
        assert!(decode(Some(b"1{")).is_err());
    }
}

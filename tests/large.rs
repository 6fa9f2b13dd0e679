//! A 100 MB document, end to end: written whole (stored as it is parsed), read whole
//! (streamed), and read and written at its leaves; no stored value is larger than a chunk.

#![cfg(feature = "e2e")]

mod common;

use common::Server;
use serde_json::json;

/// The canonical JSON (members sorted, compact) of a document of `items` records.
fn document(items: usize) -> String {
    let mut text = String::from(r#"{"items":["#);
    for i in 0..items {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&format!(r#"{{"id":{i},"name":"item {i}","tags":["a","b"],"text":"{}"}}"#, "x".repeat(160)));
    }
    text.push_str(r#"],"meta":{"title":"large"}}"#);
    text
}

#[test]
fn a_100_mb_document_round_trips_and_serves_its_leaves() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with(data.path(), &[("JSONSTORE_BODY_BYTES_MAX", "134217728")]);
    let items = 460_000;
    let body = document(items);
    assert!(body.len() > 100_000_000, "{} bytes", body.len());

    let written = server.put("/", &body);
    assert_eq!(written.expect(201).body, body.as_bytes(), "the stored value comes back");
    let whole = server.get("/");
    assert_eq!(whole.expect(200).header("content-length"), None, "the whole document is streamed");
    assert!(whole.body == body.as_bytes(), "the document reads back byte for byte");
    assert_eq!(whole.header("etag"), written.header("etag"));

    let last = items - 1;
    assert_eq!(server.get(&format!("/items/{last}/name")).expect(200).json(), json!(format!("item {last}")));
    server.put("/items/123456/name", r#""renamed""#).expect(200);
    server.send("DELETE", "/items/0", &[], "").expect(204);
    server.send("POST", "/items", &[], r#"{"id":"new"}"#).expect(201);
    assert_eq!(server.get("/items/123455/name").json(), json!("renamed"));
    assert_eq!(server.get(&format!("/items/{last}")).json(), json!({"id": "new"}));
    assert_eq!(server.get("/meta").json(), json!({"title": "large"}));

    // Every stored file holds at most one chunk (1 MiB by default) plus the provider's header byte.
    let mut largest = 0;
    let mut stack = vec![data.path().to_owned()];
    // The last writes delete what they replaced after answering, so files may vanish while
    // they are walked: those are skipped.
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        for entry in entries.flatten() {
            let Ok(metadata) = entry.metadata() else { continue };
            if metadata.is_dir() {
                stack.push(entry.path());
            } else {
                largest = largest.max(metadata.len());
            }
        }
    }
    assert!(largest <= 1024 * 1024 + 1, "a stored value of {largest} bytes");
}

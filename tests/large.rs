//! A document larger than any single stored value, end to end: written whole, read whole
//! (streamed), and read and written at its leaves.

mod common;

use common::Server;
use serde_json::{Value, json};

#[test]
fn a_large_document_round_trips_and_serves_its_leaves() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with(data.path(), &[("JSONSTORE_BODY_BYTES_MAX", "67108864")]);
    let items: Vec<Value> = (0..60_000)
        .map(|i| json!({"id": i, "name": format!("item {i}"), "tags": ["a", "b"], "text": "x".repeat(300)}))
        .collect();
    let doc = json!({"items": items, "meta": {"title": "large"}});
    let body = doc.to_string();
    assert!(body.len() > 20_000_000, "{} bytes", body.len());

    server.put("/", &body).expect(201);
    let whole = server.get("/");
    assert_eq!(whole.expect(200).header("content-length"), None, "the whole document is streamed");
    assert_eq!(whole.json(), doc);

    assert_eq!(server.get("/items/54321/name").expect(200).json(), json!("item 54321"));
    server.put("/items/54321/name", r#""renamed""#).expect(200);
    server.send("DELETE", "/items/0", &[], "").expect(204);
    server.send("POST", "/items", &[], r#"{"id":"new"}"#).expect(201);
    assert_eq!(server.get("/items/54320/name").json(), json!("renamed"));
    assert_eq!(server.get("/items/59999").json(), json!({"id": "new"}));

    // Every stored file holds at most one chunk (1 MiB by default) plus the provider's header byte.
    let mut largest = 0;
    let mut stack = vec![data.path().to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                largest = largest.max(entry.metadata().unwrap().len());
            }
        }
    }
    assert!(largest <= 1024 * 1024 + 1, "a stored value of {largest} bytes");
}

//! The RFC examples, over HTTP: every RFC 6901 pointer, every RFC 7396 merge patch, and the
//! RFC 6902 cases in `tests/cases/` (a failed patch must leave the document untouched).

#![cfg(feature = "e2e")]

mod common;

use common::fresh;
use serde_json::Value;

fn cases(name: &str) -> Value {
    let path = format!("{}/tests/cases/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn rfc6901_pointers() {
    let (_data, server) = fresh();
    let cases = cases("rfc6901");
    server.put("/", &cases["doc"].to_string()).expect(201);
    for case in cases["cases"].as_array().unwrap() {
        let pointer: jsonptr::PointerBuf = case["pointer"].as_str().unwrap().parse().unwrap();
        let path = jsonstore::core::path::render(&pointer);
        assert_eq!(server.get(&path).expect(200).json(), case["expected"], "{path}");
    }
    for case in cases["fragments"].as_array().unwrap() {
        // A URI fragment is percent-encoded like a URL path; a trailing empty token needs its extra slash.
        let fragment = &case["fragment"].as_str().unwrap()[1..];
        let path = if fragment.is_empty() {
            "/".to_owned()
        } else if fragment.ends_with('/') {
            format!("{fragment}/")
        } else {
            fragment.to_owned()
        };
        assert_eq!(server.get(&path).expect(200).json(), case["expected"], "{path}");
    }
}

#[test]
fn rfc7396_merge_patches() {
    let (_data, server) = fresh();
    for case in cases("rfc7396").as_array().unwrap() {
        server.put("/", &case["target"].to_string());
        let merged =
            server.send("PATCH", "/", &[("content-type", "application/merge-patch+json")], &case["patch"].to_string());
        assert_eq!(merged.expect(200).json(), case["result"], "{case}");
        assert_eq!(server.get("/").json(), case["result"], "{case}");
    }
}

#[test]
fn rfc6902_json_patches() {
    let (_data, server) = fresh();
    for case in cases("rfc6902").as_array().unwrap() {
        server.put("/", &case["doc"].to_string());
        let patched =
            server.send("PATCH", "/", &[("content-type", "application/json-patch+json")], &case["patch"].to_string());
        match case.get("expected") {
            Some(expected) => {
                patched.expect(200);
                assert_eq!(&server.get("/").json(), expected, "{case}");
            }
            None => {
                let problem = patched.problem(case["error"]["status"].as_u64().unwrap() as u16);
                assert_eq!(problem["operation"], case["error"]["operation"], "{case}");
                assert_eq!(server.get("/").json(), case["doc"], "a failed patch changed the document: {case}");
            }
        }
    }
}

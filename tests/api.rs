//! The HTTP API, end to end: the real component under the real `wasmtime serve`.

#![cfg(feature = "e2e")]

mod common;

use common::{Server, fresh};
use serde_json::json;

const SEED: &str = r#"{"sniffles":[{"name":"fred"},{"name":"irma"},{"name":"wobble"}],"snuffle":{"name":"gundar"}}"#;

#[test]
fn seed_example() {
    let (_data, server) = fresh();
    server.put("/", SEED).expect(201);
    assert_eq!(server.get("/sniffles/").expect(200).json(), json!([{"name":"fred"},{"name":"irma"},{"name":"wobble"}]));
    assert_eq!(server.get("/sniffles/0").expect(200).json(), json!({"name":"fred"}));
    server.put("/sniffles/0/rank", r#""sniffle chief""#).expect(201);
    let fred = server.get("/sniffles/0");
    assert_eq!(fred.expect(200).json(), json!({"name":"fred","rank":"sniffle chief"}));
    assert_eq!(fred.header("content-type"), Some("application/json"));
}

#[test]
fn every_verb() {
    let (_data, server) = fresh();
    server.get("/").problem(404);
    let created = server.put("/a/b", "1");
    assert_eq!((created.expect(201).header("location"), created.json()), (Some("/a/b"), json!(1)));
    let replaced = server.put("/a/b", "[1]");
    assert_eq!(replaced.expect(200).json(), json!([1]));
    assert!(replaced.header("etag").is_some());

    let appended = server.send("POST", "/a/b", &[], "2");
    assert_eq!((appended.expect(201).header("location"), appended.json()), (Some("/a/b/1"), json!({"index": 1})));
    let pushed = server.send("POST", "/log", &[], r#"{"msg":"hi"}"#);
    let name = pushed.expect(201).json()["name"].as_str().unwrap().to_owned();
    assert_eq!(name.len(), 20);
    assert_eq!(pushed.header("location").unwrap(), format!("/log/{name}"));
    let second = server.send("POST", "/log", &[], r#"{"msg":"again"}"#).json()["name"].as_str().unwrap().to_owned();
    assert!(name < second, "push keys sort by time: {name} then {second}");

    let merged = server.send("PATCH", "/a", &[("content-type", "application/merge-patch+json")], r#"{"c":3}"#);
    assert_eq!(merged.expect(200).json(), json!({"b": [1, 2], "c": 3}));
    let patched = server.send(
        "PATCH",
        "/a",
        &[("content-type", "application/json-patch+json")],
        r#"[{"op":"remove","path":"/c"},{"op":"add","path":"/b/-","value":3}]"#,
    );
    assert_eq!(patched.expect(200).json(), json!({"b": [1, 2, 3]}));

    server.send("DELETE", "/a/b/0", &[], "").expect(204);
    server.send("DELETE", "/a/b/7", &[], "").problem(404);
    let head = server.send("HEAD", "/a", &[], "");
    assert_eq!((head.expect(200).body.len(), head.header("etag")), (0, server.get("/a").header("etag")));
    let options = server.send("OPTIONS", "/", &[], "");
    assert_eq!(options.expect(204).header("allow"), Some("GET, HEAD, PUT, POST, PATCH, DELETE, OPTIONS"));
    let other = server.send("TRACE", "/", &[], "");
    other.problem(405);
    assert_eq!(other.header("allow"), Some("GET, HEAD, PUT, POST, PATCH, DELETE, OPTIONS"));

    server.send("DELETE", "/", &[], "").expect(204);
    server.get("/").problem(404);
}

#[test]
fn errors_are_problems_and_change_nothing() {
    let (_data, server) = fresh();
    server.put("/", r#"{"keep":[1,{"x":"y"}]}"#).expect(201);
    let before = server.get("/").json();

    let syntax = server.put("/keep/0", "{\n  \"a\": nope\n}").problem(400);
    assert_eq!((syntax["line"].clone(), syntax["column"].clone()), (json!(2), json!(9)));
    assert_eq!(syntax["type"], "urn:jsonstore:problem:bad-json");
    server.put("/keep/0/deeper", "1").problem(409);
    server.put("/keep/9", "1").problem(409);
    server.put("/keep/01", "1").problem(409);
    server.send("POST", "/keep/0", &[], "1").problem(409);
    let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
    server.put("/x", &deep).problem(400);
    server.send("PUT", "/x", &[("content-type", "text/plain")], "1").problem(415);
    server.send("POST", "/x", &[("content-type", "application/x-www-form-urlencoded")], "a=1").problem(415);
    server.send("PATCH", "/keep", &[("content-type", "application/xml")], "<a/>").problem(415);
    let failed_test = server
        .send(
            "PATCH",
            "/keep",
            &[("content-type", "application/json-patch+json")],
            r#"[{"op":"add","path":"/-","value":2},{"op":"test","path":"/1/x","value":"z"}]"#,
        )
        .problem(409);
    assert_eq!((failed_test["operation"].clone(), failed_test["pointer"].clone()), (json!(1), json!("/keep/1/x")));
    let invalid = server
        .send(
            "PATCH",
            "/keep",
            &[("content-type", "application/json-patch+json")],
            r#"[{"op":"add","path":"/-","value":2},{"op":"jump"}]"#,
        )
        .problem(422);
    assert_eq!(invalid["operation"], 1);
    server.send("PATCH", "/nothing", &[("content-type", "application/json-patch+json")], "[]").problem(404);
    assert_eq!(server.raw("GET /keep%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").0, 400);
    assert_eq!(server.raw("GET /keep~2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").0, 400);
    let (status, body) = server.raw("GET /%FF HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(status, 400, "{body}");

    assert_eq!(server.get("/").json(), before);
}

#[test]
fn limits_are_configurable() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with(data.path(), &[("JSONSTORE_BODY_BYTES_MAX", "100"), ("JSONSTORE_DEPTH_MAX", "3")]);
    server.put("/a", &format!("\"{}\"", "x".repeat(98))).expect(201);
    let too_large = server.put("/a", &format!("\"{}\"", "x".repeat(99))).problem(413);
    assert_eq!(too_large["limit"], 100);
    server.put("/a", "[[[]]]").problem(400);
    server.put("/a", "[[]]").expect(200);
    server.put("/a/0/0", "[]").problem(400);
    assert_eq!(server.get("/a").json(), json!([[]]));

    // The default limit is 16 MiB; a larger declared length is refused before the body is read.
    let (_default_data, default) = fresh();
    let (status, body) = default.raw(&format!(
        "PUT /big HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        16 * 1024 * 1024 + 1
    ));
    assert_eq!(status, 413, "{body}");
    let chunked = format!("\"{}\"", "x".repeat(1000));
    let (status, body) = server.raw(&format!(
        "PUT /a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunked}\r\n0\r\n\r\n",
        chunked.len()
    ));
    assert_eq!(status, 413, "a streamed body over the limit: {body}");
    let misconfigured = Server::start_with(data.path(), &[("JSONSTORE_DEPTH_MAX", "lots")]);
    let problem = misconfigured.get("/").problem(500);
    assert!(problem["detail"].as_str().unwrap().contains("depth_max"), "{problem}");
}

/// `Prefer: return=minimal` (RFC 7240) answers a write without its body.
#[test]
fn minimal_answers() {
    let (_data, server) = fresh();
    let minimal = [("content-type", "application/json"), ("prefer", "return=minimal")];
    let created = server.send("PUT", "/a", &minimal, r#"{"b":[1,2]}"#);
    assert_eq!((created.expect(201).body.len(), created.header("location")), (0, Some("/a")));
    assert_eq!(created.header("preference-applied"), Some("return=minimal"));
    assert!(created.header("etag").is_some());
    let patched = server.send("PATCH", "/a", &minimal, r#"{"c":3}"#);
    assert_eq!(patched.expect(200).body.len(), 0);
    assert_eq!(server.get("/a").json(), json!({"b": [1, 2], "c": 3}));
}

/// The deepest documents allowed are stored, read and patched whole, in pages and inline; a
/// body nested far deeper is refused before it is parsed. Nothing traps.
#[test]
fn the_deepest_documents_work() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with(data.path(), &[("JSONSTORE_DEPTH_MAX", "128")]);
    let nest = |depth: usize, leaf: &str| {
        let mut json = leaf.to_owned();
        for level in 0..depth {
            json = if level % 2 == 0 { format!("[{json}]") } else { format!("{{\"k\":{json}}}") };
        }
        json
    };
    let small = nest(128, "1");
    let big = nest(128, &format!("\"{}\"", "x".repeat(2000)));
    // Compared as text: the test's own `serde_json` stops at 127 levels.
    for document in [&small, &big] {
        server.put("/", document).expect(201);
        assert_eq!(String::from_utf8(server.get("/").expect(200).body.clone()).unwrap(), *document);
        server.send("DELETE", "/", &[], "").expect(204);
    }
    server.put("/", &big).expect(201);
    let patch = r#"[{"op":"replace","path":"/k/0/k/0","value":{"k":[2]}}]"#;
    server.send("PATCH", "/", &[("content-type", "application/json-patch+json")], patch).expect(200);
    server.put("/", &nest(129, "1")).problem(400);
    server.put("/", &"[".repeat(200_000)).problem(400);
    server.put("/", &format!("{}{}", "[".repeat(100_000), "]".repeat(100_000))).problem(400);
    assert_eq!(server.get("/k/0/k/0").json(), json!({"k": [2]}));
}

/// With a key budget (as on hosts that limit keys), writes stop with 507 before the store holds
/// more keys than allowed, the document stays as it was, and shrinking it still works.
#[test]
fn a_key_budget_is_kept() {
    let data = tempfile::tempdir().unwrap();
    let keys_max = 40;
    let budget = [("JSONSTORE_CHUNK_BYTES_MAX", "4096"), ("JSONSTORE_KEYS_MAX", "40")];
    let server = Server::start_with(data.path(), &budget);
    let keys = || {
        std::fs::read_dir(data.path().join("default"))
            .unwrap()
            .filter(|entry| !entry.as_ref().unwrap().file_name().to_string_lossy().starts_with('.'))
    };
    // Each value is bigger than the inline limit (a 16th of the chunk), so it is a record of its own.
    let big = json!("x".repeat(400));
    let mut items = serde_json::Map::new();
    let refused = loop {
        let name = format!("k{}", items.len());
        let reply = server.put(&format!("/items/{name}"), &big.to_string());
        if reply.status == 507 {
            break reply.problem(507);
        }
        reply.expect(201);
        items.insert(name, big.clone());
        assert!(items.len() < keys_max, "the budget of {keys_max} keys was never reached");
        assert!(keys().count() <= keys_max);
    };
    assert_eq!(refused["type"], "urn:jsonstore:problem:insufficient-storage");
    assert!(refused["detail"].as_str().unwrap().contains("keys_max"), "{refused}");
    assert!(items.len() >= keys_max / 2, "only {} values fit in {keys_max} keys", items.len());
    assert_eq!(server.get("/").json(), json!({ "items": items }));
    assert!(keys().count() <= keys_max);
    // At the limit, writes that shrink the document still work, and free keys for new ones.
    let name = items.keys().next().unwrap().clone();
    server.send("DELETE", &format!("/items/{name}"), &[], "").expect(204);
    items.remove(&name);
    assert_eq!(server.get("/").json(), json!({ "items": items }));
    server.put("/items", "[]").expect(200);
    server.send("POST", "/items", &[("content-type", "application/json")], &big.to_string()).expect(201);
    assert_eq!(server.get("/items").json(), json!([big]));
}

#[test]
fn conditional_requests() {
    let (_data, server) = fresh();
    let tag = server.put("/a", r#"{"v":1}"#).expect(201).header("etag").unwrap().to_owned();
    assert!(tag.starts_with('"') && tag.ends_with('"'), "strong tag: {tag}");
    assert_eq!(server.get("/a").header("etag"), Some(tag.as_str()));
    let not_modified = server.send("GET", "/a", &[("if-none-match", &tag)], "");
    assert_eq!((not_modified.status, not_modified.header("etag")), (304, Some(tag.as_str())));
    server.send("HEAD", "/a", &[("if-none-match", &tag)], "").expect(304);
    server.send("GET", "/a", &[("if-none-match", "\"other\"")], "").expect(200);

    server.send("PUT", "/a", &[("if-match", "\"stale\"")], "2").problem(412);
    server.send("PUT", "/a", &[("if-none-match", "*")], "2").problem(412);
    server.send("DELETE", "/a", &[("if-match", "\"stale\"")], "").problem(412);
    server
        .send("PATCH", "/a", &[("if-match", "\"stale\""), ("content-type", "application/merge-patch+json")], "{}")
        .problem(412);
    server.send("PUT", "/b", &[("if-match", "*")], "2").problem(412);
    assert_eq!(server.get("/").json(), json!({"a": {"v": 1}}));

    server.send("PUT", "/b", &[("if-none-match", "*")], "2").expect(201);
    let updated = server.send("PUT", "/a", &[("if-match", &tag)], "3");
    assert_ne!(updated.expect(200).header("etag"), Some(tag.as_str()));
    // Tags are per path: changing /b does not change the tag of /a.
    let tag_a = server.get("/a").header("etag").unwrap().to_owned();
    server.put("/b", "4").expect(200);
    assert_eq!(server.get("/a").header("etag"), Some(tag_a.as_str()));
    assert_eq!(server.get("/").json(), json!({"a": 3, "b": 4}));
}

#[test]
fn empty_key_and_escaped_names() {
    let (_data, server) = fresh();
    server.put("//", "1").expect(201);
    server.put("/a~1b", "2").expect(201);
    server.put("/m~0n", "3").expect(201);
    server.put("/c%25d", "4").expect(201);
    server.put("/caf%C3%A9", "5").expect(201);
    assert_eq!(server.get("/").json(), json!({"": 1, "a/b": 2, "m~n": 3, "c%d": 4, "café": 5}));
    assert_eq!(server.get("//").json(), json!(1));
    assert_eq!(server.get("/a%2Fb").json(), json!(2));
    let pushed = server.send("POST", "/x~1y", &[], "1");
    assert!(pushed.expect(201).header("location").unwrap().starts_with("/x~1y/"));
}

/// Numbers come back as they were sent, to the last digit, in a document kept whole in the root
/// record, in one stored in pages, and in one streamed in as it is parsed.
#[test]
fn numbers_round_trip_exactly() {
    let (_data, server) = fresh();
    let edges = "[0.9452706955539223,0.1,1e+300,-2.5e-300,5e-324,1.7976931348623157e+308,\
                 18446744073709551615,-9223372036854775808,123456789.12345678,0,-0.0]";
    server.put("/", edges).expect(201);
    assert_eq!(String::from_utf8_lossy(&server.get("/").expect(200).body), edges);
    // Floats of every size, with all their digits: 2,000 make a document in pages, 20,000 one
    // that is also streamed in.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let floats: Vec<f64> = (0..20_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            f64::from_bits(state >> 2) // positive, finite, with exponents across the range
        })
        .collect();
    for count in [2_000, 20_000] {
        let text = serde_json::to_string(&floats[..count]).unwrap();
        server.put("/", &text).expect(200);
        let back = server.get("/").expect(200).body.clone();
        assert!(back == text.as_bytes(), "{count} floats did not come back as they were sent");
    }
}

/// Numbers are kept as written, not converted to a machine number: integers past 64 bits and
/// decimals past `f64` keep every digit, in every storage form and through every kind of write
/// (only an exponent is spelled `e+N` or `e-N`); a JSON Patch `test` compares them by value.
#[test]
fn numbers_are_kept_as_written() {
    let (_data, server) = fresh();
    let numbers = [
        "123456789012345678901234567890",
        "-98765432109876543210",
        "3.14159265358979323846264338327950288419716939937510",
        "1e+400",
        "-2.5e-999",
        "1.50",
        "-0",
        "0.0",
    ];
    let edges = format!("[{}]", numbers.join(","));
    server.put("/", &edges).expect(201);
    assert_eq!(String::from_utf8_lossy(&server.get("/").expect(200).body), edges);
    assert_eq!(String::from_utf8_lossy(&server.get("/0").expect(200).body), numbers[0]);
    // In pages (about 40 KB) and streamed in (about 400 KB).
    for count in [1_000, 10_000] {
        let text = format!("[{}]", vec![numbers.join(","); count / numbers.len()].join(","));
        server.put("/", &text).expect(200);
        assert!(server.get("/").expect(200).body == text.as_bytes(), "{count} numbers did not come back as sent");
        assert_eq!(String::from_utf8_lossy(&server.get("/2").expect(200).body), numbers[2]);
    }
    // Written at a path, by POST, by merge patch and by JSON Patch.
    server.put("/", "{}").expect(200);
    server.put("/big", numbers[0]).expect(201);
    let posted = server.send("POST", "/list", &[], numbers[1]);
    let location = posted.expect(201).header("location").unwrap().to_owned();
    let merge = [("content-type", "application/merge-patch+json")];
    server.send("PATCH", "/", &merge, &format!(r#"{{"pi": {}}}"#, numbers[2])).expect(200);
    let json_patch = [("content-type", "application/json-patch+json")];
    let ops = format!(
        r#"[{{"op": "test", "path": "/big", "value": 1.23456789012345678901234567890e29}},
           {{"op": "add", "path": "/huge", "value": {}}}]"#,
        numbers[3]
    );
    server.send("PATCH", "/", &json_patch, &ops).expect(200);
    let ops = r#"[{"op": "test", "path": "/big", "value": 123456789012345678901234567891}]"#;
    server.send("PATCH", "/", &json_patch, ops).problem(409);
    let body = |path: &str| String::from_utf8_lossy(&server.get(path).expect(200).body).into_owned();
    assert_eq!(body("/big"), numbers[0]);
    assert_eq!(body(&location), numbers[1]);
    assert_eq!(body("/pi"), numbers[2]);
    assert_eq!(body("/huge"), numbers[3]);
    server.put("/spelled", "[1E2, 5e3, 7E-1]").expect(201);
    assert_eq!(body("/spelled"), "[1e+2,5e+3,7e-1]");
}

/// Pages from other origins may call JSONStore (CORS): a preflight allows the methods and the
/// headers asked for, and every answer, problems included, names the origin let in and the
/// headers the page may read. `cors_allow_origin` names one origin instead of every one, or,
/// empty, turns CORS off.
#[test]
fn pages_from_other_origins_may_call() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with(data.path(), &[("JSONSTORE_BODY_BYTES_MAX", "100")]);
    let origin = ("origin", "http://localhost:5173");
    let preflight = server.send(
        "OPTIONS",
        "/todos",
        &[
            origin,
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "content-type, if-match"),
        ],
        "",
    );
    preflight.expect(204);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    assert_eq!(preflight.header("access-control-allow-methods"), Some("GET, HEAD, PUT, POST, PATCH, DELETE, OPTIONS"));
    assert_eq!(preflight.header("access-control-allow-headers"), Some("content-type, if-match"));
    assert!(preflight.header("access-control-max-age").is_some());

    let json = ("content-type", "application/json");
    let written = server.send("PUT", "/todos", &[origin, json], r#"["write the docs"]"#);
    written.expect(201);
    assert_eq!(written.header("access-control-allow-origin"), Some("*"));
    let exposed = written.header("access-control-expose-headers").unwrap();
    assert!(exposed.contains("etag") && exposed.contains("location"), "{exposed}");
    let missing = server.send("GET", "/nothing", &[origin], "");
    missing.problem(404);
    assert_eq!(missing.header("access-control-allow-origin"), Some("*"));
    // Refused before the request reached the service.
    let too_large = server.send("PUT", "/todos", &[origin, json], &format!("\"{}\"", "x".repeat(200)));
    too_large.problem(413);
    assert_eq!(too_large.header("access-control-allow-origin"), Some("*"));

    let one = Server::start_with(data.path(), &[("JSONSTORE_CORS_ALLOW_ORIGIN", "https://app.example")]);
    let read = one.send("GET", "/todos", &[("origin", "https://app.example")], "");
    assert_eq!(read.expect(200).header("access-control-allow-origin"), Some("https://app.example"));
    let off = Server::start_with(data.path(), &[("JSONSTORE_CORS_ALLOW_ORIGIN", "")]);
    let read = off.send("GET", "/todos", &[origin], "");
    assert_eq!(read.expect(200).header("access-control-allow-origin"), None);
    let misconfigured = Server::start_with(data.path(), &[("JSONSTORE_CORS_ALLOW_ORIGIN", "app.example")]);
    assert!(misconfigured.get("/todos").problem(500)["detail"].as_str().unwrap().contains("cors_allow_origin"));
}

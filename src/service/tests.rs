//! Native tests of the whole API against a [`MemoryStore`].

use super::*;
use crate::layout::{LayoutConfig, Lease, Snapshot, Txn};
use crate::store::{MemoryStore, Swap};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::cell::Cell;

#[derive(Default)]
struct TestHost {
    ticks: Cell<u64>,
}

impl Host for TestHost {
    fn now_millis(&self) -> u64 {
        self.ticks.set(self.ticks.get() + 1);
        1_700_000_000_000 + self.ticks.get()
    }
    /// Never the same twice in a test run, as random sessions are in practice.
    fn random_bytes(&self) -> [u8; 9] {
        static DRAWN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let drawn = DRAWN.fetch_add(1, std::sync::atomic::Ordering::Relaxed).to_le_bytes();
        std::array::from_fn(|i| drawn[i % 8])
    }
    /// Time passes while a writer sleeps, a millisecond at least.
    fn sleep_micros(&self, micros: u64) {
        self.ticks.set(self.ticks.get() + micros.div_ceil(1000).max(1));
    }
}

struct Api {
    store: MemoryStore,
    config: Config,
    host: TestHost,
}

impl Api {
    fn new() -> Self {
        Api { store: MemoryStore::new(), config: Config::open(), host: TestHost::default() }
    }

    /// An API whose layout has these sizes: inline values, page target, chunk.
    fn with_layout(inline_bytes_max: usize, page_bytes_target: usize, chunk_bytes_max: usize) -> Self {
        let layout = LayoutConfig { inline_bytes_max, page_bytes_target, chunk_bytes_max, sweep_every: 3, keys_max: 0 };
        Api { config: Config { layout, ..Config::open() }, ..Api::new() }
    }

    /// An API whose layout stores almost every value in pages of its own, split into many
    /// parts, so that small tests exercise the whole layout.
    fn tiny() -> Self {
        Api::with_layout(8, 40, 64)
    }

    /// The default layout, the tiny one, and one that embeds most top pages in their
    /// references (pages are small, and any page up to 48 bytes is embedded rather than stored).
    fn all() -> [Api; 3] {
        [Api::new(), Api::tiny(), Api::with_layout(48, 64, 256)]
    }

    fn send(&self, method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Response {
        let request = Request {
            method: method.into(),
            target: target.into(),
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
        };
        handle(&self.store, &self.config, &self.host, &request)
    }

    /// Sends a request and checks the status and, when given, the JSON body.
    fn check(&self, method: &str, target: &str, body: &str, status: u16, expected: Option<Value>) -> Response {
        let headers: &[(&str, &str)] = if body.is_empty() { &[] } else { &[("content-type", "application/json")] };
        let response = self.send(method, target, headers, body);
        assert_eq!(response.status, status, "{method} {target}: {}", String::from_utf8_lossy(&response.body));
        if let Some(expected) = expected {
            assert_eq!(json_body(&response), expected, "{method} {target}");
        }
        response
    }

    fn document(&self) -> Option<Value> {
        document(&self.store, &self.config)
    }
}

fn document<S: Store>(store: &S, config: &Config) -> Option<Value> {
    Snapshot::open(store, config.layout).unwrap().value(crate::core::Pointer::root()).unwrap()
}

fn json_body(response: &Response) -> Value {
    serde_json::from_slice(&response.body).unwrap()
}

#[test]
fn seed_example() {
    let api = Api::new();
    let seed = r#"{"sniffles":[{"name":"fred"},{"name":"irma"},{"name":"wobble"}],"snuffle":{"name":"gundar"}}"#;
    api.check("PUT", "/", seed, 201, None);
    api.check("GET", "/sniffles/", "", 200, Some(json!([{"name":"fred"},{"name":"irma"},{"name":"wobble"}])));
    api.check("GET", "/sniffles/0", "", 200, Some(json!({"name":"fred"})));
    api.check("PUT", "/sniffles/0/rank", r#""sniffle chief""#, 201, Some(json!("sniffle chief")));
    api.check("GET", "/sniffles/0", "", 200, Some(json!({"name":"fred","rank":"sniffle chief"})));
}

#[test]
fn put_reports_created_and_replaced() {
    let api = Api::new();
    let created = api.check("PUT", "/a/b", "1", 201, Some(json!(1)));
    assert_eq!(created.header("location"), Some("/a/b"));
    let replaced = api.check("PUT", "/a/b", "2", 200, Some(json!(2)));
    assert_eq!(replaced.header("location"), None);
    assert_eq!(replaced.header("etag"), Some(crate::core::etag::of(b"2").as_str()));
    api.check("PUT", "/a/b/c", "3", 409, None);
    api.check("PUT", "/list", "[]", 201, None);
    let appended = api.check("PUT", "/list/-", "\"x\"", 201, None);
    assert_eq!(appended.header("location"), Some("/list/0"));
    api.check("PUT", "/list/5", "1", 409, None);
    assert_eq!(api.document(), Some(json!({"a": {"b": 2}, "list": ["x"]})));
}

#[test]
fn post_appends_and_pushes() {
    let api = Api::new();
    api.check("PUT", "/", r#"{"list":[1],"map":{}}"#, 201, None);
    let appended = api.check("POST", "/list", "2", 201, Some(json!({"index": 1})));
    assert_eq!(appended.header("location"), Some("/list/1"));
    let first = api.check("POST", "/map", "\"a\"", 201, None);
    let second = api.check("POST", "/map", "\"b\"", 201, None);
    let (first, second) = (json_body(&first)["name"].clone(), json_body(&second)["name"].clone());
    assert!(first.as_str().unwrap() < second.as_str().unwrap());
    assert_eq!(api.document().unwrap()["map"][first.as_str().unwrap()], json!("a"));
    api.check("POST", "/list/0", "3", 409, None);
}

#[test]
fn delete_and_empty_store() {
    let api = Api::new();
    api.check("GET", "/", "", 404, None);
    api.check("DELETE", "/", "", 404, None);
    api.check("PUT", "/a", "1", 201, None);
    api.check("DELETE", "/a", "", 204, None);
    api.check("DELETE", "/a", "", 404, None);
    api.check("GET", "/", "", 200, Some(json!({})));
    api.check("DELETE", "/", "", 204, None);
    assert_eq!(api.document(), None);
}

#[test]
fn empty_key_and_escapes() {
    let api = Api::new();
    api.check("PUT", "//", "1", 201, None);
    api.check("PUT", "/a~1b", "2", 201, None);
    api.check("PUT", "/c%25d", "3", 201, None);
    assert_eq!(api.document(), Some(json!({"": 1, "a/b": 2, "c%d": 3})));
    api.check("GET", "/a%2Fb", "", 200, Some(json!(2)));
    api.check("GET", "/a%zz", "", 400, None);
}

#[test]
fn patch_kinds() {
    let api = Api::new();
    api.check("PUT", "/", r#"{"a":{"b":1,"c":2}}"#, 201, None);
    let merge = [("content-type", "application/merge-patch+json")];
    let response = api.send("PATCH", "/a", &merge, r#"{"b":null,"d":4}"#);
    assert_eq!((response.status, json_body(&response)), (200, json!({"c": 2, "d": 4})));
    let json_patch = [("content-type", "application/json-patch+json")];
    let response = api.send(
        "PATCH",
        "/a",
        &json_patch,
        r#"[{"op":"add","path":"/e","value":5},{"op":"test","path":"/c","value":9}]"#,
    );
    assert_eq!(response.status, 409);
    let problem = json_body(&response);
    assert_eq!((problem["operation"].clone(), problem["pointer"].clone()), (json!(1), json!("/a/c")));
    let response = api.send("PATCH", "/a", &json_patch, r#"[{"op":"add","path":"/e","value":5},{"op":"frob"}]"#);
    assert_eq!((response.status, json_body(&response)["operation"].clone()), (422, json!(1)));
    assert_eq!(api.document(), Some(json!({"a": {"c": 2, "d": 4}})));
    let response = api.send("PATCH", "/a", &[("content-type", "text/plain")], "{}");
    assert_eq!(response.status, 415);
    assert_eq!(response.header("accept-patch"), Some(ACCEPT_PATCH));
    assert_eq!(api.send("PATCH", "/a", &[], "{}").status, 415);
}

#[test]
fn bad_input_is_a_problem_and_changes_nothing() {
    let api = Api::new();
    api.check("PUT", "/", r#"{"keep":true}"#, 201, None);
    let response = api.check("PUT", "/x", "{\n \"a\": @ }", 400, None);
    assert_eq!(response.header("content-type"), Some("application/problem+json"));
    let problem = json_body(&response);
    assert_eq!((problem["line"].clone(), problem["column"].clone()), (json!(2), json!(7)));
    assert_eq!(problem["type"], json!("urn:jsonstore:problem:bad-json"));
    assert_eq!(problem["status"], json!(400));
    let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
    api.check("PUT", "/x", &deep, 400, None);
    let deep_path = "/x".repeat(64);
    api.check("PUT", &deep_path, "[]", 400, None);
    assert_eq!(api.send("PUT", "/x", &[("content-type", "text/plain")], "1").status, 415);
    assert_eq!(api.send("PUT", "/x", &[("content-type", "application/x-www-form-urlencoded")], "1").status, 415);
    assert_eq!(api.send("PUT", "/x", &[("content-type", "application/json; charset=utf-8")], "1").status, 201);
    let response = api.send("FROB", "/", &[], "");
    assert_eq!((response.status, response.header("allow")), (405, Some(ALLOW)));
    let options = api.send("OPTIONS", "/", &[], "");
    assert_eq!((options.status, options.header("allow")), (204, Some(ALLOW)));
    assert_eq!(api.document(), Some(json!({"keep": true, "x": 1})));
}

#[test]
fn body_limit() {
    let mut api = Api::new();
    api.config.body_bytes_max = 4;
    api.check("PUT", "/a", "12345", 413, None);
    api.check("PUT", "/a", "1234", 201, None);
}

#[test]
fn conditional_requests() {
    let api = Api::new();
    let created = api.check("PUT", "/a", "1", 201, None);
    let tag = created.header("etag").unwrap().to_owned();
    let got = api.send("GET", "/a", &[("if-none-match", &tag)], "");
    assert_eq!((got.status, got.body.len()), (304, 0));
    assert_eq!(api.send("GET", "/a", &[("if-none-match", "\"other\"")], "").status, 200);
    assert_eq!(api.send("HEAD", "/a", &[("if-none-match", &tag)], "").status, 304);
    let json = ("content-type", "application/json");
    assert_eq!(api.send("PUT", "/a", &[json, ("if-match", "\"stale\"")], "2").status, 412);
    assert_eq!(api.send("PUT", "/a", &[json, ("if-none-match", "*")], "2").status, 412);
    assert_eq!(api.send("PUT", "/b", &[json, ("if-match", "*")], "2").status, 412);
    assert_eq!(api.send("DELETE", "/a", &[("if-match", "\"stale\"")], "").status, 412);
    assert_eq!(api.document(), Some(json!({"a": 1})));
    assert_eq!(api.send("PUT", "/b", &[json, ("if-none-match", "*")], "2").status, 201);
    assert_eq!(api.send("PUT", "/a", &[json, ("if-match", &tag)], "3").status, 200);
    assert_eq!(api.document(), Some(json!({"a": 3, "b": 2})));
}

#[test]
fn head_has_headers_but_no_body() {
    let api = Api::new();
    api.check("PUT", "/a", "[1,2]", 201, None);
    let get = api.send("GET", "/a", &[], "");
    let head = api.send("HEAD", "/a", &[], "");
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(head.header("etag"), get.header("etag"));
    assert_eq!(head.header("content-length"), None);
    assert_eq!(get.header("content-length"), Some("5"));
}

#[test]
fn a_write_that_loses_the_race_is_retried() {
    let store = FaultyCas::new(false, false, 3, 0);
    let request = Request {
        method: "PUT".into(),
        target: "/mine".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: b"1".to_vec(),
    };
    let response = handle(&store, &Config::open(), &TestHost::default(), &request);
    assert_eq!(response.status, 201);
    let expected = json!({"mine": 1, "other0": 1, "other1": 1, "other2": 1});
    assert_eq!(document(&store.inner, &Config::open()), Some(expected));
}

/// A plain model of the document API, written independently of `core::document`.
fn model(doc: &mut Option<Value>, method: &str, tokens: &[&str], value: &Value) -> u16 {
    fn index(token: &str) -> Option<usize> {
        (token == "0" || (!token.starts_with('0') && token.bytes().all(|b| b.is_ascii_digit())))
            .then(|| token.parse().ok())
            .flatten()
    }
    fn lookup<'v>(value: &'v Value, token: &str) -> Option<&'v Value> {
        match value {
            Value::Object(map) => map.get(token),
            Value::Array(items) => items.get(index(token)?),
            _ => None,
        }
    }
    match method {
        "GET" => {
            let mut at = doc.as_ref();
            for token in tokens {
                at = at.and_then(|v| lookup(v, token));
            }
            if at.is_some() { 200 } else { 404 }
        }
        "DELETE" => {
            let Some((last, parents)) = tokens.split_last() else {
                return if doc.take().is_some() { 204 } else { 404 };
            };
            let mut before = doc.clone();
            let mut at = before.as_mut();
            for token in parents {
                at = at.and_then(|v| match v {
                    Value::Object(map) => map.get_mut(*token),
                    Value::Array(items) => items.get_mut(index(token)?),
                    _ => None,
                });
            }
            let removed = match at {
                Some(Value::Object(map)) => map.remove(*last).is_some(),
                Some(Value::Array(items)) => match index(last) {
                    Some(i) if i < items.len() => {
                        items.remove(i);
                        true
                    }
                    _ => false,
                },
                _ => false,
            };
            if removed {
                *doc = before;
                204
            } else {
                404
            }
        }
        _ => {
            // PUT: walk, creating objects for missing members.
            let Some((last, parents)) = tokens.split_last() else {
                let status = if doc.is_some() { 200 } else { 201 };
                *doc = Some(value.clone());
                return status;
            };
            let mut after = doc.clone().unwrap_or_else(|| json!({}));
            let mut at = &mut after;
            for token in parents {
                at = match at {
                    Value::Object(map) => map.entry(token.to_string()).or_insert_with(|| json!({})),
                    Value::Array(items) => match index(token).filter(|&i| i < items.len()) {
                        Some(i) => &mut items[i],
                        None => return 409,
                    },
                    _ => return 409,
                };
            }
            let status = match at {
                Value::Object(map) => {
                    if map.insert(last.to_string(), value.clone()).is_some() {
                        200
                    } else {
                        201
                    }
                }
                Value::Array(items) => {
                    let i = if *last == "-" { Some(items.len()) } else { index(last) };
                    match i {
                        Some(i) if i < items.len() => {
                            items[i] = value.clone();
                            200
                        }
                        Some(i) if i == items.len() => {
                            items.push(value.clone());
                            201
                        }
                        _ => return 409,
                    }
                }
                _ => return 409,
            };
            *doc = Some(after);
            status
        }
    }
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![Just(json!(null)), any::<i32>().prop_map(|n| json!(n)), "[a-z]{0,3}".prop_map(|s| json!(s))];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            proptest::collection::btree_map(prop_oneof!["a", "b", "0"], inner, 0..3)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn the_api_matches_a_plain_model(
        ops in proptest::collection::vec(
            (
                prop_oneof![Just("GET"), Just("PUT"), Just("PUT"), Just("DELETE")],
                proptest::collection::vec(prop_oneof![Just("a"), Just("b"), Just("0"), Just("1"), Just("-"), Just("01")], 0..4),
                arb_value(),
            ),
            1..30,
        )
    ) {
        for api in Api::all() {
        let mut expected: Option<Value> = None;
        for (method, tokens, value) in &ops {
            let (method, tokens, value) = (*method, tokens.clone(), value.clone());
            let target = format!("/{}", tokens.join("/"));
            let body = if method == "PUT" { value.to_string() } else { String::new() };
            let headers: &[(&str, &str)] = if method == "PUT" { &[("content-type", "application/json")] } else { &[] };
            let response = api.send(method, &target, headers, &body);
            let status = model(&mut expected, method, &tokens, &value);
            prop_assert_eq!(response.status, status, "{} {} {}", method, target, body);
            if method == "GET" && status == 200 {
                let mut at = expected.as_ref();
                for token in &tokens {
                    at = at.and_then(|v| crate::core::document::get(Some(v), &crate::core::PointerBuf::from_tokens([*token])));
                }
                prop_assert_eq!(Some(json_body(&response)), at.cloned());
            }
            prop_assert_eq!(api.document(), expected.clone());
        }
        }
    }
}

proptest! {
    /// Under a key budget, the store never holds more keys than the budget, a write refused
    /// with 507 changes nothing, and every other write matches the model.
    #[test]
    fn a_key_budget_is_never_exceeded(
        ops in proptest::collection::vec(
            (
                prop_oneof![Just("PUT"), Just("PUT"), Just("PUT"), Just("DELETE")],
                proptest::collection::vec(prop_oneof![Just("a"), Just("b"), Just("c"), Just("-")], 0..3),
                arb_value(),
            ),
            1..40,
        ),
        keys_max in 8usize..80,
    ) {
        let mut api = Api::tiny();
        api.config.layout.keys_max = keys_max;
        let mut expected: Option<Value> = None;
        for (method, tokens, value) in &ops {
            let target = format!("/{}", tokens.join("/"));
            let body = if *method == "PUT" { value.to_string() } else { String::new() };
            let headers: &[(&str, &str)] = if *method == "PUT" { &[("content-type", "application/json")] } else { &[] };
            let response = api.send(method, &target, headers, &body);
            if response.status == 507 {
                prop_assert!(*method == "PUT" || *method == "DELETE");
            } else {
                let status = model(&mut expected, method, tokens, value);
                prop_assert_eq!(response.status, status, "{} {} {}", method, target, body);
            }
            prop_assert!(api.store.keys().unwrap().len() <= keys_max, "{} keys", api.store.keys().unwrap().len());
            prop_assert_eq!(api.document(), expected.clone());
        }
        // Deleting the whole document always fits.
        api.check("DELETE", "/", "", if expected.is_some() { 204 } else { 404 }, None);
    }
}

fn cases(name: &str) -> Value {
    let path = format!("{}/tests/cases/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The URL path of an RFC 6901 URI fragment (`#/c%25d`): the same encoding, plus the slash
/// that keeps a trailing empty token.
fn fragment_path(fragment: &str) -> String {
    let pointer = &fragment[1..];
    match pointer {
        "" => "/".into(),
        _ if pointer.ends_with('/') => format!("{pointer}/"),
        _ => pointer.into(),
    }
}

#[test]
fn rfc6901_examples() {
    for api in Api::all() {
        let cases = cases("rfc6901");
        api.check("PUT", "/", &cases["doc"].to_string(), 201, None);
        for case in cases["cases"].as_array().unwrap() {
            let pointer: crate::core::PointerBuf = case["pointer"].as_str().unwrap().parse().unwrap();
            api.check("GET", &crate::core::path::render(&pointer), "", 200, Some(case["expected"].clone()));
        }
        for case in cases["fragments"].as_array().unwrap() {
            let path = fragment_path(case["fragment"].as_str().unwrap());
            api.check("GET", &path, "", 200, Some(case["expected"].clone()));
        }
    }
}

#[test]
fn rfc7396_examples() {
    for case in cases("rfc7396").as_array().unwrap() {
        for api in Api::all() {
            api.check("PUT", "/", &case["target"].to_string(), 201, None);
            let response =
                api.send("PATCH", "/", &[("content-type", "application/merge-patch+json")], &case["patch"].to_string());
            assert_eq!(response.status, 200, "{case}");
            assert_eq!(json_body(&response), case["result"], "{case}");
            assert_eq!(api.document().as_ref(), Some(&case["result"]), "{case}");
        }
    }
}

#[test]
fn rfc6902_cases() {
    for case in cases("rfc6902").as_array().unwrap() {
        for api in Api::all() {
            api.check("PUT", "/", &case["doc"].to_string(), 201, None);
            let response =
                api.send("PATCH", "/", &[("content-type", "application/json-patch+json")], &case["patch"].to_string());
            if let Some(expected) = case.get("expected") {
                assert_eq!(response.status, 200, "{case}: {}", String::from_utf8_lossy(&response.body));
                assert_eq!(api.document().as_ref(), Some(expected), "{case}");
            } else {
                let error = &case["error"];
                assert_eq!(response.status, error["status"], "{case}: {}", String::from_utf8_lossy(&response.body));
                assert_eq!(json_body(&response)["operation"], error["operation"], "{case}");
                assert_eq!(api.document().as_ref(), Some(&case["doc"]), "{case}");
            }
        }
    }
}

#[test]
fn big_bodies_are_stored_as_they_are_parsed() {
    for api in Api::all() {
        let items: Vec<Value> = (0..3000).map(|i| json!({"id": i, "name": format!("item number {i}")})).collect();
        let doc = json!({"items": items, "z": 1, "z2": {"deep": [1, 2]}});
        let body = doc.to_string();
        assert!(body.len() > super::op::STREAM_BYTES_MIN);
        let created = api.check("PUT", "/", &body, 201, Some(doc.clone()));
        assert_eq!(created.header("etag"), api.send("GET", "/", &[], "").header("etag"));
        api.check("GET", "/items/2999/name", "", 200, Some(json!("item number 2999")));
        api.check("PUT", "/new/place", &body, 201, None);
        api.check("PUT", "/z/x", &body, 409, None);
        let broken = format!("{}!", &body[..body.len() - 1]);
        let problem = api.check("PUT", "/", &broken, 400, None);
        assert_eq!(json_body(&problem)["line"], json!(1));
        assert_eq!(api.document().unwrap()["new"]["place"], doc);
    }
}

/// A hook with the compare-and-swap faults seen on real hosts: `blind_create` swaps a key that
/// was missing when watched without comparing (Spin 4.0.2's SQLite store), and `false_conflict`
/// reports a conflict for a swap it made (Spin 4.0.2's Redis store). A write by another client
/// lands between every watch and swap while `races_left` lasts, and between a falsely reported
/// swap and its report while `late_races_left` lasts; it goes to the inner store.
struct FaultyCas {
    blind_create: bool,
    false_conflict: bool,
    races_left: Cell<u32>,
    late_races_left: Cell<u32>,
    /// Whether the operation under way is a watch, which a race follows.
    watching: Cell<bool>,
    /// How many swaps were done.
    swaps: Cell<u32>,
}

impl FaultyCas {
    /// A memory store behind this hook.
    fn new(
        blind_create: bool,
        false_conflict: bool,
        races: u32,
        late_races: u32,
    ) -> crate::store::Hooked<MemoryStore, FaultyCas> {
        let (races_left, late_races_left) = (Cell::new(races), Cell::new(late_races));
        let (watching, swaps) = (Cell::new(false), Cell::new(0));
        let hook = FaultyCas { blind_create, false_conflict, races_left, late_races_left, watching, swaps };
        crate::store::Hooked::new(MemoryStore::new(), hook)
    }

    /// Another client's write.
    fn race(&self, inner: &MemoryStore, left: &Cell<u32>, name: &str) {
        if left.get() > 0 {
            left.set(left.get() - 1);
            let target = format!("/{name}{}", left.get());
            let other = Request { method: "PUT".into(), target, headers: vec![], body: b"1".to_vec() };
            handle(inner, &Config::open(), &TestHost::default(), &other);
        }
    }
}

impl crate::store::Hook<MemoryStore> for FaultyCas {
    fn before(&self, _inner: &MemoryStore, call: crate::store::Call<'_>) -> Result<(), crate::store::StoreError> {
        self.watching.set(matches!(call, crate::store::Call::Watch(_)));
        Ok(())
    }

    fn after_read(&self, inner: &MemoryStore, _key: &str, _value: Option<&[u8]>) {
        if self.watching.replace(false) {
            self.race(inner, &self.races_left, "other");
        }
    }

    fn swap(
        &self,
        inner: &MemoryStore,
        watched: crate::store::Watched<<MemoryStore as Store>::Watch>,
        value: &[u8],
    ) -> Result<Swap, crate::store::StoreError> {
        if self.blind_create && watched.missing {
            inner.set(&watched.key, value)?;
            return Ok(Swap::Done);
        }
        let swap = inner.swap(watched.watch, value)?;
        if swap == Swap::Done {
            self.swaps.set(self.swaps.get() + 1);
        }
        match swap {
            Swap::Done if self.false_conflict => {
                self.race(inner, &self.late_races_left, "late");
                Ok(Swap::Conflict)
            }
            outcome => Ok(outcome),
        }
    }
}

#[test]
fn writes_survive_hosts_with_faulty_compare_and_swap() {
    for (blind_create, false_conflict) in [(true, false), (false, true), (true, true)] {
        let store = FaultyCas::new(blind_create, false_conflict, 3, 0);
        let request = Request {
            method: "PUT".into(),
            target: "/mine".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: br#"{"a": [1, 2, 3], "text": "long enough to be stored in pages of its own"}"#.to_vec(),
        };
        let mut config = Config::open();
        config.layout.inline_bytes_max = 8;
        let response = handle(&store, &config, &TestHost::default(), &request);
        assert!(matches!(response.status, 200 | 201), "{}", String::from_utf8_lossy(&response.body));
        let doc = document(&store.inner, &config).unwrap();
        assert_eq!(doc["mine"]["a"], json!([1, 2, 3]), "{blind_create} {false_conflict}: {doc}");
        for other in 0..3 {
            assert_eq!(doc[format!("other{other}")], json!(1), "{blind_create} {false_conflict}: {doc}");
        }
    }
}

/// On a host that reports a conflict for a swap it made, and where another writer commits
/// before the writer looks again, the write is still applied exactly once.
#[test]
fn a_falsely_reported_conflict_does_not_apply_a_write_twice() {
    let store = FaultyCas::new(false, true, 0, 0);
    let config = Config::open();
    let send = |method: &str, target: &str, body: &str| {
        let headers = vec![("content-type".into(), "application/json".into())];
        let request = Request { method: method.into(), target: target.into(), headers, body: body.into() };
        handle(&store, &config, &TestHost::default(), &request)
    };
    assert_eq!(send("PUT", "/list", "[]").status, 201);
    store.hook.late_races_left.set(1);
    let appended = send("POST", "/list", "\"x\"");
    assert_eq!(appended.status, 201, "{}", String::from_utf8_lossy(&appended.body));
    let doc = document(&store.inner, &config).unwrap();
    assert_eq!(doc["list"], json!(["x"]), "{doc}");
    assert_eq!(doc["late0"], json!(1), "{doc}");
}

/// A writer waits for another writer's lease to end before it starts, and its commit ends it.
#[test]
fn a_writer_waits_for_another_writers_lease() {
    let api = Api::new();
    api.check("PUT", "/a", "1", 201, None);
    let now = api.host.now_millis();
    let mut txn = Txn::begin(&api.store, api.config.layout, 7).unwrap();
    txn.set_lease(Some(Lease { holder: 42, until_millis: now + LEASE_MILLIS }));
    assert_eq!(txn.commit().unwrap().0, Swap::Done);

    api.check("PUT", "/b", "2", 201, None);
    assert!(api.host.now_millis() > now + LEASE_MILLIS, "the write did not wait for the lease");
    assert_eq!(Txn::begin(&api.store, api.config.layout, 1).unwrap().lease(), None);
    assert_eq!(api.document(), Some(json!({"a": 1, "b": 2})));
}

/// A writer waiting behind a lease that does not change hands polls less and less often: a
/// thousand looks a second at the root record would take the CPU a long write needs.
#[test]
fn a_stalled_wait_polls_less_often() {
    /// A host whose random numbers make every back-off its longest (one less than a multiple
    /// of every ceiling, 250 µs doubled up to 16 ms), counting the sleeps.
    #[derive(Default)]
    struct Counting {
        host: TestHost,
        drawn: Cell<u64>,
        sleeps: Cell<u64>,
    }
    impl Host for Counting {
        fn now_millis(&self) -> u64 {
            self.host.now_millis()
        }
        fn random_bytes(&self) -> [u8; 9] {
            self.drawn.set(self.drawn.get() + 1);
            let bytes = (16_000 * self.drawn.get() + 15_999).to_le_bytes();
            std::array::from_fn(|i| bytes[i % 8])
        }
        fn sleep_micros(&self, micros: u64) {
            self.sleeps.set(self.sleeps.get() + 1);
            self.host.sleep_micros(micros);
        }
    }
    let (store, config, host) = (MemoryStore::new(), Config::open(), Counting::default());
    let put =
        |target: &str| Request { method: "PUT".into(), target: target.into(), headers: vec![], body: b"1".to_vec() };
    assert_eq!(handle(&store, &config, &host, &put("/a")).status, 201);
    let now = host.now_millis();
    let mut txn = Txn::begin(&store, config.layout, 7).unwrap();
    txn.set_lease(Some(Lease { holder: 42, until_millis: now + LEASE_MILLIS }));
    assert_eq!(txn.commit().unwrap().0, Swap::Done);
    host.sleeps.set(0);
    assert_eq!(handle(&store, &config, &host, &put("/b")).status, 201);
    assert!(host.now_millis() > now + LEASE_MILLIS, "the write did not wait for the lease");
    // Polling every millisecond or so throughout would take about 700 looks here (each look
    // also reads the clock, which this host counts as time passing).
    assert!(host.sleeps.get() < 250, "{} looks at a lease held for {LEASE_MILLIS} ms", host.sleeps.get());
}

/// A writer that loses to another claims the lease, so that its next attempt goes first,
/// and its commit ends the lease.
#[test]
fn a_writer_that_loses_claims_the_lease() {
    let store = FaultyCas::new(false, false, 0, 0);
    let config = Config::open();
    let put =
        |target: &str| Request { method: "PUT".into(), target: target.into(), headers: vec![], body: b"1".to_vec() };
    let host = TestHost::default();
    assert_eq!(handle(&store, &config, &host, &put("/first")).status, 201);
    store.hook.races_left.set(1);
    store.hook.swaps.set(0);
    assert_eq!(handle(&store, &config, &host, &put("/mine")).status, 201);
    let doc = document(&store.inner, &config).unwrap();
    assert_eq!(doc, json!({"first": 1, "mine": 1, "other0": 1}));
    assert_eq!(Txn::begin(&store.inner, config.layout, 1).unwrap().lease(), None);
    // The race (in the document), then the claim and the write: the writer's own two commits.
    assert_eq!(store.hook.swaps.get(), 2);
}

/// `Prefer: return=minimal` leaves out the body of a write's answer, big values included.
#[test]
fn a_minimal_answer_has_no_body() {
    for api in Api::all() {
        let big = json!({"items": (0..5000).map(|i| json!({"name": format!("n{i}")})).collect::<Vec<_>>()});
        for (target, body) in [("/a", "1".to_owned()), ("/", big.to_string())] {
            let headers = [("content-type", "application/json"), ("prefer", "return=minimal")];
            let response = api.send("PUT", target, &headers, &body);
            assert!(matches!(response.status, 200 | 201), "{}", response.status);
            assert!(response.body.is_empty());
            assert_eq!(response.header("preference-applied"), Some("return=minimal"));
            assert_eq!(response.header("content-length"), Some("0"));
            assert!(response.header("etag").is_some());
            assert_eq!(response.header("content-type"), None);
        }
        assert_eq!(api.document(), Some(big.clone()));
        let created =
            api.send("POST", "/log", &[("content-type", "application/json"), ("prefer", "return=minimal")], "1");
        assert_eq!((created.status, created.body.is_empty()), (201, true));
        assert!(created.header("location").is_some());
        // Without the preference, the value comes back.
        assert_eq!(json_body(&api.check("PUT", "/b", "2", 201, None)), json!(2));
    }
}

/// A `POST` to a big array reads only the pages on its path, like a leaf `PUT`: it learns the
/// collection's kind from the node it walked to, not by reading the collection again (which
/// read 140 records, 2.3 MB, for this array).
#[test]
fn a_post_to_a_big_array_reads_its_path_only() {
    let store = crate::store::Hooked::new(MemoryStore::new(), crate::store::Counter::default());
    let (config, host) = (Config::open(), TestHost::default());
    let send = |method: &str, target: &str, body: String| {
        let headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        let request = Request { method: method.into(), target: target.into(), headers, body: body.into_bytes() };
        store.hook.reset();
        let response = handle(&store, &config, &host, &request);
        (response, store.hook.reads.get(), store.hook.read_bytes.get())
    };
    let list: Vec<Value> = (0..50_000).map(|i| json!({"id": i, "name": format!("element {i}")})).collect();
    let body = serde_json::to_string(&json!({"list": list})).unwrap();
    assert!(body.len() > 1_500_000);
    assert_eq!(send("PUT", "/", body).0.status, 201);

    let (put, put_reads, put_bytes) = send("PUT", "/list/25000/name", "\"renamed\"".into());
    assert_eq!(put.status, 200, "{}", String::from_utf8_lossy(&put.body));
    let (post, post_reads, post_bytes) = send("POST", "/list", r#"{"id": 50000}"#.into());
    assert_eq!(post.status, 201, "{}", String::from_utf8_lossy(&post.body));
    assert_eq!(json_body(&post), json!({"index": 50000}));
    assert_eq!(post.header("location"), Some("/list/50000"));
    assert!(post_reads <= put_reads + 1, "a POST read {post_reads} records, a leaf PUT {put_reads}");
    assert!(post_bytes < 100_000, "a POST read {post_bytes} bytes, a leaf PUT {put_bytes}");
    let (get, ..) = send("GET", "/list/50000/id", String::new());
    assert_eq!(json_body(&get), json!(50000));
}

/// The configuration these variables set, the others unset.
fn configured(vars: &[(&str, &str)]) -> Config {
    Config::from_lookup(|name| Ok(vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string()))).unwrap()
}

/// Sends `(method, target, content type, body)` with `token` as its bearer credential, if any.
fn bearing(
    store: &MemoryStore,
    config: &Config,
    host: &TestHost,
    (method, target, content_type, body): (&str, &str, &str, &str),
    token: Option<&str>,
) -> Response {
    let mut headers = vec![("content-type".to_owned(), content_type.to_owned())];
    headers.extend(token.map(|token| ("authorization".to_owned(), format!("Bearer {token}"))));
    handle(store, config, host, &Request { method: method.into(), target: target.into(), headers, body: body.into() })
}

/// With nothing configured, a store is closed: every request but a CORS preflight gets a 401
/// that says how to open it, and nothing is read or written.
#[test]
fn a_store_is_closed_by_default() {
    let (store, host) = (MemoryStore::new(), TestHost::default());
    let config = Config::from_lookup(|_| Ok(None)).unwrap();
    let send = |method: &str, target: &str, headers: &[(&str, &str)], body: &str| {
        let headers = headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        handle(
            &store,
            &config,
            &host,
            &Request { method: method.into(), target: target.into(), headers, body: body.into() },
        )
    };
    for (method, target, body) in [
        ("GET", "/", ""),
        ("HEAD", "/a", ""),
        ("PUT", "/", "1"),
        ("POST", "/", "1"),
        ("DELETE", "/", ""),
        ("OPTIONS", "/", ""),
    ] {
        let response = send(method, target, &[("content-type", "application/json")], body);
        assert_eq!(response.status, 401, "{method} {target}");
        assert_eq!(response.header("www-authenticate"), Some("Bearer realm=\"jsonstore\""));
        if method != "HEAD" {
            let detail = json_body(&response)["detail"].as_str().unwrap().to_owned();
            assert!(detail.contains("write_token") && detail.contains("open"), "{detail}");
        }
    }
    assert!(store.is_empty(), "nothing was written");
    let preflight =
        send("OPTIONS", "/a", &[("origin", "https://app.example"), ("access-control-request-method", "PUT")], "");
    assert_eq!(preflight.status, 204);
    assert!(preflight.header("access-control-allow-headers").unwrap().contains("authorization"));
}

/// Tokens: a read token reads, a write token reads and writes, anything else is refused, and
/// no answer ever shows a token.
#[test]
fn tokens_grant_reads_and_writes() {
    const READ: &str = "reader-secret-0123456789";
    const WRITE: &str = "writer-secret-0123456789";
    let (store, host) = (MemoryStore::new(), TestHost::default());
    let vars = [("read_token", READ), ("write_token", WRITE)];
    let config = configured(&vars);
    let send = |method: &str, target: &str, token: Option<&str>, content_type: &str, body: &str| {
        let response = bearing(&store, &config, &host, (method, target, content_type, body), token);
        let text = String::from_utf8_lossy(&response.body).into_owned()
            + &response.headers.iter().map(|(n, v)| format!("{n}: {v}\n")).collect::<String>();
        assert!(!text.contains("secret-0123"), "a token leaked: {text}");
        response.status
    };
    let json = "application/json";
    assert_eq!(send("PUT", "/", Some(WRITE), json, r#"{"a": 1, "list": [1]}"#), 201);
    let writes: [(&str, &str, &str, &str); 5] = [
        ("PUT", "/a", json, "2"),
        ("POST", "/list", json, "2"),
        ("PATCH", "/a", "application/merge-patch+json", "3"),
        ("PATCH", "/", "application/json-patch+json", r#"[{"op": "replace", "path": "/a", "value": 4}]"#),
        ("DELETE", "/list/0", json, ""),
    ];
    for (method, target, content_type, body) in writes {
        assert_eq!(send(method, target, None, content_type, body), 401, "{method} {target} without a token");
        assert_eq!(send(method, target, Some("not-a-token-0123456789"), content_type, body), 401);
        assert_eq!(send(method, target, Some(READ), content_type, body), 403, "{method} {target} with the read token");
        assert!(matches!(send(method, target, Some(WRITE), content_type, body), 200..=204), "{method} {target}");
    }
    // A JSON Patch that only tests reads, so a read token may send it.
    let test_only = r#"[{"op": "test", "path": "/a", "value": 4}]"#;
    assert_eq!(send("PATCH", "/", Some(READ), "application/json-patch+json", test_only), 200);
    for token in [READ, WRITE] {
        assert_eq!(send("GET", "/a", Some(token), json, ""), 200);
        assert_eq!(send("HEAD", "/", Some(token), json, ""), 200);
    }
    assert_eq!(send("GET", "/a", None, json, ""), 401);
    // Clients that cannot set headers send the token in the query.
    let request = Request { method: "GET".into(), target: format!("/a?x=1&auth={READ}"), ..Request::default() };
    assert_eq!(handle(&store, &config, &host, &request).status, 200);
    let request =
        Request { method: "GET".into(), target: "/a?auth=wrong-token-0123456789".into(), ..Request::default() };
    let refused = handle(&store, &config, &host, &request);
    assert_eq!(refused.status, 401);
    assert_eq!(refused.header("www-authenticate"), Some("Bearer realm=\"jsonstore\", error=\"invalid_token\""));
    assert_eq!(document(&store, &config), Some(json!({"a": 4, "list": [2]})));
}

/// Rules decide what a caller without a token may do, path by path; a partial read is refused.
#[test]
fn rules_open_parts_of_a_store() {
    const WRITE: &str = "writer-secret-0123456789";
    let rules = r#"{"rules": {"public": {".read": true}, "inbox": {"$id": {".write": true}}}}"#;
    let vars = [("write_token", WRITE), ("rules", rules)];
    let config = configured(&vars);
    let (store, host) = (MemoryStore::new(), TestHost::default());
    let send = |method: &str, target: &str, token: Option<&str>, body: &str| {
        bearing(&store, &config, &host, (method, target, "application/json", body), token).status
    };
    assert_eq!(send("PUT", "/", Some(WRITE), r#"{"public": {"news": 1}, "private": 2, "inbox": {}}"#), 201);
    assert_eq!(send("GET", "/public/news", None, ""), 200);
    assert_eq!(send("GET", "/public", None, ""), 200);
    assert_eq!(send("GET", "/", None, ""), 401, "a read the rules allow only in part is refused");
    assert_eq!(send("GET", "/private", None, ""), 401);
    assert_eq!(send("PUT", "/public/news", None, "2"), 401);
    assert_eq!(send("PUT", "/inbox/hello", None, "\"hi\""), 201);
    assert_eq!(send("POST", "/inbox", None, "\"hi\""), 201, "a POST writes a new member, which $id matches");
    assert_eq!(send("DELETE", "/inbox", None, ""), 401, "the rule is for members, not the inbox");
    assert_eq!(send("GET", "/", Some(WRITE), ""), 200);
    let bad = Config::from_lookup(|name| Ok((name == "rules").then(|| r#"{".read": "auth.sub =="}"#.to_owned())));
    assert!(bad.unwrap_err().contains("rules"), "a bad rules document is a configuration error");
}

/// A user's JWT: verified, its claims seen by the rules as `auth`; an expired one, or one of
/// another user, gets what the rules give it.
#[test]
fn users_tokens_meet_the_rules() {
    use base64ct::{Base64UrlUnpadded, Encoding};
    use hmac::{Hmac, KeyInit, Mac};
    const SECRET: &str = "a secret of thirty-two bytes ...";
    const WRITE: &str = "writer-secret-0123456789";
    let jwt = |claims: Value| {
        let header = Base64UrlUnpadded::encode_string(br#"{"alg":"HS256","typ":"JWT"}"#);
        let signed = format!("{header}.{}", Base64UrlUnpadded::encode_string(claims.to_string().as_bytes()));
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(signed.as_bytes());
        format!("{signed}.{}", Base64UrlUnpadded::encode_string(&mac.finalize().into_bytes()))
    };
    let now = 1_700_000_000;
    let ada = jwt(json!({"sub": "ada", "exp": now + 600}));
    let bob = jwt(json!({"sub": "bob", "exp": now + 600}));
    let expired = jwt(json!({"sub": "ada", "exp": now - 600}));
    let rules = r#"{"users": {"$uid": {".read": "auth.sub == $uid", ".write": "auth.sub == $uid"}}}"#;
    let vars = [("write_token", WRITE), ("rules", rules), ("jwt_secret", SECRET)];
    let config = configured(&vars);
    let (store, host) = (MemoryStore::new(), TestHost::default());
    let send = |method: &str, target: &str, token: Option<&str>, body: &str| {
        let response = bearing(&store, &config, &host, (method, target, "application/json", body), token);
        (response.status, String::from_utf8_lossy(&response.body).into_owned())
    };
    assert_eq!(send("PUT", "/", Some(WRITE), r#"{"users": {"ada": {"n": 1}, "bob": {"n": 2}}}"#).0, 201);
    assert_eq!(send("GET", "/users/ada", Some(&ada), "").0, 200);
    assert_eq!(send("PUT", "/users/ada/n", Some(&ada), "3").0, 200);
    assert_eq!(send("GET", "/users/bob", Some(&ada), "").0, 403, "another user's data");
    assert_eq!(send("PUT", "/users/bob/n", Some(&ada), "4").0, 403);
    assert_eq!(send("GET", "/users", Some(&ada), "").0, 403, "a read allowed only in part is refused");
    assert_eq!(send("GET", "/users/bob", Some(&bob), "").0, 200);
    assert_eq!(send("GET", "/users/ada", None, "").0, 401);
    let (status, body) = send("GET", "/users/ada", Some(&expired), "");
    assert_eq!(status, 401);
    assert!(body.contains("expired") && !body.contains(&expired), "{body}");
    let forged = format!("{}x", &ada[..ada.len() - 1]);
    assert_eq!(send("GET", "/users/ada", Some(&forged), "").0, 401);
    assert_eq!(document(&store, &config), Some(json!({"users": {"ada": {"n": 3}, "bob": {"n": 2}}})));
    let no_rules = Config::from_lookup(|name| Ok((name == "jwt_secret").then(|| SECRET.to_owned())));
    assert!(no_rules.unwrap_err().contains("rules"), "JWT keys without rules grant nothing: a misconfiguration");
}

/// Sends a request with a body of any bytes, JSON or not.
fn send_bytes(api: &Api, method: &str, target: &str, content_type: &str, body: Vec<u8>) -> Response {
    let headers = vec![("content-type".to_owned(), content_type.to_owned())];
    let request = Request { method: method.into(), target: target.into(), headers, body };
    handle(&api.store, &api.config, &api.host, &request)
}

/// Asserts that a response is the problem `kind` with `status`, and returns its body.
#[track_caller]
fn problem(response: &Response, status: u16, kind: &str) -> Value {
    let shown: String = String::from_utf8_lossy(&response.body).chars().take(300).collect();
    assert_eq!(response.status, status, "{shown}");
    let body = json_body(response);
    assert_eq!(body["type"].as_str(), Some(kind), "{shown}");
    body
}

/// Bug: a `PUT` body over 64 KiB, which is stored as it is parsed, with a lone surrogate or
/// bytes that are not UTF-8 in a string or a member name, was answered 500 `corrupt-document`
/// where a smaller one is 400 `bad-json`. Both sizes are refused alike, before anything is
/// written; so is a member named twice.
#[test]
fn a_streamed_body_is_checked_as_a_parsed_one_is() {
    let bad: [&[u8]; 7] = [
        br#""\ud800""#,
        br#""\udc00 and more""#,
        b"\"caf\xe9\"",
        b"\"\xed\xa0\x80\"",
        br#"{"\ud800": 1}"#,
        b"{\"\xff\": 1}",
        br#"{"same": 1, "same": 2}"#,
    ];
    for api in Api::all() {
        api.check("PUT", "/", r#"{"keep": [1, 2]}"#, 201, None);
        let keys = api.store.keys().unwrap().len();
        for value in bad {
            let padding = "x".repeat(super::op::STREAM_BYTES_MIN);
            for body in [value.to_vec(), [br#"{"pad": ""#, padding.as_bytes(), br#"", "bad": "#, value, b"}"].concat()]
            {
                let response = send_bytes(&api, "PUT", "/a", "application/json", body);
                problem(&response, 400, "urn:jsonstore:problem:bad-json");
            }
        }
        assert_eq!(api.document(), Some(json!({"keep": [1, 2]})));
        assert_eq!(api.store.keys().unwrap().len(), keys, "records were written");
    }
}

/// Bug: on the streamed path the pointer's depth was taken off the limit, and a scalar body
/// nests nothing, so a 70 KB string `PUT` at a 200-token path stored a document 200 deep (past
/// the hard cap of 128), and at 10,000 tokens the component trapped. Every write's pointer
/// counts, whatever the body; the merge patch at 3,000 tokens trapped likewise, its depth
/// checked only after the value was built.
#[test]
fn a_long_path_is_too_deep_for_every_write() {
    let string = format!("\"{}\"", "x".repeat(70_000));
    let at = |tokens: usize| "/k".repeat(tokens);
    for api in Api::all() {
        api.check("PUT", "/", r#"{"keep": 1}"#, 201, None);
        let merge = [("content-type", "application/merge-patch+json")];
        let json_patch = [("content-type", "application/json-patch+json")];
        for tokens in [65, 200, 3_000, 10_000] {
            let too_deep = "urn:jsonstore:problem:too-deep";
            let target = at(tokens);
            let big = api.send("PUT", &target, &[("content-type", "application/json")], &string);
            assert_eq!(problem(&big, 400, too_deep)["limit"], 64);
            problem(&api.send("PUT", &target, &[("content-type", "application/json")], "1"), 400, too_deep);
            problem(&api.send("POST", &target, &[("content-type", "application/json")], "1"), 400, too_deep);
            problem(&api.send("PATCH", &target, &merge, r#"{"a": 1}"#), 400, too_deep);
            problem(&api.send("PATCH", &target, &json_patch, "[]"), 400, too_deep);
        }
        // At the limit, a scalar fits and anything nested does not, streamed or not.
        problem(&api.send("PUT", &at(64), &[], &format!("[{string}]")), 400, "urn:jsonstore:problem:too-deep");
        problem(&api.send("POST", &at(64), &[], "1"), 400, "urn:jsonstore:problem:too-deep");
        problem(&api.send("PATCH", &at(64), &merge, r#"{"a": 1}"#), 400, "urn:jsonstore:problem:too-deep");
        assert_eq!(api.document(), Some(json!({"keep": 1})));
        api.check("PUT", &at(64), &string, 201, None);
        api.check("PATCH", &at(63), r#"{"j": 1}"#, 200, None);
        api.send("DELETE", &at(1), &[], "");
        assert_eq!(api.send("DELETE", &at(10_000), &[], "").status, 404);
        assert_eq!(api.document(), Some(json!({"keep": 1})));
    }
}

/// Bug: 40 `copy` operations that each copy `/a` into itself doubled it 40 times (a 2 KB
/// patch; 500 after seconds, with 4.2 GB of memory). The patch stops, before it copies, at the
/// operation that would take the value past `patch_bytes_max`; one with more operations than
/// `patch_operations_max` is refused before any is parsed.
#[test]
fn a_patch_may_not_build_more_than_its_bounds() {
    let json_patch = [("content-type", "application/json-patch+json")];
    let copies: Vec<Value> = (0..40).map(|i| json!({"op": "copy", "from": "/a", "path": format!("/a/c{i}")})).collect();
    let copies = Value::Array(copies).to_string();
    assert!(copies.len() < 2_100);
    for mut api in Api::all() {
        api.config.patch_bytes_max = 1 << 20;
        api.check("PUT", "/", r#"{"a": {"b": 1}, "z": 2}"#, 201, None);
        let refused =
            problem(&api.send("PATCH", "/", &json_patch, &copies), 413, "urn:jsonstore:problem:patch-too-large");
        let operation = refused["operation"].as_u64().unwrap();
        assert!((14..20).contains(&operation), "{refused}");
        assert_eq!(refused["pointer"], format!("/a/c{operation}"));
        assert_eq!(refused["limit"], 1 << 20);
        assert_eq!(api.document(), Some(json!({"a": {"b": 1}, "z": 2})));

        // A target already larger than the bound is not read past it, by either kind of patch.
        api.config.patch_bytes_max = 64;
        let merge = [("content-type", "application/merge-patch+json")];
        api.check("PUT", "/big", &json!((0..40).collect::<Vec<_>>()).to_string(), 201, None);
        let big = problem(&api.send("PATCH", "/big", &json_patch, "[]"), 413, "urn:jsonstore:problem:patch-too-large");
        assert_eq!(
            (big["pointer"].clone(), big["limit"].clone(), big.get("operation")),
            (json!("/big"), json!(64), None)
        );
        let whole =
            problem(&api.send("PATCH", "/", &merge, r#"{"z": 3}"#), 413, "urn:jsonstore:problem:patch-too-large");
        assert_eq!(whole["pointer"], "");
        api.check("PATCH", "/a", r#"{"z": 3}"#, 200, Some(json!({"b": 1, "z": 3})));
        api.config.patch_bytes_max = Config::default().patch_bytes_max;

        let tests: Vec<Value> = (0..50_000).map(|_| json!({"op": "test", "path": "/z", "value": 2})).collect();
        let refused = api.send("PATCH", "/", &json_patch, &Value::Array(tests).to_string());
        assert_eq!(problem(&refused, 413, "urn:jsonstore:problem:too-many-operations")["limit"], 1000);
        let allowed: Vec<Value> = (0..1000).map(|_| json!({"op": "test", "path": "/z", "value": 2})).collect();
        assert_eq!(api.send("PATCH", "/", &json_patch, &Value::Array(allowed).to_string()).status, 200);
    }
}

/// A copy nests the copied value below its path, so copying a value into itself nests it one
/// deeper each time: the patch stops at the operation that would pass the depth limit, and a
/// move into the value's own child is refused as RFC 6902 says.
#[test]
fn a_patch_may_not_nest_deeper_than_the_limit() {
    let json_patch = [("content-type", "application/json-patch+json")];
    for api in Api::all() {
        api.check("PUT", "/", r#"{"a": {}}"#, 201, None);
        let copies: Vec<Value> = (0..100).map(|_| json!({"op": "copy", "from": "/a", "path": "/a/x"})).collect();
        let refused = api.send("PATCH", "/", &json_patch, &Value::Array(copies).to_string());
        let refused = problem(&refused, 400, "urn:jsonstore:problem:too-deep");
        // `/a/x` is 2 levels down; the copy of `/a` nests n + 1 deep before operation n.
        assert_eq!((refused["operation"].clone(), refused["pointer"].clone()), (json!(62), json!("/a/x")));
        let moved = api.send("PATCH", "/", &json_patch, r#"[{"op": "move", "from": "/a", "path": "/a/x"}]"#);
        problem(&moved, 409, "urn:jsonstore:problem:patch-failed");
        assert_eq!(api.document(), Some(json!({"a": {}})));
        let copied = api.send("PATCH", "/", &json_patch, r#"[{"op": "copy", "from": "/a", "path": "/a/x"}]"#);
        assert_eq!(copied.status, 200);
        assert_eq!(api.document(), Some(json!({"a": {"x": {}}})));
    }
}

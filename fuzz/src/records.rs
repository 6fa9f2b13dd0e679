//! Stored records from elsewhere: a store loaded with any bytes under the root key and node
//! keys, then read and written through `service::handle`.
//!
//! An input is text, one line each:
//!
//! - `KEY VALUE`: the store holds the bytes `VALUE` (the rest of the line, any bytes but a
//!   newline) under `KEY`, such as `jsonstore.root 3{"generation":1,...}`. The seeds are stores
//!   JSONStore wrote, dumped this way ([`dump`]), so that mutations make records that are
//!   nearly right.
//! - `> METHOD TARGET BODY`: a request (a JSON body for `PUT` and `POST`; for `PATCH` a JSON
//!   Patch when it starts with `[`, else a merge patch). Without any, [`SCRIPT`] runs.
//!
//! Each request runs on its own copy of the loaded store, with the tiny layout (so that a
//! write makes pages too), and then a sweep runs on it. A record that does not decode is a `corrupt-document` problem (a 500: not
//! the client's fault); anything else must be an answer as for a sound store. Nothing may
//! panic.

use super::host::Clock;
use super::known::{self, Bug};
use super::requests::{Answers, Client, configs, request};
use jsonstore::core::json::nesting;
use jsonstore::core::record::decode::RECORD_DEPTH_MAX;
use jsonstore::layout::gc;
use jsonstore::layout::root::ROOT_KEY;
use jsonstore::store::{MemoryStore, Store};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The requests run when an input names none: reads of the paths the seeds have, a
/// conditional read, and a write of each kind.
pub const SCRIPT: [(&str, &str, &str); 13] = [
    ("GET", "/", ""),
    ("HEAD", "/a", ""),
    ("GET", "/a", ""),
    ("GET", "/a/0", ""),
    ("GET", "/b/k1", ""),
    ("GET", "/1", ""),
    ("PUT", "/a/0", "[1,2]"),
    ("PUT", "/b/c", "\"x\""),
    ("POST", "/a", "{}"),
    ("PATCH", "/", "{\"b\":null,\"c\":1}"),
    ("PATCH", "/b", "[{\"op\":\"move\",\"from\":\"/k1\",\"path\":\"/z\"}]"),
    ("DELETE", "/a/1", ""),
    ("PUT", "/", "{\"a\":1}"),
];

/// Runs an input.
pub fn check(data: &[u8]) {
    let store = MemoryStore::new();
    let mut requests = Vec::new();
    for line in data.split(|&byte| byte == b'\n') {
        if let Some(line) = line.strip_prefix(b"> ") {
            let line = String::from_utf8_lossy(line);
            let mut parts = line.splitn(3, ' ');
            let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or("/"));
            requests.push((method.to_owned(), target.to_owned(), parts.next().unwrap_or_default().to_owned()));
        } else if !line.is_empty() {
            let (key, value) = match line.iter().position(|&byte| byte == b' ') {
                Some(at) => (&line[..at], &line[at + 1..]),
                None => (line, &b""[..]),
            };
            store.set(&String::from_utf8_lossy(key), value).expect("a memory store does not fail");
        }
    }
    if let Some(bug) = known_bug(&store)
        && known::pass_over(bug)
    {
        return;
    }
    if requests.is_empty() {
        requests = SCRIPT.iter().map(|&(method, target, body)| (method.into(), target.into(), body.into())).collect();
    }
    let [_, _, config] = configs();
    for (method, target, body) in requests {
        let content_type = match method.as_str() {
            "PATCH" if body.starts_with('[') => "application/json-patch+json",
            "PATCH" => "application/merge-patch+json",
            _ => "application/json",
        };
        // A host whose sessions are not the seeds': a write names its new records after its
        // session, and a store that already holds one of those names (which random 64-bit
        // sessions never meet) would make the tree a graph.
        let client = Client {
            store: store.clone(),
            host: Clock::starting_at(1 << 40),
            ..Client::new(config.clone(), Answers::Corrupt)
        };
        client.send(&request(&method, &target, &[("content-type", content_type)], body.as_bytes()));
        let _ = gc::sweep(&client.store, config.layout);
    }
}

/// A store's records as an input of this target, the root record first: one line per key.
pub fn dump(store: &MemoryStore) -> Vec<u8> {
    let mut keys = store.keys().expect("a memory store does not fail");
    keys.sort_by_key(|key| (key != ROOT_KEY, key.clone()));
    let mut out = Vec::new();
    for key in keys {
        let value = store.get(&key).expect("a memory store does not fail").expect("a listed key has a value");
        assert!(!value.contains(&b'\n') && !key.contains([' ', '\n']), "record {key} fits on a line");
        out.extend_from_slice(key.as_bytes());
        out.push(b' ');
        out.extend_from_slice(&value);
        out.push(b'\n');
    }
    out
}

/// The known bug, if any, that the store's records would run into.
fn known_bug(store: &MemoryStore) -> Option<Bug> {
    let mut keys = store.keys().expect("a memory store does not fail");
    keys.sort();
    let records: Vec<Vec<u8>> = keys.iter().map(|key| joined(store, key)).collect();
    if records.iter().any(|record| nesting(record) > RECORD_DEPTH_MAX) {
        return Some(Bug::DeepRecord);
    }
    // Which records name which, as JSON strings anywhere in their text; then a depth-first
    // search for a way back.
    let names: Vec<Vec<u8>> = keys.iter().map(|key| format!("\"{key}\"").into_bytes()).collect();
    let edges: Vec<Vec<usize>> = records
        .iter()
        .map(|record| (0..keys.len()).filter(|&to| record.windows(names[to].len()).any(|w| w == names[to])).collect())
        .collect();
    let mut state = vec![Visit::New; keys.len()];
    if (0..keys.len()).any(|at| state[at] == Visit::New && cycle(at, &edges, &mut state)) {
        return Some(Bug::ReferenceCycle);
    }
    // The records that are JSON after their tag: pages and the root record.
    let parsed: HashMap<&str, Value> = keys
        .iter()
        .zip(&records)
        .filter_map(|(key, record)| match record.split_first() {
            Some((b'P' | b'2' | b'3', json)) => Some((key.as_str(), serde_json::from_slice(json).ok()?)),
            _ => None,
        })
        .collect();
    if parsed.get(ROOT_KEY).and_then(|root| root["generation"].as_u64()) == Some(u64::MAX) {
        return Some(Bug::LastGeneration);
    }
    if parsed.values().any(|value| any_object(value, &|object| wrong_len(object, &parsed))) {
        return Some(Bug::WrongLen);
    }
    let object_of_elements = |object: &Map<String, Value>| {
        let top = object.get("page").or_else(|| parsed.get(object.get("key")?.as_str()?));
        object.get("kind").and_then(Value::as_str) == Some("object")
            && top.is_some_and(|top| holds_elements(top, &parsed))
    };
    parsed.values().any(|value| any_object(value, &object_of_elements)).then_some(Bug::KindMismatch)
}

/// A `len` no store that fits in memory has: its collection's members, read whole, do not.
const LEN_MAX: u64 = 1 << 25;

/// Whether `object` is a node or page reference whose `len` is not the number of members on
/// the page it names (or is too big for any).
fn wrong_len(object: &Map<String, Value>, pages: &HashMap<&str, Value>) -> bool {
    let Some(len) = object.get("len").and_then(Value::as_u64) else { return false };
    if len > LEN_MAX {
        return true;
    }
    if object.get("kind").and_then(Value::as_str) == Some("scalar") {
        return false;
    }
    let page = object.get("page").or_else(|| pages.get(object.get("key")?.as_str()?));
    page.and_then(members).is_some_and(|members| members != len)
}

/// How many collection members a page holds, by its items or its index's `len`s.
fn members(page: &Value) -> Option<u64> {
    if let Some(items) = page.get("elements").or_else(|| page.get("members")).and_then(Value::as_array) {
        return Some(items.len() as u64);
    }
    page.get("index")?.as_array()?.iter().try_fold(0u64, |sum, below| sum.checked_add(below.get("len")?.as_u64()?))
}

/// Whether `is` holds for an object anywhere in `value`.
fn any_object(value: &Value, is: &dyn Fn(&Map<String, Value>) -> bool) -> bool {
    match value {
        Value::Object(object) => is(object) || object.values().any(|value| any_object(value, is)),
        Value::Array(items) => items.iter().any(|value| any_object(value, is)),
        _ => false,
    }
}

/// Whether the page `page`, or one below it, holds elements (the records have no cycle).
fn holds_elements(page: &Value, pages: &HashMap<&str, Value>) -> bool {
    page.get("elements").is_some()
        || page["index"].as_array().is_some_and(|below| {
            below.iter().any(|page| {
                page["key"].as_str().and_then(|key| pages.get(key)).is_some_and(|page| holds_elements(page, pages))
            })
        })
}

/// Where a depth-first search is with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visit {
    New,
    OnPath,
    Done,
}

/// Whether a way from record `at` along `edges` leads back to a record on the path.
fn cycle(at: usize, edges: &[Vec<usize>], state: &mut [Visit]) -> bool {
    state[at] = Visit::OnPath;
    for &next in &edges[at] {
        if state[next] == Visit::OnPath || (state[next] == Visit::New && cycle(next, edges, state)) {
            return true;
        }
    }
    state[at] = Visit::Done;
    false
}

/// A record with its parts joined, as the layout reads it.
fn joined(store: &MemoryStore, key: &str) -> Vec<u8> {
    let record = store.get(key).expect("a memory store does not fail").unwrap_or_default();
    let Some((b'M', count)) = record.split_first() else { return record };
    let count = std::str::from_utf8(count).ok().and_then(|count| count.parse::<usize>().ok()).unwrap_or(0);
    let mut whole = Vec::new();
    for part in 0..count.min(4096) {
        match store.get(&format!("{key}/{part}")).expect("a memory store does not fail") {
            Some(bytes) => whole.extend(bytes),
            None => break,
        }
    }
    whole
}

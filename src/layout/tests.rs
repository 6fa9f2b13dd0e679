//! Tests of the layout's promises: size limits, cost per write, garbage collection, tags.

use super::records::NODE_PREFIX;
use super::root::{self, ROOT_KEY};
use super::*;
use crate::core::record::root::FORMAT;
use crate::core::record::{self as node, Child, Kind, RootRecord};
use crate::core::{Pointer, PointerBuf};
use crate::store::{Counter, Hooked, MemoryStore, Store, Swap};
use serde_json::{Value, json};

/// A store that counts what is read and written through it.
type Counting = Hooked<MemoryStore, Counter>;

/// A layout with these sizes and no key budget.
fn layout(inline_bytes_max: usize, page_bytes_target: usize, chunk_bytes_max: usize, sweep_every: u64) -> LayoutConfig {
    LayoutConfig { inline_bytes_max, page_bytes_target, chunk_bytes_max, sweep_every, keys_max: 0 }
}

fn ptr(s: &str) -> PointerBuf {
    PointerBuf::parse(s).unwrap()
}

/// Runs `write` in a transaction and commits it.
fn write<S: Store>(store: &S, config: LayoutConfig, write: impl FnOnce(&mut Txn<'_, S>)) {
    let mut txn = Txn::begin(store, config, 7).unwrap();
    write(&mut txn);
    let (swap, garbage) = txn.commit().unwrap();
    assert_eq!(swap, Swap::Done);
    garbage.collect(store, config);
}

fn read<S: Store>(store: &S, config: LayoutConfig, pointer: &str) -> Option<Value> {
    Snapshot::open(store, config).unwrap().value(&ptr(pointer)).unwrap()
}

/// About `items` records of 200 bytes each.
fn big_document(items: usize) -> Value {
    let items: Vec<Value> = (0..items)
        .map(|i| json!({"id": i, "name": format!("item {i}"), "tags": ["a", "b", "c"], "text": "x".repeat(140)}))
        .collect();
    json!({"items": items, "meta": {"title": "big"}})
}

#[test]
fn every_stored_value_fits_a_chunk_and_every_key_is_short() {
    let config = layout(64, 512, 1024, 1000);
    let store = MemoryStore::new();
    let mut doc = big_document(300);
    doc["huge"] = json!("y".repeat(10_000));
    write(&store, config, |tree| {
        tree.put(&ptr(""), doc.clone()).unwrap();
    });
    assert!(store.len() > 20, "the document is spread over many records");
    for key in store.keys().unwrap() {
        assert!(key.len() <= 255, "{key}");
        let value = store.get(&key).unwrap().unwrap();
        assert!(value.len() <= config.chunk_bytes_max, "{key} holds {} bytes", value.len());
    }
    assert_eq!(read(&store, config, ""), Some(doc));
}

#[test]
fn a_leaf_write_touches_a_path_not_the_document() {
    let config = LayoutConfig::default();
    let store = Counting::default();
    let doc = big_document(20_000);
    let document_bytes = serde_json::to_vec(&doc).unwrap().len();
    assert!(document_bytes > 3_000_000);
    write(&store, config, |tree| {
        tree.put(&ptr(""), doc).unwrap();
    });
    store.hook.read_bytes.set(0);
    store.hook.written_bytes.set(0);
    write(&store, config, |tree| {
        tree.put(&ptr("/items/12345/name"), json!("renamed")).unwrap();
    });
    assert_eq!(read(&store, config, "/items/12345/name"), Some(json!("renamed")));
    let touched = store.hook.read_bytes.get() + store.hook.written_bytes.get();
    assert!(touched < document_bytes / 30, "a leaf write touched {touched} bytes of a {document_bytes}-byte document");
    store.hook.read_bytes.set(0);
    assert_eq!(read(&store, config, "/items/19999/id"), Some(json!(19999)));
    assert!(
        store.hook.read_bytes.get() < document_bytes / 30,
        "a leaf read touched {} bytes",
        store.hook.read_bytes.get()
    );
}

#[test]
fn garbage_is_collected_under_a_rewrite_loop() {
    let config = layout(32, 256, 4096, 8);
    let store = MemoryStore::new();
    write(&store, config, |tree| {
        tree.put(&ptr(""), big_document(200)).unwrap();
    });
    let settled = store.len();
    for round in 0..300 {
        write(&store, config, |tree| {
            tree.put(&ptr(&format!("/items/{}/name", round % 200)), json!(round)).unwrap();
            tree.put(&ptr(&format!("/extra/{}", round % 10)), json!({"round": round, "text": "z".repeat(50)})).unwrap();
        });
        assert!(store.len() < settled * 2, "the store grew to {} keys from {settled}", store.len());
    }
    // A failed writer's leftovers, built on an old generation, are swept too.
    let mut txn = Txn::begin(&store, config, 0xabcdef).unwrap();
    txn.write(b"Sorphan").unwrap();
    for _ in 0..config.sweep_every {
        write(&store, config, |tree| {
            tree.put(&ptr("/meta/touch"), json!(1)).unwrap();
        });
    }
    assert!(store.keys().unwrap().iter().all(|key| !key.contains(".abcdef.")), "the orphan was swept");
}

#[test]
fn a_commit_deletes_what_it_replaced_without_a_sweep() {
    let config = layout(32, 256, 1024, u64::MAX);
    let store = MemoryStore::new();
    write(&store, config, |tree| {
        tree.put(&ptr(""), json!({"small": 1})).unwrap();
    });
    let baseline = store.len();
    for round in 0..20 {
        write(&store, config, |tree| {
            tree.put(&ptr("/big"), big_document(50 + round)).unwrap();
        });
        assert!(store.len() > baseline + 10);
        write(&store, config, |tree| {
            tree.put(&ptr(&format!("/big/items/{round}/name")), json!("x")).unwrap();
            tree.delete(&ptr("/big/items/3")).unwrap();
        });
        write(&store, config, |tree| {
            tree.put(&ptr("/big"), json!(round)).unwrap();
        });
        assert_eq!(store.len(), baseline, "round {round}: every page of the replaced subtree is gone");
    }
}

#[test]
fn the_sweep_spares_what_a_concurrent_writer_is_building() {
    let config = layout(8, 64, 4096, 1000);
    let store = MemoryStore::new();
    write(&store, config, |tree| {
        tree.put(&ptr(""), json!({"a": [1, 2, 3], "b": "some text"})).unwrap();
    });
    let mut building = Txn::begin(&store, config, 5).unwrap();
    building.put(&ptr("/c"), json!({"new": "value with some length"})).unwrap();
    assert_eq!(gc::sweep(&store, config).unwrap(), 0);
    assert_eq!(building.commit().unwrap().0, Swap::Done);
    assert_eq!(read(&store, config, "/c/new"), Some(json!("value with some length")));
    assert_eq!(read(&store, config, "/a/2"), Some(json!(3)));
}

#[test]
fn tags_follow_content() {
    let config = layout(8, 64, 4096, 1000);
    let store = MemoryStore::new();
    let value = json!({"list": [1, 2, 3, 4, 5, 6], "text": "long enough to be stored apart"});
    let tag = |store: &MemoryStore, pointer: &str| Snapshot::open(store, config).unwrap().tag(&ptr(pointer)).unwrap();
    write(&store, config, |tree| {
        tree.put(&ptr("/a"), value.clone()).unwrap();
        tree.put(&ptr("/b"), value.clone()).unwrap();
    });
    assert_eq!(tag(&store, "/a"), tag(&store, "/b"), "equal values, equal tags");
    let before = tag(&store, "/a");
    write(&store, config, |tree| {
        tree.put(&ptr("/b/list/0"), json!(9)).unwrap();
    });
    assert_eq!(tag(&store, "/a"), before, "a sibling's write keeps the tag");
    assert_ne!(tag(&store, "/b"), before);
}

#[test]
fn a_conflicting_commit_leaves_its_records_to_the_sweep() {
    let config = layout(8, 64, 4096, 1000);
    let store = MemoryStore::new();
    write(&store, config, |tree| {
        tree.put(&ptr(""), json!({"a": "first value here"})).unwrap();
    });
    let keys = store.len();
    let mut loser = Txn::begin(&store, config, 1).unwrap();
    // Too big for the root record (64 bytes here): it writes records of its own.
    loser.put(&ptr("/b"), json!(["a value", "b value", "c value", "d value", "e value", "f value"])).unwrap();
    write(&store, config, |tree| {
        tree.put(&ptr("/c"), json!(1)).unwrap();
    });
    let (swap, garbage) = loser.commit().unwrap();
    assert_eq!(swap, Swap::Conflict);
    assert!(garbage.is_empty(), "a conflicted transaction's records are left to the sweep");
    assert!(store.len() > keys + 1);
    gc::sweep(&store, config).unwrap();
    assert!(store.len() <= keys + 1, "{} keys, {keys} before", store.len());
    assert_eq!(read(&store, config, ""), Some(json!({"a": "first value here", "c": 1})));
}

fn stored_both_ways(config: LayoutConfig, json: &str) -> [(Option<String>, Option<Value>, usize); 2] {
    let payloads = [
        Payload::Value(serde_json::from_str(json).unwrap()),
        Payload::Json(std::rc::Rc::new(json.as_bytes().to_vec())),
    ];
    payloads.map(|payload| {
        let store = MemoryStore::new();
        write(&store, config, |tree| {
            tree.put_payload(&ptr(""), payload).unwrap();
        });
        let snapshot = Snapshot::open(&store, config).unwrap();
        (snapshot.tag(&ptr("")).unwrap(), snapshot.value(&ptr("")).unwrap(), store.len())
    })
}

#[test]
fn streaming_stores_the_same_tree_as_a_parsed_value() {
    let tiny = layout(12, 60, 200, 1000);
    let cases = [
        r#"{"b": [1, 2, {"x": "a longer string value"}], "a": {"z": 1, "y": [true, null, 2.5]}}"#.to_owned(),
        r#"{"dup": 1, "other": "first value", "dup": 2}"#.to_owned(),
        r#""a big scalar string, longer than the inline limit""#.to_owned(),
        serde_json::to_string(&big_document(40)).unwrap(),
        format!("[{}]", (0..500).map(|i| i.to_string()).collect::<Vec<_>>().join(",")),
        "[]".to_owned(),
        "{}".to_owned(),
        // Escapes and non-ASCII text: inline lengths counted while parsing must match the
        // encoded ones, or pages would be cut elsewhere.
        format!(
            "[{}]",
            (0..300).map(|i| format!(r#"{{"q\"{i}":"tab\tné\u0001\\ {i}"}}"#)).collect::<Vec<_>>().join(",")
        ),
    ];
    for json in cases {
        for config in [tiny, layout(48, 64, 256, 1000), LayoutConfig::default()] {
            let [parsed, streamed] = stored_both_ways(config, &json);
            assert_eq!(parsed, streamed, "{json}");
            assert_eq!(streamed.1, Some(serde_json::from_str::<Value>(&json).unwrap()));
        }
    }
}

proptest::proptest! {
    #[test]
    fn streaming_matches_parsing_for_any_value(value in arb_json()) {
        for config in [layout(10, 30, 100, 1000), layout(40, 48, 200, 1000)] {
            let [parsed, streamed] = stored_both_ways(config, &value.to_string());
            proptest::prop_assert_eq!(parsed, streamed);
        }
    }
}

fn arb_json() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    // Numbers of any length, kept as written.
    let number = "-?(0|[1-9][0-9]{0,30})(\\.[0-9]{1,20})?(e[+-][1-9][0-9]{0,3})?"
        .prop_map(|text| serde_json::from_str::<Value>(&text).expect("a JSON number"));
    let leaf =
        prop_oneof![Just(Value::Null), any::<i64>().prop_map(Value::from), number, "[a-z]{0,12}".prop_map(Value::from)];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::btree_map("[a-d]{1,3}", inner, 0..8)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A store written in format 2 (before top pages could be embedded) reads as it is.
#[test]
fn format_2_records_are_read() {
    let store = MemoryStore::new();
    let config = LayoutConfig::default();
    store.set(ROOT_KEY, br#"2{"generation":4,"root":{"v":{"a":[1,2]}}}"#).unwrap();
    assert_eq!(read(&store, config, ""), Some(json!({"a": [1, 2]})));
    write(&store, config, |tree| {
        tree.put(&ptr("/b"), json!(3)).unwrap();
    });
    assert_eq!(read(&store, config, ""), Some(json!({"a": [1, 2], "b": 3})));
    assert_eq!(store.get(ROOT_KEY).unwrap().unwrap()[0], FORMAT);
}

/// Root records decode to what was encoded; malformed ones are corrupt, not a panic.
#[test]
fn root_records_round_trip() {
    let node =
        Child::Node(node::NodeRef { key: "k".into(), page: None, hash: node::hash(b"x"), kind: Kind::Object, len: 1 });
    for record in [
        RootRecord::empty(),
        RootRecord {
            generation: 7,
            commits: vec![1, u64::MAX],
            lease: None,
            root: Some(Child::Inline(json!([1, {}]))),
        },
        RootRecord {
            generation: 8,
            commits: vec![0xabc],
            lease: Some(Lease { holder: 0xabc, until_millis: 1_700_000_000_000 }),
            root: Some(node),
        },
    ] {
        assert_eq!(root::decode(Some(&record.encode())).unwrap(), record);
    }
    for bad in [
        &b"3{}"[..],
        b"3{\"generation\":1,\"commits\":[\"xyz\"],\"root\":null}",
        b"3{\"generation\":1,\"lease\":[\"1\"],\"root\":null}",
        b"3{\"generation\":1,\"root\":{\"v\":1,\"n\":2}}",
        b"3[]",
        b"9{}",
    ] {
        assert!(matches!(root::decode(Some(bad)), Err(Error::Corrupt(_))), "{}", String::from_utf8_lossy(bad));
    }
}

/// The JSON a stored value streams out as, page by page, with inline values copied from the
/// records as they are. The value is stored from its text (as a big PUT is) when `as_text`.
fn streamed(config: LayoutConfig, value: &Value, as_text: bool) -> Vec<u8> {
    let store = MemoryStore::new();
    let payload = if as_text {
        Payload::Json(std::rc::Rc::new(serde_json::to_vec_pretty(value).unwrap()))
    } else {
        Payload::Value(value.clone())
    };
    write(&store, config, |tree| {
        tree.put_payload(&ptr(""), payload).unwrap();
    });
    let snapshot = Snapshot::open(&store, config).unwrap();
    let mut out = Vec::new();
    match snapshot.read(&ptr("")).unwrap().unwrap().0 {
        Reading::Node(node) => snapshot.write_json(&node, &mut out).unwrap(),
        Reading::Json(json) => out = json,
    }
    out
}

#[test]
fn streamed_json_is_the_serialized_value_byte_for_byte() {
    let text = json!({
        "escapes \"\\\t\u{1}": ["é", "\u{2028}", "tab\there", "\u{10FFFF}"],
        "numbers": [0, -1, 1.5, 1e300, -2.5e-300, 0.1, 18446744073709551615_u64, -9223372036854775808_i64],
        "nested": {"b": [true, false, null], "a": {"deep": [[[{"x": "y"}]]]}},
    });
    let items = Value::Array(
        (0..200).map(|i| json!({"id": i, "name": format!("item \"{i}\""), "f": i as f64 / 7.0})).collect(),
    );
    for value in [text, items, big_document(30)] {
        for config in [layout(8, 40, 100, 1000), layout(48, 64, 256, 1000), LayoutConfig::default()] {
            for as_text in [false, true] {
                assert_eq!(streamed(config, &value, as_text), serde_json::to_vec(&value).unwrap(), "{value}");
            }
        }
    }
}

proptest::proptest! {
    #[test]
    fn streamed_json_matches_serializing_for_any_value(value in arb_json()) {
        for config in [layout(8, 30, 100, 1000), layout(40, 48, 200, 1000)] {
            for as_text in [false, true] {
                proptest::prop_assert_eq!(streamed(config, &value, as_text), serde_json::to_vec(&value).unwrap());
            }
        }
    }
}

/// What [`Snapshot::read_now`] answers, and what reading a snapshot answers, as JSON and tag.
fn found_both_ways(store: &MemoryStore, config: LayoutConfig, pointer: &Pointer) -> [Option<(Vec<u8>, String)>; 2] {
    let json = |snapshot: &Snapshot<'_, MemoryStore>, reading: Reading| match reading {
        Reading::Json(json) => json,
        Reading::Node(node) => {
            let mut out = Vec::new();
            snapshot.write_json(&node, &mut out).unwrap();
            out
        }
    };
    let snapshot = Snapshot::open(store, config).unwrap();
    let read = snapshot.read(pointer).unwrap().map(|(reading, tag)| (json(&snapshot, reading), tag));
    let found = Snapshot::read_now(store, config, pointer)
        .unwrap()
        .map(|Read { snapshot, reading, tag }| (json(&snapshot, reading), tag));
    [found, read]
}

#[test]
fn finding_in_the_root_records_text_is_reading_the_tree() {
    let value = json!({"a/b": 1, "m~n": [2, {"x": null}], "é": "three", "": {"": 4}, "list": [0, 1, 2, 3]});
    let pointers = [
        "",
        "/a~1b",
        "/m~0n",
        "/m~0n/1/x",
        "/é",
        "/",
        "//",
        "/list/3",
        "/list/03",
        "/list/-",
        "/list/4",
        "/a~1b/0",
        "/zz",
    ];
    for config in [LayoutConfig::default(), layout(8, 30, 100, 1000)] {
        let store = MemoryStore::new();
        assert_eq!(found_both_ways(&store, config, &ptr("/a")), [None, None]);
        write(&store, config, |tree| {
            tree.put(&ptr(""), value.clone()).unwrap();
        });
        for pointer in pointers {
            let [found, read] = found_both_ways(&store, config, &ptr(pointer));
            assert_eq!(found, read, "{pointer}");
            let expected = crate::core::document::get(Some(&value), &ptr(pointer));
            assert_eq!(
                found.map(|(json, _)| json),
                expected.map(|value| serde_json::to_vec(value).unwrap()),
                "{pointer}"
            );
        }
    }
}

proptest::proptest! {
    #[test]
    fn finding_in_the_root_records_text_matches_reading_the_tree(
        value in arb_json(),
        tokens in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just("a"), proptest::strategy::Just("b"), proptest::strategy::Just("ab"),
                proptest::strategy::Just("0"), proptest::strategy::Just("1"), proptest::strategy::Just("01"),
                proptest::strategy::Just("-"), proptest::strategy::Just(""),
            ],
            0..4,
        ),
    ) {
        let pointer = PointerBuf::from_tokens(tokens);
        for config in [LayoutConfig::default(), layout(8, 30, 100, 1000)] {
            let store = MemoryStore::new();
            write(&store, config, |tree| {
                tree.put(&ptr(""), value.clone()).unwrap();
            });
            let [found, read] = found_both_ways(&store, config, &pointer);
            proptest::prop_assert_eq!(found, read);
        }
    }
}

/// A document whose JSON fits a page lives in the root record alone; one that grows past it
/// moves to pages, and back when it shrinks; the streamed and parsed forms agree.
#[test]
fn a_document_that_fits_a_page_is_one_record() {
    let config = layout(16, 200, 4096, 1000);
    let store = MemoryStore::new();
    let records = |store: &MemoryStore| store.keys().unwrap().iter().filter(|key| key.starts_with(NODE_PREFIX)).count();
    let small = json!({"list": [1, 2, 3], "name": "short", "more": "a name longer than the 16-byte inline limit"});
    write(&store, config, |tree| {
        tree.put(&ptr(""), small.clone()).unwrap();
    });
    assert_eq!(records(&store), 0);
    write(&store, config, |tree| {
        tree.put(&ptr("/list/-"), json!(4)).unwrap();
    });
    assert_eq!(records(&store), 0, "a leaf write rewrites the root record only");
    write(&store, config, |tree| {
        tree.put(&ptr("/big"), json!((0..80).collect::<Vec<_>>())).unwrap();
    });
    assert!(records(&store) > 0, "a document past a page is stored in pages");
    // Its top page now holds a value stored apart (`more`), so it stays in pages as it shrinks.
    write(&store, config, |tree| {
        tree.delete(&ptr("/big")).unwrap();
    });
    assert!(records(&store) > 0);
    write(&store, config, |tree| {
        tree.put(&ptr("/more"), json!(5)).unwrap();
    });
    assert_eq!(records(&store), 0, "a document that shrank, all inline, is back in the root record");
    assert_eq!(read(&store, config, ""), Some(json!({"list": [1, 2, 3, 4], "name": "short", "more": 5})));
    // Spacing does not decide where a document is stored.
    let spaced = Value::Array((0..16).map(|i| json!({"a": i})).collect());
    let pretty = serde_json::to_vec_pretty(&spaced).unwrap();
    assert!(pretty.len() > 200 && serde_json::to_vec(&spaced).unwrap().len() <= 200);
    write(&store, config, |tree| {
        tree.put_payload(&ptr(""), Payload::Json(std::rc::Rc::new(pretty))).unwrap();
    });
    assert_eq!(records(&store), 0);
}

/// A collection held inline in the root record has the tag of the node it becomes when a
/// write elsewhere moves the document into pages, and back.
#[test]
fn a_value_keeps_its_tag_when_the_document_moves_into_pages() {
    let values = [
        json!((0..400).collect::<Vec<u32>>()),
        json!({"name": "x".repeat(300), "list": [1, 2, {"deep": "y".repeat(200)}], "more": {"a": "z".repeat(900)}}),
        json!(vec![vec![vec!["n".repeat(100); 4]; 3]; 3]),
    ];
    for config in [LayoutConfig::default(), layout(32, 256, 4096, 1000), layout(64, 512, 1024, 1000)] {
        for value in &values {
            let store = MemoryStore::new();
            write(&store, config, |txn| {
                txn.put(&ptr(""), json!({"a": value.clone()})).unwrap();
            });
            let tag = |store: &MemoryStore| Snapshot::open(store, config).unwrap().tag(&ptr("/a")).unwrap();
            let inline = tag(&store).unwrap();
            let now = |store: &MemoryStore| Snapshot::read_now(store, config, &ptr("/a")).unwrap().unwrap().tag;
            assert_eq!(now(&store), inline, "the fast read agrees");
            write(&store, config, |txn| {
                txn.put(&ptr("/b"), json!("b".repeat(3 * config.root_inline_max()))).unwrap();
            });
            assert!(!matches!(Snapshot::open(&store, config).unwrap().root, Some(Child::Inline(_))), "in pages now");
            assert_eq!(tag(&store).as_ref(), Some(&inline), "{config:?}: {value}");
            write(&store, config, |txn| {
                txn.delete(&ptr("/b")).unwrap();
            });
            assert_eq!(tag(&store).as_ref(), Some(&inline), "{config:?}, back in the root record: {value}");
        }
    }
}

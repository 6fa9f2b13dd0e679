//! The document lives in the host's key-value store: it outlives requests, restarts and
//! crashes, and concurrent writers never lose each other's updates.

#![cfg(feature = "e2e")]

mod common;

use common::{Server, fresh};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[test]
fn the_document_survives_a_restart() {
    let (data, server) = fresh();
    server.put("/", r#"{"kept":{"n":1}}"#).expect(201);
    server.put("/kept/m", "2").expect(201);
    drop(server);
    let server = Server::start(data.path());
    assert_eq!(server.get("/").expect(200).json(), json!({"kept": {"n": 1, "m": 2}}));
}

#[test]
fn concurrent_writers_lose_nothing() {
    const WRITERS: usize = 8;
    const WRITES: usize = 200;
    let (_data, server) = fresh();
    let server = Arc::new(server);
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let server = Arc::clone(&server);
            std::thread::spawn(move || {
                for write in 0..WRITES {
                    server.put(&format!("/w{writer}/{write}"), &write.to_string()).expect(201);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("a writer failed");
    }
    let doc = server.get("/").expect(200).json();
    for writer in 0..WRITERS {
        let values = doc[format!("w{writer}")].as_object().unwrap_or_else(|| panic!("w{writer} is missing"));
        assert_eq!(values.len(), WRITES, "writer {writer} lost updates");
        for write in 0..WRITES {
            assert_eq!(values[&write.to_string()], json!(write));
        }
    }
}

/// Many writers at once, each waiting for the others: every one is served (with the pooling
/// allocator's default limits, some 160 requests in flight exhausted its instances).
#[test]
fn two_hundred_writers_at_once_are_all_served() {
    const WRITERS: usize = 200;
    const WRITES: usize = 5;
    let (_data, server) = fresh();
    server.put("/", "{}").expect(201);
    let server = Arc::new(server);
    let start = Arc::new(std::sync::Barrier::new(WRITERS));
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (server, start) = (Arc::clone(&server), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                for write in 0..WRITES {
                    server.put(&format!("/w{writer}"), &write.to_string()).expect(if write == 0 { 201 } else { 200 });
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("a writer failed");
    }
    let doc = server.get("/").expect(200).json();
    assert_eq!(doc.as_object().map(|doc| doc.len()), Some(WRITERS), "{doc}");
    assert!(doc.as_object().unwrap().values().all(|value| *value == json!(WRITES - 1)), "{doc}");
}

/// Kills the server in the middle of a stream of writes: after a restart the document is
/// intact and holds every write that was acknowledged.
#[test]
fn a_crash_mid_write_leaves_the_old_or_the_new_document() {
    let (data, server) = fresh();
    server.put("/", r#"{"log":[]}"#).expect(201);
    let server = Arc::new(server);
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let (server, acknowledged, stop) = (Arc::clone(&server), Arc::clone(&acknowledged), Arc::clone(&stop));
            std::thread::spawn(move || {
                let big = "x".repeat(20_000);
                for write in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let entry = json!({"writer": writer, "write": write, "padding": big});
                    // Once the server is gone, requests fail; those writes were never acknowledged.
                    let request = ureq::post(format!("{}/log", server.url))
                        .header("content-type", "application/json")
                        .send(entry.to_string().as_bytes());
                    match request {
                        Ok(response) if response.status() == 201 => acknowledged.lock().unwrap().push((writer, write)),
                        _ => break,
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    server.crash();
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        let _ = writer.join();
    }

    let restarted = Server::start(data.path());
    let doc: Value = restarted.get("/").expect(200).json();
    let log = doc["log"].as_array().expect("the log survived as an array");
    let stored: Vec<(u64, u64)> =
        log.iter().map(|entry| (entry["writer"].as_u64().unwrap(), entry["write"].as_u64().unwrap())).collect();
    let acknowledged = acknowledged.lock().unwrap();
    assert!(!acknowledged.is_empty(), "no write was acknowledged before the crash");
    for (writer, write) in acknowledged.iter() {
        assert!(stored.contains(&(*writer as u64, *write as u64)), "acknowledged write {writer}/{write} is lost");
    }
    // Anything stored beyond the acknowledged writes was in flight at the crash: at most one per writer.
    assert!(stored.len() <= acknowledged.len() + 4, "{} stored, {} acknowledged", stored.len(), acknowledged.len());
    restarted.put("/log/-", "1").expect(201);
}

/// The files in the data directory: how many, and their bytes. Files the server deletes while
/// they are counted may or may not count.
fn footprint(dir: &std::path::Path) -> (usize, u64) {
    let (mut files, mut bytes) = (0, 0);
    let Ok(entries) = std::fs::read_dir(dir) else { return (0, 0) };
    for entry in entries.flatten() {
        let Ok(metadata) = entry.metadata() else { continue };
        if metadata.is_dir() {
            let (inner_files, inner_bytes) = footprint(&entry.path());
            (files, bytes) = (files + inner_files, bytes + inner_bytes);
        } else {
            (files, bytes) = (files + 1, bytes + metadata.len());
        }
    }
    (files, bytes)
}

/// Under a loop of leaf writes and whole rewrites of a document stored in pages, the data
/// directory stays as small as it was in the first rounds: the layout deletes the pages each
/// write replaces (and sweeps what is left), and the file store the versions and keys that go.
/// A write deletes what it replaced after it has answered, so the old and new pages of a whole
/// rewrite may be seen together (up to twice the size); once the deletes are done, the store is
/// back to the size of the first rounds.
#[test]
fn the_store_does_not_grow_under_a_rewrite_loop() {
    let (data, server) = fresh();
    let document = |round: usize| {
        let items: Vec<Value> = (0..1500)
            .map(|id| json!({"id": id, "name": format!("item {id} of round {round}"), "tags": ["a", "b"]}))
            .collect();
        json!({"items": items, "round": round}).to_string()
    };
    let mut sizes = Vec::new();
    for round in 0..240 {
        if round % 40 == 0 {
            server.put("/", &document(round)).expect(if round == 0 { 201 } else { 200 });
        }
        server.put(&format!("/items/{}/name", round * 7 % 1500), &format!("\"renamed in round {round}\"")).expect(200);
        // A whole rewrite drops `/extra`, so the next five rounds create its members again.
        let created = round % 40 < 5;
        server.put(&format!("/extra/{}", round % 5), &json!({"round": round}).to_string()).expect(if created {
            201
        } else {
            200
        });
        sizes.push(footprint(data.path()));
    }
    let most = |rounds: &[(usize, u64)]| {
        rounds
            .iter()
            .fold((0, 0), |(files, bytes), &(more_files, more_bytes)| (files.max(more_files), bytes.max(more_bytes)))
    };
    let (early, late) = (most(&sizes[..80]), most(&sizes[160..]));
    eprintln!("files and bytes: at most {early:?} in rounds 0-79, {late:?} in rounds 160-239");
    assert!(late.0 <= early.0 * 2, "the store grew from {} to {} files", early.0, late.0);
    assert!(late.1 <= early.1 * 2, "the store grew from {} to {} bytes", early.1, late.1);
    let settled = jsonstore_testkit::eventually(10, || {
        let (files, bytes) = footprint(data.path());
        files <= early.0 + early.0 / 4 && bytes <= early.1 + early.1 / 4
    });
    assert!(settled, "the store stayed at {:?}, from {early:?}", footprint(data.path()));
}

/// Readers never miss the document while writers commit: the file store retires the root key's
/// old versions (a directory at a time, every 16 commits) while readers list its directory.
#[test]
fn readers_always_find_the_document_while_writers_commit() {
    let (_data, server) = fresh();
    server.put("/", r#"{"n": 0}"#).expect(201);
    let server = Arc::new(server);
    let writing = Arc::new(AtomicBool::new(true));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (server, writing) = (Arc::clone(&server), Arc::clone(&writing));
            std::thread::spawn(move || {
                let mut reads = 0;
                while writing.load(Ordering::Relaxed) {
                    server.get("/n").expect(200);
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let writers: Vec<_> = (0..2)
        .map(|writer| {
            let server = Arc::clone(&server);
            std::thread::spawn(move || {
                for write in 0..600 {
                    server.put("/n", &(writer * 1000 + write).to_string()).expect(200);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("a writer failed");
    }
    writing.store(false, Ordering::Relaxed);
    let reads: usize = readers.into_iter().map(|reader| reader.join().expect("a reader missed the document")).sum();
    assert!(reads > 0);
}

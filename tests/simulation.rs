//! Deterministic simulation of the storage stack under faults.
//!
//! A seeded generator drives random requests through the real service and layout, over a store
//! that fails, or "crashes" (fails every operation from then on), at a chosen operation. After
//! each request the document, read back through a fresh instance, must equal the plain
//! `serde_json::Value` model before or after that request, never anything else, and every
//! acknowledged write must be in it. A failing run prints its seed;
//! `JSONSTORE_SIMULATION_SEED=<seed> cargo test --test simulation` replays it.

use jsonstore::layout::LayoutConfig;
use jsonstore::service::{Config, Host, Request, Response, handle};
use jsonstore::store::{MemoryStore, Store, StoreError, Swap};
use serde_json::{Value, json};
use std::cell::Cell;

/// SplitMix64: small, fast and good enough to drive a simulation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A store that fails operation number `fail_at`, and with `crash`, every one after it.
struct Faulty<'a> {
    inner: &'a MemoryStore,
    operations: Cell<u64>,
    fail_at: u64,
    crash: bool,
}

impl Faulty<'_> {
    fn tick(&self) -> Result<(), StoreError> {
        let operation = self.operations.get();
        self.operations.set(operation + 1);
        if operation == self.fail_at || (self.crash && operation > self.fail_at) {
            return Err(StoreError(format!("injected fault at operation {operation}")));
        }
        Ok(())
    }
}

impl Store for Faulty<'_> {
    type Watch = <MemoryStore as Store>::Watch;
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.tick()?;
        self.inner.get(key)
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.tick()?;
        self.inner.set(key, value)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.tick()?;
        self.inner.delete(key)
    }
    fn keys(&self) -> Result<Vec<String>, StoreError> {
        self.tick()?;
        self.inner.keys()
    }
    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.tick()?;
        self.inner.increment(key, delta)
    }
    fn watch(&self, key: &str) -> Result<(Self::Watch, Option<Vec<u8>>), StoreError> {
        self.tick()?;
        self.inner.watch(key)
    }
    fn swap(&self, watch: Self::Watch, value: &[u8]) -> Result<Swap, StoreError> {
        self.tick()?;
        self.inner.swap(watch, value)
    }
}

struct SimHost(Cell<u64>);

impl Host for SimHost {
    fn now_millis(&self) -> u64 {
        self.0.set(self.0.get() + 1);
        1_700_000_000_000 + self.0.get()
    }
    fn random_bytes(&self) -> [u8; 9] {
        self.0.set(self.0.get() + 1);
        let bytes = self.0.get().to_le_bytes();
        [bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], 0]
    }
    /// Time passes while a writer sleeps.
    fn sleep_micros(&self, micros: u64) {
        self.0.set(self.0.get() + micros.div_ceil(1000).max(1));
    }
}

fn request(method: &str, target: &str, content_type: &str, body: String) -> Request {
    let headers = if body.is_empty() { vec![] } else { vec![("content-type".to_owned(), content_type.to_owned())] };
    Request { method: method.into(), target: target.into(), headers, body: body.into_bytes() }
}

fn random_value(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth == 0 { 3 } else { 6 }) {
        0 => json!(rng.below(1000)),
        1 => json!("s".repeat(rng.below(40) as usize)),
        2 => Value::Null,
        3 | 4 => Value::Array((0..rng.below(5)).map(|_| random_value(rng, depth - 1)).collect()),
        _ => Value::Object((0..rng.below(5)).map(|i| (format!("k{i}"), random_value(rng, depth - 1))).collect()),
    }
}

fn random_request(rng: &mut Rng) -> Request {
    let segments = ["a", "b", "0", "1", "-", "k1"];
    let path: String = (0..rng.below(4)).map(|_| format!("/{}", rng.pick(&segments))).collect();
    let path = if path.is_empty() { "/".to_owned() } else { path };
    let value = random_value(rng, 3).to_string();
    match rng.below(7) {
        0 => request("GET", &path, "", String::new()),
        1 | 2 => request("PUT", &path, "application/json", value),
        3 => request("POST", &path, "application/json", value),
        4 => request("DELETE", &path, "", String::new()),
        5 => request("PATCH", &path, "application/merge-patch+json", value),
        _ => {
            let target = format!("/{}", rng.pick(&segments));
            let patch = json!([{"op": *rng.pick(&["add", "remove", "replace", "copy"]), "path": target, "from": "/a", "value": random_value(rng, 2)}]);
            request("PATCH", &path, "application/json-patch+json", patch.to_string())
        }
    }
}

fn document(store: &MemoryStore, config: &Config) -> Option<Value> {
    let response = handle(store, config, &SimHost(Cell::new(0)), &request("GET", "/", "", String::new()));
    match response.status {
        200 => Some(serde_json::from_slice(&response.body).unwrap()),
        404 => None,
        status => panic!("reading the document failed with {status}: {}", String::from_utf8_lossy(&response.body)),
    }
}

/// A random layout, tiny enough that a few small values make pages, parts and embedded pages.
fn random_layout(rng: &mut Rng) -> LayoutConfig {
    LayoutConfig {
        // Up to 80 bytes: small pages are embedded in their references too.
        inline_bytes_max: 1 + rng.below(80) as usize,
        page_bytes_target: 24 + rng.below(200) as usize,
        chunk_bytes_max: 32 + rng.below(300) as usize,
        sweep_every: 1 + rng.below(6),
        // A key budget in a third of the runs: a write over it changes nothing.
        keys_max: if rng.below(3) == 0 { 10 + rng.below(80) as usize } else { 0 },
    }
}

/// Runs one simulation; panics with the seed when a promise is broken.
fn simulate(seed: u64) {
    let mut rng = Rng(seed);
    let layout = random_layout(&mut rng);
    let config = Config { layout, ..Config::default() };
    let store = MemoryStore::new();
    let clock = Cell::new(seed);
    let mut model: Option<Value> = None;
    for step in 0..40 {
        let request = random_request(&mut rng);
        // The same request without faults, on a copy of the store, says what "after" is.
        let shadow = store.clone();
        // Both runs see the same clock and random bytes, so POST makes the same keys.
        let expected = handle(&shadow, &config, &SimHost(clock.clone()), &request);
        let after = document(&shadow, &config);

        let faulty =
            Faulty { inner: &store, operations: Cell::new(0), fail_at: rng.below(30), crash: rng.below(2) == 0 };
        let response: Response = handle(&faulty, &config, &SimHost(clock.clone()), &request);
        clock.set(clock.get() + 1000);
        let now = document(&store, &config);
        let context = || {
            format!(
                "seed {seed}, step {step}: {} {} {} -> {} {}\nlayout {layout:?}\nbefore {model:?}\nafter {after:?}\nnow {now:?}",
                request.method,
                request.target,
                String::from_utf8_lossy(&request.body),
                response.status,
                String::from_utf8_lossy(&response.body),
            )
        };
        assert!(now == model || now == after, "the document is neither the old nor the new one: {}", context());
        if (200..300).contains(&response.status) && request.method != "GET" && request.method != "HEAD" {
            assert_eq!(now, after, "an acknowledged write is missing: {}", context());
        }
        if response.status < 500 {
            assert_eq!(response.status, expected.status, "{}", context());
        }
        model = now;
    }
}

/// Makes a random document, then runs one random write once for every operation it makes
/// without faults, failing (or crashing the store) at that operation: each time, the document
/// must be the old or the new one, the new one if the write was acknowledged, and a later write
/// must work. Panics with the seed when a promise is broken.
fn fail_every_step(seed: u64) {
    let mut rng = Rng(seed);
    let config = Config { layout: random_layout(&mut rng), ..Config::default() };
    let store = MemoryStore::new();
    let clock = Cell::new(seed);
    for _ in 0..1 + rng.below(8) {
        handle(&store, &config, &SimHost(clock.clone()), &random_request(&mut rng));
        clock.set(clock.get() + 1000);
    }
    let write = loop {
        let request = random_request(&mut rng);
        if request.method != "GET" {
            break request;
        }
    };
    let before = document(&store, &config);
    // The run without faults counts the operations and says what "after" is.
    let shadow = store.clone();
    let counted = Faulty { inner: &shadow, operations: Cell::new(0), fail_at: u64::MAX, crash: false };
    let expected = handle(&counted, &config, &SimHost(clock.clone()), &write);
    let after = document(&shadow, &config);
    for fail_at in 0..counted.operations.get() {
        for crash in [false, true] {
            let copy = store.clone();
            let faulty = Faulty { inner: &copy, operations: Cell::new(0), fail_at, crash };
            let response = handle(&faulty, &config, &SimHost(clock.clone()), &write);
            let now = document(&copy, &config);
            let context = || {
                format!(
                    "seed {seed}, {} at operation {fail_at} of {}: {} {} {} -> {} {}\nlayout {:?}\nbefore {before:?}\nafter {after:?}\nnow {now:?}",
                    if crash { "crash" } else { "failure" },
                    counted.operations.get(),
                    write.method,
                    write.target,
                    String::from_utf8_lossy(&write.body),
                    response.status,
                    String::from_utf8_lossy(&response.body),
                    config.layout,
                )
            };
            assert!(now == before || now == after, "the document is neither the old nor the new one: {}", context());
            if (200..300).contains(&response.status) {
                assert_eq!(now, after, "an acknowledged write is missing: {}", context());
            }
            if response.status < 500 {
                assert_eq!(response.status, expected.status, "{}", context());
            }
            // Nothing the fault left behind stands in the way of the next writer, but a crash
            // of the writer elected to create the first root record: every attempt without a
            // root draws a ticket, and the next election comes after 1000 tickets (200 attempts
            // a request), so the sixth request writes.
            let next = json!({ "recovered": fail_at });
            let put = request("PUT", "/", "application/json", next.to_string());
            for tries in 1.. {
                let next_response = handle(&copy, &config, &SimHost(Cell::new(clock.get() + 500)), &put);
                let status = next_response.status;
                if status == 200 || status == 201 {
                    break;
                }
                assert!(
                    status == 503 && tries < 6 && before.is_none() && document(&copy, &config) == now,
                    "the next write failed with {status} {}: {}",
                    String::from_utf8_lossy(&next_response.body),
                    context()
                );
            }
            assert_eq!(document(&copy, &config), Some(next), "{}", context());
        }
    }
}

/// Runs `run` for 300 seeds from a random start, or for `JSONSTORE_SIMULATION_SEED` alone;
/// prints how to replay a seed that fails.
fn for_seeds(run: fn(u64)) {
    if let Ok(seed) = std::env::var("JSONSTORE_SIMULATION_SEED") {
        run(seed.parse().expect("a numeric seed"));
        return;
    }
    let first = Rng(std::process::id() as u64).next() % 1_000_000;
    eprintln!("simulating seeds {first} to {}", first + 299);
    for seed in first..first + 300 {
        let outcome = std::panic::catch_unwind(|| run(seed));
        if let Err(panic) = outcome {
            eprintln!("replay with JSONSTORE_SIMULATION_SEED={seed}");
            std::panic::resume_unwind(panic);
        }
    }
}

#[test]
fn the_document_is_always_the_old_or_the_new_one() {
    for_seeds(simulate);
}

#[test]
fn a_write_that_fails_at_any_step_leaves_the_old_or_the_new_one() {
    for_seeds(fail_every_step);
}

//! Deterministic simulation of the storage stack under faults, checked against a model.
//!
//! A seeded generator drives random requests through the real service and layout, over a store
//! that fails, or "crashes" (fails every operation from then on), at a chosen operation. Every
//! answer is checked against the plain `serde_json::Value` model in `api_model`, which knows
//! what each request means: an acknowledged request's document, read back through a fresh
//! request, is the model's after it; a request the store failed leaves the document before it
//! or after it, never anything else. A failing run prints its seed;
//! `JSONSTORE_SIMULATION_SEED=<seed> cargo test --test simulation` replays it.

mod api_model;

use api_model::{Action, Clock, Header, Method, Model, Path, Tag, patch_operation, respell};
use jsonstore::layout::LayoutConfig;
use jsonstore::service::{Config, Request, Response, handle};
use jsonstore::store::{Call, Counter, Hook, Hooked, MemoryStore, StoreError};
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

/// A hook that fails store operation number `fail_at` (counted from 0 since it was armed), and
/// with `crash`, every one after it.
#[derive(Debug)]
struct Faults {
    operations: Cell<u64>,
    fail_at: Cell<u64>,
    crash: Cell<bool>,
    /// Whether an operation was failed since the hook was armed.
    injected: Cell<bool>,
}

impl Faults {
    fn armed(fail_at: u64, crash: bool) -> Faults {
        let (fail_at, crash) = (Cell::new(fail_at), Cell::new(crash));
        Faults { operations: Cell::new(0), fail_at, crash, injected: Cell::new(false) }
    }

    fn disarmed() -> Faults {
        Faults::armed(u64::MAX, false)
    }

    fn arm(&self, fail_at: u64, crash: bool) {
        self.operations.set(0);
        self.fail_at.set(fail_at);
        self.crash.set(crash);
        self.injected.set(false);
    }

    /// Stops failing operations; returns whether any was failed since the hook was armed.
    fn disarm(&self) -> bool {
        let injected = self.injected.get();
        self.arm(u64::MAX, false);
        injected
    }
}

impl Hook<MemoryStore> for Faults {
    fn before(&self, _inner: &MemoryStore, _call: Call<'_>) -> Result<(), StoreError> {
        let operation = self.operations.get();
        self.operations.set(operation + 1);
        let fail_at = self.fail_at.get();
        if operation == fail_at || (self.crash.get() && operation > fail_at) {
            self.injected.set(true);
            return Err(StoreError(format!("injected fault at operation {operation}")));
        }
        Ok(())
    }
}

fn request(method: &str, target: &str, content_type: &str, body: String) -> Request {
    let headers = if body.is_empty() { vec![] } else { vec![("content-type".to_owned(), content_type.to_owned())] };
    Request { method: method.into(), target: target.into(), headers, body: body.into_bytes() }
}

/// The path tokens requests use: object members, array indexes, the end of an array, and a
/// member whose name needs escaping.
const TOKENS: [&str; 7] = ["a", "b", "0", "1", "-", "k1", "a/b"];

fn random_path(rng: &mut Rng, tokens: std::ops::Range<u64>) -> Path {
    let count = tokens.start + rng.below(tokens.end - tokens.start);
    (0..count).map(|_| rng.pick(&TOKENS).to_string()).collect()
}

/// A path below `under`: half the time random tokens, half the time a path to a value in the
/// model's document, now and then with one more token (a new member, or an array's end).
fn random_place(rng: &mut Rng, model: &Model, under: &[String], tokens: std::ops::Range<u64>) -> Path {
    if rng.below(2) == 0 {
        return random_path(rng, tokens);
    }
    let mut path = model.existing_path(under, rng.next());
    if rng.below(3) == 0 {
        path.push(rng.pick(&TOKENS).to_string());
    }
    path
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

/// A merge patch: mostly an object whose `null` members remove, sometimes any value.
fn random_merge_patch(rng: &mut Rng) -> Value {
    if rng.below(4) == 0 {
        return random_value(rng, 3);
    }
    let names = ["a", "b", "k1", "k2"];
    let members = (0..rng.below(4)).map(|_| {
        let name = rng.pick(&names).to_string();
        (name, if rng.below(4) == 0 { Value::Null } else { random_value(rng, 2) })
    });
    Value::Object(members.collect())
}

/// A JSON Patch of one to three operations, now and then an invalid one; a `test` often
/// expects the value that is there, its numbers spelled another way.
fn random_json_patch(rng: &mut Rng, model: &Model, target: &[String]) -> Vec<Value> {
    (0..1 + rng.below(3))
        .map(|_| {
            let op = match rng.below(31) {
                30 => "frob",
                n => ["add", "remove", "replace", "move", "copy", "test"][n as usize % 6],
            };
            let path = random_place(rng, model, target, 0..3);
            let from = random_place(rng, model, target, 1..3);
            let at: Path = target.iter().chain(&path).cloned().collect();
            let value = match model.value_at(&at) {
                Some(current) if op == "test" && rng.below(2) == 0 => respell(current, rng.below(4) as usize),
                _ => random_value(rng, 2),
            };
            patch_operation(op, &path, &from, value)
        })
        .collect()
}

fn random_condition(rng: &mut Rng) -> Option<(Header, Tag)> {
    if rng.below(4) != 0 {
        return None;
    }
    let header = if rng.below(2) == 0 { Header::IfMatch } else { Header::IfNoneMatch };
    let tag = match rng.below(6) {
        0 => Tag::Star,
        1 | 2 => Tag::Fresh,
        3 => Tag::WeakFresh,
        4 => Tag::Seen(rng.below(64) as usize),
        _ => Tag::MadeUp,
    };
    Some((header, tag))
}

fn random_action(rng: &mut Rng, model: &Model) -> Action {
    let path = random_place(rng, model, &[], 0..4);
    let method = match rng.below(8) {
        0 => Method::Get,
        1 | 2 => Method::Put(random_value(rng, 3)),
        3 => Method::Post(random_value(rng, 3)),
        4 => Method::Delete,
        5 => Method::MergePatch(random_merge_patch(rng)),
        _ => Method::JsonPatch(random_json_patch(rng, model, &path)),
    };
    Action { method, path, condition: random_condition(rng), minimal: rng.below(8) == 0 }
}

fn document(store: &MemoryStore, config: &Config) -> Option<Value> {
    let response = handle(store, config, &Clock(Cell::new(0)), &request("GET", "/", "", String::new()));
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

/// Checks an answer from the faulty store and the document `now`, read back after it, against
/// the model, which takes the request's effect. `faulted` says whether the store failed an
/// operation of the request.
fn check(
    model: &mut Model,
    action: &Action,
    response: &Response,
    faulted: bool,
    now: Option<Value>,
) -> Result<(), String> {
    let problem: Value = serde_json::from_slice(&response.body).unwrap_or_default();
    // An earlier crash of the writer elected to create the first root record leaves the
    // store without one until a later election: writes answer 503 meanwhile.
    let unelected = model.document().is_none() && problem["type"] == "urn:jsonstore:problem:contention";
    if response.status == 503 && (faulted || unelected) {
        return model.settle(action, response, now.as_ref());
    }
    model.check(action, response)?;
    match now.as_ref() == model.document() {
        true => Ok(()),
        false => Err(format!(
            "after {}, answered {}, the document read back is {now:?}, not the model's {:?}",
            action.describe(),
            response.status,
            model.document()
        )),
    }
}

/// Runs one simulation: random requests, each with a fault at a random operation. Panics with
/// the seed when a promise is broken.
fn simulate(seed: u64) {
    let mut rng = Rng(seed);
    let layout = random_layout(&mut rng);
    let config = Config { layout, ..Config::open() };
    let store = Hooked::new(MemoryStore::new(), Faults::disarmed());
    let clock = Cell::new(seed);
    let mut model = Model::new(layout.keys_max > 0);
    for step in 0..40 {
        let outcome = (|| {
            let action = random_action(&mut rng, &model);
            let action =
                model.prepare(action, |request| handle(&store.inner, &config, &Clock(clock.clone()), request))?;
            store.hook.arm(rng.below(30), rng.below(2) == 0);
            let response = handle(&store, &config, &Clock(clock.clone()), &action.request());
            let faulted = store.hook.disarm();
            clock.set(clock.get() + 1000);
            check(&mut model, &action, &response, faulted, document(&store.inner, &config))
        })();
        if let Err(error) = outcome {
            panic!("seed {seed}, step {step}, layout {layout:?}:\n{error}");
        }
    }
}

/// Makes a random document, then runs one random write once for every operation it makes
/// without faults, failing (or crashing the store) at that operation: each time the answer and
/// the document must agree with the model, and a later write must work. Panics with the seed
/// when a promise is broken.
fn fail_every_step(seed: u64) {
    let mut rng = Rng(seed);
    let config = Config { layout: random_layout(&mut rng), ..Config::open() };
    let fail = |error: String| -> ! { panic!("seed {seed}, layout {:?}:\n{error}", config.layout) };
    let store = MemoryStore::new();
    let clock = Cell::new(seed);
    let send = |request: &Request| handle(&store, &config, &Clock(clock.clone()), request);
    let mut model = Model::new(config.layout.keys_max > 0);
    for _ in 0..1 + rng.below(8) {
        let action = random_action(&mut rng, &model);
        let action = model.prepare(action, send).unwrap_or_else(|error| fail(error));
        let response = send(&action.request());
        check(&mut model, &action, &response, false, document(&store, &config)).unwrap_or_else(|error| fail(error));
        clock.set(clock.get() + 1000);
    }
    let write = loop {
        let action = random_action(&mut rng, &model);
        if action.is_write() {
            break model.prepare(action, send).unwrap_or_else(|error| fail(error));
        }
    };
    let written = write.request();
    // The run without faults counts the operations, and is checked like any other.
    let counted = Hooked::new(store.clone(), Counter::default());
    let expected = handle(&counted, &config, &Clock(clock.clone()), &written);
    check(&mut model.clone(), &write, &expected, false, document(&counted.inner, &config))
        .unwrap_or_else(|error| fail(error));
    let operations = counted.hook.calls.get() as u64;
    for fail_at in 0..operations {
        for crash in [false, true] {
            let copy = Hooked::new(store.clone(), Faults::armed(fail_at, crash));
            let response = handle(&copy, &config, &Clock(clock.clone()), &written);
            let now = document(&copy.inner, &config);
            let context = |error: String| {
                let fault = if crash { "crash" } else { "failure" };
                fail(format!("{fault} at operation {fail_at} of {operations}:\n{error}"))
            };
            if response.status < 500 && response.status != expected.status {
                context(format!("answered {}, not {} as without faults", response.status, expected.status));
            }
            check(&mut model.clone(), &write, &response, copy.hook.disarm(), now.clone()).unwrap_or_else(context);
            // Nothing the fault left behind stands in the way of the next writer, but a crash
            // of the writer elected to create the first root record: every attempt without a
            // root draws a ticket, and the next election comes after 1000 tickets (200 attempts
            // a request), so the sixth request writes.
            let next = json!({ "recovered": fail_at });
            let put = request("PUT", "/", "application/json", next.to_string());
            for tries in 1.. {
                let next_response = handle(&copy.inner, &config, &Clock(Cell::new(clock.get() + 500)), &put);
                let status = next_response.status;
                if status == 200 || status == 201 {
                    break;
                }
                if !(status == 503 && tries < 6 && model.document().is_none() && document(&copy.inner, &config) == now)
                {
                    context(format!(
                        "the next write failed with {status} {}",
                        String::from_utf8_lossy(&next_response.body)
                    ));
                }
            }
            if document(&copy.inner, &config) != Some(next.clone()) {
                context("the next write is not the document".into());
            }
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
fn every_answer_matches_the_model_and_a_failed_request_leaves_the_old_or_the_new_document() {
    for_seeds(simulate);
}

#[test]
fn a_write_that_fails_at_any_step_leaves_the_old_or_the_new_document() {
    for_seeds(fail_every_step);
}

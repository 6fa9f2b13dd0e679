//! One soak worker: a thread with its own connection that sends a random mix of requests until
//! the deadline, one at a time, and keeps a model of what the server acknowledged to it.
//!
//! Its own subtree (`/w/<n>`) it models exactly ([`Subtree`]), checking every value it reads
//! against the model as it goes. In the shared area it keeps only what an invariant needs: the
//! values its acknowledged increments of `/shared/counter` wrote, and its acknowledged pushes to
//! `/shared/log`; the soak checks those once every worker is done.
//!
//! A request that gets no answer because it was in flight when the server was killed may or may
//! not have happened; the worker notes it in the model as unknown. A restart is noticed by the
//! shared generation number, which is odd while the server is down: the worker then checks its
//! whole subtree before anything else, which is the check that no acknowledged write was lost.

use super::model::{Log, Resolved, Subtree, Write};
use super::stats::{Kind, Stats};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// How long one request may take before the worker gives up on it (a failure).
const REQUEST_SECONDS_MAX: u64 = 120;

/// How many times a request answered 503 with `Retry-After` is sent before the worker gives up.
pub const ATTEMPTS_MAX: u32 = 10;

/// How many read-then-write rounds one increment of the shared counter may take.
const INCREMENT_ROUNDS_MAX: u32 = 20;

/// What the workers and the soak share.
pub struct Shared {
    /// The nodes' base URLs; worker `n` talks to node `n % len`.
    pub urls: RwLock<Vec<String>>,
    /// Even while the server is up; odd from just before a kill until the restarted server serves.
    pub generation: AtomicU64,
    /// When the workers stop; a kill moves it on by the time the server was down.
    pub deadline: Mutex<Instant>,
}

impl Shared {
    /// The workers will talk to `urls`.
    pub fn new(urls: Vec<String>) -> Shared {
        Shared { urls: RwLock::new(urls), generation: AtomicU64::new(0), deadline: Mutex::new(Instant::now()) }
    }

    fn deadline(&self) -> Instant {
        *self.deadline.lock().expect("the deadline lock is never poisoned")
    }
}

/// What a worker did and knows, once the deadline has passed.
pub struct Finished {
    /// Which worker: its subtree is `/w/<index>`.
    pub index: usize,
    /// Its model of its subtree.
    pub subtree: Subtree,
    /// Its pushes to `/shared/log`.
    pub shared_log: Log,
    /// The values its acknowledged increments wrote to `/shared/counter`.
    pub increments: Vec<u64>,
    /// The values its increments without an answer would have written.
    pub unknown_increments: Vec<u64>,
    /// Its requests' answers and latencies.
    pub stats: Stats,
    /// What went wrong: lost or phantom values, answers the model does not allow, unexpected 5xx.
    pub failures: Vec<String>,
    /// How its writes without an answer turned out, as its own reads told.
    pub resolved: Resolved,
    /// How many of its requests got no answer because they were in flight at the kill.
    pub in_flight_at_kill: u64,
    /// Whether it checked its whole subtree against its model after the restart, and it matched.
    pub matched_after_restart: bool,
    /// How many requests it gave up on after [`ATTEMPTS_MAX`] answers of 503.
    pub gave_up: u64,
}

/// Runs worker `index` until the deadline.
pub fn run(index: usize, shared: Arc<Shared>) -> Finished {
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |time| time.as_nanos());
    let mut worker = Worker {
        shared,
        agent: agent(),
        agent_generation: 0,
        random: Random(seed as u64 ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        generation: 0,
        sequence: 0,
        finished: Finished {
            index,
            subtree: Subtree::new(),
            shared_log: Log::default(),
            increments: Vec::new(),
            unknown_increments: Vec::new(),
            stats: Stats::default(),
            failures: Vec::new(),
            resolved: Resolved::default(),
            in_flight_at_kill: 0,
            matched_after_restart: false,
            gave_up: 0,
        },
    };
    while let Some(generation) = worker.wait_until_up() {
        if generation != worker.generation {
            worker.after_restart(generation);
        } else {
            worker.step();
        }
    }
    worker.finished
}

/// A fresh HTTP client: its own connection pool, answers of every status returned as they are.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(REQUEST_SECONDS_MAX)))
        .build()
        .into()
}

/// Sends one request with `agent`; `body`, when given, with the content type among `headers`.
pub fn send(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<Answer, ureq::Error> {
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(body.unwrap_or_default().as_bytes().to_vec()).expect("the soak builds valid requests");
    let mut response = agent.run(request)?;
    let header = |name: &str| response.headers().get(name).and_then(|value| value.to_str().ok()).map(str::to_owned);
    let (etag, retry_after) = (header("etag"), header("retry-after"));
    let body = response.body_mut().with_config().limit(u64::MAX).read_to_vec()?;
    Ok(Answer { status: response.status().as_u16(), etag, retry_after, body })
}

/// An answer.
pub struct Answer {
    /// Its status.
    pub status: u16,
    /// Its `ETag`.
    pub etag: Option<String>,
    /// Its `Retry-After`.
    retry_after: Option<String>,
    /// Its body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body)
            .map_err(|error| format!("a body that is not JSON ({error}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// How a request ended.
enum Outcome {
    /// With an answer the worker acts on (no 5xx).
    Answered(Answer),
    /// Without one, or with an unexpected 5xx: it may or may not have happened.
    Unknown,
    /// With 503 and `Retry-After` every time it was sent: it did not happen.
    GaveUp,
}

struct Worker {
    shared: Arc<Shared>,
    agent: ureq::Agent,
    /// The generation of the server `agent` connects to.
    agent_generation: u64,
    random: Random,
    /// The generation of the server whose answers the model is up to date with.
    generation: u64,
    /// Numbers every value this worker writes, so that no two are alike.
    sequence: u64,
    finished: Finished,
}

impl Worker {
    /// Waits while the server is down; the generation it serves, or `None` after the deadline
    /// (or when the restart failed).
    fn wait_until_up(&self) -> Option<u64> {
        loop {
            if Instant::now() >= self.shared.deadline() {
                return None;
            }
            let generation = self.shared.generation.load(Ordering::SeqCst);
            if generation.is_multiple_of(2) {
                return Some(generation);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The server was restarted: every write acknowledged before the kill must be there.
    fn after_restart(&mut self, generation: u64) {
        self.generation = generation;
        let index = self.finished.index;
        let path = format!("/w/{index}");
        match self.request(Kind::GetSubtree, "GET", &path, &[], None) {
            Outcome::Answered(answer) if answer.status == 200 => match answer.json() {
                Ok(actual) => {
                    let (resolved, errors) = self.finished.subtree.read(&actual, &path);
                    self.finished.resolved.add(resolved);
                    self.finished.matched_after_restart = errors.is_empty();
                    let errors = errors.into_iter().map(|error| format!("after the restart: {error}"));
                    self.finished.failures.extend(errors);
                }
                Err(error) => self.fail(format!("GET {path} after the restart: {error}")),
            },
            Outcome::Answered(answer) => self.fail(format!("GET {path} after the restart answered {}", answer.status)),
            Outcome::Unknown | Outcome::GaveUp => self.fail(format!("GET {path} after the restart got no answer")),
        }
    }

    /// Sends one request of the mix.
    fn step(&mut self) {
        let slot = self.random.below(super::model::SLOTS as u64) as usize;
        match self.random.below(100) {
            0..20 => {
                self.read_slot(slot);
            }
            20..23 => self.read_subtree(),
            23..35 => {
                let write = Write::Put(self.value());
                self.write_slot(Kind::Put, slot, write, &[]);
            }
            35..43 => self.put_if_match(slot),
            43..49 => {
                let write = Write::PutIfNoneMatch(self.value());
                self.write_slot(Kind::PutIfNoneMatch, slot, write, &[("if-none-match", "*")]);
            }
            49..59 => {
                let write = Write::Merge(self.merge_patch());
                self.write_slot(Kind::PatchMerge, slot, write, &[]);
            }
            59..69 => {
                let write = Write::JsonPatch(self.json_patch(slot));
                self.write_slot(Kind::PatchJson, slot, write, &[]);
            }
            69..74 => self.write_slot(Kind::Delete, slot, Write::Delete, &[]),
            74..82 => self.post_own(),
            82..90 => self.post_shared(),
            _ => self.increment(),
        }
    }

    /// `GET /w/<n>/k<slot>`, checked against the model; the value's tag and whether it is there.
    fn read_slot(&mut self, slot: usize) -> Option<(Option<String>, bool)> {
        let path = format!("/w/{}/k{slot}", self.finished.index);
        let answer = match self.request(Kind::Get, "GET", &path, &[], None) {
            Outcome::Answered(answer) => answer,
            Outcome::Unknown | Outcome::GaveUp => return None,
        };
        let actual = match answer.status {
            200 => match answer.json() {
                Ok(value) => Some(value),
                Err(error) => return self.failed(format!("GET {path}: {error}")),
            },
            404 => None,
            status => return self.failed(format!("GET {path} answered {status}")),
        };
        match self.finished.subtree.slots[slot].read(actual.as_ref()) {
            Ok(resolved) => self.finished.resolved.add(resolved),
            Err(error) => return self.failed(format!("GET {path}: {error}")),
        }
        Some((answer.etag, actual.is_some()))
    }

    /// `GET /w/<n>`, checked whole against the model.
    fn read_subtree(&mut self) {
        let path = format!("/w/{}", self.finished.index);
        let Outcome::Answered(answer) = self.request(Kind::GetSubtree, "GET", &path, &[], None) else { return };
        if answer.status != 200 {
            return self.fail(format!("GET {path} answered {}", answer.status));
        }
        match answer.json() {
            Ok(actual) => {
                let (resolved, errors) = self.finished.subtree.read(&actual, &path);
                self.finished.resolved.add(resolved);
                self.finished.failures.extend(errors);
            }
            Err(error) => self.fail(format!("GET {path}: {error}")),
        }
    }

    /// Reads a slot, then writes it conditionally: with `If-Match` and the tag just read, or
    /// with `If-None-Match: *` where nothing was.
    fn put_if_match(&mut self, slot: usize) {
        let Some((etag, exists)) = self.read_slot(slot) else { return };
        let value = self.value();
        match (exists, etag) {
            (true, Some(etag)) => {
                self.write_slot(Kind::PutIfMatch, slot, Write::PutIfMatch(value), &[("if-match", &etag)])
            }
            (true, None) => self.fail(format!("GET /w/{}/k{slot} answered without an ETag", self.finished.index)),
            (false, _) => {
                self.write_slot(Kind::PutIfNoneMatch, slot, Write::PutIfNoneMatch(value), &[("if-none-match", "*")])
            }
        }
    }

    /// Sends `write` to slot `slot` with the extra `headers`, sometimes asking for a minimal
    /// answer, and updates the model from the answer.
    fn write_slot(&mut self, kind: Kind, slot: usize, write: Write, headers: &[(&str, &str)]) {
        let path = format!("/w/{}/k{slot}", self.finished.index);
        let (method, content_type, body) = match &write {
            Write::Put(value) | Write::PutIfMatch(value) | Write::PutIfNoneMatch(value) => {
                ("PUT", "application/json", Some(value.to_string()))
            }
            Write::Merge(patch) => ("PATCH", "application/merge-patch+json", Some(patch.to_string())),
            Write::JsonPatch(patch) => ("PATCH", "application/json-patch+json", Some(patch.to_string())),
            Write::Delete => ("DELETE", "", None),
        };
        let minimal = body.is_some() && self.random.below(4) == 0;
        let mut headers = headers.to_vec();
        if body.is_some() {
            headers.push(("content-type", content_type));
        }
        if minimal {
            headers.push(("prefer", "return=minimal"));
        }
        let outcome = self.request(kind, method, &path, &headers, body.as_deref());
        let model = &mut self.finished.subtree.slots[slot];
        let result = match outcome {
            Outcome::Unknown => {
                model.unknown(&write);
                Ok(())
            }
            Outcome::GaveUp => Ok(()),
            Outcome::Answered(answer) if (200..300).contains(&answer.status) => {
                let value = if minimal || answer.status == 204 { Ok(None) } else { answer.json().map(Some) };
                value.and_then(|value| model.acknowledged(&write, answer.status, value.as_ref()))
            }
            Outcome::Answered(answer) => model.refused(&write, answer.status),
        };
        if let Err(error) = result {
            self.fail(format!("{method} {path}: {error}"));
        }
    }

    /// `POST /w/<n>/log`: the push ID answered is the entry's.
    fn post_own(&mut self) {
        let value = json!({"s": self.next()});
        let path = format!("/w/{}/log", self.finished.index);
        if let Some(pushed) = self.post(Kind::Post, &path, &value) {
            match pushed {
                Some(id) => {
                    self.finished.subtree.log.acknowledged.insert(id, value);
                }
                None => self.finished.subtree.log.unknown.push(value),
            }
        }
    }

    /// `POST /shared/log`, with a value that names this worker.
    fn post_shared(&mut self) {
        let value = json!({"w": self.finished.index, "s": self.next()});
        if let Some(pushed) = self.post(Kind::PostShared, "/shared/log", &value) {
            match pushed {
                Some(id) => {
                    self.finished.shared_log.acknowledged.insert(id, value);
                }
                None => self.finished.shared_log.unknown.push(value),
            }
        }
    }

    /// POSTs `value` to the object at `path`: `Some(Some(id))` when acknowledged, `Some(None)`
    /// when the outcome is unknown, `None` when nothing was added.
    fn post(&mut self, kind: Kind, path: &str, value: &Value) -> Option<Option<String>> {
        let headers = [("content-type", "application/json")];
        match self.request(kind, "POST", path, &headers, Some(&value.to_string())) {
            Outcome::Answered(answer) if answer.status == 201 => {
                let id = answer.json().ok().and_then(|body| Some(body.get("name")?.as_str()?.to_owned()));
                if id.is_none() {
                    // Acknowledged, but under a name not given: the log check shows it as a phantom.
                    self.fail(format!(
                        "POST {path} answered 201 without a name: {}",
                        String::from_utf8_lossy(&answer.body)
                    ));
                }
                Some(Some(id?))
            }
            Outcome::Answered(answer) => self.failed(format!("POST {path} answered {}", answer.status)),
            Outcome::Unknown => Some(None),
            Outcome::GaveUp => None,
        }
    }

    /// Increments `/shared/counter` by one: reads it, then writes the next value with
    /// `If-Match` and the tag read, again after each 412, up to [`INCREMENT_ROUNDS_MAX`] rounds.
    fn increment(&mut self) {
        let path = "/shared/counter";
        for _ in 0..INCREMENT_ROUNDS_MAX {
            let Outcome::Answered(answer) = self.request(Kind::CounterGet, "GET", path, &[], None) else { return };
            let counter = answer.json().ok().and_then(|counter| counter.get("n")?.as_u64());
            let (Some(counter), Some(etag), 200) = (counter, &answer.etag, answer.status) else {
                return self.fail(format!(
                    "GET {path} answered {}: {}",
                    answer.status,
                    String::from_utf8_lossy(&answer.body)
                ));
            };
            let next = counter + 1;
            let headers = [("content-type", "application/json"), ("if-match", etag.as_str())];
            match self.request(Kind::CounterPut, "PUT", path, &headers, Some(&json!({"n": next}).to_string())) {
                Outcome::Answered(answer) if answer.status == 200 => return self.finished.increments.push(next),
                Outcome::Answered(answer) if answer.status == 412 => continue,
                Outcome::Answered(answer) => return self.fail(format!("PUT {path} answered {}", answer.status)),
                Outcome::Unknown => return self.finished.unknown_increments.push(next),
                Outcome::GaveUp => return,
            }
        }
    }

    /// Sends a request to this worker's node, again after each 503 with `Retry-After` (which
    /// changed nothing), and counts every answer.
    fn request(
        &mut self,
        kind: Kind,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Outcome {
        for _ in 0..ATTEMPTS_MAX {
            // Nothing is sent while the server is down (the second request of a conditional
            // write, say): it would only be refused.
            let Some(generation) = self.wait_until_up() else { return Outcome::GaveUp };
            if generation != self.agent_generation {
                // The pooled connection went with the killed server.
                self.agent = agent();
                self.agent_generation = generation;
            }
            let url = {
                let urls = self.shared.urls.read().expect("the URL lock is never poisoned");
                format!("{}{path}", urls[self.finished.index % urls.len()])
            };
            let started = Instant::now();
            let result = send(&self.agent, method, &url, headers, body);
            let latency = started.elapsed();
            match result {
                Ok(answer) if answer.status == 503 && answer.retry_after.is_some() => {
                    let problem = answer.json().ok().and_then(|problem| {
                        let name = problem.get("type")?.as_str()?.strip_prefix("urn:jsonstore:problem:")?;
                        Some(name.to_owned())
                    });
                    let problem = problem.unwrap_or_else(|| "without a problem type".to_owned());
                    self.finished.stats.record(kind, &format!("503 {problem}, retried"), latency);
                    // Within the Retry-After (whole seconds), at most a second: the soak keeps moving.
                    std::thread::sleep(Duration::from_millis(100 + self.random.below(900)));
                }
                Ok(answer) if answer.status >= 500 => {
                    self.finished.stats.record(kind, &answer.status.to_string(), latency);
                    let body = String::from_utf8_lossy(&answer.body);
                    self.fail(format!("{method} {path} answered {}: {body}", answer.status));
                    return Outcome::Unknown;
                }
                Ok(answer) => {
                    self.finished.stats.record(kind, &answer.status.to_string(), latency);
                    return Outcome::Answered(answer);
                }
                Err(error) => {
                    let across_kill = self.shared.generation.load(Ordering::SeqCst) != generation;
                    if across_kill {
                        self.finished.stats.record(kind, "no answer: in flight at the kill", latency);
                        self.finished.in_flight_at_kill += 1;
                    } else {
                        self.finished.stats.record(kind, "no answer: transport error", latency);
                        self.fail(format!("{method} {path}: {error}"));
                    }
                    return Outcome::Unknown;
                }
            }
        }
        self.finished.gave_up += 1;
        Outcome::GaveUp
    }

    /// Notes a failure.
    fn fail(&mut self, failure: String) {
        self.finished.failures.push(format!("worker {}: {failure}", self.finished.index));
    }

    /// Notes a failure; `None`, for the callers that stop there.
    fn failed<T>(&mut self, failure: String) -> Option<T> {
        self.fail(failure);
        None
    }

    /// A new number, never used before by this worker.
    fn next(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }

    /// A new value for a slot: mostly an object of a varying size, sometimes a number.
    fn value(&mut self) -> Value {
        let sequence = self.next();
        if self.random.below(5) == 0 {
            return json!(sequence);
        }
        let pad = "x".repeat(self.random.below(200) as usize);
        json!({"v": sequence, "w": self.finished.index, "pad": pad})
    }

    /// A merge patch that sets one member and removes another.
    fn merge_patch(&mut self) -> Value {
        let sequence = self.next();
        match self.random.below(3) {
            0 => json!({"m": sequence, "j": null}),
            1 => json!({"v": sequence, "m": null, "pad": null}),
            _ => json!({"n": {"a": sequence, "b": null}}),
        }
    }

    /// A JSON Patch that succeeds where the model says the slot holds an object (a `test` of
    /// its `v`, then changes), or one that fails part-way, which must change nothing.
    fn json_patch(&mut self, slot: usize) -> Value {
        let sequence = self.next();
        let current = self.finished.subtree.slots[slot].likely().and_then(|value| value.get("v")).cloned();
        match (self.random.below(3), current) {
            (0, Some(current)) => json!([
                {"op": "test", "path": "/v", "value": current},
                {"op": "replace", "path": "/v", "value": sequence},
                {"op": "add", "path": "/j", "value": sequence},
            ]),
            (0, None) => json!([{"op": "add", "path": "/v", "value": sequence}]),
            (1, _) => json!([{"op": "add", "path": "/j", "value": sequence}, {"op": "remove", "path": "/m"}]),
            _ => json!([{"op": "test", "path": "/v", "value": -1}, {"op": "add", "path": "/x", "value": sequence}]),
        }
    }
}

/// SplitMix64: enough randomness for a request mix, without a dependency.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        mixed ^ (mixed >> 31)
    }

    /// A number below `bound`.
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

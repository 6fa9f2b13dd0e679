//! `cargo xtask soak [--seconds N] [--connections N]`: the real `wasmtime serve` under a mixed
//! workload for a while, checked for lost and phantom writes, unexpected 5xx and memory growth.
//!
//! Two phases of N seconds each (default 60, with 64 connections): one node on the file store,
//! killed with SIGKILL halfway and restarted on the same data directory and port; then two nodes
//! sharing one Redis-protocol server. In each, one worker per connection (a thread with a
//! blocking client) sends GET, PUT, POST, both kinds of PATCH, conditional PUTs (`If-Match` with
//! a tag just read, `If-None-Match: *`) and DELETE, one request at a time, until the time is up.
//! `cargo xtask test` runs a short one (10 s, 16 connections) and fails on what this one fails on.
//!
//! What shaped it: each worker writes a subtree of its own, `/w/<n>`, so that it can model the
//! subtree exactly and every read it makes is a check ([`model`]); a request in flight at the
//! kill may or may not have happened, so the model holds both outcomes until a read tells. What
//! the workers share is checked by invariants once they stop: `/shared/counter`, which they
//! increment by `If-Match` loops, must be the number of increments acknowledged (each value
//! acknowledged once), and `/shared/log`, which they `POST` to, must hold every acknowledged
//! push once and nothing else. Blocking threads rather than an async load generator: writes are
//! disk-bound, a few hundred a second at most, and `ureq` was already here.

mod model;
mod stats;
mod worker;

use crate::bench::report::{grouped, megabytes, now};
use crate::{build, tools};
use anyhow::{Context, Result, bail};
use jsonstore_testkit::{Redis, WasmtimeServe};
use model::{Log, Resolved};
use serde_json::{Map, Value, json};
use stats::{Kind, Stats, quantile};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use worker::{Finished, Shared};

/// The command line's settings.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// How long each phase sends requests.
    pub seconds: u64,
    /// How many workers (connections) send them.
    pub connections: u64,
}

/// The soak `cargo xtask test` runs.
pub const SHORT: Options = Options { seconds: 10, connections: 16 };

/// How often the soak samples the servers' memory.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);

/// How many failures a phase lists in full.
const FAILURES_SHOWN: usize = 20;

/// `cargo xtask soak`: builds, then soaks, prints the report and fails on what it found.
pub fn run(args: &[String]) -> Result<()> {
    let options = Options::parse(args)?;
    let artifacts = build::all()?;
    soak(&options, &artifacts, &tools::wasmtime()?, &tools::redis_server()?)
}

/// Runs both phases, prints the report, and fails if any phase found a lost or phantom value,
/// an unexpected 5xx, or an answer its model does not allow.
pub fn soak(options: &Options, artifacts: &build::Artifacts, wasmtime: &Path, redis_server: &Path) -> Result<()> {
    let load_before = load_average();
    let phases = [
        file_store(options, wasmtime, &artifacts.composed)?,
        two_nodes(options, wasmtime, &artifacts.composed_redis, redis_server)?,
    ];
    println!("{}", render(options, &load_before, &phases));
    let failures: usize = phases.iter().map(|phase| phase.failures.len()).sum();
    if failures > 0 {
        bail!("the soak found {failures} failures (listed above)");
    }
    Ok(())
}

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let mut options = Options { seconds: 60, connections: 64 };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut number = |what: &str| -> Result<u64> {
                let value = args.next().with_context(|| format!("{arg} takes {what}"))?;
                match value.parse::<u64>() {
                    Ok(number) if number > 0 => Ok(number),
                    _ => bail!("{arg} takes {what}, not {value:?}"),
                }
            };
            match arg.as_str() {
                "--seconds" => options.seconds = number("a number of seconds")?,
                "--connections" => options.connections = number("a number of connections")?,
                other => bail!("unknown option {other:?}; soak takes --seconds N and --connections N"),
            }
        }
        Ok(options)
    }
}

/// What one phase did and found.
struct Phase {
    title: String,
    /// How long the workers sent requests, the server's downtime left out.
    load: Duration,
    stats: Stats,
    /// Lost or phantom values, answers the model does not allow, unexpected 5xx.
    failures: Vec<String>,
    /// What the final checks found right, as sentences.
    checks: Vec<String>,
    /// Writes whose outcome was unknown, as reads resolved them.
    resolved: Resolved,
    gave_up: u64,
    memory: Vec<Memory>,
    kill: Option<Kill>,
}

/// The kill and restart, and what the workers found after it.
struct Kill {
    /// When, from the start of the load.
    at: Duration,
    /// How long the server was down.
    down: Duration,
    same_port: bool,
    in_flight: u64,
    /// How many workers found their whole subtree as their model said, right after the restart.
    matched: usize,
}

/// The file store, one node, killed with SIGKILL halfway and restarted on the same data.
fn file_store(options: &Options, wasmtime: &Path, component: &Path) -> Result<Phase> {
    eprintln!(
        "soak: file store, one node: {} connections for {} s, killed halfway",
        options.connections, options.seconds
    );
    let data = tempfile::tempdir().context("creating a data directory")?;
    let serve = |addr: &str| {
        let mut command = tools::serve_command(wasmtime, component, addr, data.path());
        tools::open_access(&mut command);
        WasmtimeServe::start(command)
    };
    let mut server = serve("127.0.0.1:0")?;
    initialize(server.url(), options)?;
    let shared = Arc::new(Shared::new(vec![server.url().to_owned()]));
    let mut memory = vec![Memory::new("before the kill", &server)];
    let mut kill = None;
    let halfway = Duration::from_secs(options.seconds) / 2;
    let (mut finished, load) = drive(options, &shared, |elapsed| {
        memory.last_mut().expect("a server").sample();
        if kill.is_none() && elapsed >= halfway {
            kill = Some(kill_and_restart(&shared, &mut server, &serve, elapsed)?);
            memory.push(Memory::new("after the restart", &server));
        }
        Ok(())
    })?;
    let mut kill = kill.context("the soak ended before the kill")?;
    kill.in_flight = finished.iter().map(|worker| worker.in_flight_at_kill).sum();
    kill.matched = finished.iter().filter(|worker| worker.matched_after_restart).count();
    let title = format!("File store, one node, SIGKILL at {:.0} s", kill.at.as_secs_f64());
    let mut phase = check(title, load, server.url(), &mut finished, memory)?;
    phase.kill = Some(kill);
    Ok(phase)
}

/// Kills the server, restarts it on the same data directory and port (a new port if that one
/// is taken), and moves the workers' deadline on by the time it was down.
fn kill_and_restart(
    shared: &Shared,
    server: &mut WasmtimeServe,
    serve: &dyn Fn(&str) -> std::io::Result<WasmtimeServe>,
    at: Duration,
) -> Result<Kill> {
    eprintln!("soak: SIGKILL to wasmtime serve at {:.1} s", at.as_secs_f64());
    shared.generation.fetch_add(1, Ordering::SeqCst);
    let down_since = Instant::now();
    server.kill();
    let port = server.url().rsplit(':').next().context("a URL with a port")?.to_owned();
    let (restarted, same_port) = match serve(&format!("127.0.0.1:{port}")) {
        Ok(restarted) => (restarted, true),
        Err(error) => {
            eprintln!("soak: port {port} is not free again ({error}); restarting on a new port");
            (serve("127.0.0.1:0")?, false)
        }
    };
    *server = restarted;
    *shared.urls.write().expect("the URL lock is never poisoned") = vec![server.url().to_owned()];
    let down = down_since.elapsed();
    *shared.deadline.lock().expect("the deadline lock is never poisoned") += down;
    shared.generation.fetch_add(1, Ordering::SeqCst);
    eprintln!("soak: restarted after {:.2} s", down.as_secs_f64());
    Ok(Kill { at, down, same_port, in_flight: 0, matched: 0 })
}

/// Two nodes on one Redis-protocol server, the workers split between them.
fn two_nodes(options: &Options, wasmtime: &Path, component: &Path, redis_server: &Path) -> Result<Phase> {
    eprintln!(
        "soak: two nodes on one Redis-protocol server: {} connections for {} s",
        options.connections, options.seconds
    );
    let redis = Redis::durable_from(redis_server);
    let node = || {
        let mut command = tools::serve_redis_command(wasmtime, component, "127.0.0.1:0", &redis.url());
        tools::open_access(&mut command);
        WasmtimeServe::start(command)
    };
    let nodes = [node()?, node()?];
    initialize(nodes[0].url(), options)?;
    let shared = Arc::new(Shared::new(nodes.iter().map(|node| node.url().to_owned()).collect()));
    let mut memory = vec![Memory::new("node 1", &nodes[0]), Memory::new("node 2", &nodes[1])];
    let (mut finished, load) = drive(options, &shared, |_| {
        memory.iter_mut().for_each(Memory::sample);
        Ok(())
    })?;
    let title = "Two nodes, one Redis-protocol server".to_owned();
    let mut phase = check(title, load, nodes[0].url(), &mut finished, memory)?;
    let agent = worker::agent();
    let documents: Vec<Vec<u8>> = nodes
        .iter()
        .map(|node| Ok(worker::send(&agent, "GET", &format!("{}/", node.url()), &[], None)?.body))
        .collect::<Result<_>>()?;
    if documents[0] == documents[1] {
        phase.checks.push("both nodes answer `GET /` with the same document".to_owned());
    } else {
        phase.failures.push("the nodes answer `GET /` with different documents".to_owned());
    }
    Ok(phase)
}

/// Stores the document the workers start from: an empty subtree each, the counter at 0, an
/// empty shared log.
fn initialize(url: &str, options: &Options) -> Result<()> {
    let subtrees: Map<String, Value> = (0..options.connections).map(|index| (index.to_string(), json!({}))).collect();
    let document = json!({"w": subtrees, "shared": {"counter": {"n": 0}, "log": {}}});
    let headers = [("content-type", "application/json")];
    let answer = worker::send(&worker::agent(), "PUT", &format!("{url}/"), &headers, Some(&document.to_string()))?;
    if answer.status != 201 {
        bail!("PUT / answered {}: {}", answer.status, String::from_utf8_lossy(&answer.body));
    }
    Ok(())
}

/// Runs the workers until the deadline, calling `tick` with the time since the start every
/// [`SAMPLE_EVERY`]; what each worker finished with, and how long the load ran (without the
/// downtime the deadline moved by).
fn drive(
    options: &Options,
    shared: &Arc<Shared>,
    mut tick: impl FnMut(Duration) -> Result<()>,
) -> Result<(Vec<Finished>, Duration)> {
    let started = Instant::now();
    let end = started + Duration::from_secs(options.seconds);
    *shared.deadline.lock().expect("the deadline lock is never poisoned") = end;
    let workers = (0..options.connections as usize)
        .map(|index| {
            let shared = Arc::clone(shared);
            std::thread::Builder::new().name(format!("soak-{index}")).spawn(move || worker::run(index, shared))
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut ticked = Ok(());
    while !workers.iter().all(|worker| worker.is_finished()) {
        std::thread::sleep(SAMPLE_EVERY);
        if ticked.is_ok() {
            ticked = tick(started.elapsed());
            if ticked.is_err() {
                // Stop the workers, then report.
                *shared.deadline.lock().expect("the deadline lock is never poisoned") = Instant::now();
            }
        }
    }
    ticked?;
    let finished = workers
        .into_iter()
        .map(|worker| worker.join().map_err(|_| anyhow::anyhow!("a soak worker panicked")))
        .collect::<Result<Vec<_>>>()?;
    let moved = *shared.deadline.lock().expect("the deadline lock is never poisoned") - end;
    Ok((finished, started.elapsed().saturating_sub(moved)))
}

/// Checks the document at `url` against every worker's model and the shared invariants, and
/// gathers the phase's numbers.
fn check(title: String, load: Duration, url: &str, finished: &mut [Finished], memory: Vec<Memory>) -> Result<Phase> {
    let agent = worker::agent();
    let get = |path: &str| -> Result<Value> {
        let answer = worker::send(&agent, "GET", &format!("{url}{path}"), &[], None)?;
        if answer.status != 200 {
            bail!("GET {path} answered {} after the soak", answer.status);
        }
        answer.json().map_err(anyhow::Error::msg)
    };
    let mut phase = Phase {
        title,
        load,
        stats: Stats::default(),
        failures: Vec::new(),
        checks: Vec::new(),
        resolved: Resolved::default(),
        gave_up: 0,
        memory,
        kill: None,
    };
    // Each worker's subtree against its model.
    let subtrees = get("/w")?;
    let mut matched = 0;
    for worker in finished.iter_mut() {
        let actual = subtrees.get(worker.index.to_string()).cloned().unwrap_or(Value::Null);
        let (resolved, errors) = worker.subtree.read(&actual, &format!("/w/{}", worker.index));
        phase.resolved.add(resolved);
        phase.resolved.add(worker.resolved);
        matched += usize::from(errors.is_empty());
        phase.failures.extend(errors);
    }
    if subtrees.as_object().map(Map::len) != Some(finished.len()) {
        phase.failures.push(format!("/w has other members than the {} workers' subtrees", finished.len()));
    }
    let writes: u64 = phase_writes(finished);
    phase.checks.push(format!(
        "{matched} of {} worker subtrees equal their models exactly (after {} acknowledged writes)",
        finished.len(),
        grouped(writes)
    ));
    // The shared log: every acknowledged push there once, nothing else.
    let mut log = Log::default();
    for worker in finished.iter_mut() {
        log.acknowledged.append(&mut worker.shared_log.acknowledged);
        log.unknown.append(&mut worker.shared_log.unknown);
    }
    let (acknowledged, unknown) = (log.acknowledged.len(), log.unknown.len());
    let (resolved, errors) = log.read(get("/shared/log")?.as_object(), "/shared/log");
    phase.resolved.add(resolved);
    if errors.is_empty() {
        phase.checks.push(format!(
            "`/shared/log` holds each of the {} acknowledged pushes once, and nothing else{}",
            grouped(acknowledged as u64),
            unanswered(resolved.applied, unknown as u64)
        ));
    }
    phase.failures.extend(errors);
    // The shared counter: one acknowledged increment per value, no value without an increment.
    let counter = get("/shared/counter")?.get("n").and_then(Value::as_u64).context("/shared/counter/n is a count")?;
    let increments: Vec<u64> = finished.iter().flat_map(|worker| worker.increments.iter().copied()).collect();
    let unknown: BTreeSet<u64> = finished.iter().flat_map(|worker| worker.unknown_increments.iter().copied()).collect();
    let failures_before = phase.failures.len();
    let mut seen = BTreeSet::new();
    for &value in &increments {
        if !seen.insert(value) {
            phase
                .failures
                .push(format!("/shared/counter: two increments were acknowledged writing {value}: a lost update"));
        }
        if value > counter {
            phase.failures.push(format!("/shared/counter is {counter}, but an increment to {value} was acknowledged"));
        }
    }
    let phantoms: Vec<u64> = (1..=counter).filter(|value| !seen.contains(value) && !unknown.contains(value)).collect();
    if !phantoms.is_empty() {
        phase.failures.push(format!("/shared/counter is {counter}, but no increment wrote {phantoms:?}"));
    }
    // Several workers may have sent the same value without an answer: count requests, not values.
    let unanswered_increments: u64 = finished.iter().map(|worker| worker.unknown_increments.len() as u64).sum();
    let applied = counter.saturating_sub(seen.len() as u64);
    phase.resolved.add(Resolved { applied, not_applied: unanswered_increments.saturating_sub(applied) });
    if phase.failures.len() == failures_before {
        phase.checks.push(format!(
            "`/shared/counter` is {}, one acknowledged `If-Match` increment for each value{}",
            grouped(counter),
            unanswered(applied, unanswered_increments)
        ));
    }
    for worker in finished.iter_mut() {
        phase.stats.merge(std::mem::take(&mut worker.stats));
        phase.failures.append(&mut worker.failures);
        phase.gave_up += worker.gave_up;
    }
    Ok(phase)
}

/// How many writes the workers had acknowledged (answered 2xx).
fn phase_writes(finished: &[Finished]) -> u64 {
    let acknowledged = |stats: &Stats| -> u64 {
        stats
            .kinds
            .iter()
            .filter(|(kind, _)| kind.is_write())
            .flat_map(|(_, stats)| stats.answers.iter())
            .filter(|(answer, _)| answer.starts_with('2'))
            .map(|(_, count)| count)
            .sum()
    };
    finished.iter().map(|worker| acknowledged(&worker.stats)).sum()
}

/// `", and 3 of 5 unanswered ones were applied"`, or nothing without unanswered ones.
fn unanswered(applied: u64, unknown: u64) -> String {
    if unknown == 0 { String::new() } else { format!("; of {unknown} sent without an answer, {applied} were applied") }
}

/// One `wasmtime serve` process's resident memory, sampled through its life.
struct Memory {
    label: &'static str,
    pid: u32,
    /// `VmRSS`, first before any load.
    samples: Vec<u64>,
    /// `VmHWM` at the last sample.
    peak: Option<u64>,
}

impl Memory {
    fn new(label: &'static str, server: &WasmtimeServe) -> Memory {
        let mut memory = Memory { label, pid: server.id(), samples: Vec::new(), peak: None };
        memory.sample();
        memory
    }

    fn sample(&mut self) {
        if let Some(resident) = proc_status_bytes(self.pid, "VmRSS:") {
            self.samples.push(resident);
            self.peak = proc_status_bytes(self.pid, "VmHWM:").or(self.peak);
        }
    }

    /// `"node 1: 25.1 MB before the load, then 70.3, 80.2, 80.9 and 81.0 MB at the end of each
    /// quarter of it (peak 82.3 MB)"`: flat when the last quarters agree.
    fn describe(&self) -> String {
        let Some(start) = self.samples.first() else {
            return format!("{}: not measured (no /proc)", self.label);
        };
        let last = self.samples.len() - 1;
        let quarters: Vec<String> =
            (1..=4).map(|quarter| format!("{:.1}", self.samples[last * quarter / 4] as f64 / 1e6)).collect();
        let peak = self.peak.map_or_else(String::new, |peak| format!(" (peak {})", megabytes(peak)));
        format!(
            "{}: {} before the load, then {}, {}, {} and {} MB at the end of each quarter of it{peak}",
            self.label,
            megabytes(*start),
            quarters[0],
            quarters[1],
            quarters[2],
            quarters[3]
        )
    }
}

/// A `/proc/PID/status` field in kB, in bytes.
fn proc_status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|line| line.strip_prefix(field))?;
    let kibibytes: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kibibytes * 1024)
}

/// The markdown report of both phases.
fn render(options: &Options, load_before: &str, phases: &[Phase]) -> String {
    let mut text = String::new();
    let command = format!("cargo xtask soak --seconds {} --connections {}", options.seconds, options.connections);
    let _ = writeln!(text, "`{command}`, {}; {}; load average before: {load_before}.", now(), machine());
    for phase in phases {
        let _ = writeln!(text, "\n### {}\n", phase.title);
        let requests: u64 = phase.stats.kinds.values().map(|stats| stats.latencies.len() as u64).sum();
        let seconds = phase.load.as_secs_f64();
        let _ = writeln!(
            text,
            "{} connections for {seconds:.1} s: {} requests, {:.0} per second.\n",
            options.connections,
            grouped(requests),
            requests as f64 / seconds
        );
        let _ = writeln!(text, "| Request | Count | Per second | p50 | p99 | Answers |");
        let _ = writeln!(text, "|---|--:|--:|--:|--:|---|");
        let mut writes = Vec::new();
        for (kind, stats) in &phase.stats.kinds {
            let mut latencies = stats.latencies.clone();
            if kind.is_write() {
                writes.extend_from_slice(&latencies);
            }
            let answers: Vec<String> =
                stats.answers.iter().map(|(answer, count)| format!("{answer}: {}", grouped(*count))).collect();
            let _ = writeln!(text, "{}", row(kind.label(), &mut latencies, seconds, &answers.join(", ")));
        }
        let _ = writeln!(text, "{}", row("**all writes**", &mut writes, seconds, ""));
        let _ = writeln!(text);
        for check in &phase.checks {
            let _ = writeln!(text, "- {check}.");
        }
        let retried = phase.stats.count_where(|answer| answer.ends_with(", retried"));
        let preconditions = phase.stats.count("412");
        let counter_412 =
            phase.stats.kinds.get(&Kind::CounterPut).and_then(|stats| stats.answers.get("412")).copied().unwrap_or(0);
        let unexpected = phase.stats.count_where(|answer| answer.parse::<u16>().is_ok_and(|status| status >= 500));
        let _ = writeln!(
            text,
            "- 5xx: {unexpected} unexpected; 503 with `Retry-After`: {}, each retried \
             ({} requests given up after {} of them).",
            grouped(retried),
            phase.gave_up,
            worker::ATTEMPTS_MAX
        );
        let _ = writeln!(
            text,
            "- 412: {} ({} of them increments of `/shared/counter` that lost the race to another worker, \
             the rest where the model expected them).",
            grouped(preconditions),
            grouped(counter_412)
        );
        if let Some(kill) = &phase.kill {
            let _ = writeln!(
                text,
                "- Kill: SIGKILL at {:.1} s with {} requests in flight; restarted on {} in {:.2} s; right after it, \
                 {} of {} workers found their whole subtree as their model said; writes without an answer: \
                 {} applied, {} not.",
                kill.at.as_secs_f64(),
                kill.in_flight,
                if kill.same_port { "the same data directory and port" } else { "the same data directory, a new port" },
                kill.down.as_secs_f64(),
                kill.matched,
                options.connections,
                phase.resolved.applied,
                phase.resolved.not_applied
            );
        }
        let memory: Vec<String> = phase.memory.iter().map(Memory::describe).collect();
        let _ = writeln!(text, "- Memory (`VmRSS` of `wasmtime serve`): {}.", memory.join("; "));
        if phase.failures.is_empty() {
            let _ = writeln!(text, "- Failures: none.");
        } else {
            let _ = writeln!(text, "- **Failures: {}**, the first of them:", phase.failures.len());
            for failure in phase.failures.iter().take(FAILURES_SHOWN) {
                let _ = writeln!(text, "  - {failure}");
            }
        }
    }
    text
}

/// A table row: count, rate, p50 and p99 of `latencies`, and `answers`.
fn row(label: &str, latencies: &mut [Duration], seconds: f64, answers: &str) -> String {
    let p50 = quantile(latencies, 0.5).map_or_else(|| "—".to_owned(), milliseconds);
    let p99 = quantile(latencies, 0.99).map_or_else(|| "—".to_owned(), milliseconds);
    let count = latencies.len() as u64;
    format!("| {label} | {} | {:.1} | {p50} | {p99} | {answers} |", grouped(count), count as f64 / seconds)
}

fn milliseconds(latency: Duration) -> String {
    let milliseconds = latency.as_secs_f64() * 1e3;
    match milliseconds {
        ..10.0 => format!("{milliseconds:.1} ms"),
        ..1000.0 => format!("{milliseconds:.0} ms"),
        _ => format!("{:.2} s", milliseconds / 1e3),
    }
}

/// The cores and the OS, as far as the standard library tells.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |cores| cores.get());
    format!("{cores} cores, {} {}", std::env::consts::OS, std::env::consts::ARCH)
}

/// The 1-, 5- and 15-minute load averages, from `/proc/loadavg`: other work skews the numbers.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let averages: Vec<&str> = text.split_whitespace().take(3).collect();
    if averages.len() == 3 { averages.join(", ") } else { "unknown".to_owned() }
}

//! `cargo xtask bench [--seconds N] [--concurrency N]`: JSONStore against a hello-world baseline, in one table.
//!
//! Every scenario gets its own `wasmtime serve` on a free loopback port and a fresh data
//! directory, so its peak memory is its own and no run inherits another's files. Request rates
//! come from `oha`, a real HTTP load generator, rather than a client written here, so the
//! numbers are comparable with other servers'. Whole-document transfers are timed one request at
//! a time instead: there the question is bytes per second, not requests under contention.
//! The table is printed and written to `BENCHMARKS.md`, with the targets JSONStore is held to.

mod document;
mod oha;
pub(crate) mod report;
mod server;

use crate::{build, cargo, root, tools, wasm_out};
use anyhow::{Context, Result, bail};
use document::{LEAF, LEAF_VALUE};
use server::Server;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// How many sequential whole-document requests of each kind are timed.
const TRANSFERS: usize = 5;

/// What one scenario measured.
pub struct Measurement {
    /// Successful (2xx) requests per second under load, or MB per second for whole-document transfers.
    pub rate: f64,
    /// How many responses (and transport errors) there were.
    pub responses: u64,
    /// The answers that were not a success, by status code or error, with their counts.
    pub failures: BTreeMap<String, u64>,
    /// The server's peak resident memory, when the platform tells it.
    pub peak_memory_bytes: Option<u64>,
}

/// The command line's settings.
pub struct Options {
    /// How long each load scenario runs.
    pub seconds: u64,
    /// How many connections send requests at once.
    pub concurrency: u64,
}

/// The heading of the hand-written profile notes that follow the table in `BENCHMARKS.md`.
const NOTES_HEADING: &str = "## Where the time goes";

/// Runs every scenario, prints the table and writes it to `BENCHMARKS.md`.
pub fn run(args: &[String]) -> Result<()> {
    let options = Options::parse(args)?;
    let artifacts = build::all()?;
    let hello = build_hello()?;
    let bench = Bench { wasmtime: tools::wasmtime()?, oha: oha::ensure()?, options };
    let small = document::generate(1_000);
    let big = document::generate(10_000_000);
    let cpu_busy_before = report::cpu_busy_share();
    let started = Instant::now();
    let results = report::Results {
        baseline: bench.load("hello baseline: GET /", &hello, None, "GET", "/")?,
        options: bench.load("1 KB document: OPTIONS", &artifacts.composed, Some(&small), "OPTIONS", LEAF)?,
        small_get: bench.load("1 KB document: leaf GET", &artifacts.composed, Some(&small), "GET", LEAF)?,
        small_put: bench.load("1 KB document: leaf PUT", &artifacts.composed, Some(&small), "PUT", LEAF)?,
        big_get: bench.load("10 MB document: leaf GET", &artifacts.composed, Some(&big), "GET", LEAF)?,
        big_put: bench.load("10 MB document: leaf PUT", &artifacts.composed, Some(&big), "PUT", LEAF)?,
        whole_put: bench.transfer(&artifacts.composed, &big, "PUT", &[], None)?,
        whole_put_minimal: bench.transfer(&artifacts.composed, &big, "PUT", &[("prefer", "return=minimal")], None)?,
        whole_put_in_memory: in_memory_dir()
            .map(|dir| bench.transfer(&artifacts.composed, &big, "PUT", &[], Some(dir)))
            .transpose()?,
        whole_get: bench.transfer(&artifacts.composed, &big, "GET", &[], None)?,
        document_bytes: (small.len(), big.len()),
        component_bytes: (file_bytes(&artifacts.handler)?, file_bytes(&artifacts.composed)?),
        transfers: TRANSFERS,
        cpu_busy_before,
    };
    eprintln!("bench: the scenarios took {:.0} s", started.elapsed().as_secs_f64());
    let text = report::render(&results, &bench.options, &bench.wasmtime, &bench.oha);
    println!("{text}");
    let path = root().join("BENCHMARKS.md");
    // The profile notes below the table are written by hand; a new table keeps them.
    let notes = std::fs::read_to_string(&path)
        .ok()
        .and_then(|old| old.find(NOTES_HEADING).map(|at| old[at..].to_owned()))
        .unwrap_or_default();
    let text = if notes.is_empty() { text } else { format!("{}\n\n{notes}", text.trim_end()) };
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("bench: wrote {}", path.display());
    Ok(())
}

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let mut options = Options { seconds: 5, concurrency: 16 };
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
                "--concurrency" => options.concurrency = number("a number of connections")?,
                other => bail!("unknown option {other:?}; bench takes --seconds N and --concurrency N"),
            }
        }
        Ok(options)
    }
}

/// The tools and settings every scenario shares.
struct Bench {
    wasmtime: PathBuf,
    oha: PathBuf,
    options: Options,
}

impl Bench {
    /// Serves `component`, stores `document` (if any), checks that one `method path` succeeds,
    /// then puts it under load with oha.
    fn load(
        &self,
        name: &str,
        component: &Path,
        document: Option<&str>,
        method: &str,
        path: &str,
    ) -> Result<Measurement> {
        eprintln!("bench: {name} ({} connections, {} s)", self.options.concurrency, self.options.seconds);
        let server = self.start(component, document, None)?;
        let body = (method == "PUT").then_some(LEAF_VALUE);
        server.expect_success(method, path, body.map(str::as_bytes))?;
        let outcome = oha::run(&self.oha, &self.options, method, &format!("{}{path}", server.url()), body)?;
        Ok(Measurement {
            rate: outcome.successes as f64 / outcome.seconds,
            responses: outcome.responses,
            failures: outcome.failures,
            peak_memory_bytes: server.peak_memory_bytes(),
        })
    }

    /// Starts a server and stores `document` in it, saying how long each took; the server's
    /// peak memory then starts afresh, so that it tells about the measured requests.
    fn start(&self, component: &Path, document: Option<&str>, data_in: Option<&Path>) -> Result<Server> {
        let clock = Instant::now();
        let server = Server::start(&self.wasmtime, component, data_in)?;
        let started = clock.elapsed().as_secs_f64();
        if let Some(document) = document {
            server.expect_success("PUT", "/", Some(document.as_bytes()))?;
        }
        let stored = clock.elapsed().as_secs_f64() - started;
        server.reset_peak_memory();
        eprintln!("bench:   wasmtime serve started in {started:.1} s, the document stored in {stored:.1} s");
        Ok(server)
    }

    /// Stores `document`, then times sequential `PUT /` or `GET /` of all of it; the rate is the
    /// document's size over the median time. The data directory is made in `data_in` if given.
    fn transfer(
        &self,
        component: &Path,
        document: &str,
        method: &str,
        headers: &[(&str, &str)],
        data_in: Option<&Path>,
    ) -> Result<Measurement> {
        eprintln!(
            "bench: 10 MB document: whole {method} {headers:?}, data in {} ({TRANSFERS} sequential requests)",
            data_in.map_or_else(|| std::env::temp_dir().display().to_string(), |dir| dir.display().to_string())
        );
        let server = self.start(component, Some(document), data_in)?;
        let body = (method == "PUT").then_some(document.as_bytes());
        let mut seconds = Vec::new();
        let mut failures = BTreeMap::new();
        for _ in 0..TRANSFERS {
            let start = Instant::now();
            let (status, _) = server.send_with(method, "/", body, headers)?;
            seconds.push(start.elapsed().as_secs_f64());
            if !(200..300).contains(&status) {
                *failures.entry(status.to_string()).or_insert(0) += 1;
            }
        }
        seconds.sort_by(f64::total_cmp);
        Ok(Measurement {
            rate: document.len() as f64 / 1e6 / seconds[seconds.len() / 2],
            responses: TRANSFERS as u64,
            failures,
            peak_memory_bytes: server.peak_memory_bytes(),
        })
    }
}

/// A directory whose files live in memory (Linux's `/dev/shm`), if there is one: a whole PUT
/// with its data there shows what JSONStore costs apart from the disk.
fn in_memory_dir() -> Option<&'static Path> {
    let dir = Path::new("/dev/shm");
    tempfile::tempdir_in(dir).is_ok().then_some(dir)
}

/// Builds the hello-world baseline component.
fn build_hello() -> Result<PathBuf> {
    let status = Command::new(cargo())
        .current_dir(root())
        .args(["build", "--release", "--target", "wasm32-wasip2", "-p", "jsonstore-bench-hello"])
        .status()?;
    if !status.success() {
        bail!("building the hello-world component failed");
    }
    Ok(wasm_out().join("jsonstore_bench_hello.wasm"))
}

fn file_bytes(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.len())
}

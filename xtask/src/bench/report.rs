//! The benchmark's one table, with the targets it is held to, and the machine it ran on.
//!
//! Units are decimal throughout (1 KB = 1,000 bytes, 1 MB = 1,000,000 bytes), so sizes,
//! memory and MB/s read on one scale.

use super::{Measurement, Options};
use std::fmt::Write;
use std::path::Path;
use std::process::Command;

/// Small GET must reach this share of the hello-world baseline's requests per second.
const SMALL_GET_OF_BASELINE_MIN: f64 = 0.60;

/// Leaf GET and leaf PUT in the 10 MB document must reach this share of the same in the 1 KB one.
const BIG_LEAF_OF_SMALL_LEAF_MIN: f64 = 0.50;

/// Writing the whole 10 MB document must reach this many MB/s.
const WHOLE_PUT_MEGABYTES_PER_SECOND_MIN: f64 = 50.0;

/// The handler component, what edge hosts deploy, must be at most this many bytes.
const COMPONENT_BYTES_MAX: u64 = 300_000;

/// Everything one run measured.
pub struct Results {
    /// The hello-world component, `GET /`.
    pub baseline: Measurement,
    /// `OPTIONS` in the small document: the composed component without store access.
    pub options: Measurement,
    /// Leaf GET in the small document.
    pub small_get: Measurement,
    /// Leaf PUT in the small document.
    pub small_put: Measurement,
    /// Leaf GET in the big document.
    pub big_get: Measurement,
    /// Leaf PUT in the big document.
    pub big_put: Measurement,
    /// `PUT /` of the whole big document, in MB/s.
    pub whole_put: Measurement,
    /// The same, with `Prefer: return=minimal`: the answer leaves out the document.
    pub whole_put_minimal: Measurement,
    /// The whole PUT with the data directory in memory, where the machine has such a directory.
    pub whole_put_in_memory: Option<Measurement>,
    /// `GET /` of the whole big document, in MB/s.
    pub whole_get: Measurement,
    /// The small and big documents' sizes.
    pub document_bytes: (usize, usize),
    /// The sizes of `jsonstore.wasm` and `jsonstore-wasmtime.wasm`.
    pub component_bytes: (u64, u64),
    /// How many whole-document requests of each kind were timed.
    pub transfers: usize,
    /// How busy the CPUs were just before the run, from [`cpu_busy_share`].
    pub cpu_busy_before: Option<f64>,
}

/// The share of CPU time spent on anything but idling over the next second, from `/proc/stat`:
/// other work on the machine skews every number in the table.
pub fn cpu_busy_share() -> Option<f64> {
    // The first line is `cpu  user nice system idle iowait irq softirq steal ...`, in ticks.
    let sample = || -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let ticks: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|n| n.parse().ok()).collect();
        let idle = ticks.get(3)? + ticks.get(4)?;
        Some((ticks.iter().sum(), idle))
    };
    let (total_before, idle_before) = sample()?;
    std::thread::sleep(std::time::Duration::from_secs(1));
    let (total_after, idle_after) = sample()?;
    let total = total_after.checked_sub(total_before).filter(|total| *total > 0)?;
    Some(1.0 - (idle_after - idle_before) as f64 / total as f64)
}

/// The markdown report: a header describing the machine and the run, then the table.
pub fn render(results: &Results, options: &Options, wasmtime: &Path, oha: &Path) -> String {
    let (small, big) = results.document_bytes;
    let header = [
        "# Benchmarks".to_owned(),
        String::new(),
        "Measured by `cargo xtask bench`; rerun it to refresh this file.".to_owned(),
        String::new(),
        format!("- Date: {}", now()),
        format!("- Machine: {}", machine()),
        format!(
            "- Other load: the CPUs were {} busy in the second before the run",
            results.cpu_busy_before.map_or_else(|| "(unknown)".to_owned(), percent)
        ),
        format!("- Host: {}; load generator: {}, on the same machine", version(wasmtime), version(oha)),
        format!(
            "- Load: {} connections for {} s per scenario; whole-document rows are the median of {} sequential requests",
            options.concurrency, options.seconds, results.transfers
        ),
        format!(
            "- Documents: {} and {} bytes of compact JSON (`{}` is a leaf in both); \
             each scenario has its own `wasmtime serve` and data directory",
            grouped(small as u64),
            grouped(big as u64),
            super::document::LEAF
        ),
        "- Rates count successful (2xx) responses only".to_owned(),
        "- Peak memory is the `wasmtime serve` process's `VmHWM` during the measured requests, \
         after the document was stored"
            .to_owned(),
        "- Units are decimal: 1 KB = 1,000 bytes, 1 MB = 1,000,000 bytes".to_owned(),
        String::new(),
    ];
    header.join("\n") + "\n" + &table(results)
}

fn table(results: &Results) -> String {
    let r = results;
    let small_get_share = r.small_get.rate / r.baseline.rate;
    let big_get_share = r.big_get.rate / r.small_get.rate;
    let big_put_share = r.big_put.rate / r.small_put.rate;
    let leaf = super::document::LEAF;
    let rows = [
        load_row("hello baseline: `GET /`", &r.baseline, "—".to_owned(), None),
        load_row(
            &format!("1 KB doc: `OPTIONS {leaf}` (no store access)"),
            &r.options,
            share(r.options.rate / r.baseline.rate, "baseline"),
            None,
        ),
        load_row(
            &format!("1 KB doc: `GET {leaf}`"),
            &r.small_get,
            share(small_get_share, "baseline"),
            at_least(small_get_share, SMALL_GET_OF_BASELINE_MIN, "baseline"),
        ),
        load_row(
            &format!("1 KB doc: `PUT {leaf}`"),
            &r.small_put,
            share(r.small_put.rate / r.baseline.rate, "baseline"),
            None,
        ),
        load_row(
            &format!("10 MB doc: `GET {leaf}`"),
            &r.big_get,
            share(big_get_share, "1 KB GET"),
            at_least(big_get_share, BIG_LEAF_OF_SMALL_LEAF_MIN, "1 KB GET"),
        ),
        load_row(
            &format!("10 MB doc: `PUT {leaf}`"),
            &r.big_put,
            share(big_put_share, "1 KB PUT"),
            at_least(big_put_share, BIG_LEAF_OF_SMALL_LEAF_MIN, "1 KB PUT"),
        ),
        transfer_row(
            "10 MB doc: `PUT /` (whole)",
            &r.whole_put,
            Some((
                format!("≥ {WHOLE_PUT_MEGABYTES_PER_SECOND_MIN} MB/s"),
                r.whole_put.rate >= WHOLE_PUT_MEGABYTES_PER_SECOND_MIN,
            )),
        ),
        transfer_row("10 MB doc: `PUT /` (whole, `Prefer: return=minimal`)", &r.whole_put_minimal, None),
        match &r.whole_put_in_memory {
            Some(measured) => transfer_row("10 MB doc: `PUT /` (whole, data in memory: `/dev/shm`)", measured, None),
            None => unmeasured_row("10 MB doc: `PUT /` (whole, data in memory)", "no `/dev/shm` here"),
        },
        transfer_row("10 MB doc: `GET /` (whole)", &r.whole_get, None),
        size_row(
            "size of `jsonstore.wasm` (handler)",
            r.component_bytes.0,
            Some((format!("≤ {} KB", COMPONENT_BYTES_MAX / 1_000), r.component_bytes.0 <= COMPONENT_BYTES_MAX)),
        ),
        size_row("size of `jsonstore-wasmtime.wasm` (composed)", r.component_bytes.1, None),
    ];
    let mut out = String::new();
    out.push_str(
        "| Scenario | Result | Responses | Non-2xx or errors | Peak memory | Compared with | Target | Met |\n",
    );
    out.push_str("|---|--:|--:|---|--:|---|---|---|\n");
    for row in rows {
        writeln!(out, "| {} |", row.join(" | ")).expect("writing to a String");
    }
    out
}

/// A target's text and whether it was met; `None` for rows without one.
type Target = Option<(String, bool)>;

fn at_least(share: f64, share_min: f64, of: &str) -> Target {
    Some((format!("≥ {} of {of}", percent(share_min)), share >= share_min))
}

fn load_row(scenario: &str, measured: &Measurement, compared: String, target: Target) -> [String; 8] {
    let rate =
        if measured.rate >= 100.0 { grouped(measured.rate.round() as u64) } else { format!("{:.1}", measured.rate) };
    row(scenario, format!("{rate} req/s"), measured, compared, target)
}

fn transfer_row(scenario: &str, measured: &Measurement, target: Target) -> [String; 8] {
    row(scenario, format!("{:.1} MB/s", measured.rate), measured, "—".to_owned(), target)
}

fn unmeasured_row(scenario: &str, why: &str) -> [String; 8] {
    let dash = || "—".to_owned();
    [scenario.to_owned(), format!("not measured: {why}"), dash(), dash(), dash(), dash(), dash(), dash()]
}

fn size_row(scenario: &str, size: u64, target: Target) -> [String; 8] {
    let (target, met) = verdict(target);
    let dash = || "—".to_owned();
    [scenario.to_owned(), format!("{} bytes", grouped(size)), dash(), dash(), dash(), dash(), target, met]
}

fn row(scenario: &str, result: String, measured: &Measurement, compared: String, target: Target) -> [String; 8] {
    let failures = if measured.failures.is_empty() {
        "0".to_owned()
    } else {
        measured
            .failures
            .iter()
            .map(|(what, count)| format!("{} × {what}", grouped(*count)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let memory = measured.peak_memory_bytes.map_or_else(|| "n/a".to_owned(), megabytes);
    let (target, met) = verdict(target);
    [scenario.to_owned(), result, grouped(measured.responses), failures, memory, compared, target, met]
}

fn verdict(target: Target) -> (String, String) {
    match target {
        Some((target, true)) => (target, "met".to_owned()),
        Some((target, false)) => (target, "**missed**".to_owned()),
        None => ("—".to_owned(), "—".to_owned()),
    }
}

fn share(ratio: f64, of: &str) -> String {
    format!("{} of {of}", percent(ratio))
}

fn percent(ratio: f64) -> String {
    if ratio < 0.1 { format!("{:.1}%", ratio * 100.0) } else { format!("{:.0}%", ratio * 100.0) }
}

/// `bytes` in MB, decimal.
pub(crate) fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// `1234567` as `1,234,567`.
pub(crate) fn grouped(number: u64) -> String {
    let digits = number.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Cores, CPU model and memory, from `/proc` where there is one.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |cores| cores.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name")?.split_once(':').map(|(_, model)| model.trim().to_owned()))
        .unwrap_or_else(|| "an unknown CPU".to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:")?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
        .map_or_else(
            || "unknown memory".to_owned(),
            |kibibytes| format!("{:.1} GB memory", kibibytes as f64 * 1024.0 / 1e9),
        );
    format!("{cores} cores ({model}), {memory}, {} {}", std::env::consts::OS, std::env::consts::ARCH)
}

/// The first line of `tool --version`.
fn version(tool: &Path) -> String {
    let output = Command::new(tool).arg("--version").output();
    let text = output.map(|output| String::from_utf8_lossy(&output.stdout).into_owned()).unwrap_or_default();
    text.lines().next().unwrap_or("an unknown version").trim().to_owned()
}

/// The date and time in UTC, as `date` prints them.
pub(crate) fn now() -> String {
    let output = Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]).output();
    let text = output.map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned()).unwrap_or_default();
    if text.is_empty() { "unknown".to_owned() } else { text }
}

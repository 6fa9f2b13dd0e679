//! `oha`, the HTTP load generator: found or installed once, run, and its JSON summary read.
//!
//! oha is a Rust crate, so `cargo install` builds it like the project's other tools, with no
//! download outside the package registry.

use super::Options;
use crate::cargo;
use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The oha release the benchmark is written against (its JSON output and flags).
const OHA_VERSION: &str = "1.16.0";

/// What one load run counted.
pub struct Outcome {
    /// How long the run took.
    pub seconds: f64,
    /// Responses with a 2xx status.
    pub successes: u64,
    /// Every response and transport error, except requests cut off at the deadline.
    pub responses: u64,
    /// Non-2xx statuses and transport errors, with their counts.
    pub failures: BTreeMap<String, u64>,
}

/// The oha on `PATH` or in cargo's bin directory, or else the pinned release, built once.
pub fn ensure() -> Result<PathBuf> {
    let cargo_bin = cargo_home().join("bin/oha");
    for candidate in [PathBuf::from("oha"), cargo_bin.clone()] {
        if runs(&candidate) {
            return Ok(candidate);
        }
    }
    eprintln!(
        "No oha found: installing oha {OHA_VERSION} with cargo.\nThis is a one-time build of about five minutes."
    );
    let status = Command::new(cargo()).args(["install", "--locked", &format!("oha@{OHA_VERSION}")]).status()?;
    if !status.success() || !runs(&cargo_bin) {
        bail!("installing oha {OHA_VERSION} failed");
    }
    Ok(cargo_bin)
}

/// Sends `method url` (with `body` as JSON, if any) from `options.concurrency` connections for
/// `options.seconds`.
pub fn run(oha: &Path, options: &Options, method: &str, url: &str, body: Option<&str>) -> Result<Outcome> {
    let mut command = Command::new(oha);
    command.args(["--no-tui", "--output-format", "json", "-m", method]);
    command.args(["-z", &format!("{}s", options.seconds), "-c", &options.concurrency.to_string()]);
    if let Some(body) = body {
        command.args(["-d", body, "-H", "content-type: application/json"]);
    }
    let output = command.arg(url).output().context("running oha")?;
    if !output.status.success() {
        bail!("oha failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let summary: Value = serde_json::from_slice(&output.stdout).context("reading oha's JSON output")?;
    outcome(&summary).with_context(|| format!("unexpected oha output: {}", String::from_utf8_lossy(&output.stdout)))
}

fn outcome(summary: &Value) -> Option<Outcome> {
    let seconds = summary["summary"]["total"].as_f64()?;
    let (mut successes, mut responses, mut failures) = (0, 0, BTreeMap::new());
    for (status, count) in summary["statusCodeDistribution"].as_object()? {
        let count = count.as_u64()?;
        responses += count;
        if status.starts_with('2') {
            successes += count;
        } else {
            failures.insert(status.clone(), count);
        }
    }
    for (error, count) in summary["errorDistribution"].as_object()? {
        // Requests still in flight when the time is up; not the server's failure.
        if error != "aborted due to deadline" {
            responses += count.as_u64()?;
            failures.insert(error.clone(), count.as_u64()?);
        }
    }
    Some(Outcome { seconds, successes, responses, failures })
}

fn runs(oha: &Path) -> bool {
    Command::new(oha).arg("--version").output().is_ok_and(|output| output.status.success())
}

/// Where `cargo install` puts binaries (as in `tools`).
fn cargo_home() -> PathBuf {
    match std::env::var_os("CARGO_HOME") {
        Some(home) => home.into(),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo"),
    }
}

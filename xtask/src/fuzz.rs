//! `cargo xtask fuzz [--seconds N] [--target NAME] [--sanitizer NAME] [-- LIBFUZZER-OPTIONS]`:
//! runs each fuzz target of `fuzz/` with libFuzzer for N seconds (default 60), then prints one
//! table.
//!
//! libFuzzer needs nightly (`cargo +nightly fuzz`); the nightly toolchain and `cargo-fuzz` are
//! installed once when missing. Targets are built with optimizations and debug assertions
//! (so overflow is a crash), without a sanitizer by default: JSONStore has no unsafe code, and
//! AddressSanitizer would halve the rate on a small machine. But without it a stack overflow
//! kills the process before libFuzzer can save the input; `--sanitizer address` catches it.
//!
//! Each run starts from the target's committed seeds (`fuzz/corpus/NAME`, less the files
//! `fuzz/known-failures.txt` lists, so that a run looks for new bugs) and from what earlier
//! runs found (`target/fuzz/corpus/NAME`, where new inputs go, so the seeds stay small).
//! An input that fails is saved in `fuzz/artifacts/NAME/`.

use crate::root;
use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The cargo-fuzz release installed when none is.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// What one target's run printed at the end.
struct Outcome {
    target: String,
    /// libFuzzer's last status line: runs, coverage, features, corpus, exec/s.
    last: String,
    /// Whether it stopped on a failing input.
    failed: bool,
}

/// Runs the targets the arguments name (all by default).
pub fn run(args: &[String]) -> Result<()> {
    let (options, libfuzzer) = match args.iter().position(|arg| arg == "--") {
        Some(at) => (&args[..at], &args[at + 1..]),
        None => (args, &[][..]),
    };
    let mut seconds = 60u64;
    let mut sanitizer = "none".to_owned();
    let mut chosen = Vec::new();
    let mut options = options.iter();
    while let Some(option) = options.next() {
        match option.as_str() {
            "--seconds" => {
                seconds = options.next().and_then(|n| n.parse().ok()).context("--seconds takes a whole number")?;
            }
            "--target" => chosen.push(options.next().context("--target takes a target's name")?.clone()),
            "--sanitizer" => sanitizer = options.next().context("--sanitizer takes none or address")?.clone(),
            other => bail!(
                "unknown option {other:?}; fuzz takes --seconds N, --target NAME, --sanitizer NAME and -- LIBFUZZER-OPTIONS"
            ),
        }
    }
    let targets = targets()?;
    if let Some(unknown) = chosen.iter().find(|name| !targets.contains(name)) {
        bail!("there is no fuzz target {unknown:?}; the targets are {}", targets.join(", "));
    }
    let targets = if chosen.is_empty() { targets } else { chosen };
    nightly()?;
    cargo_fuzz()?;
    let mut outcomes = Vec::new();
    for target in &targets {
        outcomes.push(run_target(target, seconds, &sanitizer, libfuzzer)?);
    }
    println!("\n{:<10} {:<8} last status line of libFuzzer", "target", "result");
    for outcome in &outcomes {
        println!("{:<10} {:<8} {}", outcome.target, if outcome.failed { "FAILED" } else { "ok" }, outcome.last);
    }
    let failed: Vec<&str> = outcomes.iter().filter(|outcome| outcome.failed).map(|o| o.target.as_str()).collect();
    if !failed.is_empty() {
        bail!("{} found failing inputs: see fuzz/artifacts/", failed.join(", "));
    }
    Ok(())
}

/// The names of the targets: the files of `fuzz/fuzz_targets/`.
fn targets() -> Result<Vec<String>> {
    let dir = root().join("fuzz/fuzz_targets");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "rs") {
            names.push(path.file_stem().context("a file name")?.to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Runs one target for `seconds`, showing libFuzzer's output as it comes.
fn run_target(target: &str, seconds: u64, sanitizer: &str, libfuzzer: &[String]) -> Result<Outcome> {
    let corpus = prepare_corpus(target)?;
    eprintln!("Fuzzing {target} for {seconds} s, corpus in {}", corpus.display());
    let mut child = nightly_cargo()
        .current_dir(root())
        .args(["fuzz", "run", "--sanitizer", sanitizer, target])
        .arg(&corpus)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        // An input that runs this long is stuck: a failure too.
        .arg("-timeout=20")
        .arg("-print_final_stats=1")
        .args(libfuzzer)
        .stderr(Stdio::piped())
        .spawn()
        .context("running cargo fuzz")?;
    let mut last = String::new();
    let (mut killed, mut saved) = (false, false);
    for line in BufReader::new(child.stderr.take().context("the child's stderr")?).lines() {
        let line = line?;
        eprintln!("{line}");
        if line.starts_with('#') && line.contains(" cov: ") {
            last = line.split_whitespace().collect::<Vec<_>>().join(" ");
        }
        killed |= line.contains("exited with signal");
        saved |= line.contains("Test unit written to");
    }
    let status = child.wait()?;
    if killed && !saved {
        eprintln!(
            "{target} was killed before libFuzzer could save the input: a stack overflow, most likely; \
             run it again with --sanitizer address, which catches it"
        );
    }
    Ok(Outcome { target: target.to_owned(), last, failed: !status.success() })
}

/// Copies the target's seeds, less the known failures, into its working corpus, which keeps
/// what earlier runs found.
fn prepare_corpus(target: &str) -> Result<PathBuf> {
    let seeds = root().join("fuzz/corpus").join(target);
    let corpus = target_dir().join("fuzz/corpus").join(target);
    std::fs::create_dir_all(&corpus).with_context(|| format!("creating {}", corpus.display()))?;
    let known = known_failures()?;
    for entry in std::fs::read_dir(&seeds).with_context(|| format!("reading {}", seeds.display()))? {
        let path = entry?.path();
        let name = path.file_name().context("a file name")?.to_string_lossy().into_owned();
        if known.contains(&format!("{target}/{name}")) {
            let _ = std::fs::remove_file(corpus.join(&name));
            continue;
        }
        std::fs::copy(&path, corpus.join(&name)).with_context(|| format!("copying {}", path.display()))?;
    }
    Ok(corpus)
}

/// The corpus files `fuzz/known-failures.txt` lists, as `TARGET/FILE`.
fn known_failures() -> Result<Vec<String>> {
    let text = std::fs::read_to_string(root().join("fuzz/known-failures.txt"))?;
    Ok(text
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once(": ").map(|(file, _)| file.to_owned()))
        .collect())
}

/// Where cargo puts what it builds: `CARGO_TARGET_DIR` if set, else `target/`.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), |dir| root().join(dir))
}

/// `cargo` of the nightly toolchain, without the variables of the stable cargo running xtask,
/// which would otherwise build with stable.
fn nightly_cargo() -> Command {
    let mut command = Command::new("rustup");
    command.args(["run", "nightly", "cargo"]);
    for name in ["CARGO", "RUSTC", "RUSTDOC", "RUSTUP_TOOLCHAIN", "RUSTC_WRAPPER"] {
        command.env_remove(name);
    }
    command
}

/// Installs the nightly toolchain with rustup when it is missing.
fn nightly() -> Result<()> {
    let works =
        |command: &mut Command| command.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if works(nightly_cargo().arg("--version")) {
        return Ok(());
    }
    eprintln!("Installing the nightly toolchain with rustup (once): libFuzzer needs it.");
    let status = Command::new("rustup").args(["toolchain", "install", "nightly", "--profile", "minimal"]).status();
    if !status.is_ok_and(|status| status.success()) {
        bail!("`rustup toolchain install nightly` failed; cargo xtask fuzz needs rustup and a nightly toolchain");
    }
    Ok(())
}

/// Installs cargo-fuzz with cargo when `cargo fuzz` is missing.
fn cargo_fuzz() -> Result<()> {
    let found = nightly_cargo().args(["fuzz", "--version"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
    if found.is_ok_and(|status| status.success()) {
        return Ok(());
    }
    eprintln!("No cargo-fuzz found: installing cargo-fuzz {CARGO_FUZZ_VERSION} with cargo (once, a few minutes).");
    let status = Command::new(crate::cargo())
        .args(["install", "--locked", &format!("cargo-fuzz@{CARGO_FUZZ_VERSION}")])
        .status()?;
    if !status.success() {
        bail!("installing cargo-fuzz {CARGO_FUZZ_VERSION} failed");
    }
    Ok(())
}

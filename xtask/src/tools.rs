//! The tools the tasks need, installed once when missing.

use crate::cargo;
use anyhow::{Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The wasmtime release the project is tested with; newer ones need a newer Rust to build.
pub const WASMTIME_VERSION: &str = "48.0.8";

/// The oldest wasmtime major version whose `serve` works for JSONStore.
const WASMTIME_MAJOR_MIN: u32 = 48;

/// Adds the `wasm32-wasip2` target with rustup when it is missing.
pub fn wasm_target() -> Result<()> {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    match installed {
        Ok(output) if String::from_utf8_lossy(&output.stdout).lines().any(|line| line == "wasm32-wasip2") => Ok(()),
        Ok(_) => {
            eprintln!("Adding the wasm32-wasip2 target with rustup (once).");
            let status = Command::new("rustup").args(["target", "add", "wasm32-wasip2"]).status()?;
            if !status.success() {
                bail!("`rustup target add wasm32-wasip2` failed");
            }
            Ok(())
        }
        // Without rustup, trust the toolchain; cargo says clearly if the target is missing.
        Err(_) => Ok(()),
    }
}

/// A supported `wasmtime`: `$JSONSTORE_WASMTIME`, the one on `PATH`, the one in cargo's bin
/// directory, or else the pinned release, built once with `cargo install`.
pub fn wasmtime() -> Result<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(path) = std::env::var_os("JSONSTORE_WASMTIME") {
        candidates.push(path.into());
    }
    candidates.push("wasmtime".into());
    let cargo_bin = cargo_home().join("bin/wasmtime");
    candidates.push(cargo_bin.clone());
    for candidate in &candidates {
        if supported(candidate) {
            return Ok(candidate.clone());
        }
    }
    eprintln!(
        "No wasmtime {WASMTIME_MAJOR_MIN} or newer found: installing wasmtime-cli {WASMTIME_VERSION} with cargo.\n\
         This is a one-time build of about ten minutes."
    );
    let status =
        Command::new(cargo()).args(["install", "--locked", &format!("wasmtime-cli@{WASMTIME_VERSION}")]).status()?;
    if !status.success() || !supported(&cargo_bin) {
        bail!("installing wasmtime-cli {WASMTIME_VERSION} failed");
    }
    Ok(cargo_bin)
}

/// The command that serves `component` on `addr`, persisting in `data`.
pub fn serve_command(wasmtime: &Path, component: &Path, addr: &str, data: &Path) -> Command {
    let mut command = Command::new(wasmtime);
    command.args(["serve", "-Scli", "--addr", addr, "--dir"]);
    command.arg(format!("{}::/data", data.display()));
    for name in ["JSONSTORE_BODY_BYTES_MAX", "JSONSTORE_DEPTH_MAX"] {
        if std::env::var_os(name).is_some() {
            command.args(["--env", name]);
        }
    }
    command.arg(component);
    command
}

fn supported(wasmtime: &Path) -> bool {
    let Ok(output) = Command::new(wasmtime).arg("--version").output() else { return false };
    // "wasmtime 48.0.8 (...)"
    let text = String::from_utf8_lossy(&output.stdout);
    let major = text.split_whitespace().nth(1).and_then(|version| version.split('.').next()?.parse::<u32>().ok());
    output.status.success() && major.is_some_and(|major| major >= WASMTIME_MAJOR_MIN)
}

fn cargo_home() -> PathBuf {
    match std::env::var_os("CARGO_HOME") {
        Some(home) => home.into(),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo"),
    }
}

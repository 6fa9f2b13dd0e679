//! Project chores, run as `cargo xtask <command>`:
//!
//! - `build`: build the components and compose the one `wasmtime serve` runs.
//! - `serve [--addr HOST:PORT] [--data DIR] [--store file|redis://HOST:PORT]`: build and serve
//!   JSONStore, persisting in DIR, or in the Redis-protocol server at HOST:PORT.
//! - `test`: build, then run every test, including the end-to-end ones (the `e2e` features), which
//!   drive `wasmtime serve` and a Redis-protocol server, then a short soak; given arguments, only
//!   the `cargo test` with them.
//! - `bench [--seconds N] [--concurrency N]`: measure JSONStore against a hello-world baseline.
//! - `soak [--seconds N] [--connections N]`: a mixed workload against `wasmtime serve`, killed
//!   once, then against two nodes on one Redis-protocol server, checked for lost writes.
//! - `fuzz [--seconds N] [--target NAME] [--sanitizer NAME] [-- LIBFUZZER-OPTIONS]`: run the fuzz
//!   targets of `fuzz/` with libFuzzer, N seconds each.
//!
//! Tools that are missing (the `wasm32-wasip2` target, `wasmtime`, for the tests a
//! Redis-protocol server and Schemathesis, and for fuzzing nightly and `cargo-fuzz`) are
//! installed once, here.

mod bench;
mod build;
mod fuzz;
mod soak;
mod tools;

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    match command.as_str() {
        "build" => build::all().map(|_| ()),
        "serve" => serve(&rest),
        "test" => test(&rest),
        "bench" => bench::run(&rest),
        "soak" => soak::run(&rest),
        "fuzz" => fuzz::run(&rest),
        _ => {
            eprintln!(
                "usage: cargo xtask build | serve [--addr HOST:PORT] [--data DIR] [--store file|redis://HOST:PORT] | test [ARGS for cargo test] | bench [--seconds N] [--concurrency N] | soak [--seconds N] [--connections N] | fuzz [--seconds N] [--target NAME] [--sanitizer NAME] [-- LIBFUZZER-OPTIONS]"
            );
            bail!("unknown command {command:?}")
        }
    }
}

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_owned()
}

/// Cargo's target directory: `CARGO_TARGET_DIR` if set, else `target/`.
fn target_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    root().join(target)
}

/// Where cargo puts the release components.
fn wasm_out() -> PathBuf {
    target_dir().join("wasm32-wasip2/release")
}

fn serve(args: &[String]) -> Result<()> {
    let mut addr = "127.0.0.1:8080".to_owned();
    let mut data = None;
    let mut store = "file".to_owned();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().context("--addr takes HOST:PORT")?.clone(),
            "--data" => data = Some(PathBuf::from(args.next().context("--data takes a directory")?)),
            "--store" => store = args.next().context("--store takes file or redis://HOST:PORT")?.clone(),
            other => bail!(
                "unknown option {other:?}; serve takes --addr HOST:PORT, --data DIR and --store file|redis://HOST:PORT"
            ),
        }
    }
    let redis = store.starts_with("redis://");
    if !redis && store != "file" {
        bail!("--store takes file or redis://HOST:PORT, not {store:?}");
    }
    if redis && data.is_some() {
        bail!("--data is for --store file: with --store {store} the Redis-protocol server keeps the data");
    }
    let artifacts = build::all()?;
    let wasmtime = tools::wasmtime()?;
    let open = !tools::access_configured() && tools::is_loopback(&addr);
    let mut command = if redis {
        eprintln!("JSONStore keeps its data in the Redis-protocol server at {store}");
        tools::serve_redis_command(&wasmtime, &artifacts.composed_redis, &addr, &store)
    } else {
        let data = data.unwrap_or_else(|| root().join("data"));
        std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
        let data = data.canonicalize()?;
        eprintln!("JSONStore keeps its data in {}", data.display());
        tools::serve_command(&wasmtime, &artifacts.composed, &addr, &data)
    };
    if open {
        // Only this machine can reach a loopback address, so the store is open to it.
        tools::open_access(&mut command);
        eprintln!("JSONStore is open to anyone on this machine: it listens on {addr}, a loopback address");
    } else if !tools::access_configured() {
        eprintln!(
            "JSONStore is closed: {addr} is not a loopback address and no access is configured; \
             set JSONSTORE_WRITE_TOKEN (and JSONSTORE_READ_TOKEN), or JSONSTORE_ACCESS=open (README, Access)"
        );
    }
    let status = command.status()?;
    if !status.success() {
        bail!("wasmtime serve exited with {status}");
    }
    Ok(())
}

/// The features that turn on the tests needing the environment `test` sets up.
const E2E_FEATURES: &str = "jsonstore/e2e,jsonstore-kv-redis/e2e";

fn test(args: &[String]) -> Result<()> {
    let artifacts = build::all()?;
    let wasmtime = tools::wasmtime()?;
    let redis_server = tools::redis_server()?;
    let schemathesis = tools::schemathesis(&target_dir())?;
    let status = Command::new(cargo())
        .current_dir(root())
        .args(["test", "--workspace", "--features", E2E_FEATURES])
        .args(args)
        .env("JSONSTORE_WASMTIME", &wasmtime)
        .env("JSONSTORE_COMPONENT", &artifacts.composed)
        .env("JSONSTORE_COMPONENT_REDIS", &artifacts.composed_redis)
        .env("JSONSTORE_REDIS_SERVER", &redis_server)
        .env("JSONSTORE_SCHEMATHESIS", &schemathesis)
        .env("JSONSTORE_HANDLER", &artifacts.handler)
        .env("JSONSTORE_WASMTIME_OPTIONS", tools::TUNING.join(" "))
        .status()?;
    if !status.success() {
        bail!("cargo test failed");
    }
    if args.is_empty() {
        soak::soak(&soak::SHORT, &artifacts, &wasmtime, &redis_server)?;
    }
    Ok(())
}

/// The cargo that runs this xtask.
fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

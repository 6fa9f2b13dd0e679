//! Project chores, run as `cargo xtask <command>`:
//!
//! - `build`: build the components and compose the one `wasmtime serve` runs.
//! - `serve [--addr HOST:PORT] [--data DIR]`: build and serve JSONStore, persisting in DIR.
//! - `test`: build, then run every test, including the ones that drive `wasmtime serve`.
//!
//! Tools that are missing (the `wasm32-wasip2` target, `wasmtime`) are installed once, here.

mod build;
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
        _ => {
            eprintln!("usage: cargo xtask build | serve [--addr HOST:PORT] [--data DIR] | test [ARGS for cargo test]");
            bail!("unknown command {command:?}")
        }
    }
}

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_owned()
}

fn serve(args: &[String]) -> Result<()> {
    let mut addr = "127.0.0.1:8080".to_owned();
    let mut data = root().join("data");
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().context("--addr takes HOST:PORT")?.clone(),
            "--data" => data = PathBuf::from(args.next().context("--data takes a directory")?),
            other => bail!("unknown option {other:?}; serve takes --addr HOST:PORT and --data DIR"),
        }
    }
    let artifacts = build::all()?;
    let wasmtime = tools::wasmtime()?;
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let data = data.canonicalize()?;
    eprintln!("JSONStore keeps its data in {}", data.display());
    let status = tools::serve_command(&wasmtime, &artifacts.composed, &addr, &data).status()?;
    if !status.success() {
        bail!("wasmtime serve exited with {status}");
    }
    Ok(())
}

fn test(args: &[String]) -> Result<()> {
    let artifacts = build::all()?;
    let wasmtime = tools::wasmtime()?;
    let status = Command::new(cargo())
        .current_dir(root())
        .args(["test", "--workspace"])
        .args(args)
        .env("JSONSTORE_WASMTIME", &wasmtime)
        .env("JSONSTORE_COMPONENT", &artifacts.composed)
        .env("JSONSTORE_HANDLER", &artifacts.handler)
        .status()?;
    if !status.success() {
        bail!("cargo test failed");
    }
    Ok(())
}

/// The cargo that runs this xtask.
fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

//! Building the components, and composing the handler with the key-value providers.
//!
//! The handler (`jsonstore.wasm`) is what Spin and other hosts with a persistent
//! `wasi:keyvalue` run. `wasmtime serve` has none, so for it the handler's key-value imports
//! are plugged with the file-backed provider (`jsonstore_kv_fs.wasm`), like `wac plug`; and,
//! for several nodes sharing one Redis-protocol server, with `jsonstore_kv_redis.wasm`.
//! Both providers also serve the handler's `wasi:config` import, the version Spin serves, from
//! `JSONSTORE_*` environment variables.

use crate::{cargo, root, wasm_out};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Command;
use wac_graph::{CompositionGraph, EncodeOptions, types::Package};

/// The built components.
pub struct Artifacts {
    /// The handler alone, for hosts with their own key-value store.
    pub handler: PathBuf,
    /// The handler plugged with the file-backed key-value provider, for `wasmtime serve`.
    pub composed: PathBuf,
    /// The handler plugged with the Redis-protocol key-value provider, for `wasmtime serve` nodes
    /// that share one server.
    pub composed_redis: PathBuf,
}

/// Builds the components in release mode and composes them.
pub fn all() -> Result<Artifacts> {
    crate::tools::wasm_target()?;
    let status = Command::new(cargo())
        .current_dir(root())
        .args(["build", "--release", "--target", "wasm32-wasip2", "-p", "jsonstore", "-p", "jsonstore-kv-fs"])
        .args(["-p", "jsonstore-kv-redis"])
        .status()?;
    if !status.success() {
        bail!("building the components failed");
    }
    let out = wasm_out();
    let handler = out.join("jsonstore.wasm");
    let provider = out.join("jsonstore_kv_fs.wasm");
    let composed = out.join("jsonstore-wasmtime.wasm");
    compose(&handler, &provider, &composed)?;
    let composed_redis = out.join("jsonstore-wasmtime-redis.wasm");
    compose(&handler, &out.join("jsonstore_kv_redis.wasm"), &composed_redis)?;
    Ok(Artifacts { handler, composed, composed_redis })
}

fn compose(socket: &PathBuf, plug: &PathBuf, out: &PathBuf) -> Result<()> {
    let mut graph = CompositionGraph::new();
    let socket = Package::from_file("jsonstore:handler", None, socket, graph.types_mut())
        .with_context(|| format!("reading {}", socket.display()))?;
    let socket = graph.register_package(socket)?;
    let plug = Package::from_file("jsonstore:kv", None, plug, graph.types_mut())
        .with_context(|| format!("reading {}", plug.display()))?;
    let plug = graph.register_package(plug)?;
    wac_graph::plug(&mut graph, vec![plug], socket).context("plugging the key-value provider into the handler")?;
    let bytes = graph.encode(EncodeOptions::default())?;
    std::fs::write(out, bytes).with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

//! The tools the tasks need, installed once when missing.

use crate::cargo;
use anyhow::{Context, Result, bail};
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
    command.args(["serve", "-Scli", "--addr", addr]);
    tune(&mut command);
    command.arg("--dir");
    command.arg(format!("{}::/data", data.display()));
    forward_config(&mut command);
    command.arg(component);
    command
}

/// The command that serves `component` (the Redis composition) on `addr`, keeping the document
/// in the Redis-protocol server at `url` (`redis://HOST[:PORT]`).
///
/// `wasmtime serve` denies guests the network unless told: `-Sinherit-network` lets the component
/// open TCP connections (to any address: wasmtime has no per-address allow-list flag), and
/// `-Sallow-ip-name-lookup` lets it resolve a host name.
pub fn serve_redis_command(wasmtime: &Path, component: &Path, addr: &str, url: &str) -> Command {
    let mut command = Command::new(wasmtime);
    command.args(["serve", "-Scli", "-Sinherit-network", "-Sallow-ip-name-lookup", "--addr", addr]);
    tune(&mut command);
    command.args(["--env", &format!("JSONSTORE_REDIS_URL={url}")]);
    forward_config(&mut command);
    command.arg(component);
    command
}

/// Lets anyone read and write the served store (`access = "open"`): for a server on a loopback
/// address, and for the benchmark.
pub fn open_access(command: &mut Command) {
    command.args(["--env", "JSONSTORE_ACCESS=open"]);
}

/// Whether `addr` (`HOST:PORT`) is a loopback address, reachable from this machine only.
pub fn is_loopback(addr: &str) -> bool {
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host).trim_matches(['[', ']']);
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether the environment configures access (`JSONSTORE_ACCESS`, a token, `JSONSTORE_RULES` or a
/// `JSONSTORE_JWT_*` key), which is then forwarded as it is.
pub fn access_configured() -> bool {
    let names =
        ["JSONSTORE_ACCESS", "JSONSTORE_READ_TOKEN", "JSONSTORE_WRITE_TOKEN", "JSONSTORE_RULES", "JSONSTORE_JWT_"];
    std::env::vars_os().any(|(name, _)| name.to_str().is_some_and(|name| names.iter().any(|set| name.starts_with(set))))
}

/// How `wasmtime serve` is tuned for a fresh instance per request, the same for every component
/// (the benchmark's baseline too).
///
/// - The pooling allocator, with room for 2,000 requests in flight, keeping the first MiB and a
///   bit of each linear memory resident:
///   instances reuse memory slots, which are reset by copying rather than by unmapping pages,
///   saving the page faults and TLB shootdowns that otherwise cost more than the request.
///   (Rust components keep their 1 MiB stack at the bottom of memory, then data and heap.)
/// - No `RUST_BACKTRACE`: with it, wasmtime captures a backtrace for every error a guest gets
///   back, such as a file that does not exist.
fn tune(command: &mut Command) {
    command.args(TUNING);
    command.env_remove("RUST_BACKTRACE").env_remove("RUST_LIB_BACKTRACE");
}

/// The `wasmtime serve` options of [`tune`]; the end-to-end tests get them too (through
/// `$JSONSTORE_WASMTIME_OPTIONS`), so that they test what `cargo xtask serve` runs.
pub const TUNING: [&str; 16] = [
    "-O",
    "pooling-allocator=y",
    "-O",
    "pooling-memory-keep-resident=1179648",
    // Reset only the pages an instance touched (Linux 6.7+; elsewhere the first MiB is reset).
    "-O",
    "pooling-pagemap-scan=auto",
    "-O",
    "pooling-table-keep-resident=65536",
    // A request takes 6 core instances, 2 memories and 4 tables: the pool's default of 1,000
    // core instances ran out at about 160 requests in flight. These serve 2,000.
    "-O",
    "pooling-total-component-instances=2000",
    "-O",
    "pooling-total-core-instances=12000",
    "-O",
    "pooling-total-memories=4000",
    "-O",
    "pooling-total-tables=8000",
];

/// Passes the configuration variables set in the environment (`JSONSTORE_*`) on to the
/// component, whose provider serves them to the handler as `wasi:config`.
fn forward_config(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|name| name.starts_with("JSONSTORE_") && name != "JSONSTORE_REDIS_URL") {
            command.arg("--env").arg(name);
        }
    }
}

/// A Redis-protocol server binary for the tests: `$JSONSTORE_REDIS_SERVER`, `redis-server` or
/// `valkey-server` on `PATH`, or else Debian's `redis-server`, installed with apt-get when
/// running as root.
pub fn redis_server() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("JSONSTORE_REDIS_SERVER") {
        return Ok(path.into());
    }
    let found = || ["redis-server", "valkey-server"].into_iter().find_map(on_path);
    if let Some(path) = found() {
        return Ok(path);
    }
    if !is_root() {
        bail!(
            "the cluster tests need a Redis-protocol server: install one (`apt-get install redis-server`, \
             or Valkey), put it on PATH, or set JSONSTORE_REDIS_SERVER to its path"
        );
    }
    eprintln!("No redis-server or valkey-server found: installing Debian's redis-server with apt-get (once).");
    let install = || {
        let mut command = Command::new("apt-get");
        command.args(["install", "-y", "--no-install-recommends", "redis-server"]);
        command.env("DEBIAN_FRONTEND", "noninteractive").status()
    };
    if !install()?.success() {
        // A fresh machine may have no package lists yet.
        let updated = Command::new("apt-get").arg("update").status()?;
        if !updated.success() || !install()?.success() {
            bail!("`apt-get install -y redis-server` failed");
        }
    }
    found().context("redis-server was installed but is not on PATH")
}

/// The Schemathesis release the contract test (`tests/contract.rs`) runs.
pub const SCHEMATHESIS_VERSION: &str = "4.32.5";

/// Schemathesis, which checks the served component against `openapi.yaml`:
/// `$JSONSTORE_SCHEMATHESIS`, or else the pinned release in a virtual environment under
/// `target`, made with `python3 -m venv` and filled with pip once. On Debian, whose `python3`
/// makes no virtual environment without `python3-venv`, that package is installed with apt-get
/// when running as root.
pub fn schemathesis(target: &Path) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("JSONSTORE_SCHEMATHESIS") {
        return Ok(path.into());
    }
    let venv = target.join(format!("schemathesis-{SCHEMATHESIS_VERSION}"));
    let schemathesis = venv.join("bin/schemathesis");
    let pinned = || {
        let Ok(output) = Command::new(&schemathesis).arg("--version").output() else { return false };
        // "schemathesis, version 4.32.5"
        let text = String::from_utf8_lossy(&output.stdout);
        output.status.success() && text.split_whitespace().last() == Some(SCHEMATHESIS_VERSION)
    };
    if pinned() {
        return Ok(schemathesis);
    }
    eprintln!("Installing Schemathesis {SCHEMATHESIS_VERSION} with pip into {} (once).", venv.display());
    let make_venv = || Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv).status();
    let made = make_venv().context("running python3: the contract test needs Python 3 with venv and pip")?;
    if !made.success() {
        if !is_root() {
            bail!("`python3 -m venv` failed: install Python's venv module (Debian: `apt-get install python3-venv`)");
        }
        eprintln!("`python3 -m venv` failed: installing Debian's python3-venv with apt-get (once).");
        apt_get_install("python3-venv")?;
        if !make_venv()?.success() {
            bail!("`python3 -m venv {}` failed", venv.display());
        }
    }
    let status = Command::new(venv.join("bin/python"))
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
        .arg(format!("schemathesis=={SCHEMATHESIS_VERSION}"))
        .status()?;
    if !status.success() || !pinned() {
        bail!("installing Schemathesis {SCHEMATHESIS_VERSION} with pip failed");
    }
    Ok(schemathesis)
}

/// Installs Debian's `package` with apt-get, updating the package lists first if that is what
/// it takes (a fresh machine may have none), as [`redis_server`] does.
fn apt_get_install(package: &str) -> Result<()> {
    let install = || {
        let mut command = Command::new("apt-get");
        command.args(["install", "-y", "--no-install-recommends", package]);
        command.env("DEBIAN_FRONTEND", "noninteractive").status()
    };
    if !install()?.success() {
        let updated = Command::new("apt-get").arg("update").status()?;
        if !updated.success() || !install()?.success() {
            bail!("`apt-get install -y {package}` failed");
        }
    }
    Ok(())
}

/// The path of `name` in one of `PATH`'s directories, if it is there.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|output| output.stdout.trim_ascii() == b"0")
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

//! The processes JSONStore's end-to-end tests and its benchmark run against: a real
//! `wasmtime serve` ([`WasmtimeServe`]) and a Redis-protocol server ([`Redis`]).
//!
//! One kit for both, so that a test and the benchmark start a server the same way: `wasmtime
//! serve` on port 0, its bound address read from its log, and the log shown when something
//! fails. The callers build the `wasmtime serve` command (the tests and the benchmark pass
//! different options) and speak HTTP with their own clients; the kit only runs processes, with
//! no dependency beyond `tempfile`.
//!
//! The benchmark reports errors rather than panicking, so starting `wasmtime serve` returns an
//! [`std::io::Result`]. Redis serves only tests, so it panics, and its log is shown then.

mod redis;
mod serve;

pub use redis::Redis;
pub use serve::WasmtimeServe;

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The path named by environment variable `name`, which `cargo xtask test` sets; panics, saying
/// how to run the tests, when it is not set.
pub fn required(name: &str) -> PathBuf {
    match std::env::var_os(name) {
        Some(path) => PathBuf::from(path),
        None => panic!("{name} is not set: run the end-to-end tests with `cargo xtask test`"),
    }
}

/// Waits until `condition` holds, for at most `seconds`; says whether it held.
pub fn eventually(seconds: u64, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A loopback port that nothing listened on a moment ago.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    listener.local_addr().expect("a bound address").port()
}

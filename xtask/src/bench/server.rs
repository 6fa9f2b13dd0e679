//! One `wasmtime serve` per scenario, on a free loopback port and a fresh data directory.
//!
//! It is started with the same command as `cargo xtask serve`, on port 0, by
//! `jsonstore-testkit`, which starts the end-to-end tests' servers too and reads the bound
//! address from the log.

use crate::tools;
use anyhow::{Context, Result, bail};
use jsonstore_testkit::WasmtimeServe;
use std::path::Path;

/// A running `wasmtime serve`, stopped when dropped, and its data directory, removed then.
pub struct Server {
    process: WasmtimeServe,
    agent: ureq::Agent,
    _data: tempfile::TempDir,
}

impl Server {
    /// Serves `component` with `wasmtime`, keeping its data in a new temporary directory, made
    /// in `parent` if given.
    pub fn start(wasmtime: &Path, component: &Path, parent: Option<&Path>) -> Result<Server> {
        let data = match parent {
            Some(parent) => tempfile::tempdir_in(parent),
            None => tempfile::tempdir(),
        }
        .context("creating a data directory")?;
        let mut command = tools::serve_command(wasmtime, component, "127.0.0.1:0", data.path());
        tools::open_access(&mut command);
        let process = WasmtimeServe::start(command)?;
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        Ok(Server { process, agent, _data: data })
    }

    /// The base URL, like `http://127.0.0.1:43121`.
    pub fn url(&self) -> &str {
        self.process.url()
    }

    /// Sends one request and returns the status and the body; `body`, when given, is sent as JSON.
    pub fn send(&self, method: &str, path: &str, body: Option<&[u8]>) -> Result<(u16, Vec<u8>)> {
        self.send_with(method, path, body, &[])
    }

    /// [`Server::send`] with extra request headers.
    pub fn send_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        headers: &[(&str, &str)],
    ) -> Result<(u16, Vec<u8>)> {
        let mut request = ureq::http::Request::builder().method(method).uri(format!("{}{path}", self.url()));
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(body.unwrap_or_default())?;
        let mut response =
            self.agent.run(request).with_context(|| format!("{method} {path} failed; server log:\n{}", self.log()))?;
        let body = response.body_mut().with_config().limit(u64::MAX).read_to_vec()?;
        Ok((response.status().as_u16(), body))
    }

    /// Sends one request and fails unless the answer is a success.
    pub fn expect_success(&self, method: &str, path: &str, body: Option<&[u8]>) -> Result<()> {
        let (status, answer) = self.send(method, path, body)?;
        if !(200..300).contains(&status) {
            let answer = String::from_utf8_lossy(&answer[..answer.len().min(500)]).into_owned();
            bail!("{method} {path} answered {status}: {answer}");
        }
        Ok(())
    }

    /// Forgets the server's peak memory so far, so that [`Server::peak_memory_bytes`] tells
    /// about what follows. Best effort: it needs Linux's `/proc/PID/clear_refs`.
    pub fn reset_peak_memory(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.process.id()), "5");
    }

    /// The most resident memory the server has used since it started or since
    /// [`Server::reset_peak_memory`] (`VmHWM`), where `/proc` tells it.
    pub fn peak_memory_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.process.id())).ok()?;
        let line = status.lines().find_map(|line| line.strip_prefix("VmHWM:"))?;
        let kibibytes: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
        Some(kibibytes * 1024)
    }

    fn log(&self) -> String {
        self.process.log()
    }
}

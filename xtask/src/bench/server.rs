//! One `wasmtime serve` per scenario, on a free loopback port and a fresh data directory.
//!
//! It is started with the same command as `cargo xtask serve`, on port 0; the bound address is
//! read from its log, like the end-to-end tests do.

use crate::tools;
use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// A running `wasmtime serve`, stopped when dropped.
pub struct Server {
    child: Child,
    /// The base URL, like `http://127.0.0.1:43121`.
    pub url: String,
    log: Arc<Mutex<String>>,
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
        let mut child = tools::serve_command(wasmtime, component, "127.0.0.1:0", data.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting wasmtime serve")?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (sender, receiver) = mpsc::channel();
        let log_writer = Arc::clone(&log);
        // Keeps draining the log after the address is known, so that wasmtime never blocks on it.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("http://") {
                    let _ = sender.send(line[at..].trim_end_matches('/').to_owned());
                }
                let mut log = log_writer.lock().expect("the log lock is never poisoned");
                log.push_str(&line);
                log.push('\n');
            }
        });
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut server = Server { child, url: String::new(), log, agent, _data: data };
        match receiver.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => server.url = url,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                bail!("wasmtime serve printed no address in 60 s; its log:\n{}", server.log())
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = server.child.wait()?;
                bail!("wasmtime serve exited ({status}) without serving; its log:\n{}", server.log())
            }
        }
        Ok(server)
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
        let mut request = ureq::http::Request::builder().method(method).uri(format!("{}{path}", self.url));
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
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5");
    }

    /// The most resident memory the server has used since it started or since
    /// [`Server::reset_peak_memory`] (`VmHWM`), where `/proc` tells it.
    pub fn peak_memory_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find_map(|line| line.strip_prefix("VmHWM:"))?;
        let kibibytes: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
        Some(kibibytes * 1024)
    }

    fn log(&self) -> String {
        self.log.lock().expect("the log lock is never poisoned").clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

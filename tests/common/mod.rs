//! A real `wasmtime serve` running the built component, and an HTTP client for it.
//!
//! `cargo xtask test` builds the component and sets `JSONSTORE_COMPONENT` and
//! `JSONSTORE_WASMTIME`; without them these tests fail and say how to run them.

#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The path named by environment variable `name`, which `cargo xtask test` sets.
pub fn required(name: &str) -> PathBuf {
    match std::env::var_os(name) {
        Some(path) => PathBuf::from(path),
        None => panic!("{name} is not set: run the integration tests with `cargo xtask test`"),
    }
}

/// A `wasmtime serve` process serving the composed component on a free loopback port.
pub struct Server {
    child: Mutex<Child>,
    /// The base URL, like `http://127.0.0.1:43121`.
    pub url: String,
    log: Arc<Mutex<String>>,
    agent: ureq::Agent,
}

impl Server {
    /// Starts a server that keeps its data in `data`.
    pub fn start(data: &Path) -> Server {
        Server::start_with(data, &[])
    }

    /// Starts a server with extra `--env NAME=VALUE` settings.
    pub fn start_with(data: &Path, env: &[(&str, &str)]) -> Server {
        let mut args = vec!["--dir".to_owned(), format!("{}::/data", data.display())];
        for (name, value) in env {
            args.extend(["--env".to_owned(), format!("{name}={value}")]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Server::start_component(&required("JSONSTORE_COMPONENT"), &args)
    }

    /// What the server has written to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends a request; `body` is sent when not empty, as JSON unless a content type is given.
    pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut builder = ureq::http::Request::builder().method(method).uri(format!("{}{path}", self.url));
        let has_content_type = headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
        if !body.is_empty() && !has_content_type {
            builder = builder.header("content-type", "application/json");
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(body.as_bytes().to_vec()).expect("a valid request");
        let mut response = match self.agent.run(request) {
            Ok(response) => response,
            Err(error) => panic!("{method} {path} failed: {error}\nserver log:\n{}", self.log()),
        };
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or_default().to_owned()))
            .collect();
        let body = response.body_mut().with_config().limit(u64::MAX).read_to_vec().unwrap_or_default();
        Reply { status: response.status().as_u16(), headers, body }
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Reply {
        self.send("GET", path, &[], "")
    }

    /// `PUT path` with a JSON body.
    pub fn put(&self, path: &str, body: &str) -> Reply {
        self.send("PUT", path, &[], body)
    }

    /// Sends raw bytes over a fresh connection and returns the status and body, for requests
    /// an HTTP client library refuses to make.
    pub fn raw(&self, request: &str) -> (u16, String) {
        let address = self.url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).expect("connecting");
        stream.write_all(request.as_bytes()).expect("writing");
        let mut text = String::new();
        stream.read_to_string(&mut text).expect("reading");
        let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
        (status, body)
    }

    /// Stops the server at once (SIGKILL), the way a crash would.
    pub fn crash(&self) {
        let mut child = self.child.lock().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.crash();
        if std::thread::panicking() {
            eprintln!("wasmtime serve log:\n{}", self.log());
        }
    }
}

/// A response.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("body is not JSON ({error}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts the status, showing the body when it is not the expected one.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "body: {}", String::from_utf8_lossy(&self.body));
        self
    }

    /// Asserts that this is a problem+json response with `status`, and returns its body.
    #[track_caller]
    pub fn problem(&self, status: u16) -> Value {
        self.expect(status);
        assert_eq!(self.header("content-type"), Some("application/problem+json"));
        let problem = self.json();
        assert_eq!(problem["status"], status);
        for member in ["type", "title", "detail"] {
            assert!(problem[member].is_string(), "problem without {member}: {problem}");
        }
        problem
    }
}

/// A fresh data directory and a server on it.
pub fn fresh() -> (tempfile::TempDir, Server) {
    let data = tempfile::tempdir().expect("a temporary directory");
    let server = Server::start(data.path());
    (data, server)
}

/// Waits until `condition` holds, for at most `seconds`.
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

impl Server {
    /// Starts a server running `component` with extra `wasmtime serve` arguments (`-S` flags,
    /// `--env NAME=VALUE`), which come before the component.
    pub fn start_component(component: &Path, args: &[&str]) -> Server {
        let mut command = Command::new(required("JSONSTORE_WASMTIME"));
        command.args(["serve", "-Scli", "--addr", "127.0.0.1:0"]);
        // The tuning `cargo xtask serve` uses (see xtask's `tools::TUNING`).
        command.args(std::env::var("JSONSTORE_WASMTIME_OPTIONS").unwrap_or_default().split_whitespace());
        command.env_remove("RUST_BACKTRACE").env_remove("RUST_LIB_BACKTRACE");
        command.args(args).arg(component);
        let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("starting wasmtime serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (sender, receiver) = std::sync::mpsc::channel();
        let log_writer = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("http://") {
                    let _ = sender.send(line[at..].trim_end_matches('/').to_owned());
                }
                let mut log = log_writer.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let Ok(url) = receiver.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            panic!("wasmtime serve did not start:\n{}", log.lock().unwrap());
        };
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        Server { child: Mutex::new(child), url, log, agent }
    }
}

/// A Redis-protocol server (`$JSONSTORE_REDIS_SERVER`, which `cargo xtask test` sets) of its own,
/// listening on a free loopback port only, and persisting to an append-only file in a temporary
/// directory that is synced before each write is acknowledged (`appendfsync always`).
pub struct Redis {
    child: Mutex<Option<Child>>,
    /// The port it listens on, the same across restarts.
    pub port: u16,
    /// Its data directory, which also holds its log, `redis.log`.
    pub dir: tempfile::TempDir,
}

impl Redis {
    /// Starts a server on a free port and waits until it answers.
    pub fn start() -> Redis {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let redis = Redis { child: Mutex::new(None), port: free_port(), dir };
        redis.restart();
        redis
    }

    /// The URL the key-value provider takes, `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on the same port and directory, and waits until it has loaded
    /// its data and answers `PING`.
    pub fn restart(&self) {
        let mut child = self.child.lock().unwrap();
        assert!(child.is_none(), "the Redis server is already running");
        let port = self.port.to_string();
        let dir = self.dir.path().to_str().expect("a UTF-8 temporary directory");
        let log = format!("{dir}/redis.log");
        let spawned = Command::new(required("JSONSTORE_REDIS_SERVER"))
            .args(["--port", &port, "--bind", "127.0.0.1", "--protected-mode", "yes", "--dir", dir])
            .args(["--appendonly", "yes", "--appendfsync", "always", "--save", "", "--logfile", &log])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the Redis server");
        *child = Some(spawned);
        drop(child);
        let ready = eventually(30, || self.command(&["PING"]).is_ok_and(|reply| reply == "+PONG\r\n"));
        assert!(ready, "the Redis server did not start:\n{}", self.log());
    }

    /// Stops the server with `SHUTDOWN` and waits for it to exit.
    pub fn stop(&self) {
        let _ = self.command(&["SHUTDOWN"]);
        let mut child = self.child.lock().unwrap();
        let mut process = child.take().expect("the Redis server is running");
        let exited = eventually(30, || process.try_wait().is_ok_and(|status| status.is_some()));
        if !exited {
            let _ = process.kill();
            let _ = process.wait();
            panic!("the Redis server did not shut down:\n{}", self.log());
        }
    }

    /// Sends one command and returns the raw reply, as far as one read gets it.
    pub fn command(&self, args: &[&str]) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut command = format!("*{}\r\n", args.len());
        for arg in args {
            command.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(command.as_bytes())?;
        let mut reply = vec![0; 64 * 1024];
        let read = stream.read(&mut reply)?;
        Ok(String::from_utf8_lossy(&reply[..read]).into_owned())
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("Redis server log:\n{}", self.log());
        }
    }
}

/// A loopback port that nothing listened on a moment ago.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    listener.local_addr().expect("a bound address").port()
}

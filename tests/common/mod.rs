//! A real `wasmtime serve` running the built component, and an HTTP client for it.
//!
//! The processes are started by `jsonstore-testkit`, which the benchmark shares; what is here
//! is the tests' side: panicking on failure, and requests that return a [`Reply`] to assert on.
//! The tests that use it are behind the `e2e` feature: `cargo xtask test` turns it on, builds the
//! components and sets `JSONSTORE_COMPONENT`, `JSONSTORE_WASMTIME` and the rest; with the feature
//! but without them these tests fail and say how to run them.

#![allow(dead_code)]

use jsonstore_testkit::{WasmtimeServe, required};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

/// A `wasmtime serve` process serving the composed component on a free loopback port; its log
/// is printed if a test panics while it runs.
pub struct Server {
    process: WasmtimeServe,
    /// The base URL, like `http://127.0.0.1:43121`.
    pub url: String,
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

    /// Starts a server running `component` with extra `wasmtime serve` arguments (`-S` flags,
    /// `--env NAME=VALUE`), which come before the component.
    pub fn start_component(component: &Path, args: &[&str]) -> Server {
        let mut command = Command::new(required("JSONSTORE_WASMTIME"));
        command.args(["serve", "-Scli", "--addr", "127.0.0.1:0"]);
        // The tuning `cargo xtask serve` uses (see xtask's `tools::TUNING`).
        command.args(std::env::var("JSONSTORE_WASMTIME_OPTIONS").unwrap_or_default().split_whitespace());
        command.env_remove("RUST_BACKTRACE").env_remove("RUST_LIB_BACKTRACE");
        // Open unless the test configures access itself.
        let configures_access = args.iter().any(|arg| {
            ["JSONSTORE_ACCESS", "JSONSTORE_READ_TOKEN", "JSONSTORE_WRITE_TOKEN", "JSONSTORE_RULES", "JSONSTORE_JWT_"]
                .iter()
                .any(|name| arg.starts_with(name))
        });
        if !configures_access {
            command.args(["--env", "JSONSTORE_ACCESS=open"]);
        }
        command.args(args).arg(component);
        let process = WasmtimeServe::start(command).unwrap_or_else(|error| panic!("{error}"));
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        Server { url: process.url().to_owned(), process, agent }
    }

    /// What the server has written to stderr so far.
    pub fn log(&self) -> String {
        self.process.log()
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
        self.process.kill();
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

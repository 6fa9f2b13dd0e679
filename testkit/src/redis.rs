//! A Redis-protocol server of a test's own.
//!
//! Each test starts its own server on a free loopback port, with its data and its log in a
//! temporary directory, so that tests running at once never share a store.

use crate::{eventually, free_port, required};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// A Redis-protocol server (`$JSONSTORE_REDIS_SERVER`, which `cargo xtask test` sets, unless
/// another is given) listening on a free loopback port only; killed when dropped, and its log
/// printed then if the thread is panicking.
pub struct Redis {
    child: Mutex<Option<Child>>,
    /// The port it listens on, the same across restarts.
    pub port: u16,
    dir: tempfile::TempDir,
    durable: bool,
    program: PathBuf,
}

impl Redis {
    /// Starts a server that persists to an append-only file, synced before each write is
    /// acknowledged (`appendfsync always`), so that its data outlives a [`Redis::restart`].
    pub fn durable() -> Redis {
        Redis::start(required("JSONSTORE_REDIS_SERVER"), true)
    }

    /// [`Redis::durable`], running `program` rather than `$JSONSTORE_REDIS_SERVER`: for xtask,
    /// which finds the server itself.
    pub fn durable_from(program: &Path) -> Redis {
        Redis::start(program.to_owned(), true)
    }

    /// Starts a server that keeps its data in memory only.
    pub fn in_memory() -> Redis {
        Redis::start(required("JSONSTORE_REDIS_SERVER"), false)
    }

    fn start(program: PathBuf, durable: bool) -> Redis {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let redis = Redis { child: Mutex::new(None), port: free_port(), dir, durable, program };
        redis.restart();
        redis
    }

    /// Its address, `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The URL the key-value provider takes, `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://{}", self.address())
    }

    /// Starts the server (again) on the same port and directory, and waits until it has loaded
    /// its data and answers `PING`.
    pub fn restart(&self) {
        let mut child = self.child.lock().unwrap();
        assert!(child.is_none(), "the Redis server is already running");
        let port = self.port.to_string();
        let dir = self.dir.path().to_str().expect("a UTF-8 temporary directory");
        let log = format!("{dir}/redis.log");
        let persistence: &[&str] =
            if self.durable { &["--appendonly", "yes", "--appendfsync", "always"] } else { &["--appendonly", "no"] };
        let spawned = Command::new(&self.program)
            .args(["--port", &port, "--bind", "127.0.0.1", "--protected-mode", "yes", "--dir", dir])
            .args(persistence)
            .args(["--save", "", "--logfile", &log])
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
    pub fn command(&self, args: &[&str]) -> io::Result<String> {
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

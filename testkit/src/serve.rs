//! A `wasmtime serve` process, from start to kill.
//!
//! The server is told to listen on port 0, so that servers never compete for a port, and the
//! address it bound is read from its log, as wasmtime's own tests do.

use std::io::{self, BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// How long `wasmtime serve` may take to print its address: it compiles the component first,
/// which takes a while on a busy machine.
const START_SECONDS: u64 = 60;

/// A running `wasmtime serve`, killed when dropped; its log is printed then if the thread is
/// panicking, so that a failed test shows what the server said.
pub struct WasmtimeServe {
    child: Mutex<Child>,
    url: String,
    log: Arc<Mutex<String>>,
}

impl WasmtimeServe {
    /// Runs `command`, a `wasmtime serve` listening on `127.0.0.1:0`, and waits until it prints
    /// the address it serves; the error holds its log when it does not.
    pub fn start(mut command: Command) -> io::Result<WasmtimeServe> {
        let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().map_err(|error| {
            io::Error::new(error.kind(), format!("starting {}: {error}", command.get_program().display()))
        })?;
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
        let mut server = WasmtimeServe { child: Mutex::new(child), url: String::new(), log };
        match receiver.recv_timeout(Duration::from_secs(START_SECONDS)) {
            Ok(url) => server.url = url,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                server.kill();
                let message =
                    format!("wasmtime serve printed no address in {START_SECONDS} s; its log:\n{}", server.log());
                return Err(io::Error::new(io::ErrorKind::TimedOut, message));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = server.child.get_mut().expect("the child lock is never poisoned").wait()?;
                let message = format!("wasmtime serve exited ({status}) without serving; its log:\n{}", server.log());
                return Err(io::Error::other(message));
            }
        }
        Ok(server)
    }

    /// The base URL, like `http://127.0.0.1:43121`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// What the server has written to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("the log lock is never poisoned").clone()
    }

    /// The server's process id.
    pub fn id(&self) -> u32 {
        self.child.lock().expect("the child lock is never poisoned").id()
    }

    /// Stops the server at once (SIGKILL), the way a crash would, and waits for it to exit.
    pub fn kill(&self) {
        let mut child = self.child.lock().expect("the child lock is never poisoned");
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for WasmtimeServe {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("wasmtime serve log:\n{}", self.log());
        }
    }
}

//! The key-value store on a Redis-protocol server (Redis, Valkey): key layout, scripts, replies.
//!
//! Several `wasmtime serve` nodes share one server, and each request runs in a fresh instance
//! with its own connection, so all state lives in the server and every write is one atomic
//! command or script.
//!
//! # Layout
//!
//! ```text
//! jsonstore:<bucket>          the bucket's version counter (INCR); never deleted
//! jsonstore:<bucket>:<key>    one key: a hash {d: value, v: version}
//! ```
//!
//! A bucket identifier matches `[A-Za-z0-9_-]{1,64}`, so it holds no `:` and no glob character:
//! the prefix ends at the second `:`, and `SCAN MATCH jsonstore:<bucket>:*` lists exactly the
//! bucket's keys. A key may be any string.
//!
//! # Compare-and-swap
//!
//! Every write stores the value with a version drawn from the bucket's counter, in one Lua
//! script, so a version is never reused, not even after a delete removes the hash. A CAS handle
//! reads version and value with one `HMGET`; `swap` runs [`SWAP`], which writes only if the
//! version is still the one read, and otherwise returns the latest version and value for the
//! retry. Scripts run atomically on the server, and the check needs nothing from the connection
//! that read: any number of handles, on any connections and nodes, can be in flight at once.
//! `WATCH`/`MULTI`/`EXEC` was the alternative, but a watch belongs to a connection and `EXEC`
//! drops them all, so two handles on one connection would interfere, and a retry would cost
//! another round trip. Comparing versions, not values, keeps the old value off the wire.
//! `SET … NX` alone was not enough: it only guards creation.
//! Scripts are sent with `EVALSHA`, and with `EVAL` when the server does not know them yet.
//!
//! # Durability
//!
//! A write is acknowledged when the server has applied it, so it is as durable as the server's
//! settings make it: with `appendonly yes` and `appendfsync always` it is on disk first; with
//! Redis's default `everysec`, a crash of the server loses up to a second of writes.
//! A script touches a key and its bucket's counter, which Redis Cluster would place in different
//! slots: the provider needs one server (with replicas, if any), not a cluster.

use crate::resp::{self, Reply};
use std::fmt;
use std::io::{self, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Where the server is unless `JSONSTORE_REDIS_URL` says otherwise.
pub const URL_DEFAULT: &str = "redis://127.0.0.1:6379";

/// The port of `redis://HOST` URLs.
pub const PORT_DEFAULT: u16 = 6379;

/// How long a read or write on the connection may wait before the operation fails.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A script and its SHA-1, the name `EVALSHA` knows it by.
#[derive(Debug)]
pub struct Script {
    /// The Lua source.
    pub source: &'static str,
    /// The lowercase hex SHA-1 of `source`.
    pub sha1: &'static str,
}

/// Sets `d` to `ARGV[1]` under a new version. KEYS: the key's hash, the bucket's counter.
pub const SET: Script = Script {
    source: "redis.call('HSET', KEYS[1], 'd', ARGV[1], 'v', redis.call('INCR', KEYS[2]))\nreturn 1\n",
    sha1: "eb677ac43dbf89616c12aa1499d32f5b90b2617e",
};

/// Sets `d` to `ARGV[2]` under a new version if the version is still `ARGV[1]` ("0": absent) and
/// returns 1; otherwise returns the current `{v, d}`. KEYS: the key's hash, the bucket's counter.
pub const SWAP: Script = Script {
    source: "local version = redis.call('HGET', KEYS[1], 'v') or '0'\n\
             if version ~= ARGV[1] then\n  return redis.call('HMGET', KEYS[1], 'v', 'd')\nend\n\
             redis.call('HSET', KEYS[1], 'd', ARGV[2], 'v', redis.call('INCR', KEYS[2]))\nreturn 1\n",
    sha1: "258fde84a0a3470f0ca287d6abc570bc3eb2f2c5",
};

/// Adds `ARGV[1]` to the integer `d` (0 if absent) under a new version and returns the sum.
/// KEYS: the key's hash, the bucket's counter.
pub const INCREMENT: Script = Script {
    source: "local sum = redis.call('HINCRBY', KEYS[1], 'd', ARGV[1])\n\
             redis.call('HSET', KEYS[1], 'v', redis.call('INCR', KEYS[2]))\nreturn sum\n",
    sha1: "4e2c13da41b3c7a66137e8a4be637ef8299c19bf",
};

/// How many keys `SCAN` looks at per page.
const SCAN_COUNT: &str = "1000";

/// The version of a key that has none.
const VERSION_ABSENT: &[u8] = b"0";

/// A connection to the server: a stream and the address it leads to, for messages.
pub struct Connection<S> {
    stream: BufReader<S>,
    address: String,
}

/// One bucket: a key prefix and a version counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bucket {
    prefix: String,
    counter: String,
}

/// A compare-and-swap in progress: the version of a key it read and that version's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cas {
    key: String,
    version: Vec<u8>,
    value: Option<Vec<u8>>,
}

/// The outcome of [`Bucket::swap`].
pub type Swap = jsonstore_provider_common::Swap<Cas>;

/// Why an operation failed.
#[derive(Debug)]
pub enum Error {
    /// The bucket identifier does not match `[A-Za-z0-9_-]{1,64}`.
    NoSuchStore,
    /// The server URL is not `redis://HOST[:PORT]`.
    Url {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The server could not be reached.
    Connect {
        /// The `HOST:PORT` tried.
        address: String,
        /// What the network said.
        source: io::Error,
    },
    /// The connection broke, timed out, or carried something that is not RESP2; it is unusable.
    Connection {
        /// The operation: `get`, `set`, `delete`, `exists`, `list-keys`, `cas`, `swap` or `increment`.
        op: &'static str,
        /// The `HOST:PORT` of the server.
        address: String,
        /// What went wrong.
        source: io::Error,
    },
    /// The server answered with an error, or with a reply this crate does not expect.
    Reply {
        /// The operation, as for [`Error::Connection`].
        op: &'static str,
        /// The key it was working on, if any.
        key: Option<String>,
        /// The server's error, or a description of the reply.
        message: String,
    },
}

/// Returns the `HOST:PORT` that `url` (`redis://HOST[:PORT]`) names.
pub fn address(url: &str) -> Result<String, Error> {
    let refuse = |reason| Error::Url { url: url.to_owned(), reason };
    let authority = url.strip_prefix("redis://").ok_or_else(|| refuse("it does not start with redis://"))?;
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    if authority.contains(['/', '@', '?', '#']) {
        return Err(refuse("only redis://HOST[:PORT] is supported: no user, password, database or options"));
    }
    // An IPv6 host is in brackets, so a port follows the last `:` after the last `]`.
    let host_end = authority.rfind(']').map_or(0, |at| at + 1);
    let (host, port) = match authority[host_end..].rfind(':') {
        Some(at) => (&authority[..host_end + at], &authority[host_end + at + 1..]),
        None => (authority, ""),
    };
    if host.is_empty() || (host.contains(':') && !host.starts_with('[')) {
        return Err(refuse("it names no host, or an IPv6 host outside brackets"));
    }
    let port = match port {
        "" => PORT_DEFAULT,
        port => port.parse().ok().filter(|&port| port != 0).ok_or_else(|| refuse("its port is not 1-65535"))?,
    };
    Ok(format!("{host}:{port}"))
}

impl Connection<TcpStream> {
    /// Connects to `address` (`HOST:PORT`) over TCP.
    pub fn open(address: &str) -> Result<Self, Error> {
        let stream =
            TcpStream::connect(address).map_err(|source| Error::Connect { address: address.to_owned(), source })?;
        // Best effort: not every host supports these options, and the defaults work.
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(TIMEOUT));
        let _ = stream.set_write_timeout(Some(TIMEOUT));
        Ok(Connection::new(stream, address))
    }
}

impl<S: Read + Write> Connection<S> {
    /// A connection over `stream`, which leads to `address`.
    pub fn new(stream: S, address: &str) -> Self {
        Connection { stream: BufReader::new(stream), address: address.to_owned() }
    }

    /// The `HOST:PORT` this connection leads to.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Sends one command (`args`, the name first) and reads its reply.
    pub fn call(&mut self, args: &[&[u8]]) -> io::Result<Reply> {
        let mut command = Vec::new();
        resp::encode(args, &mut command);
        let stream = self.stream.get_mut();
        stream.write_all(&command).and_then(|()| stream.flush()).map_err(timed_out)?;
        resp::read(&mut self.stream).map_err(timed_out)
    }

    /// Runs `script` with `EVALSHA`, or with `EVAL` if the server does not have it cached.
    pub fn eval(&mut self, script: &Script, keys: &[&[u8]], args: &[&[u8]]) -> io::Result<Reply> {
        let key_count = keys.len().to_string();
        let mut command: Vec<&[u8]> = vec![b"EVALSHA", script.sha1.as_bytes(), key_count.as_bytes()];
        command.extend_from_slice(keys);
        command.extend_from_slice(args);
        match self.call(&command)? {
            Reply::Error(message) if message.starts_with("NOSCRIPT") => {
                command[0] = b"EVAL";
                command[1] = script.source.as_bytes();
                self.call(&command)
            }
            reply => Ok(reply),
        }
    }
}

impl Bucket {
    /// The bucket `identifier`, if it matches `[A-Za-z0-9_-]{1,64}`. Opening touches no server.
    pub fn open(identifier: &str) -> Result<Bucket, Error> {
        if !jsonstore_provider_common::is_bucket_identifier(identifier) {
            return Err(Error::NoSuchStore);
        }
        Ok(Bucket { prefix: format!("jsonstore:{identifier}:"), counter: format!("jsonstore:{identifier}") })
    }

    /// The server key that holds `key`.
    pub fn server_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The key held by the server key `name`, or `None` if `name` is not in this bucket or
    /// is not UTF-8.
    pub fn key_of(&self, name: &[u8]) -> Option<String> {
        let key = name.strip_prefix(self.prefix.as_bytes())?;
        String::from_utf8(key.to_vec()).ok()
    }

    /// Returns the value of `key`, or `None` if it has none.
    pub fn get<S: Read + Write>(&self, connection: &mut Connection<S>, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let name = self.server_key(key);
        match call(connection, "get", Some(key), &[b"HGET", name.as_bytes(), b"d"])? {
            Reply::Bulk(value) => Ok(value),
            other => Err(unexpected("get", Some(key), &other)),
        }
    }

    /// Makes `value` the value of `key`, whatever it was.
    pub fn set<S: Read + Write>(&self, connection: &mut Connection<S>, key: &str, value: &[u8]) -> Result<(), Error> {
        let name = self.server_key(key);
        let reply = eval(connection, "set", Some(key), &SET, &[name.as_bytes(), self.counter.as_bytes()], &[value])?;
        match reply {
            Reply::Integer(1) => Ok(()),
            other => Err(unexpected("set", Some(key), &other)),
        }
    }

    /// Deletes `key`; does nothing if it has no value.
    pub fn delete<S: Read + Write>(&self, connection: &mut Connection<S>, key: &str) -> Result<(), Error> {
        let name = self.server_key(key);
        match call(connection, "delete", Some(key), &[b"DEL", name.as_bytes()])? {
            Reply::Integer(_) => Ok(()),
            other => Err(unexpected("delete", Some(key), &other)),
        }
    }

    /// Returns whether `key` has a value.
    pub fn exists<S: Read + Write>(&self, connection: &mut Connection<S>, key: &str) -> Result<bool, Error> {
        let name = self.server_key(key);
        match call(connection, "exists", Some(key), &[b"HEXISTS", name.as_bytes(), b"d"])? {
            Reply::Integer(count) => Ok(count > 0),
            other => Err(unexpected("exists", Some(key), &other)),
        }
    }

    /// Returns a page of keys and the cursor of the next page (`None` after the last).
    ///
    /// This is `SCAN`: a page may be empty while more follow, and a key written or deleted
    /// during the listing may be missed or listed twice.
    pub fn list<S: Read + Write>(
        &self,
        connection: &mut Connection<S>,
        cursor: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), Error> {
        let pattern = format!("{}*", self.prefix);
        let cursor = cursor.unwrap_or("0");
        let command: [&[u8]; 6] =
            [b"SCAN", cursor.as_bytes(), b"MATCH", pattern.as_bytes(), b"COUNT", SCAN_COUNT.as_bytes()];
        let reply = call(connection, "list-keys", None, &command)?;
        let Reply::Array(Some(page)) = &reply else {
            return Err(unexpected("list-keys", None, &reply));
        };
        let [Reply::Bulk(Some(next)), Reply::Array(Some(names))] = page.as_slice() else {
            return Err(unexpected("list-keys", None, &reply));
        };
        let mut keys = Vec::with_capacity(names.len());
        for name in names {
            match name {
                Reply::Bulk(Some(name)) => keys.extend(self.key_of(name)),
                other => return Err(unexpected("list-keys", None, other)),
            }
        }
        let next = match String::from_utf8(next.clone()) {
            Ok(next) if next.bytes().all(|byte| byte.is_ascii_digit()) && !next.is_empty() => next,
            _ => return Err(unexpected("list-keys", None, &reply)),
        };
        Ok((keys, (next != "0").then_some(next)))
    }

    /// Adds `delta` to the decimal `i64` stored at `key` (0 if absent) and returns the sum.
    pub fn increment<S: Read + Write>(
        &self,
        connection: &mut Connection<S>,
        key: &str,
        delta: i64,
    ) -> Result<i64, Error> {
        let name = self.server_key(key);
        let delta = delta.to_string();
        let keys = [name.as_bytes(), self.counter.as_bytes()];
        match eval(connection, "increment", Some(key), &INCREMENT, &keys, &[delta.as_bytes()])? {
            Reply::Integer(sum) => Ok(sum),
            other => Err(unexpected("increment", Some(key), &other)),
        }
    }

    /// Reads the current version and value of `key` into a handle for [`Bucket::swap`].
    pub fn begin_cas<S: Read + Write>(&self, connection: &mut Connection<S>, key: &str) -> Result<Cas, Error> {
        let name = self.server_key(key);
        let reply = call(connection, "cas", Some(key), &[b"HMGET", name.as_bytes(), b"v", b"d"])?;
        Cas::from_reply(key, &reply).ok_or_else(|| unexpected("cas", Some(key), &reply))
    }

    /// Makes `value` the value of the handle's key if no one has written it since the handle read it.
    pub fn swap<S: Read + Write>(&self, connection: &mut Connection<S>, cas: Cas, value: &[u8]) -> Result<Swap, Error> {
        let name = self.server_key(&cas.key);
        let keys = [name.as_bytes(), self.counter.as_bytes()];
        match eval(connection, "swap", Some(&cas.key), &SWAP, &keys, &[&cas.version, value])? {
            Reply::Integer(1) => Ok(Swap::Done),
            reply => match Cas::from_reply(&cas.key, &reply) {
                Some(latest) => Ok(Swap::Conflict(latest)),
                None => Err(unexpected("swap", Some(&cas.key), &reply)),
            },
        }
    }
}

impl Cas {
    /// The key this handle is for.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The version the handle read; `0` if the key had no value.
    pub fn version(&self) -> &[u8] {
        &self.version
    }

    /// The value the handle read, or `None` if the key had none.
    pub fn current(&self) -> Option<&[u8]> {
        self.value.as_deref()
    }

    /// The handle for the reply `[v, d]` of `HMGET key v d`, if it is one.
    fn from_reply(key: &str, reply: &Reply) -> Option<Cas> {
        let Reply::Array(Some(fields)) = reply else { return None };
        let [Reply::Bulk(version), Reply::Bulk(value)] = fields.as_slice() else { return None };
        let version = version.clone().unwrap_or_else(|| VERSION_ABSENT.to_vec());
        Some(Cas { key: key.to_owned(), version, value: value.clone() })
    }
}

impl Error {
    /// Whether the connection is unusable after this error and must be closed.
    pub fn breaks_connection(&self) -> bool {
        matches!(self, Error::Connection { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoSuchStore => write!(f, "no such store: bucket identifiers match [A-Za-z0-9_-]{{1,64}}"),
            Error::Url { url, reason } => write!(f, "bad Redis URL {url:?}: {reason}"),
            Error::Connect { address, source } => {
                write!(f, "cannot connect to the Redis server at {address}: {source}")?;
                // The flags `wasmtime serve` denies a guest without; the error alone does not say.
                if source.kind() == ErrorKind::PermissionDenied {
                    write!(f, " (under `wasmtime serve`, pass -Sinherit-network)")?;
                } else if source.to_string().contains("lookup") {
                    write!(f, " (under `wasmtime serve`, pass -Sallow-ip-name-lookup to resolve host names)")?;
                }
                Ok(())
            }
            Error::Connection { op, address, source } => {
                write!(f, "{op}: the connection to the Redis server at {address} failed: {source}")
            }
            Error::Reply { op, key: Some(key), message } => write!(f, "{op} {key:?}: the Redis server said: {message}"),
            Error::Reply { op, key: None, message } => write!(f, "{op}: the Redis server said: {message}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Connect { source, .. } | Error::Connection { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Sends a command; an error reply becomes [`Error::Reply`].
fn call<S: Read + Write>(
    connection: &mut Connection<S>,
    op: &'static str,
    key: Option<&str>,
    args: &[&[u8]],
) -> Result<Reply, Error> {
    let reply = connection.call(args).map_err(|source| broken(connection, op, source))?;
    refuse_errors(op, key, reply)
}

/// Runs a script; an error reply becomes [`Error::Reply`].
fn eval<S: Read + Write>(
    connection: &mut Connection<S>,
    op: &'static str,
    key: Option<&str>,
    script: &Script,
    keys: &[&[u8]],
    args: &[&[u8]],
) -> Result<Reply, Error> {
    let reply = connection.eval(script, keys, args).map_err(|source| broken(connection, op, source))?;
    refuse_errors(op, key, reply)
}

fn refuse_errors(op: &'static str, key: Option<&str>, reply: Reply) -> Result<Reply, Error> {
    match reply {
        Reply::Error(message) => Err(Error::Reply { op, key: key.map(str::to_owned), message }),
        reply => Ok(reply),
    }
}

/// Says what a socket timeout means: std reports one as `WouldBlock` on some hosts.
fn timed_out(error: io::Error) -> io::Error {
    match error.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => {
            io::Error::new(ErrorKind::TimedOut, format!("no progress for {} s", TIMEOUT.as_secs()))
        }
        _ => error,
    }
}

fn broken<S>(connection: &Connection<S>, op: &'static str, source: io::Error) -> Error {
    Error::Connection { op, address: connection.address.clone(), source }
}

fn unexpected(op: &'static str, key: Option<&str>, reply: &Reply) -> Error {
    Error::Reply { op, key: key.map(str::to_owned), message: format!("an unexpected reply: {reply}") }
}

#[cfg(test)]
mod tests;

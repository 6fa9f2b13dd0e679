//! The HTTP API as plain functions: a [`Request`] in, a [`Response`] out.
//!
//! A request is parsed into an [`Op`], run against a [`Store`], and rendered; every error is a
//! [`Problem`]. Writes are optimistic transactions: read the document with
//! [`Store::watch`], apply the operation to that copy, and commit it with [`Store::swap`],
//! retrying from the start when another writer committed first. A failed operation never
//! reaches the store, so it leaves the document untouched.

mod conditions;
mod config;
pub mod cors;
mod op;
mod problem;
mod respond;
mod transact;

pub use config::{Config, VARIABLES};
pub use op::Op;
pub use problem::Problem;

use crate::core::layout::{Found, Garbage, Payload, Tree};
use crate::store::Store;
use conditions::Conditions;
use transact::transact;

/// The methods JSONStore serves, for `Allow` headers.
pub const ALLOW: &str = "GET, HEAD, PUT, POST, PATCH, DELETE, OPTIONS";

/// The media types `PATCH` accepts, for `Accept-Patch` headers.
pub const ACCEPT_PATCH: &str = "application/merge-patch+json, application/json-patch+json, application/json";

pub use transact::{LEASE_MILLIS, WAIT_MILLIS_MAX, WRITE_ATTEMPTS_MAX};

/// How many times a read starts again when writers replace what it is reading.
pub const READ_ATTEMPTS_MAX: u32 = 20;

/// An HTTP request, as the adapter hands it over.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The method, such as `GET`.
    pub method: String,
    /// The path and query, such as `/sniffles/0?x=1`.
    pub target: String,
    /// Header names (any case) and values.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Request {
    /// The value of header `name` (case-insensitive); several fields are joined with `, `.
    pub fn header(&self, name: &str) -> Option<String> {
        let mut values = self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        let first = values.next()?;
        Some(values.fold(first.to_owned(), |joined, value| joined + ", " + value))
    }
}

/// An HTTP response, for the adapter to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body; empty for `HEAD`, `204` and `304`.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with `status`, no headers and no body.
    pub fn new(status: u16) -> Self {
        Response { status, headers: Vec::new(), body: Vec::new() }
    }

    /// The value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// What the service needs from its host besides the store.
pub trait Host {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> u64;
    /// Random bytes.
    fn random_bytes(&self) -> [u8; 9];
    /// Waits a little before write attempt `attempt` (1-based) after a conflict.
    fn back_off(&self, attempt: u32);
}

/// Writes a body to the given output.
type WriteBody<'s> = Box<dyn FnOnce(&mut dyn std::io::Write) -> std::io::Result<()> + 's>;

/// A response body written piece by piece, for values too big to hold twice in memory.
pub struct Stream<'s>(WriteBody<'s>);

impl Stream<'_> {
    /// Writes the body to `out`.
    pub fn write_to(self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        (self.0)(out)
    }
}

/// A request served: the response, a [`Stream`] with its body when the body is big (then it
/// has no `content-length`), and the garbage its write left, to collect after responding.
pub struct Served<'s> {
    /// The status, headers and (unless streamed) body.
    pub response: Response,
    /// The body, to write after the head.
    pub stream: Option<Stream<'s>>,
    /// Records to delete once the client has its answer.
    pub garbage: Garbage,
}

/// Serves one request, with the whole body in the response, and collects its garbage.
pub fn handle<S: Store>(store: &S, config: &Config, host: &impl Host, request: &Request) -> Response {
    let Served { mut response, stream, garbage } = serve(store, config, host, request.clone());
    if let Some(stream) = stream {
        if let Err(error) = stream.write_to(&mut response.body) {
            return Problem::from(crate::core::layout::Error::Store(crate::store::StoreError(error.to_string())))
                .into_response();
        }
        response.headers.push(("content-length".into(), response.body.len().to_string()));
    }
    garbage.collect(store, config.layout);
    response
}

/// Serves one request; the caller sends the response and stream, then collects the garbage.
pub fn serve<'s, S: Store>(store: &'s S, config: &Config, host: &impl Host, mut request: Request) -> Served<'s> {
    let head = request.method == "HEAD";
    let (mut response, stream, garbage) =
        match Op::parse(&mut request, config).and_then(|op| run(store, config, host, &request, op)) {
            Ok(outcome) => outcome,
            Err(problem) => (problem.into_response(), None, Garbage::default()),
        };
    cors::add_headers(&mut response, &config.cors_allow_origin, Some(&request));
    if head {
        response.body.clear();
        return Served { response, stream: None, garbage };
    }
    if stream.is_none() && !matches!(response.status, 204 | 304) {
        response.headers.push(("content-length".into(), response.body.len().to_string()));
    }
    Served { response, stream, garbage }
}

fn run<'s, S: Store>(
    store: &'s S,
    config: &Config,
    host: &impl Host,
    request: &Request,
    op: Op,
) -> Result<(Response, Option<Stream<'s>>, Garbage), Problem> {
    let conditions = Conditions::from_request(request);
    match op {
        Op::Options => Ok((respond::options(), None, Garbage::default())),
        Op::Get(pointer) => {
            let found = read(host, || Ok(Tree::find_now(store, config.layout, &pointer)?))?;
            let (found, tag) = found.ok_or_else(|| Problem::not_found(&pointer))?;
            if let Some(response) = conditions.check_read(&pointer, &tag)? {
                return Ok((response, None, Garbage::default()));
            }
            match found {
                Found::Json(body) => Ok((respond::json(200, body, Some(tag)), None, Garbage::default())),
                Found::Stream(tree, node) => {
                    let stream = Stream(Box::new(move |out| tree.write_json(&node, out)));
                    Ok((respond::json(200, Vec::new(), Some(tag)), Some(stream), Garbage::default()))
                }
            }
        }
        write => {
            let (mut response, garbage) = transact(store, config, host, |tree| {
                conditions.check_write(tree.etag(write.pointer())?.as_deref(), write.pointer())?;
                write.apply(tree, config, host)
            })?;
            if matches!(response.status, 200 | 201) && respond::prefers_minimal(request.header("prefer").as_deref()) {
                return Ok((respond::minimal(response), None, garbage));
            }
            if !matches!(write, Op::Put(_, Payload::Json(_))) {
                return Ok((response, None, garbage));
            }
            // A big value written from its text is sent back from the store, a page at a time.
            let location = response.header("content-location").map(crate::core::path::parse);
            let Some(Ok(location)) = location else { return Ok((response, None, garbage)) };
            match Tree::find_now(store, config.layout, &location)? {
                Some((Found::Stream(tree, node), _)) => {
                    let stream = Stream(Box::new(move |out| tree.write_json(&node, out)));
                    Ok((response, Some(stream), garbage))
                }
                Some((Found::Json(json), _)) => {
                    response.body = json;
                    Ok((response, None, garbage))
                }
                None => Ok((response, None, garbage)),
            }
        }
    }
}

/// Runs `attempt` until it reads a consistent tree.
fn read<T>(host: &impl Host, mut attempt: impl FnMut() -> Result<T, Problem>) -> Result<T, Problem> {
    for tries in 1..=READ_ATTEMPTS_MAX {
        match attempt() {
            Err(problem) if problem.kind == problem::STALE && tries < READ_ATTEMPTS_MAX => host.back_off(tries),
            outcome => return outcome,
        }
    }
    unreachable!("the last attempt returns")
}

#[cfg(test)]
mod tests;

//! The HTTP API as plain functions: a [`Request`] in, a [`Response`] out.
//!
//! A request is parsed into an [`Op`], run against a [`Store`], and rendered; every error is a
//! [`Problem`], converted once from the layout's typed errors. Reads open a
//! [`Snapshot`]; writes run [`Op::apply`] in [`layout::transact`], which owns the whole write
//! protocol, and the [`Written`] outcome becomes a response after the commit. A failed
//! operation never reaches the root record, so it leaves the document untouched.

mod conditions;
mod config;
pub mod cors;
mod guard;
mod op;
mod problem;
mod respond;

pub use crate::layout::Host;
pub use config::{Config, SECRETS, VARIABLES};
pub use op::{Op, Written};
pub use problem::Problem;

use crate::layout::{self, Garbage, Snapshot};
use crate::store::Store;
use conditions::Conditions;

/// The methods JSONStore serves, for `Allow` headers.
pub const ALLOW: &str = "GET, HEAD, PUT, POST, PATCH, DELETE, OPTIONS";

/// The media types `PATCH` accepts, for `Accept-Patch` headers.
pub const ACCEPT_PATCH: &str = "application/merge-patch+json, application/json-patch+json, application/json";

pub use crate::layout::{LEASE_MILLIS, READ_ATTEMPTS_MAX, WAIT_MILLIS_MAX, WRITE_ATTEMPTS_MAX};

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
            return Problem::from(crate::store::StoreError(error.to_string())).into_response();
        }
        response.headers.push(("content-length".into(), response.body.len().to_string()));
    }
    garbage.collect(store, config.layout);
    response
}

/// Serves one request; the caller sends the response and stream, then collects the garbage.
pub fn serve<'s, S: Store>(store: &'s S, config: &Config, host: &impl Host, mut request: Request) -> Served<'s> {
    let head = request.method == "HEAD";
    let mut garbage = Garbage::default();
    let (mut response, stream) =
        match admit(config, host, &mut request).and_then(|op| run(store, config, host, &request, op, &mut garbage)) {
            Ok(answer) => answer,
            Err(problem) => (problem.into_response(), None),
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

/// Parses a request its caller may make: a CORS preflight, or one whose credential allows
/// every access its operation needs (see [`guard`]).
fn admit(config: &Config, host: &impl Host, request: &mut Request) -> Result<Op, Problem> {
    if guard::is_preflight(request) {
        return Op::parse(request, config);
    }
    let caller = guard::caller(&config.access, request, host.now_millis() / 1000)?;
    let op = Op::parse(request, config)?;
    guard::authorize(&config.access, &caller, &op)?;
    Ok(op)
}

/// Runs a parsed request; a write leaves its garbage in `garbage`, whether it succeeded or not.
fn run<'s, S: Store>(
    store: &'s S,
    config: &Config,
    host: &impl Host,
    request: &Request,
    op: Op,
    garbage: &mut Garbage,
) -> Result<(Response, Option<Stream<'s>>), Problem> {
    let conditions = Conditions::from_request(request);
    match op {
        Op::Options => Ok((respond::options(), None)),
        Op::Get(pointer) => {
            let read = layout::read_consistent(host, || Snapshot::read_now(store, config.layout, &pointer))?;
            let read = read.ok_or_else(|| Problem::not_found(&pointer))?;
            if conditions.check_read(&pointer, &read.tag)? {
                return Ok((respond::not_modified(&read.tag), None));
            }
            let tag = read.tag.clone();
            let (body, stream) = respond::body(read);
            Ok((respond::json(200, body, Some(tag)), stream))
        }
        write => {
            let (outcome, left) =
                layout::transact(store, config.layout, host, |txn| write.apply(txn, &conditions, config, host));
            garbage.absorb(left);
            let written = outcome.map_err(|error| Problem::from_op(error, write.pointer()))?;
            let minimal = respond::prefers_minimal(request.header("prefer").as_deref());
            Ok(respond::written(store, config.layout, written, minimal)?)
        }
    }
}

#[cfg(test)]
mod tests;

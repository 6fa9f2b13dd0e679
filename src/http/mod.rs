//! The `wasi:http` adapter: translates an incoming request into a [`service::Request`],
//! runs it, and writes the [`service::Response`] back. Nothing else happens here.

mod host;

use crate::bindings::exports::wasi::http::incoming_handler::Guest;
use crate::bindings::wasi::http::types::{
    Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use crate::bindings::wasi::io::streams::{OutputStream, StreamError};
use crate::service::{self, Config, Problem, Request, Response, Stream};
use crate::store::KvStore;
use std::io::Write;

/// The `wasi:http/incoming-handler` export.
pub struct Handler;

impl Guest for Handler {
    fn handle(incoming: IncomingRequest, outparam: ResponseOutparam) {
        let vars = host::config_vars();
        let lookup = |name: &str| match &vars {
            Ok(vars) => Ok(vars.iter().find(|(var, _)| var == name).map(|(_, value)| value.clone())),
            Err(error) => Err(error.clone()),
        };
        let config = match Config::from_lookup(lookup) {
            Ok(config) => config,
            Err(detail) => {
                return send(
                    outparam,
                    Problem::new(500, "misconfigured", "Misconfigured", detail).into_response(),
                    None,
                );
            }
        };
        let request = match read(incoming, config.body_bytes_max) {
            Ok(request) => request,
            Err(problem) => return refuse(outparam, problem, &config, None),
        };
        let store = match KvStore::open("default") {
            Ok(store) => store,
            Err(error) => return refuse(outparam, Problem::store_unavailable(&error), &config, Some(&request)),
        };
        let served = service::serve(&store, &config, &host::Wasi, request);
        send(outparam, served.response, served.stream);
        // The client has its answer; now delete what the write made garbage.
        served.garbage.collect(&store, config.layout);
    }
}

/// Answers with `problem`, before the request reached the service.
fn refuse(outparam: ResponseOutparam, problem: Problem, config: &Config, request: Option<&Request>) {
    let mut response = problem.into_response();
    service::cors::add_headers(&mut response, &config.cors_allow_origin, request);
    send(outparam, response, None);
}

/// Reads the request head and at most `body_bytes_max` bytes of body.
fn read(incoming: IncomingRequest, body_bytes_max: usize) -> Result<Request, Problem> {
    let method = match incoming.method() {
        Method::Get => "GET".to_owned(),
        Method::Head => "HEAD".to_owned(),
        Method::Post => "POST".to_owned(),
        Method::Put => "PUT".to_owned(),
        Method::Delete => "DELETE".to_owned(),
        Method::Connect => "CONNECT".to_owned(),
        Method::Options => "OPTIONS".to_owned(),
        Method::Trace => "TRACE".to_owned(),
        Method::Patch => "PATCH".to_owned(),
        Method::Other(other) => other,
    };
    let headers: Vec<(String, String)> = incoming
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect();
    let mut request =
        Request { method, target: incoming.path_with_query().unwrap_or_default(), headers, body: Vec::new() };
    let declared = request.header("content-length").and_then(|length| length.trim().parse::<usize>().ok());
    if declared.is_some_and(|length| length > body_bytes_max) {
        return Err(Problem::body_too_large(body_bytes_max));
    }
    request.body.reserve_exact(declared.unwrap_or(0));
    let body = incoming.consume().map_err(|()| bad_body("the body was already consumed"))?;
    let stream = body.stream().map_err(|()| bad_body("the body stream is unavailable"))?;
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => {
                if request.body.len() + chunk.len() > body_bytes_max {
                    return Err(Problem::body_too_large(body_bytes_max));
                }
                request.body.extend_from_slice(&chunk);
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(_)) => return Err(bad_body("reading the body failed")),
        }
    }
    drop(stream);
    IncomingBody::finish(body);
    Ok(request)
}

fn bad_body(detail: &str) -> Problem {
    Problem::new(400, "bad-body", "Bad Body", detail)
}

/// Sends `response`, then `stream` if there is one. If the client has gone away, or the stream
/// fails half-way, the body ends early and there is nobody left to tell.
fn send(outparam: ResponseOutparam, response: Response, stream: Option<Stream<'_>>) {
    let fields: Vec<(String, Vec<u8>)> =
        response.headers.into_iter().map(|(name, value)| (name, value.into_bytes())).collect();
    let headers = Fields::from_list(&fields).expect("the service writes valid header fields");
    let outgoing = OutgoingResponse::new(headers);
    outgoing.set_status_code(response.status).expect("the service writes valid status codes");
    let body = outgoing.body().expect("a new response has a body");
    ResponseOutparam::set(outparam, Ok(outgoing));
    let Ok(output) = body.write() else { return };
    let mut writer = std::io::BufWriter::with_capacity(64 * 1024, BodyWriter(output));
    let written = writer.write_all(&response.body).and_then(|()| match stream {
        Some(stream) => stream.write_to(&mut writer),
        None => Ok(()),
    });
    let Ok(BodyWriter(output)) = writer.into_inner().map_err(drop) else { return };
    if written.is_err() || output.blocking_flush().is_err() {
        return;
    }
    drop(output);
    let _ = OutgoingBody::finish(body, None);
}

/// An outgoing body stream as a [`Write`], writing as much as the host accepts at a time.
struct BodyWriter(OutputStream);

impl Write for BodyWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        loop {
            let permitted = self.0.check_write().map_err(std::io::Error::other)?;
            if permitted == 0 {
                self.0.subscribe().block();
                continue;
            }
            let chunk = &bytes[..bytes.len().min(permitted as usize)];
            self.0.write(chunk).map_err(std::io::Error::other)?;
            return Ok(chunk.len());
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.blocking_flush().map_err(std::io::Error::other)
    }
}

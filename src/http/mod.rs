//! The `wasi:http` adapter: translates an incoming request into a [`service::Request`],
//! runs it, and writes the [`service::Response`] back. Nothing else happens here.

mod host;

use crate::bindings::exports::wasi::http::incoming_handler::Guest;
use crate::bindings::wasi::http::types::{
    Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use crate::bindings::wasi::io::streams::StreamError;
use crate::service::{self, Config, Problem, Request, Response};
use crate::store::KvStore;

/// The `wasi:http/incoming-handler` export.
pub struct Handler;

impl Guest for Handler {
    fn handle(incoming: IncomingRequest, outparam: ResponseOutparam) {
        let response = serve(incoming);
        send(outparam, response);
    }
}

fn serve(incoming: IncomingRequest) -> Response {
    let config = match Config::from_lookup(host::config_var) {
        Ok(config) => config,
        Err(detail) => return Problem::new(500, "misconfigured", "Misconfigured", detail).into_response(),
    };
    let request = match read(incoming, config.body_bytes_max) {
        Ok(request) => request,
        Err(problem) => return problem.into_response(),
    };
    match KvStore::open("default") {
        Ok(store) => service::handle(&store, &config, &host::Wasi, &request),
        Err(error) => Problem::store_unavailable(&error).into_response(),
    }
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

/// Sends `response`; if the client has gone away there is nobody left to tell.
fn send(outparam: ResponseOutparam, response: Response) {
    let fields: Vec<(String, Vec<u8>)> =
        response.headers.into_iter().map(|(name, value)| (name, value.into_bytes())).collect();
    let headers = Fields::from_list(&fields).expect("the service writes valid header fields");
    let outgoing = OutgoingResponse::new(headers);
    outgoing.set_status_code(response.status).expect("the service writes valid status codes");
    let body = outgoing.body().expect("a new response has a body");
    ResponseOutparam::set(outparam, Ok(outgoing));
    let Ok(stream) = body.write() else { return };
    let mut rest = response.body.as_slice();
    while !rest.is_empty() {
        let Ok(permitted) = stream.check_write() else { return };
        if permitted == 0 {
            stream.subscribe().block();
            continue;
        }
        let (chunk, tail) = rest.split_at(rest.len().min(permitted as usize));
        if stream.write(chunk).is_err() {
            return;
        }
        rest = tail;
    }
    if stream.blocking_flush().is_err() {
        return;
    }
    drop(stream);
    let _ = OutgoingBody::finish(body, None);
}

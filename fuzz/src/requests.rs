//! Requests sent through `service::handle` to a [`MemoryStore`], and the checks that every
//! answer must pass, whatever was asked.

use super::host::Clock;
use super::known::{self, Bug};
use jsonstore::core::json::{DEPTH_MAX_LIMIT, nesting};
use jsonstore::layout::LayoutConfig;
use jsonstore::service::{Config, Request, Response, handle};
use jsonstore::store::MemoryStore;
use serde_json::Value;

/// The configurations the targets run with: the default; the smallest chunks a deployment
/// may set, where values of a few hundred bytes make pages and embedded pages, and a few KB
/// parts; and a tiny layout (as the layout's own tests use), where a few values do, with small
/// limits and one origin let in.
pub fn configs() -> [Config; 3] {
    let tiny =
        LayoutConfig { inline_bytes_max: 8, page_bytes_target: 40, chunk_bytes_max: 100, ..LayoutConfig::default() };
    [
        Config::open(),
        Config { layout: LayoutConfig::for_chunk(4096), ..Config::open() },
        Config {
            layout: tiny,
            body_bytes_max: 2048,
            depth_max: 8,
            cors_allow_origin: "https://app.example".into(),
            ..Config::open()
        },
    ]
}

/// What may answer a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answers {
    /// A store JSONStore wrote: any client input gets a 2xx, 3xx, 4xx or 503, never a 500.
    Sound,
    /// A store with records from elsewhere: a 500 is allowed too, if it is `corrupt-document`,
    /// and a value read back may be deeper than a document can be.
    Corrupt,
}

/// A store, the configuration and host that serve it, and what its answers may be.
pub struct Client {
    /// The store.
    pub store: MemoryStore,
    /// The configuration of every request.
    pub config: Config,
    /// The host of every request.
    pub host: Clock,
    /// What the answers may be.
    pub answers: Answers,
}

impl Client {
    /// A client of an empty store.
    pub fn new(config: Config, answers: Answers) -> Self {
        Client { store: MemoryStore::new(), config, host: Clock::default(), answers }
    }

    /// Sends `request` and checks the answer.
    pub fn send(&self, request: &Request) -> Response {
        let response = handle(&self.store, &self.config, &self.host, request);
        super::seeds::note(request, &response);
        self.check(request, &response);
        response
    }

    /// Sends a request with a JSON body of media type `content_type`.
    pub fn send_json(&self, method: &str, target: &str, content_type: &str, body: &[u8]) -> Response {
        self.send(&request(method, target, &[("content-type", content_type)], body))
    }

    /// `GET /`: the whole document as status and body.
    pub fn document(&self) -> (u16, Vec<u8>) {
        let response = self.send(&request("GET", "/", &[], b""));
        (response.status, response.body)
    }

    /// The whole document, which must be readable: `None` when the store holds none.
    pub fn value(&self) -> Option<Value> {
        let (status, body) = self.document();
        match status {
            200 => Some(parse(&body).expect("a 200 GET's body is JSON")),
            404 => None,
            _ => panic!("GET / answered {status}: {}", String::from_utf8_lossy(&body)),
        }
    }

    /// Checks what every answer must be: its status, that its headers describe its body, and
    /// that its body is JSON (a problem's with the members RFC 9457 and the README name).
    pub fn check(&self, request: &Request, response: &Response) {
        let fail = |what: &str| -> ! { panic!("{what}\n{}\n{}", show_request(request), show_response(response)) };
        let status = response.status;
        let head = request.method == "HEAD";
        let kind = problem_kind(response);
        let corrupt = self.answers == Answers::Corrupt && status == 500 && {
            // A HEAD has no body to name the problem: the same GET must name it.
            let kind = if head {
                problem_kind(&self.send(&Request { method: "GET".into(), ..request.clone() }))
            } else {
                kind
            };
            kind.as_deref() == Some("corrupt-document")
        };
        if !(matches!(status, 200..=499 | 503) || corrupt) {
            fail(&format!("status {status} is not allowed here"));
        }
        // The adapter hands the headers to `wasi:http`, which refuses (and the adapter then
        // panics on) a name that is not a token or a value with control characters.
        for (name, value) in &response.headers {
            let token =
                |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&byte);
            if name.is_empty() || !name.bytes().all(token) {
                fail(&format!("header name {name:?} is not a lower-case token"));
            }
            let known = self.answers == Answers::Corrupt && name == "etag" && known::pass_over(Bug::HashInHeader);
            if !known && value.bytes().any(|byte| (byte < b' ' && byte != b'\t') || byte == 0x7f) {
                fail(&format!("header {name} has a control character: {value:?}"));
            }
        }
        if head {
            if !response.body.is_empty() {
                fail("a HEAD answer has a body");
            }
            return;
        }
        if let Some(length) = response.header("content-length")
            && length.parse::<usize>().ok() != Some(response.body.len())
        {
            fail("content-length is not the body's length");
        }
        let content_type = response.header("content-type");
        if status >= 400 && content_type != Some("application/problem+json") {
            fail("an error is not application/problem+json");
        }
        if content_type == Some("application/problem+json") {
            let Ok(Value::Object(problem)) = parse(&response.body) else { fail("a problem is not a JSON object") };
            let kind = problem["type"].as_str().and_then(|kind| kind.strip_prefix("urn:jsonstore:problem:"));
            if kind.is_none_or(str::is_empty)
                || problem["status"].as_u64() != Some(u64::from(status))
                || !problem["title"].is_string()
                || !problem["detail"].is_string()
            {
                fail("a problem lacks a type urn:jsonstore:problem:KIND, its status, a title or a detail");
            }
        }
        if content_type == Some("application/json") && !response.body.is_empty() {
            let deeper = self.answers == Answers::Corrupt && nesting(&response.body) > DEPTH_MAX_LIMIT;
            let known = self.answers == Answers::Corrupt && known::pass_over(Bug::CorruptStreamedBody);
            // A corrupt store's text is served as it is stored: a record that names a member twice
            // is still JSON (RFC 8259 only says names SHOULD be unique), which a request body may
            // not be, so only there is the body checked as plain JSON rather than as a body.
            let json = match self.answers {
                Answers::Corrupt => serde_json::from_slice::<Value>(&response.body).is_ok(),
                _ => parse(&response.body).is_ok(),
            };
            if !deeper && !known && !json {
                fail("an application/json body is not JSON");
            }
        }
        if let Some(tag) = response.header("etag")
            && !(tag.len() >= 2 && tag.starts_with('"') && tag.ends_with('"'))
        {
            fail("an ETag is not a quoted strong tag");
        }
    }
}

/// A request.
pub fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Request {
    Request {
        method: method.into(),
        target: target.into(),
        headers: headers.iter().map(|&(name, value)| (name.into(), value.into())).collect(),
        body: body.to_vec(),
    }
}

/// Parses JSON as deep as a document may be.
pub fn parse(bytes: &[u8]) -> Result<Value, jsonstore::core::json::JsonError> {
    jsonstore::core::json::parse(bytes, DEPTH_MAX_LIMIT)
}

/// The kind of a problem answer (the end of its `type`), if it is one.
pub fn problem_kind(response: &Response) -> Option<String> {
    let problem = parse(&response.body).ok()?;
    Some(problem["type"].as_str()?.strip_prefix("urn:jsonstore:problem:")?.to_owned())
}

/// A request as text for a failure message, its body cut short.
pub fn show_request(request: &Request) -> String {
    format!("request: {} {:?} {:?} {}", request.method, request.target, request.headers, show_body(&request.body))
}

/// A response as text for a failure message, its body cut short.
pub fn show_response(response: &Response) -> String {
    format!("response: {} {:?} {}", response.status, response.headers, show_body(&response.body))
}

fn show_body(body: &[u8]) -> String {
    const SHOWN: usize = 600;
    let text = String::from_utf8_lossy(&body[..body.len().min(SHOWN)]);
    if body.len() > SHOWN { format!("{text:?}... ({} bytes)", body.len()) } else { format!("{text:?}") }
}

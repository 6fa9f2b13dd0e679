//! The whole request handling: a few requests in a row through `service::handle`, against a
//! [`MemoryStore`](jsonstore::store::MemoryStore) that starts empty.
//!
//! An input is one of two kinds:
//!
//! - Text, when it starts with an upper-case letter: requests as an HTTP/1 message would spell
//!   them, without the version, separated by a line `===`:
//!   `PUT /a\ncontent-type: application/json\n\n{"b":1}\n===\nGET /a/b`. Any bytes will do; the
//!   method, target and headers are read as UTF-8 (lossily), the body is taken as it is.
//! - Structured, otherwise: the first byte picks the configuration (one of [`configs`]),
//!   the rest makes requests of the methods JSONStore serves (and a few it
//!   does not), targets spelled from a small alphabet, the media types each method takes (and
//!   some it does not), conditions on the tags earlier answers gave, and JSON bodies.
//!
//! Every answer passes [`Client::check`]; around each request the whole document is read, and
//! it must be readable, and unchanged unless a write succeeded. A write that succeeded must be
//! there to read, with the value and ETag its answer gave.

use super::input::Input;
use super::json;
use super::requests::{Answers, Client, configs, parse, request as new_request, show_request, show_response};
use jsonstore::core::path;
use jsonstore::service::{Config, Request, Response};

/// The most requests one input makes.
pub const REQUESTS_MAX: usize = 8;

/// Runs an input.
pub fn check(data: &[u8]) {
    if data.first().is_some_and(u8::is_ascii_uppercase) {
        return text(data);
    }
    let mut input = Input::new(data);
    let client = Client::new(input.choose(&configs()).clone(), Answers::Sound);
    let mut tags = Vec::new();
    for _ in 0..REQUESTS_MAX {
        if input.is_empty() {
            break;
        }
        let request = request(&mut input, &tags);
        exchange(&client, &request, &mut tags);
    }
}

/// Runs an input of the text kind.
fn text(data: &[u8]) {
    let client = Client::new(Config::open(), Answers::Sound);
    let mut tags = Vec::new();
    for message in split(data, b"\n===\n").take(REQUESTS_MAX) {
        let (head, body) = match message.windows(2).position(|pair| pair == b"\n\n") {
            Some(at) => (&message[..at], &message[at + 2..]),
            None => (message, &b""[..]),
        };
        let head = String::from_utf8_lossy(head);
        let mut lines = head.split('\n');
        let first = lines.next().unwrap_or_default();
        let (method, target) = first.split_once(' ').unwrap_or((first, "/"));
        let headers = lines
            .map(|line| line.split_once(':').map_or((line, ""), |(name, value)| (name.trim(), value.trim())))
            .collect::<Vec<_>>();
        exchange(&client, &new_request(method, target, &headers, body), &mut tags);
    }
}

/// The parts of `data` between the `separator`s.
fn split<'a>(data: &'a [u8], separator: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let data = rest?;
        match data.windows(separator.len()).position(|window| window == separator) {
            Some(at) => {
                rest = Some(&data[at + separator.len()..]);
                Some(&data[..at])
            }
            None => rest.take(),
        }
    })
}

/// Sends `request`, checks what it did to the document, and keeps the ETag it answered with.
fn exchange(client: &Client, request: &Request, tags: &mut Vec<String>) {
    let before = client.document();
    let response = client.send(request);
    let after = client.value();
    let fail = |what: &str| -> ! { panic!("{what}\n{}\n{}", show_request(request), show_response(&response)) };
    let write = matches!(request.method.as_str(), "PUT" | "POST" | "PATCH" | "DELETE");
    let succeeded = (200..300).contains(&response.status);
    if !(write && succeeded) && client.document() != before {
        fail("a request that was not a successful write changed the document");
    }
    if write && succeeded {
        check_written(client, request, &response, after.is_some());
    }
    if let Some(tag) = response.header("etag") {
        tags.push(tag.to_owned());
        if tags.len() > 4 {
            tags.remove(0);
        }
    }
}

/// Checks that a successful write is there to read: the value and tag a `PUT` or `PATCH`
/// answered with are at its `Content-Location`, a `POST`'s tag at its `Location`, and after a
/// `DELETE /` there is no document.
fn check_written(client: &Client, request: &Request, response: &Response, document: bool) {
    let fail = |what: &str| -> ! { panic!("{what}\n{}\n{}", show_request(request), show_response(response)) };
    let located = |header: &str| {
        let location = response.header(header).unwrap_or_else(|| fail(&format!("a write answered without {header}")));
        let read = client.send(&new_request("GET", location, &[], b""));
        if read.status != 200 {
            fail(&format!("GET {location} answered {} after the write", read.status));
        }
        if read.header("etag") != response.header("etag") {
            fail(&format!("GET {location} answered ETag {:?}, not the write's", read.header("etag")));
        }
        read
    };
    match request.method.as_str() {
        "PUT" | "PATCH" if !response.body.is_empty() => {
            let read = located("content-location");
            if parse(&read.body).ok() != parse(&response.body).ok() {
                fail(&format!("GET of the written value answered {}", String::from_utf8_lossy(&read.body)));
            }
        }
        "POST" => drop(located("location")),
        "DELETE" => {
            let url_path = request.target.split(['?', '#']).next().unwrap_or_default();
            if path::parse(url_path).is_ok_and(|pointer| pointer.is_root()) && document {
                fail("DELETE / left a document");
            }
        }
        _ => {}
    }
}

/// Methods, weighted by how much there is to find in each, and a few JSONStore does not serve.
const METHODS: [&str; 16] = [
    "GET", "GET", "HEAD", "PUT", "PUT", "PUT", "POST", "POST", "PATCH", "PATCH", "PATCH", "PATCH", "DELETE", "OPTIONS",
    "TRACE", "get",
];

/// Media types no method takes, or spelled unusually.
const ODD_TYPES: [&str; 8] = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/json; charset=utf-8",
    "Application/JSON",
    "application/merge-patch+json ; q=1",
    "APPLICATION/JSON-PATCH+JSON",
    "application/json-patch",
    "",
];

/// What a body is made as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    Value,
    MergePatch,
    JsonPatch,
}

/// A structured request.
fn request(input: &mut Input<'_>, tags: &[String]) -> Request {
    let method = input.pick(&METHODS);
    let target = json::url_path(input);
    let flags = input.byte();
    let mut headers: Vec<(String, String)> = Vec::new();
    let patch_type = input.pick(&[
        ("application/merge-patch+json", Body::MergePatch),
        ("application/json-patch+json", Body::JsonPatch),
        ("application/json", Body::MergePatch),
    ]);
    let (content_type, body) = match (method, flags & 3) {
        (_, 1) => (None, Body::Value),
        (_, 2) => {
            let odd = input.pick(&ODD_TYPES);
            (Some(odd), if odd.to_ascii_lowercase().contains("patch+") { Body::JsonPatch } else { Body::Value })
        }
        ("PATCH", _) => (Some(patch_type.0), patch_type.1),
        _ => (Some("application/json"), Body::Value),
    };
    if let Some(content_type) = content_type {
        headers.push(("Content-Type".into(), content_type.into()));
    }
    let condition = |input: &mut Input<'_>| match (input.below(6), tags.is_empty()) {
        (0, _) => "*".to_owned(),
        (1, _) => "\"nope\"".to_owned(),
        (2, false) => format!("W/{}", input.choose(tags)),
        (3, false) => tags.join(", "),
        (_, false) => input.choose(tags).clone(),
        (_, true) => "\"\"".to_owned(),
    };
    if flags & 0x10 != 0 {
        headers.push(("If-Match".into(), condition(input)));
    }
    if flags & 0x20 != 0 {
        headers.push(("if-none-match".into(), condition(input)));
    }
    if flags & 0x40 != 0 {
        headers.push((
            "prefer".into(),
            input.pick(&["return=minimal", "return=representation", "wait=1, return=minimal"]).into(),
        ));
    }
    if flags & 0x80 != 0 {
        headers.push(("origin".into(), input.pick(&["https://app.example", "https://other.example"]).into()));
    }
    if method == "OPTIONS" && input.one_in(2) {
        headers.push(("access-control-request-method".into(), input.pick(&["PUT", "PATCH", "FROB"]).into()));
        let asked = input.pick(&["content-type, if-match", "x-custom", "", "bad header", "a,,b"]);
        headers.push(("access-control-request-headers".into(), asked.into()));
    }
    let body = match (method, flags & 0x0c) {
        (_, 0x0c) => input.bytes(64).to_vec(),
        ("GET" | "HEAD" | "DELETE" | "OPTIONS", _) => Vec::new(),
        _ => {
            let value = match body {
                Body::Value => json::value(input, 4),
                Body::MergePatch => json::merge_patch(input),
                Body::JsonPatch => json::json_patch(input),
            };
            json::text(input, &value)
        }
    };
    Request { method: method.into(), target, headers, body }
}

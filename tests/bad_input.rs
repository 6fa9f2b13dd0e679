//! Bad input, end to end: raw bytes over TCP to the real `wasmtime serve`, for what an HTTP
//! client library would refuse to send.
//!
//! Every case gets a 4xx answer and leaves the document as it was, which a `GET` of the whole
//! document before and after checks. Each case says who answers: the component, with a problem
//! (`application/problem+json`, and CORS headers, which it puts on every answer), or the host,
//! whose HTTP server (hyper) refuses what it cannot parse before the component runs (an empty
//! body and no CORS headers). The component must never trap: `wasmtime serve` answers a trap
//! with its own 500 page, which fails the case, and so does a trap in the server's log.

#![cfg(feature = "e2e")]

mod common;

use common::{Server, fresh};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// Who should answer a case, and how.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// The component, with a problem of this status and kind.
    Problem(u16, &'static str),
    /// The host, with this status, before the component runs.
    Host(u16),
}

use Expect::{Host, Problem};

/// One answer read off a connection: status 0 if the connection closed without one.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A request: the request line and header lines as given (bytes, so they may hold anything),
/// then `Host` and `Connection: close`, and `Content-Length` unless the lines set the framing;
/// then the body.
fn request(line: &[u8], fields: &[&[u8]], body: &[u8]) -> Vec<u8> {
    let mut bytes = [line, b"\r\n"].concat();
    for field in fields {
        bytes.extend_from_slice(field);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"Host: x\r\nConnection: close\r\n");
    let framed = fields.iter().any(|field| {
        let field = field.to_ascii_lowercase();
        field.starts_with(b"content-length:") || field.starts_with(b"transfer-encoding:")
    });
    if !framed && !body.is_empty() {
        bytes.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body);
    bytes
}

/// A JSON `PUT` of `body` at `target`.
fn put(target: &str, body: &[u8]) -> Vec<u8> {
    request(format!("PUT {target} HTTP/1.1").as_bytes(), &[b"Content-Type: application/json"], body)
}

/// A request with `method`, a JSON `content_type` and `body` at `target`.
fn send(method: &str, target: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let content_type = format!("Content-Type: {content_type}");
    request(format!("{method} {target} HTTP/1.1").as_bytes(), &[content_type.as_bytes()], body)
}

/// `body` in chunks of 16 KiB, with the last chunk.
fn chunked(body: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for chunk in body.chunks(16 * 1024) {
        bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        bytes.extend_from_slice(chunk);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\n\r\n");
    bytes
}

/// Sends `bytes` on a fresh connection, closes its sending side if `half_close` (so a body
/// ends early), and reads the answer until the server closes the connection.
fn exchange(server: &Server, bytes: &[u8], half_close: bool) -> Answer {
    let mut stream = TcpStream::connect(server.url.trim_start_matches("http://")).expect("connecting");
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    // The server may answer and close before it has read everything: what it read decides.
    let _ = stream.write_all(bytes);
    if half_close {
        let _ = stream.shutdown(Shutdown::Write);
    }
    let mut text = Vec::new();
    let _ = stream.read_to_end(&mut text);
    let Some(end) = text.windows(4).position(|window| window == b"\r\n\r\n") else {
        return Answer { status: 0, headers: Vec::new(), body: text };
    };
    let head = String::from_utf8_lossy(&text[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|line| line.split(' ').nth(1)).and_then(|code| code.parse().ok());
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let mut body = text[end + 4..].to_vec();
    if headers.iter().any(|(name, value)| name == "transfer-encoding" && value.contains("chunked")) {
        body = unchunk(&body);
    }
    Answer { status: status.unwrap_or(0), headers, body }
}

/// The content of a chunked body.
fn unchunk(mut bytes: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(end) = bytes.windows(2).position(|window| window == b"\r\n") {
        let size = std::str::from_utf8(&bytes[..end]).ok().and_then(|size| usize::from_str_radix(size, 16).ok());
        let Some(size) = size.filter(|&size| size > 0 && end + 2 + size <= bytes.len()) else { break };
        body.extend_from_slice(&bytes[end + 2..end + 2 + size]);
        bytes = &bytes[(end + 4 + size).min(bytes.len())..];
    }
    body
}

/// The whole document, as text.
fn whole(server: &Server) -> Vec<u8> {
    server.get("/").expect(200).body.clone()
}

/// Sends one case and checks its answer and that the document is unchanged.
#[track_caller]
fn check(server: &Server, name: &str, bytes: &[u8], half_close: bool, expect: Expect) {
    let before = whole(server);
    let answer = exchange(server, bytes, half_close);
    let shown: String = String::from_utf8_lossy(&answer.body).chars().take(400).collect();
    let trapped = answer.status == 500 && shown.contains("wasmtime");
    assert!(!trapped, "{name}: the component trapped\nserver log:\n{}", server.log());
    match expect {
        Problem(status, kind) => {
            assert_eq!(answer.status, status, "{name}: {shown}");
            assert_eq!(answer.header("content-type"), Some("application/problem+json"), "{name}: {shown}");
            let problem: serde_json::Value = serde_json::from_slice(&answer.body)
                .unwrap_or_else(|error| panic!("{name}: the problem is not JSON ({error}): {shown}"));
            assert_eq!(problem["type"], format!("urn:jsonstore:problem:{kind}"), "{name}: {shown}");
            assert_eq!(problem["status"], status, "{name}: {shown}");
        }
        Host(status) => {
            assert_eq!(answer.status, status, "{name}: {shown}");
            assert_eq!(answer.header("access-control-allow-origin"), None, "{name}: the component answered: {shown}");
            assert!(answer.body.is_empty(), "{name}: {shown}");
        }
    }
    assert!(whole(server) == before, "{name} changed the document");
}

/// A server holding a document with a part in pages, and a small part inline.
fn serve_document() -> (tempfile::TempDir, Server) {
    let (data, server) = fresh();
    let items: Vec<serde_json::Value> =
        (0..2000).map(|i| serde_json::json!({"id": i, "name": format!("item {i}")})).collect();
    let document = serde_json::json!({"keep": [1, {"x": "y"}], "items": items});
    server.put("/", &document.to_string()).expect(201);
    (data, server)
}

/// Asserts that the server logged no trap.
fn no_trap(server: &Server) {
    let log = server.log();
    assert!(!log.contains("wasm trap") && !log.contains("wasm backtrace"), "a trap:\n{log}");
}

/// Request lines, paths and headers that are not HTTP, or not a pointer.
#[test]
fn bad_request_lines_paths_and_headers() {
    let (_data, server) = serve_document();
    let get = |target: &[u8]| request(&[b"GET ", target, b" HTTP/1.1"].concat(), &[], b"");
    let many: Vec<String> = (0..200).map(|i| format!("X-{i}: a")).collect();
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        // Request lines: hyper refuses what does not parse; a method it parses is ours to refuse.
        ("no target or version", b"GET\r\n\r\n".to_vec(), Host(400)),
        ("HTTP/9.9 (hyper answers 400, not 505)", request(b"GET / HTTP/9.9", &[], b""), Host(400)),
        ("a method that is not a token", request(b"G@T / HTTP/1.1", &[], b""), Host(400)),
        ("an unknown method", request(b"BREW / HTTP/1.1", &[], b""), Problem(405, "method-not-allowed")),
        ("a path without its slash", get(b"nopath"), Problem(400, "bad-path")),
        ("an asterisk", get(b"*"), Problem(400, "bad-path")),
        ("a TLS hello", [&[0x16, 0x03, 0x01, 0x01, 0x2c, 0x01, 0, 1, 0x28, 3, 3][..], &[0; 40]].concat(), Host(400)),
        // A path over 64 KiB is too long for hyper; one just under reaches the component.
        ("a 100 KB path", get(format!("/{}", "a".repeat(100_000)).as_bytes()), Host(414)),
        ("a 60 KB path", get("/a".repeat(30_000).as_bytes()), Problem(404, "not-found")),
        ("a 60 KB path, written", put(&"/a".repeat(30_000), b"1"), Problem(400, "too-deep")),
        // Percent-escapes: each segment must decode to UTF-8.
        ("%zz", get(b"/keep%zz"), Problem(400, "bad-path")),
        ("a truncated %F", get(b"/keep%F"), Problem(400, "bad-path")),
        ("a lone %", get(b"/keep%"), Problem(400, "bad-path")),
        ("half a character, %C3", get(b"/caf%C3"), Problem(400, "bad-path")),
        ("%FF, written", put("/a%FF", b"1"), Problem(400, "bad-path")),
        ("a surrogate, %ED%A0%80", get(b"/%ED%A0%80"), Problem(400, "bad-path")),
        ("a bad ~ escape", get(b"/keep~2"), Problem(400, "bad-path")),
        // `%00` is the member name "\u0000", which is valid JSON and not there.
        ("%00", get(b"/keep%00"), Problem(404, "not-found")),
        // Raw bytes that no URL holds: hyper refuses them.
        ("a NUL in the path", get(b"/a\0b"), Host(400)),
        ("a control byte in the path", get(b"/a\x01b"), Host(400)),
        ("DEL in the path", get(b"/a\x7fb"), Host(400)),
        ("a byte past ASCII in the path", get(b"/a\xffb"), Host(400)),
        ("a tab in the path", get(b"/a\tb"), Host(400)),
        // Header fields.
        ("a NUL in a header value", request(b"GET / HTTP/1.1", &[b"X-A: a\0b"], b""), Host(400)),
        ("a control byte in a header value", request(b"GET / HTTP/1.1", &[b"X-A: a\x01b"], b""), Host(400)),
        ("a NUL in a header name", request(b"GET / HTTP/1.1", &[b"X\0A: a"], b""), Host(400)),
        ("a field without a colon", request(b"GET / HTTP/1.1", &[b"NoColon"], b""), Host(400)),
        ("a folded field", request(b"GET / HTTP/1.1", &[b"X-A: a", b" b"], b""), Host(400)),
        (
            "a byte past ASCII in Content-Type",
            request(b"PUT /a HTTP/1.1", &[b"Content-Type: application/json\xff"], b"1"),
            Problem(415, "unsupported-media-type"),
        ),
        (
            "a 64 KB If-Match",
            request(b"PUT /a HTTP/1.1", &[format!("If-Match: \"{}\"", "a".repeat(65_536)).as_bytes()], b"1"),
            Problem(412, "precondition-failed"),
        ),
        (
            "a 64 KB Content-Type",
            request(b"PUT /a HTTP/1.1", &[format!("Content-Type: text/{}", "a".repeat(65_536)).as_bytes()], b"1"),
            Problem(415, "unsupported-media-type"),
        ),
        (
            "a 1 MB header",
            request(b"GET / HTTP/1.1", &[format!("X-A: {}", "a".repeat(1 << 20)).as_bytes()], b""),
            Host(431),
        ),
        (
            "200 header fields",
            request(b"GET / HTTP/1.1", &many.iter().map(String::as_bytes).collect::<Vec<_>>(), b""),
            Host(431),
        ),
    ];
    for (name, bytes, expect) in cases {
        check(&server, name, &bytes, false, expect);
    }
    no_trap(&server);
}

/// Bodies framed wrongly: lengths that disagree, bodies that end early, chunks that do not
/// parse, a length past the body limit.
#[test]
fn bad_lengths_and_bodies() {
    let (_data, server) = serve_document();
    let json = b"Content-Type: application/json" as &[u8];
    let line = b"PUT /a HTTP/1.1" as &[u8];
    let big_surrogate = [br#"{"pad": ""#, "x".repeat(70_000).as_bytes(), br#"", "bad": "\ud800"}"#].concat();
    let cases: Vec<(&str, Vec<u8>, bool, Expect)> = vec![
        (
            "two Content-Lengths that differ",
            request(line, &[json, b"Content-Length: 1", b"Content-Length: 2"], b"12"),
            false,
            Host(400),
        ),
        // Two equal Content-Lengths are one length (RFC 9110, section 8.6), so hyper passes the
        // body on, and it is not JSON.
        (
            "two equal Content-Lengths",
            request(line, &[json, b"Content-Length: 2", b"Content-Length: 2"], b"{]"),
            false,
            Problem(400, "bad-json"),
        ),
        ("a Content-Length list", request(line, &[json, b"Content-Length: 2, 2"], b"{]"), false, Host(400)),
        (
            "a Content-Length that is not a number",
            request(line, &[json, b"Content-Length: abc"], b"1"),
            false,
            Host(400),
        ),
        ("a negative Content-Length", request(line, &[json, b"Content-Length: -1"], b"1"), false, Host(400)),
        (
            "a transfer coding hyper does not know",
            request(line, &[json, b"Transfer-Encoding: gzip"], b"1"),
            false,
            Host(400),
        ),
        // The body ends before its length: the component reads a failed stream.
        (
            "a body shorter than its length",
            request(line, &[json, b"Content-Length: 100"], b"\"abcdef\""),
            true,
            Problem(400, "bad-body"),
        ),
        (
            "a chunk size that is not hex",
            request(line, &[json, b"Transfer-Encoding: chunked"], b"zz\r\n1\r\n0\r\n\r\n"),
            false,
            Problem(400, "bad-body"),
        ),
        (
            "a chunk size past 64 bits",
            request(line, &[json, b"Transfer-Encoding: chunked"], b"fffffffffffffffffff\r\n1\r\n0\r\n\r\n"),
            false,
            Problem(400, "bad-body"),
        ),
        (
            "a chunk cut short",
            request(line, &[json, b"Transfer-Encoding: chunked"], b"5\r\n\"abc"),
            true,
            Problem(400, "bad-body"),
        ),
        (
            "no last chunk",
            request(line, &[json, b"Transfer-Encoding: chunked"], b"3\r\n\"a\"\r\n"),
            true,
            Problem(400, "bad-body"),
        ),
        (
            "chunks that are not JSON",
            request(line, &[json, b"Transfer-Encoding: chunked"], &chunked(b"{]x")),
            false,
            Problem(400, "bad-json"),
        ),
        (
            "a lone surrogate in 70 KB of chunks",
            request(line, &[json, b"Transfer-Encoding: chunked"], &chunked(&big_surrogate)),
            false,
            Problem(400, "bad-json"),
        ),
        (
            "a Content-Length past the body limit",
            request(line, &[json, b"Content-Length: 16777217"], b""),
            true,
            Problem(413, "body-too-large"),
        ),
        ("an empty body", request(line, &[json, b"Content-Length: 0"], b""), false, Problem(400, "bad-json")),
    ];
    for (name, bytes, half_close, expect) in cases {
        check(&server, name, &bytes, half_close, expect);
    }
    no_trap(&server);
}

/// Bodies that are not JSON, or not JSON a document may hold, sent small and over 64 KiB (which
/// is stored as it is parsed): both are refused alike, before anything is written.
#[test]
fn bad_json_small_and_streamed() {
    let (_data, server) = serve_document();
    let bad: [(&str, &[u8]); 16] = [
        ("a lone leading surrogate", br#""\ud800""#),
        ("a lone trailing surrogate", br#""\udc00""#),
        ("two leading surrogates", br#""\ud800\ud800""#),
        ("a lone surrogate in a member name", br#"{"\ud800": 1}"#),
        ("a byte that is not UTF-8", b"\"caf\xe9\""),
        ("a byte that is not UTF-8 in a member name", b"{\"\xff\": 1}"),
        ("an overlong encoding", b"\"\xc0\xaf\""),
        ("a surrogate encoded as UTF-8", b"\"\xed\xa0\x80\""),
        ("a raw control character", b"\"a\x01b\""),
        ("a member named twice", br#"{"same": 1, "same": 2}"#),
        ("a member named twice, once escaped", br#"{"same": 1, "s\u0061me": 2}"#),
        ("a UTF-8 byte order mark", b"\xef\xbb\xbf{}"),
        ("NaN", b"NaN"),
        ("single quotes", b"{'a': 1}"),
        ("a comment", b"[1 /* no */]"),
        ("an unterminated string", b"\"abc"),
    ];
    let padding = "x".repeat(70_000);
    for (name, value) in bad {
        check(&server, name, &put("/a", value), false, Problem(400, "bad-json"));
        let streamed = [br#"{"pad": ""#, padding.as_bytes(), br#"", "bad": "#, value, b"}"].concat();
        check(&server, &format!("{name}, in 70 KB"), &put("/a", &streamed), false, Problem(400, "bad-json"));
        check(
            &server,
            &format!("{name}, posted"),
            &send("POST", "/keep", "application/json", value),
            false,
            Problem(400, "bad-json"),
        );
        let merge = send("PATCH", "/keep/1", "application/merge-patch+json", &[br#"{"x": "#, value, b"}"].concat());
        check(&server, &format!("{name}, merged"), &merge, false, Problem(400, "bad-json"));
    }
    check(
        &server,
        "a byte order mark before 70 KB",
        &put("/a", &[b"\xef\xbb\xbf\"", padding.as_bytes(), b"\""].concat()),
        false,
        Problem(400, "bad-json"),
    );
    check(&server, "a second value", &put("/a", b"1 2"), false, Problem(400, "bad-json"));
    no_trap(&server);
}

/// What would nest the document too deep or make one request build too much: deep bodies,
/// long paths (which trapped), and JSON Patches that grow, nest or run long.
#[test]
fn deep_and_costly_writes() {
    let (_data, server) = serve_document();
    let deep_arrays = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_members = format!("{}1{}", r#"{"a":"#.repeat(100_000), "}".repeat(100_000));
    let string = format!("\"{}\"", "x".repeat(70_000));
    let json_patch = "application/json-patch+json";
    let merge = "application/merge-patch+json";
    let copies: Vec<serde_json::Value> = (0..40)
        .map(|i| serde_json::json!({"op": "copy", "from": "/keep/1", "path": format!("/keep/1/c{i}")}))
        .collect();
    let copies = serde_json::Value::Array(copies).to_string();
    assert!(copies.len() < 2_200, "a patch of {} bytes", copies.len());
    let nested: Vec<serde_json::Value> =
        (0..100).map(|_| serde_json::json!({"op": "copy", "from": "/keep", "path": "/keep/1/x"})).collect();
    let tests =
        serde_json::Value::Array(vec![serde_json::json!({"op": "test", "path": "/keep/0", "value": 1}); 50_000]);
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        ("100,000 nested arrays", put("/a", deep_arrays.as_bytes()), Problem(400, "too-deep")),
        ("100,000 nested objects", put("/a", deep_members.as_bytes()), Problem(400, "too-deep")),
        (
            "100,000 nested arrays, posted",
            send("POST", "/keep", "application/json", deep_arrays.as_bytes()),
            Problem(400, "too-deep"),
        ),
        (
            "100,000 nested objects, merged",
            send("PATCH", "/keep/1", merge, deep_members.as_bytes()),
            Problem(400, "too-deep"),
        ),
        (
            "100,000 nested arrays, added",
            send("PATCH", "/", json_patch, format!(r#"[{{"op":"add","path":"/a","value":{deep_arrays}}}]"#).as_bytes()),
            Problem(400, "too-deep"),
        ),
        // A big scalar at a long path: stored 200 deep, or a trap at 10,000 tokens, before.
        ("a 70 KB string 200 deep", put(&"/k".repeat(200), string.as_bytes()), Problem(400, "too-deep")),
        ("a 70 KB string 10,000 deep", put(&"/k".repeat(10_000), string.as_bytes()), Problem(400, "too-deep")),
        // A merge patch at a long path: a trap at 3,000 tokens, before.
        (
            "a merge patch 3,000 deep",
            send("PATCH", &"/m".repeat(3_000), merge, br#"{"z": 1}"#),
            Problem(400, "too-deep"),
        ),
        ("a post 10,000 deep", send("POST", &"/m".repeat(10_000), "application/json", b"1"), Problem(400, "too-deep")),
        ("a JSON Patch 10,000 deep", send("PATCH", &"/m".repeat(10_000), json_patch, b"[]"), Problem(400, "too-deep")),
        // JSON Patch: 50,000 operations are refused before they are parsed; 40 copies of a
        // value into itself (which doubled it to gigabytes) stop at the bound before copying.
        (
            "50,000 operations",
            send("PATCH", "/", json_patch, tests.to_string().as_bytes()),
            Problem(413, "too-many-operations"),
        ),
        (
            "40 copies into its own child",
            send("PATCH", "/", json_patch, copies.as_bytes()),
            Problem(413, "patch-too-large"),
        ),
        (
            "100 copies, each a level deeper",
            send("PATCH", "/", json_patch, serde_json::Value::Array(nested).to_string().as_bytes()),
            Problem(400, "too-deep"),
        ),
        (
            "a move into its own child",
            send("PATCH", "/", json_patch, br#"[{"op": "move", "from": "/keep", "path": "/keep/1/x"}]"#),
            Problem(409, "patch-failed"),
        ),
        (
            "a patch that is not an array",
            send("PATCH", "/", json_patch, br#"{"op": "test"}"#),
            Problem(422, "invalid-patch"),
        ),
    ];
    for (name, bytes, expect) in cases {
        check(&server, name, &bytes, false, expect);
    }
    // RFC 6902 lets a value be copied into its own child once: the copy is of the value as it
    // was.
    let copied = exchange(
        &server,
        &send("PATCH", "/keep", json_patch, br#"[{"op": "copy", "from": "/1", "path": "/1/y"}]"#),
        false,
    );
    assert_eq!(copied.status, 200, "{}", String::from_utf8_lossy(&copied.body));
    assert_eq!(server.get("/keep/1").json(), serde_json::json!({"x": "y", "y": {"x": "y"}}));
    no_trap(&server);
}

/// Numbers past any machine number are kept exactly, small and streamed: `1e400` and
/// 400-digit integers come back as they were sent (an exponent spelled `e+N`).
#[test]
fn huge_numbers_round_trip() {
    let (_data, server) = fresh();
    let numbers = [
        "1e+400".to_owned(),
        "-1e-400".to_owned(),
        "9".repeat(400),
        format!("-{}", "1".repeat(400)),
        format!("0.{}", "3".repeat(400)),
        format!("1.{}e+400", "5".repeat(400)),
    ];
    let small = format!("[{}]", numbers.join(","));
    let streamed = format!("[{}]", vec![small.as_str(); 100].join(","));
    assert!(streamed.len() > 64 * 1024);
    for body in [&small, &streamed] {
        let written = exchange(&server, &put("/n", body.as_bytes()), false);
        assert!(matches!(written.status, 200 | 201), "{}", String::from_utf8_lossy(&written.body));
        assert!(whole(&server) == format!(r#"{{"n":{body}}}"#).as_bytes(), "the numbers did not come back as sent");
    }
    let spelled = exchange(&server, &put("/e", b"[1e400, 1E400, 2.5E-400]"), false);
    assert_eq!(spelled.status, 201);
    assert_eq!(String::from_utf8_lossy(&server.get("/e").body), "[1e+400,1e+400,2.5e-400]");
    // A JSON Patch compares them by value, digit by digit.
    let test = format!(r#"[{{"op": "test", "path": "/n/0/2", "value": {}}}]"#, "9".repeat(400));
    let patched = exchange(&server, &send("PATCH", "/", "application/json-patch+json", test.as_bytes()), false);
    assert_eq!(patched.status, 200, "{}", String::from_utf8_lossy(&patched.body));
    let test = format!(r#"[{{"op": "test", "path": "/n/0/2", "value": {}8}}]"#, "9".repeat(399));
    check(
        &server,
        "a test one digit off",
        &send("PATCH", "/", "application/json-patch+json", test.as_bytes()),
        false,
        Problem(409, "patch-failed"),
    );
    no_trap(&server);
}

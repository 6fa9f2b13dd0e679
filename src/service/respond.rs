//! Success responses, built in one place: a write's [`Written`] outcome is rendered here, once,
//! after its commit.

use super::op::Written;
use super::{ACCEPT_PATCH, ALLOW, Response, Stream};
use crate::core::document::Placed;
use crate::core::path;
use crate::layout::{Error, LayoutConfig, Posted, Read, Reading, Snapshot};
use crate::store::Store;
use serde_json::json;

/// A JSON body with its ETag, if it has one.
pub fn json(status: u16, body: Vec<u8>, tag: Option<String>) -> Response {
    let mut response = Response::new(status);
    response.headers.push(("content-type".into(), "application/json".into()));
    if let Some(tag) = tag {
        response.headers.push(("etag".into(), tag));
    }
    response.body = body;
    response
}

/// The response to a committed write, without its body if `minimal`: `201` with `Location`
/// for a value created, `200` for one replaced (both with the value, its `Content-Location` and
/// its ETag), `201` with a receipt for a `POST`, `204` for a `DELETE`. A value written from its
/// text comes back from the store, streamed a page at a time.
pub fn written<'s, S: Store>(
    store: &'s S,
    config: LayoutConfig,
    written: Written,
    minimal: bool,
) -> Result<(Response, Option<Stream<'s>>), Error> {
    let (mut response, stream) = match written {
        Written::Deleted => return Ok((Response::new(204), None)),
        Written::Posted { location, posted, tag } => {
            let receipt = match posted {
                Posted::Element(index) => json!({"index": index}),
                Posted::Member(name) => json!({"name": name}),
            };
            let mut response = json(201, serde_json::to_vec(&receipt).expect("serializes"), Some(tag));
            response.headers.push(("location".into(), path::render(&location)));
            (response, None)
        }
        Written::Value { placed, location, body, tag } => {
            let (body, stream) = match body {
                Some(body) => (body, None),
                None if minimal => (Vec::new(), None),
                None => match Snapshot::read_now(store, config, &location)? {
                    Some(read) => self::body(read),
                    None => (Vec::new(), None),
                },
            };
            let mut response = match placed {
                Placed::Created => json(201, body, Some(tag)),
                Placed::Replaced => json(200, body, Some(tag)),
            };
            if placed == Placed::Created {
                response.headers.push(("location".into(), path::render(&location)));
            }
            response.headers.push(("content-location".into(), path::render(&location)));
            (response, stream)
        }
    };
    if minimal {
        response.body.clear();
        response.headers.retain(|(name, _)| name != "content-type" && name != "content-location");
        response.headers.push(("preference-applied".into(), "return=minimal".into()));
        return Ok((response, None));
    }
    Ok((response, stream))
}

/// The body of a value read: its JSON, or a stream of it from its snapshot.
pub fn body<S: Store>(read: Read<'_, S>) -> (Vec<u8>, Option<Stream<'_>>) {
    let Read { snapshot, reading, .. } = read;
    match reading {
        Reading::Json(json) => (json, None),
        Reading::Node(node) => (Vec::new(), Some(Stream(Box::new(move |out| snapshot.write_json(&node, out))))),
    }
}

/// Whether the request asks for a minimal response: `Prefer: return=minimal` (RFC 7240).
pub fn prefers_minimal(prefer: Option<&str>) -> bool {
    prefer.is_some_and(|prefer| {
        prefer.split(',').any(|preference| {
            let preference = preference.split(';').next().unwrap_or_default();
            let (name, value) = preference.split_once('=').unwrap_or((preference, ""));
            name.trim().eq_ignore_ascii_case("return") && value.trim().trim_matches('"').eq_ignore_ascii_case("minimal")
        })
    })
}

/// `304 Not Modified` for a value whose tag is `tag`.
pub fn not_modified(tag: &str) -> Response {
    let mut response = Response::new(304);
    response.headers.push(("etag".into(), tag.to_owned()));
    response
}

/// The answer to `OPTIONS`.
pub fn options() -> Response {
    let mut response = Response::new(204);
    response.headers.push(("allow".into(), ALLOW.into()));
    response.headers.push(("accept-patch".into(), ACCEPT_PATCH.into()));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_prefer() {
        for yes in
            ["return=minimal", "Return = \"minimal\"", "respond-async, return=minimal; x=1", "wait=5,return=MINIMAL"]
        {
            assert!(prefers_minimal(Some(yes)), "{yes}");
        }
        for no in ["", "return=representation", "return", "minimal", "x-return=minimal"] {
            assert!(!prefers_minimal(Some(no)), "{no}");
        }
        assert!(!prefers_minimal(None));
    }
}

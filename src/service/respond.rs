//! Success responses, built in one place.

use super::{ACCEPT_PATCH, ALLOW, Response};
use crate::core::document::Placed;
use crate::core::{Pointer, path};

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

/// The response to a write that left the value `body` (its JSON), tagged `tag`, at
/// `location`: `201` with `Location` when it was created, `200` when it replaced a value; both
/// carry the value and its ETag.
pub fn written(placed: Placed, location: &Pointer, body: Vec<u8>, tag: String) -> Response {
    match placed {
        Placed::Created => {
            let mut response = json(201, body, Some(tag));
            response.headers.push(("location".into(), path::render(location)));
            response
        }
        Placed::Replaced => json(200, body, Some(tag)),
    }
}

/// `response` without its body, for a client that sent `Prefer: return=minimal` (RFC 7240):
/// the status, `Location` and `ETag` stay.
pub fn minimal(mut response: Response) -> Response {
    response.body.clear();
    response.headers.retain(|(name, _)| name != "content-type" && name != "content-location");
    response.headers.push(("preference-applied".into(), "return=minimal".into()));
    response
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

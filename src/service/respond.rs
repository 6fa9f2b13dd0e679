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

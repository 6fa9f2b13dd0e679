//! Requests parsed into operations, and how each write operation changes the document.

use super::problem::{Problem, too_deep};
use super::{ACCEPT_PATCH, ALLOW, Config, Host, Request, Response, respond};
use crate::core::document::{self, Placed};
use crate::core::layout::{Payload, Tree};
use crate::core::patch;
use crate::core::{Pointer, PointerBuf, json, path, push_id};
use crate::store::Store;
use json_patch::PatchOperation;
use serde_json::{Value, json};

/// One parsed request.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `OPTIONS`: say which methods are allowed.
    Options,
    /// `GET` or `HEAD`: read the value at the pointer.
    Get(PointerBuf),
    /// `PUT`: create or replace the value at the pointer; a big body stays JSON text, stored
    /// as it is parsed.
    Put(PointerBuf, Payload),
    /// `POST`: add the value to the array or object at the pointer.
    Post(PointerBuf, Value),
    /// `PATCH` with a JSON Merge Patch.
    MergePatch(PointerBuf, Value),
    /// `PATCH` with a JSON Patch.
    JsonPatch(PointerBuf, Vec<PatchOperation>),
    /// `DELETE`: remove the value at the pointer.
    Delete(PointerBuf),
}

impl Op {
    /// Parses a request, checking its method, path, media type, size and nesting. A big `PUT`
    /// body is taken out of the request rather than copied.
    pub fn parse(request: &mut Request, config: &Config) -> Result<Op, Problem> {
        let method = request.method.as_str();
        if !ALLOW.split(", ").any(|allowed| allowed == method) {
            return Err(Problem::new(
                405,
                "method-not-allowed",
                "Method Not Allowed",
                format!("{method} is not supported; use one of {ALLOW}"),
            )
            .header("allow", ALLOW));
        }
        if method == "OPTIONS" {
            return Ok(Op::Options);
        }
        let url_path = request.target.split(['?', '#']).next().unwrap_or_default();
        let pointer = path::parse(url_path)?;
        if request.body.len() > config.body_bytes_max {
            return Err(Problem::body_too_large(config.body_bytes_max));
        }
        let media_type = request.header("content-type").map(|value| {
            let essence = value.split(';').next().unwrap_or_default();
            essence.trim().to_ascii_lowercase()
        });
        let body = || json::parse(&request.body, config.depth_max);
        Ok(match method {
            "GET" | "HEAD" => Op::Get(pointer),
            "DELETE" => Op::Delete(pointer),
            "PUT" | "POST" => {
                if !matches!(media_type.as_deref(), None | Some("application/json")) {
                    return Err(unsupported_media_type(method, media_type.as_deref(), "application/json"));
                }
                if method == "PUT" && request.body.len() > STREAM_BYTES_MIN {
                    json::validate(&request.body, config.depth_max.saturating_sub(pointer.count()))?;
                    let body = std::mem::take(&mut request.body);
                    return Ok(Op::Put(pointer, Payload::Json(std::rc::Rc::new(body))));
                }
                let value = body()?;
                let created_levels = usize::from(method == "POST");
                if pointer.count() + created_levels + document::depth(&value) > config.depth_max {
                    return Err(too_deep(config.depth_max));
                }
                if method == "PUT" { Op::Put(pointer, Payload::Value(value)) } else { Op::Post(pointer, value) }
            }
            _ => match media_type.as_deref() {
                Some("application/merge-patch+json" | "application/json") => Op::MergePatch(pointer, body()?),
                Some("application/json-patch+json") => {
                    json::validate(&request.body, config.depth_max)?;
                    Op::JsonPatch(pointer, patch::parse_json_patch(&request.body)?)
                }
                other => {
                    return Err(
                        unsupported_media_type(method, other, ACCEPT_PATCH).header("accept-patch", ACCEPT_PATCH)
                    );
                }
            },
        })
    }

    /// The pointer the operation targets; the root for `OPTIONS`.
    pub fn pointer(&self) -> &Pointer {
        match self {
            Op::Options => Pointer::root(),
            Op::Get(pointer)
            | Op::Put(pointer, _)
            | Op::Post(pointer, _)
            | Op::MergePatch(pointer, _)
            | Op::JsonPatch(pointer, _)
            | Op::Delete(pointer) => pointer,
        }
    }

    /// Applies a write to the document in `tree` and renders its success response.
    /// Reads are not writes.
    pub fn apply<S: Store>(
        &self,
        tree: &mut Tree<'_, S>,
        config: &Config,
        host: &impl Host,
    ) -> Result<Response, Problem> {
        let pointer = self.pointer();
        let failed = |error| Problem::from_op(error, pointer);
        match self {
            Op::Put(pointer, value) => {
                let (placed, location) = tree.put_payload(pointer, value.clone()).map_err(failed)?;
                // A big value is streamed back after the commit (see `service::run`).
                let body = match value {
                    Payload::Json(_) => Vec::new(),
                    Payload::Value(value) => serialize(value),
                };
                let mut response = respond::written(placed, &location, body, tag(tree, &location)?);
                response.headers.push(("content-location".into(), path::render(&location)));
                Ok(response)
            }
            Op::Post(pointer, value) => {
                let new_key = || push_id::new(host.now_millis(), host.random_bytes());
                let location = tree.post(pointer, value.clone(), new_key).map_err(failed)?;
                let last = location.back().expect("post adds a token").decoded().into_owned();
                let in_array = tree.get(pointer)?.is_some_and(|collection| collection.is_array());
                let receipt = match last.parse::<usize>() {
                    Ok(index) if in_array => json!({"index": index}),
                    _ => json!({"name": last}),
                };
                let mut response = respond::json(201, serde_json::to_vec(&receipt).expect("serializes"), None);
                response.headers.push(("location".into(), path::render(&location)));
                response.headers.push(("etag".into(), tag(tree, &location)?));
                Ok(response)
            }
            Op::MergePatch(pointer, merge_patch) => {
                let placed = tree.merge_patch(pointer, merge_patch).map_err(failed)?;
                let value = patched_value(tree, pointer, config)?;
                Ok(respond::written(placed, pointer, serialize(&value), tag(tree, pointer)?))
            }
            Op::JsonPatch(pointer, operations) => {
                tree.json_patch(pointer, operations).map_err(failed)?;
                let value = patched_value(tree, pointer, config)?;
                Ok(respond::written(Placed::Replaced, pointer, serialize(&value), tag(tree, pointer)?))
            }
            Op::Delete(pointer) => {
                tree.delete(pointer).map_err(failed)?;
                Ok(Response::new(204))
            }
            Op::Options | Op::Get(_) => unreachable!("reads are not run as writes"),
        }
    }
}

/// Bodies larger than this are stored as they are parsed, without a parsed copy in memory.
pub const STREAM_BYTES_MIN: usize = 64 * 1024;

fn serialize(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("a Value always serializes")
}

/// The ETag of the value just written at `pointer`.
fn tag<S: Store>(tree: &Tree<'_, S>, pointer: &Pointer) -> Result<String, Problem> {
    tree.etag(pointer)?.ok_or_else(|| Problem::not_found(pointer))
}

/// The value at `pointer` after a patch, checked against the depth limit.
fn patched_value<S: Store>(tree: &Tree<'_, S>, pointer: &Pointer, config: &Config) -> Result<Value, Problem> {
    let value = tree.get(pointer)?.ok_or_else(|| Problem::not_found(pointer))?;
    if pointer.count() + document::depth(&value) > config.depth_max {
        return Err(too_deep(config.depth_max));
    }
    Ok(value)
}

fn unsupported_media_type(method: &str, media_type: Option<&str>, accepted: &str) -> Problem {
    let given = media_type.map_or("no Content-Type".to_owned(), |media_type| format!("Content-Type {media_type}"));
    Problem::new(
        415,
        "unsupported-media-type",
        "Unsupported Media Type",
        format!(
            "{method} takes {accepted}, not {given} (with curl, use --json or -H 'Content-Type: application/json')"
        ),
    )
}

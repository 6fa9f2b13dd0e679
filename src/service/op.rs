//! Requests parsed into operations, and how each write operation changes the document.
//!
//! A request is checked whole before anything is read (method, path, media type, size,
//! nesting), so a bad one costs nothing. A write then runs inside a transaction and says what
//! it did as a [`Written`] outcome, not as a response: the response is rendered once, after
//! the commit, and a big value written from its text is read back from the store.

use super::conditions::Conditions;
use super::problem::{Problem, too_deep};
use super::{ACCEPT_PATCH, ALLOW, Config, Host, Request};
use crate::core::document::{self, Placed};
use crate::core::json::JsonError;
use crate::core::patch::{self, Bounds};
use crate::core::{Pointer, PointerBuf, json, path, push_id};
use crate::layout::{OpError, Payload, Posted, Txn};
use crate::store::Store;
use serde_json::Value;

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
    /// `PATCH` with a JSON Merge Patch, and what it may build.
    MergePatch(PointerBuf, patch::MergePatch),
    /// `PATCH` with a JSON Patch, and what it may build.
    JsonPatch(PointerBuf, patch::JsonPatch),
    /// `DELETE`: remove the value at the pointer.
    Delete(PointerBuf),
}

impl Op {
    /// Parses a request, checking its method, path, media type, size and nesting. A big `PUT`
    /// body is taken out of the request rather than copied.
    ///
    /// A write's pointer counts towards the depth limit before its body is read: a value put
    /// at a path of 200 tokens nests the document 200 deep, however flat the value is. A body
    /// that is stored as it is parsed passes the very check a parsed one does, so nothing
    /// reaches the store that a small body would not.
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
        // How deep the written value sits: below the pointer's tokens, and for POST below the
        // member it adds. Deletes make nothing deeper, and must still reach what a lower limit
        // left too deep.
        let levels = pointer.count() + usize::from(method == "POST");
        let writes = matches!(method, "PUT" | "POST" | "PATCH");
        if writes && levels > config.depth_max {
            return Err(too_deep(config.depth_max));
        }
        let room = config.depth_max.saturating_sub(levels);
        // The body may nest only as deep as the room left below the pointer; the problem names
        // the limit as configured.
        let in_room = |error: JsonError| match error {
            JsonError::TooDeep { .. } => too_deep(config.depth_max),
            syntax => syntax.into(),
        };
        let body = || json::parse(&request.body, room).map_err(in_room);
        let bounds = Bounds { depth_max: config.depth_max, bytes_max: config.patch_bytes_max };
        Ok(match method {
            "GET" | "HEAD" => Op::Get(pointer),
            "DELETE" => Op::Delete(pointer),
            "PUT" | "POST" => {
                if !matches!(media_type.as_deref(), None | Some("application/json")) {
                    return Err(unsupported_media_type(method, media_type.as_deref(), "application/json"));
                }
                if method == "PUT" && request.body.len() > STREAM_BYTES_MIN {
                    json::validate(&request.body, room).map_err(in_room)?;
                    let body = std::mem::take(&mut request.body);
                    return Ok(Op::Put(pointer, Payload::Json(std::rc::Rc::new(body))));
                }
                let value = body()?;
                if method == "PUT" { Op::Put(pointer, Payload::Value(value)) } else { Op::Post(pointer, value) }
            }
            _ => match media_type.as_deref() {
                Some("application/merge-patch+json" | "application/json") => {
                    Op::MergePatch(pointer, patch::MergePatch { value: body()?, bounds })
                }
                Some("application/json-patch+json") => {
                    // Each operation's value is checked where it goes, as the patch is applied.
                    json::validate(&request.body, config.depth_max)?;
                    let operations_max = config.patch_operations_max;
                    Op::JsonPatch(pointer, patch::parse_json_patch(&request.body, operations_max, bounds)?)
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

    /// Applies a write to the document in `txn`, if `conditions` hold, and says what it did.
    /// Reads are not writes.
    pub fn apply<S: Store>(
        &self,
        txn: &mut Txn<'_, S>,
        conditions: &Conditions,
        config: &Config,
        host: &impl Host,
    ) -> Result<Written, OpError> {
        let pointer = self.pointer();
        if conditions.any() {
            conditions.check_write(txn.tag(pointer)?.as_deref())?;
        }
        match self {
            Op::Put(pointer, value) => {
                let (placed, location) = txn.put_payload(pointer, value.clone())?;
                // A big value is streamed back from the store after the commit.
                let body = match value {
                    Payload::Json(_) => None,
                    Payload::Value(value) => Some(serialize(value)),
                };
                let tag = tag(txn, &location)?;
                Ok(Written::Value { placed, location, body, tag })
            }
            Op::Post(pointer, value) => {
                let new_key = || push_id::new(host.now_millis(), host.random_bytes());
                let (location, posted) = txn.post(pointer, value.clone(), new_key)?;
                let tag = tag(txn, &location)?;
                Ok(Written::Posted { location, posted, tag })
            }
            Op::MergePatch(pointer, merge_patch) => {
                let (placed, location) = txn.merge_patch(pointer, merge_patch)?;
                patched(txn, placed, &location, config)
            }
            Op::JsonPatch(pointer, operations) => {
                txn.json_patch(pointer, operations)?;
                patched(txn, Placed::Replaced, pointer, config)
            }
            Op::Delete(pointer) => {
                txn.delete(pointer)?;
                Ok(Written::Deleted)
            }
            Op::Options | Op::Get(_) => unreachable!("reads are not run as writes"),
        }
    }
}

/// What a write did, for its response, which is rendered once, after the commit.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// A value created or replaced at `location`, with its JSON (`None`: to stream from the
    /// store after the commit) and strong ETag.
    Value {
        /// Whether the value was created or replaced.
        placed: Placed,
        /// Where it is.
        location: PointerBuf,
        /// Its JSON, unless it is streamed from the store.
        body: Option<Vec<u8>>,
        /// Its strong ETag.
        tag: String,
    },
    /// A value added to a collection by `POST`.
    Posted {
        /// Where it is.
        location: PointerBuf,
        /// Where in the collection.
        posted: Posted,
        /// Its strong ETag.
        tag: String,
    },
    /// A value removed.
    Deleted,
}

/// Bodies larger than this are stored as they are parsed, without a parsed copy in memory.
pub const STREAM_BYTES_MIN: usize = 64 * 1024;

fn serialize(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("a Value always serializes")
}

/// The ETag of the value just written at `pointer`.
fn tag<S: Store>(txn: &Txn<'_, S>, pointer: &Pointer) -> Result<String, OpError> {
    txn.tag(pointer)?.ok_or(OpError::NotFound)
}

/// What a patch at `pointer` did: the value now there, checked against the depth limit.
fn patched<S: Store>(txn: &Txn<'_, S>, placed: Placed, pointer: &Pointer, config: &Config) -> Result<Written, OpError> {
    let value = txn.value(pointer)?.ok_or(OpError::NotFound)?;
    if pointer.count() + document::depth(&value) > config.depth_max {
        return Err(OpError::TooDeep(config.depth_max));
    }
    let tag = tag(txn, pointer)?;
    Ok(Written::Value { placed, location: pointer.to_buf(), body: Some(serialize(&value)), tag })
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

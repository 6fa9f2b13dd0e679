//! Problem details (RFC 9457): every error response JSONStore sends.
//!
//! Each kind of problem has a stable `type` URI, `urn:jsonstore:problem:<kind>`, listed in the
//! README. Extra members (`pointer`, `operation`, `line`, `column`) say where the problem is.

use super::Response;
use crate::core::document::Conflict;
use crate::core::json::JsonError;
use crate::core::patch::PatchError;
use crate::core::path::PathError;
use crate::core::{Pointer, path};
use crate::layout::{self, OpError};
use crate::store::StoreError;
use serde_json::{Map, Value};

/// An error response: status, type, title, detail and extension members.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The HTTP status code.
    pub status: u16,
    /// The problem kind: the last part of the `type` URI.
    pub kind: &'static str,
    /// A short summary of the kind.
    pub title: &'static str,
    /// What happened this time.
    pub detail: String,
    /// Extension members.
    pub members: Map<String, Value>,
    /// Extra response headers, such as `Allow`.
    pub headers: Vec<(&'static str, String)>,
}

impl Problem {
    /// A problem of `kind` with `status`, `title` and `detail`.
    pub fn new(status: u16, kind: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Problem { status, kind, title, detail: detail.into(), members: Map::new(), headers: Vec::new() }
    }

    /// Adds the extension member `name`.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.members.insert(name.to_owned(), value.into());
        self
    }

    /// Adds the `pointer` member, as a JSON Pointer string.
    pub fn at(self, pointer: &Pointer) -> Self {
        self.with("pointer", pointer.as_str())
    }

    /// Adds a response header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// 404: nothing at `pointer`.
    pub fn not_found(pointer: &Pointer) -> Self {
        let detail = if pointer.is_root() {
            "the store holds no document".to_owned()
        } else {
            format!("there is no value at {}", path::render(pointer))
        };
        Problem::new(404, "not-found", "Not Found", detail).at(pointer)
    }

    /// 412: an `If-Match` or `If-None-Match` condition is false.
    pub fn precondition_failed(header: &str, pointer: &Pointer) -> Self {
        Problem::new(
            412,
            "precondition-failed",
            "Precondition Failed",
            format!("the {header} condition is false for the value at {}", path::render(pointer)),
        )
        .at(pointer)
    }

    /// 413: the body is larger than the configured limit.
    pub fn body_too_large(body_bytes_max: usize) -> Self {
        Problem::new(
            413,
            "body-too-large",
            "Content Too Large",
            format!("the request body is larger than the limit of {body_bytes_max} bytes (configuration variable body_bytes_max)"),
        )
        .with("limit", body_bytes_max)
    }

    /// 503: the host's key-value store failed.
    pub fn store_unavailable(error: &StoreError) -> Self {
        Problem::new(503, "store-unavailable", "Service Unavailable", format!("the key-value store failed: {error}"))
            .header("retry-after", "1")
    }

    /// Renders the problem as an `application/problem+json` response.
    pub fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("type".into(), format!("urn:jsonstore:problem:{}", self.kind).into());
        body.insert("title".into(), self.title.into());
        body.insert("status".into(), self.status.into());
        body.insert("detail".into(), self.detail.into());
        body.extend(self.members);
        let mut response = Response::new(self.status);
        response.headers.push(("content-type".into(), "application/problem+json".into()));
        response.headers.extend(self.headers.into_iter().map(|(name, value)| (name.to_owned(), value)));
        response.body = serde_json::to_vec(&Value::Object(body)).expect("a Map always serializes");
        response
    }
}

impl From<PathError> for Problem {
    fn from(error: PathError) -> Self {
        Problem::new(400, "bad-path", "Bad Path", error.to_string())
    }
}

impl From<JsonError> for Problem {
    fn from(error: JsonError) -> Self {
        match error {
            JsonError::Syntax { message, line, column } => Problem::new(
                400,
                "bad-json",
                "Bad JSON",
                format!("the body is not valid JSON: {message} at line {line}, column {column}"),
            )
            .with("line", line)
            .with("column", column),
            JsonError::TooDeep { depth_max } => too_deep(depth_max),
        }
    }
}

/// 400: the write would nest the document deeper than `depth_max`.
pub fn too_deep(depth_max: usize) -> Problem {
    Problem::new(
        400,
        "too-deep",
        "Too Deeply Nested",
        format!("the document may nest at most {depth_max} arrays or objects deep (configuration variable depth_max)"),
    )
    .with("limit", depth_max)
}

impl From<Conflict> for Problem {
    fn from(conflict: Conflict) -> Self {
        let detail = format!("cannot write there: the value at {} {}", path::render(&conflict.at), conflict.reason);
        Problem::new(409, "conflict", "Conflict", detail).at(&conflict.at)
    }
}

impl From<PatchError> for Problem {
    fn from(error: PatchError) -> Self {
        match error {
            PatchError::Invalid { operation, message } => {
                let detail = match operation {
                    Some(index) => format!("operation {index} is not a valid JSON Patch operation: {message}"),
                    None => message,
                };
                let problem = Problem::new(422, "invalid-patch", "Invalid Patch", detail);
                match operation {
                    Some(index) => problem.with("operation", index),
                    None => problem,
                }
            }
            PatchError::Failed { operation, pointer, reason } => Problem::new(
                409,
                "patch-failed",
                "Patch Failed",
                format!("operation {operation} failed at {pointer}: {reason}; nothing was written"),
            )
            .with("operation", operation)
            .at(&pointer),
            PatchError::NotFound => Problem::new(404, "not-found", "Not Found", "the patch target does not exist"),
            PatchError::TooManyOperations { operations_max } => Problem::new(
                413,
                "too-many-operations",
                "Too Many Operations",
                format!(
                    "a JSON Patch may have at most {operations_max} operations (configuration variable patch_operations_max); nothing was written"
                ),
            )
            .with("limit", operations_max),
            PatchError::TooLarge { operation, pointer, bytes_max } => {
                let limit = format!("{bytes_max} bytes of JSON (configuration variable patch_bytes_max)");
                let detail = match operation {
                    Some(index) => format!(
                        "operation {index} would take the patched value past {limit}, counting all the patch adds or copies, at {pointer}; nothing was written"
                    ),
                    None => format!(
                        "the value at {} with the patch would hold more than {limit}; patch a smaller part of it; nothing was written",
                        path::render(&pointer)
                    ),
                };
                let problem = Problem::new(413, "patch-too-large", "Patch Too Large", detail).with("limit", bytes_max);
                match operation {
                    Some(index) => problem.with("operation", index).at(&pointer),
                    None => problem.at(&pointer),
                }
            }
            PatchError::TooDeep { operation, pointer, depth_max } => {
                too_deep(depth_max).with("operation", operation).at(&pointer)
            }
        }
    }
}

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Self {
        Problem::store_unavailable(&error)
    }
}

/// The kind of the problem a read gets when writers kept replacing what it was reading.
const STALE: &str = "stale-read";

/// The kind of the problem a write gets when it would take the store past its key budget.
const INSUFFICIENT_STORAGE: &str = "insufficient-storage";

impl From<layout::Error> for Problem {
    fn from(error: layout::Error) -> Self {
        match error {
            layout::Error::Store(error) => Problem::store_unavailable(&error),
            layout::Error::Corrupt(reason) => {
                Problem::new(500, "corrupt-document", "Stored Document Unreadable", reason)
            }
            over @ layout::Error::OverBudget { .. } => Problem::new(
                507,
                INSUFFICIENT_STORAGE,
                "Insufficient Storage",
                format!("{over}; nothing was written (the budget is configuration variable keys_max)"),
            ),
            stale @ layout::Error::Stale(_) => {
                Problem::new(503, STALE, "Service Unavailable", format!("{stale}; try again"))
                    .header("retry-after", "1")
            }
            busy @ (layout::Error::Contention { .. } | layout::Error::Unelected { .. }) => {
                Problem::new(503, "contention", "Too Much Contention", busy.to_string()).header("retry-after", "1")
            }
        }
    }
}

impl Problem {
    /// The problem for an operation on the tree at `pointer` that failed.
    pub fn from_op(error: OpError, pointer: &Pointer) -> Self {
        match error {
            OpError::NotFound => Problem::not_found(pointer),
            OpError::Conflict(conflict) => conflict.into(),
            OpError::Patch(error) => error.into(),
            OpError::Precondition(header) => Problem::precondition_failed(header, pointer),
            OpError::TooDeep(depth_max) => too_deep(depth_max),
            OpError::Layout(error) => error.into(),
        }
    }
}

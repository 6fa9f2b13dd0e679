//! Conditional requests (RFC 9110 section 13): `If-Match` and `If-None-Match`.
//!
//! Tags are per path: a condition is checked against the value at the request's pointer.
//! Writes check it inside the transaction, against the document they are about to change.
//! Checking a write's conditions costs nothing when it has none: the tag is at hand in the
//! layout (a node's hash) or hashes a small inline value.

use super::problem::Problem;
use super::{Request, Response, respond};
use crate::core::{Pointer, etag};

/// The conditions a request carries.
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    if_match: Option<String>,
    if_none_match: Option<String>,
}

impl Conditions {
    /// Reads the conditional headers of `request`.
    pub fn from_request(request: &Request) -> Self {
        Conditions { if_match: request.header("if-match"), if_none_match: request.header("if-none-match") }
    }

    /// For a read of a value tagged `tag`: `412` when `If-Match` fails, a `304` response when
    /// `If-None-Match` matches, nothing when the read should go on.
    pub fn check_read(&self, pointer: &Pointer, tag: &str) -> Result<Option<Response>, Problem> {
        if let Some(header) = &self.if_match
            && !etag::matches(header, Some(tag), false)
        {
            return Err(Problem::precondition_failed("If-Match", pointer));
        }
        match &self.if_none_match {
            Some(header) if etag::matches(header, Some(tag), true) => Ok(Some(respond::not_modified(tag))),
            _ => Ok(None),
        }
    }

    /// For a write at `pointer`, whose value's tag is now `current`: `412` when a condition is
    /// false.
    pub fn check_write(&self, current: Option<&str>, pointer: &Pointer) -> Result<(), Problem> {
        if let Some(header) = &self.if_match
            && !etag::matches(header, current, false)
        {
            return Err(Problem::precondition_failed("If-Match", pointer));
        }
        if let Some(header) = &self.if_none_match
            && etag::matches(header, current, true)
        {
            return Err(Problem::precondition_failed("If-None-Match", pointer));
        }
        Ok(())
    }
}

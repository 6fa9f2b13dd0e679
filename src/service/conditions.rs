//! Conditional requests (RFC 9110 section 13): `If-Match` and `If-None-Match`.
//!
//! Tags are per path: a condition is checked against the value at the request's pointer.
//! Writes check it inside the transaction, against the document they are about to change; a
//! write without conditions does not compute the tag at all.

use super::Request;
use super::problem::Problem;
use crate::core::{Pointer, etag};
use crate::layout::OpError;

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

    /// For a read of a value tagged `tag`: `412` when `If-Match` fails; whether the client's
    /// copy is current (`If-None-Match` matches: the answer is `304`).
    pub fn check_read(&self, pointer: &Pointer, tag: &str) -> Result<bool, Problem> {
        if let Some(header) = &self.if_match
            && !etag::matches(header, Some(tag), false)
        {
            return Err(Problem::precondition_failed("If-Match", pointer));
        }
        Ok(self.if_none_match.as_ref().is_some_and(|header| etag::matches(header, Some(tag), true)))
    }

    /// Whether the request carries any condition.
    pub fn any(&self) -> bool {
        self.if_match.is_some() || self.if_none_match.is_some()
    }

    /// For a write whose target's tag is now `current`: fails, naming the header, when a
    /// condition is false.
    pub fn check_write(&self, current: Option<&str>) -> Result<(), OpError> {
        if let Some(header) = &self.if_match
            && !etag::matches(header, current, false)
        {
            return Err(OpError::Precondition("If-Match"));
        }
        if let Some(header) = &self.if_none_match
            && etag::matches(header, current, true)
        {
            return Err(OpError::Precondition("If-None-Match"));
        }
        Ok(())
    }
}

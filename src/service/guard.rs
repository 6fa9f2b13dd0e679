//! Who may make a request: the credential it carries, and the access its operation needs at
//! each path it touches.
//!
//! A closed store refuses a request without a credential before it parses anything, so it
//! costs nothing and tells nothing. CORS preflights are let through: a browser sends them
//! without credentials, before the request that carries one.

use super::{Op, Problem, Request};
use crate::access::{Access, Caller, Policy, Refusal};
use crate::core::{Pointer, PointerBuf, path};
use json_patch::PatchOperation;

/// The challenge a 401 carries (RFC 6750).
const CHALLENGE: &str = "Bearer realm=\"jsonstore\"";

/// Whether `request` is a CORS preflight.
pub fn is_preflight(request: &Request) -> bool {
    request.method == "OPTIONS" && request.header("access-control-request-method").is_some()
}

/// The caller of `request` at `now_secs`, before it is parsed: a 401 for a credential the
/// store does not know (or an expired JWT), or for no credential where one is needed for
/// anything.
pub fn caller(policy: &Policy, request: &Request, now_secs: u64) -> Result<Caller, Problem> {
    let caller =
        policy.caller(credential(request).as_deref(), now_secs).map_err(|refusal| refused(policy, refusal, None))?;
    if caller == Caller::Anonymous && !policy.admits_anonymous() {
        return Err(refused(policy, Refusal::Unauthenticated, None));
    }
    Ok(caller)
}

/// Checks that `caller` may run `op`: every access it needs, at every path.
pub fn authorize(policy: &Policy, caller: &Caller, op: &Op) -> Result<(), Problem> {
    for (access, pointer) in needs(op) {
        policy
            .allows(caller, access, &pointer)
            .map_err(|refusal| refused(policy, refusal, Some((access, &pointer))))?;
    }
    Ok(())
}

/// The bearer token `request` carries: `Authorization: Bearer …`, or else the query parameter
/// `auth` (Firebase's name), for clients that cannot set headers.
pub fn credential(request: &Request) -> Option<String> {
    if let Some(authorization) = request.header("authorization") {
        let (scheme, token) = authorization.trim().split_once(' ').unwrap_or((authorization.trim(), ""));
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned());
    }
    let query = request.target.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or_default();
    query.split('&').find_map(|pair| {
        let value = pair.strip_prefix("auth=")?;
        Some(percent_encoding::percent_decode_str(&value.replace('+', " ")).decode_utf8_lossy().into_owned())
    })
}

/// Each access `op` needs, and where: a read at its target for `GET` and `HEAD`; a
/// write at the target for `PUT`, `DELETE` and a merge patch, and at the new member for `POST`;
/// for a JSON Patch, a write at every path it changes and a read at every `from` and `test`
/// path.
pub fn needs(op: &Op) -> Vec<(Access, PointerBuf)> {
    let at = |access, pointer: &Pointer| (access, pointer.to_buf());
    match op {
        // `OPTIONS` tells nothing of the document: any caller the store admits may ask.
        Op::Options => Vec::new(),
        Op::Get(pointer) => vec![at(Access::Read, pointer)],
        Op::Put(pointer, _) | Op::MergePatch(pointer, _) | Op::Delete(pointer) => vec![at(Access::Write, pointer)],
        // The new member's name is not drawn yet: `-` stands for it, as a `$name` rule would.
        Op::Post(pointer, _) => vec![(Access::Write, pointer.with_trailing_token(crate::core::Token::new("-")))],
        Op::JsonPatch(pointer, patch) => {
            let within = |relative: &Pointer| pointer.concat(relative);
            let mut needs = Vec::new();
            for operation in &patch.operations {
                match operation {
                    PatchOperation::Add(op) => needs.push((Access::Write, within(&op.path))),
                    PatchOperation::Remove(op) => needs.push((Access::Write, within(&op.path))),
                    PatchOperation::Replace(op) => needs.push((Access::Write, within(&op.path))),
                    PatchOperation::Move(op) => {
                        needs.push((Access::Read, within(&op.from)));
                        needs.push((Access::Write, within(&op.from)));
                        needs.push((Access::Write, within(&op.path)));
                    }
                    PatchOperation::Copy(op) => {
                        needs.push((Access::Read, within(&op.from)));
                        needs.push((Access::Write, within(&op.path)));
                    }
                    PatchOperation::Test(op) => needs.push((Access::Read, within(&op.path))),
                }
            }
            needs
        }
    }
}

/// The problem for a refusal; `at` is the access refused and where, once the request is parsed.
fn refused(policy: &Policy, refusal: Refusal, at: Option<(Access, &Pointer)>) -> Problem {
    let what = |access: Access, pointer: &Pointer| {
        let verb = if access == Access::Read { "read" } else { "write" };
        format!("{verb} {}", path::render(pointer))
    };
    match refusal {
        Refusal::Unauthenticated if !policy.takes_credentials() && !policy.admits_anonymous() => Problem::new(
            401,
            "unauthorized",
            "Unauthorized",
            "this store is closed: no access is configured. Set write_token (and read_token) and send \
             Authorization: Bearer <token>, or set access to open to let anyone read and write (README, Access)",
        )
        .header("www-authenticate", CHALLENGE),
        Refusal::Unauthenticated => {
            let detail = match at {
                Some((access, pointer)) => format!("a credential is needed to {}", what(access, pointer)),
                None => "a credential is needed: send Authorization: Bearer <token> (or ?auth=<token>)".to_owned(),
            };
            Problem::new(401, "unauthorized", "Unauthorized", detail).header("www-authenticate", CHALLENGE)
        }
        Refusal::BadCredential(why) => {
            let detail = match why {
                Some(error) => format!("the token sent is not accepted: {error}"),
                None => "the credential sent is not one this store accepts".to_owned(),
            };
            Problem::new(401, "unauthorized", "Unauthorized", detail)
                .header("www-authenticate", format!("{CHALLENGE}, error=\"invalid_token\""))
        }
        Refusal::Forbidden => {
            let detail = match at {
                Some((access, pointer)) => format!("the credential sent does not allow to {}", what(access, pointer)),
                None => "the credential sent does not allow this".to_owned(),
            };
            let problem = Problem::new(403, "forbidden", "Forbidden", detail);
            match at {
                Some((_, pointer)) => problem.at(pointer),
                None => problem,
            }
        }
    }
}

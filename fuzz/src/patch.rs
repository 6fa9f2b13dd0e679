//! Merge patch and JSON Patch, applied two ways that must agree: by `core::patch` to the
//! document as a `Value`, and by `PATCH` to the same document in a store, where the layout
//! applies it to pages (or to the value a page holds inline).
//!
//! An input makes a document (or none), stores it with `PUT /`, and then one patch at a target
//! from the alphabet: a merge patch, or a JSON Patch (mostly well-formed operations, sometimes
//! any bytes). Checked:
//!
//! - a `PATCH` that fails leaves the stored document as it was (JSON Patch is all or nothing);
//! - the answer is the one the core's result calls for: 200 or 201 with the value the core
//!   made, 404, 409 naming the failed operation, 422 for an invalid patch, 400 for bad or too
//!   deep JSON;
//! - a merge patch applied again where the first one put its value changes nothing (RFC 7396
//!   patches are idempotent);
//! - `test` compares numbers by value: spellings of one number are the same, of another not.
//!
//! Numbers are compared by value ([`patch::same`]), since the store respells exponents.

use super::input::Input;
use super::json;
use super::requests::{Answers, Client, configs, parse, problem_kind, show_response};
use jsonstore::core::document::{self, Placed};
use jsonstore::core::json::{JsonError, validate};
use jsonstore::core::patch::{self, PatchError};
use jsonstore::core::{Pointer, path};
use jsonstore::service::Response;
use serde_json::Value;

/// Runs an input.
pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    let client = Client::new(input.choose(&configs()).clone(), Answers::Sound);
    if input.one_in(4) {
        numbers(&mut input);
    }
    if !input.one_in(8) {
        let document = json::value(&mut input, 4);
        let body = serde_json::to_vec(&document).expect("a Value always serializes");
        if !(200..300).contains(&client.send_json("PUT", "/", "application/json", &body).status) {
            return;
        }
    }
    let stored = client.value();
    let target = json::pointer(&mut input, 2);
    if input.one_in(2) {
        merge_patch(&mut input, &client, stored, &target);
    } else {
        json_patch(&mut input, &client, stored, &target);
    }
}

/// A merge patch at `target` of the document `stored`.
fn merge_patch(input: &mut Input<'_>, client: &Client, stored: Option<Value>, target: &Pointer) {
    let merge_patch = json::merge_patch(input);
    let body = json::text(input, &merge_patch);
    let response = client.send_json("PATCH", &path::render(target), "application/merge-patch+json", &body);
    let after = client.value();
    let fail = |what: &str| -> ! {
        panic!(
            "{what}\nstored: {}\nmerge patch at {target}: {}\n{}\nafter: {}",
            short(&stored),
            short(&merge_patch),
            show_response(&response),
            short(&after)
        )
    };
    if !(200..300).contains(&response.status) && after != stored {
        fail("a merge patch that failed changed the document");
    }
    // The body is checked before anything is read: its size, then its depth.
    let answer = (response.status, problem_kind(&response));
    let answer = (answer.0, answer.1.as_deref());
    if body.len() > client.config.body_bytes_max {
        if answer != (413, Some("body-too-large")) {
            fail("the body is too large");
        }
        return;
    }
    // The patch sits below its target's tokens, which count towards the limit too.
    if target.count() + document::depth(&merge_patch) > client.config.depth_max {
        if answer != (400, Some("too-deep")) {
            fail("the merge patch is too deep");
        }
        return;
    }
    let mut expected = stored.clone();
    match patch::apply_merge_patch(&mut expected, target, &merge_patch) {
        Ok((placed, location)) => {
            let mut again = expected.clone();
            match patch::apply_merge_patch(&mut again, &location, &merge_patch) {
                Ok(_) if same_document(&again, &expected) => {}
                other => fail(&format!("the merge patch again at {location} gave {other:?} and {}", short(&again))),
            }
            if too_deep(client, &response, &[expected.as_ref(), Some(&merge_patch)]) {
                return;
            }
            let status = if placed == Placed::Created { 201 } else { 200 };
            check_patched(&response, status, &after, &expected, &location).unwrap_or_else(|what| fail(&what));
            if response.header("content-location") != Some(path::render(&location).as_str()) {
                fail(&format!("the core put the value at {location}"));
            }
        }
        Err(conflict) => {
            if answer != (409, Some("conflict")) {
                fail(&format!("the core found a conflict at {}", conflict.at));
            }
        }
    }
}

/// A JSON Patch at `target` of the document `stored`: operations, or now and then any bytes.
fn json_patch(input: &mut Input<'_>, client: &Client, stored: Option<Value>, target: &Pointer) {
    let body = if input.one_in(8) {
        input.bytes(256).to_vec()
    } else {
        let operations = json::json_patch(input);
        json::text(input, &operations)
    };
    let response = client.send_json("PATCH", &path::render(target), "application/json-patch+json", &body);
    let after = client.value();
    let fail = |what: &str| -> ! {
        panic!(
            "{what}\nstored: {}\nJSON Patch at {target}: {}\n{}\nafter: {}",
            short(&stored),
            short(&String::from_utf8_lossy(&body)),
            show_response(&response),
            short(&after)
        )
    };
    if !(200..300).contains(&response.status) && after != stored {
        fail("a JSON Patch that failed changed the document");
    }
    let answer = (response.status, problem_kind(&response));
    let answer = (answer.0, answer.1.as_deref());
    if body.len() > client.config.body_bytes_max {
        if answer != (413, Some("body-too-large")) {
            fail("the body is too large");
        }
        return;
    }
    let operations = match validate(&body, client.config.depth_max) {
        Err(JsonError::TooDeep { .. }) if answer == (400, Some("too-deep")) => return,
        Err(JsonError::Syntax { .. }) if answer == (400, Some("bad-json")) => return,
        Err(error) => fail(&format!("the body is not acceptable JSON: {error:?}")),
        Ok(()) => match patch::parse_json_patch(&body, client.config.patch_operations_max, bounds(client)) {
            Ok(operations) => operations,
            Err(PatchError::Invalid { .. }) if answer == (422, Some("invalid-patch")) => return,
            Err(PatchError::TooManyOperations { .. }) if answer == (413, Some("too-many-operations")) => return,
            Err(error) => fail(&format!("the core did not parse the patch: {error:?}")),
        },
    };
    let mut expected = stored.clone();
    match patch::apply_json_patch(&mut expected, 0, target, &operations) {
        Ok(()) => {
            if !too_deep(client, &response, &[expected.as_ref()]) {
                check_patched(&response, 200, &after, &expected, target).unwrap_or_else(|what| fail(&what));
            }
        }
        Err(PatchError::NotFound) if answer == (404, Some("not-found")) => {}
        Err(PatchError::TooLarge { .. }) if answer == (413, Some("patch-too-large")) => {}
        Err(PatchError::TooDeep { .. }) if answer == (400, Some("too-deep")) => {}
        Err(PatchError::Failed { operation, .. })
            if answer == (409, Some("patch-failed"))
                && parse(&response.body).is_ok_and(|problem| problem["operation"] == operation) => {}
        Err(error) => fail(&format!("the core failed with {error:?}")),
    }
}

/// The bounds a JSON Patch is applied within under `client`'s configuration.
fn bounds(client: &Client) -> patch::Bounds {
    patch::Bounds { depth_max: client.config.depth_max, bytes_max: client.config.patch_bytes_max }
}

/// Whether the answer is 400 `too-deep` and one of `values` is deeper than the limit, which
/// the core does not check.
fn too_deep(client: &Client, response: &Response, values: &[Option<&Value>]) -> bool {
    let deep = values.iter().flatten().any(|value| document::depth(value) > client.config.depth_max);
    deep && response.status == 400 && problem_kind(response).as_deref() == Some("too-deep")
}

/// Checks a patch's answer against the core's result `expected`: the status, the value at
/// `location` as the body, and the stored document.
fn check_patched(
    response: &Response,
    status: u16,
    after: &Option<Value>,
    expected: &Option<Value>,
    location: &Pointer,
) -> Result<(), String> {
    if response.status != status {
        return Err(format!("the core patched the document to {}, which answers {status}", short(expected)));
    }
    if !same_document(after, expected) {
        return Err(format!("the core patched the document to {}", short(expected)));
    }
    let value = document::get(expected.as_ref(), location);
    match (parse(&response.body), value) {
        (Ok(body), Some(value)) if patch::same(&body, value) => Ok(()),
        _ => Err(format!("the core has {} at {location}", short(&value))),
    }
}

/// `value` as JSON for a failure message, cut short.
fn short(value: &impl serde::Serialize) -> String {
    let json = serde_json::to_string(value).expect("serializes");
    match json.char_indices().nth(400) {
        Some((at, _)) => format!("{}... ({} bytes)", &json[..at], json.len()),
        None => json,
    }
}

fn same_document(a: &Option<Value>, b: &Option<Value>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => patch::same(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// Checks [`patch::same`] on numbers: several spellings of one value are the same (and the
/// same both ways), and a value one unit off in the last digit is not.
fn numbers(input: &mut Input<'_>) {
    let digits: String = (0..1 + input.below(24)).map(|_| char::from(b'0' + input.byte() % 10)).collect();
    let digits = digits.trim_start_matches('0');
    let digits = if digits.is_empty() { "7" } else { digits };
    let exponent = i64::from(i32::from_le_bytes([input.byte(), input.byte(), input.byte(), input.byte()]) >> 8);
    let sign = if input.one_in(2) { "-" } else { "" };
    let len = i64::try_from(digits.len()).expect("a short string");
    let cut = 1 + input.below(digits.len());
    let spellings = [
        format!("{sign}{digits}e{exponent}"),
        format!("{sign}{digits}0E{}", exponent - 1),
        format!("{sign}0.{digits}e{:+}", exponent + len),
        format!(
            "{sign}{}.{}00e{}",
            &digits[..cut],
            &digits[cut..],
            exponent + len - i64::try_from(cut).expect("short")
        ),
    ];
    let number = |text: &str| -> Value { serde_json::from_str(text).unwrap_or_else(|_| panic!("{text} is JSON")) };
    let first = number(&spellings[0]);
    for spelling in &spellings {
        let other = number(spelling);
        assert!(
            patch::same(&first, &other) && patch::same(&other, &first),
            "{} and {spelling} are equal",
            spellings[0]
        );
    }
    let last = digits.as_bytes()[digits.len() - 1];
    let off = format!(
        "{sign}{}{}e{exponent}",
        &digits[..digits.len() - 1],
        char::from(if last == b'9' { b'8' } else { last + 1 })
    );
    assert!(!patch::same(&first, &number(&off)), "{} and {off} differ", spellings[0]);
}

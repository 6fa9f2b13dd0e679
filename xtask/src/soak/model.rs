//! What a soak worker knows of its own subtree (`/w/<n>`): the value of each slot and the
//! entries of its log, as the server acknowledged them.
//!
//! The model is exact because one worker alone writes its subtree, one request at a time: each
//! acknowledged write decides the slot's next value, which is computed here from the RFCs
//! (merge patch, JSON Patch) and the README rather than taken from the answer, so a wrong answer
//! shows too. A write whose answer never came (in flight when the server was killed) leaves the
//! slot with both possible values, each marked with how many such writes it applied, until a
//! read says which one the server kept: any other value read is a lost or a phantom write.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// How many slots (`/w/<n>/k<i>`) each worker writes.
pub const SLOTS: usize = 8;

/// A write to one slot.
#[derive(Clone, Debug)]
pub enum Write {
    /// `PUT` of the value.
    Put(Value),
    /// `PUT` with `If-Match` and the tag just read: only over that value.
    PutIfMatch(Value),
    /// `PUT` with `If-None-Match: *`: only where nothing is.
    PutIfNoneMatch(Value),
    /// `PATCH` with a merge patch (RFC 7396).
    Merge(Value),
    /// `PATCH` with a JSON Patch (RFC 6902) whose operations name members of the slot's value.
    JsonPatch(Value),
    /// `DELETE`.
    Delete,
}

/// What a write does to a slot.
#[derive(Debug, PartialEq)]
pub enum Effect {
    /// It succeeds with this status and leaves this value (`None`: nothing).
    Written(u16, Option<Value>),
    /// It fails with one of these statuses and changes nothing.
    Refused(&'static [u16]),
}

impl Write {
    /// What the write does to a slot holding `before` (`None`: nothing there).
    pub fn effect(&self, before: Option<&Value>) -> Effect {
        let created_or_replaced = if before.is_some() { 200 } else { 201 };
        match (self, before) {
            (Write::Put(value), _) => Effect::Written(created_or_replaced, Some(value.clone())),
            (Write::PutIfMatch(value), Some(_)) => Effect::Written(200, Some(value.clone())),
            (Write::PutIfNoneMatch(value), None) => Effect::Written(201, Some(value.clone())),
            (Write::PutIfMatch(_), None) | (Write::PutIfNoneMatch(_), Some(_)) => Effect::Refused(&[412]),
            (Write::Merge(patch), before) => Effect::Written(created_or_replaced, Some(merge(before, patch))),
            (Write::JsonPatch(patch), Some(before)) => match json_patch(before, patch) {
                Some(after) => Effect::Written(200, Some(after)),
                None => Effect::Refused(&[409]),
            },
            (Write::JsonPatch(_), None) | (Write::Delete, None) => Effect::Refused(&[404]),
            (Write::Delete, Some(_)) => Effect::Written(204, None),
        }
    }
}

impl std::fmt::Display for Write {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (what, body) = match self {
            Write::Put(value) => ("PUT", Some(value)),
            Write::PutIfMatch(value) => ("PUT with If-Match", Some(value)),
            Write::PutIfNoneMatch(value) => ("PUT with If-None-Match: *", Some(value)),
            Write::Merge(patch) => ("the merge patch", Some(patch)),
            Write::JsonPatch(patch) => ("the JSON Patch", Some(patch)),
            Write::Delete => ("DELETE", None),
        };
        match body {
            Some(body) => write!(formatter, "{what} {}", show(Some(body))),
            None => write!(formatter, "{what}"),
        }
    }
}

/// RFC 7396: the merge patch `patch` applied to `target`.
fn merge(target: Option<&Value>, patch: &Value) -> Value {
    let Value::Object(patch) = patch else { return patch.clone() };
    let mut merged = match target {
        Some(Value::Object(target)) => target.clone(),
        _ => Map::new(),
    };
    for (name, value) in patch {
        if value.is_null() {
            merged.remove(name);
        } else {
            let value = merge(merged.get(name), value);
            merged.insert(name.clone(), value);
        }
    }
    Value::Object(merged)
}

/// RFC 6902 for the operations the workers send (`test`, `add`, `replace`, `remove` of a member
/// `/name` of an object): the patched value, or `None` when an operation fails.
fn json_patch(target: &Value, patch: &Value) -> Option<Value> {
    let mut value = target.clone();
    for operation in patch.as_array().expect("the workers send arrays") {
        let member = operation["path"].as_str().and_then(|path| path.strip_prefix('/')).expect("a member path");
        let object = value.as_object_mut()?;
        match operation["op"].as_str() {
            Some("test") if object.get(member) != Some(&operation["value"]) => return None,
            Some("test") => {}
            Some("add") => {
                object.insert(member.to_owned(), operation["value"].clone());
            }
            Some("replace") => *object.get_mut(member)? = operation["value"].clone(),
            Some("remove") => {
                object.remove(member)?;
            }
            other => unreachable!("the workers send no {other:?} operation"),
        }
    }
    Some(value)
}

/// How the writes whose outcome was unknown turned out, as reads told.
#[derive(Clone, Copy, Debug, Default)]
pub struct Resolved {
    /// Writes the server had applied.
    pub applied: u64,
    /// Writes it had not.
    pub not_applied: u64,
}

impl Resolved {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: Resolved) {
        self.applied += other.applied;
        self.not_applied += other.not_applied;
    }
}

/// One value a slot may hold, and how many of the writes with unknown outcomes it applied.
#[derive(Clone, Debug)]
struct Candidate {
    value: Option<Value>,
    applied: u64,
}

/// The values one slot may hold: one, unless writes with unknown outcomes are pending.
#[derive(Debug)]
pub struct Slot {
    candidates: Vec<Candidate>,
    unknown: u64,
}

/// More possible values than this, after many unknown outcomes in a row, are not worth tracking:
/// the run has failed by then (such outcomes are failures outside a kill).
const CANDIDATES_MAX: usize = 64;

impl Slot {
    fn empty() -> Slot {
        Slot { candidates: vec![Candidate { value: None, applied: 0 }], unknown: 0 }
    }

    /// A value the slot may hold now, for writes that build on it.
    pub fn likely(&self) -> Option<&Value> {
        self.candidates[0].value.as_ref()
    }

    /// The server acknowledged `write` with `status` and, unless it answered without one, the
    /// value `answer`. Errs when no value the slot may hold leads there.
    pub fn acknowledged(&mut self, write: &Write, status: u16, answer: Option<&Value>) -> Result<(), String> {
        let mut next = Vec::new();
        let mut any_success = Vec::new();
        for candidate in &self.candidates {
            if let Effect::Written(expected, value) = write.effect(candidate.value.as_ref()) {
                let next_candidate = Candidate { value, applied: candidate.applied };
                if expected == status && answer.is_none_or(|answer| Some(answer) == next_candidate.value.as_ref()) {
                    next.push(next_candidate.clone());
                }
                any_success.push(next_candidate);
            }
        }
        if next.is_empty() {
            let answer = answer.map_or_else(|| "no body".to_owned(), |answer| show(Some(answer)));
            let error = format!("answered {status} with {answer}, where {}", self.expected(write));
            // Go on from what the model says the write did, so that one error is reported once.
            if !any_success.is_empty() {
                self.candidates = dedup(any_success);
            }
            return Err(error);
        }
        self.candidates = dedup(next);
        Ok(())
    }

    /// The server refused `write` with `status`, so nothing changed. Errs when every value the
    /// slot may hold says it should have succeeded, or failed otherwise.
    pub fn refused(&mut self, write: &Write, status: u16) -> Result<(), String> {
        let refusing = |candidate: &Candidate| matches!(write.effect(candidate.value.as_ref()), Effect::Refused(statuses) if statuses.contains(&status));
        let kept: Vec<Candidate> = self.candidates.iter().filter(|candidate| refusing(candidate)).cloned().collect();
        if kept.is_empty() {
            return Err(format!("answered {status}, where {}", self.expected(write)));
        }
        self.candidates = kept;
        Ok(())
    }

    /// What the model expects `write` to do, in words.
    fn expected(&self, write: &Write) -> String {
        let effects: Vec<String> = self
            .candidates
            .iter()
            .map(|candidate| match write.effect(candidate.value.as_ref()) {
                Effect::Written(status, value) => format!("{status} leaving {}", show(value.as_ref())),
                Effect::Refused(statuses) => format!("{statuses:?} changing nothing"),
            })
            .collect();
        format!("the acknowledged writes say {} (it sent {write})", effects.join(" or "))
    }

    /// `write` may or may not have happened.
    pub fn unknown(&mut self, write: &Write) {
        let mut next = self.candidates.clone();
        for candidate in &self.candidates {
            if let Effect::Written(_, value) = write.effect(candidate.value.as_ref()) {
                next.push(Candidate { value, applied: candidate.applied + 1 });
            }
        }
        next.truncate(CANDIDATES_MAX);
        self.candidates = dedup(next);
        self.unknown += 1;
    }

    /// The server holds `actual` in the slot. Errs (a lost or a phantom write) unless the model
    /// allows it; either way the slot holds just that from now on (so that one difference is
    /// reported once), and the pending unknown writes are resolved.
    pub fn read(&mut self, actual: Option<&Value>) -> Result<Resolved, String> {
        let Some(found) = self.candidates.iter().find(|candidate| candidate.value.as_ref() == actual).cloned() else {
            let error = format!(
                "read {}, where the acknowledged writes leave {}",
                show(actual),
                self.candidates.iter().map(|candidate| show(candidate.value.as_ref())).collect::<Vec<_>>().join(" or ")
            );
            self.candidates = vec![Candidate { value: actual.cloned(), applied: 0 }];
            self.unknown = 0;
            return Err(error);
        };
        let resolved = Resolved { applied: found.applied, not_applied: self.unknown - found.applied };
        self.candidates = vec![Candidate { value: found.value, applied: 0 }];
        self.unknown = 0;
        Ok(resolved)
    }
}

/// `candidates` without repeated values, keeping the first (fewest unknown writes applied).
fn dedup(candidates: Vec<Candidate>) -> Vec<Candidate> {
    let mut kept: Vec<Candidate> = Vec::new();
    for candidate in candidates {
        if !kept.iter().any(|other| other.value == candidate.value) {
            kept.push(candidate);
        }
    }
    kept
}

/// A value in a failure message: its JSON, shortened past [`SHOWN_CHARS_MAX`], or "nothing".
fn show(value: Option<&Value>) -> String {
    let Some(value) = value else { return "nothing".to_owned() };
    let text = value.to_string();
    match text.char_indices().nth(SHOWN_CHARS_MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

/// How much of a value a failure message shows.
const SHOWN_CHARS_MAX: usize = 100;

/// The entries of a log (an object that POSTs add to under push IDs) acknowledged to its writers,
/// and the values of the POSTs whose outcome is unknown.
#[derive(Debug, Default)]
pub struct Log {
    /// Entries by push ID.
    pub acknowledged: BTreeMap<String, Value>,
    /// Values that may or may not have been added.
    pub unknown: Vec<Value>,
}

impl Log {
    /// The log holds `actual` (`None`: nothing yet). Every acknowledged entry must be there with
    /// its value, and every other entry must be a POST with an unknown outcome, once; the
    /// unknown ones are resolved (no request that could still add them is in flight).
    pub fn read(&mut self, actual: Option<&Map<String, Value>>, name: &str) -> (Resolved, Vec<String>) {
        let empty = Map::new();
        let actual = actual.unwrap_or(&empty);
        let mut errors = Vec::new();
        for (id, value) in &self.acknowledged {
            match actual.get(id) {
                Some(found) if found == value => {}
                found => errors.push(format!("{name}: lost {id}: {}, found {}", show(Some(value)), show(found))),
            }
        }
        let mut resolved = Resolved::default();
        for (id, value) in actual {
            if self.acknowledged.get(id) == Some(value) {
                continue;
            }
            if let Some(at) = self.unknown.iter().position(|unknown| unknown == value) {
                self.unknown.swap_remove(at);
                self.acknowledged.insert(id.clone(), value.clone());
                resolved.applied += 1;
            } else if !self.acknowledged.contains_key(id) {
                errors.push(format!("{name}: phantom {id}: {value} (no acknowledged or unanswered POST sent it)"));
            }
        }
        resolved.not_applied += self.unknown.len() as u64;
        self.unknown.clear();
        (resolved, errors)
    }
}

/// A worker's subtree: its slots and its log (`/w/<n>/log`).
#[derive(Debug)]
pub struct Subtree {
    /// Slot `i` is `/w/<n>/k<i>`.
    pub slots: Vec<Slot>,
    /// `/w/<n>/log`.
    pub log: Log,
}

impl Subtree {
    /// An empty subtree, as the soak starts with.
    pub fn new() -> Subtree {
        Subtree { slots: (0..SLOTS).map(|_| Slot::empty()).collect(), log: Log::default() }
    }

    /// The server holds `actual` at the subtree: checks every slot and the log, and that there is
    /// nothing else; the errors are lost or phantom values.
    pub fn read(&mut self, actual: &Value, name: &str) -> (Resolved, Vec<String>) {
        let mut resolved = Resolved::default();
        let mut errors = Vec::new();
        let Some(actual) = actual.as_object() else {
            return (resolved, vec![format!("{name} is not an object: {actual}")]);
        };
        for (index, slot) in self.slots.iter_mut().enumerate() {
            match slot.read(actual.get(&format!("k{index}"))) {
                Ok(slot) => resolved.add(slot),
                Err(error) => errors.push(format!("{name}/k{index}: {error}")),
            }
        }
        let log = match actual.get("log") {
            None => None,
            Some(Value::Object(log)) => Some(log),
            Some(other) => {
                errors.push(format!("{name}/log is not an object: {other}"));
                None
            }
        };
        let (log, log_errors) = self.log.read(log, &format!("{name}/log"));
        resolved.add(log);
        errors.extend(log_errors);
        for member in actual.keys() {
            let known = member == "log" || (0..SLOTS).any(|index| *member == format!("k{index}"));
            if !known {
                errors.push(format!("{name}/{member}: phantom member"));
            }
        }
        (resolved, errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        assert_eq!(merge(None, &json!({"a": 1, "b": null})), json!({"a": 1}));
        assert_eq!(merge(Some(&json!(5)), &json!({"a": {"b": null}})), json!({"a": {}}));
        assert_eq!(merge(Some(&json!({"a": 1, "b": 2})), &json!({"b": null, "c": 3})), json!({"a": 1, "c": 3}));
    }

    #[test]
    fn a_json_patch_is_all_or_nothing() {
        let patch = json!([{"op": "add", "path": "/j", "value": 1}, {"op": "remove", "path": "/m"}]);
        assert_eq!(Write::JsonPatch(patch.clone()).effect(Some(&json!({"v": 1}))), Effect::Refused(&[409]));
        assert_eq!(Write::JsonPatch(patch).effect(Some(&json!({"m": 1}))), Effect::Written(200, Some(json!({"j": 1}))));
    }

    #[test]
    fn an_unknown_write_is_resolved_by_a_read() {
        let mut slot = Slot::empty();
        slot.acknowledged(&Write::Put(json!(1)), 201, Some(&json!(1))).unwrap();
        slot.unknown(&Write::Put(json!(2)));
        slot.unknown(&Write::Delete);
        let resolved = slot.read(Some(&json!(2))).unwrap();
        assert_eq!((resolved.applied, resolved.not_applied), (1, 1));
        assert!(slot.read(Some(&json!(1))).is_err(), "after the read, an older value is a lost write");
        assert!(slot.read(Some(&json!(1))).is_ok(), "a difference is reported once");
        assert!(slot.read(Some(&json!(3))).is_err(), "a value no write made is a phantom");
    }

    #[test]
    fn a_log_entry_is_acknowledged_or_unknown_once() {
        let mut log = Log::default();
        log.acknowledged.insert("a".into(), json!(1));
        log.unknown.push(json!(2));
        let actual = json!({"a": 1, "b": 2, "c": 2});
        let (resolved, errors) = log.read(actual.as_object(), "log");
        assert_eq!(resolved.applied, 1);
        assert_eq!(errors.len(), 1, "the second 2 is a phantom: {errors:?}");
        let (_, errors) = log.read(json!({}).as_object(), "log");
        assert_eq!(errors.len(), 2, "both acknowledged entries are lost: {errors:?}");
    }
}

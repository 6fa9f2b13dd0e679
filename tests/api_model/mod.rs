//! A plain `serde_json::Value` model of the whole HTTP API, for tests to check JSONStore's
//! answers against.
//!
//! It is written from the RFCs (6901 pointers, 7396 merge patch, 6902 JSON Patch, 9110
//! conditions) and the README, and never calls `jsonstore::core`: a model that ran the code it
//! checks would agree with every bug. Where the README leaves a choice open, the model follows
//! the choice the implementation documents, and says so.
//!
//! The model cannot compute entity tags, so it checks what it can know: a tag names one value
//! (two values never share one), a value read again with no write in between has the same tag,
//! which conditions then match, and a condition is false when its tag names another value than
//! the one there now, or no value at all. A push ID is learned from the answer that made it.

#![allow(dead_code)]

use jsonstore::service::{Request, Response};
use serde_json::{Map, Value, json};

/// A JSON Pointer, as its decoded tokens.
pub type Path = Vec<String>;

/// One request, in the model's terms.
#[derive(Debug, Clone)]
pub struct Action {
    /// What the request does.
    pub method: Method,
    /// The URL path, as a pointer.
    pub path: Path,
    /// A conditional header and the tag it carries.
    pub condition: Option<(Header, Tag)>,
    /// Whether the request sends `Prefer: return=minimal`.
    pub minimal: bool,
}

/// What a request does, with its body.
#[derive(Debug, Clone)]
pub enum Method {
    /// `GET`.
    Get,
    /// `PUT` of a value.
    Put(Value),
    /// `POST` of a value.
    Post(Value),
    /// `DELETE`.
    Delete,
    /// `PATCH` with a JSON Merge Patch.
    MergePatch(Value),
    /// `PATCH` with a JSON Patch: its operation objects, valid or not.
    JsonPatch(Vec<Value>),
}

/// The conditional headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// `If-Match`.
    IfMatch,
    /// `If-None-Match`.
    IfNoneMatch,
}

/// The tag a condition carries, before [`Model::prepare`] turns it into the header's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tag {
    /// `*`.
    Star,
    /// The tag of a `GET` of the same path sent just before.
    Fresh,
    /// The weak form (`W/"…"`) of a fresh tag.
    WeakFresh,
    /// A tag some earlier answer carried, picked by number among those seen.
    Seen(usize),
    /// A tag no answer ever carried.
    MadeUp,
    /// The header's text.
    Text(String),
}

impl Action {
    /// An unconditional action.
    pub fn new(method: Method, path: Path) -> Action {
        Action { method, path, condition: None, minimal: false }
    }

    /// `GET` of `path`.
    pub fn get(path: &[String]) -> Action {
        Action::new(Method::Get, path.to_vec())
    }

    /// Whether the action writes.
    pub fn is_write(&self) -> bool {
        !matches!(self.method, Method::Get)
    }

    /// The request, once [`Model::prepare`] has resolved its tag.
    pub fn request(&self) -> Request {
        let (method, media_type, body) = match &self.method {
            Method::Get => ("GET", None, None),
            Method::Put(value) => ("PUT", Some("application/json"), Some(value.to_string())),
            Method::Post(value) => ("POST", Some("application/json"), Some(value.to_string())),
            Method::Delete => ("DELETE", None, None),
            Method::MergePatch(patch) => ("PATCH", Some("application/merge-patch+json"), Some(patch.to_string())),
            Method::JsonPatch(operations) => {
                ("PATCH", Some("application/json-patch+json"), Some(Value::Array(operations.clone()).to_string()))
            }
        };
        let mut headers = Vec::new();
        if let Some(media_type) = media_type {
            headers.push(("content-type".to_owned(), media_type.to_owned()));
        }
        if let Some((header, tag)) = &self.condition {
            let name = match header {
                Header::IfMatch => "if-match",
                Header::IfNoneMatch => "if-none-match",
            };
            let text = match tag {
                Tag::Star => "*".to_owned(),
                Tag::Text(text) => text.clone(),
                unresolved => panic!("the tag {unresolved:?} is not resolved: call Model::prepare first"),
            };
            headers.push((name.to_owned(), text));
        }
        if self.minimal {
            headers.push(("prefer".to_owned(), "return=minimal".to_owned()));
        }
        Request { method: method.into(), target: render(&self.path), headers, body: body.unwrap_or_default().into() }
    }

    /// The request as one line, for failure messages.
    pub fn describe(&self) -> String {
        let request = self.request();
        let headers: Vec<String> = request.headers.iter().map(|(name, value)| format!("{name}: {value}")).collect();
        format!(
            "{} {} [{}] {}",
            request.method,
            request.target,
            headers.join(", "),
            String::from_utf8_lossy(&request.body)
        )
    }
}

/// The URL path of a pointer: `/` for the root, each token escaped as RFC 6901 says. The tokens
/// tests use need no percent-encoding.
pub fn render(path: &[String]) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    path.iter().map(|token| format!("/{}", token.replace('~', "~0").replace('/', "~1"))).collect()
}

/// A JSON Patch operation object with every member an operation may have; each operation
/// reads the ones it needs and ignores the others, as RFC 6902 says.
pub fn patch_operation(op: &str, path: &[String], from: &[String], value: Value) -> Value {
    json!({"op": op, "path": pointer_text(path), "from": pointer_text(from), "value": value})
}

/// `value` with every natural number spelled the `spelling`th way: as written, `7.0`, `0.7e1`
/// or `7e0`. Equal by value, as JSON Patch `test` compares numbers.
pub fn respell(value: &Value, spelling: usize) -> Value {
    match value {
        Value::Number(number) => {
            let text = number.to_string();
            let spelled = match spelling {
                _ if !text.bytes().all(|byte| byte.is_ascii_digit()) => text,
                1 => format!("{text}.0"),
                2 => format!("0.{text}e{}", text.len()),
                3 => format!("{text}e0"),
                _ => text,
            };
            serde_json::from_str(&spelled).expect("a number")
        }
        Value::Array(items) => Value::Array(items.iter().map(|item| respell(item, spelling)).collect()),
        Value::Object(members) => {
            Value::Object(members.iter().map(|(name, member)| (name.clone(), respell(member, spelling))).collect())
        }
        other => other.clone(),
    }
}

/// The JSON Pointer text of a path: `""` for the root.
pub fn pointer_text(path: &[String]) -> String {
    path.iter().map(|token| format!("/{}", token.replace('~', "~0").replace('/', "~1"))).collect()
}

/// The document as the API should hold it, and what the answers so far taught about tags.
#[derive(Debug, Clone, Default)]
pub struct Model {
    doc: Option<Value>,
    /// Whether a key budget may refuse writes with 507.
    budget: bool,
    /// Every tag an answer carried, with the value it named there.
    seen: Vec<Seen>,
    /// The last push ID an answer named.
    last_key: Option<String>,
}

/// A tag an answer carried for the value at a path.
#[derive(Debug, Clone)]
struct Seen {
    tag: String,
    value: Value,
    path: Path,
    /// Whether no write has committed since, so that the value at `path` still has this tag.
    /// A tag is a hash of how the value is stored, and a write that replaces the value's parent
    /// whole may store it anew, split into pages differently (README, "Conditional requests");
    /// a write elsewhere keeps it (`a_write_elsewhere_keeps_the_tag_of_an_unchanged_value` in
    /// `tests/model.rs`).
    fresh: bool,
}

/// Whether a condition holds, as far as the model can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Truth {
    True,
    False,
    /// The tag names the value there now, but was seen at another path or before a write:
    /// it may or may not be the tag of the value there now.
    Unknown,
}

/// What a write that passed its conditions should answer, and the document after it.
#[derive(Debug, Clone)]
enum Outcome {
    Done {
        status: u16,
        /// The JSON body; `None` for none.
        body: Option<Value>,
        /// The `Location` header's pointer.
        location: Option<Path>,
        /// Where the value the `ETag` names is, and that value.
        tagged: Option<(Path, Value)>,
        doc: Option<Value>,
    },
    Refused {
        status: u16,
        kind: &'static str,
        /// The JSON Patch operation to blame.
        operation: Option<usize>,
    },
}

impl Model {
    /// A model of an empty store; with `budget`, any write may be refused with 507.
    pub fn new(budget: bool) -> Model {
        Model { budget, ..Model::default() }
    }

    /// The document, `None` when the store holds none.
    pub fn document(&self) -> Option<&Value> {
        self.doc.as_ref()
    }

    /// The value at `path`.
    pub fn value_at(&self, path: &[String]) -> Option<&Value> {
        get(self.doc.as_ref(), path)
    }

    /// A path to a value in the document below `under` (relative to it), walked down by
    /// `choice`: at each level it stops or goes on into one of the members or elements.
    pub fn existing_path(&self, under: &[String], mut choice: u64) -> Path {
        let mut path = Vec::new();
        let mut value = self.value_at(under);
        while let Some(collection) = value {
            let tokens: Vec<String> = match collection {
                Value::Object(members) => members.keys().cloned().collect(),
                Value::Array(items) => (0..items.len()).map(|index| index.to_string()).collect(),
                _ => break,
            };
            if tokens.is_empty() || choice.is_multiple_of(3) {
                break;
            }
            choice /= 3;
            let token = tokens[(choice % tokens.len() as u64) as usize].clone();
            choice /= tokens.len() as u64;
            value = get(Some(collection), std::slice::from_ref(&token));
            path.push(token);
        }
        path
    }

    /// Resolves the action's tag into header text. A fresh tag is the tag of a `GET` sent with
    /// `send` (and checked) just before; when there is no value, a made-up one.
    pub fn prepare(&mut self, mut action: Action, send: impl FnOnce(&Request) -> Response) -> Result<Action, String> {
        let Some((header, tag)) = action.condition.take() else { return Ok(action) };
        let fresh = || -> Result<Option<String>, String> {
            let get = Action::get(&action.path);
            let response = send(&get.request());
            self.check(&get, &response)?;
            Ok(response.header("etag").filter(|_| response.status == 200).map(str::to_owned))
        };
        let text = match tag {
            Tag::Star => "*".to_owned(),
            Tag::Fresh => fresh()?.unwrap_or_else(made_up),
            Tag::WeakFresh => format!("W/{}", fresh()?.unwrap_or_else(made_up)),
            Tag::Seen(index) => match self.seen.len() {
                0 => made_up(),
                seen => self.seen[index % seen].tag.clone(),
            },
            Tag::MadeUp => made_up(),
            Tag::Text(text) => text,
        };
        action.condition = Some((header, Tag::Text(text)));
        Ok(action)
    }

    /// Checks the answer to `action` (any answer but a failure of the store) and takes its
    /// effect.
    pub fn check(&mut self, action: &Action, response: &Response) -> Result<(), String> {
        self.check_answer(action, response).map_err(|problem| self.failure(action, response, &problem))
    }

    /// Takes the effect of `action`, answered by a failure of the store, from the document
    /// `now` read back afterwards: it must be the document before the request, or after it.
    pub fn settle(&mut self, action: &Action, response: &Response, now: Option<&Value>) -> Result<(), String> {
        self.settle_answer(action, response, now).map_err(|problem| {
            let now = now.map_or("no document".to_owned(), Value::to_string);
            self.failure(action, response, &format!("{problem}\nthe document now: {now}"))
        })
    }

    fn failure(&self, action: &Action, response: &Response, problem: &str) -> String {
        let doc = self.doc.as_ref().map_or("no document".to_owned(), Value::to_string);
        format!(
            "{problem}\nrequest: {}\nanswer: {} {:?} {}\nthe model's document: {doc}",
            action.describe(),
            response.status,
            response.headers,
            String::from_utf8_lossy(&response.body)
        )
    }

    fn check_answer(&mut self, action: &Action, response: &Response) -> Result<(), String> {
        if let Method::JsonPatch(operations) = &action.method
            && let Err(index) = parse_patch(operations)
        {
            return expect_problem(response, 422, "invalid-patch", Some(index));
        }
        if !action.is_write() {
            return self.check_read(action, response);
        }
        if self.budget && response.status == 507 {
            return expect_problem(response, 507, "insufficient-storage", None);
        }
        match self.condition(action) {
            Truth::False => return expect_problem(response, 412, "precondition-failed", None),
            Truth::Unknown if response.status == 412 => {
                return expect_problem(response, 412, "precondition-failed", None);
            }
            Truth::True | Truth::Unknown => {}
        }
        let key = match self.needs_key(action) {
            true => Some(self.key_in(response)?),
            false => None,
        };
        if let (Some(key), Some(Value::Object(members))) = (&key, self.value_at(&action.path))
            && members.contains_key(key)
        {
            return Err(format!("the POST named {key}, a key already there"));
        }
        match self.apply(action, key.as_deref()) {
            Outcome::Refused { status, kind, operation } => expect_problem(response, status, kind, operation),
            Outcome::Done { status, body, location, tagged, doc } => {
                expect_status(response, status)?;
                let minimal = action.minimal && matches!(status, 200 | 201);
                if minimal {
                    expect_body(response, None)?;
                    if response.header("preference-applied") != Some("return=minimal") {
                        return Err("a minimal answer does not say Preference-Applied: return=minimal".into());
                    }
                } else {
                    expect_body(response, body.as_ref())?;
                }
                let expected_location = location.as_deref().map(render);
                if response.header("location") != expected_location.as_deref() {
                    return Err(format!("Location should be {expected_location:?}"));
                }
                self.doc = doc;
                self.written();
                if let Some((path, value)) = tagged {
                    let tag = response.header("etag").ok_or("the answer has no ETag")?;
                    self.learn(&path, tag, &value)?;
                }
                Ok(())
            }
        }
    }

    fn check_read(&mut self, action: &Action, response: &Response) -> Result<(), String> {
        let Some(value) = self.value_at(&action.path).cloned() else {
            return expect_problem(response, 404, "not-found", None);
        };
        let (header, truth) = match &action.condition {
            Some((header, Tag::Text(text))) => (Some(*header), self.matches(*header, text, &action.path)),
            Some((header, Tag::Star)) => (Some(*header), Truth::True),
            Some((_, unresolved)) => return Err(format!("the tag {unresolved:?} is not resolved")),
            None => (None, Truth::False),
        };
        let not_modified = match (header, truth) {
            (Some(Header::IfMatch), Truth::False) => {
                return expect_problem(response, 412, "precondition-failed", None);
            }
            (Some(Header::IfMatch), Truth::Unknown) if response.status == 412 => {
                return expect_problem(response, 412, "precondition-failed", None);
            }
            (Some(Header::IfNoneMatch), Truth::True) => true,
            (Some(Header::IfNoneMatch), Truth::Unknown) => response.status == 304,
            _ => false,
        };
        if not_modified {
            expect_status(response, 304)?;
            expect_body(response, None)?;
        } else {
            expect_status(response, 200)?;
            expect_body(response, Some(&value))?;
        }
        let tag = response.header("etag").ok_or("the answer has no ETag")?;
        self.learn(&action.path, tag, &value)
    }

    fn settle_answer(&mut self, action: &Action, response: &Response, now: Option<&Value>) -> Result<(), String> {
        let problem: Value = serde_json::from_slice(&response.body).unwrap_or_default();
        let kind = problem["type"].as_str().unwrap_or_default();
        let kinds = ["urn:jsonstore:problem:store-unavailable", "urn:jsonstore:problem:contention"];
        if response.status != 503 || !kinds.contains(&kind) {
            return Err("a failure of the store should be a 503 store-unavailable or contention problem".into());
        }
        if action.is_write() {
            // The write may have committed, even if it changed nothing.
            self.written();
        }
        if now == self.doc.as_ref() {
            return Ok(());
        }
        if !action.is_write() {
            return Err("a read changed the document".into());
        }
        if self.condition(action) == Truth::False {
            return Err("a write whose condition is false changed the document".into());
        }
        let key = match self.needs_key(action) {
            true => Some(self.key_added(&action.path, now).ok_or("no new key in the document")?),
            false => None,
        };
        match self.apply(action, key.as_deref()) {
            Outcome::Done { doc, .. } if doc.as_ref() == now => {
                self.doc = doc;
                Ok(())
            }
            _ => Err("the document is neither the one before the request nor the one after".into()),
        }
    }

    /// Whether `action`'s condition holds for the value at its path now.
    fn condition(&self, action: &Action) -> Truth {
        let exists = self.value_at(&action.path).is_some();
        match &action.condition {
            None => Truth::True,
            Some((Header::IfMatch, Tag::Star)) => truth(exists),
            Some((Header::IfNoneMatch, Tag::Star)) => truth(!exists),
            Some((header, Tag::Text(text))) => match (header, self.matches(*header, text, &action.path)) {
                (Header::IfMatch, matched) => matched,
                (Header::IfNoneMatch, Truth::True) => Truth::False,
                (Header::IfNoneMatch, Truth::False) => Truth::True,
                (Header::IfNoneMatch, Truth::Unknown) => Truth::Unknown,
            },
            Some((_, unresolved)) => panic!("the tag {unresolved:?} is not resolved"),
        }
    }

    /// Whether the tag `text` matches the value at `path` (RFC 9110 section 8.8.3.2): `If-Match`
    /// compares strongly, so a weak tag never matches; `If-None-Match` compares weakly.
    fn matches(&self, header: Header, text: &str, path: &[String]) -> Truth {
        if text == "*" {
            return truth(self.value_at(path).is_some());
        }
        let tag = match text.strip_prefix("W/") {
            Some(_) if header == Header::IfMatch => return Truth::False,
            Some(strong) => strong,
            None => text,
        };
        let Some(current) = self.value_at(path) else { return Truth::False };
        let named: Vec<&Seen> = self.seen.iter().filter(|seen| seen.tag == tag).collect();
        if named.iter().any(|seen| seen.fresh && seen.path == path) {
            return Truth::True;
        }
        match named.first() {
            Some(seen) if seen.value == *current => Truth::Unknown,
            // A made-up tag, or one that names another value.
            _ => Truth::False,
        }
    }

    /// Remembers that the value at `path`, `value`, has the tag `tag`.
    fn learn(&mut self, path: &[String], tag: &str, value: &Value) -> Result<(), String> {
        if !(tag.len() > 2 && tag.starts_with('"') && tag.ends_with('"')) {
            return Err(format!("{tag} is not a strong entity tag"));
        }
        if let Some(other) = self.seen.iter().find(|seen| seen.tag == tag && seen.value != *value) {
            return Err(format!("the tag {tag} names two values: {} and {value}", other.value));
        }
        let changed = |seen: &&Seen| seen.fresh && seen.path == path && seen.tag != tag;
        if let Some(old) = self.seen.iter().rev().find(changed) {
            return Err(format!(
                "the tag of {} changed from {} to {tag} with no write in between",
                render(path),
                old.tag
            ));
        }
        self.seen.push(Seen { tag: tag.to_owned(), value: value.clone(), path: path.to_vec(), fresh: true });
        Ok(())
    }

    /// Notes that a write may have committed, storing values anew.
    fn written(&mut self) {
        for seen in &mut self.seen {
            seen.fresh = false;
        }
    }

    /// Whether `action` is a `POST` that adds under a new key.
    fn needs_key(&self, action: &Action) -> bool {
        matches!(action.method, Method::Post(_)) && matches!(self.value_at(&action.path), None | Some(Value::Object(_)))
    }

    /// The push ID a `POST`'s answer names, in its body or else (for a minimal answer) its
    /// `Location`; checked for shape and order.
    fn key_in(&mut self, response: &Response) -> Result<String, String> {
        if response.status != 201 {
            // A refusal the model expects (409) needs no key; any other answer fails the check.
            return Ok("(none)".to_owned());
        }
        let from_body = serde_json::from_slice::<Value>(&response.body)
            .ok()
            .and_then(|body| body.get("name").and_then(Value::as_str).map(str::to_owned));
        let from_location = response
            .header("location")
            .and_then(|location| location.rsplit('/').next())
            .map(|token| token.replace("~1", "/").replace("~0", "~"));
        let key = from_body.or(from_location).ok_or("the answer to a POST names no key")?;
        let alphabet = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if key.len() != 20 || !key.chars().all(alphabet) {
            return Err(format!("{key:?} is not a push ID (20 characters of -0-9A-Z_a-z)"));
        }
        if self.last_key.as_ref().is_some_and(|last| *last >= key) {
            return Err(format!("the push ID {key} does not sort after the one before, {:?}", self.last_key));
        }
        self.last_key = Some(key.clone());
        Ok(key)
    }

    /// The key a `POST` to `path` added, read from the document `now`: the one member of the
    /// object there that the model's has not.
    fn key_added(&self, path: &[String], now: Option<&Value>) -> Option<String> {
        let Some(Value::Object(after)) = get(now, path) else { return None };
        let before = match self.value_at(path) {
            Some(Value::Object(before)) => before.clone(),
            _ => Map::new(),
        };
        let mut added = after.keys().filter(|key| !before.contains_key(*key));
        let key = added.next()?;
        added.next().is_none().then(|| key.clone())
    }

    /// What a write that passed its conditions does; `key` is the new key of a `POST`.
    fn apply(&self, action: &Action, key: Option<&str>) -> Outcome {
        let path = &action.path;
        let conflict = Outcome::Refused { status: 409, kind: "conflict", operation: None };
        let not_found = Outcome::Refused { status: 404, kind: "not-found", operation: None };
        let mut doc = self.doc.clone();
        match &action.method {
            Method::Get => unreachable!("reads are checked by check_read"),
            Method::Put(value) => match put(&mut doc, path, value.clone()) {
                Ok((created, location)) => Outcome::Done {
                    status: if created { 201 } else { 200 },
                    body: Some(value.clone()),
                    location: created.then(|| location.clone()),
                    tagged: Some((location, value.clone())),
                    doc,
                },
                Err(()) => conflict,
            },
            Method::Post(value) => {
                let (location, receipt) = match get_mut(doc.as_mut(), path) {
                    Some(Value::Array(items)) => {
                        items.push(value.clone());
                        (with(path, &(items.len() - 1).to_string()), json!({"index": items.len() - 1}))
                    }
                    Some(Value::Object(members)) => {
                        let key = key.expect("a key for a POST to an object");
                        members.insert(key.to_owned(), value.clone());
                        (with(path, key), json!({"name": key}))
                    }
                    Some(_) => return conflict,
                    // A missing target is created as an object, as PUT would create it.
                    None => {
                        let key = key.expect("a key for a POST to a missing target");
                        let collection = json!({ key: value.clone() });
                        match put(&mut doc, path, collection) {
                            Ok((_, location)) => (with(&location, key), json!({"name": key})),
                            Err(()) => return conflict,
                        }
                    }
                };
                Outcome::Done {
                    status: 201,
                    body: Some(receipt),
                    location: Some(location.clone()),
                    tagged: Some((location, value.clone())),
                    doc,
                }
            }
            Method::Delete => match delete(&mut doc, path) {
                true => Outcome::Done { status: 204, body: None, location: None, tagged: None, doc },
                false => not_found,
            },
            Method::MergePatch(patch) => match get_mut(doc.as_mut(), path) {
                Some(target) => {
                    *target = merge(target.take(), patch);
                    let value = target.clone();
                    let tagged = Some((path.clone(), value.clone()));
                    Outcome::Done { status: 200, body: Some(value), location: None, tagged, doc }
                }
                // A missing target is patched from nothing (`null`) and put there.
                None => {
                    let value = merge(Value::Null, patch);
                    match put(&mut doc, path, value.clone()) {
                        Ok((_, location)) => Outcome::Done {
                            status: 201,
                            body: Some(value.clone()),
                            location: Some(location.clone()),
                            tagged: Some((location, value)),
                            doc,
                        },
                        Err(()) => conflict,
                    }
                }
            },
            Method::JsonPatch(operations) => {
                let operations = parse_patch(operations).expect("checked before");
                // The implementation's choice (`core::patch::apply_json_patch`): with no
                // document, a patch of the root patches `null`.
                if path.is_empty() && doc.is_none() {
                    doc = Some(Value::Null);
                }
                let Some(target) = get_mut(doc.as_mut(), path) else { return not_found };
                let mut patched = target.clone();
                for (index, operation) in operations.iter().enumerate() {
                    if apply_operation(&mut patched, operation).is_err() {
                        return Outcome::Refused { status: 409, kind: "patch-failed", operation: Some(index) };
                    }
                }
                *target = patched.clone();
                let tagged = Some((path.clone(), patched.clone()));
                Outcome::Done { status: 200, body: Some(patched), location: None, tagged, doc }
            }
        }
    }
}

fn truth(holds: bool) -> Truth {
    if holds { Truth::True } else { Truth::False }
}

fn made_up() -> String {
    "\"0123456789abcdef0123456789abcdef\"".to_owned()
}

fn with(path: &[String], token: &str) -> Path {
    let mut path = path.to_vec();
    path.push(token.to_owned());
    path
}

fn expect_status(response: &Response, status: u16) -> Result<(), String> {
    match response.status == status {
        true => Ok(()),
        false => Err(format!("the status should be {status}")),
    }
}

/// Checks that the body is `expected` as JSON, or empty for `None`.
fn expect_body(response: &Response, expected: Option<&Value>) -> Result<(), String> {
    let Some(expected) = expected else {
        return match response.body.is_empty() {
            true => Ok(()),
            false => Err("the answer should have no body".into()),
        };
    };
    if response.header("content-type") != Some("application/json") {
        return Err("the body should be application/json".into());
    }
    match serde_json::from_slice::<Value>(&response.body) {
        Ok(body) if body == *expected => Ok(()),
        _ => Err(format!("the body should be {expected}")),
    }
}

/// Checks that the answer is the problem `kind` with `status`, blaming JSON Patch operation
/// `operation` when given.
fn expect_problem(response: &Response, status: u16, kind: &str, operation: Option<usize>) -> Result<(), String> {
    expect_status(response, status).map_err(|error| format!("{error} ({kind})"))?;
    if response.header("content-type") != Some("application/problem+json") {
        return Err("a problem should be application/problem+json".into());
    }
    let problem: Value = serde_json::from_slice(&response.body).map_err(|_| "the problem is not JSON")?;
    if problem["type"] != format!("urn:jsonstore:problem:{kind}") || problem["status"] != status {
        return Err(format!("the problem should be {kind} with status {status}"));
    }
    if let Some(operation) = operation
        && problem["operation"] != operation
    {
        return Err(format!("the problem should blame operation {operation}"));
    }
    Ok(())
}

/// An array index as RFC 6901 spells it: `0`, or digits without a leading zero.
fn index(token: &str) -> Option<usize> {
    let digits = !token.is_empty() && token.bytes().all(|byte| byte.is_ascii_digit());
    (digits && (token == "0" || !token.starts_with('0'))).then(|| token.parse().ok()).flatten()
}

/// The value at `path` (RFC 6901): members of objects, existing elements of arrays.
pub fn get<'v>(doc: Option<&'v Value>, path: &[String]) -> Option<&'v Value> {
    let mut value = doc?;
    for token in path {
        value = match value {
            Value::Object(members) => members.get(token)?,
            Value::Array(items) => items.get(index(token)?)?,
            _ => return None,
        };
    }
    Some(value)
}

fn get_mut<'v>(doc: Option<&'v mut Value>, path: &[String]) -> Option<&'v mut Value> {
    let mut value = doc?;
    for token in path {
        value = match value {
            Value::Object(members) => members.get_mut(token)?,
            Value::Array(items) => items.get_mut(index(token)?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// `PUT` as the README defines it: missing object members on the way are created as objects
/// (`mkdir -p`, a missing document too), array elements never are, and nothing is written
/// through a scalar; in an array the target may be an element, or `-` or the length to append.
/// Returns whether the value is new, and where it is (`-` resolved); `Err` is a conflict, and
/// leaves `doc` as it was.
fn put(doc: &mut Option<Value>, path: &[String], value: Value) -> Result<(bool, Path), ()> {
    let Some((last, parents)) = path.split_last() else {
        let created = doc.is_none();
        *doc = Some(value);
        return Ok((created, Vec::new()));
    };
    let mut root = doc.clone().unwrap_or_else(|| json!({}));
    let mut parent = &mut root;
    for token in parents {
        parent = match parent {
            Value::Object(members) => members.entry(token.clone()).or_insert_with(|| json!({})),
            Value::Array(items) => items.get_mut(index(token).ok_or(())?).ok_or(())?,
            _ => return Err(()),
        };
    }
    let (created, token) = match parent {
        Value::Object(members) => (members.insert(last.clone(), value).is_none(), last.clone()),
        Value::Array(items) => {
            let at = if last == "-" { items.len() } else { index(last).ok_or(())? };
            let created = at == items.len();
            match at.cmp(&items.len()) {
                std::cmp::Ordering::Less => items[at] = value,
                std::cmp::Ordering::Equal => items.push(value),
                std::cmp::Ordering::Greater => return Err(()),
            }
            (created, at.to_string())
        }
        _ => return Err(()),
    };
    *doc = Some(root);
    Ok((created, with(parents, &token)))
}

/// `DELETE`: removes the value at `path` if there is one; the root leaves no document.
fn delete(doc: &mut Option<Value>, path: &[String]) -> bool {
    let Some((last, parents)) = path.split_last() else { return doc.take().is_some() };
    match get_mut(doc.as_mut(), parents) {
        Some(Value::Object(members)) => members.remove(last).is_some(),
        Some(Value::Array(items)) => match index(last) {
            Some(at) if at < items.len() => {
                items.remove(at);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

/// RFC 7396 section 2, `MergePatch(Target, Patch)`.
fn merge(target: Value, patch: &Value) -> Value {
    let Value::Object(patch) = patch else { return patch.clone() };
    let mut target = match target {
        Value::Object(members) => members,
        _ => Map::new(),
    };
    for (name, value) in patch {
        if value.is_null() {
            target.remove(name);
        } else {
            let old = target.remove(name).unwrap_or(Value::Null);
            target.insert(name.clone(), merge(old, value));
        }
    }
    Value::Object(target)
}

/// One JSON Patch operation (RFC 6902 section 4), its pointers parsed.
#[derive(Debug, Clone)]
enum Operation {
    Add(Path, Value),
    Remove(Path),
    Replace(Path, Value),
    Move { from: Path, path: Path },
    Copy { from: Path, path: Path },
    Test(Path, Value),
}

/// Parses a JSON Patch's operations; `Err` is the index of the first invalid one.
fn parse_patch(operations: &[Value]) -> Result<Vec<Operation>, usize> {
    operations.iter().enumerate().map(|(at, operation)| parse_operation(operation).ok_or(at)).collect()
}

fn parse_operation(operation: &Value) -> Option<Operation> {
    let pointer = |member: &str| parse_pointer(operation.get(member)?.as_str()?);
    let value = || operation.get("value").cloned();
    Some(match operation.get("op")?.as_str()? {
        "add" => Operation::Add(pointer("path")?, value()?),
        "remove" => Operation::Remove(pointer("path")?),
        "replace" => Operation::Replace(pointer("path")?, value()?),
        "move" => Operation::Move { from: pointer("from")?, path: pointer("path")? },
        "copy" => Operation::Copy { from: pointer("from")?, path: pointer("path")? },
        "test" => Operation::Test(pointer("path")?, value()?),
        _ => return None,
    })
}

/// A JSON Pointer's text (RFC 6901 section 3) as tokens: `~1` is `/`, `~0` is `~`.
fn parse_pointer(text: &str) -> Option<Path> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    let tokens = text.strip_prefix('/')?;
    tokens
        .split('/')
        .map(|token| {
            let mut decoded = String::new();
            let mut chars = token.chars();
            while let Some(c) = chars.next() {
                decoded.push(match (c, c == '~') {
                    (_, false) => c,
                    (_, true) => match chars.next()? {
                        '0' => '~',
                        '1' => '/',
                        _ => return None,
                    },
                });
            }
            Some(decoded)
        })
        .collect()
}

/// Applies one operation (RFC 6902 section 4) to `doc`; `Err` when it cannot be applied.
fn apply_operation(doc: &mut Value, operation: &Operation) -> Result<(), ()> {
    match operation {
        Operation::Add(path, value) => add(doc, path, value.clone()),
        Operation::Remove(path) => remove(doc, path).map(drop),
        Operation::Replace(path, value) => {
            *get_mut(Some(doc), path).ok_or(())? = value.clone();
            Ok(())
        }
        Operation::Move { from, path } => {
            // "The from location MUST NOT be a proper prefix of the path location."
            if path.len() > from.len() && path.starts_with(from) {
                return Err(());
            }
            let value = remove(doc, from)?;
            add(doc, path, value)
        }
        Operation::Copy { from, path } => {
            let value = get(Some(doc), from).ok_or(())?.clone();
            add(doc, path, value)
        }
        Operation::Test(path, expected) => match get(Some(doc), path) {
            Some(actual) if same(actual, expected) => Ok(()),
            _ => Err(()),
        },
    }
}

/// `add`: the root is replaced; an object member is set; an array element is inserted before
/// the index, or appended at `-` or the length; the parent must exist.
fn add(doc: &mut Value, path: &[String], value: Value) -> Result<(), ()> {
    let Some((last, parents)) = path.split_last() else {
        *doc = value;
        return Ok(());
    };
    match get_mut(Some(doc), parents).ok_or(())? {
        Value::Object(members) => {
            members.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(items) => {
            let at = if last == "-" { items.len() } else { index(last).ok_or(())? };
            if at > items.len() {
                return Err(());
            }
            items.insert(at, value);
            Ok(())
        }
        _ => Err(()),
    }
}

/// `remove`: the target must exist. Removing the whole target is refused: a patch leaves a
/// value there (RFC 6902 does not say what removing the root leaves).
fn remove(doc: &mut Value, path: &[String]) -> Result<Value, ()> {
    let (last, parents) = path.split_last().ok_or(())?;
    match get_mut(Some(doc), parents).ok_or(())? {
        Value::Object(members) => members.remove(last).ok_or(()),
        Value::Array(items) => match index(last) {
            Some(at) if at < items.len() => Ok(items.remove(at)),
            _ => Err(()),
        },
        _ => Err(()),
    }
}

/// Equality as RFC 6902 `test` defines it (section 4.6): numbers are equal when their values
/// are. Tests spell small integers in several ways (`7`, `7.0`, `0.7e1`), which `f64` holds
/// exactly.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b)),
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(name, a)| b.get(name).is_some_and(|b| same(a, b)))
        }
        _ => a == b,
    }
}

/// A host whose clock moves on at every look, so push IDs sort in the order they are made, and
/// whose sleeps only move it on.
#[derive(Default)]
pub struct Clock(pub std::cell::Cell<u64>);

impl jsonstore::service::Host for Clock {
    fn now_millis(&self) -> u64 {
        self.0.set(self.0.get() + 1);
        1_700_000_000_000 + self.0.get()
    }
    fn random_bytes(&self) -> [u8; 9] {
        self.0.set(self.0.get() + 1);
        let bytes = self.0.get().to_le_bytes();
        std::array::from_fn(|i| bytes[i % 8])
    }
    fn sleep_micros(&self, micros: u64) {
        self.0.set(self.0.get() + micros.div_ceil(1000).max(1));
    }
}

//! The access rules language: a JSON tree, shaped like the document, whose `.read` and `.write`
//! rules say who may read and write each part of it, modelled on Firebase Realtime Database
//! rules and specified in the README (Access rules).
//!
//! Rules are parsed once, from the `rules` configuration variable, into a tree of nodes
//! whose conditions are already parsed and whose `$name`s are already resolved; a request then
//! costs one walk from the root down its pointer. The decision that shaped the module is
//! Firebase's cascade: a grant at a path covers its whole subtree and nothing below can take it
//! back, so the walk stops at the first rule that grants, and a request that no rule on its way
//! grants is refused, even if every part below it is readable. Rules are not filters. Everything
//! the configuration controls is bounded, and anything wrong with it is a [`RulesError`] naming
//! the path, never a panic and never a store left open.

mod condition;

pub use condition::{CONDITION_BYTES_MAX, CONDITION_NESTING_MAX, ConditionError, ConditionErrorKind};

use crate::core::json::{self, JsonError};
use crate::core::{Pointer, PointerBuf, Token};
use condition::Condition;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::fmt;

/// The claims of a verified token.
pub type Claims = serde_json::Map<String, serde_json::Value>;

/// The largest rules document, in bytes.
pub const RULES_BYTES_MAX: usize = 1024 * 1024;

/// The deepest path a rule can be written at, in keys: as deep as a document can nest.
pub const RULES_DEPTH_MAX: usize = json::DEPTH_MAX_LIMIT;

/// Parsed access rules.
#[derive(Debug, Clone)]
pub struct Rules {
    root: Node,
}

/// What a request does with the value at its pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Reading: checked against `.read` rules.
    Read,
    /// Writing (creating, replacing, changing or deleting): checked against `.write` rules.
    Write,
}

impl Rules {
    /// Parses a rules document: a JSON object shaped like the document, either alone or as the
    /// only member `rules` of an object (as Firebase writes them). A document that is not valid
    /// is a [`RulesError`] that names the path in the tree and the problem.
    pub fn parse(json: &str) -> Result<Rules, RulesError> {
        let fail = |kind| Err(RulesError { path: PointerBuf::new(), kind });
        if json.len() > RULES_BYTES_MAX {
            return fail(RulesErrorKind::TooLarge { bytes_max: RULES_BYTES_MAX });
        }
        // Two levels more than the deepest rule: the object holding its rules, and the wrapper.
        let mut deserializer = match json::bounded(json.as_bytes(), RULES_DEPTH_MAX + 2) {
            Ok(deserializer) => deserializer,
            Err(JsonError::TooDeep { .. }) => return fail(RulesErrorKind::TooDeep { depth_max: RULES_DEPTH_MAX }),
            Err(JsonError::Syntax { message, line, column }) => {
                return fail(RulesErrorKind::NotJson(format!("{message} at line {line} column {column}")));
            }
        };
        let tree = match Json::deserialize(&mut deserializer).and_then(|tree| deserializer.end().map(|()| tree)) {
            Ok(tree) => tree,
            Err(error) => return fail(RulesErrorKind::NotJson(error.to_string())),
        };
        let tree = match tree {
            Json::Object(mut members) if members.len() == 1 && members[0].0 == "rules" => members.swap_remove(0).1,
            tree => tree,
        };
        Ok(Rules { root: Node::build(tree, &mut PointerBuf::new(), &mut Vec::new())? })
    }

    /// Whether `auth` may read (or write) the value at `pointer`, all of it.
    ///
    /// It may if a rule for `access` on the way from the root down to `pointer`, inclusive,
    /// grants it; rules below `pointer` do not count, so a value readable only in part is not
    /// readable.
    pub fn allows(&self, access: Access, pointer: &Pointer, auth: Option<&Claims>) -> bool {
        let mut node = &self.root;
        let mut captures: Vec<Cow<'_, str>> = Vec::new();
        if node.grants(access, auth, &captures) {
            return true;
        }
        for token in pointer.tokens() {
            let key = decoded(token);
            node = match node.children.get(key.as_ref()) {
                Some(child) => child,
                None => match &node.wildcard {
                    Some(wildcard) => {
                        captures.push(key);
                        wildcard
                    }
                    None => return false,
                },
            };
            if node.grants(access, auth, &captures) {
                return true;
            }
        }
        false
    }
}

/// A rules document that is not acceptable, and where in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesError {
    /// Where the problem is in the rules tree (below the `rules` wrapper, if there is one), as
    /// a JSON Pointer: the path of a node, or of a node's `.read` or `.write` rule.
    pub path: PointerBuf,
    /// What the problem is.
    pub kind: RulesErrorKind,
}

/// What is wrong with a rules document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulesErrorKind {
    /// Longer than [`RULES_BYTES_MAX`].
    TooLarge {
        /// The largest rules document allowed, in bytes.
        bytes_max: usize,
    },
    /// Rules at a path more than [`RULES_DEPTH_MAX`] keys deep.
    TooDeep {
        /// The deepest path allowed, in keys.
        depth_max: usize,
    },
    /// Not JSON, or JSON with a key repeated in one object; what `serde_json` said.
    NotJson(String),
    /// A node of the tree that is not an object.
    NotAnObject {
        /// What it is instead, such as "a string".
        found: &'static str,
    },
    /// A key starting with `.` that is not `.read` or `.write`.
    UnknownRule(String),
    /// A rule that is neither a boolean nor a string.
    InvalidRule {
        /// What it is instead, such as "a number".
        found: &'static str,
    },
    /// A key starting with `$` that is not `$` followed by a name.
    InvalidWildcard(String),
    /// A second wildcard beside another at one level.
    SecondWildcard {
        /// The wildcard already there.
        first: String,
    },
    /// A wildcard whose name one above it already captures.
    RepeatedCapture(String),
    /// A condition that does not parse.
    Condition(ConditionError),
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_root() {
            write!(f, "rules: {}", self.kind)
        } else {
            write!(f, "rules at {}: {}", self.path, self.kind)
        }
    }
}

impl fmt::Display for RulesErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RulesErrorKind::TooLarge { bytes_max } => write!(f, "the rules are larger than {bytes_max} bytes"),
            RulesErrorKind::TooDeep { depth_max } => write!(f, "rules are nested deeper than {depth_max} keys"),
            RulesErrorKind::NotJson(message) => write!(f, "not JSON: {message}"),
            RulesErrorKind::NotAnObject { found } => write!(f, "expected an object of rules, found {found}"),
            RulesErrorKind::UnknownRule(key) => write!(f, "unknown rule {key}: the rules are .read and .write"),
            RulesErrorKind::InvalidRule { found } => {
                write!(f, "a rule is true, false or a condition in a string, not {found}")
            }
            RulesErrorKind::InvalidWildcard(key) => {
                write!(f, "{key} is not a wildcard: $ is followed by a letter or _, then letters, digits and _")
            }
            RulesErrorKind::SecondWildcard { first } => {
                write!(f, "a second wildcard beside {first}: a level has at most one")
            }
            RulesErrorKind::RepeatedCapture(key) => write!(f, "{key} is already captured by a wildcard above"),
            RulesErrorKind::Condition(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for RulesError {}

/// One level of the rules tree: its rules, its literal children and its wildcard child.
#[derive(Debug, Clone)]
struct Node {
    read: Option<Condition>,
    write: Option<Condition>,
    children: BTreeMap<String, Node>,
    /// The child for every key not in `children`; it captures the key.
    wildcard: Option<Box<Node>>,
}

impl Node {
    /// Builds the node at `path` from `tree`; `captures` are the wildcard names above it.
    fn build(tree: Json, path: &mut PointerBuf, captures: &mut Vec<String>) -> Result<Node, RulesError> {
        let fail = |path: &PointerBuf, kind| Err(RulesError { path: path.clone(), kind });
        let members = match tree {
            Json::Object(members) => members,
            other => return fail(path, RulesErrorKind::NotAnObject { found: other.description() }),
        };
        if path.count() > RULES_DEPTH_MAX {
            return fail(path, RulesErrorKind::TooDeep { depth_max: RULES_DEPTH_MAX });
        }
        let mut node = Node { read: None, write: None, children: BTreeMap::new(), wildcard: None };
        let mut wildcard_name: Option<String> = None;
        for (key, value) in members {
            path.push_back(Token::new(key.as_str()));
            if let Some(rule) = key.strip_prefix('.') {
                let slot = match rule {
                    "read" => &mut node.read,
                    "write" => &mut node.write,
                    _ => return fail(path, RulesErrorKind::UnknownRule(key)),
                };
                *slot = Some(Self::rule(value, path, captures)?);
            } else if let Some(name) = key.strip_prefix('$') {
                if name.is_empty() || condition::name_length(name.as_bytes()) != name.len() {
                    return fail(path, RulesErrorKind::InvalidWildcard(key));
                }
                if let Some(first) = wildcard_name {
                    return fail(path, RulesErrorKind::SecondWildcard { first });
                }
                if captures.iter().any(|capture| capture == name) {
                    return fail(path, RulesErrorKind::RepeatedCapture(key));
                }
                captures.push(name.to_owned());
                let child = Node::build(value, path, captures)?;
                captures.pop();
                node.wildcard = Some(Box::new(child));
                wildcard_name = Some(key);
            } else {
                let child = Node::build(value, path, captures)?;
                node.children.insert(key, child);
            }
            path.pop_back();
        }
        Ok(node)
    }

    /// Parses the rule at `path`, a boolean or a condition.
    fn rule(value: Json, path: &PointerBuf, captures: &[String]) -> Result<Condition, RulesError> {
        let fail = |kind| RulesError { path: path.clone(), kind };
        match value {
            Json::Boolean(value) => Ok(Condition::constant(value)),
            Json::String(text) => {
                let captures: Vec<&str> = captures.iter().map(String::as_str).collect();
                Condition::parse(&text, &captures).map_err(|error| fail(RulesErrorKind::Condition(error)))
            }
            other => Err(fail(RulesErrorKind::InvalidRule { found: other.description() })),
        }
    }

    /// Whether this node's rule for `access` grants it.
    fn grants(&self, access: Access, auth: Option<&Claims>, captures: &[Cow<'_, str>]) -> bool {
        let rule = match access {
            Access::Read => &self.read,
            Access::Write => &self.write,
        };
        rule.as_ref().is_some_and(|condition| condition.evaluate(auth, captures))
    }
}

/// The decoded key of `token`, borrowed from the pointer when it needs no decoding.
fn decoded(token: Token<'_>) -> Cow<'_, str> {
    let owned = match token.decoded() {
        Cow::Owned(key) => Some(key),
        Cow::Borrowed(_) => None,
    };
    match owned {
        Some(key) => Cow::Owned(key),
        None => token.into_encoded(),
    }
}

/// A rules document as parsed, before it is checked: objects keep their members in order, and a
/// key repeated in one object is a syntax error, since which of two `.write` rules would count
/// is not something to leave to a parser.
enum Json {
    Object(Vec<(String, Json)>),
    Boolean(bool),
    String(String),
    /// Null, a number or an array, described; none is valid anywhere in the rules.
    Other(&'static str),
}

impl Json {
    fn description(&self) -> &'static str {
        match self {
            Json::Object(_) => "an object",
            Json::Boolean(true) => "true",
            Json::Boolean(false) => "false",
            Json::String(_) => "a string",
            Json::Other(description) => description,
        }
    }
}

/// The key under which `serde_json` with `arbitrary_precision` passes a number as a map.
const NUMBER_KEY: &str = "$serde_json::private::Number";

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Json, E> {
        Ok(Json::Boolean(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Json, E> {
        Ok(Json::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Json, E> {
        Ok(Json::String(value))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Json, E> {
        Ok(Json::Other("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Json, E> {
        Ok(Json::Other("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Json, E> {
        Ok(Json::Other("a number"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Other("null"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Json::Other("an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members: Vec<(String, Json)> = Vec::new();
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == NUMBER_KEY && members.is_empty() {
                map.next_value::<IgnoredAny>()?;
                return Ok(Json::Other("a number"));
            }
            if !keys.insert(key.clone()) {
                return Err(de::Error::custom(format_args!("the key {key:?} appears twice in one object")));
            }
            let value = map.next_value::<Json>()?;
            members.push((key, value));
        }
        Ok(Json::Object(members))
    }
}

#[cfg(test)]
mod tests;

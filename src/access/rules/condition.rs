//! Conditions: the expressions of `.read` and `.write` rules, parsed once when the rules are
//! loaded and evaluated for each request.
//!
//! The parser is a hand-written recursive descent over a list of tokens, and one decision shaped
//! it: hostile or mistaken configuration ends in an error, never in a panic or a deep stack.
//! The text is at most [`CONDITION_BYTES_MAX`] long, parentheses and `!` nest at most
//! [`CONDITION_NESTING_MAX`] deep, and a chain of `&&` or of `||` is one flat list rather than a
//! tower of pairs, so the tree, its evaluation and its drop are all as shallow as the nesting.
//! A `$name` is resolved to its place among the captures when the condition is parsed, so an
//! unknown name is a configuration error and evaluation looks nothing up by name.

use super::Claims;
use serde_json::{Number, Value};
use std::borrow::Cow;
use std::fmt;

/// The longest condition, in bytes.
pub const CONDITION_BYTES_MAX: usize = 1024;

/// The deepest nesting of parentheses and `!` in a condition.
pub const CONDITION_NESTING_MAX: usize = 32;

/// Why a condition does not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionError {
    /// The byte offset in the condition where the problem is.
    pub offset: usize,
    /// What the problem is.
    pub kind: ConditionErrorKind,
}

/// What is wrong with a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConditionErrorKind {
    /// The condition is empty or only white space.
    Empty,
    /// The condition is longer than [`CONDITION_BYTES_MAX`].
    TooLong {
        /// The longest condition allowed, in bytes.
        bytes_max: usize,
    },
    /// Parentheses and `!` nest deeper than [`CONDITION_NESTING_MAX`].
    TooDeep {
        /// The deepest nesting allowed.
        nesting_max: usize,
    },
    /// A character that starts no token.
    UnexpectedCharacter(char),
    /// A string without its closing quote.
    UnterminatedString,
    /// A backslash before something other than a quote or a backslash.
    UnknownEscape(char),
    /// Text that starts like a number and is not a JSON number.
    InvalidNumber(String),
    /// `===` or `!==`, which are spelled `==` and `!=` here.
    TripleEquals,
    /// A bare name that is not `auth`, `true`, `false` or `null`, such as an unquoted string.
    UnknownName(String),
    /// A `$name` that no wildcard at or above the rule captures.
    UnknownCapture(String),
    /// Bare `auth` other than in `auth == null` or `auth != null`.
    BareAuth,
    /// An operand standing where a condition belongs: of the operands only `true` and `false` are
    /// conditions.
    NotACondition(String),
    /// `!` before an operand or before a comparison without parentheses: `!` binds tighter than
    /// `==`, so it would negate an operand, which is not a condition.
    NegatedOperand,
    /// Some other token where the grammar needs what `expected` says.
    Expected {
        /// What the grammar allows here.
        expected: &'static str,
        /// The token found instead, or "the end of the condition".
        found: String,
    },
}

impl fmt::Display for ConditionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.kind, self.offset)
    }
}

impl fmt::Display for ConditionErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConditionErrorKind::Empty => write!(f, "the condition is empty"),
            ConditionErrorKind::TooLong { bytes_max } => write!(f, "the condition is longer than {bytes_max} bytes"),
            ConditionErrorKind::TooDeep { nesting_max } => {
                write!(f, "parentheses and ! nest deeper than {nesting_max} levels")
            }
            ConditionErrorKind::UnexpectedCharacter(character) => write!(f, "unexpected character {character:?}"),
            ConditionErrorKind::UnterminatedString => write!(f, "a string has no closing quote"),
            ConditionErrorKind::UnknownEscape(character) => {
                write!(f, "unknown escape \\{character}: a string escapes only \\\\, \\' and \\\"")
            }
            ConditionErrorKind::InvalidNumber(text) => write!(f, "{text} is not a number"),
            ConditionErrorKind::TripleEquals => write!(f, "=== and !== are spelled == and != here"),
            ConditionErrorKind::UnknownName(name) => write!(
                f,
                "unknown name {name}: a string is quoted, as in '{name}', and a claim is read through auth, as in auth.{name}"
            ),
            ConditionErrorKind::UnknownCapture(name) => {
                write!(f, "${name} is not captured by a wildcard at or above this rule")
            }
            ConditionErrorKind::BareAuth => write!(
                f,
                "auth alone can only be compared with null, as in auth != null; compare a claim, as in auth.sub"
            ),
            ConditionErrorKind::NotACondition(text) => {
                write!(f, "{text} is not a condition: compare it with == or !=")
            }
            ConditionErrorKind::NegatedOperand => write!(
                f,
                "! negates a condition in parentheses or true or false, not an operand: write !(a == b) or a != b"
            ),
            ConditionErrorKind::Expected { expected, found } => write!(f, "expected {expected}, found {found}"),
        }
    }
}

impl std::error::Error for ConditionError {}

/// A parsed condition, ready to be evaluated.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Condition {
    expression: Expression,
}

impl Condition {
    /// The condition that is always `value`: a rule written as `true` or `false`.
    pub(super) fn constant(value: bool) -> Condition {
        Condition { expression: Expression::Constant(value) }
    }

    /// Parses `text`, where `captures` are the wildcard names in scope, outermost first.
    pub(super) fn parse(text: &str, captures: &[&str]) -> Result<Condition, ConditionError> {
        if text.len() > CONDITION_BYTES_MAX {
            let kind = ConditionErrorKind::TooLong { bytes_max: CONDITION_BYTES_MAX };
            return Err(ConditionError { offset: 0, kind });
        }
        let tokens = lex(text)?;
        let mut parser = Parser { text, tokens, at: 0, nesting: 0, captures };
        if parser.peek() == &Kind::End {
            return Err(parser.error(ConditionErrorKind::Empty));
        }
        let expression = parser.disjunction()?;
        if parser.peek() != &Kind::End {
            return Err(parser.expected("&&, || or the end of the condition"));
        }
        Ok(Condition { expression })
    }

    /// Whether the condition holds for `auth` and the keys `captures` (in the order of the
    /// `captures` it was parsed with).
    pub(super) fn evaluate(&self, auth: Option<&Claims>, captures: &[Cow<'_, str>]) -> bool {
        self.expression.evaluate(auth, captures)
    }
}

/// A condition's tree; no deeper than about twice the nesting of its text.
#[derive(Debug, Clone, PartialEq)]
enum Expression {
    /// `true` or `false`.
    Constant(bool),
    /// `auth != null` (true) or `auth == null` (false).
    Authenticated(bool),
    /// `!` and what it negates.
    Not(Box<Expression>),
    /// Terms joined by `&&`.
    All(Vec<Expression>),
    /// Terms joined by `||`.
    Any(Vec<Expression>),
    /// `left == right` (`equal`) or `left != right`.
    Compare { left: Operand, right: Operand, equal: bool },
}

impl Expression {
    fn evaluate(&self, auth: Option<&Claims>, captures: &[Cow<'_, str>]) -> bool {
        match self {
            Expression::Constant(value) => *value,
            Expression::Authenticated(present) => auth.is_some() == *present,
            Expression::Not(inner) => !inner.evaluate(auth, captures),
            Expression::All(terms) => terms.iter().all(|term| term.evaluate(auth, captures)),
            Expression::Any(terms) => terms.iter().any(|term| term.evaluate(auth, captures)),
            Expression::Compare { left, right, equal } => {
                match (left.resolve(auth, captures), right.resolve(auth, captures)) {
                    (Some(left), Some(right)) => left.same(right) == *equal,
                    // A missing claim, or an object or array, makes the comparison false,
                    // whichever the operator.
                    _ => false,
                }
            }
        }
    }
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq)]
enum Operand {
    /// `auth.a.b` or `auth['a']`: the names on the way into the claims.
    Claim(Vec<String>),
    /// A `$name`, by its place among the captures.
    Capture(usize),
    /// A string, number, boolean or null.
    Literal(Value),
}

impl Operand {
    /// The scalar this operand stands for, or `None` if it is a claim that is missing or is an
    /// object or array.
    fn resolve<'a>(&'a self, auth: Option<&'a Claims>, captures: &'a [Cow<'_, str>]) -> Option<Scalar<'a>> {
        match self {
            Operand::Claim(names) => {
                let (first, rest) = names.split_first()?;
                let mut value = auth?.get(first)?;
                for name in rest {
                    value = value.as_object()?.get(name)?;
                }
                Scalar::of(value)
            }
            Operand::Capture(index) => captures.get(*index).map(|key| Scalar::String(key)),
            Operand::Literal(value) => Scalar::of(value),
        }
    }
}

/// A value that comparisons can decide on.
#[derive(Debug, Clone, Copy)]
enum Scalar<'a> {
    Null,
    Boolean(bool),
    Number(&'a Number),
    String(&'a str),
}

impl<'a> Scalar<'a> {
    fn of(value: &'a Value) -> Option<Scalar<'a>> {
        match value {
            Value::Null => Some(Scalar::Null),
            Value::Bool(value) => Some(Scalar::Boolean(*value)),
            Value::Number(number) => Some(Scalar::Number(number)),
            Value::String(text) => Some(Scalar::String(text)),
            Value::Array(_) | Value::Object(_) => None,
        }
    }

    /// Whether two scalars are equal: of one type, and the same value. Numbers are compared by
    /// value (`1 == 1.0`): exactly if both are integers, otherwise as 64-bit floats, and by their
    /// text if either is beyond a float's range.
    fn same(self, other: Scalar<'_>) -> bool {
        match (self, other) {
            (Scalar::Null, Scalar::Null) => true,
            (Scalar::Boolean(left), Scalar::Boolean(right)) => left == right,
            (Scalar::String(left), Scalar::String(right)) => left == right,
            (Scalar::Number(left), Scalar::Number(right)) => {
                let integer =
                    |number: &Number| number.as_i64().map(i128::from).or_else(|| number.as_u64().map(i128::from));
                match (integer(left), integer(right), left.as_f64(), right.as_f64()) {
                    (Some(left), Some(right), _, _) => left == right,
                    (_, _, Some(left), Some(right)) => left == right,
                    _ => left == right,
                }
            }
            _ => false,
        }
    }
}

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Or,
    And,
    Not,
    Equal,
    NotEqual,
    Open,
    Close,
    Dot,
    OpenBracket,
    CloseBracket,
    /// A name such as `auth`, `true` or `sub`; its text is the token's.
    Name,
    /// `$` and a name; the name is the token's text after the `$`.
    Capture,
    /// A quoted string, its escapes undone.
    String(String),
    Number(Number),
    /// After the last token.
    End,
}

/// A token and where it is in the text.
#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
}

/// Splits `text` into tokens, ending with [`Kind::End`].
fn lex(text: &str) -> Result<Vec<Token>, ConditionError> {
    let bytes = text.as_bytes();
    let error = |offset, kind| Err(ConditionError { offset, kind });
    let mut tokens = Vec::new();
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        let start = at;
        let next = bytes.get(at + 1).copied();
        let (kind, length) = match (byte, next) {
            (b' ' | b'\t' | b'\n' | b'\r', _) => {
                at += 1;
                continue;
            }
            (b'|', Some(b'|')) => (Kind::Or, 2),
            (b'&', Some(b'&')) => (Kind::And, 2),
            (b'=' | b'!', Some(b'=')) if bytes.get(at + 2) == Some(&b'=') => {
                return error(start, ConditionErrorKind::TripleEquals);
            }
            (b'=', Some(b'=')) => (Kind::Equal, 2),
            (b'!', Some(b'=')) => (Kind::NotEqual, 2),
            (b'!', _) => (Kind::Not, 1),
            (b'(', _) => (Kind::Open, 1),
            (b')', _) => (Kind::Close, 1),
            (b'.', _) => (Kind::Dot, 1),
            (b'[', _) => (Kind::OpenBracket, 1),
            (b']', _) => (Kind::CloseBracket, 1),
            (b'\'' | b'"', _) => {
                let (string, end) = string(text, start)?;
                (Kind::String(string), end - start)
            }
            (b'0'..=b'9' | b'-', _) => {
                let length = bytes[start..]
                    .iter()
                    .position(|byte| !matches!(byte, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                    .unwrap_or(bytes.len() - start);
                let number = &text[start..start + length];
                match serde_json::from_str::<Number>(number) {
                    Ok(number) => (Kind::Number(number), length),
                    Err(_) => return error(start, ConditionErrorKind::InvalidNumber(number.to_owned())),
                }
            }
            (b'$', _) => match name_length(&bytes[start + 1..]) {
                0 => return error(start, ConditionErrorKind::UnexpectedCharacter('$')),
                length => (Kind::Capture, 1 + length),
            },
            _ => match name_length(&bytes[start..]) {
                0 => {
                    let character = text[start..].chars().next().unwrap_or_default();
                    return error(start, ConditionErrorKind::UnexpectedCharacter(character));
                }
                length => (Kind::Name, length),
            },
        };
        at += length;
        tokens.push(Token { kind, start, end: at });
    }
    tokens.push(Token { kind: Kind::End, start: bytes.len(), end: bytes.len() });
    Ok(tokens)
}

/// The length of the name at the start of `bytes`: a letter or `_`, then letters, digits and `_`.
pub(super) fn name_length(bytes: &[u8]) -> usize {
    match bytes.first() {
        Some(byte) if byte.is_ascii_alphabetic() || *byte == b'_' => {
            bytes.iter().position(|byte| !(byte.is_ascii_alphanumeric() || *byte == b'_')).unwrap_or(bytes.len())
        }
        _ => 0,
    }
}

/// The string whose opening quote is at `start` in `text`, with its escapes undone, and the
/// offset just after its closing quote.
fn string(text: &str, start: usize) -> Result<(String, usize), ConditionError> {
    let body = start + 1;
    let quote = char::from(text.as_bytes()[start]);
    let mut string = String::new();
    let mut characters = text[body..].char_indices();
    while let Some((offset, character)) = characters.next() {
        match character {
            '\\' => match characters.next() {
                Some((_, escaped @ ('\\' | '\'' | '"'))) => string.push(escaped),
                Some((_, escaped)) => {
                    let kind = ConditionErrorKind::UnknownEscape(escaped);
                    return Err(ConditionError { offset: body + offset, kind });
                }
                None => break,
            },
            character if character == quote => return Ok((string, body + offset + 1)),
            character => string.push(character),
        }
    }
    Err(ConditionError { offset: start, kind: ConditionErrorKind::UnterminatedString })
}

/// The state of one parse: the tokens, the next one, and how deeply the parser is nested.
struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    /// The next token; never past the [`Kind::End`] token.
    at: usize,
    nesting: usize,
    captures: &'a [&'a str],
}

/// An operand as parsed, where bare `auth` is still allowed (in `auth == null`).
enum Side {
    Auth,
    Operand(Operand),
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &Kind {
        &self.tokens[self.at].kind
    }

    /// The text of the next token.
    fn text(&self) -> &'a str {
        let token = &self.tokens[self.at];
        &self.text[token.start..token.end]
    }

    /// Moves past the next token, unless it is the end.
    fn advance(&mut self) {
        if self.tokens[self.at].kind != Kind::End {
            self.at += 1;
        }
    }

    /// Moves past the next token if it is `kind`.
    fn eat(&mut self, kind: &Kind) -> bool {
        let matches = self.peek() == kind;
        if matches {
            self.advance();
        }
        matches
    }

    /// An error of `kind` at the next token.
    fn error(&self, kind: ConditionErrorKind) -> ConditionError {
        ConditionError { offset: self.tokens[self.at].start, kind }
    }

    /// An error saying the grammar wants `expected` at the next token.
    fn expected(&self, expected: &'static str) -> ConditionError {
        let found = match self.peek() {
            Kind::End => "the end of the condition".to_owned(),
            _ => self.text().to_owned(),
        };
        self.error(ConditionErrorKind::Expected { expected, found })
    }

    /// Runs `inner` one level deeper, or fails if that is too deep.
    fn nested<T>(&mut self, inner: impl FnOnce(&mut Self) -> Result<T, ConditionError>) -> Result<T, ConditionError> {
        if self.nesting == CONDITION_NESTING_MAX {
            return Err(self.error(ConditionErrorKind::TooDeep { nesting_max: CONDITION_NESTING_MAX }));
        }
        self.nesting += 1;
        let result = inner(self);
        self.nesting -= 1;
        result
    }

    /// `conjunction { "||" conjunction }`.
    fn disjunction(&mut self) -> Result<Expression, ConditionError> {
        let first = self.conjunction()?;
        if self.peek() != &Kind::Or {
            return Ok(first);
        }
        let mut terms = vec![first];
        while self.eat(&Kind::Or) {
            terms.push(self.conjunction()?);
        }
        Ok(Expression::Any(terms))
    }

    /// `term { "&&" term }`.
    fn conjunction(&mut self) -> Result<Expression, ConditionError> {
        let first = self.term()?;
        if self.peek() != &Kind::And {
            return Ok(first);
        }
        let mut terms = vec![first];
        while self.eat(&Kind::And) {
            terms.push(self.term()?);
        }
        Ok(Expression::All(terms))
    }

    /// A negation, a group, a comparison, or `true` or `false`.
    fn term(&mut self) -> Result<Expression, ConditionError> {
        match self.peek() {
            Kind::Not => self.negation(),
            Kind::Open => self.group(),
            _ => self.comparison(),
        }
    }

    /// `"!" (negation | group | "true" | "false")`, at the `!`.
    fn negation(&mut self) -> Result<Expression, ConditionError> {
        self.nested(|parser| {
            parser.advance();
            let inner = match parser.peek() {
                Kind::Not => parser.negation()?,
                Kind::Open => parser.group()?,
                Kind::Name | Kind::Capture | Kind::String(_) | Kind::Number(_) => {
                    let text = parser.text();
                    let compared = matches!(parser.tokens[parser.at + 1].kind, Kind::Equal | Kind::NotEqual);
                    if compared || !matches!(text, "true" | "false") {
                        return Err(parser.error(ConditionErrorKind::NegatedOperand));
                    }
                    parser.advance();
                    Expression::Constant(text == "true")
                }
                _ => return Err(parser.expected("a condition after !")),
            };
            Ok(Expression::Not(Box::new(inner)))
        })
    }

    /// `"(" disjunction ")"`, at the `(`.
    fn group(&mut self) -> Result<Expression, ConditionError> {
        self.nested(|parser| {
            parser.advance();
            let inner = parser.disjunction()?;
            if !parser.eat(&Kind::Close) {
                return Err(parser.expected("&&, || or )"));
            }
            Ok(inner)
        })
    }

    /// `operand ("==" | "!=") operand`, `auth == null`, `auth != null`, `true` or `false`.
    fn comparison(&mut self) -> Result<Expression, ConditionError> {
        let start = self.at;
        let left = self.operand("a condition")?;
        let equal = match self.peek() {
            Kind::Equal => true,
            Kind::NotEqual => false,
            _ => {
                let offset = self.tokens[start].start;
                let kind = match left {
                    Side::Operand(Operand::Literal(Value::Bool(value))) => return Ok(Expression::Constant(value)),
                    Side::Auth => ConditionErrorKind::BareAuth,
                    Side::Operand(_) => {
                        let end = self.tokens[self.at - 1].end;
                        ConditionErrorKind::NotACondition(self.text[offset..end].to_owned())
                    }
                };
                return Err(ConditionError { offset, kind });
            }
        };
        self.advance();
        let right = self.operand("a value to compare with")?;
        match (left, right) {
            (Side::Auth, Side::Operand(Operand::Literal(Value::Null)))
            | (Side::Operand(Operand::Literal(Value::Null)), Side::Auth) => Ok(Expression::Authenticated(!equal)),
            (Side::Auth, _) | (_, Side::Auth) => {
                Err(ConditionError { offset: self.tokens[start].start, kind: ConditionErrorKind::BareAuth })
            }
            (Side::Operand(left), Side::Operand(right)) => Ok(Expression::Compare { left, right, equal }),
        }
    }

    /// A claim, bare `auth`, a `$name` or a literal; `expected` says what is missing if none is
    /// next.
    fn operand(&mut self, expected: &'static str) -> Result<Side, ConditionError> {
        let side = match self.peek() {
            Kind::Name => match self.text() {
                "auth" => {
                    self.advance();
                    return self.claim();
                }
                "true" => Side::Operand(Operand::Literal(Value::Bool(true))),
                "false" => Side::Operand(Operand::Literal(Value::Bool(false))),
                "null" => Side::Operand(Operand::Literal(Value::Null)),
                name => return Err(self.error(ConditionErrorKind::UnknownName(name.to_owned()))),
            },
            Kind::Capture => {
                let name = &self.text()[1..];
                match self.captures.iter().rposition(|capture| *capture == name) {
                    Some(index) => Side::Operand(Operand::Capture(index)),
                    None => return Err(self.error(ConditionErrorKind::UnknownCapture(name.to_owned()))),
                }
            }
            Kind::String(string) => Side::Operand(Operand::Literal(Value::String(string.clone()))),
            Kind::Number(number) => Side::Operand(Operand::Literal(Value::Number(number.clone()))),
            _ => return Err(self.expected(expected)),
        };
        self.advance();
        Ok(side)
    }

    /// The claim path after `auth`: `{ "." name | "[" string "]" }`; none leaves bare `auth`.
    fn claim(&mut self) -> Result<Side, ConditionError> {
        let mut names = Vec::new();
        loop {
            if self.eat(&Kind::Dot) {
                if self.peek() != &Kind::Name {
                    return Err(self.expected("a claim name after ."));
                }
                names.push(self.text().to_owned());
                self.advance();
            } else if self.eat(&Kind::OpenBracket) {
                let Kind::String(name) = self.peek() else {
                    return Err(self.expected("a quoted claim name after ["));
                };
                names.push(name.clone());
                self.advance();
                if !self.eat(&Kind::CloseBracket) {
                    return Err(self.expected("]"));
                }
            } else {
                break;
            }
        }
        Ok(if names.is_empty() { Side::Auth } else { Side::Operand(Operand::Claim(names)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Whether `condition`, parsed with the captures named in `captures`, holds for `auth` and
    /// the captured keys.
    fn holds(condition: &str, captures: &[(&str, &str)], auth: Option<Value>) -> bool {
        let names: Vec<&str> = captures.iter().map(|(name, _)| *name).collect();
        let keys: Vec<Cow<'_, str>> = captures.iter().map(|(_, key)| Cow::Borrowed(*key)).collect();
        let condition = Condition::parse(condition, &names).unwrap_or_else(|error| panic!("{condition}: {error}"));
        let auth = auth.map(|auth| match auth {
            Value::Object(claims) => claims,
            other => panic!("claims are an object, not {other}"),
        });
        condition.evaluate(auth.as_ref(), &keys)
    }

    /// The error parsing `condition` with no captures in scope.
    fn error(condition: &str) -> ConditionError {
        match Condition::parse(condition, &[]) {
            Ok(parsed) => panic!("{condition} parsed as {parsed:?}"),
            Err(error) => error,
        }
    }

    fn alice() -> Option<Value> {
        Some(json!({"sub": "alice", "role": "admin", "level": 3, "verified": true, "nothing": null,
            "org": {"id": "acme", "tier": {"name": "gold"}}, "groups": ["a"], "https://example.com/team": "red"}))
    }

    #[test]
    fn constants() {
        assert!(holds("true", &[], None));
        assert!(!holds("false", &[], alice()));
        assert!(holds("  true\n", &[], None));
        assert!(holds("(true)", &[], None));
        assert!(holds("!false", &[], None));
        assert!(holds("!!true", &[], None));
    }

    #[test]
    fn auth_presence() {
        assert!(holds("auth == null", &[], None));
        assert!(!holds("auth == null", &[], alice()));
        assert!(holds("auth != null", &[], alice()));
        assert!(!holds("auth != null", &[], None));
        assert!(holds("null == auth", &[], None));
        assert!(holds("auth != null", &[], Some(json!({}))), "an empty token is still a token");
    }

    #[test]
    fn claims_and_captures() {
        let uid = [("uid", "alice")];
        assert!(holds("auth.sub == $uid", &uid, alice()));
        assert!(!holds("auth.sub == $uid", &[("uid", "bob")], alice()));
        assert!(!holds("auth.sub == $uid", &uid, None));
        assert!(holds("$uid == auth.sub", &uid, alice()));
        assert!(holds("auth.role == 'admin'", &[], alice()));
        assert!(holds("auth.role == \"admin\"", &[], alice()));
        assert!(holds("auth.role != 'user'", &[], alice()));
        assert!(holds("auth.org.id == 'acme'", &[], alice()));
        assert!(holds("auth.org.tier.name == 'gold'", &[], alice()));
        assert!(holds("auth['https://example.com/team'] == 'red'", &[], alice()));
        assert!(holds("auth['org'].id == 'acme'", &[], alice()));
        assert!(holds("auth.verified == true", &[], alice()));
        assert!(holds("auth.level == 3", &[], alice()));
        assert!(holds("auth.nothing == null", &[], alice()));
        assert!(holds("$a == $b", &[("a", "x"), ("b", "x")], None));
        assert!(holds("$a != $b", &[("a", "x"), ("b", "y")], None));
        assert!(holds("'x' == 'x'", &[], None));
        assert!(holds("auth.null == 1 && auth . true == 2", &[], Some(json!({"null": 1, "true": 2}))));
    }

    #[test]
    fn an_inner_capture_shadows_none_but_is_found_by_position() {
        let captures = [("room", "lobby"), ("uid", "alice")];
        assert!(holds("$room == 'lobby' && $uid == auth.sub", &captures, alice()));
    }

    #[test]
    fn values_of_different_types_are_never_equal() {
        assert!(!holds("auth.level == '3'", &[], alice()));
        assert!(holds("auth.level != '3'", &[], alice()));
        assert!(!holds("auth.verified == 'true'", &[], alice()));
        assert!(!holds("$id == 1", &[("id", "1")], None));
        assert!(!holds("null == false", &[], None));
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(holds("auth.level == 3.0", &[], alice()));
        assert!(holds("auth.level == 3e0", &[], alice()));
        assert!(holds("auth.level != -3", &[], alice()));
        assert!(holds("0 == -0", &[], None));
        assert!(holds("18446744073709551615 != 18446744073709551614", &[], None));
        assert!(holds("-9223372036854775808 == -9223372036854775808", &[], None));
        assert!(holds("1e400 == 1e400", &[], None), "beyond a float, by text");
        assert!(!holds("1e400 == 2e400", &[], None));
        assert!(holds("auth.big == 10", &[], Some(json!({"big": 10.0}))));
    }

    /// A missing claim (or no token) makes a comparison false, for `==` and `!=` alike; so does
    /// a claim that is an object or an array.
    #[test]
    fn a_missing_claim_makes_a_comparison_false() {
        for auth in [None, alice()] {
            assert!(!holds("auth.missing == 'x'", &[], auth.clone()));
            assert!(!holds("auth.missing != 'x'", &[], auth.clone()));
            assert!(!holds("auth.missing == null", &[], auth.clone()));
            assert!(!holds("auth.missing != null", &[], auth.clone()));
            assert!(!holds("auth.sub.deeper == 'x'", &[], auth.clone()));
            assert!(!holds("auth.org.missing != 'x'", &[], auth.clone()));
            assert!(holds("!(auth.missing == 'x')", &[], auth.clone()), "! negates the false comparison");
        }
        assert!(!holds("auth.sub != 'bob'", &[], None), "no token is not 'someone other than bob'");
        assert!(!holds("auth.org == 'acme'", &[], alice()));
        assert!(!holds("auth.org != 'acme'", &[], alice()));
        assert!(!holds("auth.groups != null", &[], alice()));
        assert!(!holds("auth.org == auth.org", &[], alice()));
    }

    #[test]
    fn precedence() {
        // `&&` binds tighter than `||`: `true || (false && false)`.
        assert!(holds("true || false && false", &[], None));
        assert!(!holds("(true || false) && false", &[], None));
        assert!(holds("false && false || true", &[], None));
        // `==` binds tighter than `&&` and `||`.
        assert!(holds("auth.sub == 'alice' && auth.role == 'admin'", &[], alice()));
        assert!(holds("auth.sub == 'bob' || auth.role == 'admin'", &[], alice()));
        // `!` binds tightest: it negates the next term only.
        assert!(!holds("!true && false", &[], None));
        assert!(holds("!false || false", &[], None));
        assert!(holds("!(auth.sub == 'bob') && auth.sub == 'alice'", &[], alice()));
        assert!(holds("!(false || false) && true", &[], None));
        // Chains are flat and short-circuit in either direction alike.
        assert!(holds("false || false || false || true", &[], None));
        assert!(!holds("true && true && true && false", &[], None));
    }

    #[test]
    fn quoting() {
        assert!(holds(r#"auth.name == 'it\'s'"#, &[], Some(json!({"name": "it's"}))));
        assert!(holds(r#"auth.name == "say \"hi\"""#, &[], Some(json!({"name": "say \"hi\""}))));
        assert!(holds(r#"auth.name == 'back\\slash'"#, &[], Some(json!({"name": "back\\slash"}))));
        assert!(holds(r#"auth.name == "it's""#, &[], Some(json!({"name": "it's"}))));
        assert!(holds(r#"auth.name == '"'"#, &[], Some(json!({"name": "\""}))));
        assert!(holds("auth.name == 'déjà vu && ||'", &[], Some(json!({"name": "déjà vu && ||"}))));
        assert!(holds("auth.name == ''", &[], Some(json!({"name": ""}))));
    }

    #[test]
    fn syntax_errors() {
        use ConditionErrorKind::*;
        let expected = |expected: &'static str, found: &str| Expected { expected, found: found.to_owned() };
        let cases: Vec<(&str, usize, ConditionErrorKind)> = vec![
            ("", 0, Empty),
            ("  ", 2, Empty),
            ("auth.sub == 'a", 12, UnterminatedString),
            ("auth.sub == 'a\\'", 12, UnterminatedString),
            (r"auth.sub == 'a\n'", 14, UnknownEscape('n')),
            ("auth.sub === 'a'", 9, TripleEquals),
            ("auth.sub !== 'a'", 9, TripleEquals),
            ("auth.sub = 'a'", 9, UnexpectedCharacter('=')),
            ("true & true", 5, UnexpectedCharacter('&')),
            ("true | true", 5, UnexpectedCharacter('|')),
            ("auth.sub == $", 12, UnexpectedCharacter('$')),
            ("auth.sub == #", 12, UnexpectedCharacter('#')),
            ("auth.sub == é", 12, UnexpectedCharacter('é')),
            ("auth.level == 1.", 14, InvalidNumber("1.".into())),
            ("auth.level == 01", 14, InvalidNumber("01".into())),
            ("auth.level == 1-2", 14, InvalidNumber("1-2".into())),
            ("auth.level == -", 14, InvalidNumber("-".into())),
            ("auth.role == admin", 13, UnknownName("admin".into())),
            ("auth.sub == $uid", 12, UnknownCapture("uid".into())),
            ("auth", 0, BareAuth),
            ("auth == 'x'", 0, BareAuth),
            ("auth != auth", 0, BareAuth),
            ("'x' == auth", 0, BareAuth),
            ("auth.admin", 0, NotACondition("auth.admin".into())),
            ("auth['a'].b", 0, NotACondition("auth['a'].b".into())),
            ("null", 0, NotACondition("null".into())),
            ("'yes'", 0, NotACondition("'yes'".into())),
            ("1 && true", 0, NotACondition("1".into())),
            ("!auth.sub == 'a'", 1, NegatedOperand),
            ("!true == false", 1, NegatedOperand),
            ("!'x'", 1, NegatedOperand),
            ("!", 1, expected("a condition after !", "the end of the condition")),
            ("!&&", 1, expected("a condition after !", "&&")),
            ("true &&", 7, expected("a condition", "the end of the condition")),
            ("|| true", 0, expected("a condition", "||")),
            ("()", 1, expected("a condition", ")")),
            ("(true", 5, expected("&&, || or )", "the end of the condition")),
            ("true)", 4, expected("&&, || or the end of the condition", ")")),
            ("true true", 5, expected("&&, || or the end of the condition", "true")),
            ("(auth.a == 1) == true", 14, expected("&&, || or the end of the condition", "==")),
            ("auth.sub ==", 11, expected("a value to compare with", "the end of the condition")),
            ("auth.", 5, expected("a claim name after .", "the end of the condition")),
            ("auth.'sub' == 'a'", 5, expected("a claim name after .", "'sub'")),
            ("auth[sub] == 'a'", 5, expected("a quoted claim name after [", "sub")),
            ("auth['sub' == 'a'", 11, expected("]", "==")),
        ];
        for (condition, offset, kind) in cases {
            assert_eq!(error(condition), ConditionError { offset, kind }, "{condition}");
        }
    }

    #[test]
    fn errors_read_as_sentences() {
        assert_eq!(
            error("auth.role == admin").to_string(),
            "unknown name admin: a string is quoted, as in 'admin', and a claim is read through auth, as in auth.admin (at byte 13)"
        );
        assert_eq!(error("true &&").to_string(), "expected a condition, found the end of the condition (at byte 7)");
    }

    #[test]
    fn bounds() {
        let long = format!("auth.sub == '{}'", "x".repeat(CONDITION_BYTES_MAX));
        assert_eq!(error(&long).kind, ConditionErrorKind::TooLong { bytes_max: CONDITION_BYTES_MAX });
        let too_deep = ConditionErrorKind::TooDeep { nesting_max: CONDITION_NESTING_MAX };
        let nested = |depth: usize| format!("{}true{}", "(".repeat(depth), ")".repeat(depth));
        assert!(holds(&nested(CONDITION_NESTING_MAX), &[], None));
        assert_eq!(error(&nested(CONDITION_NESTING_MAX + 1)).kind, too_deep);
        let negated = |depth: usize| format!("{}true", "!".repeat(depth));
        assert!(holds(&negated(CONDITION_NESTING_MAX), &[], None));
        assert_eq!(error(&negated(CONDITION_NESTING_MAX + 1)).kind, too_deep);
        assert_eq!(error(&"(!".repeat(CONDITION_NESTING_MAX)).kind, too_deep);
        assert_eq!(error(&"(".repeat(CONDITION_BYTES_MAX)).kind, too_deep);
        // A long flat chain is fine: it is a list, not a tower.
        let chain = vec!["auth.sub == 'alice'"; 40].join(" && ");
        assert!(chain.len() <= CONDITION_BYTES_MAX);
        assert!(holds(&chain, &[], alice()));
    }

    proptest::proptest! {
        #[test]
        fn parsing_any_text_never_panics(text in "\\PC{0,300}") {
            if let Ok(condition) = Condition::parse(&text, &["a"]) {
                condition.evaluate(None, &[Cow::Borrowed("x")]);
            }
        }

        #[test]
        fn parsing_and_evaluating_token_soup_never_panics(
            tokens in proptest::collection::vec(
                proptest::sample::select(vec![
                    "auth", ".", "sub", "org", "[", "]", "'sub'", "\"x\"", "==", "!=", "&&", "||", "!", "(",
                    ")", "$a", "$b", "true", "false", "null", "1", "-2.5e3", "'", "\\", "=", "===",
                ]),
                0..60,
            ),
            spaced in proptest::bool::ANY,
        ) {
            let text = tokens.join(if spaced { " " } else { "" });
            if let Ok(condition) = Condition::parse(&text, &["a"]) {
                for auth in [None, alice()] {
                    let auth = auth.and_then(|auth| auth.as_object().cloned());
                    condition.evaluate(auth.as_ref(), &[Cow::Borrowed("alice")]);
                }
            }
        }
    }
}

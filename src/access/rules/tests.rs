//! The rules tree and its cascade: which requests the rules allow, and which documents they
//! refuse to be.

use super::*;
use proptest::prelude::*;
use serde_json::{Value, json};

/// The product issue's example rules, with the `rules` wrapper.
const EXAMPLE: &str = r#"{"rules": {
  "public": {".read": true},
  "users": {"$uid": {".read": "auth != null && auth.sub == $uid", ".write": "auth.sub == $uid"}},
  "admin": {".write": "auth.role == 'admin'"}
}}"#;

fn rules(json: &str) -> Rules {
    Rules::parse(json).unwrap_or_else(|error| panic!("{json}: {error}"))
}

fn claims(value: Value) -> Claims {
    match value {
        Value::Object(claims) => claims,
        other => panic!("claims are an object, not {other}"),
    }
}

/// Checks that `rules` give `auth` the `access` to each of `paths` that `expected` says.
fn check(rules: &Rules, access: Access, auth: Option<&Claims>, paths: &[(&str, bool)]) {
    for (path, expected) in paths {
        let pointer = PointerBuf::parse(*path).unwrap();
        assert_eq!(rules.allows(access, &pointer, auth), *expected, "{access:?} {path} by {auth:?}");
    }
}

/// The message of the error that parsing `json` fails with.
fn error(json: &str) -> String {
    match Rules::parse(json) {
        Ok(rules) => panic!("{json} parsed as {rules:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn the_example() {
    let rules = rules(EXAMPLE);
    let alice = claims(json!({"sub": "alice"}));
    let admin = claims(json!({"sub": "root", "role": "admin"}));
    for auth in [None, Some(&alice), Some(&admin)] {
        check(
            &rules,
            Access::Read,
            auth,
            &[("/public", true), ("/public/news/0", true), ("", false), ("/admin", false)],
        );
        check(&rules, Access::Write, auth, &[("/public", false), ("", false), ("/users", false)]);
    }
    check(&rules, Access::Read, Some(&alice), &[("/users/alice", true), ("/users/alice/name", true)]);
    check(&rules, Access::Read, Some(&alice), &[("/users/bob", false), ("/users", false)]);
    check(&rules, Access::Read, None, &[("/users/alice", false)]);
    check(&rules, Access::Write, Some(&alice), &[("/users/alice/name", true), ("/users/bob/name", false)]);
    check(&rules, Access::Write, None, &[("/users/alice", false)]);
    check(
        &rules,
        Access::Write,
        Some(&admin),
        &[("/admin", true), ("/admin/settings/x", true), ("/users/alice", false)],
    );
    check(&rules, Access::Write, Some(&alice), &[("/admin", false)]);
}

#[test]
fn the_wrapper_is_optional() {
    let wrapped = rules(EXAMPLE);
    let bare = json!({
      "public": {".read": true},
      "users": {"$uid": {".read": "auth != null && auth.sub == $uid", ".write": "auth.sub == $uid"}},
      "admin": {".write": "auth.role == 'admin'"}
    });
    let bare = rules(&bare.to_string());
    let alice = claims(json!({"sub": "alice"}));
    for path in ["", "/public", "/users", "/users/alice", "/users/bob/x", "/admin", "/elsewhere"] {
        let pointer = PointerBuf::parse(path).unwrap();
        for access in [Access::Read, Access::Write] {
            for auth in [None, Some(&alice)] {
                assert_eq!(wrapped.allows(access, &pointer, auth), bare.allows(access, &pointer, auth), "{path}");
            }
        }
    }
}

/// An object whose only member is `rules` is the wrapper; a tree whose only top-level key is a
/// literal `rules` has to be wrapped.
#[test]
fn an_object_with_rules_alone_is_the_wrapper() {
    check(&rules(r#"{"rules": {".read": true}}"#), Access::Read, None, &[("", true)]);
    let beside = rules(r#"{"rules": {".read": true}, "other": {}}"#);
    check(&beside, Access::Read, None, &[("", false), ("/rules", true), ("/rules/x", true)]);
    let wrapped = rules(r#"{"rules": {"rules": {".read": true}}}"#);
    check(&wrapped, Access::Read, None, &[("", false), ("/rules", true)]);
    assert_eq!(error(r#"{"rules": true}"#), "rules: expected an object of rules, found true");
}

#[test]
fn closed_by_default() {
    let alice = claims(json!({"sub": "alice", "role": "admin"}));
    let paths = [("", false), ("/a", false), ("/a/b/c", false), ("/users/alice", false)];
    for json in [
        "{}",
        r#"{"rules": {}}"#,
        r#"{".read": false, ".write": false, "a": {".read": false, "b": {}}}"#,
        r#"{"users": {"$uid": {".read": "auth.sub == 'nobody'", ".write": "auth == null && auth != null"}}}"#,
    ] {
        let rules = rules(json);
        for auth in [None, Some(&alice)] {
            check(&rules, Access::Read, auth, &paths);
            check(&rules, Access::Write, auth, &paths);
        }
    }
}

#[test]
fn a_grant_covers_its_subtree_and_nothing_below_takes_it_back() {
    let rules = rules(r#"{"a": {".read": true, "b": {".read": false, "c": {".read": "auth != null"}}}}"#);
    check(&rules, Access::Read, None, &[("/a", true), ("/a/b", true), ("/a/b/c", true), ("/a/x/y/z", true)]);
    check(&rules, Access::Read, None, &[("", false), ("/b", false)]);
}

#[test]
fn a_grant_below_does_not_reach_up() {
    let rules = rules(r#"{"a": {"b": {".read": true, ".write": true}}}"#);
    for access in [Access::Read, Access::Write] {
        check(&rules, access, None, &[("", false), ("/a", false), ("/a/b", true), ("/a/b/c", true), ("/a/c", false)]);
    }
}

#[test]
fn a_read_allowed_only_in_part_is_refused() {
    let rules = rules(r#"{"list": {"0": {".read": true}, "1": {".read": true}}, "users": {"$uid": {".read": true}}}"#);
    check(&rules, Access::Read, None, &[("/list/0", true), ("/list/1", true), ("/list", false), ("/list/2", false)]);
    check(&rules, Access::Read, None, &[("/users/anyone", true), ("/users", false), ("", false)]);
}

#[test]
fn rules_at_the_root() {
    let rules = rules(r#"{".read": true, ".write": "auth.role == 'admin'", "x": {".write": true}}"#);
    let admin = claims(json!({"role": "admin"}));
    check(&rules, Access::Read, None, &[("", true), ("/any/thing", true)]);
    check(&rules, Access::Write, None, &[("", false), ("/a", false), ("/x", true), ("/x/y", true)]);
    check(&rules, Access::Write, Some(&admin), &[("", true), ("/a/b", true)]);
}

#[test]
fn read_and_write_are_separate() {
    let rules = rules(r#"{"inbox": {".write": true}, "news": {".read": true}}"#);
    check(&rules, Access::Read, None, &[("/inbox", false), ("/news", true)]);
    check(&rules, Access::Write, None, &[("/inbox", true), ("/news", false)]);
}

#[test]
fn wildcards_capture_keys() {
    let rules = rules(
        r#"{"rooms": {"$room": {
            ".read": "$room == 'lobby'",
            "members": {"$uid": {".read": "auth.sub == $uid", ".write": "auth.sub == $uid && $room != 'lobby'"}}
        }}}"#,
    );
    let alice = claims(json!({"sub": "alice"}));
    check(&rules, Access::Read, None, &[("/rooms/lobby", true), ("/rooms/lobby/members/bob", true)]);
    check(&rules, Access::Read, None, &[("/rooms/den", false), ("/rooms/den/members/alice", false)]);
    check(&rules, Access::Read, Some(&alice), &[("/rooms/den/members/alice", true), ("/rooms/den/members", false)]);
    check(&rules, Access::Write, Some(&alice), &[("/rooms/den/members/alice/x", true)]);
    check(&rules, Access::Write, Some(&alice), &[("/rooms/lobby/members/alice", false)]);
    // A wildcard matches array indexes as it matches any key.
    check(&rules, Access::Read, Some(&claims(json!({"sub": "0"}))), &[("/rooms/den/members/0", true)]);
}

#[test]
fn captures_are_decoded_keys() {
    let rules = rules(r#"{"$key": {".read": "$key == 'a/b~c'"}, "x/y": {".write": true}}"#);
    check(&rules, Access::Read, None, &[("/a~1b~0c", true), ("/a~1b~1c", false), ("/ab~0c", false)]);
    check(&rules, Access::Write, None, &[("/x~1y", true), ("/x/y", false)]);
}

/// Like Firebase's `$other` beside `title` and `color`: a wildcard matches the keys that no
/// literal key at its level names, so a literal key shadows it for that key entirely, even with
/// no rules of its own.
#[test]
fn a_literal_key_takes_precedence_over_the_wildcard() {
    let rules = rules(
        r#"{"users": {
            "$uid": {".read": true, ".write": "auth.sub == $uid", "name": {".read": true}},
            "bob": {".read": "auth.sub == 'bob'", "profile": {".read": true}},
            "carol": {}
        }}"#,
    );
    let bob = claims(json!({"sub": "bob"}));
    check(&rules, Access::Read, None, &[("/users/alice", true), ("/users/alice/name", true)]);
    check(
        &rules,
        Access::Read,
        None,
        &[("/users/bob", false), ("/users/bob/name", false), ("/users/bob/profile", true)],
    );
    check(&rules, Access::Read, Some(&bob), &[("/users/bob", true), ("/users/bob/name", true)]);
    check(&rules, Access::Write, Some(&bob), &[("/users/bob", false), ("/users/bob/name", false)]);
    check(&rules, Access::Read, None, &[("/users/carol", false), ("/users/carol/name", false)]);
    check(&rules, Access::Write, Some(&claims(json!({"sub": "dave"}))), &[("/users/dave", true)]);
}

/// The first worked example of the README (Access rules), a per-user app.
#[test]
fn the_per_user_example() {
    let rules = rules(
        r#"{"rules": {
          ".read": "auth.role == 'admin'",
          "users": {
            "$uid": {
              ".read": "auth.sub == $uid",
              ".write": "auth.sub == $uid",
              "profile": {".read": "auth != null"}
            }
          }
        }}"#,
    );
    let alice = claims(json!({"sub": "alice"}));
    let admin = claims(json!({"sub": "root", "role": "admin"}));
    check(&rules, Access::Read, Some(&alice), &[("/users/alice/notes", true), ("/users/bob/profile", true)]);
    check(&rules, Access::Read, Some(&alice), &[("/users/bob/notes", false), ("/users", false)]);
    check(&rules, Access::Write, Some(&alice), &[("/users/alice/notes/1", true)]);
    check(&rules, Access::Read, None, &[("/users/bob/profile", false)]);
    check(&rules, Access::Read, Some(&admin), &[("", true)]);
    check(&rules, Access::Write, Some(&admin), &[("/users/bob", false)]);
}

/// The second worked example of the README (Access rules), a public site with admin writes.
#[test]
fn the_public_site_example() {
    let rules = rules(
        r#"{
          ".write": "auth.role == 'admin'",
          "pages": {".read": true},
          "menu": {".read": true},
          "drafts": {
            ".read": "auth.role == 'editor' || auth.role == 'admin'",
            ".write": "auth.role == 'editor'"
          }
        }"#,
    );
    let editor = claims(json!({"role": "editor"}));
    let admin = claims(json!({"role": "admin"}));
    check(&rules, Access::Read, None, &[("/pages/home", true), ("", false), ("/drafts/next", false)]);
    check(&rules, Access::Write, Some(&editor), &[("/drafts/next", true), ("/pages/home", false)]);
    check(&rules, Access::Write, Some(&admin), &[("/menu/3", true)]);
    check(&rules, Access::Read, Some(&admin), &[("/drafts", true), ("", false)]);
}

#[test]
fn configuration_errors_name_the_path() {
    let cases = [
        ("", "rules: not JSON: EOF while parsing a value at line 1 column 0"),
        ("{", "rules: not JSON: EOF while parsing an object at line 1 column 1"),
        ("{} {}", "rules: not JSON: trailing characters at line 1 column 4"),
        ("[]", "rules: expected an object of rules, found an array"),
        (r#"{"rules": 5}"#, "rules: expected an object of rules, found a number"),
        (r#"{"a": true}"#, "rules at /a: expected an object of rules, found true"),
        (r#"{"a": "b"}"#, "rules at /a: expected an object of rules, found a string"),
        (r#"{"a": null}"#, "rules at /a: expected an object of rules, found null"),
        (r#"{"a": {".red": true}}"#, "rules at /a/.red: unknown rule .red: the rules are .read and .write"),
        (r#"{".validate": true}"#, "rules at /.validate: unknown rule .validate: the rules are .read and .write"),
        (r#"{"a": {".read": 1}}"#, "rules at /a/.read: a rule is true, false or a condition in a string, not a number"),
        (r#"{".write": 1.5e3}"#, "rules at /.write: a rule is true, false or a condition in a string, not a number"),
        (r#"{".read": null}"#, "rules at /.read: a rule is true, false or a condition in a string, not null"),
        (r#"{".read": [true]}"#, "rules at /.read: a rule is true, false or a condition in a string, not an array"),
        (r#"{".read": {}}"#, "rules at /.read: a rule is true, false or a condition in a string, not an object"),
        (
            r#"{"a": {".read": "auth.sub =="}}"#,
            "rules at /a/.read: expected a value to compare with, found the end of the condition (at byte 11)",
        ),
        (
            r#"{"users": {"$uid": {".read": "auth.sub == $user"}}}"#,
            "rules at /users/$uid/.read: $user is not captured by a wildcard at or above this rule (at byte 12)",
        ),
        (
            r#"{"users": {"$uid": {}}, "x": {".read": "auth.sub == $uid"}}"#,
            "rules at /x/.read: $uid is not captured by a wildcard at or above this rule (at byte 12)",
        ),
        (
            r#"{"users": {"$uid": {".read": true}, "$other": {}}}"#,
            "rules at /users/$other: a second wildcard beside $uid: a level has at most one",
        ),
        (r#"{"$a": {"b": {"$a": {}}}}"#, "rules at /$a/b/$a: $a is already captured by a wildcard above"),
        (
            r#"{"$": {}}"#,
            "rules at /$: $ is not a wildcard: $ is followed by a letter or _, then letters, digits and _",
        ),
        (
            r#"{"$1": {}}"#,
            "rules at /$1: $1 is not a wildcard: $ is followed by a letter or _, then letters, digits and _",
        ),
        (
            r#"{"$a-b": {}}"#,
            "rules at /$a-b: $a-b is not a wildcard: $ is followed by a letter or _, then letters, digits and _",
        ),
        (
            r#"{"a": {".read": true, ".read": false}}"#,
            "rules: not JSON: the key \".read\" appears twice in one object at line 1 column 29",
        ),
        (r#"{"a/b~c": {".red": true}}"#, "rules at /a~1b~0c/.red: unknown rule .red: the rules are .read and .write"),
    ];
    for (json, message) in cases {
        assert_eq!(error(json), message, "{json}");
    }
    let error = Rules::parse(r#"{"rules": {"users": {"$uid": {".read": "auth.sub = $uid"}}}}"#).unwrap_err();
    assert_eq!(error.path, PointerBuf::parse("/users/$uid/.read").unwrap());
    assert_eq!(
        error.kind,
        RulesErrorKind::Condition(ConditionError { offset: 9, kind: ConditionErrorKind::UnexpectedCharacter('=') })
    );
}

/// `{"k": {"k": … {".read": true} … }}`, with the rule `depth` keys deep.
fn nested(depth: usize) -> String {
    format!("{}{{\".read\": true}}{}", r#"{"k": "#.repeat(depth), "}".repeat(depth))
}

#[test]
fn bounds() {
    let too_large = format!(r#"{{"a": {{".read": "{}"}}}}"#, " ".repeat(RULES_BYTES_MAX));
    assert_eq!(error(&too_large), format!("rules: the rules are larger than {RULES_BYTES_MAX} bytes"));
    let deepest = rules(&nested(RULES_DEPTH_MAX));
    let path = "/k".repeat(RULES_DEPTH_MAX);
    check(&deepest, Access::Read, None, &[(&path[2..], false), (&path, true), (&format!("{path}/x"), true)]);
    let wrapped = rules(&format!(r#"{{"rules": {}}}"#, nested(RULES_DEPTH_MAX)));
    check(&wrapped, Access::Read, None, &[(&path, true)]);
    let too_deep = Rules::parse(&nested(RULES_DEPTH_MAX + 1)).unwrap_err();
    assert_eq!(too_deep.kind, RulesErrorKind::TooDeep { depth_max: RULES_DEPTH_MAX });
    assert_eq!(too_deep.path.count(), RULES_DEPTH_MAX + 1);
    assert_eq!(error(&nested(100_000)), format!("rules: rules are nested deeper than {RULES_DEPTH_MAX} keys"));
    assert_eq!(error(&"[".repeat(100_000)), format!("rules: rules are nested deeper than {RULES_DEPTH_MAX} keys"));
    let long = format!(r#"{{".read": "auth.sub == '{}'"}}"#, "x".repeat(CONDITION_BYTES_MAX));
    assert_eq!(error(&long), "rules at /.read: the condition is longer than 1024 bytes (at byte 0)");
    // Many keys in one object are fine, and cheap to check for repeats.
    let wide: serde_json::Map<String, Value> =
        (0..20_000).map(|key| (key.to_string(), json!({".read": true}))).collect();
    check(&rules(&Value::Object(wide).to_string()), Access::Read, None, &[("/19999", true), ("/20000", false)]);
}

/// The conditions the generated rules draw from; `$CAPTURE` stands for the innermost capture.
const CONDITIONS: [&str; 10] = [
    "true",
    "false",
    "auth != null",
    "auth == null",
    "auth.sub == 'alice'",
    "auth.role == 'admin' || auth.sub == 'bob'",
    "!(auth.sub == 'alice')",
    "auth.role != 'admin'",
    "auth.sub == $CAPTURE",
    "$CAPTURE != 'b' && auth != null",
];

/// The literal keys the generated rules use; one more index is the wildcard.
const KEYS: [&str; 3] = ["a", "b", "alice"];

/// The shape of a generated rules tree: a rule index for `.read` and `.write` and children by key
/// index.
#[derive(Debug, Clone)]
struct Shape {
    read: Option<usize>,
    write: Option<usize>,
    children: Vec<(usize, Shape)>,
}

fn shape() -> impl Strategy<Value = Shape> {
    let rule = || proptest::option::of(0..CONDITIONS.len());
    let leaf = (rule(), rule()).prop_map(|(read, write)| Shape { read, write, children: Vec::new() });
    leaf.prop_recursive(5, 48, 4, move |inner| {
        (rule(), rule(), proptest::collection::vec((0..=KEYS.len(), inner), 0..4))
            .prop_map(|(read, write, children)| Shape { read, write, children })
    })
}

impl Shape {
    /// The rules document of this shape; the wildcard at depth `depth` is `$w<depth>`.
    fn json(&self, depth: usize, capture: Option<&str>) -> Value {
        let mut object = serde_json::Map::new();
        let condition = |index: usize| {
            let condition = CONDITIONS[index];
            match capture {
                Some(capture) => condition.replace("$CAPTURE", capture),
                None => condition.replace("$CAPTURE", "'alice'"),
            }
        };
        if let Some(read) = self.read {
            object.insert(".read".into(), if read < 2 { json!(read == 0) } else { json!(condition(read)) });
        }
        if let Some(write) = self.write {
            object.insert(".write".into(), json!(condition(write)));
        }
        for (key, child) in &self.children {
            match KEYS.get(*key) {
                Some(key) => object.insert((*key).into(), child.json(depth + 1, capture)),
                None => {
                    let name = format!("$w{depth}");
                    let value = child.json(depth + 1, Some(&name));
                    object.insert(name, value)
                }
            };
        }
        Value::Object(object)
    }
}

fn path() -> impl Strategy<Value = Vec<&'static str>> {
    proptest::collection::vec(proptest::sample::select(vec!["a", "b", "c", "alice", "bob", "0"]), 0..6)
}

fn auth() -> impl Strategy<Value = Option<Claims>> {
    let sub = proptest::option::of(proptest::sample::select(vec!["alice", "bob", "b"]));
    let role = proptest::option::of(proptest::sample::select(vec!["admin", "user"]));
    proptest::option::of((sub, role)).prop_map(|auth| {
        auth.map(|(sub, role)| {
            let mut claims = Claims::new();
            sub.map(|sub| claims.insert("sub".into(), json!(sub)));
            role.map(|role| claims.insert("role".into(), json!(role)));
            claims
        })
    })
}

/// Documents that look like rules, valid or not.
fn rules_like() -> impl Strategy<Value = Value> {
    let key = proptest::sample::select(vec![".read", ".write", ".red", "a", "b", "$a", "$b", "$", "rules", ""]);
    let leaf = prop_oneof![
        Just(json!(true)),
        Just(json!(false)),
        Just(json!(null)),
        Just(json!(1)),
        Just(json!("auth.sub == $a")),
        Just(json!("auth != null && (true || $b == 'x')")),
        "\\PC{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 5, move |inner| {
        prop_oneof![
            proptest::collection::btree_map(key.clone(), inner.clone(), 0..5)
                .prop_map(|members| Value::Object(members.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
            proptest::collection::vec(inner, 0..3).prop_map(Value::Array),
        ]
    })
}

proptest! {
    #[test]
    fn parsing_any_text_never_panics(text in "\\PC{0,400}") {
        let _ = Rules::parse(&text);
    }

    #[test]
    fn parsing_json_like_text_never_panics(text in r#"[{}\[\]":,.$ a-z0-9!=&|'\\]{0,300}"#) {
        let _ = Rules::parse(&text);
    }

    #[test]
    fn parsing_rules_like_documents_never_panics(document in rules_like(), pointer in path(), auth in auth()) {
        if let Ok(rules) = Rules::parse(&document.to_string()) {
            let pointer = PointerBuf::from_tokens(pointer);
            rules.allows(Access::Read, &pointer, auth.as_ref());
            rules.allows(Access::Write, &pointer, auth.as_ref());
        }
    }

    /// The cascade law: whatever the rules allow at a path, they allow everywhere below it.
    #[test]
    fn what_is_allowed_at_a_path_is_allowed_below_it(
        shape in shape(),
        above in path(),
        below in path(),
        auth in auth(),
    ) {
        let document = shape.json(0, None).to_string();
        let rules = Rules::parse(&document).map_err(|error| TestCaseError::fail(format!("{document}: {error}")))?;
        let above = PointerBuf::from_tokens(above);
        let mut beneath = above.clone();
        for token in below {
            beneath.push_back(token);
        }
        for access in [Access::Read, Access::Write] {
            if rules.allows(access, &above, auth.as_ref()) {
                prop_assert!(rules.allows(access, &beneath, auth.as_ref()), "{access:?} {above} but not {beneath} in {document}");
            }
        }
    }
}

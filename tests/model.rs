//! Random sequences of every kind of request, checked answer by answer against the plain
//! model in `api_model`, without faults, over the default layout and two small enough that a
//! few values make pages, parts and embedded pages.
//!
//! A request is planned before the model exists (proptest makes and shrinks plans), so what
//! needs the model's state is left open in the plan and resolved as it runs: paths into the
//! document, which tag a condition sends, and whether a JSON Patch `test` expects the value
//! that is there.

mod api_model;

use api_model::{Action, Clock, Header, Method, Model, Path, Tag, patch_operation, respell};
use jsonstore::layout::LayoutConfig;
use jsonstore::service::{Config, Request, Response, handle};
use jsonstore::store::MemoryStore;
use proptest::prelude::*;
use serde_json::{Value, json};

/// What a request does, before the model is there to fill in what depends on it.
#[derive(Debug, Clone)]
struct Plan {
    kind: Kind,
    path: Path,
    /// Whether the path is, instead, one to a value in the document (see [`place`]).
    existing: Option<u64>,
    value: Value,
    operations: Vec<OperationPlan>,
    condition: Option<(Header, Tag)>,
    minimal: bool,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Get,
    Put,
    Post,
    Delete,
    MergePatch,
    JsonPatch,
}

/// A JSON Patch operation; a `test` with `current` expects the value there, its numbers
/// spelled in one of several ways.
#[derive(Debug, Clone)]
struct OperationPlan {
    op: &'static str,
    path: Path,
    existing_path: Option<u64>,
    from: Path,
    existing_from: Option<u64>,
    value: Value,
    current: Option<usize>,
}

fn token() -> impl Strategy<Value = String> {
    prop_oneof![Just("a"), Just("b"), Just("0"), Just("1"), Just("-"), Just("k1"), Just("a/b")].prop_map(String::from)
}

fn path(tokens: std::ops::Range<usize>) -> impl Strategy<Value = Path> {
    proptest::collection::vec(token(), tokens)
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![Just(Value::Null), (0u32..1000).prop_map(|n| json!(n)), "[a-z]{0,12}".prop_map(Value::from)];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(prop_oneof![Just("a"), Just("b"), Just("0"), Just("k1")], inner, 0..4)
                .prop_map(|members| Value::Object(members.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

/// A merge patch: mostly an object whose `null` members remove, sometimes any value.
fn merge_patch() -> impl Strategy<Value = Value> {
    let member = prop_oneof![1 => Just(Value::Null), 3 => value()];
    prop_oneof![
        3 => proptest::collection::btree_map(prop_oneof![Just("a"), Just("b"), Just("0"), Just("k1")], member, 0..4)
            .prop_map(|members| Value::Object(members.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        1 => value(),
    ]
}

fn operation() -> impl Strategy<Value = OperationPlan> {
    let op = prop_oneof![
        4 => Just("add"),
        4 => Just("remove"),
        4 => Just("replace"),
        4 => Just("move"),
        4 => Just("copy"),
        4 => Just("test"),
        // Not an operation: the patch is refused whole with 422.
        1 => Just("frob"),
    ];
    (op, path(0..3), existing(), path(1..3), existing(), value(), proptest::option::of(0usize..4)).prop_map(
        |(op, path, existing_path, from, existing_from, value, current)| OperationPlan {
            op,
            path,
            existing_path,
            from,
            existing_from,
            value,
            current,
        },
    )
}

/// Half the time, a choice of a path to a value in the document.
fn existing() -> impl Strategy<Value = Option<u64>> {
    proptest::option::weighted(0.5, any::<u64>())
}

fn tag() -> impl Strategy<Value = Tag> {
    prop_oneof![
        Just(Tag::Star),
        Just(Tag::Fresh),
        Just(Tag::Fresh),
        Just(Tag::WeakFresh),
        (0usize..64).prop_map(Tag::Seen),
        Just(Tag::MadeUp),
    ]
}

fn plan() -> impl Strategy<Value = Plan> {
    let kind = prop_oneof![
        2 => Just(Kind::Get),
        3 => Just(Kind::Put),
        2 => Just(Kind::Post),
        1 => Just(Kind::Delete),
        2 => Just(Kind::MergePatch),
        3 => Just(Kind::JsonPatch),
    ];
    let condition = prop_oneof![
        3 => Just(None),
        1 => (prop_oneof![Just(Header::IfMatch), Just(Header::IfNoneMatch)], tag()).prop_map(Some),
    ];
    let body = prop_oneof![value(), merge_patch()];
    (kind, path(0..4), existing(), body, proptest::collection::vec(operation(), 1..4), condition).prop_flat_map(
        |(kind, path, existing, value, operations, condition)| {
            proptest::bool::weighted(0.1).prop_map(move |minimal| Plan {
                kind,
                path: path.clone(),
                existing,
                value: value.clone(),
                operations: operations.clone(),
                condition: condition.clone(),
                minimal,
            })
        },
    )
}

/// The path `tokens`, or with an `existing` choice, a path to a value in the model's document
/// below `under`, followed by the first of `tokens` when the choice is odd.
fn place(model: &Model, under: &[String], tokens: &[String], existing: Option<u64>) -> Path {
    let Some(choice) = existing else { return tokens.to_vec() };
    let mut path = model.existing_path(under, choice);
    path.extend(tokens.iter().take((choice % 2) as usize).cloned());
    path
}

/// The action a plan stands for, in the model's state now.
fn action(plan: &Plan, model: &Model) -> Action {
    let path = place(model, &[], &plan.path, plan.existing);
    let method = match plan.kind {
        Kind::Get => Method::Get,
        Kind::Put => Method::Put(plan.value.clone()),
        Kind::Post => Method::Post(plan.value.clone()),
        Kind::Delete => Method::Delete,
        Kind::MergePatch => Method::MergePatch(plan.value.clone()),
        Kind::JsonPatch => Method::JsonPatch(
            plan.operations
                .iter()
                .map(|operation| {
                    let relative = place(model, &path, &operation.path, operation.existing_path);
                    let from = place(model, &path, &operation.from, operation.existing_from);
                    let target: Path = path.iter().chain(&relative).cloned().collect();
                    let value = match (operation.op, operation.current, model.value_at(&target)) {
                        ("test", Some(spelling), Some(current)) => respell(current, spelling),
                        _ => operation.value.clone(),
                    };
                    patch_operation(operation.op, &relative, &from, value)
                })
                .collect(),
        ),
    };
    Action { method, path, condition: plan.condition.clone(), minimal: plan.minimal }
}

/// The default layout, one that stores almost every value in pages of its own split into many
/// parts, and one that embeds most top pages in their references.
fn layouts() -> [LayoutConfig; 3] {
    let small = |inline_bytes_max, page_bytes_target, chunk_bytes_max| LayoutConfig {
        inline_bytes_max,
        page_bytes_target,
        chunk_bytes_max,
        sweep_every: 3,
        keys_max: 0,
    };
    [LayoutConfig::default(), small(8, 40, 64), small(48, 64, 256)]
}

/// Runs the plans against a fresh store and the model, checking every answer and the whole
/// document after each request.
fn run(plans: &[Plan], layout: LayoutConfig) -> Result<(), String> {
    let (store, config, host) = (MemoryStore::new(), Config { layout, ..Config::open() }, Clock::default());
    let send = |request: &_| handle(&store, &config, &host, request);
    let mut model = Model::new(false);
    for (step, plan) in plans.iter().enumerate() {
        let context = |error: String| format!("step {step}, layout {layout:?}: {error}");
        let action = action(plan, &model);
        let action = model.prepare(action, send).map_err(context)?;
        model.check(&action, &send(&action.request())).map_err(context)?;
        let whole = Action::get(&[]);
        model.check(&whole, &send(&whole.request())).map_err(context)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn every_answer_matches_the_model(plans in proptest::collection::vec(plan(), 1..30)) {
        for layout in layouts() {
            if let Err(error) = run(&plans, layout) {
                return Err(TestCaseError::fail(error));
            }
        }
    }
}

/// Sends a request to `store` with the default configuration; a body is JSON unless a
/// header says otherwise.
fn send(store: &MemoryStore, method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Response {
    let mut headers: Vec<(String, String)> = headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
    if !body.is_empty() && !headers.iter().any(|(name, _)| name == "content-type") {
        headers.push(("content-type".into(), "application/json".into()));
    }
    let request = Request { method: method.into(), target: target.into(), headers, body: body.into() };
    handle(store, &Config::open(), &Clock::default(), &request)
}

fn body(response: &Response) -> Value {
    serde_json::from_slice(&response.body).unwrap()
}

// Bugs the model found, shown as small as they come, now fixed. The random runs above trust a
// tag only until the next write (see `Seen::fresh` in `api_model`).

/// `-` names the place after an array's last element in writes, and a missing target of a
/// POST is created as an object: `POST /list/-` should append `{KEY: value}` to the list.
/// It answers 404, naming `/list/-/KEY`, and writes nothing: the new value's location keeps
/// the `-` (`core::document::post` drops the resolved location that `put` returns).
#[test]
fn a_post_to_the_end_of_an_array_adds_an_object_there() {
    let store = MemoryStore::new();
    assert_eq!(send(&store, "PUT", "/list", &[], "[1]").status, 201);
    let posted = send(&store, "POST", "/list/-", &[], "2");
    assert_eq!(posted.status, 201, "{}", String::from_utf8_lossy(&posted.body));
    let key = body(&posted)["name"].as_str().unwrap().to_owned();
    assert_eq!(posted.header("location"), Some(format!("/list/1/{key}").as_str()));
    assert_eq!(body(&send(&store, "GET", "/list", &[], "")), json!([1, {key: 2}]));
}

/// A merge patch of a missing target creates it (201), and `-` in an array is the place after
/// its last element: `PATCH /list/-` should append the patched value. It answers 404 and
/// writes nothing: the answer reads the value back at `/list/-` rather than where it went.
#[test]
fn a_merge_patch_to_the_end_of_an_array_appends() {
    let store = MemoryStore::new();
    assert_eq!(send(&store, "PUT", "/list", &[], "[1]").status, 201);
    let merge = [("content-type", "application/merge-patch+json")];
    let patched = send(&store, "PATCH", "/list/-", &merge, r#"{"a":1}"#);
    assert_eq!(patched.status, 201, "{}", String::from_utf8_lossy(&patched.body));
    assert_eq!(patched.header("location"), Some("/list/1"));
    assert_eq!(body(&send(&store, "GET", "/list", &[], "")), json!([1, {"a": 1}]));
}

/// The README: a value's ETag "changes only when the value at that path changes". With the
/// default layout, a document of up to 16 KiB is kept inline in the root record, and a 1.5 KB
/// value in it is tagged by the hash of its JSON; a write beside it that takes the document
/// past 16 KiB stores it in pages, and the value, over the 1 KiB inline limit, becomes a node
/// of its own, tagged by its page's hash. So a client that read `/a` and writes it with
/// `If-Match` gets 412, though nobody changed `/a`.
#[test]
fn a_write_elsewhere_keeps_the_tag_of_an_unchanged_value() {
    let store = MemoryStore::new();
    let medium = json!((0..400).collect::<Vec<u32>>()).to_string();
    assert_eq!(send(&store, "PUT", "/a", &[], &medium).status, 201);
    let read = send(&store, "GET", "/a", &[], "");
    let tag = read.header("etag").unwrap().to_owned();
    assert_eq!(send(&store, "PUT", "/b", &[], &json!("x".repeat(20_000)).to_string()).status, 201);
    assert_eq!(send(&store, "GET", "/a", &[], "").header("etag"), Some(tag.as_str()));
    assert_eq!(send(&store, "PUT", "/a", &[("if-match", &tag)], "1").status, 200);
}

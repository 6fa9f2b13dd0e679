//! The OpenAPI contract, `openapi.yaml`, held true in both directions.
//!
//! Read against the code: every problem the code can make (each `Problem::new(status, kind, …)`
//! in `src/`, kinds named by constants too) is in the contract's `Problem` enum and under its
//! status, and the contract lists no other; every member a problem carries is in the `Problem`
//! schema; every path lists exactly the methods JSONStore serves; every `$ref` resolves.
//! Against the real component (the `e2e` feature): every operation in the contract is served,
//! and Schemathesis generates requests from the contract and checks every answer against it,
//! once with a credential and once without.
//!
//! The contract describes three paths (`/`, `/{token}`, `/{parent}/{token}`) because an OpenAPI
//! path parameter is one segment; deeper pointers behave the same, as its description says.

#[cfg(feature = "e2e")]
mod common;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

/// The prefix of every problem's `type`.
const PROBLEM_TYPE: &str = "urn:jsonstore:problem:";

/// The methods OpenAPI can describe in a path item.
const OPENAPI_METHODS: [&str; 9] = ["get", "head", "put", "post", "patch", "delete", "options", "trace", "query"];

/// `openapi.yaml`, as JSON.
fn contract() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    let documents =
        YamlLoader::load_from_str(&text).unwrap_or_else(|error| panic!("openapi.yaml is not YAML: {error}"));
    assert_eq!(documents.len(), 1, "openapi.yaml holds one document");
    to_json(&documents[0])
}

/// A YAML value as JSON; aliases are already resolved by the loader.
fn to_json(yaml: &Yaml) -> Value {
    match yaml {
        Yaml::Null => Value::Null,
        Yaml::Boolean(boolean) => Value::Bool(*boolean),
        Yaml::Integer(integer) => Value::from(*integer),
        Yaml::Real(real) => serde_json::from_str(real).unwrap_or_else(|_| panic!("the number {real} is not JSON")),
        Yaml::String(string) => Value::String(string.clone()),
        Yaml::Array(items) => items.iter().map(to_json).collect(),
        Yaml::Hash(members) => members
            .iter()
            .map(|(key, value)| {
                let key = match key {
                    Yaml::String(key) => key.clone(),
                    Yaml::Integer(key) => key.to_string(),
                    other => panic!("a mapping key that is not a string: {other:?}"),
                };
                (key, to_json(value))
            })
            .collect(),
        Yaml::Alias(_) | Yaml::BadValue => panic!("openapi.yaml has a value that is not JSON: {yaml:?}"),
    }
}

/// The text of every Rust source under `src/`, by path.
fn sources() -> BTreeMap<PathBuf, String> {
    fn walk(dir: &Path, found: &mut BTreeMap<PathBuf, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                found.insert(path, text);
            }
        }
    }
    let mut found = BTreeMap::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut found);
    assert!(found.len() > 10, "found the sources");
    found
}

/// Every problem the code can make, as `kind` to the statuses it is made with: each
/// `Problem::new(` call's status literal and kind, a string literal or a `&str` constant.
fn problems_in_the_code() -> BTreeMap<String, BTreeSet<u16>> {
    let sources = sources();
    let constant = |name: &str| {
        let declaration = format!("const {name}: &str = \"");
        sources.values().find_map(|text| {
            let start = text.find(&declaration)? + declaration.len();
            Some(text[start..].split('"').next().unwrap().to_owned())
        })
    };
    let mut problems: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
    for (path, text) in &sources {
        for (at, _) in text.match_indices("Problem::new(") {
            let call = &text[at + "Problem::new(".len()..];
            let mut arguments = call.splitn(3, ',').map(str::trim);
            let (status, kind) = (arguments.next().unwrap(), arguments.next().unwrap());
            let place = || format!("{}: Problem::new({}", path.display(), &call[..call.len().min(60)]);
            let status: u16 =
                status.parse().unwrap_or_else(|_| panic!("{}: the status is not a number literal", place()));
            let kind = match kind.strip_prefix('"') {
                Some(literal) => literal.trim_end_matches('"').to_owned(),
                None => constant(kind).unwrap_or_else(|| panic!("{}: no `const {kind}: &str` in src/", place())),
            };
            problems.entry(kind).or_default().insert(status);
        }
    }
    assert!(problems.len() > 15, "found the problems: {problems:?}");
    problems
}

fn schema<'c>(contract: &'c Value, name: &str) -> &'c Value {
    let schema = &contract["components"]["schemas"][name];
    assert!(schema.is_object(), "openapi.yaml has no schema {name}");
    schema
}

fn strings(value: &Value) -> BTreeSet<String> {
    value.as_array().into_iter().flatten().map(|item| item.as_str().unwrap().to_owned()).collect()
}

/// Every problem kind the code can produce is in the contract's `Problem` enum, under the
/// `Problem<status>` schema of each status it comes with; and the contract names no kind, and
/// no kind under a status, that the code cannot produce.
#[test]
fn every_problem_kind_is_in_the_contract() {
    let contract = contract();
    let in_code = problems_in_the_code();
    let types = |kinds: &mut dyn Iterator<Item = &String>| kinds.map(|kind| format!("{PROBLEM_TYPE}{kind}")).collect();
    let in_enum = strings(&schema(&contract, "Problem")["properties"]["type"]["enum"]);
    assert_eq!(in_enum, types(&mut in_code.keys()), "the Problem enum against the kinds in src/");
    let mut by_status: BTreeMap<u16, BTreeSet<&String>> = BTreeMap::new();
    for (kind, statuses) in &in_code {
        for status in statuses {
            by_status.entry(*status).or_default().insert(kind);
        }
    }
    let documented: BTreeSet<u16> = contract["components"]["schemas"]
        .as_object()
        .unwrap()
        .keys()
        .filter_map(|name| name.strip_prefix("Problem")?.parse().ok())
        .collect();
    assert_eq!(documented, by_status.keys().copied().collect(), "a Problem<status> schema for every status");
    for (status, kinds) in by_status {
        let narrowed = &schema(&contract, &format!("Problem{status}"))["allOf"][1]["properties"];
        assert_eq!(strings(&narrowed["type"]["enum"]), types(&mut kinds.into_iter()), "Problem{status}");
        assert_eq!(narrowed["status"]["const"], status, "Problem{status}");
    }
}

/// Every member a problem can carry (`.with("name", …)`, and `.at(…)` for `pointer`) is in the
/// `Problem` schema, which admits no others.
#[test]
fn every_problem_member_is_in_the_contract() {
    let contract = contract();
    let problem = schema(&contract, "Problem");
    assert_eq!(problem["additionalProperties"], false, "the Problem schema lists every member");
    let documented: BTreeSet<String> = problem["properties"].as_object().unwrap().keys().cloned().collect();
    let mut members: BTreeSet<String> = ["type", "title", "status", "detail", "pointer"].map(String::from).into();
    for text in sources().values() {
        for (at, _) in text.match_indices(".with(\"") {
            let name = text[at + ".with(\"".len()..].split('"').next().unwrap();
            members.insert(name.to_owned());
        }
    }
    assert_eq!(documented, members, "the Problem schema's members against src/");
}

/// Every path in the contract has exactly the methods JSONStore serves, `service::ALLOW`, and
/// every operation needs a credential and says what a request without one gets.
#[test]
fn every_path_has_every_method_served() {
    let contract = contract();
    let served: BTreeSet<String> = jsonstore::service::ALLOW.split(", ").map(str::to_ascii_lowercase).collect();
    let paths = contract["paths"].as_object().unwrap();
    assert_eq!(paths.keys().collect::<Vec<_>>(), ["/", "/{parent}/{token}", "/{token}"]);
    assert!(!contract["security"].as_array().unwrap().is_empty(), "operations need a credential");
    for (path, item) in paths {
        let methods: BTreeSet<String> =
            item.as_object().unwrap().keys().filter(|key| OPENAPI_METHODS.contains(&key.as_str())).cloned().collect();
        assert_eq!(methods, served, "the methods of {path}");
        for (method, operation) in item.as_object().unwrap().iter().filter(|(key, _)| methods.contains(*key)) {
            assert!(operation.get("security").is_none(), "{method} {path} needs what every operation needs");
            assert!(operation["responses"]["401"].is_object(), "{method} {path} documents 401");
        }
    }
}

/// The headers whose value never changes are the code's: `Allow` (and a preflight's
/// `Access-Control-Allow-Methods`) and `Accept-Patch`.
#[test]
fn the_fixed_headers_are_the_code_s() {
    let contract = contract();
    let headers = &contract["components"]["headers"];
    for (name, value) in [
        ("Allow", jsonstore::service::ALLOW),
        ("AccessControlAllowMethods", jsonstore::service::ALLOW),
        ("AcceptPatch", jsonstore::service::ACCEPT_PATCH),
    ] {
        assert_eq!(headers[name]["schema"]["const"], value, "the header {name}");
    }
}

/// Every `$ref` in the contract points at something in it.
#[test]
fn every_reference_resolves() {
    fn walk(value: &Value, contract: &Value, count: &mut usize) {
        match value {
            Value::Object(members) => {
                if let Some(Value::String(reference)) = members.get("$ref") {
                    let pointer = reference.strip_prefix('#').unwrap_or_else(|| panic!("{reference} is not local"));
                    assert!(contract.pointer(pointer).is_some(), "{reference} points at nothing");
                    *count += 1;
                }
                members.values().for_each(|value| walk(value, contract, count));
            }
            Value::Array(items) => items.iter().for_each(|value| walk(value, contract, count)),
            _ => {}
        }
    }
    let contract = contract();
    let mut count = 0;
    walk(&contract, &contract, &mut count);
    assert!(count > 100, "found the references ({count})");
}

/// The headers CORS lets a page read are documented response headers, and the request headers
/// a preflight allows by default are documented parameters (or the bearer scheme's, or the
/// request body's `Content-Type`).
#[test]
fn the_cors_headers_are_in_the_contract() {
    let contract = contract();
    let mut response_headers = BTreeSet::new();
    for response in contract["components"]["responses"].as_object().unwrap().values() {
        for name in response["headers"].as_object().into_iter().flat_map(|headers| headers.keys()) {
            response_headers.insert(name.to_ascii_lowercase());
        }
    }
    for exposed in jsonstore::service::cors::EXPOSE_HEADERS.split(", ") {
        assert!(response_headers.contains(exposed), "the exposed header {exposed} is not documented");
    }
    let parameters: BTreeSet<String> = contract["components"]["parameters"]
        .as_object()
        .unwrap()
        .values()
        .filter(|parameter| parameter["in"] == "header")
        .map(|parameter| parameter["name"].as_str().unwrap().to_ascii_lowercase())
        .collect();
    assert_eq!(contract["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    for allowed in jsonstore::service::cors::ALLOW_HEADERS.split(", ") {
        let documented = parameters.contains(allowed) || ["authorization", "content-type"].contains(&allowed);
        assert!(documented, "the request header {allowed} is not documented");
    }
}

#[cfg(feature = "e2e")]
mod served {
    use super::common::Server;
    use super::contract;
    use serde_json::Value;
    use std::path::Path;
    use std::process::Command;

    const READ: &str = "reader-contract-0123456789abcdef";
    const WRITE: &str = "writer-contract-0123456789abcdef";

    /// The README's example document, so that generated paths (the contract's examples are its
    /// names) sometimes find a value.
    const SEED: &str =
        r#"{"sniffles":[{"name":"fred"},{"name":"irma"},{"name":"wobble"}],"snuffle":{"name":"gundar"}}"#;

    fn start() -> (tempfile::TempDir, Server) {
        let data = tempfile::tempdir().unwrap();
        let server =
            Server::start_with(data.path(), &[("JSONSTORE_READ_TOKEN", READ), ("JSONSTORE_WRITE_TOKEN", WRITE)]);
        (data, server)
    }

    fn seed(server: &Server, authorization: &str) {
        let reply = server.send("PUT", "/", &[("authorization", authorization)], SEED);
        assert!(matches!(reply.status, 200 | 201), "seeding: {}", reply.status);
    }

    /// A request body for `media_type` that every operation taking it accepts at the seed's
    /// `/`, `/sniffles` and `/sniffles/0`.
    fn body_for(media_type: &str) -> &'static str {
        match media_type {
            "application/json" | "application/merge-patch+json" => r#"{"name":"nibble"}"#,
            "application/json-patch+json" => "[]",
            other => panic!("no body for {other}: add one"),
        }
    }

    /// Every operation in the contract, with every media type it takes, is answered by a
    /// running server with a success it documents: none is refused as a method or a path the
    /// server does not serve.
    #[test]
    fn every_operation_in_the_contract_is_served() {
        let contract = contract();
        let (_data, server) = start();
        let authorization = format!("Bearer {WRITE}");
        let mut served = 0;
        for (template, item) in contract["paths"].as_object().unwrap() {
            let path = match template.as_str() {
                "/" => "/",
                "/{token}" => "/sniffles",
                "/{parent}/{token}" => "/sniffles/0",
                other => panic!("no concrete path for {other}: add one"),
            };
            for (method, operation) in item.as_object().unwrap() {
                if !super::OPENAPI_METHODS.contains(&method.as_str()) {
                    continue;
                }
                let body = &operation["requestBody"];
                let body = match body["$ref"].as_str() {
                    Some(reference) => contract.pointer(&reference[1..]).unwrap(),
                    None => body,
                };
                let media_types: Vec<Option<&str>> = match body["content"].as_object() {
                    Some(content) => content.keys().map(|media_type| Some(media_type.as_str())).collect(),
                    None => vec![None],
                };
                for media_type in media_types {
                    seed(&server, &authorization);
                    let mut headers = vec![("authorization", authorization.as_str())];
                    if let Some(media_type) = media_type {
                        headers.push(("content-type", media_type));
                    }
                    let (method, body) = (method.to_ascii_uppercase(), media_type.map_or("", body_for));
                    let reply = server.send(&method, path, &headers, body);
                    let what = format!("{method} {path} ({template}) with {media_type:?}");
                    assert!((200..300).contains(&reply.status), "{what}: {} {}", reply.status, reply.json());
                    let documented = &operation["responses"][reply.status.to_string()];
                    assert!(documented.is_object(), "{what}: {} is not documented", reply.status);
                    served += 1;
                }
            }
        }
        assert_eq!(served, 3 * (6 + 3), "every method at every path, PATCH with each media type");
    }

    /// What Schemathesis is told beyond the contract, with why.
    const SCHEMATHESIS_CONFIG: &str = r#"
# A conditional request whose tag is not the value's (a generated If-Match, say) is well formed,
# and 412 is its answer: valid data rejected with 412 is not a failure.
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "412", "429", "5xx"]

# Stateful scenarios check that a value deleted is not there any more (use_after_free) and
# count only PUT and POST at the path or above it as re-creating it. Three kinds of request
# leave those scenarios (they are still generated in every other phase, with every check):
# OPTIONS answers for any path, there or not (a PUT may create it), like `OPTIONS *`.
[[operations]]
include-operation-id = ["optionsRoot", "optionsValue", "optionsChild"]
phases.stateful.enabled = false

# A merge patch of a missing value creates it (201), as the contract says.
[[operations]]
include-operation-id = ["patchRoot", "patchValue", "patchChild"]
phases.stateful.enabled = false

# A write below a missing value creates it (missing parents are made, like mkdir -p), so a POST
# to /a/b re-creates /a; Schemathesis does not count writes below the deleted path. Deletes at
# `/{parent}/{token}`, the deepest path, are still checked: nothing in the contract is below it.
[[operations]]
include-operation-id = "deleteValue"
phases.stateful.enabled = false
"#;

    /// Runs Schemathesis against `server` for `seconds` with every check, and `extra`
    /// arguments; prints how many answers each check saw, and panics with Schemathesis's output
    /// unless it found nothing.
    fn schemathesis(server: &Server, label: &str, seconds: u32, extra: &[&str]) {
        let work = tempfile::tempdir().unwrap();
        let config = work.path().join("schemathesis.toml");
        std::fs::write(&config, SCHEMATHESIS_CONFIG).unwrap();
        let report = work.path().join("report");
        let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.yaml");
        let mut command = Command::new(jsonstore_testkit::required("JSONSTORE_SCHEMATHESIS"));
        command.current_dir(work.path()).arg("--config-file").arg(&config).arg("run").arg(&spec);
        command.args(["--url", &server.url, "--checks", "all", "--workers", "1", "--no-color"]);
        command.args(["--max-time", &seconds.to_string(), "--generation-database", "none"]);
        command.args(["--report", "ndjson", "--report-dir"]).arg(&report);
        command.args(extra);
        let output = command.output().unwrap_or_else(|error| panic!("running Schemathesis: {error}"));
        let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
        assert!(!text.contains(READ) && !text.contains(WRITE), "a token leaked into the output");
        let summary = text.lines().rev().find(|line| line.contains(" generated, ")).unwrap_or("no summary");
        eprintln!("Schemathesis {label}: {}; {}", summary.trim(), tally(&report));
        assert!(output.status.success(), "Schemathesis failed:\n{text}\nserver log:\n{}", server.log());
    }

    /// How many answers each check passed and failed, from the NDJSON report in `dir`.
    fn tally(dir: &Path) -> String {
        let Some(Ok(entry)) = std::fs::read_dir(dir).into_iter().flatten().next() else {
            return "no report".to_owned();
        };
        let mut counts: std::collections::BTreeMap<String, (u32, u32)> = Default::default();
        for line in std::fs::read_to_string(entry.path()).unwrap().lines() {
            let event: Value = serde_json::from_str(line).unwrap();
            let checks = event["ScenarioFinished"]["recorder"]["checks"].as_object().into_iter().flatten();
            for check in checks.flat_map(|(_, checks)| checks.as_array().unwrap()) {
                let count = counts.entry(check["name"].as_str().unwrap().to_owned()).or_default();
                if check["status"] == "success" { count.0 += 1 } else { count.1 += 1 }
            }
        }
        let counts: Vec<String> =
            counts.iter().map(|(name, (passed, failed))| format!("{name} {passed} passed, {failed} failed")).collect();
        counts.join("; ")
    }

    /// With the write token, generated requests reach every operation, and every answer is one
    /// the contract describes; `ignored_auth` also sends each without a credential and with a
    /// wrong one, which must get 401.
    #[test]
    fn schemathesis_finds_nothing_with_a_credential() {
        let (_data, server) = start();
        let authorization = format!("Bearer {WRITE}");
        seed(&server, &authorization);
        schemathesis(&server, "with a credential", 60, &["--header", &format!("Authorization: {authorization}")]);
    }

    /// Without a credential, every generated request (a generated `Authorization` or `auth`
    /// included) gets the 401 the contract describes.
    #[test]
    fn schemathesis_finds_nothing_without_a_credential() {
        let (_data, server) = start();
        schemathesis(&server, "without a credential", 30, &[]);
        let reply = server.send("GET", "/", &[("authorization", &format!("Bearer {READ}"))], "");
        assert_eq!(reply.status, 404, "nothing was written: {}", String::from_utf8_lossy(&reply.body));
    }
}

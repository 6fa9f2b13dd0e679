//! Access control end to end: the real component under the real `wasmtime serve`, closed by
//! default and opened by tokens, every method with every kind of credential.

#![cfg(feature = "e2e")]

mod common;

use common::Server;

const READ: &str = "reader-e2e-0123456789abcdef";
const WRITE: &str = "writer-e2e-0123456789abcdef";

/// Every method against a store opened by tokens: no credential, a wrong one, the read token
/// and the write token, in the header and in the query.
#[test]
fn the_access_matrix() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with(data.path(), &[("JSONSTORE_READ_TOKEN", READ), ("JSONSTORE_WRITE_TOKEN", WRITE)]);
    let bearer = |token: &str| format!("Bearer {token}");
    let send = |method: &str, path: &str, token: Option<&str>, content_type: &str, body: &str| {
        let authorization = token.map(bearer);
        let mut headers = vec![("content-type", content_type)];
        if let Some(authorization) = &authorization {
            headers.push(("authorization", authorization.as_str()));
        }
        let reply = server.send(method, path, &headers, body);
        assert!(!String::from_utf8_lossy(&reply.body).contains("e2e-0123"), "a token leaked");
        reply
    };
    let json = "application/json";
    send("PUT", "/", Some(WRITE), json, r#"{"a": 1, "list": [1], "b": {"c": 2}}"#).expect(201);
    let requests: [(&str, &str, &str, &str, bool); 9] = [
        ("GET", "/a", json, "", false),
        ("HEAD", "/", json, "", false),
        ("OPTIONS", "/", json, "", false),
        ("PUT", "/a", json, "2", true),
        ("POST", "/list", json, "2", true),
        ("PATCH", "/b", "application/merge-patch+json", r#"{"d": 3}"#, true),
        ("PATCH", "/", "application/json-patch+json", r#"[{"op": "copy", "from": "/a", "path": "/e"}]"#, true),
        ("DELETE", "/list/0", json, "", true),
        ("DELETE", "/", json, "", true),
    ];
    for (method, path, content_type, body, writes) in requests {
        let refused = send(method, path, None, content_type, body);
        assert_eq!(refused.status, 401, "{method} {path} without a credential");
        assert_eq!(refused.header("www-authenticate"), Some("Bearer realm=\"jsonstore\""));
        let wrong = send(method, path, Some("wrong-e2e-0123456789abcdef"), content_type, body);
        assert_eq!(wrong.status, 401, "{method} {path} with a wrong token");
        let read = send(method, path, Some(READ), content_type, body);
        assert_eq!(read.status, if writes { 403 } else { read.status }, "{method} {path} with the read token");
        assert!(writes || read.status < 300, "{method} {path} with the read token: {}", read.status);
    }
    // Nothing the refused requests sent was written.
    let whole = send("GET", "/", Some(READ), json, "");
    assert_eq!(whole.expect(200).json(), serde_json::json!({"a": 1, "list": [1], "b": {"c": 2}}));
    for (method, path, content_type, body, _) in requests {
        let reply = send(method, path, Some(WRITE), content_type, body);
        assert!(reply.status < 300, "{method} {path} with the write token: {}", reply.status);
    }
    assert_eq!(send("GET", "/", Some(WRITE), json, "").status, 404, "DELETE / emptied the store");
    // A browser's EventSource cannot set headers: the query carries the token.
    send("PUT", "/x", Some(WRITE), json, "5").expect(201);
    assert_eq!(server.get(&format!("/x?auth={READ}")).expect(200).json(), serde_json::json!(5));
    assert_eq!(server.get("/x?auth=wrong-e2e-0123456789abcdef").status, 401);
    // A preflight goes through without a credential, and allows the Authorization header.
    let preflight = server.send(
        "OPTIONS",
        "/x",
        &[
            ("origin", "https://app.example"),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "authorization, content-type"),
        ],
        "",
    );
    assert_eq!(preflight.status, 204);
    assert!(preflight.header("access-control-allow-headers").unwrap().contains("authorization"));
}

/// With no access configured at all, the store refuses everything and says how to open it.
#[test]
fn a_store_with_nothing_configured_is_closed() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with(data.path(), &[("JSONSTORE_ACCESS", "")]);
    for (method, path) in [("GET", "/"), ("PUT", "/"), ("DELETE", "/"), ("POST", "/"), ("PATCH", "/")] {
        let reply = server.send(method, path, &[("content-type", "application/json")], "1");
        reply.problem(401);
        assert!(reply.json()["detail"].as_str().unwrap().contains("write_token"), "{method} {path}");
    }
    assert!(std::fs::read_dir(data.path()).unwrap().count() <= 1, "nothing was stored");
}

/// Rules open parts of a store to callers without a token, under the real host.
#[test]
fn rules_open_parts_of_a_store() {
    let data = tempfile::tempdir().unwrap();
    let rules = r#"{"public": {".read": true}, "inbox": {"$id": {".write": "auth == null"}}}"#;
    let server = Server::start_with(data.path(), &[("JSONSTORE_WRITE_TOKEN", WRITE), ("JSONSTORE_RULES", rules)]);
    let authorization = format!("Bearer {WRITE}");
    let as_writer = [("authorization", authorization.as_str())];
    server.send("PUT", "/", &as_writer, r#"{"public": {"news": "hello"}, "private": 1, "inbox": {}}"#).expect(201);
    assert_eq!(server.get("/public/news").expect(200).json(), serde_json::json!("hello"));
    server.get("/").problem(401);
    server.get("/private").problem(401);
    server.put("/public/news", "\"defaced\"").problem(401);
    server.send("POST", "/inbox", &[], "\"a message\"").expect(201);
    assert_eq!(server.send("GET", "/inbox", &as_writer, "").expect(200).json().as_object().unwrap().len(), 1);
}

/// A bad rules document closes the store with a `misconfigured` problem: never an open store.
#[test]
fn bad_rules_are_a_misconfiguration() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with(data.path(), &[("JSONSTORE_RULES", r#"{"public": {".red": true}}"#)]);
    let problem = server.get("/public").problem(500);
    assert_eq!(problem["type"], "urn:jsonstore:problem:misconfigured");
    assert!(problem["detail"].as_str().unwrap().contains(".red"), "{problem}");
}

/// Users' JWTs under the real host: a user reads and writes their own data and nobody else's;
/// an expired token, or one of another key, is refused.
#[test]
fn users_tokens_meet_the_rules() {
    use base64ct::{Base64UrlUnpadded, Encoding};
    use hmac::{Hmac, KeyInit, Mac};
    const SECRET: &str = "an e2e secret of thirty-two b...";
    let sign = |secret: &str, claims: serde_json::Value| {
        let header = Base64UrlUnpadded::encode_string(br#"{"alg":"HS256","typ":"JWT"}"#);
        let signed = format!("{header}.{}", Base64UrlUnpadded::encode_string(claims.to_string().as_bytes()));
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(signed.as_bytes());
        format!("{signed}.{}", Base64UrlUnpadded::encode_string(&mac.finalize().into_bytes()))
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let ada = sign(SECRET, serde_json::json!({"sub": "ada", "exp": now + 600}));
    let expired = sign(SECRET, serde_json::json!({"sub": "ada", "exp": now - 600}));
    let forged = sign("another secret of thirty-two b..", serde_json::json!({"sub": "ada", "exp": now + 600}));
    let rules = r#"{"users": {"$uid": {".read": "auth.sub == $uid", ".write": "auth.sub == $uid"}}}"#;
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        data.path(),
        &[("JSONSTORE_WRITE_TOKEN", WRITE), ("JSONSTORE_RULES", rules), ("JSONSTORE_JWT_SECRET", SECRET)],
    );
    let as_user = |method: &str, path: &str, token: &str, body: &str| {
        let authorization = format!("Bearer {token}");
        server.send(method, path, &[("authorization", authorization.as_str())], body)
    };
    as_user("PUT", "/", WRITE, r#"{"users": {"ada": {"n": 1}, "bob": {"n": 2}}}"#).expect(201);
    as_user("PUT", "/users/ada/n", &ada, "3").expect(200);
    assert_eq!(as_user("GET", "/users/ada", &ada, "").expect(200).json(), serde_json::json!({"n": 3}));
    as_user("GET", "/users/bob", &ada, "").problem(403);
    as_user("DELETE", "/users/bob", &ada, "").problem(403);
    as_user("GET", "/users", &ada, "").problem(403);
    let problem = as_user("GET", "/users/ada", &expired, "").problem(401);
    assert!(problem["detail"].as_str().unwrap().contains("expired"), "{problem}");
    as_user("GET", "/users/ada", &forged, "").problem(401);
    server.get("/users/ada").problem(401);
    assert_eq!(server.get(&format!("/users/ada/n?auth={ada}")).expect(200).json(), serde_json::json!(3));
}

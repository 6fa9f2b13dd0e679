//! Several nodes, one store: two `wasmtime serve` processes running the Redis composition
//! (`JSONSTORE_COMPONENT_REDIS`) share a real Redis-protocol server (`JSONSTORE_REDIS_SERVER`)
//! that the tests start themselves, and no acknowledged write is lost, on either node or across
//! a restart of the server.

#![cfg(feature = "e2e")]

mod common;

use common::Server;
use jsonstore_testkit::{Redis, free_port, required};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;

const WRITERS: usize = 8;
const WRITES: usize = 100;

/// A node serving the Redis composition, connected to the server at `url`.
fn node(url: &str) -> Server {
    let env = format!("JSONSTORE_REDIS_URL={url}");
    Server::start_component(&required("JSONSTORE_COMPONENT_REDIS"), &["-Sinherit-network", "--env", &env])
}

/// Asserts that `doc` holds every write of every writer.
#[track_caller]
fn check_every_write(doc: &Value, node: &str) {
    for writer in 0..WRITERS {
        let values = doc[format!("w{writer}")]
            .as_object()
            .unwrap_or_else(|| panic!("{node}: writer {writer}'s object is missing from {doc}"));
        assert_eq!(values.len(), WRITES, "{node}: writer {writer} lost writes");
        for write in 0..WRITES {
            assert_eq!(values[&write.to_string()], json!(write), "{node}: writer {writer}, write {write}");
        }
    }
}

#[test]
fn two_nodes_share_one_document_that_outlives_the_server() {
    let redis = Redis::durable();
    let nodes = [Arc::new(node(&redis.url())), Arc::new(node(&redis.url()))];
    let started = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let node = Arc::clone(&nodes[writer % 2]);
            std::thread::spawn(move || {
                for write in 0..WRITES {
                    node.put(&format!("/w{writer}/{write}"), &write.to_string()).expect(201);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("a writer failed");
    }
    eprintln!("{} writes through 2 nodes took {:?}", WRITERS * WRITES, started.elapsed());
    let doc = nodes[0].get("/").expect(200).json();
    check_every_write(&doc, "node 0");
    assert_eq!(nodes[1].get("/").expect(200).json(), doc, "the nodes disagree");

    redis.stop();
    let problem = nodes[1].get("/").problem(503);
    assert_eq!(problem["type"], "urn:jsonstore:problem:store-unavailable");
    let address = format!("127.0.0.1:{}", redis.port);
    assert!(problem["detail"].as_str().unwrap().contains(&address), "{problem}");
    redis.restart();
    assert_eq!(nodes[1].get("/").expect(200).json(), doc, "the document did not survive a restart of the server");
    nodes[0].put("/after", "true").expect(201);
    assert_eq!(nodes[1].get("/after").expect(200).json(), json!(true));
}

#[test]
fn a_node_whose_server_is_down_answers_503() {
    // On 127.0.0.2, where no test server listens (they all bind 127.0.0.1): a port found free
    // on 127.0.0.1 could be taken there by a server that another test starts meanwhile.
    let port = free_port();
    let node = node(&format!("redis://127.0.0.2:{port}"));
    for reply in [node.get("/"), node.put("/a", "1")] {
        let problem = reply.problem(503);
        assert_eq!(problem["type"], "urn:jsonstore:problem:store-unavailable");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("cannot connect to the Redis server at 127.0.0.2:{port}")), "{detail}");
        assert!(reply.header("retry-after").is_some());
    }
    assert!(!node.log().contains("panicked"), "{}", node.log());
}

/// Without `-Sinherit-network`, `wasmtime serve` denies every connection; the problem says so.
#[test]
fn a_node_without_network_access_says_which_flag_it_needs() {
    let redis = Redis::durable();
    let env = format!("JSONSTORE_REDIS_URL={}", redis.url());
    let node = Server::start_component(&required("JSONSTORE_COMPONENT_REDIS"), &["--env", &env]);
    let problem = node.get("/").problem(503);
    assert!(problem["detail"].as_str().unwrap().contains("pass -Sinherit-network"), "{problem}");
}

#[test]
fn a_bad_url_is_a_clear_503() {
    let node = node("http://127.0.0.1:6379");
    let problem = node.get("/").problem(503);
    assert!(problem["detail"].as_str().unwrap().contains("bad Redis URL \"http://127.0.0.1:6379\""), "{problem}");
}

//! The seed corpora, made by code so that they can be made again when a format changes:
//! `cargo test --test fuzz_replay -- --ignored write_seeds` writes them to `fuzz/corpus/`.
//!
//! Seeds that people read are written out: URL paths, requests as text, stores JSONStore wrote.
//! Structured inputs are random bytes, kept when they get an answer (method, status and problem
//! kind) that the inputs kept before did not: a small corpus that reaches every answer.

use super::host::Clock;
use super::records::dump;
use super::requests::problem_kind;
use super::requests::{configs, request};
use super::{patch, service};
use jsonstore::layout::root::ROOT_KEY;
use jsonstore::service::{Config, Request, Response, handle};
use jsonstore::store::MemoryStore;
use std::cell::RefCell;
use std::collections::BTreeSet;

/// A seed: its target, file name and bytes.
pub type Seed = (&'static str, String, Vec<u8>);

/// Every seed of every target.
pub fn all() -> Vec<Seed> {
    let mut seeds = Vec::new();
    for (at, path) in PATHS.iter().enumerate() {
        seeds.push(("path", format!("path-{at:02}"), path.as_bytes().to_vec()));
    }
    for (name, text) in SERVICE_TEXTS {
        seeds.push(("service", format!("text-{name}"), text.as_bytes().to_vec()));
    }
    for (at, input) in structured(service::check, 2000, 7, 40, false).into_iter().enumerate() {
        seeds.push(("service", format!("structured-{at:02}"), input));
    }
    for (at, input) in structured(patch::check, 2000, 11, 30, true).into_iter().enumerate() {
        seeds.push(("patch", format!("structured-{at:02}"), input));
    }
    for (name, input) in stores() {
        seeds.push(("records", format!("store-{name}"), input));
    }
    seeds
}

/// URL paths, and (with tabs) pointer tokens.
const PATHS: [&str; 24] = [
    "/",
    "/sniffles",
    "/sniffles/",
    "/sniffles/0",
    "//",
    "/a//",
    "/a//b",
    "/a~1b/m~0n",
    "/a%2Fb",
    "/c%25d/%20/caf%C3%A9",
    "/%7E1",
    "/~01",
    "",
    "a",
    "/a%",
    "/a%2",
    "/a%zz",
    "/%FF",
    "/a~2",
    "/a~",
    "/%e2%82%ac/%3F%23",
    "a/b\t\tc d\t%\t~\t",
    "\t",
    "é\t?#\t\u{7f}",
];

/// Requests as text: the README's examples and the corners of each method.
const SERVICE_TEXTS: [(&str, &str); 12] = [
    (
        "readme",
        "PUT /\ncontent-type: application/json\n\n{\"sniffles\":[{\"name\":\"fred\"},{\"name\":\"irma\"},{\"name\":\"wobble\"}],\"snuffle\":{\"name\":\"gundar\"}}\n===\nGET /sniffles/\n===\nPUT /sniffles/0/rank\ncontent-type: application/json\n\n\"sniffle chief\"\n===\nPOST /sniffles\ncontent-type: application/json\n\n{\"name\":\"nibble\"}\n===\nPOST /log\ncontent-type: application/json\n\n{\"msg\":\"hi\"}\n===\nPATCH /snuffle\ncontent-type: application/merge-patch+json\n\n{\"age\":7}\n===\nPATCH /sniffles\ncontent-type: application/json-patch+json\n\n[{\"op\":\"test\",\"path\":\"/0/name\",\"value\":\"fred\"},{\"op\":\"remove\",\"path\":\"/0\"}]\n===\nDELETE /snuffle/age\n===\nDELETE /",
    ),
    (
        "options",
        "OPTIONS /\norigin: https://app.example\naccess-control-request-method: PUT\naccess-control-request-headers: content-type, x-y\n\n",
    ),
    ("methods", "TRACE /\n\n===\nget /\n\n===\nHEAD /\n\n===\n PUT\n\n"),
    (
        "media-types",
        "PUT /a\ncontent-type: text/plain\n\n1\n===\nPUT /a\n\n1\n===\nPATCH /a\n\n{}\n===\nPATCH /a\ncontent-type: application/json; charset=utf-8\n\n{\"b\":1}",
    ),
    (
        "bad-json",
        "PUT /a\ncontent-type: application/json\n\n{\"a\":\n===\nPATCH /\ncontent-type: application/json-patch+json\n\n{\"op\":\"add\"}\n===\nPATCH /\ncontent-type: application/json-patch+json\n\n[{\"op\":\"frob\",\"path\":\"\"}]",
    ),
    (
        "deep",
        "PUT /a\ncontent-type: application/json\n\n[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    ),
    (
        "conditions",
        "PUT /a\ncontent-type: application/json\n\n{\"b\":1}\n===\nPUT /a/b\nif-match: *\ncontent-type: application/json\n\n2\n===\nPUT /c\nif-match: *\ncontent-type: application/json\n\n2\n===\nPUT /a\nif-none-match: *\ncontent-type: application/json\n\n3\n===\nGET /a\nif-none-match: \"x\", *\n\n",
    ),
    (
        "minimal",
        "PUT /a\nprefer: return=minimal\ncontent-type: application/json\n\n[1,2,3]\n===\nPATCH /a\nprefer: return=minimal\ncontent-type: application/json-patch+json\n\n[{\"op\":\"add\",\"path\":\"/-\",\"value\":4}]",
    ),
    (
        "arrays",
        "PUT /list\ncontent-type: application/json\n\n[1]\n===\nPUT /list/-\ncontent-type: application/json\n\n2\n===\nPUT /list/5\ncontent-type: application/json\n\n2\n===\nPUT /list/01\ncontent-type: application/json\n\n2\n===\nPOST /list/-\ncontent-type: application/json\n\n3\n===\nPATCH /list/-\ncontent-type: application/merge-patch+json\n\n{\"a\":1}\n===\nDELETE /list/0",
    ),
    (
        "escapes",
        "PUT /a~1b/m~0n/%2F/%25\ncontent-type: application/json\n\n1\n===\nGET /a%2Fb\n===\nGET /a~2\n===\nGET /%ZZ\n===\nPUT //\ncontent-type: application/json\n\n\"empty name\"\n===\nGET /?x=1#y",
    ),
    (
        "numbers",
        "PUT /n\ncontent-type: application/json\n\n[123456789012345678901234567890,3.14159265358979323846264338327950288,1E2,-0,1e400]\n===\nPATCH /n\ncontent-type: application/json-patch+json\n\n[{\"op\":\"test\",\"path\":\"/2\",\"value\":100.0}]",
    ),
    (
        "patch-ops",
        "PUT /\ncontent-type: application/json\n\n{\"a\":{\"b\":[1,2]},\"c\":\"d\"}\n===\nPATCH /\ncontent-type: application/json-patch+json\n\n[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/e\"},{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a/b/0\"}]\n===\nPATCH /\ncontent-type: application/json-patch+json\n\n[{\"op\":\"move\",\"from\":\"/c\",\"path\":\"/f\"},{\"op\":\"replace\",\"path\":\"/a/b/1\",\"value\":null},{\"op\":\"remove\",\"path\":\"/e\"}]",
    ),
];

/// Stores JSONStore wrote, mostly with the tiny layout, dumped as [`records`](super::records) inputs, and a few changed by hand: a lease, a generation about to sweep,
/// format 2, requests of their own.
fn stores() -> Vec<(&'static str, Vec<u8>)> {
    let [default, small, tiny] = configs();
    let documents: [(&str, &Config, &str); 8] = [
        ("inline", &small, r#"{"a":[1,2],"b":{"k1":"v"}}"#),
        ("inline-default", &default, r#"{"a":[1,{"x":null}],"b":{"k1":1.5e3}}"#),
        ("pages", &tiny, r#"{"a":[10,20,30,40,50,60,70,80,90],"b":{"k1":true,"m1":"one","m2":"two"}}"#),
        ("index-pages", &tiny, r#"{"a":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19],"b":{"k1":{}}}"#),
        ("object-index", &tiny, r#"{"a":[],"b":{"k1":1,"m0":0,"m1":1,"m2":2,"m3":3,"m4":4,"m5":5,"m6":6,"m7":7}}"#),
        (
            "scalar-parts",
            &tiny,
            r#"{"a":["a long string, stored as a scalar of its own and split into parts, since it is longer than a chunk"],"b":{"k1":0}}"#,
        ),
        ("embedded", &small, EMBEDDED),
        ("root-array", &tiny, r#"[{"k1":"a scalar"},[1,2],"x"]"#),
    ];
    let mut stores = Vec::new();
    for (name, config, document) in documents {
        let store = MemoryStore::new();
        let put = request("PUT", "/", &[("content-type", "application/json")], document.as_bytes());
        assert_eq!(handle(&store, config, &Clock::default(), &put).status, 201, "{name}");
        let edited = if document.starts_with('[') { "/0/k2" } else { "/b/k2" };
        let edit = request("PUT", edited, &[("content-type", "application/json")], b"[1,2,3]");
        assert_eq!(handle(&store, config, &Clock::default(), &edit).status, 201, "{name}");
        stores.push((name, dump(&store)));
    }
    let root = |name: &str| {
        let text = String::from_utf8(stores.iter().find(|(seed, _)| *seed == name).expect("a seed").1.clone())
            .expect("records are UTF-8 here");
        text.lines().next().expect("a root record").to_owned()
    };
    let inline = root("inline");
    let leased = inline.replacen("\"root\":", "\"lease\":[\"1f\",1700000000500],\"root\":", 1);
    let sweeping = root("pages").replacen("\"generation\":2,", "\"generation\":63,", 1);
    assert!(leased.contains("lease") && sweeping.contains(":63,"), "the root records changed by hand");
    let format_2 = inline.replacen(&format!("{ROOT_KEY} 3"), &format!("{ROOT_KEY} 2"), 1);
    let rest = |name: &str| {
        let (_, text) = stores.iter().find(|(seed, _)| *seed == name).expect("a seed");
        String::from_utf8(text.clone())
            .expect("UTF-8")
            .lines()
            .skip(1)
            .map(|line| format!("{line}\n"))
            .collect::<String>()
    };
    let sweeping = format!("{sweeping}\n{}> PUT /b/x 1\n", rest("pages"));
    stores.push(("leased", format!("{leased}\n> PUT /a/0 2\n> GET /a\n").into_bytes()));
    stores.push(("sweeping", sweeping.into_bytes()));
    stores.push(("format-2", format!("{format_2}\n").into_bytes()));
    stores.push(("empty", b"> GET /\n> PUT /a 1\n".to_vec()));
    stores
        .push(("no-document", format!("{ROOT_KEY} 3{{\"generation\":5,\"commits\":[],\"root\":null}}\n").into_bytes()));
    stores
}

/// A document in pages whose objects' top pages are embedded in their references (with the
/// smallest chunks): its members are big scalars, so their pages are small.
const EMBEDDED: &str = concat!(
    r#"{"a":[{"x":"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"}],"#,
    r#""b":{"k1":{"x":"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"}},"#,
    r#""c":"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789","#,
    r#""d":"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"}"#
);

/// Random inputs for `check`, kept when their answers include one not seen before (or, if
/// `whole`, when the sequence of their answers is new): `kept_max` of them at most, of `tries`.
fn structured(check: fn(&[u8]), tries: usize, seed: u64, kept_max: usize, whole: bool) -> Vec<Vec<u8>> {
    let mut rng = Rng(seed);
    let mut seen = BTreeSet::new();
    let mut kept = Vec::new();
    for _ in 0..tries {
        let len = 8 + rng.below(120);
        // Not an upper-case letter first, which would make a service input text.
        let input: Vec<u8> = (0..len).map(|at| if at == 0 { rng.byte() % 2 } else { rng.byte() }).collect();
        let mut answers = recorded(|| check(&input));
        if whole {
            answers = vec![answers.join("; ")];
        }
        let new = answers.into_iter().filter(|answer| seen.insert(answer.clone())).count();
        if new > 0 && kept.len() < kept_max {
            kept.push(input);
        }
    }
    kept
}

thread_local! {
    static ANSWERS: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// Runs `run`, returning the answers of the requests it sent as
/// `METHOD CONTENT-TYPE STATUS KIND`.
fn recorded(run: impl FnOnce()) -> Vec<String> {
    ANSWERS.with(|answers| *answers.borrow_mut() = Some(Vec::new()));
    run();
    ANSWERS.with(|answers| answers.borrow_mut().take()).unwrap_or_default()
}

/// Notes an answer, while [`recorded`] runs.
pub fn note(request: &Request, response: &Response) {
    ANSWERS.with(|answers| {
        if let Some(answers) = answers.borrow_mut().as_mut() {
            let content_type = request.header("content-type").unwrap_or_default();
            let kind = problem_kind(response).unwrap_or_default();
            answers.push(format!("{} {content_type} {} {kind}", request.method, response.status));
        }
    });
}

/// A small seeded random number generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn bits(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (at least 1).
    pub fn below(&mut self, n: usize) -> usize {
        (self.bits() % n as u64) as usize
    }

    /// A random byte.
    pub fn byte(&mut self) -> u8 {
        self.bits() as u8
    }
}

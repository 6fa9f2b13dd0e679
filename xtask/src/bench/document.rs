//! The documents the benchmark stores: a catalogue of items plus a few small top-level objects.
//!
//! Both sizes have the same shape, so `/items/3/name` means the same leaf in each, and a
//! seeded generator makes every run store the same bytes.

use serde_json::{Map, Value, json};

/// The leaf that the leaf GET and PUT scenarios address.
pub const LEAF: &str = "/items/3/name";

/// The JSON value the leaf PUT scenarios write.
pub const LEAF_VALUE: &str = r#""renamed by the benchmark""#;

/// A document of at least `bytes_min` bytes of compact JSON (and at least four items):
/// `{"items":[{"id":..,"name":..,"tags":[..],"score":..,"active":..},..],"meta":{..},"settings":{..},"users":{..}}`.
pub fn generate(bytes_min: usize) -> String {
    let mut document = skeleton();
    // The skeleton's `"items":[]` plus each item and its separating comma.
    let mut bytes = serde_json::to_string(&document).expect("a JSON value serializes").len();
    let mut items = Vec::new();
    let mut random = Random(0x5eed_cafe_f00d_0001);
    while bytes < bytes_min || items.len() < 4 {
        let item = item(items.len(), &mut random);
        bytes += serde_json::to_string(&item).expect("a JSON value serializes").len() + usize::from(!items.is_empty());
        items.push(item);
    }
    document["items"] = Value::Array(items);
    let text = serde_json::to_string(&document).expect("a JSON value serializes");
    assert_eq!(text.len(), bytes, "the size is counted as the document is built");
    text
}

fn skeleton() -> Value {
    let users: Map<String, Value> = ["ada", "grace", "linus"]
        .iter()
        .enumerate()
        .map(|(index, name)| {
            ((*name).to_owned(), json!({ "id": index + 1, "role": "editor", "email": format!("{name}@example.com") }))
        })
        .collect();
    json!({
        "items": [],
        "meta": { "title": "Benchmark catalogue", "version": 3, "created": "2026-01-01T00:00:00Z" },
        "settings": { "theme": "dark", "page_size": 50, "features": ["search", "export"] },
        "users": users,
    })
}

const WORDS: [&str; 12] = [
    "amber", "birch", "cobalt", "delta", "ember", "falcon", "garnet", "harbor", "indigo", "juniper", "kestrel", "lumen",
];

fn item(id: usize, random: &mut Random) -> Value {
    let word = |random: &mut Random| WORDS[random.below(WORDS.len())];
    let name = format!("{} {} {id}", word(random), word(random));
    let tags: Vec<&str> = (0..1 + random.below(3)).map(|_| word(random)).collect();
    let score = random.below(10_000) as f64 / 100.0;
    json!({ "id": id, "name": name, "tags": tags, "score": score, "active": random.below(4) != 0 })
}

/// A xorshift generator: enough to vary the items, and the same on every run.
struct Random(u64);

impl Random {
    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % bound as u64) as usize
    }
}

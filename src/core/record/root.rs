//! The root record: the one record a write swaps, naming the document's root, the generation
//! of the last commit, the sessions of recent commits and the write lease.
//!
//! Its bytes are the format byte, then JSON. The sessions of the last [`COMMITS_KEPT`] commits
//! are kept because some hosts report a conflict for a swap that happened: a writer that finds
//! its own session there knows its commit landed.

use super::Child;
use serde::de::{self, Deserialize, Deserializer};

/// The first byte of a root record: the layout's format version.
pub const FORMAT: u8 = b'3';

/// The format before nodes could embed their top page, which this one reads as it is.
pub const FORMAT_2: u8 = b'2';

/// How many recent commits a root record names.
pub const COMMITS_KEPT: usize = 32;

/// A writer's claim to go first: while it lasts, other writers wait rather than start
/// transactions that would lose to it. It only saves wasted work; compare-and-swap alone keeps
/// writes safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// Who holds it: a random number per write request.
    pub holder: u64,
    /// When it ends, in milliseconds since the Unix epoch.
    pub until_millis: u64,
}

/// The root record: the generation of the last commit, the sessions of the last
/// [`COMMITS_KEPT`] commits (oldest first), the write lease, if any, and the document's root
/// (decoded as an `R`: a [`Child`], or for reading a [`super::decode::RawChild`]).
///
/// It is decoded as the record has it (`"commits"` and the lease holder in hex).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(bound(deserialize = "R: serde::Deserialize<'de>"))]
pub struct RootRecord<R = Child> {
    /// The generation of the last commit; 0 for a new store.
    pub generation: u64,
    /// The sessions of the last commits, oldest first.
    #[serde(default, deserialize_with = "sessions")]
    pub commits: Vec<u64>,
    /// The write lease, if one was claimed (it may have ended).
    #[serde(default, deserialize_with = "lease")]
    pub lease: Option<Lease>,
    /// The document's root; `None` when the store holds no document.
    #[serde(default)]
    pub root: Option<R>,
}

impl RootRecord {
    /// The root record of a new store: no document, generation 0.
    pub fn empty() -> Self {
        RootRecord { generation: 0, commits: Vec::new(), lease: None, root: None }
    }

    /// The record's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![FORMAT];
        let commits: Vec<String> = self.commits.iter().map(|session| format!("\"{session:x}\"")).collect();
        let head = format!("{{\"generation\":{},\"commits\":[{}],", self.generation, commits.join(","));
        out.extend_from_slice(head.as_bytes());
        if let Some(Lease { holder, until_millis }) = self.lease {
            out.extend_from_slice(format!("\"lease\":[\"{holder:x}\",{until_millis}],").as_bytes());
        }
        out.extend_from_slice(b"\"root\":");
        match &self.root {
            Some(child) => child.write(&mut out, true),
            None => out.extend_from_slice(b"null"),
        }
        out.push(b'}');
        out
    }
}

/// The JSON of a root record (without its format byte), if there is one.
pub fn json(bytes: Option<&[u8]>) -> Result<Option<&[u8]>, String> {
    match bytes {
        None | Some([]) => Ok(None),
        Some([FORMAT | FORMAT_2, json @ ..]) => Ok(Some(json)),
        Some([tag, ..]) => Err(format!("the root record has unknown format {tag:#04x}")),
    }
}

/// The sessions of the root record's commits, each a string of hex digits.
pub(super) fn sessions<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u64>, D::Error> {
    Vec::<Hex>::deserialize(deserializer).map(|sessions| sessions.into_iter().map(|Hex(session)| session).collect())
}

/// The root record's write lease, `[holder in hex, until in milliseconds]`.
pub(super) fn lease<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Lease>, D::Error> {
    let lease = Option::<(Hex, u64)>::deserialize(deserializer)?;
    Ok(lease.map(|(Hex(holder), until_millis)| Lease { holder, until_millis }))
}

/// A `u64` written as a string of hex digits, like a session.
struct Hex(u64);

/// Read from the record's text without copying it: a root record names up to 32 sessions, and
/// every request reads one.
impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HexVisitor;
        impl de::Visitor<'_> for HexVisitor {
            type Value = Hex;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a session in hex")
            }
            fn visit_str<E: de::Error>(self, hex: &str) -> Result<Hex, E> {
                u64::from_str_radix(hex, 16).map(Hex).map_err(|_| E::custom("a session is not in hex"))
            }
        }
        deserializer.deserialize_str(HexVisitor)
    }
}

//! The bodies of JSONStore's fuzz targets: each takes the fuzzer's bytes and panics when an
//! invariant does not hold.
//!
//! They are written once and run twice: by libFuzzer, coverage-guided, under nightly
//! (`cargo xtask fuzz`, through `fuzz_targets/`), and by the main crate's stable tests, which
//! compile this directory in as a module (`tests/fuzz_replay.rs`) to replay every file of
//! `corpus/` and a few thousand random inputs. That is why these modules use only what the
//! main crate's tests have (`jsonstore` and `serde_json`), refer to each other with `super::`,
//! and decode their own input format ([`input`]) rather than `arbitrary`'s: the corpus then
//! means the same to both runners, and to later versions of both.
//!
//! To add a target: a module here whose `check(&[u8])` panics on a broken invariant, a line in
//! [`TARGETS`], a file in `fuzz_targets/` and a `[[bin]]` for it in `Cargo.toml`, and a few
//! seeds in `corpus/<name>/`; the replay and `cargo xtask fuzz` find it there.

pub mod access;
pub mod host;
pub mod input;
pub mod json;
pub mod known;
pub mod patch;
pub mod path;
pub mod records;
pub mod requests;
pub mod seeds;
pub mod service;

/// A target's body: it panics when an invariant does not hold for the input.
pub type Check = fn(&[u8]);

/// Every target: its name (of its `fuzz_targets/` file and `corpus/` directory) and body.
///
pub const TARGETS: &[(&str, Check)] = &[
    ("path", path::check),
    ("service", service::check),
    ("patch", patch::check),
    ("records", records::check),
    ("access", access::check),
];

//! The built components' contracts: what they import and export.
//!
//! The handler is what Spin and other hosts run, so it may import only what those hosts
//! provide; the composed component is what `wasmtime serve -Scli` runs.

#![cfg(feature = "e2e")]

use jsonstore_testkit::required;
use wasmparser::{Parser, Payload};

/// The import and export names of the outermost component in `bytes`.
fn contract(bytes: &[u8]) -> (Vec<String>, Vec<String>) {
    let (mut imports, mut exports, mut depth) = (Vec::new(), Vec::new(), 0);
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.expect("a valid component") {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth -= 1,
            Payload::ComponentImportSection(section) if depth == 1 => {
                imports.extend(section.into_iter().map(|import| import.unwrap().name.name.to_owned()));
            }
            Payload::ComponentExportSection(section) if depth == 1 => {
                exports.extend(section.into_iter().map(|export| export.unwrap().name.name.to_owned()));
            }
            _ => {}
        }
    }
    (imports, exports)
}

/// Interfaces Spin 4 and `wasmtime serve -Scli` both provide (WASI 0.2 up to 0.2.6).
const PORTABLE: &[&str] = &[
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:filesystem/",
    "wasi:io/",
    "wasi:random/",
    "wasi:sockets/",
    "wasi:http/types@0.2.",
    "wasi:http/outgoing-handler@0.2.",
];

/// Interfaces Spin 4 provides beyond the portable ones, at exactly these versions.
const SPIN: &[&str] = &[
    "wasi:keyvalue/store@0.2.0-draft2",
    "wasi:keyvalue/atomics@0.2.0-draft2",
    "wasi:keyvalue/batch@0.2.0-draft2",
    "wasi:config/store@0.2.0-draft-2024-09-27",
];

#[test]
fn the_handler_imports_only_what_spin_provides() {
    let (imports, exports) = contract(&std::fs::read(required("JSONSTORE_HANDLER")).unwrap());
    assert_eq!(exports, ["wasi:http/incoming-handler@0.2.6"]);
    for needed in ["wasi:keyvalue/store", "wasi:keyvalue/atomics", "wasi:config/store"] {
        let found = imports.iter().any(|import| import.starts_with(&format!("{needed}@")));
        assert!(found, "the handler should import {needed}: {imports:?}");
    }
    for import in &imports {
        let allowed = PORTABLE.iter().any(|prefix| import.starts_with(prefix)) || SPIN.contains(&import.as_str());
        assert!(allowed, "the handler imports {import}, which Spin does not provide");
        if let Some(version) = import.strip_prefix("wasi:").and_then(|rest| rest.split('@').nth(1)) {
            assert!(version.starts_with("0.2."), "{import}: WASI 0.2 only");
            if SPIN.contains(&import.as_str()) {
                continue;
            }
            if let Some(patch) = version.strip_prefix("0.2.").and_then(|patch| patch.parse::<u32>().ok()) {
                assert!(patch <= 6, "{import} is newer than the 0.2.6 that Spin 4 and wasmtime 48 provide");
            }
        }
    }
}

/// The compositions bring their own key-value store and configuration: they import only what
/// `wasmtime serve -Scli` provides.
#[test]
fn the_composed_component_needs_no_key_value_or_config_host() {
    let (imports, exports) = contract(&std::fs::read(required("JSONSTORE_COMPONENT")).unwrap());
    assert_eq!(exports, ["wasi:http/incoming-handler@0.2.6"]);
    assert!(imports.iter().all(|import| PORTABLE.iter().any(|prefix| import.starts_with(prefix))), "{imports:?}");
}

#[test]
fn the_redis_composition_needs_no_key_value_or_config_host() {
    let (imports, exports) = contract(&std::fs::read(required("JSONSTORE_COMPONENT_REDIS")).unwrap());
    assert_eq!(exports, ["wasi:http/incoming-handler@0.2.6"]);
    assert!(imports.iter().all(|import| PORTABLE.iter().any(|prefix| import.starts_with(prefix))), "{imports:?}");
    assert!(imports.iter().any(|import| import.starts_with("wasi:sockets/tcp@0.2.")), "{imports:?}");
}

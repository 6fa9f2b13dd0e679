//! Tidiness rules, checked: the pure core never touches WASI, and the manifests agree with
//! the code.

use std::path::Path;

fn sources(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn core_layout_access_and_service_never_import_wasi() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root.join("core"), &mut files);
    sources(&root.join("layout"), &mut files);
    sources(&root.join("access"), &mut files);
    sources(&root.join("service"), &mut files);
    assert!(files.len() > 5, "found the sources");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for name in ["wasi", "bindings", "wit_bindgen", "target_os"] {
            assert!(!text.contains(name), "{} mentions {name}: the core must stay pure", file.display());
        }
    }
}

/// The core and access control deal in plain values: they read no store and no clock.
#[test]
fn the_core_does_no_io() {
    let mut files = Vec::new();
    sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core"), &mut files);
    sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/access"), &mut files);
    assert!(files.len() > 5, "found the sources");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for name in ["use crate::store", "use crate::layout", "use crate::service", "std::fs", "std::net", "SystemTime"]
        {
            assert!(!text.contains(name), "{} has {name}: the core and access control do no I/O", file.display());
        }
    }
}

/// `spin.toml` declares every configuration variable, with JSONStore's own default, and hands
/// each to the component.
#[test]
fn spin_toml_declares_the_configuration() {
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("spin.toml")).unwrap();
    let manifest: toml::Table = toml::from_str(&manifest).unwrap();
    let declared = manifest["variables"].as_table().unwrap();
    let handed = manifest["component"]["jsonstore"]["variables"].as_table().unwrap();
    assert_eq!(declared.len(), jsonstore::service::VARIABLES.len(), "{declared:?}");
    assert_eq!(handed.len(), jsonstore::service::VARIABLES.len(), "{handed:?}");
    for (name, default) in jsonstore::service::VARIABLES {
        assert_eq!(declared[name]["default"].as_str(), Some(default), "the default of {name}");
        assert_eq!(handed[name].as_str(), Some(format!("{{{{ {name} }}}}").as_str()), "{name} for the component");
        let secret = declared[name].get("secret").and_then(toml::Value::as_bool).unwrap_or(false);
        assert_eq!(secret, jsonstore::service::SECRETS.contains(&name), "whether {name} is a secret");
    }
    assert_eq!(declared["access"]["default"].as_str(), Some(""), "the manifest must not deploy an open store");
}

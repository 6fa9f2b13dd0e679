//! Architecture rules, checked: the pure core never touches WASI.

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
fn core_and_service_never_import_wasi() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root.join("core"), &mut files);
    sources(&root.join("service"), &mut files);
    assert!(files.len() > 5, "found the sources");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for name in ["wasi", "bindings", "wit_bindgen", "target_os"] {
            assert!(!text.contains(name), "{} mentions {name}: the core must stay pure", file.display());
        }
    }
}

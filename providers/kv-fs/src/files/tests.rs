use super::*;

use std::sync::Arc;
use std::thread;

use tempfile::TempDir;

/// A fresh directory. Under wasmtime (`cargo test --target wasm32-wasip2`), which has no
/// temporary directory, the runner must preopen one as `/tmp`.
fn scratch() -> TempDir {
    let scratch = if cfg!(target_os = "wasi") { tempfile::tempdir_in("/tmp") } else { tempfile::tempdir() };
    scratch.expect("temporary directory")
}

fn bucket() -> (TempDir, Bucket) {
    let root = scratch();
    let bucket = Bucket::open(root.path(), "test", std_random).expect("open bucket");
    (root, bucket)
}

fn get(bucket: &Bucket, key: &str) -> Option<String> {
    bucket.get(key).unwrap().map(|value| String::from_utf8(value).unwrap())
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

#[test]
fn round_trip() {
    let (_root, bucket) = bucket();
    assert_eq!(get(&bucket, "doc"), None);
    assert!(!bucket.exists("doc").unwrap());
    bucket.set("doc", b"one").unwrap();
    assert_eq!(get(&bucket, "doc").as_deref(), Some("one"));
    bucket.set("doc", b"two").unwrap();
    assert_eq!(get(&bucket, "doc").as_deref(), Some("two"));
    assert!(bucket.exists("doc").unwrap());
    bucket.set("empty", b"").unwrap();
    assert_eq!(bucket.get("empty").unwrap(), Some(Vec::new()));
    assert!(bucket.exists("empty").unwrap());
}

#[test]
fn delete_writes_a_tombstone() {
    let (root, bucket) = bucket();
    bucket.delete("never").unwrap();
    assert!(!root.path().join("test/never").exists(), "deleting an absent key writes nothing");

    bucket.set("doc", b"one").unwrap();
    bucket.delete("doc").unwrap();
    assert_eq!(get(&bucket, "doc"), None);
    assert!(!bucket.exists("doc").unwrap());
    assert_eq!(bucket.begin_cas("doc").unwrap().version(), 2);
    bucket.delete("doc").unwrap();
    assert_eq!(bucket.begin_cas("doc").unwrap().version(), 2, "deleting a deleted key writes nothing");

    bucket.set("doc", b"again").unwrap();
    assert_eq!(get(&bucket, "doc").as_deref(), Some("again"));
    assert_eq!(bucket.begin_cas("doc").unwrap().version(), 3);
}

#[test]
fn list_keys() {
    let (_root, bucket) = bucket();
    assert_eq!(bucket.list().unwrap(), Vec::<String>::new());
    for key in ["b", "a", "", "x/y", ".hidden", "gone"] {
        bucket.set(key, key.as_bytes()).unwrap();
    }
    bucket.delete("gone").unwrap();
    assert_eq!(bucket.list().unwrap(), ["", ".hidden", "a", "b", "x/y"]);
}

#[test]
fn cas_success_and_conflict() {
    let (root, bucket) = bucket();
    bucket.set("doc", b"zero").unwrap();
    let first = bucket.begin_cas("doc").unwrap();
    let second = bucket.begin_cas("doc").unwrap();
    assert_eq!(first.current(), Some(&b"zero"[..]));
    assert_eq!(first, second);

    assert_eq!(bucket.swap(first, b"one").unwrap(), Swap::Done);
    let Swap::Conflict(latest) = bucket.swap(second, b"two").unwrap() else {
        panic!("the second swap from the same version must fail");
    };
    assert_eq!(latest.current(), Some(&b"one"[..]));
    assert_eq!(get(&bucket, "doc").as_deref(), Some("one"));

    assert_eq!(bucket.swap(latest, b"two").unwrap(), Swap::Done);
    assert_eq!(get(&bucket, "doc").as_deref(), Some("two"));
    assert_eq!(entries(&root.path().join("test").join(TEMP_DIR)), Vec::<String>::new(), "no temporary files left");
}

#[test]
fn cas_on_absent_and_deleted_keys() {
    let (_root, bucket) = bucket();
    let cas = bucket.begin_cas("doc").unwrap();
    assert_eq!((cas.version(), cas.current()), (0, None));
    let racing = cas.clone();
    assert_eq!(bucket.swap(cas, b"one").unwrap(), Swap::Done);
    assert!(matches!(bucket.swap(racing, b"other").unwrap(), Swap::Conflict(_)));

    bucket.delete("doc").unwrap();
    let cas = bucket.begin_cas("doc").unwrap();
    assert_eq!(cas.current(), None);
    assert_eq!(bucket.swap(cas, b"back").unwrap(), Swap::Done);
    assert_eq!(get(&bucket, "doc").as_deref(), Some("back"));
}

/// A handle that slept while other writers published (and old versions were cleaned up) must
/// still fail: its version number may be free again, but it is not the next one.
#[test]
fn stale_cas_fails_however_far_behind() {
    let (_root, bucket) = bucket();
    let behinds = [1, 2, 3, EPOCH_VERSIONS - 1, EPOCH_VERSIONS, EPOCH_VERSIONS + 1, 3 * EPOCH_VERSIONS];
    // Starting at version 15, the stale swap would open epoch 1.
    for start in [1, EPOCH_VERSIONS - 1] {
        for behind in behinds {
            let key = format!("{start}-{behind}");
            for _ in 0..start {
                bucket.set(&key, b"start").unwrap();
            }
            let stale = bucket.begin_cas(&key).unwrap();
            assert_eq!(stale.version(), start);
            for round in 0..behind {
                bucket.set(&key, format!("round {round}").as_bytes()).unwrap();
            }
            let last = format!("round {}", behind - 1);
            match bucket.swap(stale, b"stale").unwrap() {
                Swap::Done => panic!("a swap from version {start}, {behind} behind, succeeded"),
                Swap::Conflict(latest) => assert_eq!(latest.current(), Some(last.as_bytes())),
            }
            assert_eq!(get(&bucket, &key), Some(last));
        }
    }
}

#[test]
fn increment() {
    let (_root, bucket) = bucket();
    assert_eq!(bucket.increment("n", 5).unwrap(), 5);
    assert_eq!(bucket.increment("n", -7).unwrap(), -2);
    assert_eq!(get(&bucket, "n").as_deref(), Some("-2"));

    bucket.set("text", b"twelve").unwrap();
    assert!(matches!(bucket.increment("text", 1), Err(Error::NotAnInteger { .. })));
    bucket.set("big", i64::MAX.to_string().as_bytes()).unwrap();
    assert!(matches!(bucket.increment("big", 1), Err(Error::Overflow { .. })));
    assert_eq!(get(&bucket, "big"), Some(i64::MAX.to_string()));

    bucket.delete("n").unwrap();
    assert_eq!(bucket.increment("n", 1).unwrap(), 1);
}

#[test]
fn key_names_round_trip() {
    let long = "x".repeat(NAME_BYTES_MAX);
    let keys = ["", "/", "%", "%25", ".", "..", ".tmp", "a.b.", "A", "a", "Ünïcødé ✓", "a/../b", "sp ace", "\0"];
    for key in keys.iter().copied().chain([long.as_str()]) {
        let name = key_name(key).unwrap();
        assert!(name.len() <= NAME_BYTES_MAX);
        assert!(!name.starts_with('.') && !name.contains('/') && name.is_ascii(), "{name:?}");
        assert_eq!(key_from_name(&name).as_deref(), Some(key), "{name:?}");
    }
    // Distinct keys get names that differ even to a case-insensitive filesystem.
    let mut folded: Vec<String> = keys.iter().map(|key| key_name(key).unwrap().to_ascii_lowercase()).collect();
    folded.sort();
    folded.dedup();
    assert_eq!(folded.len(), keys.len());
    // Names the encoder would not produce are not keys.
    for name in [".tmp", "%2f", "%61", "A", "%", "%4", "%+1", "%ZZ", "%FF"] {
        let decoded = key_from_name(name);
        assert!(decoded.is_none() || name == "%", "{name:?} decoded to {decoded:?}");
    }
}

#[test]
fn odd_keys_are_stored_and_listed() {
    let (_root, bucket) = bucket();
    let keys = ["", "/", "%", ".", "..", "Ünïcødé ✓", "a/../b"];
    for key in keys {
        bucket.set(key, format!("value of {key}").as_bytes()).unwrap();
    }
    for key in keys {
        assert_eq!(get(&bucket, key), Some(format!("value of {key}")));
    }
    let mut sorted = keys.map(str::to_owned).to_vec();
    sorted.sort();
    assert_eq!(bucket.list().unwrap(), sorted);
}

#[test]
fn long_keys_are_refused() {
    let (_root, bucket) = bucket();
    let fits = "k".repeat(NAME_BYTES_MAX);
    bucket.set(&fits, b"ok").unwrap();
    assert_eq!(get(&bucket, &fits).as_deref(), Some("ok"));
    let too_long = "/".repeat(86);
    assert!(matches!(bucket.set(&too_long, b"no"), Err(Error::KeyTooLong { name_bytes: 258 })));
    assert!(matches!(bucket.get(&too_long), Err(Error::KeyTooLong { .. })));
    assert!(bucket.set(&too_long, b"no").unwrap_err().to_string().starts_with("key too long"));
}

#[test]
fn bucket_identifiers() {
    let root = scratch();
    for identifier in ["", ".", "..", ".tmp", "a/b", "a b", "ä", &"b".repeat(65)] {
        assert!(matches!(Bucket::open(root.path(), identifier, std_random), Err(Error::NoSuchStore)), "{identifier:?}");
    }
    for identifier in ["default", "A-b_9", &"b".repeat(64)] {
        Bucket::open(root.path(), identifier, std_random).unwrap();
        assert!(root.path().join(identifier).join(TEMP_DIR).is_dir());
    }
}

#[test]
fn leftovers_do_not_change_reads() {
    let (root, bucket) = bucket();
    let bucket_dir = root.path().join("test");
    for value in ["one", "two", "three"] {
        bucket.set("doc", value.as_bytes()).unwrap();
    }
    // Older versions stay until their epoch is retired.
    let epoch_dir = bucket_dir.join("doc").join(number_name(0));
    assert_eq!(entries(&epoch_dir), [1, 2, 3].map(number_name));
    // A writer crashed after writing its temporary file, or after opening the next epoch.
    fs::write(bucket_dir.join(TEMP_DIR).join("00000000deadbeef"), [PRESENT, b'x']).unwrap();
    fs::create_dir(bucket_dir.join("doc").join(number_name(1))).unwrap();
    // Something that is not ours sits in the bucket.
    fs::write(bucket_dir.join("README"), "not a key").unwrap();

    assert_eq!(get(&bucket, "doc").as_deref(), Some("three"));
    assert_eq!(bucket.list().unwrap(), ["doc"]);
    bucket.set("doc", b"four").unwrap();
    assert_eq!(get(&bucket, "doc").as_deref(), Some("four"));
}

#[test]
fn old_epochs_are_deleted() {
    let (root, bucket) = bucket();
    let writes = 5 * EPOCH_VERSIONS;
    for value in 1..=writes {
        bucket.set("doc", value.to_string().as_bytes()).unwrap();
    }
    assert_eq!(get(&bucket, "doc"), Some(writes.to_string()));
    let key_dir = root.path().join("test/doc");
    assert_eq!(entries(&key_dir), [4, 5].map(number_name));
    // Epoch 5's slot for epoch 6 is only made when epoch 6 opens.
    assert_eq!(entries(&key_dir.join(number_name(5))), [number_name(80)]);
    assert_eq!(entries(&root.path().join("test").join(TEMP_DIR)), Vec::<String>::new());
}

#[test]
fn corrupt_versions_are_errors() {
    let (root, bucket) = bucket();
    bucket.set("doc", b"one").unwrap();
    let version = root.path().join("test/doc").join(number_name(0)).join(number_name(1));
    for content in [&[][..], &[7, 1, 2][..]] {
        fs::remove_file(&version).unwrap();
        fs::write(&version, content).unwrap();
        let error = bucket.get("doc").unwrap_err();
        assert!(error.to_string().starts_with("get \"doc\": "), "{error}");
    }
}

#[test]
#[cfg_attr(target_os = "wasi", ignore = "wasm32-wasip2 has no threads")]
fn concurrent_increments_add_up() {
    let (_root, bucket) = bucket();
    let bucket = Arc::new(bucket);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let bucket = Arc::clone(&bucket);
            thread::spawn(move || {
                for _ in 0..100 {
                    bucket.increment("counter", 1).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(get(&bucket, "counter").as_deref(), Some("800"));
}

#[test]
#[cfg_attr(target_os = "wasi", ignore = "wasm32-wasip2 has no threads")]
fn readers_see_whole_values_while_epochs_are_retired() {
    let (_root, bucket) = bucket();
    bucket.set("doc", b"0").unwrap();
    let writes = 4 * EPOCH_VERSIONS;
    let writer = {
        let bucket = bucket.clone();
        thread::spawn(move || {
            for value in 1..=writes {
                bucket.set("doc", value.to_string().as_bytes()).unwrap();
            }
        })
    };
    let mut seen = 0;
    while seen < writes {
        let value: u64 = get(&bucket, "doc").expect("a value").parse().expect("a whole number");
        assert!(value >= seen, "went back from {seen} to {value}");
        seen = value;
    }
    writer.join().unwrap();
}

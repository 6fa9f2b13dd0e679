use super::*;

use std::sync::Arc;
use std::thread;
use std::time::SystemTime;

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

/// The incarnation of the key directory `key_dir`, read from its epoch names.
fn incarnation(key_dir: &Path) -> u64 {
    let (incarnation, epochs) = epochs_in(key_dir).unwrap();
    assert!(!epochs.is_empty(), "{} has no epochs", key_dir.display());
    incarnation
}

/// The directory of `epoch` of the key in `key_dir`.
fn epoch_dir(key_dir: &Path, epoch: u64) -> PathBuf {
    key_dir.join(epoch_name(incarnation(key_dir), epoch))
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
fn delete_removes_the_key_directory() {
    let (root, bucket) = bucket();
    let bucket_dir = root.path().join("test");
    bucket.delete("never").unwrap();
    assert!(!bucket_dir.join("never").exists(), "deleting an absent key writes nothing");

    bucket.set("doc", b"one").unwrap();
    bucket.set("doc", b"two").unwrap();
    assert!(bucket_dir.join("doc").is_dir());
    bucket.delete("doc").unwrap();
    assert_eq!(get(&bucket, "doc"), None);
    assert!(!bucket.exists("doc").unwrap());
    assert!(!bucket_dir.join("doc").exists(), "the key directory is gone");
    assert_eq!(entries(&bucket_dir), [TEMP_DIR]);
    assert_eq!(entries(&bucket_dir.join(TEMP_DIR)), Vec::<String>::new(), "and not left in .tmp");
    assert_eq!(bucket.begin_cas("doc").unwrap().version(), 0);
    bucket.delete("doc").unwrap();

    bucket.set("doc", b"again").unwrap();
    assert_eq!(get(&bucket, "doc").as_deref(), Some("again"));
    assert_eq!(bucket.begin_cas("doc").unwrap().version(), 1, "a new incarnation starts at version 1");
}

#[test]
fn delete_and_recreate_cycles() {
    let (root, bucket) = bucket();
    let key_dir = root.path().join("test/doc");
    let mut incarnations = Vec::new();
    for cycle in 0..24_u64 {
        // Some cycles go past an epoch, so that deletes also remove several epochs.
        for write in 0..=cycle % 20 {
            bucket.set("doc", format!("{cycle}.{write}").as_bytes()).unwrap();
        }
        assert_eq!(get(&bucket, "doc"), Some(format!("{cycle}.{}", cycle % 20)));
        incarnations.push(incarnation(&key_dir));
        bucket.delete("doc").unwrap();
        assert_eq!(get(&bucket, "doc"), None);
        assert!(!key_dir.exists());
    }
    incarnations.sort_unstable();
    incarnations.dedup();
    assert_eq!(incarnations.len(), 24, "every incarnation is new");
    assert_eq!(entries(&root.path().join("test").join(TEMP_DIR)), Vec::<String>::new());
}

#[test]
fn many_deletes_leave_only_live_keys() {
    let (root, bucket) = bucket();
    for page in 0..100 {
        bucket.set(&format!("jsonstore.n.1.abc.{page}"), b"page").unwrap();
    }
    for page in (0..100).filter(|page| page % 10 != 0) {
        bucket.delete(&format!("jsonstore.n.1.abc.{page}")).unwrap();
    }
    let live: Vec<String> = (0..100).step_by(10).map(|page| format!("jsonstore.n.1.abc.{page}")).collect();
    let mut sorted = live.clone();
    sorted.sort();
    assert_eq!(bucket.list().unwrap(), sorted);
    let mut on_disk = sorted.clone();
    on_disk.push(TEMP_DIR.to_owned());
    on_disk.sort();
    assert_eq!(entries(&root.path().join("test")), on_disk);
    assert_eq!(entries(&root.path().join("test").join(TEMP_DIR)), Vec::<String>::new());
    for key in &live {
        assert_eq!(get(&bucket, key).as_deref(), Some("page"));
    }
}

#[test]
fn buckets_are_made_by_the_first_write() {
    let root = scratch();
    let bucket = Bucket::open(root.path(), "lazy", std_random).unwrap();
    assert!(!root.path().join("lazy").exists(), "opening touches nothing");
    assert_eq!(get(&bucket, "doc"), None);
    assert!(!bucket.exists("doc").unwrap());
    assert_eq!(bucket.list().unwrap(), Vec::<String>::new());
    assert_eq!(bucket.begin_cas("doc").unwrap().version(), 0);
    bucket.set("doc", b"one").unwrap();
    assert_eq!(get(&bucket, "doc").as_deref(), Some("one"));

    // If `.tmp` goes, the next write makes it again.
    fs::remove_dir(root.path().join("lazy").join(TEMP_DIR)).unwrap();
    bucket.set("doc", b"two").unwrap();
    fs::remove_dir(root.path().join("lazy").join(TEMP_DIR)).unwrap();
    bucket.delete("doc").unwrap();
    assert_eq!(entries(&root.path().join("lazy")), [TEMP_DIR]);
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

/// A handle from before the key was deleted and created again must fail, even where the new
/// incarnation's version numbers line up with the handle's: without incarnations in the paths,
/// the swap would link version 3 (or open epoch 1) in the new directory and succeed.
#[test]
fn stale_cas_fails_after_delete_and_recreate() {
    let (root, bucket) = bucket();
    for writes in [2, EPOCH_VERSIONS - 1, EPOCH_VERSIONS, 3 * EPOCH_VERSIONS + 2] {
        let key = format!("doc-{writes}");
        for write in 0..writes {
            bucket.set(&key, format!("old {write}").as_bytes()).unwrap();
        }
        let stale = bucket.begin_cas(&key).unwrap();
        assert_eq!(stale.version(), writes);
        bucket.delete(&key).unwrap();
        for write in 0..writes {
            bucket.set(&key, format!("new {write}").as_bytes()).unwrap();
        }
        let fresh = bucket.begin_cas(&key).unwrap();
        assert_eq!(fresh.version(), stale.version(), "the version numbers line up");
        let last = format!("new {}", writes - 1);
        match bucket.swap(stale, b"stale").unwrap() {
            Swap::Done => panic!("a swap from before a delete succeeded after {writes} writes"),
            Swap::Conflict(latest) => assert_eq!(latest.current(), Some(last.as_bytes())),
        }
        assert_eq!(get(&bucket, &key), Some(last));
        // Nothing of the old incarnation came back, not even an epoch opened by the stale swap.
        let key_dir = root.path().join("test").join(&key);
        let incarnation = incarnation(&key_dir);
        for name in entries(&key_dir) {
            assert_eq!(parse_epoch_name(&name).map(|(found, _)| found), Some(incarnation), "{name}");
        }
        assert_eq!(bucket.swap(fresh, b"fresh").unwrap(), Swap::Done);
    }
}

/// Absence has no versions: a handle that read no value succeeds if the key has none when it
/// swaps, even if the key was created and deleted in between.
#[test]
fn absent_cas_compares_absence() {
    let (_root, bucket) = bucket();
    let absent = bucket.begin_cas("doc").unwrap();
    bucket.set("doc", b"one").unwrap();
    let racing = absent.clone();
    assert!(matches!(bucket.swap(racing, b"late").unwrap(), Swap::Conflict(_)), "the key exists");
    bucket.delete("doc").unwrap();
    assert_eq!(bucket.swap(absent, b"two").unwrap(), Swap::Done);
    assert_eq!(get(&bucket, "doc").as_deref(), Some("two"));
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
        Bucket::open(root.path(), identifier, std_random).unwrap().set("doc", b"").unwrap();
        assert!(root.path().join(identifier).join("doc").is_dir());
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
    let key_dir = bucket_dir.join("doc");
    assert_eq!(entries(&epoch_dir(&key_dir, 0)), [1, 2, 3].map(number_name));
    // A writer crashed after writing its temporary file, or after opening the next epoch.
    fs::write(bucket_dir.join(TEMP_DIR).join("00000000deadbeef"), [PRESENT, b'x']).unwrap();
    fs::create_dir(key_dir.join(epoch_name(incarnation(&key_dir), 1))).unwrap();
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
    let incarnation = incarnation(&key_dir);
    assert_eq!(entries(&key_dir), [4, 5].map(|epoch| epoch_name(incarnation, epoch)));
    // Epoch 5's slot for epoch 6 is only made when epoch 6 opens.
    assert_eq!(entries(&epoch_dir(&key_dir, 5)), [number_name(80)]);
    assert_eq!(entries(&root.path().join("test").join(TEMP_DIR)), Vec::<String>::new());
}

#[test]
fn corrupt_versions_are_errors() {
    let (root, bucket) = bucket();
    bucket.set("doc", b"one").unwrap();
    let version = epoch_dir(&root.path().join("test/doc"), 0).join(number_name(1));
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

#[test]
fn sweep_removes_only_old_leftovers() {
    let (root, bucket) = bucket();
    bucket.set("doc", b"one").unwrap();
    let temp = root.path().join("test").join(TEMP_DIR);
    let long_ago = SystemTime::now() - 2 * STRAY_AGE;
    // Left by crashed writers long ago: a temporary file and a half-deleted key directory.
    fs::write(temp.join("00000000000000aa"), [PRESENT, b'x']).unwrap();
    File::options().write(true).open(temp.join("00000000000000aa")).unwrap().set_modified(long_ago).unwrap();
    fs::create_dir_all(temp.join("00000000000000bb").join(epoch_name(7, 0))).unwrap();
    fs::write(temp.join("00000000000000bb").join(epoch_name(7, 0)).join(number_name(1)), [PRESENT]).unwrap();
    File::open(temp.join("00000000000000bb")).unwrap().set_modified(long_ago).unwrap();
    // In flight: written just now.
    fs::write(temp.join("00000000000000cc"), [PRESENT, b'y']).unwrap();

    bucket.sweep();
    assert_eq!(entries(&temp), ["00000000000000cc"]);
    assert_eq!(get(&bucket, "doc").as_deref(), Some("one"));
}

/// Threads set and delete a few keys at random. However they interleave, nothing fails, every
/// key ends as the last operation of one of the threads left it (the last one in some serial
/// order), and the bucket holds only the keys' directories.
#[test]
#[cfg_attr(target_os = "wasi", ignore = "wasm32-wasip2 has no threads")]
fn concurrent_sets_and_deletes_stay_consistent() {
    const KEYS: [&str; 3] = ["a", "b", "c"];
    let (root, bucket) = bucket();
    let threads: Vec<_> = (0..8_u64)
        .map(|thread| {
            let bucket = bucket.clone();
            thread::spawn(move || {
                // Per key, what this thread did last: `Some(value)` for a set, `None` for a delete.
                let mut last: Vec<Option<Option<String>>> = vec![None; KEYS.len()];
                for round in 0..150_u64 {
                    let draw = std_random();
                    let index = usize::try_from(draw % 3).unwrap();
                    let key = KEYS[index];
                    if (draw / 3).is_multiple_of(3) {
                        bucket.delete(key).unwrap();
                        last[index] = Some(None);
                    } else {
                        let value = format!("{thread}.{round}");
                        bucket.set(key, value.as_bytes()).unwrap();
                        last[index] = Some(Some(value));
                    }
                    if let Some(value) = get(&bucket, key) {
                        assert!(value.contains('.'), "{key} = {value:?}");
                    }
                }
                last
            })
        })
        .collect();
    let lasts: Vec<_> = threads.into_iter().map(|thread| thread.join().unwrap()).collect();
    for (index, key) in KEYS.iter().enumerate() {
        let candidates: Vec<&Option<String>> = lasts.iter().filter_map(|last| last[index].as_ref()).collect();
        let current = get(&bucket, key);
        assert!(candidates.contains(&&current), "{key} = {current:?}, not one of {candidates:?}");
        assert_eq!(bucket.exists(key).unwrap(), current.is_some());
    }
    let mut expected: Vec<String> =
        KEYS.iter().filter(|key| get(&bucket, key).is_some()).map(|key| key.to_string()).collect();
    assert_eq!(bucket.list().unwrap(), expected);
    expected.push(TEMP_DIR.to_owned());
    expected.sort();
    assert_eq!(entries(&root.path().join("test")), expected);
}

/// Compare-and-swap increments race deletes of the counter: each applies to the incarnation it
/// read or fails and retries on the latest, so no operation fails, no sum is out of range (a
/// stale swap that landed would be), and once the deletes stop, increments add up again.
#[test]
#[cfg_attr(target_os = "wasi", ignore = "wasm32-wasip2 has no threads")]
fn increments_race_deletes() {
    let (_root, bucket) = bucket();
    let incrementers: Vec<_> = (0..4)
        .map(|_| {
            let bucket = bucket.clone();
            thread::spawn(move || {
                for _ in 0..100 {
                    let sum = bucket.increment("counter", 1).unwrap();
                    assert!((1..=400).contains(&sum), "{sum}");
                }
            })
        })
        .collect();
    let deleter = {
        let bucket = bucket.clone();
        thread::spawn(move || {
            for _ in 0..50 {
                bucket.delete("counter").unwrap();
                thread::yield_now();
            }
        })
    };
    deleter.join().unwrap();
    for thread in incrementers {
        thread.join().unwrap();
    }
    // Once the deletes are over, increments add up again.
    let before: i64 = get(&bucket, "counter").map_or(0, |value| value.parse().unwrap());
    assert_eq!(bucket.increment("counter", 1).unwrap(), before + 1);
}

#[test]
fn foreign_key_directories_are_errors() {
    let (root, bucket) = bucket();
    // A key directory of the layout before incarnations: epochs named by number only.
    let legacy = root.path().join("test/old");
    fs::create_dir_all(legacy.join(number_name(0))).unwrap();
    fs::write(legacy.join(number_name(0)).join(number_name(1)), [PRESENT, b'x']).unwrap();
    let error = bucket.get("old").unwrap_err().to_string();
    assert!(error.contains("not a key directory of this layout"), "{error}");
    assert!(bucket.set("old", b"new").is_err());
    // Deleting it still works.
    bucket.delete("old").unwrap();
    assert_eq!(get(&bucket, "old"), None);
    bucket.set("old", b"new").unwrap();
    assert_eq!(get(&bucket, "old").as_deref(), Some("new"));
}

/// New keys are synced into the bucket directory once for many: before the next
/// compare-and-swap or version published over a key (or when the last clone of the bucket goes).
#[test]
fn new_keys_are_synced_before_what_may_name_them() {
    let (_root, bucket) = bucket();
    let pending = |bucket: &Bucket| bucket.unsynced.pending.load(Ordering::Acquire);
    bucket.set("page.1", b"a").unwrap();
    bucket.set("page.2", b"b").unwrap();
    assert!(pending(&bucket), "a set of a new key defers the directory's sync");
    let root = bucket.begin_cas("root").unwrap();
    assert!(matches!(bucket.swap(root, b"names page.1 and page.2").unwrap(), Swap::Done));
    assert!(!pending(&bucket), "a compare-and-swap syncs the new keys first");

    bucket.set("page.3", b"c").unwrap();
    bucket.set("page.1", b"a, again").unwrap();
    assert!(!pending(&bucket), "a version over an existing key syncs the new keys first");

    let clone = bucket.clone();
    clone.set("page.4", b"d").unwrap();
    assert!(pending(&bucket), "clones share what is pending");
    clone.increment("counter", 1).unwrap();
    assert!(!pending(&bucket), "so a clone's compare-and-swap syncs them");
}

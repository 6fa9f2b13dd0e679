//! The fuzz targets of `fuzz/`, on stable: every file of their corpora, and random inputs
//! from a seeded generator, through the same bodies that libFuzzer runs (`cargo xtask fuzz`).
//!
//! The random inputs are random bytes and corpus files with a few bytes changed; the seed is
//! printed, and `JSONSTORE_FUZZ_SEED=N cargo test --test fuzz_replay` replays it. The targets
//! pass over the bugs found and not fixed yet (`fuzz/src/known.rs`); their regression files,
//! listed in `fuzz/known-failures.txt`, are skipped here with a message, and
//! `cargo test --test fuzz_replay -- --ignored known_failures_still_fail` shows that they still
//! fail.

#[path = "../fuzz/src/lib.rs"]
mod fuzz;

use fuzz::seeds::Rng;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How many random inputs each target gets.
const RANDOM_INPUTS: usize = 600;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `target`'s corpus, sorted by name.
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join("corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
}

/// The known failures: `TARGET/FILE` and the bug.
fn known_failures() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(fuzz_dir().join("known-failures.txt")).unwrap();
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (file, bug) = line.split_once(": ").unwrap_or_else(|| panic!("not `TARGET/FILE: the bug`: {line}"));
            (file.to_owned(), bug.to_owned())
        })
        .collect()
}

/// The name of a corpus file as the known failures name it: `TARGET/FILE`.
fn name(target: &str, file: &Path) -> String {
    format!("{target}/{}", file.file_name().unwrap().to_string_lossy())
}

#[test]
fn every_corpus_file_passes() {
    let known = known_failures();
    let mut failed = Vec::new();
    for &(target, check) in fuzz::TARGETS {
        for file in corpus(target) {
            let name = name(target, &file);
            if let Some((_, bug)) = known.iter().find(|(known, _)| *known == name) {
                eprintln!("skipping {name}, a known failure: {bug}");
                continue;
            }
            let data = std::fs::read(&file).unwrap();
            if std::env::var_os("JSONSTORE_FUZZ_REPLAY_SHOW").is_some() {
                eprintln!("replaying {name}");
            }
            if catch_unwind(|| check(&data)).is_err() {
                failed.push(name);
            }
        }
    }
    assert!(failed.is_empty(), "these corpus files fail (see their panics above): {failed:?}");
}

/// Each known failure still fails, with nothing passed over: run in a child process, since a
/// bug may overflow the stack or never end.
#[test]
#[ignore = "the known failures fail until their bugs are fixed"]
fn known_failures_still_fail() {
    let mut fixed = Vec::new();
    for (name, bug) in known_failures() {
        eprintln!("{name}: {bug}");
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "replay_one_file"])
            .env("JSONSTORE_FUZZ_FILE", fuzz_dir().join("corpus").join(&name))
            .env("JSONSTORE_FUZZ_STRICT", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let passed = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status.success();
            }
            if started.elapsed() > Duration::from_secs(30) {
                child.kill().unwrap();
                child.wait().unwrap();
                eprintln!("{name} still runs after 30 s: it fails by never ending");
                break false;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        if passed {
            fixed.push(name);
        }
    }
    assert!(fixed.is_empty(), "these pass now: delete their lines from fuzz/known-failures.txt: {fixed:?}");
}

/// Replays the corpus file `JSONSTORE_FUZZ_FILE` names through its target (the name of its
/// directory); `JSONSTORE_FUZZ_STRICT=1` passes over no known bug.
#[test]
#[ignore = "replays the file JSONSTORE_FUZZ_FILE names"]
fn replay_one_file() {
    let file = PathBuf::from(std::env::var_os("JSONSTORE_FUZZ_FILE").expect("JSONSTORE_FUZZ_FILE names a corpus file"));
    let target = file.parent().and_then(Path::file_name).unwrap().to_string_lossy().into_owned();
    let check =
        fuzz::TARGETS.iter().find(|(name, _)| *name == target).unwrap_or_else(|| panic!("no target {target}")).1;
    check(&std::fs::read(&file).unwrap());
}

#[test]
fn random_inputs_pass() {
    let seed = match std::env::var("JSONSTORE_FUZZ_SEED") {
        Ok(seed) => seed.parse().expect("a numeric seed"),
        Err(_) => Rng(u64::from(std::process::id())).bits() % 1_000_000,
    };
    eprintln!("random inputs from seed {seed}; JSONSTORE_FUZZ_SEED={seed} replays them");
    let known: Vec<String> = known_failures().into_iter().map(|(name, _)| name).collect();
    let mut rng = Rng(seed);
    for &(target, check) in fuzz::TARGETS {
        let seeds: Vec<Vec<u8>> = corpus(target)
            .iter()
            .filter(|file| !known.contains(&name(target, file)))
            .map(|file| std::fs::read(file).unwrap())
            .collect();
        for _ in 0..RANDOM_INPUTS {
            let input = random_input(&mut rng, &seeds);
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(&input))) {
                eprintln!("target {target} failed on {:?}", String::from_utf8_lossy(&input));
                eprintln!("replay with JSONSTORE_FUZZ_SEED={seed}");
                std::panic::resume_unwind(panic);
            }
        }
    }
}

/// Random bytes, or a corpus file with a few bytes changed, inserted or removed.
fn random_input(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    if seeds.is_empty() || rng.below(4) == 0 {
        return (0..rng.below(200)).map(|_| rng.byte()).collect();
    }
    let mut input = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(input.len() + 1);
        match rng.below(3) {
            0 if at < input.len() => input[at] = rng.byte(),
            1 if at < input.len() => drop(input.remove(at)),
            _ => input.insert(at, rng.byte()),
        }
    }
    input
}

/// Each target has a libFuzzer entry, a `[[bin]]` and a corpus, and there are no others.
#[test]
fn every_target_is_wired_up() {
    let names = |dir: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(fuzz_dir().join(dir))
            .unwrap()
            .map(|entry| entry.unwrap().path().file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let mut targets: Vec<String> = fuzz::TARGETS.iter().map(|(name, _)| name.to_string()).collect();
    targets.sort();
    assert_eq!(names("fuzz_targets"), targets, "fuzz/fuzz_targets/ and fuzz::TARGETS");
    assert_eq!(names("corpus"), targets, "fuzz/corpus/ and fuzz::TARGETS");
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    for target in &targets {
        assert!(manifest.contains(&format!("path = \"fuzz_targets/{target}.rs\"")), "a [[bin]] for {target}");
    }
    for (name, _) in known_failures() {
        assert!(fuzz_dir().join("corpus").join(&name).is_file(), "known failure {name} is a corpus file");
    }
}

#[test]
#[ignore = "writes the seed corpora: run by hand when a format changes"]
fn write_seeds() {
    for (target, name, bytes) in fuzz::seeds::all() {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

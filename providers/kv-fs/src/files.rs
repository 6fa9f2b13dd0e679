//! The key-value store as plain files: a directory per bucket, a directory per key, a file per version.
//!
//! Every request runs in a fresh instance and many run at once, so the files are the only state,
//! and every write is a compare-and-swap that publishes a complete new version or nothing.
//! It uses only what `wasi:filesystem` offers everywhere: `hard_link`, which fails if the
//! target exists, and `rename`.
//!
//! # Layout
//!
//! ```text
//! <root>/<bucket>/            a bucket; its identifier matches [A-Za-z0-9_-]{1,64}
//!   .tmp/<16 hex digits>      files being written and directories being deleted
//!   <key name>/               one key; created once, never removed
//!     <epoch>/                versions 16*epoch ..= 16*epoch+15
//!       <version>             one version: byte 1 then the value, or byte 0 (deleted)
//!       next/                 the slot that becomes directory <epoch+1>
//! ```
//!
//! Epochs and versions are named by 20 decimal digits.
//! A key name is the key with every byte outside `[a-z0-9_.-]`, and a leading `.`, written as
//! `%XX` (the empty key is `%`), so names are reversible and stay distinct on case-insensitive
//! filesystems. The current value is the highest version in the highest epoch that has one.
//!
//! # Writing
//!
//! To publish version n+1 over version n, a writer writes the whole file under `.tmp`, syncs it,
//! and hard-links it into place. The link fails if n+1 exists, so exactly one writer wins and the
//! others' compare-and-swap fails. A crash leaves at most a stray temporary file.
//!
//! That is only a compare-and-swap if a version name, once taken, can never be taken again by a
//! writer that read an older version and then slept through several newer ones. So no single
//! version file is ever removed. Old versions go an epoch at a time: once epoch e+2 exists, epoch e
//! is renamed into `.tmp` (after which links into it fail) and deleted, oldest first. And an epoch
//! directory is never created by name, which a sleeper could do after it was deleted: epoch e+1 is
//! the `next` slot of epoch e moved into place, which only works while epoch e (and so every later
//! epoch) still exists, and a key directory is created with its first epoch already inside.
//! A stale writer thus finds its version taken or its epoch gone, and fails.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// One bucket: a directory of keys. Cheap to clone; it holds no open files.
#[derive(Clone, Debug)]
pub struct Bucket {
    dir: PathBuf,
    random: fn() -> u64,
}

/// A compare-and-swap in progress: the version of a key it read and that version's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cas {
    key: String,
    name: String,
    version: u64,
    value: Option<Vec<u8>>,
}

/// The outcome of [`Bucket::swap`].
#[derive(Debug, PartialEq, Eq)]
pub enum Swap {
    /// The new value is now the current one.
    Done,
    /// Another writer got there first; this handle holds the latest version, ready for a retry.
    Conflict(Cas),
}

/// Why an operation failed.
#[derive(Debug)]
pub enum Error {
    /// The bucket identifier does not match `[A-Za-z0-9_-]{1,64}`.
    NoSuchStore,
    /// The key's file name would be longer than 255 bytes.
    KeyTooLong {
        /// The length the encoded name would have.
        name_bytes: usize,
    },
    /// `increment` found a value that is not a decimal `i64`.
    NotAnInteger {
        /// The key that holds it.
        key: String,
    },
    /// `increment` would overflow an `i64`.
    Overflow {
        /// The key being incremented.
        key: String,
    },
    /// The bucket directory could not be created.
    Open {
        /// The bucket identifier.
        identifier: String,
        /// What the filesystem said.
        source: io::Error,
    },
    /// A filesystem operation failed, or lost too many races in a row.
    Io {
        /// The operation: `get`, `set`, `delete`, `exists`, `list-keys`, `cas`, `swap` or `increment`.
        op: &'static str,
        /// The key it was working on, if any.
        key: Option<String>,
        /// What the filesystem said.
        source: io::Error,
    },
}

impl Bucket {
    /// Opens the bucket `identifier` under `root`, creating its directory if needed.
    ///
    /// `random` names temporary files; it must not repeat across concurrent instances.
    pub fn open(root: &Path, identifier: &str, random: fn() -> u64) -> Result<Bucket, Error> {
        if !is_identifier(identifier) {
            return Err(Error::NoSuchStore);
        }
        let dir = root.join(identifier);
        fs::create_dir_all(dir.join(TEMP_DIR))
            .map_err(|source| Error::Open { identifier: identifier.to_owned(), source })?;
        Ok(Bucket { dir, random })
    }

    /// Returns the value of `key`, or `None` if it is absent or deleted.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let name = key_name(key)?;
        let (_, value) = self.read(&name, true).map_err(|source| io_error("get", key, source))?;
        Ok(value)
    }

    /// Returns whether `key` has a value.
    pub fn exists(&self, key: &str) -> Result<bool, Error> {
        let name = key_name(key)?;
        let (_, value) = self.read(&name, false).map_err(|source| io_error("exists", key, source))?;
        Ok(value.is_some())
    }

    /// Makes `value` the value of `key`, whatever it was.
    pub fn set(&self, key: &str, value: &[u8]) -> Result<(), Error> {
        let name = key_name(key)?;
        let staged = self.stage(Some(value)).map_err(|source| io_error("set", key, source))?;
        self.retry("set", key, || {
            let (version, _) = self.read(&name, false)?;
            self.publish(&name, version, &staged)
        })
    }

    /// Deletes `key` by writing a tombstone version; does nothing if it has no value.
    pub fn delete(&self, key: &str) -> Result<(), Error> {
        let name = key_name(key)?;
        self.retry("delete", key, || match self.read(&name, false)? {
            (_, None) => Ok(true),
            (version, Some(_)) => self.publish(&name, version, &self.stage(None)?),
        })
    }

    /// Returns every key that has a value, sorted. There is no paging: the list is complete.
    pub fn list(&self) -> Result<Vec<String>, Error> {
        let list_error = |source| Error::Io { op: "list-keys", key: None, source };
        let mut keys = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(list_error)? {
            let file_name = entry.map_err(list_error)?.file_name();
            let Some(name) = file_name.to_str() else {
                continue;
            };
            let Some(key) = key_from_name(name) else {
                continue;
            };
            let (_, value) = self.read(name, false).map_err(|source| io_error("list-keys", &key, source))?;
            if value.is_some() {
                keys.push(key);
            }
        }
        keys.sort_unstable();
        Ok(keys)
    }

    /// Reads the current version of `key` into a handle for [`Bucket::swap`].
    pub fn begin_cas(&self, key: &str) -> Result<Cas, Error> {
        let name = key_name(key)?;
        let (version, value) = self.read(&name, true).map_err(|source| io_error("cas", key, source))?;
        Ok(Cas { key: key.to_owned(), name, version, value })
    }

    /// Makes `value` the value of the handle's key if no one has written it since the handle read it.
    pub fn swap(&self, cas: Cas, value: &[u8]) -> Result<Swap, Error> {
        self.compare_and_swap("swap", cas, value)
    }

    /// Adds `delta` to the decimal `i64` stored at `key` (0 if absent) and returns the sum.
    pub fn increment(&self, key: &str, delta: i64) -> Result<i64, Error> {
        let mut cas = self.begin_cas(key)?;
        for _ in 0..ATTEMPTS_MAX {
            let current = match cas.current() {
                None => 0,
                Some(bytes) => parse_integer(bytes).ok_or_else(|| Error::NotAnInteger { key: key.to_owned() })?,
            };
            let sum = current.checked_add(delta).ok_or_else(|| Error::Overflow { key: key.to_owned() })?;
            match self.compare_and_swap("increment", cas, sum.to_string().as_bytes())? {
                Swap::Done => return Ok(sum),
                Swap::Conflict(latest) => cas = latest,
            }
        }
        Err(io_error("increment", key, contended()))
    }

    fn compare_and_swap(&self, op: &'static str, cas: Cas, value: &[u8]) -> Result<Swap, Error> {
        let won = self
            .stage(Some(value))
            .and_then(|staged| self.publish(&cas.name, cas.version, &staged))
            .map_err(|source| io_error(op, &cas.key, source))?;
        if won { Ok(Swap::Done) } else { self.begin_cas(&cas.key).map(Swap::Conflict) }
    }

    /// Runs `attempt` until it reports success, at most [`ATTEMPTS_MAX`] times.
    fn retry(&self, op: &'static str, key: &str, mut attempt: impl FnMut() -> io::Result<bool>) -> Result<(), Error> {
        for _ in 0..ATTEMPTS_MAX {
            if attempt().map_err(|source| io_error(op, key, source))? {
                return Ok(());
            }
        }
        Err(io_error(op, key, contended()))
    }

    /// Returns the current version of the key named `name` and its value (empty unless `whole`).
    /// Version 0 means the key was never written.
    fn read(&self, name: &str, whole: bool) -> io::Result<(u64, Option<Vec<u8>>)> {
        for _ in 0..ATTEMPTS_MAX {
            match self.try_read(name, whole) {
                // An epoch was deleted while we looked at it, so there is a newer one: look again.
                Err(error) if error.kind() == ErrorKind::NotFound => continue,
                result => return result,
            }
        }
        Err(contended())
    }

    fn try_read(&self, name: &str, whole: bool) -> io::Result<(u64, Option<Vec<u8>>)> {
        let key_dir = self.dir.join(name);
        let mut epochs = match numbers_in(&key_dir) {
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok((0, None)),
            result => result?,
        };
        epochs.sort_unstable_by(|a, b| b.cmp(a));
        for epoch in epochs {
            let epoch_dir = key_dir.join(number_name(epoch));
            // A new epoch is empty until its first version is linked in.
            if let Some(version) = numbers_in(&epoch_dir)?.into_iter().max() {
                let value = read_version(&epoch_dir.join(number_name(version)), whole)?;
                return Ok((version, value));
            }
        }
        Ok((0, None))
    }

    /// Writes `value` (`None` for a tombstone) to a new temporary file and syncs it.
    fn stage(&self, value: Option<&[u8]>) -> io::Result<Staged> {
        let path = self.temp_path();
        let mut file = OpenOptions::new().write(true).create_new(true).open(&path)?;
        let staged = Staged(path);
        match value {
            Some(value) => file.write_all(&[PRESENT]).and_then(|()| file.write_all(value))?,
            None => file.write_all(&[DELETED])?,
        }
        file.sync_all()?;
        Ok(staged)
    }

    /// Tries to publish `staged` as version `base + 1` of the key named `name`.
    /// Returns false if another writer published that version first.
    fn publish(&self, name: &str, base: u64, staged: &Staged) -> io::Result<bool> {
        let version = base.checked_add(1).ok_or_else(|| io::Error::other("version number overflow"))?;
        let won = self.link(name, version, &staged.0)?;
        if won && version.is_multiple_of(EPOCH_VERSIONS) {
            self.retire(name, version / EPOCH_VERSIONS);
        }
        Ok(won)
    }

    /// Links `temp` as `version` of the key named `name`; false if that version is taken or its
    /// epoch is already gone.
    fn link(&self, name: &str, version: u64, temp: &Path) -> io::Result<bool> {
        let key_dir = self.dir.join(name);
        let epoch = version / EPOCH_VERSIONS;
        if version == 1 {
            self.create_key_dir(&key_dir)?;
        } else if version.is_multiple_of(EPOCH_VERSIONS) {
            open_epoch(&key_dir, epoch)?;
        }
        let epoch_dir = key_dir.join(number_name(epoch));
        match fs::hard_link(temp, epoch_dir.join(number_name(version))) {
            Ok(()) => {
                sync_dir(&epoch_dir);
                Ok(true)
            }
            Err(error) if matches!(error.kind(), ErrorKind::AlreadyExists | ErrorKind::NotFound) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Creates `key_dir` with an empty epoch 0 inside, in one rename, unless it exists.
    fn create_key_dir(&self, key_dir: &Path) -> io::Result<()> {
        if path_exists(key_dir)? {
            return Ok(());
        }
        let staging = self.temp_path();
        fs::create_dir(&staging)?;
        let created = fs::create_dir(staging.join(number_name(0))).and_then(|()| fs::rename(&staging, key_dir));
        match created {
            Ok(()) => {
                sync_dir(&self.dir);
                Ok(())
            }
            Err(error) => {
                let _ = fs::remove_dir_all(&staging);
                // Losing the race to another writer is fine.
                if path_exists(key_dir)? { Ok(()) } else { Err(error) }
            }
        }
    }

    /// Deletes the epochs of the key named `name` older than `newest - 1`, oldest first.
    /// Best effort: leftovers are deleted by the next writer that opens an epoch.
    fn retire(&self, name: &str, newest: u64) {
        let key_dir = self.dir.join(name);
        let Ok(mut epochs) = numbers_in(&key_dir) else {
            return;
        };
        epochs.retain(|&epoch| epoch.saturating_add(1) < newest);
        epochs.sort_unstable();
        for epoch in epochs {
            let trash = self.temp_path();
            match fs::rename(key_dir.join(number_name(epoch)), &trash) {
                Ok(()) => {
                    let _ = fs::remove_dir_all(&trash);
                }
                Err(error) if error.kind() == ErrorKind::NotFound => {}
                // A later epoch must never go while an earlier one stays (see the module docs).
                Err(_) => return,
            }
        }
    }

    fn temp_path(&self) -> PathBuf {
        self.dir.join(TEMP_DIR).join(format!("{:016x}", (self.random)()))
    }
}

/// A temporary file holding a complete version, removed when dropped: once it is linked into
/// place that name lives on, and a file left behind by a crash wastes space but changes nothing.
struct Staged(PathBuf);

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

impl Cas {
    /// The key this handle is for.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The version the handle read; 0 if the key was never written.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The value the handle read, or `None` if the key had none.
    pub fn current(&self) -> Option<&[u8]> {
        self.value.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoSuchStore => write!(f, "no such store: bucket identifiers match [A-Za-z0-9_-]{{1,64}}"),
            Error::KeyTooLong { name_bytes } => {
                write!(f, "key too long: its file name would be {name_bytes} bytes, over {NAME_BYTES_MAX}")
            }
            Error::NotAnInteger { key } => {
                write!(f, "increment {key:?}: the value is not a decimal i64")
            }
            Error::Overflow { key } => write!(f, "increment {key:?}: the sum overflows i64"),
            Error::Open { identifier, source } => write!(f, "open bucket {identifier:?}: {source}"),
            Error::Io { op, key: Some(key), source } => write!(f, "{op} {key:?}: {source}"),
            Error::Io { op, key: None, source } => write!(f, "{op}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Open { source, .. } | Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A random `u64` from std's hasher seeds and a counter: unique enough for temporary file names.
/// For native use and tests; on WASI the component uses `wasi:random` instead.
pub fn std_random() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

/// How many versions share an epoch directory.
const EPOCH_VERSIONS: u64 = 16;

/// The longest file name common filesystems allow.
const NAME_BYTES_MAX: usize = 255;

/// How many races an operation may lose in a row before it gives up.
const ATTEMPTS_MAX: usize = 1000;

const TEMP_DIR: &str = ".tmp";
const SLOT: &str = "next";
const PRESENT: u8 = 1;
const DELETED: u8 = 0;

/// Moves the `next` slot of epoch `epoch - 1` into place as epoch `epoch`, unless that was done.
///
/// If epoch `epoch - 1` is gone, nothing happens and the link that follows fails.
fn open_epoch(key_dir: &Path, epoch: u64) -> io::Result<()> {
    let slot = key_dir.join(number_name(epoch - 1)).join(SLOT);
    let target = key_dir.join(number_name(epoch));
    // Recreating a slot that was already moved is harmless: while epoch - 1 exists, `target` does
    // too, and a rename onto it fails, or, if it is still empty, swaps in another empty directory.
    match fs::create_dir(&slot) {
        Err(error) if !matches!(error.kind(), ErrorKind::AlreadyExists | ErrorKind::NotFound) => {
            return Err(error);
        }
        _ => {}
    }
    match fs::rename(&slot, &target) {
        Ok(()) => {
            sync_dir(key_dir);
            Ok(())
        }
        Err(error) if error.kind() == ErrorKind::NotFound || path_exists(&target)? => Ok(()),
        Err(error) => Err(error),
    }
}

/// Reads a version file: `Some` value (empty unless `whole`), or `None` for a tombstone.
fn read_version(path: &Path, whole: bool) -> io::Result<Option<Vec<u8>>> {
    let mut file = File::open(path)?;
    let mut marker = [0; 1];
    if file.read(&mut marker)? == 0 {
        return Err(io::Error::new(ErrorKind::InvalidData, format!("empty version file {}", path.display())));
    }
    match marker[0] {
        PRESENT => {
            let mut value = Vec::new();
            if whole {
                file.read_to_end(&mut value)?;
            }
            Ok(Some(value))
        }
        DELETED => Ok(None),
        _ => Err(io::Error::new(ErrorKind::InvalidData, format!("bad version file {}", path.display()))),
    }
}

/// The numbers named by the 20-digit entries of `dir`; other entries are ignored.
fn numbers_in(dir: &Path) -> io::Result<Vec<u64>> {
    let mut numbers = Vec::new();
    for entry in fs::read_dir(dir)? {
        let file_name = entry?.file_name();
        let Some(name) = file_name.to_str() else {
            continue;
        };
        if name.len() == 20
            && name.bytes().all(|byte| byte.is_ascii_digit())
            && let Ok(number) = name.parse()
        {
            numbers.push(number);
        }
    }
    Ok(numbers)
}

fn number_name(number: u64) -> String {
    format!("{number:020}")
}

fn path_exists(path: &Path) -> io::Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

/// Syncs a directory so that a new entry in it survives a crash. Best effort: not every host
/// lets a directory be opened or synced, and the entry is complete either way.
fn sync_dir(dir: &Path) {
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}

fn is_identifier(identifier: &str) -> bool {
    (1..=64).contains(&identifier.len())
        && identifier.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
}

/// Whether `byte` stands for itself in a key name (if not the leading byte, for `.`).
fn is_plain(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'_' | b'-' | b'.')
}

/// The file name for `key`; see the module docs.
fn key_name(key: &str) -> Result<String, Error> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    if key.is_empty() {
        return Ok("%".to_owned());
    }
    let mut name = String::with_capacity(key.len());
    for (index, byte) in key.bytes().enumerate() {
        if is_plain(byte) && !(index == 0 && byte == b'.') {
            name.push(char::from(byte));
        } else {
            name.push('%');
            name.push(char::from(HEX[usize::from(byte >> 4)]));
            name.push(char::from(HEX[usize::from(byte & 0xF)]));
        }
    }
    if name.len() > NAME_BYTES_MAX {
        return Err(Error::KeyTooLong { name_bytes: name.len() });
    }
    Ok(name)
}

/// The key whose file name is `name`, or `None` if `name` is not one [`key_name`] makes.
fn key_from_name(name: &str) -> Option<String> {
    if name == "%" {
        return Some(String::new());
    }
    let mut bytes = Vec::with_capacity(name.len());
    let mut rest = name.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let digits = tail.get(..2)?;
            let digits = std::str::from_utf8(digits).ok()?;
            bytes.push(u8::from_str_radix(digits, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    let key = String::from_utf8(bytes).ok()?;
    // Only the canonical spelling counts, so that every key has exactly one directory.
    (key_name(&key).ok()?.as_str() == name).then_some(key)
}

fn parse_integer(bytes: &[u8]) -> Option<i64> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

fn io_error(op: &'static str, key: &str, source: io::Error) -> Error {
    Error::Io { op, key: Some(key.to_owned()), source }
}

fn contended() -> io::Error {
    io::Error::other(format!("gave up after losing {ATTEMPTS_MAX} races to concurrent writers"))
}

#[cfg(test)]
mod tests;

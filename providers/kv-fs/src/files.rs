//! The key-value store as plain files: a directory per bucket, a directory per key, a file per version.
//!
//! Every request runs in a fresh instance and many run at once, so the files are the only state,
//! and every write is a compare-and-swap that publishes a complete new version or nothing.
//! It uses only what `wasi:filesystem` offers everywhere: `hard_link`, which fails if the
//! target exists, and `rename`, which fails if the target is a directory that is not empty.
//!
//! # Layout
//!
//! ```text
//! <root>/<bucket>/              a bucket; its identifier matches [A-Za-z0-9_-]{1,64}
//!   .tmp/<16 hex digits>        files being written, directories being built or deleted
//!   <key name>/                 a key that has a value; it goes when the key is deleted
//!     <incarnation>-<epoch>/    versions 16*epoch ..= 16*epoch+15 (epoch 0: 1 ..= 15)
//!       <version>               one version: byte 1, then the value
//!       next/                   the slot that becomes directory <incarnation>-<epoch+1>
//! ```
//!
//! The incarnation is 16 hex digits drawn at random when the key directory is made; epochs and
//! versions are 20 decimal digits. A key name is the key with every byte outside `[a-z0-9_.-]`,
//! and a leading `.`, written as `%XX` (the empty key is `%`), so names are reversible and stay
//! distinct on case-insensitive filesystems. A key has a value exactly when its directory exists,
//! so listing keys reads one directory; the value is the highest version in the highest epoch
//! that has one. The bucket directory is made by the first write, not by opening the bucket.
//!
//! # Writing
//!
//! A key is created by building its directory in `.tmp`, with a new incarnation, its epoch 0 and
//! version 1 inside, and renaming it into place; the rename fails if the key exists. To publish
//! version n+1 over version n, a writer writes the whole file under `.tmp`, syncs it, and
//! hard-links it into place; the link fails if n+1 exists. Either way exactly one writer wins and
//! the others' compare-and-swap fails. A key is deleted by renaming its directory into `.tmp`,
//! then removing it there.
//!
//! Version files are synced before they are published; the bucket directory, which names the
//! keys, is synced once for many: a key created by `set` is synced into it before any later
//! version is published over an existing key or by a compare-and-swap in the same instance, or
//! else when the bucket is dropped. So a write of many new keys (the pages of a big document)
//! syncs the directory once, and a value that names keys written before it (a root record
//! swapped after its pages) never lasts a power cut that they do not. A delete is not synced by
//! itself either: a power cut may bring back a key deleted just before (JSONStore deletes only
//! records no root reaches, which it sweeps again). A crash leaves strays in `.tmp`; one delete
//! (or epoch retirement) in 100 removes those older than ten minutes, so an operation stalled
//! that long may fail.
//!
//! That is only a compare-and-swap if a version name, once taken, can never be taken again by a
//! writer that read an older version and then slept through newer ones. So no single version file
//! is ever removed. Old versions go an epoch at a time: once epoch e+2 exists, epoch e is renamed
//! into `.tmp` (after which links into it fail) and deleted, oldest first. And an epoch directory
//! is never created by name, which a sleeper could do after it was deleted: epoch e+1 is the
//! `next` slot of epoch e moved into place, which only works while epoch e (and so every later
//! epoch) still exists, and a key directory arrives with its first epoch inside.
//!
//! Deleting a key takes all its names away at once, in one rename, and a key created again gets
//! a new incarnation, so those names never come back. Every path a writer uses goes through a
//! directory named after the incarnation it read, a name that exists only in that incarnation's
//! key directory. Even the rename that opens an epoch, whose two paths the host resolves one
//! after the other, names its target through the previous epoch (`<key>/<i>-<e>/../<i>-<e+1>`),
//! so both land in the same incarnation even if the key is deleted and created again in between
//! (hosts resolve `..` from the directory reached, as Linux and wasmtime do, not by editing the
//! path). A stale writer thus finds its version taken, its epoch gone or its incarnation gone,
//! and fails. A handle that read no value creates the key, which works exactly when the key has
//! no value at that moment: absence has no versions, so a key created and deleted in between
//! goes unnoticed.
//!
//! # Reading
//!
//! A reader lists the key directory (again if the host reports an entry as not found while it
//! is read, as wasmtime does for an epoch retired meanwhile), then finds the newest version of
//! the newest epoch without listing it: an epoch's versions run without a gap from its first,
//! so it opens version files
//! by name in a binary search, starting at version 2 in epoch 0 since most keys are written
//! once. A missing file may only mean that its epoch went, so a miss counts only once a later
//! open in the same or an older epoch has succeeded (epochs go oldest first and never come
//! back): the reader ends by opening the version it returns, and starts over if that fails.
//!
//! # Cost
//!
//! Every `wasi:filesystem` call is a host call. Under wasmtime, not counting resource drops:
//! listing a directory of n entries takes 4 + 2n calls (wasi-libc hashes every entry), opening a
//! file or failing to 1, reading a small one 3 more, writing and syncing one 7, syncing a
//! directory 2.
//!
//! | operation                   | calls | made of                                                 |
//! |-----------------------------|-------|---------------------------------------------------------|
//! | open                        | 0     |                                                         |
//! | get, absent                 | 1     | list the key directory (it is missing)                  |
//! | get, key written once       | 11    | list (6), open versions 2 (missing) and 1, read (3)     |
//! | get, key at version 24      | 15    | list two epochs (8), 4 opens, read (3)                  |
//! | exists                      | 2     | stat the key directory                                  |
//! | set, new key                | 11    | list (1), 2 mkdir, write version 1 (7), rename; the bucket's sync (2) comes later |
//! | set, key at version 24      | 23    | as get without the read, write (7), link, sync epoch (2), unlink |
//! | swap                        | 11    | write (7), link, sync epoch (2), unlink; sync bucket first (2) after new keys |
//! | swap, key was absent        | 12    | as set of a new key, without the list, then sync bucket (2) |
//! | delete, key written once    | 11    | rename, list (6), 2 unlink, 2 rmdir                     |
//! | delete, absent              | 3     | rename, mkdir `.tmp` (it exists), rename                |
//! | list-keys                   | 4+2n  | list the bucket directory                               |
//!
//! Every 16th version also opens an epoch (4 calls) and retires one (about 30).

use jsonstore_provider_common::is_bucket_identifier;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// One bucket: a directory of keys. Cheap to clone; it holds no open files.
///
/// Clones share the note of keys created but not yet synced into the directory: one sync, before
/// the next compare-and-swap or when the last clone is dropped, covers the keys of every clone.
#[derive(Clone, Debug)]
pub struct Bucket {
    dir: PathBuf,
    random: fn() -> u64,
    unsynced: Arc<Unsynced>,
}

/// Whether keys were created in a bucket directory that has not been synced since.
///
/// A key made by `set` is not synced into the bucket directory at once: one sync covers every
/// key created before it, so a write of many new keys syncs the directory once. The sync comes
/// before the next version is published over an existing key (a compare-and-swap, which may
/// refer to the new keys), or else when the last clone of the bucket is dropped.
#[derive(Debug)]
struct Unsynced {
    dir: PathBuf,
    pending: AtomicBool,
}

/// A compare-and-swap in progress: the version of a key it read and that version's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cas {
    key: String,
    name: String,
    head: Option<Head>,
    value: Option<Vec<u8>>,
}

/// A version of a key: which incarnation of the key, and which version in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Head {
    incarnation: u64,
    version: u64,
}

/// The outcome of [`Bucket::swap`].
pub type Swap = jsonstore_provider_common::Swap<Cas>;

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

/// What one look at a key found.
enum Look {
    Absent,
    /// The current version, and its value if it was asked for (else empty).
    Found(Head, Vec<u8>),
    /// Something moved while the reader looked: look again.
    Raced,
}

impl Bucket {
    /// Opens the bucket `identifier` under `root`. It touches no file: the first write makes the
    /// bucket's directory.
    ///
    /// `random` names temporary files and incarnations; it must not repeat across concurrent instances.
    pub fn open(root: &Path, identifier: &str, random: fn() -> u64) -> Result<Bucket, Error> {
        if !is_bucket_identifier(identifier) {
            return Err(Error::NoSuchStore);
        }
        let dir = root.join(identifier);
        let unsynced = Arc::new(Unsynced { dir: dir.clone(), pending: AtomicBool::new(false) });
        Ok(Bucket { dir, random, unsynced })
    }

    /// Returns the value of `key`, or `None` if it is absent.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let name = key_name(key)?;
        let current = self.read(&name, true).map_err(|source| io_error("get", key, source))?;
        Ok(current.map(|(_, value)| value))
    }

    /// Returns whether `key` has a value.
    pub fn exists(&self, key: &str) -> Result<bool, Error> {
        let name = key_name(key)?;
        path_exists(&self.dir.join(name)).map_err(|source| io_error("exists", key, source))
    }

    /// Makes `value` the value of `key`, whatever it was.
    pub fn set(&self, key: &str, value: &[u8]) -> Result<(), Error> {
        let name = key_name(key)?;
        let mut staged = None;
        self.retry("set", key, || {
            let head = self.read(&name, false)?.map(|(head, _)| head);
            self.publish(&name, head, value, &mut staged, KeySync::Deferred)
        })
    }

    /// Deletes `key` and its directory; does nothing if it has no value.
    pub fn delete(&self, key: &str) -> Result<(), Error> {
        let key_dir = self.dir.join(key_name(key)?);
        match self.in_temp(|id, trash| fs::rename(&key_dir, trash).map(|()| (id, trash.to_owned()))) {
            Ok((id, trash)) => {
                remove_key_dir(&trash);
                if id.is_multiple_of(SWEEP_ODDS) {
                    self.sweep();
                }
                Ok(())
            }
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(()),
            Err(source) => Err(io_error("delete", key, source)),
        }
    }

    /// Returns every key that has a value, sorted. There is no paging: the list is complete.
    pub fn list(&self) -> Result<Vec<String>, Error> {
        // A key deleted while it is listed can make the host report its entry as not found;
        // listing again does not see it any more.
        let mut tries = 0;
        loop {
            match self.list_once() {
                Err(error) if error.kind() == ErrorKind::NotFound && tries < LIST_TRIES_MAX => tries += 1,
                outcome => return outcome.map_err(|source| Error::Io { op: "list-keys", key: None, source }),
            }
        }
    }

    fn list_once(&self) -> io::Result<Vec<String>> {
        let entries = match fs::read_dir(&self.dir) {
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            result => result?,
        };
        let mut keys = Vec::new();
        for entry in entries {
            let entry = entry?;
            if entry.file_type()?.is_dir()
                && let Some(key) = entry.file_name().to_str().and_then(key_from_name)
            {
                keys.push(key);
            }
        }
        keys.sort_unstable();
        Ok(keys)
    }

    /// Reads the current version of `key` into a handle for [`Bucket::swap`].
    pub fn begin_cas(&self, key: &str) -> Result<Cas, Error> {
        let name = key_name(key)?;
        let current = self.read(&name, true).map_err(|source| io_error("cas", key, source))?;
        let (head, value) = current.map_or((None, None), |(head, value)| (Some(head), Some(value)));
        Ok(Cas { key: key.to_owned(), name, head, value })
    }

    /// Makes `value` the value of the handle's key if no one has written it since the handle read it.
    ///
    /// If the handle read no value, it succeeds if the key has none now (see the module docs).
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
            .publish(&cas.name, cas.head, value, &mut None, KeySync::Now)
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

    /// Returns the current version of the key named `name` and, if `whole`, its value (else
    /// empty), or `None` if it has no value.
    ///
    /// Without `whole`, the version may be out of date (it is not confirmed by an open, see the
    /// module docs), which only makes the link that follows fail.
    fn read(&self, name: &str, whole: bool) -> io::Result<Option<(Head, Vec<u8>)>> {
        for _ in 0..ATTEMPTS_MAX {
            match self.look(name, whole)? {
                Look::Absent => return Ok(None),
                Look::Found(head, value) => return Ok(Some((head, value))),
                Look::Raced => {}
            }
        }
        Err(contended())
    }

    fn look(&self, name: &str, whole: bool) -> io::Result<Look> {
        let key_dir = self.dir.join(name);
        let (incarnation, epochs) = match epochs_in(&key_dir) {
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(Look::Absent),
            result => result?,
        };
        for epoch in epochs {
            let epoch_dir = key_dir.join(epoch_name(incarnation, epoch));
            // A new epoch is empty until its first version is linked in.
            let Some((version, opened)) = newest_in(&epoch_dir, epoch)? else {
                continue;
            };
            if !whole {
                return Ok(Look::Found(Head { incarnation, version }, Vec::new()));
            }
            let file = match opened {
                Some(file) => file,
                // The last file opened was not this version's, so open it to confirm the misses.
                None => match File::open(epoch_dir.join(number_name(version))) {
                    Err(error) if error.kind() == ErrorKind::NotFound => return Ok(Look::Raced),
                    result => result?,
                },
            };
            let value = read_value(file).map_err(|error| in_file(error, &epoch_dir, version))?;
            return Ok(Look::Found(Head { incarnation, version }, value));
        }
        // The key directory is being deleted, or its epochs were all retired while we looked.
        Ok(Look::Raced)
    }

    /// Tries to make `value` the version after `head`, or, without a `head`, version 1 of a new
    /// incarnation. Returns false if another writer got there first.
    ///
    /// `staged` keeps the file written for `value` from one attempt to the next. Keys created
    /// before are synced into the bucket directory first, unless `sync` defers the creation of
    /// this one (see [`Unsynced`]).
    fn publish(
        &self,
        name: &str,
        head: Option<Head>,
        value: &[u8],
        staged: &mut Option<Staged>,
        sync: KeySync,
    ) -> io::Result<bool> {
        let Some(Head { incarnation, version }) = head else {
            return self.create(name, value, staged, sync);
        };
        let version = version.checked_add(1).ok_or_else(|| io::Error::other("version number overflow"))?;
        let staged = match staged {
            Some(staged) => staged,
            None => staged.insert(self.stage(value)?),
        };
        let key_dir = self.dir.join(name);
        let epoch = version / EPOCH_VERSIONS;
        let opens_epoch = version.is_multiple_of(EPOCH_VERSIONS);
        if opens_epoch {
            open_epoch(&key_dir, incarnation, epoch)?;
        }
        let epoch_dir = key_dir.join(epoch_name(incarnation, epoch));
        // The new version may name keys created just before: they must last if it does.
        self.unsynced.sync();
        match fs::hard_link(&staged.file, epoch_dir.join(number_name(version))) {
            Ok(()) => {
                sync_dir(&epoch_dir);
                if opens_epoch {
                    self.retire(&key_dir, incarnation, epoch);
                }
                Ok(true)
            }
            // The version is taken, or its epoch or incarnation is gone.
            Err(error) if matches!(error.kind(), ErrorKind::AlreadyExists | ErrorKind::NotFound) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Creates the key named `name` with `value` as version 1 of a new incarnation, unless the
    /// key exists: builds its directory in `.tmp` and renames it into place.
    fn create(&self, name: &str, value: &[u8], staged: &mut Option<Staged>, sync: KeySync) -> io::Result<bool> {
        let (incarnation, dir) = self.in_temp(|id, dir| fs::create_dir(dir).map(|()| (id, dir.to_owned())))?;
        let epoch_dir = dir.join(epoch_name(incarnation, 0));
        let built = Staged { file: epoch_dir.join(number_name(1)), dirs: vec![epoch_dir.clone(), dir.clone()] };
        fs::create_dir(&epoch_dir)?;
        match staged {
            Some(staged) => fs::hard_link(&staged.file, &built.file)?,
            None => write_version(&built.file, value)?,
        }
        let key_dir = self.dir.join(name);
        if sync == KeySync::Now {
            self.unsynced.sync();
        }
        match fs::rename(&dir, &key_dir) {
            Ok(()) => {
                built.published();
                match sync {
                    KeySync::Now => sync_dir(&self.dir),
                    KeySync::Deferred => self.unsynced.pending.store(true, Ordering::Release),
                }
                Ok(true)
            }
            Err(error) => {
                if !is_taken(&error) && !path_exists(&key_dir)? {
                    return Err(error);
                }
                // The key exists: keep what was written for linking it into place instead.
                if staged.is_none() {
                    *staged = Some(built);
                }
                Ok(false)
            }
        }
    }

    /// Writes `value` to a new temporary file and syncs it.
    fn stage(&self, value: &[u8]) -> io::Result<Staged> {
        let file = self.in_temp(|_, path| write_version(path, value).map(|()| path.to_owned()))?;
        Ok(Staged { file, dirs: Vec::new() })
    }

    /// Deletes the epochs of the key in `key_dir` older than `newest - 1`, oldest first.
    /// Best effort: leftovers are deleted by the next writer that opens an epoch.
    fn retire(&self, key_dir: &Path, incarnation: u64, newest: u64) {
        let Ok((_, mut epochs)) = epochs_in(key_dir) else {
            return;
        };
        epochs.retain(|&epoch| epoch.saturating_add(1) < newest);
        epochs.sort_unstable();
        for epoch in epochs {
            let from = key_dir.join(epoch_name(incarnation, epoch));
            match self.in_temp(|id, trash| fs::rename(&from, trash).map(|()| (id, trash.to_owned()))) {
                Ok((id, trash)) => {
                    remove_epoch(&trash, epoch);
                    if id.is_multiple_of(SWEEP_ODDS) {
                        self.sweep();
                    }
                }
                Err(error) if error.kind() == ErrorKind::NotFound => {}
                // A later epoch must never go while an earlier one stays (see the module docs).
                Err(_) => return,
            }
        }
    }

    /// Removes what was left in `.tmp` more than [`STRAY_AGE`] ago. Best effort.
    fn sweep(&self) {
        let Ok(entries) = fs::read_dir(self.dir.join(TEMP_DIR)) else {
            return;
        };
        let Some(cutoff) = SystemTime::now().checked_sub(STRAY_AGE) else {
            return;
        };
        for entry in entries.flatten() {
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            if metadata.modified().is_ok_and(|modified| modified < cutoff) {
                let path = entry.path();
                let _ = if metadata.is_dir() { fs::remove_dir_all(path) } else { fs::remove_file(path) };
            }
        }
    }

    /// Runs `op` with a random number and a path in `.tmp` named after it; if something was
    /// missing, makes sure that `.tmp` (and the bucket) exists and runs `op` once more.
    fn in_temp<T>(&self, mut op: impl FnMut(u64, &Path) -> io::Result<T>) -> io::Result<T> {
        let id = (self.random)();
        let temp = self.dir.join(TEMP_DIR);
        let path = temp.join(format!("{id:016x}"));
        match op(id, &path) {
            Err(error) if error.kind() == ErrorKind::NotFound => {
                // Even if `.tmp` exists now, another writer may have just made it.
                match fs::create_dir(&temp) {
                    Err(error) if error.kind() == ErrorKind::NotFound => fs::create_dir_all(&temp)?,
                    Err(error) if error.kind() != ErrorKind::AlreadyExists => return Err(error),
                    _ => {}
                }
                op(id, &path)
            }
            result => result,
        }
    }
}

/// When a new key is synced into the bucket directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeySync {
    /// At once: the write is a compare-and-swap.
    Now,
    /// With the next sync of the bucket directory (see [`Unsynced`]).
    Deferred,
}

impl Unsynced {
    /// Syncs the bucket directory if keys were created in it since it was last synced.
    fn sync(&self) {
        if self.pending.swap(false, Ordering::AcqRel) {
            sync_dir(&self.dir);
        }
    }
}

impl Drop for Unsynced {
    fn drop(&mut self) {
        self.sync();
    }
}

/// A complete version file in `.tmp` (and the directories built around it), removed when
/// dropped: once it is linked into place that name lives on, and a file left behind by a crash
/// wastes space but changes nothing.
struct Staged {
    file: PathBuf,
    /// Directories to remove after the file, innermost first.
    dirs: Vec<PathBuf>,
}

impl Staged {
    /// Forgets the file and directories: they were renamed into place.
    fn published(mut self) {
        self.file = PathBuf::new();
        self.dirs.clear();
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.file.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.file);
        }
        for dir in &self.dirs {
            let _ = fs::remove_dir(dir);
        }
    }
}

impl Cas {
    /// The key this handle is for.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The version the handle read, counted within the key's current incarnation; 0 if the key
    /// had no value.
    pub fn version(&self) -> u64 {
        self.head.map_or(0, |head| head.version)
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
            Error::Io { op, key: Some(key), source } => write!(f, "{op} {key:?}: {source}"),
            Error::Io { op, key: None, source } => write!(f, "{op}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
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

/// How many times a listing starts again when keys vanish while it reads the directory.
const LIST_TRIES_MAX: u32 = 10;

/// The highest epoch whose versions all fit in a `u64`.
const EPOCH_MAX: u64 = u64::MAX / EPOCH_VERSIONS - 1;

/// The longest file name common filesystems allow.
const NAME_BYTES_MAX: usize = 255;

/// How many races an operation may lose in a row before it gives up.
const ATTEMPTS_MAX: usize = 1000;

/// One delete (or retired epoch) in this many sweeps `.tmp`.
const SWEEP_ODDS: u64 = 100;

/// How old a leftover in `.tmp` must be before a sweep removes it.
const STRAY_AGE: Duration = Duration::from_secs(10 * 60);

const TEMP_DIR: &str = ".tmp";
const SLOT: &str = "next";
const PRESENT: u8 = 1;

/// Moves the `next` slot of epoch `epoch - 1` into place as epoch `epoch`, unless that was done.
///
/// If epoch `epoch - 1` is gone, nothing happens and the link that follows fails.
fn open_epoch(key_dir: &Path, incarnation: u64, epoch: u64) -> io::Result<()> {
    let previous = key_dir.join(epoch_name(incarnation, epoch - 1));
    let slot = previous.join(SLOT);
    // Named through the previous epoch, so that it is in that epoch's key directory even if the
    // key was deleted and created again since `previous` was resolved (see the module docs).
    let target = previous.join("..").join(epoch_name(incarnation, epoch));
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
        Err(error) if error.kind() == ErrorKind::NotFound || is_taken(&error) || path_exists(&target)? => Ok(()),
        Err(error) => Err(error),
    }
}

/// Whether `error` says that a rename's target exists (and is a directory that is not empty).
fn is_taken(error: &io::Error) -> bool {
    /// `ENOTEMPTY` in wasi-libc, which std does not know as `DirectoryNotEmpty`.
    const WASI_NOT_EMPTY: i32 = 55;
    matches!(error.kind(), ErrorKind::AlreadyExists | ErrorKind::DirectoryNotEmpty)
        || (cfg!(target_os = "wasi") && error.raw_os_error() == Some(WASI_NOT_EMPTY))
}

/// The incarnation of the key in `key_dir` and its epochs, newest first (none if the directory
/// is being deleted). Other entries are ignored, unless there is no epoch. `NotFound` means
/// that the key directory is missing, nothing else.
fn epochs_in(key_dir: &Path) -> io::Result<(u64, Vec<u64>)> {
    for _ in 0..LIST_TRIES_MAX {
        if let Some(listed) = epochs_listed(key_dir)? {
            return Ok(listed);
        }
    }
    Err(io::Error::other(format!("{}: epochs kept vanishing while it was read", key_dir.display())))
}

/// One reading of `key_dir` for [`epochs_in`]: `None` if an entry vanished while it was read.
/// An epoch retired meanwhile can make the host report its entry as not found (wasmtime does),
/// which says nothing of the key: read the directory again.
fn epochs_listed(key_dir: &Path) -> io::Result<Option<(u64, Vec<u64>)>> {
    let mut incarnation = None;
    let mut epochs = Vec::new();
    let mut others = 0;
    for entry in fs::read_dir(key_dir)? {
        let file_name = match entry {
            Ok(entry) => entry.file_name(),
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        let Some((found, epoch)) = file_name.to_str().and_then(parse_epoch_name) else {
            others += 1;
            continue;
        };
        if *incarnation.get_or_insert(found) != found {
            return Err(not_a_key_dir(key_dir, "two incarnations"));
        }
        epochs.push(epoch);
    }
    if epochs.is_empty() && others > 0 {
        return Err(not_a_key_dir(key_dir, "no epoch"));
    }
    epochs.sort_unstable_by(|a, b| b.cmp(a));
    Ok(Some((incarnation.unwrap_or_default(), epochs)))
}

fn not_a_key_dir(dir: &Path, why: &str) -> io::Error {
    let message = format!("{} is not a key directory of this layout: {why}", dir.display());
    io::Error::new(ErrorKind::InvalidData, message)
}

/// Finds the newest version in the epoch directory `dir` by opening version files by name (see
/// the module docs): `None` if it has none (or is gone). With the version comes the open file if
/// the last file opened was that one.
fn newest_in(dir: &Path, epoch: u64) -> io::Result<Option<(u64, Option<File>)>> {
    let first = first_version(epoch);
    // Versions up to `below` are present, versions from `above` are not.
    let (mut below, mut above) = (first - 1, epoch * EPOCH_VERSIONS + EPOCH_VERSIONS);
    let mut probe = if epoch == 0 { first + 1 } else { below + (above - below) / 2 };
    let mut opened = None;
    while above - below > 1 {
        match File::open(dir.join(number_name(probe))) {
            Ok(file) => {
                below = probe;
                opened = Some(file);
            }
            Err(error) if error.kind() == ErrorKind::NotFound => {
                above = probe;
                opened = None;
            }
            Err(error) => return Err(error),
        }
        probe = below + (above - below) / 2;
    }
    Ok((below >= first).then_some((below, opened)))
}

/// Removes a key directory that was moved into `.tmp`: each epoch, then the directory. Best effort.
fn remove_key_dir(dir: &Path) {
    if let Ok((incarnation, epochs)) = epochs_in(dir) {
        for epoch in epochs {
            remove_epoch(&dir.join(epoch_name(incarnation, epoch)), epoch);
        }
    }
    if fs::remove_dir(dir).is_err() {
        let _ = fs::remove_dir_all(dir);
    }
}

/// Removes an epoch directory that was moved into `.tmp`: its versions, which run from the
/// epoch's first, then the directory. Best effort.
fn remove_epoch(dir: &Path, epoch: u64) {
    for version in first_version(epoch)..epoch * EPOCH_VERSIONS + EPOCH_VERSIONS {
        if fs::remove_file(dir.join(number_name(version))).is_err() {
            break;
        }
    }
    // It may also hold a slot, or versions linked in by writers that were late.
    if fs::remove_dir(dir).is_err() {
        let _ = fs::remove_dir_all(dir);
    }
}

/// Writes a version file at `path`, which must not exist: byte 1, then `value`. Synced.
fn write_version(path: &Path, value: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    // One write: each costs several calls.
    let mut bytes = Vec::with_capacity(value.len() + 1);
    bytes.push(PRESENT);
    bytes.extend_from_slice(value);
    let written = file.write_all(&bytes).and_then(|()| file.sync_all());
    if written.is_err() {
        let _ = fs::remove_file(path);
    }
    written
}

/// Reads the value out of a version file.
fn read_value(mut file: File) -> io::Result<Vec<u8>> {
    // Not `read_to_end`, which first asks for the file's size: two more calls.
    let mut bytes = vec![0; 16 * 1024];
    let mut len = 0;
    loop {
        if len == bytes.len() {
            bytes.resize(2 * len, 0);
        }
        match file.read(&mut bytes[len..]) {
            Ok(0) => break,
            Ok(read) => len += read,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    bytes.truncate(len);
    match bytes.first() {
        Some(&PRESENT) => {
            bytes.remove(0);
            Ok(bytes)
        }
        Some(_) => Err(io::Error::new(ErrorKind::InvalidData, "bad version file")),
        None => Err(io::Error::new(ErrorKind::InvalidData, "empty version file")),
    }
}

fn in_file(error: io::Error, epoch_dir: &Path, version: u64) -> io::Error {
    let path = epoch_dir.join(number_name(version));
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

/// The first version of `epoch`: version 0 means "no version", so epoch 0 starts at 1.
fn first_version(epoch: u64) -> u64 {
    (epoch * EPOCH_VERSIONS).max(1)
}

fn number_name(number: u64) -> String {
    format!("{number:020}")
}

fn epoch_name(incarnation: u64, epoch: u64) -> String {
    format!("{incarnation:016x}-{epoch:020}")
}

/// The incarnation and epoch named by `name`, if [`epoch_name`] makes it.
fn parse_epoch_name(name: &str) -> Option<(u64, u64)> {
    let (incarnation, epoch) = name.split_once('-')?;
    let is_hex = |byte: u8| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte);
    if incarnation.len() != 16 || !incarnation.bytes().all(is_hex) {
        return None;
    }
    if epoch.len() != 20 || !epoch.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let epoch = epoch.parse().ok().filter(|&epoch| epoch <= EPOCH_MAX)?;
    Some((u64::from_str_radix(incarnation, 16).ok()?, epoch))
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

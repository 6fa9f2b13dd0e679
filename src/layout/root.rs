//! The root record in the store: reading it, and electing the one writer that creates the
//! first one.
//!
//! Some hosts do not compare-and-swap a missing key (they write it blindly), so the first root
//! record is never committed by a swap: an election, from an atomic counter, picks one writer
//! to write it, and every writer then commits by swapping it.

use super::Error;
use crate::core::record::{self, RootRecord, root};
use crate::store::Store;

/// The key of the root record.
pub const ROOT_KEY: &str = "jsonstore.root";

/// The counter that elects the writer who creates the first root record.
pub const INIT_KEY: &str = "jsonstore.init";

/// How many tickets an election of the writer of the first root record spans: if the elected
/// writer dies before it writes the record, the one that draws this many tickets later does.
const INIT_ROUND_TICKETS: i64 = 1000;

/// How many times the elected writer tries to write the first root record.
const INIT_TRIES: u32 = 3;

/// Decodes the root record's bytes as the store returned them (none: a new store).
pub fn decode(bytes: Option<&[u8]>) -> Result<RootRecord, Error> {
    match json(bytes)? {
        None => Ok(RootRecord::empty()),
        Some(json) => record::decode::root_record(json).map_err(invalid),
    }
}

/// The JSON of the root record's bytes, without the format byte, if there is a record.
pub fn json(bytes: Option<&[u8]>) -> Result<Option<&[u8]>, Error> {
    root::json(bytes).map_err(Error::Corrupt)
}

/// The error for a root record that does not decode.
pub fn invalid(error: impl std::fmt::Display) -> Error {
    Error::Corrupt(format!("the root record is not valid: {error}"))
}

/// Creates the empty root record of a new store, exactly once however many writers try:
/// the writer that draws ticket 1 from [`INIT_KEY`] writes it (and, should that writer die
/// before it does, the one that draws ticket 1001, and so on: every attempt to write to a
/// store without a root draws a ticket). The elected writer tries a failed step again
/// rather than leave the store to the next election.
pub fn initialise<S: Store>(store: &S) -> Result<(), Error> {
    let ticket = store.increment(INIT_KEY, 1)?;
    if ticket % INIT_ROUND_TICKETS != 1 {
        return Ok(());
    }
    let create = || match store.get(ROOT_KEY)? {
        Some(_) => Ok(()),
        None => store.set(ROOT_KEY, &RootRecord::empty().encode()),
    };
    let mut tries = 1;
    loop {
        match create() {
            Err(_) if tries < INIT_TRIES => tries += 1,
            outcome => return Ok(outcome?),
        }
    }
}

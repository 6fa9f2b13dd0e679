//! The write protocol: one loop that runs a transaction's body until it commits, and alone
//! decides what is tried again.
//!
//! A write reads the root, applies its body to new pages, and swaps the root with
//! compare-and-swap; if another writer swapped first, it starts again. That alone keeps every
//! write safe. Around it:
//!
//! - A store without a root record first elects the writer that creates one
//!   ([`root::initialise`]).
//! - Under contention, every writer but one does its work for nothing, and more so the longer
//!   a write takes. So a writer that loses once, or that had to wait for another, claims a
//!   lease in the root record (a commit that changes only the lease); while the lease lasts,
//!   other writers wait for it instead of starting work that is bound to lose. The holder's
//!   commit ends the lease, and a holder that dies holds it for [`LEASE_MILLIS`] at most. A
//!   write with no contention costs nothing more: it never claims the lease.
//! - A host that reports a conflict for a swap that happened is caught by [`Txn::commit`].
//! - A write over the key budget sweeps what failed writers left, once, and tries again.
//!
//! The body returns typed errors ([`OpError`]); the loop retries only the layout's own
//! (a stale read, a lost swap, a full store swept once), and hands every other one back.

use super::gc::{self, Garbage};
use super::ops::OpError;
use super::root;
use super::txn::Txn;
use super::{Error, LayoutConfig, Lease};
use crate::store::{Store, Swap};

/// How many times a write is tried when other writers keep committing first.
pub const WRITE_ATTEMPTS_MAX: u32 = 200;

/// How many times a read starts again when writers replace what it is reading.
pub const READ_ATTEMPTS_MAX: u32 = 20;

/// How long a write lease lasts, in milliseconds: longer than almost every write, and short
/// enough that the others do not wait long for a holder that died.
pub const LEASE_MILLIS: u64 = 2_000;

/// How long a write waits for other writers' leases, in all, before it gives up.
pub const WAIT_MILLIS_MAX: u64 = 30_000;

/// What the protocol needs from its host: the wall clock, randomness and sleep. The policies
/// built on them (back-off, lease lengths) are here, beside the protocol they serve.
pub trait Host {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> u64;
    /// Random bytes.
    fn random_bytes(&self) -> [u8; 9];
    /// Blocks for `micros` microseconds.
    fn sleep_micros(&self, micros: u64);
}

/// Runs `read` until it reads a consistent snapshot: a read that finds a record replaced by
/// a newer root starts again.
pub fn read_consistent<T>(host: &impl Host, mut read: impl FnMut() -> Result<T, Error>) -> Result<T, Error> {
    let mut tries = 1;
    loop {
        match read() {
            Err(Error::Stale(_)) if tries < READ_ATTEMPTS_MAX => back_off(host, tries),
            outcome => return outcome,
        }
        tries += 1;
    }
}

/// Runs `body` in a transaction on the stored document and commits it, retrying as the module
/// docs say. Returns the body's outcome, or why the write failed, and the garbage of every
/// attempt, to collect once the client has its answer.
pub fn transact<S: Store, T>(
    store: &S,
    config: LayoutConfig,
    host: &impl Host,
    body: impl FnMut(&mut Txn<'_, S>) -> Result<T, OpError>,
) -> (Result<T, OpError>, Garbage) {
    let mut garbage = Garbage::default();
    let outcome = Writer { store, config, host, holder: random(host) }.run(body, &mut garbage);
    (outcome, garbage)
}

/// One write request's run of the protocol.
struct Writer<'a, S, H> {
    store: &'a S,
    config: LayoutConfig,
    host: &'a H,
    /// This write's lease holder number.
    holder: u64,
}

impl<S: Store, H: Host> Writer<'_, S, H> {
    fn run<T>(
        &self,
        mut body: impl FnMut(&mut Txn<'_, S>) -> Result<T, OpError>,
        garbage: &mut Garbage,
    ) -> Result<T, OpError> {
        let mut swept = false;
        let started = self.host.now_millis();
        let (mut attempt, mut waits, mut electing) = (0, 0, 0);
        // The lease last seen held, and how many polls have found it unchanged since.
        let (mut seen, mut stalled) = (None, 0);
        while attempt < WRITE_ATTEMPTS_MAX {
            let mut txn = self.begin()?;
            if !txn.had_record() {
                drop(txn);
                root::initialise(self.store)?;
                attempt += 1;
                electing += 1;
                back_off(self.host, attempt);
                continue;
            }
            if self.held_by_another(txn.lease()) {
                let lease = txn.lease();
                drop(txn);
                if self.host.now_millis().saturating_sub(started) > WAIT_MILLIS_MAX {
                    break;
                }
                waits += 1;
                if lease != seen {
                    (seen, stalled) = (lease, 0);
                }
                stalled += 1;
                back_off(self.host, poll_back_off(stalled));
                continue;
            }
            // A writer that had to wait is in a queue: it claims the lease before it starts, so
            // that the others waiting do not start with it.
            if waits > 0 && txn.lease().is_none_or(|lease| lease.holder != self.holder) {
                drop(txn);
                waits = 0;
                if !self.claim(garbage)? {
                    back_off(self.host, 3);
                }
                continue;
            }
            attempt += 1;
            match body(&mut txn).and_then(|outcome| Ok(txn.check_budget().map(|()| outcome)?)) {
                Ok(outcome) => {
                    let (swap, left) = txn.commit()?;
                    garbage.absorb(left);
                    if swap == Swap::Done {
                        return Ok(outcome);
                    }
                    if !self.claim(garbage)? {
                        back_off(self.host, attempt);
                    }
                }
                Err(OpError::Layout(Error::OverBudget { .. })) if !swept => {
                    // Records that failed or crashed writers left count against the budget
                    // too: remove them, then try once more.
                    garbage.absorb(txn.abort());
                    swept = true;
                    std::mem::take(garbage).collect(self.store, self.config);
                    gc::sweep(self.store, self.config)?;
                }
                Err(OpError::Layout(Error::Stale(_))) => {
                    garbage.absorb(txn.abort());
                    back_off(self.host, attempt);
                }
                Err(error) => {
                    garbage.absorb(txn.abort());
                    self.release(garbage);
                    return Err(error);
                }
            }
        }
        self.release(garbage);
        // The writer elected to create the first root record failed before it did: a later
        // election (see `root::initialise`) will.
        let error = if electing == attempt {
            Error::Unelected { attempts: attempt }
        } else {
            Error::Contention { attempts: attempt }
        };
        Err(OpError::Layout(error))
    }

    fn begin(&self) -> Result<Txn<'_, S>, Error> {
        Txn::begin(self.store, self.config, random(self.host))
    }

    /// Whether `lease` is another writer's and has not ended.
    fn held_by_another(&self, lease: Option<Lease>) -> bool {
        lease.is_some_and(|lease| lease.holder != self.holder && lease.until_millis > self.host.now_millis())
    }

    /// Claims the write lease, unless another writer holds it. Returns whether this writer
    /// holds it now.
    fn claim(&self, garbage: &mut Garbage) -> Result<bool, Error> {
        let mut txn = self.begin()?;
        if self.held_by_another(txn.lease()) {
            return Ok(false);
        }
        txn.set_lease(Some(Lease { holder: self.holder, until_millis: self.host.now_millis() + LEASE_MILLIS }));
        let (swap, left) = txn.commit()?;
        garbage.absorb(left);
        Ok(swap == Swap::Done)
    }

    /// Ends this writer's lease, if it still holds one, so that the others need not wait for it
    /// to run out. Best effort: a lease left behind ends by itself.
    fn release(&self, garbage: &mut Garbage) {
        let Ok(txn) = self.begin() else { return };
        if txn.lease().is_some_and(|lease| lease.holder == self.holder)
            && let Ok((_, left)) = txn.commit()
        {
            garbage.absorb(left);
        }
    }
}

/// Waits a random time before attempt `attempt` (1-based) after a conflict: up to 0.5 ms at
/// first, doubling to at most 16 ms, so that writers spread out.
fn back_off(host: &impl Host, attempt: u32) {
    let ceiling_micros = 250u64 << attempt.min(6);
    host.sleep_micros(random(host) % ceiling_micros);
}

/// The back-off step before the `stalled`th look at a lease that has not changed hands: short
/// at first, because a write takes one to a few milliseconds and the sooner a waiter sees the
/// lease end, the sooner it writes (polling every 4-16 ms cut the rate of 16 concurrent
/// writers by a third, BENCHMARKS.md); then longer, so that writers waiting behind a long
/// write (a big document) do not spend the CPU it needs reading the root record a thousand
/// times a second.
fn poll_back_off(stalled: u32) -> u32 {
    // Ceilings of 0.5 ms for the first 8 looks, then 1, 2, 4, 8 and at most 16 ms.
    1 + (stalled.saturating_sub(1) / 8).min(5)
}

fn random(host: &impl Host) -> u64 {
    u64::from_le_bytes(host.random_bytes()[..8].try_into().expect("8 bytes"))
}

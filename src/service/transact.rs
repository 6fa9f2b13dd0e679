//! Write transactions: optimistic, with a lease that lines writers up under contention.
//!
//! A write reads the root, applies its operation to new pages, and swaps the root with
//! compare-and-swap; if another writer swapped first, it starts again. That alone keeps every
//! write safe. Under contention, though, every writer but one does its work for nothing, and
//! more so the longer a write takes. So a writer that loses once, or that had to wait for
//! another, claims a lease in the root record (a commit that changes only the lease); while the
//! lease lasts, other writers wait for it instead of starting work that is bound to lose. The
//! holder's commit ends the lease, and a holder that dies holds it for [`LEASE_MILLIS`] at most.
//! A write with no contention costs nothing more: it never claims the lease.

use super::problem::{self, Problem};
use super::{Config, Host, Response};
use crate::core::layout::{Garbage, Lease, Tree};
use crate::store::{Store, Swap};

/// How many times a write is tried when other writers keep committing first.
pub const WRITE_ATTEMPTS_MAX: u32 = 200;

/// How long a write lease lasts, in milliseconds: longer than almost every write, and short
/// enough that the others do not wait long for a holder that died.
pub const LEASE_MILLIS: u64 = 2_000;

/// How long a write waits for other writers' leases, in all, before it gives up.
pub const WAIT_MILLIS_MAX: u64 = 30_000;

/// Runs `write` on the stored document and commits the result, retrying on conflicts.
/// Returns the response and the garbage of every attempt.
pub(super) fn transact<S: Store>(
    store: &S,
    config: &Config,
    host: &impl Host,
    mut write: impl FnMut(&mut Tree<'_, S>) -> Result<Response, Problem>,
) -> Result<(Response, Garbage), Problem> {
    let mut garbage = Garbage::default();
    let mut swept = false;
    let holder = random(host);
    let started = host.now_millis();
    let (mut attempt, mut waits, mut electing) = (0, 0, 0);
    // The lease last seen held, and how many polls have found it unchanged since.
    let (mut seen, mut stalled) = (None, 0);
    while attempt < WRITE_ATTEMPTS_MAX {
        let (mut tree, watch) = Tree::watch(store, config.layout, random(host))?;
        if !tree.has_root_record() {
            drop((tree, watch));
            Tree::initialise(store)?;
            attempt += 1;
            electing += 1;
            host.back_off(attempt);
            continue;
        }
        if held_by_another(tree.lease(), holder, host) {
            let lease = tree.lease();
            drop((tree, watch));
            if host.now_millis().saturating_sub(started) > WAIT_MILLIS_MAX {
                break;
            }
            waits += 1;
            if lease != seen {
                (seen, stalled) = (lease, 0);
            }
            stalled += 1;
            host.back_off(poll_back_off(stalled));
            continue;
        }
        // A writer that had to wait is in a queue: it claims the lease before it starts, so
        // that the others waiting do not start with it.
        if waits > 0 && tree.lease().is_none_or(|lease| lease.holder != holder) {
            drop((tree, watch));
            waits = 0;
            if !claim(store, config, host, holder, &mut garbage)? {
                host.back_off(3);
            }
            continue;
        }
        attempt += 1;
        let outcome = write(&mut tree).and_then(|response| Ok(tree.check_budget().map(|()| response)?));
        match outcome {
            Ok(response) => {
                let (swap, left) = tree.commit(watch)?;
                garbage.absorb(left);
                match swap {
                    Swap::Done => return Ok((response, garbage)),
                    Swap::Conflict => {
                        if !claim(store, config, host, holder, &mut garbage)? {
                            host.back_off(attempt);
                        }
                    }
                }
            }
            Err(problem) => {
                garbage.absorb(tree.abort());
                if problem.kind == problem::INSUFFICIENT_STORAGE && !swept {
                    // Records that failed or crashed writers left count against the budget
                    // too: remove them, then try once more.
                    swept = true;
                    std::mem::take(&mut garbage).collect(store, config.layout);
                    Tree::sweep(store, config.layout)?;
                    continue;
                }
                if problem.kind != problem::STALE {
                    release(store, config, host, holder, &mut garbage);
                    garbage.collect(store, config.layout);
                    return Err(problem);
                }
                host.back_off(attempt);
            }
        }
    }
    release(store, config, host, holder, &mut garbage);
    garbage.collect(store, config.layout);
    let detail = if electing == attempt {
        // The writer elected to create the first root record failed before it did: a later
        // election (see `Tree::initialise`) will.
        format!("the store's first record is not written yet ({attempt} attempts); nothing was written")
    } else {
        format!("other writers kept committing first ({attempt} attempts); nothing was written")
    };
    Err(Problem::new(503, "contention", "Too Much Contention", detail).header("retry-after", "1"))
}

/// The back-off before the `stalled`th look at a lease that has not changed hands: short at
/// first, because a write takes one to a few milliseconds and the sooner a waiter sees the
/// lease end, the sooner it writes (polling every 4-16 ms cut the rate of 16 concurrent writers
/// by a third, BENCHMARKS.md); then longer, so that writers waiting behind a long write (a big
/// document) do not spend the CPU it needs reading the root record a thousand times a second.
fn poll_back_off(stalled: u32) -> u32 {
    // Ceilings of 0.5 ms for the first 8 looks, then 1, 2, 4, 8 and at most 16 ms.
    1 + (stalled.saturating_sub(1) / 8).min(5)
}

/// Whether `lease` is another writer's and has not ended.
fn held_by_another(lease: Option<Lease>, holder: u64, host: &impl Host) -> bool {
    lease.is_some_and(|lease| lease.holder != holder && lease.until_millis > host.now_millis())
}

/// Claims the write lease for `holder`, unless another writer holds it. Returns whether
/// `holder` holds it now.
fn claim<S: Store>(
    store: &S,
    config: &Config,
    host: &impl Host,
    holder: u64,
    garbage: &mut Garbage,
) -> Result<bool, Problem> {
    let (mut tree, watch) = Tree::watch(store, config.layout, random(host))?;
    if held_by_another(tree.lease(), holder, host) {
        return Ok(false);
    }
    tree.set_lease(Some(Lease { holder, until_millis: host.now_millis() + LEASE_MILLIS }));
    let (swap, left) = tree.commit(watch)?;
    garbage.absorb(left);
    Ok(swap == Swap::Done)
}

/// Ends `holder`'s lease, if it still holds one, so that the others need not wait for it to
/// run out. Best effort: a lease left behind ends by itself.
fn release<S: Store>(store: &S, config: &Config, host: &impl Host, holder: u64, garbage: &mut Garbage) {
    let Ok((tree, watch)) = Tree::watch(store, config.layout, random(host)) else { return };
    if tree.lease().is_some_and(|lease| lease.holder == holder)
        && let Ok((_, left)) = tree.commit(watch)
    {
        garbage.absorb(left);
    }
}

fn random(host: &impl Host) -> u64 {
    u64::from_le_bytes(host.random_bytes()[..8].try_into().expect("8 bytes"))
}

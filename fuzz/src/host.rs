//! A deterministic [`Host`], so that an input always runs the same way.

use jsonstore::service::Host;
use std::cell::Cell;

/// A host whose clock moves on at every look and whose randomness is a counter, mixed: push
/// IDs are new and in order, sessions look random (so node keys do too), and sleeping only
/// moves the clock.
#[derive(Debug, Default)]
pub struct Clock(Cell<u64>);

impl Clock {
    /// A clock whose counter starts at `start`: its sessions are unlike those of a clock that
    /// starts at 0, which wrote the seeds' stores.
    pub fn starting_at(start: u64) -> Self {
        Clock(Cell::new(start))
    }

    fn tick(&self) -> u64 {
        self.0.set(self.0.get() + 1);
        self.0.get()
    }
}

impl Host for Clock {
    fn now_millis(&self) -> u64 {
        1_700_000_000_000 + self.tick() % 1_000_000_000
    }

    fn random_bytes(&self) -> [u8; 9] {
        // SplitMix64's finalizer: distinct counts give unrelated bits.
        let mut z = self.tick().wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        let bytes = (z ^ (z >> 31)).to_le_bytes();
        std::array::from_fn(|i| bytes[i % 8])
    }

    fn sleep_micros(&self, micros: u64) {
        self.0.set(self.0.get() + micros.div_ceil(1000).max(1));
    }
}

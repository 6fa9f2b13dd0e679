//! A deterministic [`Host`], so that an input always runs the same way.

use jsonstore::service::Host;
use std::cell::Cell;

/// A host whose clock moves on at every look and whose randomness is a counter: push IDs are
/// new and in order, and sleeping only moves the clock.
#[derive(Debug, Default)]
pub struct Clock(Cell<u64>);

impl Host for Clock {
    fn now_millis(&self) -> u64 {
        self.0.set(self.0.get() + 1);
        1_700_000_000_000 + self.0.get()
    }

    fn random_bytes(&self) -> [u8; 9] {
        self.0.set(self.0.get() + 1);
        let bytes = self.0.get().to_le_bytes();
        std::array::from_fn(|i| bytes[i % 8])
    }

    fn sleep_micros(&self, micros: u64) {
        self.0.set(self.0.get() + micros.div_ceil(1000).max(1));
    }
}

//! The [`Host`] services on WASI: the wall clock, `wasi:random`, sleep, and
//! configuration variables from `wasi:config`.

use crate::bindings::wasi::config::store as config;
use crate::bindings::wasi::random::random;
use crate::service::Host;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The WASI host.
pub struct Wasi;

impl Host for Wasi {
    fn now_millis(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64)
    }

    fn random_bytes(&self) -> [u8; 9] {
        let mut bytes = [0; 9];
        bytes.copy_from_slice(&random::get_random_bytes(9));
        bytes
    }

    fn sleep_micros(&self, micros: u64) {
        std::thread::sleep(Duration::from_micros(micros));
    }
}

/// Every configuration variable, from `wasi:config`, in one call.
pub fn config_vars() -> Result<Vec<(String, String)>, String> {
    config::get_all().map_err(|error| match error {
        config::Error::Upstream(message) | config::Error::Io(message) => message,
    })
}

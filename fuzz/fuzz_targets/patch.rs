//! libFuzzer's entry for the `patch` target; the body is `jsonstore_fuzz::patch`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jsonstore_fuzz::patch::check(data));

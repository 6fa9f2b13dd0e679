//! libFuzzer's entry for the `path` target; the body is `jsonstore_fuzz::path`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jsonstore_fuzz::path::check(data));

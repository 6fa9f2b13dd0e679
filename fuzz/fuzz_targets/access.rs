//! libFuzzer's entry for the `access` target; the body is `jsonstore_fuzz::access`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jsonstore_fuzz::access::check(data));

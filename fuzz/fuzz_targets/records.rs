//! libFuzzer's entry for the `records` target; the body is `jsonstore_fuzz::records`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jsonstore_fuzz::records::check(data));

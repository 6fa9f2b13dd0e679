//! libFuzzer's entry for the `service` target; the body is `jsonstore_fuzz::service`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jsonstore_fuzz::service::check(data));

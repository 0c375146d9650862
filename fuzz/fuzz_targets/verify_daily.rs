//! Daily's signature headers + verify (and explain, and sign's round trip): never a panic;
//! verify accepts only a delivery the independent oracle finds fully and correctly signed.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scribehook::Provider;

fuzz_target!(|data: &[u8]| scribehook_fuzz::fuzz_verify(Provider::Daily, data));

//! Nabla's normalize (with fingerprint, endpoint check and ping detection) on a verified body:
//! never a panic, and no refusal quotes a body value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scribehook::Provider;

fuzz_target!(|data: &[u8]| scribehook_fuzz::fuzz_normalize(Provider::Nabla, data));

//! Every provider's normalize (with fingerprint, endpoint check and ping detection) on a
//! verified body: never a panic, and no refusal quotes a body value. The first byte picks
//! the provider (`scribehook_fuzz::pick_provider`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((provider, input)) = scribehook_fuzz::pick_provider(data) {
        scribehook_fuzz::fuzz_normalize(provider, input);
    }
});

//! Every provider's signature headers + verify (and explain, and sign's round trip): never a
//! panic; verify accepts only a delivery the independent oracle finds fully and correctly
//! signed. The first byte picks the provider (`scribehook_fuzz::pick_provider`), so a new
//! provider is fuzzed here as soon as it is in `Provider::ALL`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((provider, input)) = scribehook_fuzz::pick_provider(data) {
        scribehook_fuzz::fuzz_verify(provider, input);
    }
});

//! API Gateway REST API (payload v1) events: JSON → `GatewayRequest` (the ingest's own decoding of the event) → the real
//! ingest handler on a local file store (see `scribehook_fuzz::fuzz_gateway` for the
//! properties). The v1 and v2 targets differ in their seed corpora.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scribehook::entrypoints::gateway::GatewayRequest;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = serde_json::from_slice::<GatewayRequest>(data) {
        scribehook_fuzz::fuzz_gateway(request);
    }
});

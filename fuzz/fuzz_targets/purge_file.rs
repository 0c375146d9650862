//! Purge on a file store, for event and subject ids of any text (a leading `.`, `.tmp-`,
//! `..`, `/`, control characters, 2 kB): once every subject is purged, no file holds the
//! deliveries' content (docs/behaviour.md#what-a-purge-removes).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| scribehook_fuzz::fuzz_purge(data));

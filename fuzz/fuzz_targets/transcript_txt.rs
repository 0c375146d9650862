//! The Text transcript reader on arbitrary bytes: never a panic; for the cue formats every
//! segment ends at or after its start and has trimmed, non-empty text; an error quotes
//! nothing of the file.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scribehook::providers::daily::transcript::TranscriptFormat;

fuzz_target!(|data: &[u8]| scribehook_fuzz::fuzz_transcript(TranscriptFormat::Text, data));

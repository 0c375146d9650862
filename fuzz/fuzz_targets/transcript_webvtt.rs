//! The WebVtt transcript reader on arbitrary bytes: never a panic; for the cue formats every
//! segment ends at or after its start and has trimmed, non-empty text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scribehook::providers::daily::transcript::{parse, TranscriptFormat};

fuzz_target!(|data: &[u8]| {
    let format = TranscriptFormat::WebVtt;
    if let Ok(transcript) = parse(format, data) {
        if format != TranscriptFormat::DeepgramJson {
            for s in &transcript.segments {
                assert!(s.end_ms >= s.start_ms, "segment ends before it starts");
                assert!(
                    !s.text.is_empty() && s.text.trim() == s.text,
                    "untrimmed text"
                );
            }
        }
    }
});

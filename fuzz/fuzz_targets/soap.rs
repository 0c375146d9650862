//! Daily's SOAP-note JSON (`note_from_soap`): never a panic, and every section key is
//! upper snake case (docs/behaviour.md#normalized-event: `CHIEF_COMPLAINT`, `ASSESSMENT_AND_PLAN`).
#![no_main]
use libfuzzer_sys::fuzz_target;
use scribehook::providers::daily::transcript::note_from_soap;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let note = note_from_soap(&value);
    for section in &note.sections {
        assert!(
            section.key.chars().all(|c| c == '_' || c.is_alphanumeric())
                && !section.key.chars().any(|c| c.is_ascii_lowercase()),
            "section key {:?} is not upper snake case",
            section.key
        );
    }
});

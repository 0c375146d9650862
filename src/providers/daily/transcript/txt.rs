//! Daily's batch-processor `txt` output: one `Speaker N: text` line per utterance, often
//! blank-line separated. There are no times, so every segment is at 0–0 ms; the file itself
//! is kept as the transcript's `text`.

use super::{decode, lines, segment, speaker_id, split_label, ParseError, TranscriptFormat};
use crate::record::Transcript;

pub(super) fn parse(bytes: &[u8]) -> Result<Transcript, ParseError> {
    let text = decode(TranscriptFormat::Text, bytes)?;
    let mut segments = Vec::new();
    // `Speaker 0:` alone on a line labels the text on the next line.
    let mut pending: Option<String> = None;
    for line in lines(text) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (speaker, said) = match split_label(line) {
            Some((label, said)) => (Some(speaker_id(label)), said),
            None => (pending.take(), line),
        };
        if said.is_empty() {
            pending = speaker;
            continue;
        }
        pending = None;
        segments.push(segment(0, 0, speaker, said.to_owned()));
    }
    let whole = text.trim();
    Ok(Transcript {
        language: None,
        duration_ms: None,
        text: (!whole.is_empty()).then(|| lines(whole).collect::<Vec<_>>().join("\n")),
        segments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Role, Segment};

    /// Daily's batch-processor txt as in its docs.
    const DAILY: &str = "Speaker 0: Good afternoon. My name is Anass Ali. Before we start, can I check your name and age

Speaker 1: Yeah? It's, Zaines sand I'm fifty five years old.

Speaker 0: And how would you like me to address you today?

Speaker 1: Zaines is fine. It's
";

    fn said(speaker: Option<&str>, text: &str) -> Segment {
        Segment {
            start_ms: 0,
            end_ms: 0,
            speaker: speaker.map(str::to_owned),
            role: Some(Role::Unknown),
            text: text.into(),
            confidence: None,
        }
    }

    #[test]
    fn dailys_speaker_lines() {
        let t = parse(DAILY.as_bytes()).unwrap();
        assert_eq!(
            t.segments,
            [
                said(
                    Some("0"),
                    "Good afternoon. My name is Anass Ali. Before we start, can I check your name and age"
                ),
                said(Some("1"), "Yeah? It's, Zaines sand I'm fifty five years old."),
                said(Some("0"), "And how would you like me to address you today?"),
                said(Some("1"), "Zaines is fine. It's"),
            ]
        );
        assert_eq!(t.text.as_deref(), Some(DAILY.trim()));
        assert_eq!(t.duration_ms, None);
        assert_eq!(t.language, None);
    }

    #[test]
    fn crlf_bom_unlabeled_lines_and_bare_labels() {
        let t = parse(
            "\u{feff}  Speaker 0:\r\nHow are you?\r\n\r\nFine, thanks.\r\nPatient: At 10:30 it hurt.\r\n"
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            t.segments,
            [
                said(Some("0"), "How are you?"),
                said(None, "Fine, thanks."),
                Segment {
                    role: Some(Role::Patient),
                    ..said(Some("Patient"), "At 10:30 it hurt.")
                },
            ]
        );
        assert_eq!(
            t.text.as_deref(),
            Some("Speaker 0:\nHow are you?\n\nFine, thanks.\nPatient: At 10:30 it hurt.")
        );
    }

    #[test]
    fn empty_and_non_utf8_files() {
        assert_eq!(parse(b"").unwrap(), Transcript::default());
        assert_eq!(parse(b" \n\r\n\t").unwrap(), Transcript::default());
        let err = parse(b"Speaker 0: caf\xe9").unwrap_err();
        assert_eq!(
            err.to_string(),
            "text is not UTF-8 (invalid byte at offset 14)"
        );
    }
}

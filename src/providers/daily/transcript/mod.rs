//! The output files of Daily's batch processor (Deepgram JSON, WebVTT, SRT, plain text)
//! turned into the normalized [`Transcript`], plus a best-effort reader for its SOAP JSON.
//!
//! Everything here is pure: bytes in, values out. The bytes are S3 objects named by webhook
//! bodies, so no input reaches a panic; a malformed file is a [`ParseError`] that says where.
//!
//! Speakers are reported the way Deepgram numbers them: `Speaker 0` (VTT voice tag, SRT/VTT/
//! txt prefix) and Deepgram's integer `0` both become `"0"`, so the four files of one job agree.

use std::fmt;

use crate::record::Transcript;

mod cue;
mod deepgram;
mod markup;
pub mod soap;
mod speaker;
mod srt;
mod text;
mod timing;
mod txt;
mod webvtt;

pub use soap::note_from_soap;

// What the format parsers share.
use cue::{joined_text, push_block, push_timed, push_words, segment};
use markup::Markup;
use speaker::{speaker_id, split_label};
use text::{blocks, decode, lines, Block};

/// The transcript files the batch processor writes (`output.transcription[].format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TranscriptFormat {
    /// Deepgram's pre-recorded response (`json`).
    DeepgramJson,
    WebVtt,
    Srt,
    /// `Speaker N: text` lines (`txt`).
    Text,
}

impl TranscriptFormat {
    /// The format as Daily names it; case varies between its docs and its payloads.
    pub fn from_format(format: &str) -> Option<Self> {
        let format = format.trim();
        let is = |name: &str| format.eq_ignore_ascii_case(name);
        if is("json") {
            Some(Self::DeepgramJson)
        } else if is("vtt") || is("webvtt") {
            Some(Self::WebVtt)
        } else if is("srt") {
            Some(Self::Srt)
        } else if is("txt") || is("text") {
            Some(Self::Text)
        } else {
            None
        }
    }
}

impl fmt::Display for TranscriptFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::DeepgramJson => "Deepgram JSON",
            Self::WebVtt => "WebVTT",
            Self::Srt => "SRT",
            Self::Text => "text",
        })
    }
}

/// Why a transcript file could not be read. These messages are logged and kept in an
/// artifact's `reason`, so they never quote the file (docs/behaviour.md#logs: no PHI): a
/// JSON error gives its position, not serde's message (which quotes the value), a block
/// without timing is located by line, and a bad timing line by its cue and what was
/// expected. A text line holding `-->` reads as a timing line, so timing lines are
/// transcript text as much as any other.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("{format} is not UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 {
        format: TranscriptFormat,
        offset: usize,
    },
    #[error("Deepgram JSON: {}", json_problem(.0))]
    Json(#[from] serde_json::Error),
    #[error("Deepgram JSON: no `results` object")]
    NoResults,
    #[error("WebVTT: the file does not start with a WEBVTT line")]
    MissingHeader,
    #[error("{format} line {line}: block has no `-->` timing line")]
    MissingTiming {
        format: TranscriptFormat,
        line: usize,
    },
    #[error("{format} cue {cue}: the timing line is not `start --> end`")]
    BadTiming {
        format: TranscriptFormat,
        cue: usize,
    },
    #[error("{format} cue {cue}: the {which} time is not [hours:]minutes:seconds.fraction")]
    BadTimestamp {
        format: TranscriptFormat,
        cue: usize,
        /// `start` or `end`.
        which: &'static str,
    },
    #[error("{format} cue {cue}: ends at {end_ms} ms, before its start at {start_ms} ms")]
    EndsBeforeStart {
        format: TranscriptFormat,
        cue: usize,
        start_ms: i64,
        end_ms: i64,
    },
}

/// Where and what kind of JSON error, without serde's text (it quotes the offending value).
fn json_problem(err: &serde_json::Error) -> String {
    let kind = match err.classify() {
        serde_json::error::Category::Data => "not the Deepgram response shape",
        serde_json::error::Category::Eof => "truncated JSON",
        serde_json::error::Category::Syntax | serde_json::error::Category::Io => "not JSON",
    };
    format!("{kind} at line {}, column {}", err.line(), err.column())
}

/// Reads one batch-processor transcript file.
pub fn parse(format: TranscriptFormat, bytes: &[u8]) -> Result<Transcript, ParseError> {
    match format {
        TranscriptFormat::DeepgramJson => deepgram::parse(bytes),
        TranscriptFormat::WebVtt => webvtt::parse(bytes),
        TranscriptFormat::Srt => srt::parse(bytes),
        TranscriptFormat::Text => txt::parse(bytes),
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use crate::record::{Role, Segment, Transcript};

    /// A segment without a speaker label, as the text formats produce.
    pub fn unlabeled(start_ms: i64, end_ms: i64, text: &str) -> Segment {
        Segment {
            start_ms,
            end_ms,
            speaker: None,
            role: Some(Role::Unknown),
            text: text.into(),
            confidence: None,
        }
    }

    /// `(start_ms, end_ms, speaker, text)` of every segment, for compact assertions.
    pub fn timeline(t: &Transcript) -> Vec<(i64, i64, Option<&str>, &str)> {
        t.segments
            .iter()
            .map(|s| (s.start_ms, s.end_ms, s.speaker.as_deref(), s.text.as_str()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_matched_case_insensitively() {
        use TranscriptFormat::*;
        for (name, format) in [
            ("json", DeepgramJson),
            ("JSON", DeepgramJson),
            ("vtt", WebVtt),
            ("WebVTT", WebVtt),
            ("SRT", Srt),
            ("txt", Text),
            ("Text", Text),
            (" txt ", Text),
        ] {
            assert_eq!(TranscriptFormat::from_format(name), Some(format), "{name}");
        }
        assert_eq!(TranscriptFormat::from_format("pdf"), None);
        assert_eq!(TranscriptFormat::from_format(""), None);
    }

    #[test]
    fn parse_dispatches_on_the_format() {
        let vtt = parse(
            TranscriptFormat::WebVtt,
            b"WEBVTT\n\n00:01.000 --> 00:02.500\nHi\n",
        )
        .unwrap();
        assert_eq!(vtt.segments[0].end_ms, 2500);
        let txt = parse(TranscriptFormat::Text, b"Speaker 1: Hi").unwrap();
        assert_eq!(txt.segments[0].speaker.as_deref(), Some("1"));
        assert!(matches!(
            parse(TranscriptFormat::DeepgramJson, b"WEBVTT"),
            Err(ParseError::Json(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            for format in [
                TranscriptFormat::DeepgramJson,
                TranscriptFormat::WebVtt,
                TranscriptFormat::Srt,
                TranscriptFormat::Text,
            ] {
                let _ = parse(format, &bytes);
            }
        }

        #[test]
        fn cue_shaped_text_never_panics(
            body in "(WEBVTT|NOTE|[0-5][0-9]:[0-5][0-9]\\.[0-9]{3} --> [0-5][0-9]:[0-5][0-9]\\.[0-9]{3}|[0-9]{1,3}|[0-9:.,]{0,14} ?--> ?[0-9:.,]{0,14}|- |<v [A-Za-z0-9 ]{0,6}>|[A-Za-z ]{0,8}:|&[a-z#0-9]{0,6};?|<[/a-z.]{0,5}>?|é|\\r|\\n| ){0,40}"
        ) {
            let vtt = format!("WEBVTT\n\n{body}");
            for (format, text) in [
                (TranscriptFormat::WebVtt, body.as_str()),
                (TranscriptFormat::WebVtt, vtt.as_str()),
                (TranscriptFormat::Srt, body.as_str()),
                (TranscriptFormat::Text, body.as_str()),
            ] {
                if let Ok(t) = parse(format, text.as_bytes()) {
                    for s in &t.segments {
                        proptest::prop_assert!(s.end_ms >= s.start_ms);
                        proptest::prop_assert!(!s.text.is_empty() && s.text.trim() == s.text);
                    }
                }
            }
        }
    }
}

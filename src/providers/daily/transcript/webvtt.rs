//! WebVTT, the format of Daily's batch-processor `vtt` output and of its live-transcription
//! files. Daily's files open with a `NOTE` block written by Deepgram's caption tool
//! (`Transcription provided by Deepgram` / `Request Id` / `Created` / `Duration` / `Channels`)
//! and prefix each cue's text with `- `.
//!
//! Comment, style and region blocks are skipped; the `Duration:` line of a NOTE block gives
//! the audio's duration. A block that is none of those and has no timing line is an error
//! rather than silently dropped text.

use super::{
    blocks, decode, joined_text, push_block, push_timed, Block, Markup, ParseError,
    TranscriptFormat,
};
use crate::record::{seconds_to_ms, Transcript};

const FORMAT: TranscriptFormat = TranscriptFormat::WebVtt;

pub(super) fn parse(bytes: &[u8]) -> Result<Transcript, ParseError> {
    let text = decode(FORMAT, bytes)?;
    let blocks = blocks(text);
    let mut blocks = blocks.iter();
    // An empty object is an empty transcript (nothing was said), not a broken file.
    let Some(header) = blocks.next() else {
        return Ok(Transcript::default());
    };
    let mut header_lines = header.lines.iter();
    if !header_lines.next().is_some_and(|l| keyword(l, "WEBVTT")) {
        return Err(ParseError::MissingHeader);
    }

    let mut transcript = Transcript::default();
    let mut cue = 0;
    // Header lines may be metadata (`Language: en`); a cue glued to the header without a
    // blank line starts at its timing line.
    for (index, line) in header_lines.enumerate() {
        if line.contains("-->") {
            cue += 1;
            let cue_lines = header.lines.get(index + 1..).unwrap_or_default();
            push_timed(
                &mut transcript.segments,
                FORMAT,
                Markup::WebVtt,
                cue,
                cue_lines,
            )?;
            break;
        }
        if let Some(language) = metadata(line, "Language") {
            transcript.language = Some(language.to_owned());
        }
    }

    for block in blocks {
        let first = block.lines.first().copied().unwrap_or_default();
        if keyword(first, "NOTE") {
            transcript.duration_ms = transcript.duration_ms.or_else(|| note_duration(block));
            continue;
        }
        if keyword(first, "STYLE") || keyword(first, "REGION") {
            continue;
        }
        cue += 1;
        push_block(&mut transcript.segments, FORMAT, Markup::WebVtt, cue, block)?;
    }
    transcript.text = joined_text(&transcript.segments);
    Ok(transcript)
}

/// `line` is `word` alone or followed by whitespace (`WEBVTT - title`, `NOTE text`).
fn keyword(line: &str, word: &str) -> bool {
    line.strip_prefix(word)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

/// The value of a `Name: value` line, when non-empty.
fn metadata<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let (key, value) = line.split_once(':')?;
    let value = value.trim();
    (key.trim().eq_ignore_ascii_case(name) && !value.is_empty()).then_some(value)
}

/// Deepgram's `Duration: 579.5469` (seconds), on the NOTE line itself or below it.
fn note_duration(block: &Block<'_>) -> Option<i64> {
    block.lines.iter().find_map(|line| {
        let line = line.strip_prefix("NOTE").unwrap_or(line);
        let seconds: f64 = metadata(line, "Duration")?.parse().ok()?;
        (seconds.is_finite() && seconds >= 0.0).then(|| seconds_to_ms(seconds))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::daily::transcript::test_support::unlabeled;
    use crate::record::Role;

    /// Daily's batch-processor VTT, as in its docs: Deepgram NOTE header, numbered cues,
    /// `- ` before each cue's text.
    const DAILY: &str = "WEBVTT

NOTE
Transcription provided by Deepgram
Request Id: 5534e5b9-4779-43d0-9428-1bca5976ce79
Created: 2023-09-12T07:18:26.162Z
Duration: 579.5469
Channels: 1

1
00:00:09.975 --> 00:00:34.350
- Good afternoon. My name is Anass Ali. I'm one of the final year medical students.

2
00:00:35.129 --> 00:00:38.270
- Just this morning as I was leaving my house,
but in the morning,

3
00:00:38.875 --> 00:00:41.054
- I experienced some pretty bad chest pain.
";

    #[test]
    fn dailys_vtt_with_the_deepgram_note() {
        let t = parse(DAILY.as_bytes()).unwrap();
        assert_eq!(t.duration_ms, Some(579_547));
        assert_eq!(t.language, None);
        assert_eq!(
            t.segments,
            [
                unlabeled(
                    9_975,
                    34_350,
                    "Good afternoon. My name is Anass Ali. I'm one of the final year medical students."
                ),
                unlabeled(
                    35_129,
                    38_270,
                    "Just this morning as I was leaving my house, but in the morning,"
                ),
                unlabeled(38_875, 41_054, "I experienced some pretty bad chest pain."),
            ]
        );
        assert_eq!(
            t.text.as_deref(),
            Some(
                "Good afternoon. My name is Anass Ali. I'm one of the final year medical students. \
                 Just this morning as I was leaving my house, but in the morning, \
                 I experienced some pretty bad chest pain."
            )
        );
    }

    #[test]
    fn crlf_and_a_byte_order_mark_are_tolerated() {
        let crlf = format!("\u{feff}{}", DAILY.replace('\n', "\r\n"));
        assert_eq!(
            parse(crlf.as_bytes()).unwrap(),
            parse(DAILY.as_bytes()).unwrap()
        );
    }

    #[test]
    fn voice_tags_prefixes_settings_and_short_timestamps() {
        let vtt = "WEBVTT - diarized
Kind: captions
Language: en

STYLE
::cue { color: white }

REGION
id:fred width:40%

intro
00:01.000 --> 00:04.250 align:start position:10%
<v Speaker 0>- How long have you had
the pain?</v>

NOTE a comment
spanning lines

00:04.500 --> 00:06.000
- Speaker 1: About two days.

00:06.000 --> 01:02:03.004 line:0
<v.loud Doctor>Any fever &amp; chills?

00:01:02:03.004 --> 01:02:04.000
";
        let err = parse(vtt.as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "WebVTT cue 4: the start time is not [hours:]minutes:seconds.fraction"
        );

        let vtt = vtt.replace("00:01:02:03.004 -->", "01:02:03.004 -->");
        let t = parse(vtt.as_bytes()).unwrap();
        assert_eq!(t.language.as_deref(), Some("en"));
        assert_eq!(t.duration_ms, None);
        let got: Vec<_> = t
            .segments
            .iter()
            .map(|s| {
                (
                    s.start_ms,
                    s.end_ms,
                    s.speaker.as_deref(),
                    s.role,
                    s.text.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    1_000,
                    4_250,
                    Some("0"),
                    Some(Role::Unknown),
                    "How long have you had the pain?"
                ),
                (
                    4_500,
                    6_000,
                    Some("1"),
                    Some(Role::Unknown),
                    "About two days."
                ),
                (
                    6_000,
                    3_723_004,
                    Some("Doctor"),
                    Some(Role::Clinician),
                    "Any fever & chills?"
                ),
            ]
        );
    }

    #[test]
    fn a_cue_glued_to_the_header() {
        let t = parse(b"WEBVTT\n00:00:00.000 --> 00:00:01.000\nHi.\n").unwrap();
        assert_eq!(t.segments, [unlabeled(0, 1_000, "Hi.")]);
    }

    #[test]
    fn empty_files_and_empty_cues() {
        assert_eq!(parse(b"").unwrap(), Transcript::default());
        assert_eq!(parse(b"\xef\xbb\xbf\r\n").unwrap(), Transcript::default());
        assert_eq!(parse(b"WEBVTT\n").unwrap(), Transcript::default());
        let t = parse(
            b"WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.000\n\n2\n00:00:01.000 --> 00:00:02.000\n- \n",
        )
        .unwrap();
        assert_eq!(t, Transcript::default());
    }

    #[test]
    fn broken_files_are_reported() {
        let err = parse(b"1\n00:00:00,000 --> 00:00:01,000\nHi\n").unwrap_err();
        assert!(matches!(err, ParseError::MissingHeader));
        assert!(matches!(
            parse(b"WEBVTTX\n"),
            Err(ParseError::MissingHeader)
        ));

        let err = parse(b"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nHi\n\nstray text\nmore\n")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "WebVTT line 6: block has no `-->` timing line"
        );

        let err = parse(b"WEBVTT\n\n1\n00:00:02.000 --> 00:00:01.000\nHi\n").unwrap_err();
        assert!(matches!(
            err,
            ParseError::EndsBeforeStart {
                cue: 1,
                start_ms: 2_000,
                end_ms: 1_000,
                ..
            }
        ));

        let err = parse(b"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n\xc3\x28\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "WebVTT is not UTF-8 (invalid byte at offset 38)"
        );
    }
}

//! SubRip, Daily's batch-processor `srt` output: numbered cues, `HH:MM:SS,mmm --> …` timing,
//! one or more text lines, blank-line separated.
//!
//! The cue number is not checked (some writers start at 0 or skip numbers; the timing line
//! is what matters). A block without a timing line is an error rather than dropped text.

use super::{blocks, decode, joined_text, push_block, Markup, ParseError, TranscriptFormat};
use crate::record::Transcript;

const FORMAT: TranscriptFormat = TranscriptFormat::Srt;

pub(super) fn parse(bytes: &[u8]) -> Result<Transcript, ParseError> {
    let text = decode(FORMAT, bytes)?;
    let mut segments = Vec::new();
    for (index, block) in blocks(text).iter().enumerate() {
        push_block(&mut segments, FORMAT, Markup::Srt, index + 1, block)?;
    }
    Ok(Transcript {
        language: None,
        // SRT does not carry the audio's length; the last cue's end would understate it.
        duration_ms: None,
        text: joined_text(&segments),
        segments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::daily::transcript::test_support::{timeline, unlabeled};

    /// Daily's batch-processor SRT as in its docs, with Windows line endings and a BOM.
    const DAILY_CRLF: &str = "\u{feff}1\r\n\
        00:00:09,975 --> 00:00:34,350\r\n\
        Good afternoon. My name is Anass Ali.\r\n\
        Before we start, can I check your name and age\r\n\
        \r\n\
        2\r\n\
        00:00:35,129 --> 00:00:38,270\r\n\
        Just this morning as I was leaving my house, but in the morning,\r\n\
        \r\n\
        3\r\n\
        00:00:38,875 --> 00:00:41,054\r\n\
        I experienced some pretty bad chest pain.\r\n\
        \r\n";

    #[test]
    fn dailys_srt_with_crlf() {
        let t = parse(DAILY_CRLF.as_bytes()).unwrap();
        assert_eq!(
            t.segments,
            [
                unlabeled(
                    9_975,
                    34_350,
                    "Good afternoon. My name is Anass Ali. Before we start, can I check your name and age"
                ),
                unlabeled(
                    35_129,
                    38_270,
                    "Just this morning as I was leaving my house, but in the morning,"
                ),
                unlabeled(38_875, 41_054, "I experienced some pretty bad chest pain."),
            ]
        );
        assert_eq!(t.duration_ms, None);
        assert_eq!(t.language, None);
        assert_eq!(
            t.text.as_deref(),
            Some(
                "Good afternoon. My name is Anass Ali. Before we start, can I check your name and age \
                 Just this morning as I was leaving my house, but in the morning, \
                 I experienced some pretty bad chest pain."
            )
        );
    }

    #[test]
    fn speakers_tags_and_loose_numbering() {
        let srt = "0
00:00:01,000 --> 00:00:02,500 X1:100 X2:600 Y1:50 Y2:80
Speaker 0: <i>Any</i> allergies?

7
01:00:00.250 --> 01:00:01,000
- Speaker 1: Penicillin,
I think. BP < 140 & stable.

00:00:03,000 --> 00:00:03,000
<v Speaker 2>Noted.
";
        let t = parse(srt.as_bytes()).unwrap();
        let got = timeline(&t);
        assert_eq!(
            got,
            [
                (1_000, 2_500, Some("0"), "Any allergies?"),
                (
                    3_600_250,
                    3_601_000,
                    Some("1"),
                    "Penicillin, I think. BP < 140 & stable."
                ),
                (3_000, 3_000, Some("2"), "Noted."),
            ]
        );
    }

    #[test]
    fn empty_and_broken_files() {
        assert_eq!(parse(b"").unwrap(), Transcript::default());
        assert_eq!(parse(b"\r\n\r\n").unwrap(), Transcript::default());

        let err = parse(b"1\r\n00:00:01,000 --> 00:00:02,000\r\nHi\r\n\r\n2\r\n00:00:0x,000 --> 00:00:03,000\r\nYo\r\n")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "SRT cue 2: the start time is not [hours:]minutes:seconds.fraction"
        );

        let err = parse(b"1\n00:00:01,000 -> 00:00:02,000\nHi\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "SRT line 1: block has no `-->` timing line"
        );

        let err = parse(b"1\n --> 00:00:02,000\nHi\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "SRT cue 1: the timing line is not `start --> end`"
        );

        let err = parse(b"1\n00:00:01,000 --> 00:00:02,000\n\xff\n").unwrap_err();
        assert!(matches!(err, ParseError::NotUtf8 { offset: 32, .. }));
    }
}

//! The output files of Daily's batch processor (Deepgram JSON, WebVTT, SRT, plain text)
//! turned into the normalized [`Transcript`], plus a best-effort reader for its SOAP JSON.
//!
//! Everything here is pure: bytes in, values out. The bytes are S3 objects named by webhook
//! bodies, so no input reaches a panic; a malformed file is a [`ParseError`] that says where.
//!
//! Speakers are reported the way Deepgram numbers them: `Speaker 0` (VTT voice tag, SRT/VTT/
//! txt prefix) and Deepgram's integer `0` both become `"0"`, so the four files of one job agree.

use std::borrow::Cow;
use std::fmt;

use crate::normalized::{Role, Segment, Transcript};

mod deepgram;
pub mod soap;
mod srt;
mod txt;
mod webvtt;

pub use soap::note_from_soap;

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

/// Why a transcript file could not be read. Quoted input is clipped to a few dozen characters
/// so that a garbage object cannot blow up a log line.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("{format} is not UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 {
        format: TranscriptFormat,
        offset: usize,
    },
    #[error("Deepgram JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("Deepgram JSON: no `results` object")]
    NoResults,
    #[error("WebVTT: the file does not start with a WEBVTT line")]
    MissingHeader,
    #[error("{format} line {line}: block has no `-->` timing line: \"{text}\"")]
    MissingTiming {
        format: TranscriptFormat,
        line: usize,
        text: String,
    },
    #[error("{format} cue {cue}: bad timing line \"{text}\"")]
    BadTiming {
        format: TranscriptFormat,
        cue: usize,
        text: String,
    },
    #[error("{format} cue {cue}: bad timestamp \"{value}\"")]
    BadTimestamp {
        format: TranscriptFormat,
        cue: usize,
        value: String,
    },
    #[error("{format} cue {cue}: ends at {end_ms} ms, before its start at {start_ms} ms")]
    EndsBeforeStart {
        format: TranscriptFormat,
        cue: usize,
        start_ms: i64,
        end_ms: i64,
    },
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

// ---- helpers shared by the text formats ----

/// The file as text, without a UTF-8 byte order mark (Windows tools write one).
fn decode(format: TranscriptFormat, bytes: &[u8]) -> Result<&str, ParseError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ParseError::NotUtf8 {
        format,
        offset: e.valid_up_to(),
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// Lines ended by LF, CRLF or a lone CR (WebVTT allows all three; SRT and txt from Windows
/// tools use CRLF).
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n')
        .flat_map(|line| line.strip_suffix('\r').unwrap_or(line).split('\r'))
}

/// A run of non-blank lines: a cue, a NOTE, the WebVTT header.
struct Block<'a> {
    /// 1-based number of the block's first line, for error messages.
    line: usize,
    lines: Vec<&'a str>,
}

/// Splits the text at blank (or whitespace-only) lines. Every block has at least one line.
fn blocks(text: &str) -> Vec<Block<'_>> {
    let mut out = Vec::new();
    let mut current: Option<Block<'_>> = None;
    for (index, line) in lines(text).enumerate() {
        if line.trim().is_empty() {
            out.extend(current.take());
        } else {
            current
                .get_or_insert_with(|| Block {
                    line: index + 1,
                    lines: Vec::new(),
                })
                .lines
                .push(line);
        }
    }
    out.extend(current);
    out
}

/// Where the timing line of a cue block is: the first line, or the second after an
/// identifier (SRT's cue number, WebVTT's optional cue id).
fn timing_index(block: &Block<'_>) -> Option<usize> {
    block.lines.iter().take(2).position(|l| l.contains("-->"))
}

/// `start --> end [settings]` in milliseconds. Cue settings (WebVTT) and coordinates (SRT)
/// after the end time carry no transcript information and are ignored.
fn parse_timing(
    format: TranscriptFormat,
    cue: usize,
    line: &str,
) -> Result<(i64, i64), ParseError> {
    let bad_timing = || ParseError::BadTiming {
        format,
        cue,
        text: clip(line.trim()),
    };
    let (left, right) = line.split_once("-->").ok_or_else(bad_timing)?;
    let start = left.trim();
    let end = right.split_whitespace().next().ok_or_else(bad_timing)?;
    if start.is_empty() {
        return Err(bad_timing());
    }
    let time = |value: &str| {
        parse_timestamp(value).ok_or_else(|| ParseError::BadTimestamp {
            format,
            cue,
            value: clip(value),
        })
    };
    let (start_ms, end_ms) = (time(start)?, time(end)?);
    if end_ms < start_ms {
        return Err(ParseError::EndsBeforeStart {
            format,
            cue,
            start_ms,
            end_ms,
        });
    }
    Ok((start_ms, end_ms))
}

/// `[H…:]MM:SS.fff` (WebVTT) or `HH:MM:SS,fff` (SRT) in milliseconds; either separator is
/// accepted in both, and 1–3 fraction digits. Hours are capped at nine digits so that the
/// arithmetic cannot overflow.
fn parse_timestamp(value: &str) -> Option<i64> {
    fn digits(s: &str, min: usize, max: usize) -> Option<i64> {
        if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    }
    let (clock, fraction) = value.split_at(value.rfind(['.', ','])?);
    let fraction = fraction.get(1..)?;
    let fraction_value = digits(fraction, 1, 3)?;
    // 1–3 digits: `.5` is 500 ms, `.05` is 50 ms.
    let millis = fraction_value
        * match fraction.len() {
            1 => 100,
            2 => 10,
            _ => 1,
        };
    let mut parts = clock.rsplit(':');
    let seconds = digits(parts.next()?, 2, 2).filter(|s| *s < 60)?;
    let minutes = digits(parts.next()?, 2, 2).filter(|m| *m < 60)?;
    let hours = match parts.next() {
        Some(h) => digits(h, 1, 9)?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    Some(((hours * 60 + minutes) * 60 + seconds) * 1000 + millis)
}

/// How much markup a cue's text may carry.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Markup {
    /// Every `<…>` is a tag and `&…;` an entity (a literal `<` must be escaped in WebVTT).
    WebVtt,
    /// Only the usual formatting tags are removed; any other `<` is text.
    Srt,
}

/// Appends the segments of one cue. A cue normally gives one segment; a dialogue cue whose
/// lines carry different speakers (`<v A>…` / `<v B>…`, `- A: …` / `- B: …`) gives one per
/// speaker, all with the cue's timing.
fn push_cue(
    segments: &mut Vec<Segment>,
    start_ms: i64,
    end_ms: i64,
    text_lines: &[&str],
    markup: Markup,
) {
    let mut groups: Vec<(Option<String>, String)> = Vec::new();
    for line in text_lines {
        let mut line = strip_dash(line.trim());
        let mut speaker = None;
        if let Some((voice, rest)) = voice_tag(line) {
            speaker = Some(speaker_id(voice));
            line = strip_dash(rest.trim_start());
        }
        let clean = clean_markup(line, markup);
        let mut text = clean.trim();
        if speaker.is_none() {
            if let Some((label, rest)) = split_label(text) {
                speaker = Some(speaker_id(label));
                text = rest;
            }
        }
        match (speaker, groups.last_mut()) {
            (None, Some((_, group))) => push_words(group, text),
            (Some(s), Some((current, group)))
                if current.as_deref() == Some(s.as_str())
                    || (current.is_none() && group.is_empty()) =>
            {
                *current = Some(s);
                push_words(group, text);
            }
            (speaker, _) => {
                let mut group = String::new();
                push_words(&mut group, text);
                groups.push((speaker, group));
            }
        }
    }
    segments.extend(
        groups
            .into_iter()
            .filter(|(_, text)| !text.is_empty())
            .map(|(speaker, text)| segment(start_ms, end_ms, speaker, text)),
    );
}

fn segment(start_ms: i64, end_ms: i64, speaker: Option<String>, text: String) -> Segment {
    Segment {
        start_ms,
        end_ms,
        role: Some(speaker.as_deref().map_or(Role::Unknown, role_of)),
        speaker,
        text,
        confidence: None,
    }
}

/// Appends `text`'s words, single-spaced: cue lines are display breaks, not content.
fn push_words(buffer: &mut String, text: &str) {
    for word in text.split_whitespace() {
        if !buffer.is_empty() {
            buffer.push(' ');
        }
        buffer.push_str(word);
    }
}

/// Drops a leading `- ` dialogue dash (Daily prefixes every VTT cue with one). A dash glued
/// to a word (`-5 degrees`) is text.
fn strip_dash(line: &str) -> &str {
    match line.strip_prefix('-') {
        Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => rest.trim_start(),
        _ => line,
    }
}

/// `<v Name>rest` or `<v.class Name>rest` at the start of a line: `(Name, rest)`.
fn voice_tag(line: &str) -> Option<(&str, &str)> {
    let inner = line.strip_prefix("<v")?;
    if !inner.starts_with([' ', '\t', '.']) {
        return None;
    }
    let (tag, rest) = inner.split_once('>')?;
    // Classes (`.loud`) come first and contain no whitespace; the annotation is the rest.
    let name = if tag.starts_with('.') {
        tag.split_once(char::is_whitespace)?.1
    } else {
        tag
    };
    let name = name.trim();
    (!name.is_empty()).then_some((name, rest))
}

/// Removes tags (and, for WebVTT, decodes entities). Borrows when there is nothing to do.
fn clean_markup(text: &str, markup: Markup) -> Cow<'_, str> {
    let entities = markup == Markup::WebVtt;
    let has_markup = text.contains('<') || (entities && text.contains('&'));
    if !has_markup {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(|c| c == '<' || (entities && c == '&')) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if rest.starts_with('<') {
            if let Some(close) = rest.find('>') {
                if markup == Markup::WebVtt || is_srt_tag(&rest[1..close]) {
                    rest = &rest[close + 1..];
                    continue;
                }
            }
            out.push('<');
            rest = &rest[1..];
        } else {
            match entity(rest) {
                Some((decoded, len)) => {
                    out.push(decoded);
                    rest = &rest[len..];
                }
                None => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The formatting tags SRT players understand (`<i>`, `</b>`, `<font color=…>`, voice tags).
fn is_srt_tag(tag: &str) -> bool {
    let tag = tag.strip_prefix('/').unwrap_or(tag);
    let name = tag
        .split(|c: char| c.is_whitespace() || c == '.')
        .next()
        .unwrap_or(tag);
    ["b", "i", "u", "s", "v", "c", "font"]
        .iter()
        .any(|known| name.eq_ignore_ascii_case(known))
}

/// An HTML character reference at the start of `text`: the character and the bytes it spans.
fn entity(text: &str) -> Option<(char, usize)> {
    let end = text.find(';').filter(|end| *end <= 12)?;
    let name = &text[1..end];
    let decoded = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "lrm" => '\u{200e}',
        "rlm" => '\u{200f}',
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)?
        }
    };
    Some((decoded, end + 1))
}

/// A leading `Name: text` speaker prefix: `(Name, text)`. The name must look like a label,
/// not the start of a sentence: at most 40 characters and four words, starting with a letter,
/// every word capitalized (or a number), and the colon followed by a space or the line end
/// (so `at 10:30` is text).
fn split_label(line: &str) -> Option<(&str, &str)> {
    let (label, rest) = line.split_once(':')?;
    let label = label.trim();
    if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
        return None;
    }
    let chars = label.chars().count();
    let words = label.split_whitespace();
    let looks_like_label = chars <= 40
        && label.starts_with(char::is_alphabetic)
        && label
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-' | '\''))
        && words.clone().count() <= 4
        && (numbered_speaker(label).is_some()
            || words
                .clone()
                .all(|w| w.starts_with(|c: char| c.is_uppercase() || c.is_ascii_digit())));
    looks_like_label.then_some((label, rest.trim_start()))
}

/// `Speaker 0`, `speaker_1`, `SPEAKER_00` → the number without leading zeros.
fn numbered_speaker(label: &str) -> Option<&str> {
    let prefix = label.get(..7)?;
    if !prefix.eq_ignore_ascii_case("speaker") {
        return None;
    }
    let number = label[7..].trim_start_matches([' ', '_', '-']);
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = number.trim_start_matches('0');
    Some(if trimmed.is_empty() { "0" } else { trimmed })
}

/// The speaker as Deepgram numbers it (`Speaker 0` → `0`); other labels verbatim.
fn speaker_id(label: &str) -> String {
    numbered_speaker(label).unwrap_or(label).to_owned()
}

/// A role only when the label says it outright; Deepgram's numbered speakers say nothing
/// about who is the clinician.
fn role_of(speaker: &str) -> Role {
    let is = |name: &str| speaker.eq_ignore_ascii_case(name);
    if is("doctor") || is("clinician") || is("physician") || is("provider") || is("nurse") {
        Role::Clinician
    } else if is("patient") {
        Role::Patient
    } else {
        Role::Unknown
    }
}

/// The segments' texts joined by spaces; `None` when there is no text at all.
fn joined_text(segments: &[Segment]) -> Option<String> {
    let mut text = String::new();
    for segment in segments {
        push_words(&mut text, &segment.text);
    }
    (!text.is_empty()).then_some(text)
}

/// At most 60 characters of `text`, for error messages.
fn clip(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// Helpers shared by the format parsers' tests.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::normalized::{Role, Segment, Transcript};

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

    #[test]
    fn timestamps_in_both_notations() {
        assert_eq!(parse_timestamp("00:00:09.975"), Some(9_975));
        assert_eq!(parse_timestamp("00:00:09,975"), Some(9_975));
        assert_eq!(parse_timestamp("01:02:03.004"), Some(3_723_004));
        assert_eq!(parse_timestamp("02:03.004"), Some(123_004));
        assert_eq!(parse_timestamp("100:00:00.000"), Some(360_000_000));
        assert_eq!(parse_timestamp("00:00:01.5"), Some(1_500));
        assert_eq!(parse_timestamp("00:00:01.05"), Some(1_050));
    }

    #[test]
    fn malformed_timestamps_are_refused() {
        for bad in [
            "",
            "00:0x:01.000",
            "00:00:01",
            "00:00:01.",
            "00:00:01.0000",
            "00:60:00.000",
            "00:00:60.000",
            "0:0:1.000",
            "1.000",
            "00:00:00:01.000",
            "9999999999:00:00.000",
            "00:00:01.-10",
            "+0:00:01.000",
            "٠٠:٠٠:٠١.٠٠٠",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn timing_lines_ignore_settings_and_report_problems() {
        let f = TranscriptFormat::WebVtt;
        assert_eq!(
            parse_timing(f, 1, "00:00:01.000 --> 00:00:02.000 align:start line:0%").unwrap(),
            (1_000, 2_000)
        );
        assert_eq!(
            parse_timing(f, 1, "00:01.000-->00:02.000").unwrap(),
            (1_000, 2_000)
        );
        assert_eq!(
            parse_timing(f, 3, "00:00:01.000 --> 00:0x:01.000")
                .unwrap_err()
                .to_string(),
            "WebVTT cue 3: bad timestamp \"00:0x:01.000\""
        );
        assert_eq!(
            parse_timing(f, 2, "00:00:01.000 -->")
                .unwrap_err()
                .to_string(),
            "WebVTT cue 2: bad timing line \"00:00:01.000 -->\""
        );
        assert_eq!(
            parse_timing(TranscriptFormat::Srt, 4, "00:00:02,000 --> 00:00:01,000")
                .unwrap_err()
                .to_string(),
            "SRT cue 4: ends at 1000 ms, before its start at 2000 ms"
        );
    }

    #[test]
    fn lines_split_on_lf_crlf_and_cr() {
        let got: Vec<&str> = lines("a\r\nb\nc\rd\r\n").collect();
        assert_eq!(got, ["a", "b", "c", "d", ""]);
    }

    #[test]
    fn labels_look_like_speakers_not_sentences() {
        assert_eq!(
            split_label("Speaker 0: Hello."),
            Some(("Speaker 0", "Hello."))
        );
        assert_eq!(split_label("Dr. Smith: Hi"), Some(("Dr. Smith", "Hi")));
        assert_eq!(split_label("SPEAKER_01:"), Some(("SPEAKER_01", "")));
        assert_eq!(split_label("speaker 2: ok"), Some(("speaker 2", "ok")));
        assert_eq!(split_label("So the plan: rest"), None);
        assert_eq!(split_label("See you at 10:30 then"), None);
        assert_eq!(split_label("At 10:30 then"), None);
        assert_eq!(split_label("http://example.com"), None);
        assert_eq!(split_label("No label here"), None);
        let long = format!("{}: text", "A".repeat(41));
        assert_eq!(split_label(&long), None);
    }

    #[test]
    fn speakers_are_numbered_like_deepgram() {
        assert_eq!(speaker_id("Speaker 0"), "0");
        assert_eq!(speaker_id("SPEAKER_00"), "0");
        assert_eq!(speaker_id("speaker-12"), "12");
        assert_eq!(speaker_id("Speakers"), "Speakers");
        assert_eq!(speaker_id("Dr. Smith"), "Dr. Smith");
        assert_eq!(speaker_id("Spéaker 1"), "Spéaker 1");
        assert_eq!(role_of("Doctor"), Role::Clinician);
        assert_eq!(role_of("patient"), Role::Patient);
        assert_eq!(role_of("0"), Role::Unknown);
    }

    #[test]
    fn markup_is_removed_and_entities_decoded() {
        assert_eq!(
            clean_markup(
                "<i>Take</i> 2 &lt; 3 &amp; <c.loud>rest</c>&#33;",
                Markup::WebVtt
            ),
            "Take 2 < 3 & rest!"
        );
        assert_eq!(
            clean_markup("Tom &unknown; Jerry &", Markup::WebVtt),
            "Tom &unknown; Jerry &"
        );
        assert_eq!(
            clean_markup(
                "<b>BP</b> <font color=\"red\">x</font> < 140 & <y>",
                Markup::Srt
            ),
            "BP x < 140 & <y>"
        );
        assert!(matches!(
            clean_markup("plain", Markup::WebVtt),
            Cow::Borrowed("plain")
        ));
        assert_eq!(clean_markup("broken <i", Markup::WebVtt), "broken <i");
    }

    #[test]
    fn one_cue_with_two_voices_gives_two_segments() {
        let mut segments = Vec::new();
        push_cue(
            &mut segments,
            1_000,
            4_000,
            &[
                "<v Speaker 0>How are you",
                "feeling?</v>",
                "<v.loud Speaker 1>Tired.",
            ],
            Markup::WebVtt,
        );
        assert_eq!(segments.len(), 2);
        assert_eq!(segments[0].speaker.as_deref(), Some("0"));
        assert_eq!(segments[0].text, "How are you feeling?");
        assert_eq!(segments[1].speaker.as_deref(), Some("1"));
        assert_eq!(segments[1].text, "Tired.");
        assert_eq!((segments[1].start_ms, segments[1].end_ms), (1_000, 4_000));
    }

    #[test]
    fn dialogue_dashes_and_prefixes() {
        let mut segments = Vec::new();
        push_cue(
            &mut segments,
            0,
            1,
            &[
                "- Patient: It hurts.",
                "- Doctor: Where?",
                "-5 degrees",
                "-",
            ],
            Markup::Srt,
        );
        let got: Vec<_> = segments
            .iter()
            .map(|s| (s.speaker.as_deref(), s.role, s.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (Some("Patient"), Some(Role::Patient), "It hurts."),
                (Some("Doctor"), Some(Role::Clinician), "Where? -5 degrees"),
            ]
        );
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

    #[test]
    fn clip_keeps_error_messages_short() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(100);
        assert_eq!(clip(&long).chars().count(), 61);
    }
}

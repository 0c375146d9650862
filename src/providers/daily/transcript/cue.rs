//! One cue's text lines turned into segments: dialogue dashes, voices and speaker labels.

use super::markup::{clean_markup, voice_tag, Markup};
use super::speaker::{speaker_id, split_label};
use super::text::Block;
use super::timing::{parse_timing, timing_index};
use super::{ParseError, TranscriptFormat};
use crate::record::{Role, Segment};

/// Appends the segments of cue number `cue`, a block whose timing line is its first line or
/// the second after an identifier. A block without one is an error, not dropped text.
pub(super) fn push_block(
    segments: &mut Vec<Segment>,
    format: TranscriptFormat,
    markup: Markup,
    cue: usize,
    block: &Block<'_>,
) -> Result<(), ParseError> {
    let Some(at) = timing_index(block) else {
        return Err(ParseError::MissingTiming {
            format,
            line: block.line,
        });
    };
    push_timed(
        segments,
        format,
        markup,
        cue,
        block.lines.get(at..).unwrap_or_default(),
    )
}

/// Appends the segments of cue number `cue`: `lines` starts with its timing line.
pub(super) fn push_timed(
    segments: &mut Vec<Segment>,
    format: TranscriptFormat,
    markup: Markup,
    cue: usize,
    lines: &[&str],
) -> Result<(), ParseError> {
    if let Some((timing, text_lines)) = lines.split_first() {
        let (start, end) = parse_timing(format, cue, timing)?;
        push_cue(segments, start, end, text_lines, markup);
    }
    Ok(())
}

/// Appends the segments of one cue. A cue normally gives one segment; a dialogue cue whose
/// lines carry different speakers (`<v A>…` / `<v B>…`, `- A: …` / `- B: …`) gives one per
/// speaker, all with the cue's timing.
pub(super) fn push_cue(
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

pub(super) fn segment(
    start_ms: i64,
    end_ms: i64,
    speaker: Option<String>,
    text: String,
) -> Segment {
    Segment {
        start_ms,
        end_ms,
        role: Some(speaker.as_deref().map_or(Role::Unknown, Role::of_label)),
        speaker,
        text,
        confidence: None,
    }
}

/// Appends `text`'s words, single-spaced: cue lines are display breaks, not content.
pub(super) fn push_words(buffer: &mut String, text: &str) {
    for word in text.split_whitespace() {
        if !buffer.is_empty() {
            buffer.push(' ');
        }
        buffer.push_str(word);
    }
}

/// Drops a leading `- ` dialogue dash (Daily prefixes every VTT cue with one). A dash glued
/// to a word (`-5 degrees`) is text.
pub(super) fn strip_dash(line: &str) -> &str {
    match line.strip_prefix('-') {
        Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => rest.trim_start(),
        _ => line,
    }
}

/// The segments' texts joined by spaces; `None` when there is no text at all.
pub(super) fn joined_text(segments: &[Segment]) -> Option<String> {
    let mut text = String::new();
    for segment in segments {
        push_words(&mut text, &segment.text);
    }
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

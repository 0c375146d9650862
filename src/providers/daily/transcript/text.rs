//! Text-file plumbing shared by the WebVTT, SRT and txt readers: decoding, line endings and
//! blank-line separated blocks.

use super::{ParseError, TranscriptFormat};

/// The file as text, without a UTF-8 byte order mark (Windows tools write one).
pub(super) fn decode(format: TranscriptFormat, bytes: &[u8]) -> Result<&str, ParseError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ParseError::NotUtf8 {
        format,
        offset: e.valid_up_to(),
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// Lines ended by LF, CRLF or a lone CR (WebVTT allows all three; SRT and txt from Windows
/// tools use CRLF).
pub(super) fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n')
        .flat_map(|line| line.strip_suffix('\r').unwrap_or(line).split('\r'))
}

/// A run of non-blank lines: a cue, a NOTE, the WebVTT header.
pub(super) struct Block<'a> {
    /// 1-based number of the block's first line, for error messages.
    pub(super) line: usize,
    pub(super) lines: Vec<&'a str>,
}

/// Splits the text at blank (or whitespace-only) lines. Every block has at least one line.
pub(super) fn blocks(text: &str) -> Vec<Block<'_>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_on_lf_crlf_and_cr() {
        let got: Vec<&str> = lines("a\r\nb\nc\rd\r\n").collect();
        assert_eq!(got, ["a", "b", "c", "d", ""]);
    }
}

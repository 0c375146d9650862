//! Cue timing lines (`start --> end [settings]`) and their timestamps, in WebVTT's and
//! SRT's notations.

use super::text::Block;
use super::{ParseError, TranscriptFormat};

/// Where the timing line of a cue block is: the first line, or the second after an
/// identifier (SRT's cue number, WebVTT's optional cue id).
pub(super) fn timing_index(block: &Block<'_>) -> Option<usize> {
    block.lines.iter().take(2).position(|l| l.contains("-->"))
}

/// `start --> end [settings]` in milliseconds. Cue settings (WebVTT) and coordinates (SRT)
/// after the end time carry no transcript information and are ignored.
pub(super) fn parse_timing(
    format: TranscriptFormat,
    cue: usize,
    line: &str,
) -> Result<(i64, i64), ParseError> {
    let bad_timing = || ParseError::BadTiming { format, cue };
    let (left, right) = line.split_once("-->").ok_or_else(bad_timing)?;
    let start = left.trim();
    let end = right.split_whitespace().next().ok_or_else(bad_timing)?;
    if start.is_empty() {
        return Err(bad_timing());
    }
    let time = |value: &str, which| {
        parse_timestamp(value).ok_or(ParseError::BadTimestamp { format, cue, which })
    };
    let (start_ms, end_ms) = (time(start, "start")?, time(end, "end")?);
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
pub(super) fn parse_timestamp(value: &str) -> Option<i64> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
            "WebVTT cue 3: the end time is not [hours:]minutes:seconds.fraction"
        );
        assert_eq!(
            parse_timing(f, 2, "00:00:01.000 -->")
                .unwrap_err()
                .to_string(),
            "WebVTT cue 2: the timing line is not `start --> end`"
        );
        assert_eq!(
            parse_timing(TranscriptFormat::Srt, 4, "00:00:02,000 --> 00:00:01,000")
                .unwrap_err()
                .to_string(),
            "SRT cue 4: ends at 1000 ms, before its start at 2000 ms"
        );
    }
}

//! Deepgram's pre-recorded response, which Daily stores as the `json` transcript.
//!
//! Only `results` is required: an error body (`{"err_code": …}`) or some other JSON must not
//! pass for an empty transcript. Everything below it is optional, because which parts exist
//! depends on the options Daily passed to Deepgram (diarization, utterances, language
//! detection).

use std::borrow::Cow;

use serde::Deserialize;

use super::{push_words, ParseError};
use crate::record::{seconds_to_ms, Role, Segment, Transcript};

#[derive(Deserialize)]
struct Response<'a> {
    metadata: Option<Metadata>,
    #[serde(borrow)]
    results: Option<Results<'a>>,
}

#[derive(Deserialize)]
struct Metadata {
    duration: Option<f64>,
}

#[derive(Deserialize)]
struct Results<'a> {
    #[serde(borrow)]
    channels: Option<Vec<Channel<'a>>>,
    #[serde(borrow)]
    utterances: Option<Vec<Utterance<'a>>>,
}

#[derive(Deserialize)]
struct Channel<'a> {
    #[serde(borrow)]
    alternatives: Option<Vec<Alternative<'a>>>,
    #[serde(borrow)]
    detected_language: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Alternative<'a> {
    #[serde(borrow)]
    transcript: Option<Cow<'a, str>>,
    #[serde(borrow)]
    words: Option<Vec<Word<'a>>>,
}

#[derive(Deserialize)]
struct Word<'a> {
    #[serde(borrow)]
    word: Option<Cow<'a, str>>,
    #[serde(borrow)]
    punctuated_word: Option<Cow<'a, str>>,
    start: Option<f64>,
    end: Option<f64>,
    confidence: Option<f64>,
    speaker: Option<SpeakerId>,
}

#[derive(Deserialize)]
struct Utterance<'a> {
    start: Option<f64>,
    end: Option<f64>,
    #[serde(borrow)]
    transcript: Option<Cow<'a, str>>,
    confidence: Option<f64>,
    speaker: Option<SpeakerId>,
}

/// Deepgram numbers speakers; a string is tolerated in case a re-encoder quoted them.
#[derive(Deserialize)]
#[serde(untagged)]
enum SpeakerId {
    Int(i64),
    Float(f64),
    Text(String),
}

impl SpeakerId {
    fn label(&self) -> String {
        match self {
            SpeakerId::Int(n) => n.to_string(),
            // `1.0` is speaker 1; anything else is shown as written.
            SpeakerId::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => (*f as i64).to_string(),
            SpeakerId::Float(f) => f.to_string(),
            SpeakerId::Text(s) => s.trim().to_owned(),
        }
    }
}

pub(super) fn parse(bytes: &[u8]) -> Result<Transcript, ParseError> {
    let response: Response<'_> = serde_json::from_slice(bytes)?;
    let results = response.results.ok_or(ParseError::NoResults)?;
    let channel = results.channels.as_deref().and_then(<[_]>::first);
    let alternative = channel
        .and_then(|c| c.alternatives.as_deref())
        .and_then(<[_]>::first);

    let segments = match results.utterances.as_deref() {
        Some(utterances) if !utterances.is_empty() => {
            utterances.iter().filter_map(from_utterance).collect()
        }
        _ => alternative
            .and_then(|a| a.words.as_deref())
            .map(fold_words)
            .unwrap_or_default(),
    };

    let text = match alternative.and_then(|a| a.transcript.as_deref()) {
        Some(t) if !t.trim().is_empty() => Some(t.trim().to_owned()),
        _ => super::joined_text(&segments),
    };
    Ok(Transcript {
        language: channel
            .and_then(|c| c.detected_language.as_deref())
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned),
        duration_ms: response
            .metadata
            .and_then(|m| m.duration)
            .map(seconds_to_ms),
        text,
        segments,
    })
}

fn from_utterance(u: &Utterance<'_>) -> Option<Segment> {
    let text = u.transcript.as_deref().map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return None;
    }
    let start_ms = u.start.map_or(0, seconds_to_ms);
    Some(Segment {
        start_ms,
        end_ms: u.end.map_or(start_ms, seconds_to_ms),
        speaker: u.speaker.as_ref().map(SpeakerId::label),
        role: Some(Role::Unknown),
        text: text.to_owned(),
        confidence: u.confidence,
    })
}

/// Consecutive words of one speaker make one segment, the way Deepgram's own caption
/// writers cut them when utterances were not requested.
fn fold_words(words: &[Word<'_>]) -> Vec<Segment> {
    struct Run {
        speaker: Option<String>,
        start: Option<f64>,
        end: Option<f64>,
        text: String,
        confidence_sum: f64,
        confidence_count: u32,
    }

    impl Run {
        fn finish(self) -> Option<Segment> {
            if self.text.is_empty() {
                return None;
            }
            let start_ms = self.start.map_or(0, seconds_to_ms);
            Some(Segment {
                start_ms,
                end_ms: self.end.map_or(start_ms, seconds_to_ms),
                speaker: self.speaker,
                role: Some(Role::Unknown),
                text: self.text,
                confidence: (self.confidence_count > 0)
                    .then(|| self.confidence_sum / f64::from(self.confidence_count)),
            })
        }
    }

    let mut segments = Vec::new();
    let mut run: Option<Run> = None;
    for word in words {
        let Some(text) = word
            .punctuated_word
            .as_deref()
            .or(word.word.as_deref())
            .filter(|t| !t.trim().is_empty())
        else {
            continue;
        };
        let speaker = word.speaker.as_ref().map(SpeakerId::label);
        if run.as_ref().is_some_and(|r| r.speaker != speaker) {
            segments.extend(run.take().and_then(Run::finish));
        }
        let current = run.get_or_insert_with(|| Run {
            speaker,
            start: None,
            end: None,
            text: String::new(),
            confidence_sum: 0.0,
            confidence_count: 0,
        });
        current.start = current.start.or(word.start);
        current.end = word.end.or(current.end);
        push_words(&mut current.text, text);
        if let Some(c) = word.confidence {
            current.confidence_sum += c;
            current.confidence_count += 1;
        }
    }
    segments.extend(run.and_then(Run::finish));
    segments
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::daily::transcript::test_support::timeline;

    /// Shaped like Deepgram's pre-recorded response with `diarize`, `punctuate` and
    /// `utterances`, as Daily's batch processor requests it.
    const WITH_UTTERANCES: &str = r#"{
      "metadata": {
        "transaction_key": "deprecated",
        "request_id": "5534e5b9-4779-43d0-9428-1bca5976ce79",
        "created": "2023-09-12T07:18:26.162Z",
        "duration": 579.5469,
        "channels": 1,
        "models": ["1dbdfb4d-85b2-4659-9c6b-4c5a0bd7ffc8"]
      },
      "results": {
        "channels": [{
          "detected_language": "en",
          "alternatives": [{
            "transcript": "Good afternoon. Can I check your name? Yeah. It's Zaines.",
            "confidence": 0.99,
            "words": [
              {"word": "good", "start": 9.975, "end": 10.215, "confidence": 0.99, "speaker": 0, "speaker_confidence": 0.8, "punctuated_word": "Good"},
              {"word": "afternoon", "start": 10.215, "end": 10.715, "confidence": 0.98, "speaker": 0, "speaker_confidence": 0.8, "punctuated_word": "afternoon."}
            ]
          }]
        }],
        "utterances": [
          {"start": 9.975, "end": 12.41, "confidence": 0.9712, "channel": 0,
           "transcript": "Good afternoon. Can I check your name?", "speaker": 0,
           "id": "a1b2", "words": []},
          {"start": 13.1, "end": 14.970000267028809, "confidence": 0.88, "channel": 0,
           "transcript": "Yeah. It's Zaines.", "speaker": 1, "id": "c3d4", "words": []}
        ]
      }
    }"#;

    /// Diarized words but no `utterances`: the segments come from folding the words.
    const WORDS_ONLY: &str = r#"{
      "metadata": {"duration": 6.2, "channels": 1},
      "results": {"channels": [{"alternatives": [{
        "transcript": "",
        "words": [
          {"word": "how", "punctuated_word": "How", "start": 0.5, "end": 0.7, "confidence": 0.9, "speaker": 0},
          {"word": "are", "punctuated_word": "are", "start": 0.7, "end": 0.82, "confidence": 0.8, "speaker": 0},
          {"word": "you", "punctuated_word": "you?", "start": 0.82, "end": 1.1, "confidence": 0.7, "speaker": 0},
          {"word": "fine", "punctuated_word": "Fine.", "start": 1.9, "end": 2.35, "confidence": 0.6, "speaker": 1},
          {"word": "and", "start": 2.5, "end": 2.6, "speaker": 0},
          {"word": "you", "punctuated_word": "you?", "start": 2.6, "end": 2.9, "confidence": 0.5, "speaker": 0}
        ]
      }]}]}
    }"#;

    #[test]
    fn utterances_become_segments() {
        let t = parse(WITH_UTTERANCES.as_bytes()).unwrap();
        assert_eq!(t.language.as_deref(), Some("en"));
        assert_eq!(t.duration_ms, Some(579_547));
        assert_eq!(
            t.text.as_deref(),
            Some("Good afternoon. Can I check your name? Yeah. It's Zaines.")
        );
        assert_eq!(
            t.segments,
            [
                Segment {
                    start_ms: 9_975,
                    end_ms: 12_410,
                    speaker: Some("0".into()),
                    role: Some(Role::Unknown),
                    text: "Good afternoon. Can I check your name?".into(),
                    confidence: Some(0.9712),
                },
                Segment {
                    start_ms: 13_100,
                    end_ms: 14_970,
                    speaker: Some("1".into()),
                    role: Some(Role::Unknown),
                    text: "Yeah. It's Zaines.".into(),
                    confidence: Some(0.88),
                },
            ]
        );
    }

    #[test]
    fn words_are_folded_by_speaker_without_utterances() {
        let t = parse(WORDS_ONLY.as_bytes()).unwrap();
        assert_eq!(t.language, None);
        assert_eq!(t.duration_ms, Some(6_200));
        let got = timeline(&t);
        assert_eq!(
            got,
            [
                (500, 1_100, Some("0"), "How are you?"),
                (1_900, 2_350, Some("1"), "Fine."),
                (2_500, 2_900, Some("0"), "and you?"),
            ]
        );
        let confidences: Vec<_> = t.segments.iter().map(|s| s.confidence).collect();
        assert!((confidences[0].unwrap() - 0.8).abs() < 1e-9);
        assert_eq!(confidences[1], Some(0.6));
        // The word without a confidence does not drag the mean down.
        assert_eq!(confidences[2], Some(0.5));
        // An empty `transcript` falls back to the segments.
        assert_eq!(t.text.as_deref(), Some("How are you? Fine. and you?"));
    }

    #[test]
    fn empty_utterances_fall_back_to_words() {
        let json = r#"{"results":{"utterances":[],"channels":[{"alternatives":[{
            "transcript":"Hello there.",
            "words":[{"word":"hello","start":0.1,"end":0.4},{"word":"there","start":0.4,"end":0.9}]}]}]}}"#;
        let t = parse(json.as_bytes()).unwrap();
        assert_eq!(t.segments.len(), 1);
        let s = &t.segments[0];
        assert_eq!((s.start_ms, s.end_ms), (100, 900));
        assert_eq!(s.text, "hello there");
        assert_eq!(s.speaker, None);
        assert_eq!(s.confidence, None);
        assert_eq!(t.text.as_deref(), Some("Hello there."));
        assert_eq!(t.duration_ms, None);
    }

    #[test]
    fn missing_optional_parts_are_tolerated() {
        let t = parse(br#"{"results":{}}"#).unwrap();
        assert_eq!(t, Transcript::default());
        let t = parse(
            br#"{"metadata":null,"results":{"channels":[{"alternatives":[]}],"utterances":null}}"#,
        )
        .unwrap();
        assert_eq!(t, Transcript::default());
        let t = parse(
            br#"{"results":{"utterances":[{"transcript":" Hi ","speaker":"2"},{"transcript":""},{"start":1.0,"end":2.0,"transcript":"Yes","speaker":1.0}]}}"#,
        )
        .unwrap();
        let got = timeline(&t);
        assert_eq!(
            got,
            [(0, 0, Some("2"), "Hi"), (1_000, 2_000, Some("1"), "Yes")]
        );
        assert_eq!(t.text.as_deref(), Some("Hi Yes"));
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let t = parse(
            br#"{"results":{"utterances":[{"start":0,"end":1,"transcript":"He said \"ow\" \u00e9"}]}}"#,
        )
        .unwrap();
        assert_eq!(t.segments[0].text, "He said \"ow\" é");
    }

    #[test]
    fn documents_that_are_not_deepgram_responses_are_refused() {
        assert!(matches!(parse(b""), Err(ParseError::Json(_))));
        assert!(matches!(parse(b"WEBVTT\n"), Err(ParseError::Json(_))));
        assert!(matches!(parse(b"[1,2]"), Err(ParseError::Json(_))));
        assert!(matches!(parse(b"\xff\xfe{}"), Err(ParseError::Json(_))));
        // The words are transcript text: an error never quotes them.
        let err = parse(br#"{"results":{"channels":[{"alternatives":[{"words":[{"word":"x","start":"Jane Roe"}]}]}]}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("Deepgram JSON: not the Deepgram response shape at line 1"),
            "{err}"
        );
        assert!(!err.contains("Jane"), "{err}");
        let err = parse(br#"{"err_code":"Bad Request","err_msg":"bad audio"}"#).unwrap_err();
        assert!(matches!(err, ParseError::NoResults));
        assert_eq!(err.to_string(), "Deepgram JSON: no `results` object");
        assert!(matches!(
            parse(br#"{"results":null}"#),
            Err(ParseError::NoResults)
        ));
        let err = parse(br#"{"results":{"utterances":[{"start":"soon"}]}}"#).unwrap_err();
        assert!(err.to_string().starts_with("Deepgram JSON: "), "{err}");
    }
}

//! Speaker labels and roles: how a label in a transcript file is recognized and numbered,
//! and the one mapping from a speaker label to a role, used by every provider and format.

/// A leading `Name: text` speaker prefix: `(Name, text)`. The name must look like a label,
/// not the start of a sentence: at most 40 characters and four words, starting with a letter,
/// every word capitalized (or a number), and the colon followed by a space or the line end
/// (so `at 10:30` is text).
pub(super) fn split_label(line: &str) -> Option<(&str, &str)> {
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
pub(super) fn numbered_speaker(label: &str) -> Option<&str> {
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
pub(super) fn speaker_id(label: &str) -> String {
    numbered_speaker(label).unwrap_or(label).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}

//! Daily's SOAP-note JSON, read on a best-effort basis: its schema is not published (the
//! `soap-notes` preset appears only on older pages), so the shapes an LLM-backed service is
//! likely to produce are accepted and anything else yields a note without sections. The
//! caller keeps the raw JSON; this only makes the common case readable.
//!
//! Accepted shapes, possibly inside `{"soap": …}`, `{"note": …}` or `{"soap_note": …}`:
//! - `{"subjective": …, "objective": …, "assessment": …, "plan": …, …}` (keys in any case or
//!   spelling: `Subjective`, `SUBJECTIVE`; other keys become sections too);
//! - `{"sections": [{"key"|"title"|"name": …, "text"|"content": …}, …]}`, or the bare array.
//!
//! Values may be strings, arrays or nested objects; they are flattened to lines of text.
//! Sections come S, O, A, P first, then the others. (`serde_json::Map` keeps keys sorted
//! unless its `preserve_order` feature is on, so "the others" of an object come in key order.)

use serde_json::{Map, Value};

use crate::record::{Note, Section};

/// Wrappers nest a few levels at most; deeper input is not a note.
const MAX_WRAPPERS: usize = 4;
/// Bound on recursion into nested values (serde_json's own limit is 128).
const MAX_DEPTH: usize = 32;

const SOAP: [(&str, &str); 4] = [
    ("SUBJECTIVE", "Subjective"),
    ("OBJECTIVE", "Objective"),
    ("ASSESSMENT", "Assessment"),
    ("PLAN", "Plan"),
];

/// Keys of a flat note that describe the document rather than hold a section.
const ENVELOPE: [&str; 10] = [
    "TITLE",
    "ID",
    "TYPE",
    "VERSION",
    "LANGUAGE",
    "METADATA",
    "CREATED_AT",
    "UPDATED_AT",
    "SECTIONS",
    "STATUS",
];

/// Best-effort SOAP sections from Daily's SOAP JSON (schema unconfirmed).
pub fn note_from_soap(value: &Value) -> Note {
    let mut note = Note::default();
    read(value, 0, &mut note);
    // A stable sort: the four SOAP sections first, everything else in the order read.
    note.sections.sort_by_key(|s| soap_rank(&s.key));
    note
}

fn read(value: &Value, depth: usize, note: &mut Note) {
    match value {
        Value::Array(items) => from_items(items, note),
        Value::Object(map) if depth <= MAX_WRAPPERS => {
            if note.title.is_none() {
                note.title = field(map, &["title"])
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned);
            }
            if map.keys().any(|k| soap_rank(&upper_snake(k)) < SOAP.len()) {
                from_map(map, note);
            } else if let Some(sections) = field(map, &["sections"]) {
                match sections {
                    Value::Array(items) => from_items(items, note),
                    Value::Object(inner) => from_map(inner, note),
                    _ => {}
                }
            } else if let Some(inner) = map
                .iter()
                .find(|(k, _)| matches!(upper_snake(k).as_str(), "SOAP" | "NOTE" | "SOAP_NOTE"))
                .map(|(_, v)| v)
            {
                read(inner, depth + 1, note);
            }
        }
        _ => {}
    }
}

/// `{"subjective": "…", "chief_complaint": […], …}`: one section per content key.
fn from_map(map: &Map<String, Value>, note: &mut Note) {
    for (name, value) in map {
        let key = upper_snake(name);
        if key.is_empty() || ENVELOPE.contains(&key.as_str()) {
            continue;
        }
        let title = human_title(name);
        add(note, key, title, flatten(value, 0));
    }
}

/// `[{"key": "subjective", "text": "…"}, {"title": "Plan", "content": ["…"]}]`.
fn from_items(items: &[Value], note: &mut Note) {
    for item in items {
        let Value::Object(map) = item else { continue };
        let str_field = |names: &[&str]| {
            field(map, names)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let Some(name) = str_field(&["key", "title", "name"]) else {
            continue;
        };
        let text = field(map, &["text", "content"]).map_or_else(String::new, |v| flatten(v, 0));
        let title = str_field(&["title", "name"]).map_or_else(|| human_title(name), str::to_owned);
        add(note, upper_snake(name), title, text);
    }
}

/// Adds a section; text for a key seen before is appended to it, so keys stay unique.
fn add(note: &mut Note, key: String, title: String, text: String) {
    if key.is_empty() || text.is_empty() {
        return;
    }
    match note.sections.iter_mut().find(|s| s.key == key) {
        Some(section) => {
            section.text.push('\n');
            section.text.push_str(&text);
        }
        None => note.sections.push(Section {
            key,
            title: Some(title),
            text,
        }),
    }
}

/// The first of `names` present in `map`, compared case-insensitively.
fn field<'a>(map: &'a Map<String, Value>, names: &[&str]) -> Option<&'a Value> {
    names.iter().find_map(|name| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// Text lines from any JSON value: strings as they are, list items one per line, nested
/// objects as `Label: value` lines.
fn flatten(value: &Value, depth: usize) -> String {
    if depth > MAX_DEPTH {
        return String::new();
    }
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_owned(),
        Value::Array(items) => join_lines(items.iter().map(|v| flatten(v, depth + 1))),
        Value::Object(map) => join_lines(map.iter().map(|(k, v)| {
            let text = flatten(v, depth + 1);
            if text.is_empty() {
                text
            } else if text.contains('\n') {
                format!("{}:\n{text}", human_title(k))
            } else {
                format!("{}: {text}", human_title(k))
            }
        })),
    }
}

fn join_lines(parts: impl Iterator<Item = String>) -> String {
    let mut out = String::new();
    for part in parts.filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&part);
    }
    out
}

/// S, O, A, P → 0–3; any other key → 4.
fn soap_rank(key: &str) -> usize {
    SOAP.iter()
        .position(|(k, _)| *k == key)
        .unwrap_or(SOAP.len())
}

/// The words of a key: split at anything not alphanumeric and at camelCase humps.
fn words(key: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = None;
    let mut prev_lower = false;
    for (i, c) in key.char_indices() {
        if c.is_alphanumeric() {
            match start {
                Some(s) if prev_lower && c.is_uppercase() => {
                    out.push(&key[s..i]);
                    start = Some(i);
                }
                Some(_) => {}
                None => start = Some(i),
            }
            prev_lower = c.is_lowercase();
        } else if let Some(s) = start.take() {
            out.push(&key[s..i]);
            prev_lower = false;
        }
    }
    out.extend(start.map(|s| &key[s..]));
    out
}

/// The contract's key style: `chiefComplaint`, `Chief complaint` → `CHIEF_COMPLAINT`.
fn upper_snake(key: &str) -> String {
    words(key)
        .iter()
        .map(|w| w.to_uppercase())
        .collect::<Vec<_>>()
        .join("_")
}

/// A heading for a key in sentence case: `chief_complaint` → `Chief complaint`,
/// `ASSESSMENT_AND_PLAN` → `Assessment and plan`; short acronyms (`HPI`) stay.
fn human_title(key: &str) -> String {
    let upper = upper_snake(key);
    if let Some((_, title)) = SOAP.iter().find(|(k, _)| *k == upper) {
        return (*title).to_owned();
    }
    let words = words(key);
    let shouting = words.iter().all(|w| !w.chars().any(char::is_lowercase))
        && (words.len() > 1 || words.iter().any(|w| w.chars().count() > 4));
    let mut out = String::new();
    for (index, word) in words.iter().enumerate() {
        let acronym = !shouting
            && word
                .chars()
                .filter(|c| c.is_alphabetic())
                .all(char::is_uppercase);
        let word = if acronym {
            (*word).to_owned()
        } else {
            word.to_lowercase()
        };
        if index > 0 {
            out.push(' ');
            out.push_str(&word);
        } else {
            let mut chars = word.chars();
            out.extend(chars.next().into_iter().flat_map(char::to_uppercase));
            out.push_str(chars.as_str());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn keys_and_texts(note: &Note) -> Vec<(&str, Option<&str>, &str)> {
        note.sections
            .iter()
            .map(|s| (s.key.as_str(), s.title.as_deref(), s.text.as_str()))
            .collect()
    }

    #[test]
    fn flat_soap_object_in_any_case() {
        let note = note_from_soap(&json!({
            "title": "Chest pain follow-up",
            "Plan": ["ECG today", "Troponin at 0 and 3 h"],
            "ASSESSMENT": "Possible unstable angina.",
            "subjective": "55-year-old with 40 minutes of central chest pressure.",
            "objective": {"exam": "Clear chest.", "vitals": {"BP": "150/90", "HR": 88}},
            "allergies": "None known",
            "id": "note_123"
        }));
        assert_eq!(note.title.as_deref(), Some("Chest pain follow-up"));
        assert_eq!(
            keys_and_texts(&note),
            [
                (
                    "SUBJECTIVE",
                    Some("Subjective"),
                    "55-year-old with 40 minutes of central chest pressure."
                ),
                (
                    "OBJECTIVE",
                    Some("Objective"),
                    "Exam: Clear chest.\nVitals:\nBP: 150/90\nHR: 88"
                ),
                (
                    "ASSESSMENT",
                    Some("Assessment"),
                    "Possible unstable angina."
                ),
                ("PLAN", Some("Plan"), "ECG today\nTroponin at 0 and 3 h"),
                ("ALLERGIES", Some("Allergies"), "None known"),
            ]
        );
    }

    #[test]
    fn sections_array_and_wrappers() {
        let note = note_from_soap(&json!({
            "soap": {
                "sections": [
                    {"key": "chief_complaint", "text": "Chest pain"},
                    {"title": "Plan", "content": ["Admit", "  "]},
                    {"name": "Assessment and Plan", "text": "See above"},
                    {"key": "subjective", "content": {"HPI": "Sudden onset", "social": null}},
                    {"key": "Subjective", "text": "Smoker, 25 years"},
                    {"text": "no key"},
                    {"key": "empty", "text": ""},
                    "not an object"
                ]
            }
        }));
        assert_eq!(note.title, None);
        assert_eq!(
            keys_and_texts(&note),
            [
                (
                    "SUBJECTIVE",
                    Some("Subjective"),
                    "HPI: Sudden onset\nSmoker, 25 years"
                ),
                ("PLAN", Some("Plan"), "Admit"),
                ("CHIEF_COMPLAINT", Some("Chief complaint"), "Chest pain"),
                (
                    "ASSESSMENT_AND_PLAN",
                    Some("Assessment and Plan"),
                    "See above"
                ),
            ]
        );

        let note = note_from_soap(
            &json!({"note": {"title": "Visit", "soapNote": {"Objective": "Afebrile"}}}),
        );
        assert_eq!(note.title.as_deref(), Some("Visit"));
        assert_eq!(
            keys_and_texts(&note),
            [("OBJECTIVE", Some("Objective"), "Afebrile")]
        );

        let note = note_from_soap(&json!([{"title": "History of Present Illness", "text": "x"}]));
        assert_eq!(
            keys_and_texts(&note),
            [(
                "HISTORY_OF_PRESENT_ILLNESS",
                Some("History of Present Illness"),
                "x"
            )]
        );
    }

    #[test]
    fn unrecognized_shapes_give_no_sections() {
        for value in [
            json!(null),
            json!("Subjective: chest pain"),
            json!(42),
            json!({}),
            json!({"summary": "A chat about chest pain."}),
            json!({"sections": "nope"}),
            json!({"note": {"note": {"note": {"note": {"note": {"note": {"plan": "too deep"}}}}}}}),
        ] {
            assert!(note_from_soap(&value).sections.is_empty(), "{value}");
        }
    }

    #[test]
    fn deeply_nested_values_do_not_overflow() {
        let mut value = json!("bottom");
        for _ in 0..200 {
            value = json!([value]);
        }
        let note = note_from_soap(&json!({"plan": value}));
        assert!(note.sections.is_empty());
    }

    fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "[a-zA-Z _:]{0,12}".prop_map(Value::String),
        ];
        let key = prop_oneof![
            "(?i)(subjective|objective|assessment|plan|soap|note|soap_note|sections|title|key|text|name|content)",
            "[a-zA-Z_ -]{0,8}",
        ];
        leaf.prop_recursive(6, 64, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map(key.clone(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn any_json_gives_unique_keys_in_soap_order(value in any_json()) {
            let note = note_from_soap(&value);
            let ranks: Vec<usize> = note.sections.iter().map(|s| soap_rank(&s.key)).collect();
            proptest::prop_assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");
            for (i, section) in note.sections.iter().enumerate() {
                proptest::prop_assert!(!section.key.is_empty() && !section.text.is_empty());
                proptest::prop_assert!(note.sections[..i].iter().all(|s| s.key != section.key));
            }
        }
    }

    #[test]
    fn keys_are_upper_snaked_and_titled() {
        assert_eq!(upper_snake("chiefComplaint"), "CHIEF_COMPLAINT");
        assert_eq!(upper_snake("Chief complaint"), "CHIEF_COMPLAINT");
        assert_eq!(
            upper_snake("history-of-present-illness"),
            "HISTORY_OF_PRESENT_ILLNESS"
        );
        assert_eq!(upper_snake("ASSESSMENT_AND_PLAN"), "ASSESSMENT_AND_PLAN");
        assert_eq!(upper_snake("  "), "");
        assert_eq!(human_title("chief_complaint"), "Chief complaint");
        assert_eq!(human_title("chiefComplaint"), "Chief complaint");
        assert_eq!(human_title("ASSESSMENT_AND_PLAN"), "Assessment and plan");
        assert_eq!(human_title("HPI"), "HPI");
        assert_eq!(human_title("ALLERGIES"), "Allergies");
        assert_eq!(human_title("PLAN"), "Plan");
        assert_eq!(human_title("review of ROS"), "Review of ROS");
    }
}

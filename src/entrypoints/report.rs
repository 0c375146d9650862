//! A readable summary of merged records, for people at a terminal (`scribehook records`
//! and `make demo`). The records themselves stay JSON; this only reads them. Everything
//! taken from a record is what a provider sent, so it is printed with control characters
//! escaped: an escape sequence in a subject id or a transcript is shown, not run
//! (docs/cli.md).

use std::fmt::Write;

use crate::record::{Artifact, Diagnosis, Transcript};
use crate::record::{Component, Record};
use crate::telemetry::Escaped;

/// Text from a record, escaped for the terminal.
fn shown(text: &str) -> String {
    Escaped(text).to_string()
}

fn clip(text: &str, max: usize) -> String {
    // One line: a note's list items, one per line, stay apart.
    let text = text
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    if text.chars().count() <= max {
        shown(&text)
    } else {
        shown(&format!("{}…", text.chars().take(max).collect::<String>()))
    }
}

fn clock(ms: i64) -> String {
    format!(
        "{:02}:{:02}.{:03}",
        ms / 60_000,
        (ms / 1000) % 60,
        ms % 1000
    )
}

fn status_line(name: &str, c: &Component) -> String {
    let mut line = format!(
        "    {name:<12} {:<10} {} ({})",
        format!("{:?}", c.status).to_lowercase(),
        c.updated_at,
        shown(&c.event_type)
    );
    if let Some(error) = &c.content.error {
        let _ = write!(
            line,
            "  error {}: {}",
            shown(&error.code),
            clip(&error.message, 80)
        );
    }
    line
}

/// The record's revision, whether it is complete, and how far its notifications were
/// confirmed (docs/behaviour.md#revisions-and-publication).
fn revision_line(record: &Record) -> String {
    let facts = crate::pipeline::notify::Facts::of(record);
    let complete = if facts.complete {
        "complete"
    } else {
        "not complete"
    };
    let reasons = facts.reasons;
    let attention = if reasons.is_empty() {
        String::new()
    } else {
        let codes: Vec<&str> = reasons.iter().map(String::as_str).collect();
        format!(", needs attention: {}", codes.join(" "))
    };
    let notified = match record.notified.revision {
        0 => "none notified".to_owned(),
        n if n == record.revision => "notified".to_owned(),
        n => format!("notified up to revision {n}"),
    };
    format!(
        "    revision {}, {complete}{attention}, {notified}",
        record.revision
    )
}

/// The summary of one record: header, revision and completeness, component statuses,
/// then the first transcript lines, note sections, summary and artifacts.
pub fn summarize(record: &Record) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}  (updated {}, {} event{}{}{})",
        record.provider,
        shown(&record.subject_id),
        record.updated_at,
        record.events.len(),
        if record.events.len() == 1 { "" } else { "s" },
        record
            .deleted_at
            .map(|t| format!(", deleted {t}"))
            .unwrap_or_default(),
        record
            .purged_at
            .map(|t| format!(", content purged {t}"))
            .unwrap_or_default()
    );
    let _ = writeln!(out, "{}", revision_line(record));
    let c = &record.components;
    let named = [
        ("recording", &c.recording),
        ("transcript", &c.transcript),
        ("summary", &c.summary),
        ("note", &c.note),
        ("job", &c.job),
        ("device", &c.device),
        ("instructions", &c.instructions),
    ];
    for (name, component) in named {
        if let Some(component) = component {
            let _ = writeln!(out, "{}", status_line(name, component));
        }
    }
    if named.iter().all(|(_, c)| c.is_none()) {
        // Events this release records as `other` (Daily's meeting.*, participant.*, …)
        // are kept as event items but carry nothing to merge.
        let _ = writeln!(
            out,
            "    no component: only events recorded as category `other` (their details are in the event items)"
        );
    }
    if let Some(t) = c
        .transcript
        .as_ref()
        .and_then(|c| c.content.transcript.as_ref())
    {
        transcript_lines(&mut out, t);
    }
    if let Some(note) = c.note.as_ref().and_then(|c| c.content.note.as_ref()) {
        if let Some(title) = &note.title {
            let _ = writeln!(out, "      note: {}", clip(title, 80));
        }
        for s in &note.sections {
            let _ = writeln!(out, "      {}: {}", shown(&s.key), clip(&s.text, 80));
        }
    }
    if let Some(diagnoses) = c.note.as_ref().and_then(|c| c.content.diagnoses.as_ref()) {
        diagnosis_line(&mut out, diagnoses);
    }
    if let Some(instructions) = c
        .instructions
        .as_ref()
        .and_then(|c| c.content.instructions.as_ref())
    {
        let _ = writeln!(
            out,
            "      instructions: {}",
            first_words(&instructions.text, 80)
        );
    }
    if let Some(summary) = c.summary.as_ref().and_then(|c| c.content.summary.as_ref()) {
        let _ = writeln!(out, "      summary: {}", clip(&summary.text, 160));
    }
    if let Some(artifacts) = c.job.as_ref().and_then(|c| c.content.artifacts.as_ref()) {
        artifact_lines(&mut out, artifacts);
    }
    out
}

/// The first three segments, with who spoke.
fn transcript_lines(out: &mut String, t: &Transcript) {
    for s in t.segments.iter().take(3) {
        let who = match (&s.speaker, s.role) {
            (Some(speaker), Some(role)) => {
                format!(
                    "{} ({})",
                    shown(speaker),
                    format!("{role:?}").to_lowercase()
                )
            }
            (Some(speaker), None) => shown(speaker),
            (None, Some(role)) => format!("{role:?}").to_lowercase(),
            (None, None) => "-".into(),
        };
        let _ = writeln!(
            out,
            "      [{}] {who}: {}",
            clock(s.start_ms),
            clip(&s.text, 90)
        );
    }
    if t.segments.len() > 3 {
        let _ = writeln!(out, "      … {} more segments", t.segments.len() - 3);
    }
}

/// The suggested diagnosis codes on one line: each code with the first words of its
/// display text and its HCC/MCC flags, at most three; the code system once when all share it.
fn diagnosis_line(out: &mut String, diagnoses: &[Diagnosis]) {
    let first = diagnoses.first().and_then(|d| d.system.as_deref());
    let one_system = diagnoses.iter().all(|d| d.system.as_deref() == first);
    let shown: Vec<String> = diagnoses
        .iter()
        .take(3)
        .map(|d| {
            let mut item = String::new();
            if let (false, Some(system)) = (one_system, &d.system) {
                let _ = write!(item, "{} ", clip(system, 20));
            }
            item.push_str(&clip(&d.code, 20));
            if let Some(display) = &d.display {
                let _ = write!(item, " {}", first_words(display, 32));
            }
            for (flag, set) in [("HCC", d.hcc), ("MCC", d.mcc)] {
                if set == Some(true) {
                    let _ = write!(item, " [{flag}]");
                }
            }
            item
        })
        .collect();
    let more = match diagnoses.len().saturating_sub(shown.len()) {
        0 => String::new(),
        n => format!("; … {n} more"),
    };
    let system = first
        .filter(|_| one_system)
        .map(|s| format!(" ({})", clip(s, 20)))
        .unwrap_or_default();
    let _ = writeln!(out, "      diagnoses{system}: {}{more}", shown.join("; "));
}

/// The words of `text` that fit in `max` characters (at least the first), with `…` when
/// some are left out.
fn first_words(text: &str, max: usize) -> String {
    let mut kept = String::new();
    for word in text.split_whitespace() {
        if !kept.is_empty() && kept.chars().count() + 1 + word.chars().count() > max {
            kept.push('…');
            break;
        }
        if !kept.is_empty() {
            kept.push(' ');
        }
        kept.push_str(word);
    }
    // clip escapes what it prints; the length is already bounded here, word by word.
    clip(&kept, usize::MAX)
}

/// Each Daily output: fetched or not, and why.
fn artifact_lines(out: &mut String, artifacts: &[Artifact]) {
    for a in artifacts {
        let state = if a.fetched {
            format!("fetched {} bytes", a.bytes.unwrap_or_default())
        } else {
            "not fetched".into()
        };
        // Reasons start with "not fetched:" themselves; say it once.
        let reason = a
            .reason
            .as_deref()
            .map(|r| r.strip_prefix("not fetched: ").unwrap_or(r))
            .map(|r| format!(": {}", clip(r, 90)))
            .unwrap_or_default();
        let kind = format!("{:?}", a.kind).to_lowercase();
        let _ = writeln!(out, "      {kind} {} {state}{reason}", shown(&a.format));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Provider;
    use crate::record::{Category, EventDraft, Role, Segment, Status, Timestamp, Transcript};

    #[test]
    fn summaries_show_statuses_and_the_first_lines() {
        let mut draft = EventDraft::new(
            "evt_1",
            "transcription.completed",
            Category::Transcript,
            "rec_1",
            Status::Completed,
            Timestamp::from_unix(0),
        );
        draft.content.transcript = Some(crate::record::Shared::new(Transcript {
            segments: (0..5)
                .map(|i| Segment {
                    start_ms: i * 61_500,
                    end_ms: i * 61_500 + 1000,
                    speaker: Some("DOCTOR".into()),
                    role: Some(Role::Clinician),
                    text: format!("line {i}"),
                    confidence: None,
                })
                .collect(),
            ..Transcript::default()
        }));
        let event = draft.finish(Provider::Nabla, Timestamp::from_unix(1).unwrap(), None);
        let text = summarize(&crate::record::merge(&[event]).unwrap());
        assert!(
            text.starts_with("nabla rec_1  (updated 1970-01-01T00:00:00Z, 1 event)"),
            "{text}"
        );
        assert!(text.contains("transcript   completed"), "{text}");
        assert!(
            text.contains("revision 0, complete, none notified"),
            "{text}"
        );
        assert!(
            text.contains("[01:01.500] DOCTOR (clinician): line 1"),
            "{text}"
        );
        assert!(text.contains("… 2 more segments"), "{text}");
    }

    #[test]
    fn list_items_stay_apart_and_a_purge_is_marked() {
        let mut draft = EventDraft::new(
            "evt_1",
            "batch-processor.job-finished",
            Category::Note,
            "job_1",
            Status::Completed,
            Timestamp::from_unix(0),
        );
        draft.content.note = Some(crate::record::Note {
            title: None,
            sections: vec![crate::record::Section {
                key: "PLAN".into(),
                title: None,
                text: "Physiotherapy, six sessions\nIbuprofen 400 mg".into(),
            }],
        });
        let event = draft.finish(Provider::Daily, Timestamp::from_unix(1).unwrap(), None);
        let mut record = crate::record::merge(&[event]).unwrap();
        let text = summarize(&record);
        assert!(
            text.contains("PLAN: Physiotherapy, six sessions; Ibuprofen 400 mg"),
            "{text}"
        );
        record.erase(Timestamp::from_unix(2).unwrap());
        let text = summarize(&record);
        assert!(
            text.contains(", content purged 1970-01-01T00:00:02Z)"),
            "{text}"
        );
    }

    #[test]
    fn summaries_show_diagnoses_and_instructions_briefly() {
        use crate::record::{Diagnosis, Instructions, Note, Section};
        let mut note = EventDraft::new(
            "req_1",
            "NOTE_EXPORT",
            Category::Note,
            "enc_1",
            Status::Completed,
            Timestamp::from_unix(0),
        );
        note.content.note = Some(Note {
            title: None,
            sections: vec![Section {
                key: "CHIEF_COMPLAINT".into(),
                title: Some("Chief complaint".into()),
                text: "Right knee pain.".into(),
            }],
        });
        note.content.diagnoses = Some(
            (0..7)
                .map(|i| Diagnosis {
                    system: Some("ICD-10".into()),
                    code: format!("M25.56{i}"),
                    display: Some(format!(
                        "Pain in knee, a display text long enough to be cut {i}"
                    )),
                    hcc: Some(i == 1),
                    mcc: Some(false),
                })
                .collect(),
        );
        let mut instructions = EventDraft::new(
            "req_2",
            "PATIENT_INSTRUCTIONS_EXPORT",
            Category::Instructions,
            "enc_1",
            Status::Completed,
            Timestamp::from_unix(1),
        );
        instructions.content.instructions = Some(Instructions {
            text: "Ice the knee twice a day. ".repeat(10),
        });
        let events = [note, instructions].map(|d| {
            d.finish(
                Provider::NablaConnect,
                Timestamp::from_unix(2).unwrap(),
                None,
            )
        });
        let text = summarize(&crate::record::merge(&events).unwrap());
        assert!(text.contains("instructions completed  "), "{text}");
        assert!(text.contains("CHIEF_COMPLAINT: Right knee pain."), "{text}");
        assert!(
            text.contains(
                "diagnoses (ICD-10): M25.560 Pain in knee, a display text…; M25.561 Pain in knee, a display text… [HCC]; M25.562 Pain in knee, a display text…; … 4 more\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("instructions: Ice the knee twice a day. Ice the knee"),
            "{text}"
        );
        assert!(text.contains("…\n"), "{text}");
    }
}

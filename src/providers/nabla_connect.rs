//! Nabla Connect, Nabla's integration protocol with EHRs (beta): when the clinician clicks
//! "Export Note", Nabla calls the EHR's endpoint with the note, the transcript and the visit
//! diagnoses, or with the patient instructions (docs/provider-guide.md#nabla-connect).
//!
//! `x-nabla-connect-signature` holds one or more hex HMAC-SHA256 digests, comma-separated,
//! each over `x-nabla-connect-timestamp` ‖ raw body (no separator) keyed with the secret's
//! UTF-8 bytes; the timestamp is ISO 8601 and Nabla asks for a 60 s window. Body
//! `{request_uuid, type, data}`; the answer echoes `request_uuid`, and a type this release
//! does not take is a 400 `unknown_type` (Nabla's protocol asks for it). The record is the
//! EHR's encounter (`external_encounter_id`), so a re-export after the clinician edits the
//! note folds into the same record and, being later, wins.

use http::HeaderMap;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::completed;
use super::nabla::{self, TranscriptItem};
use super::scheme::{Clock, Content, Digest, Encoding, Grammar, KeyEncoding, Scheme};
use super::{no_extra_headers, non_empty, read_json, MalformedEvent, Provider, Spec};
use crate::record::Record;
use crate::record::{
    Category, Diagnosis, EventDraft, Instructions, Note, Section, Status, Timestamp, Transcript,
};

const SIGNATURE_HEADER: &str = "x-nabla-connect-signature";
const TIMESTAMP_HEADER: &str = "x-nabla-connect-timestamp";

/// hex(HMAC-SHA256(secret as UTF-8, timestamp ‖ body)), one per active secret.
const SCHEME: Scheme = Scheme {
    provider: Provider::NablaConnect,
    header: (SIGNATURE_HEADER, SIGNATURE_HEADER),
    grammar: Grammar::List { prefixes: &[] },
    clock: Clock::DateTimeHeader(TIMESTAMP_HEADER, TIMESTAMP_HEADER),
    content: Content::TimestampBody,
    digest: Digest::HmacSha256,
    encoding: Encoding::Hex,
};

/// Nabla Connect, as the rest of the program sees it.
pub(crate) const SPEC: Spec = Spec {
    title: "Nabla Connect",
    key_encoding: KeyEncoding::Utf8,
    schemes: &[("rfc3339", SCHEME)],
    archived_headers: &[SIGNATURE_HEADER, TIMESTAMP_HEADER],
    // "Reject a timestamp older than 60 seconds" (Nabla Connect's callback authentication).
    tolerance_secs: Some(60),
    verify: |delivery, ex| SCHEME.verify(delivery, ex),
    sign_extra: no_extra_headers,
    normalize,
    volatile_fields: &[],
    endpoint_check: None,
    ping: None,
    echo_event_id: Some("request_uuid"),
    jwt_authorizer: true,
    sample_secret: "scribehook-demo-nabla-connect",
    complete,
};

/// A note exported (`NOTE_EXPORT`, status completed); patient instructions alone are not
/// the encounter's note (docs/behaviour.md#completeness).
fn complete(record: &Record) -> bool {
    completed(record.components.note.as_ref())
}

// ---------------------------------------------------------------------------------------
// Event model (Nabla Connect's "Callback types"; every field optional that can be, the
// protocol being beta)

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default)]
    request_uuid: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    #[serde(borrow)]
    data: &'a RawValue,
}

/// The EHR's own ids, which every callback carries.
#[derive(Deserialize)]
struct Ids {
    #[serde(default)]
    external_encounter_id: Option<String>,
    #[serde(default)]
    external_patient_id: Option<String>,
    #[serde(default)]
    external_provider_id: Option<String>,
}

#[derive(Deserialize)]
struct NoteExport {
    #[serde(default)]
    note: Option<NoteData>,
    #[serde(default)]
    transcript: Option<Vec<TranscriptItem>>,
    #[serde(default)]
    visit_diagnoses: Option<Vec<VisitDiagnosis>>,
}

#[derive(Deserialize)]
struct NoteData {
    #[serde(default)]
    sections: Vec<NoteSection>,
}

#[derive(Deserialize)]
struct NoteSection {
    #[serde(default)]
    content: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    category: Option<String>,
}

#[derive(Deserialize)]
struct VisitDiagnosis {
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    display: Option<String>,
    #[serde(default)]
    is_hcc: Option<bool>,
    #[serde(default)]
    is_mcc: Option<bool>,
}

#[derive(Deserialize)]
struct InstructionsExport {
    #[serde(default)]
    patient_instructions: Option<PatientInstructions>,
}

#[derive(Deserialize)]
struct PatientInstructions {
    #[serde(default)]
    instructions: Option<String>,
}

const NOTE_EXPORT: &str = "NOTE_EXPORT";
const PATIENT_INSTRUCTIONS_EXPORT: &str = "PATIENT_INSTRUCTIONS_EXPORT";

fn normalize(headers: &HeaderMap, body: &[u8]) -> Result<EventDraft, MalformedEvent> {
    let p = Provider::NablaConnect;
    let envelope: Envelope = read_json(p, "", body)?;
    let category = match envelope.kind.as_str() {
        NOTE_EXPORT => Category::Note,
        PATIENT_INSTRUCTIONS_EXPORT => Category::Instructions,
        _ => {
            return Err(MalformedEvent::unknown_type(format!(
                "Nabla Connect callback type is not one this release takes (expected \
                 {NOTE_EXPORT} or {PATIENT_INSTRUCTIONS_EXPORT})"
            )))
        }
    };
    let request_uuid = non_empty(envelope.request_uuid.as_deref())
        .ok_or_else(|| MalformedEvent::new("Nabla Connect callback has no request_uuid"))?;
    let data = envelope.data.get().as_bytes();
    let ids: Ids = read_json(p, "data", data)?;
    let encounter = non_empty(ids.external_encounter_id.as_deref()).ok_or_else(|| {
        MalformedEvent::new("Nabla Connect callback has no data.external_encounter_id")
    })?;
    // The signed timestamp is the callback's time: a later export of the same encounter wins.
    let occurred_at = headers
        .get(TIMESTAMP_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(Timestamp::parse);
    let mut event = EventDraft::new(
        request_uuid,
        envelope.kind.as_str(),
        category,
        encounter,
        Status::Completed,
        occurred_at,
    );
    event.relate("external_patient_id", ids.external_patient_id.as_deref());
    event.relate("external_provider_id", ids.external_provider_id.as_deref());
    match category {
        Category::Note => note_export(&mut event, read_json(p, "data", data)?),
        _ => instructions_export(&mut event, read_json(p, "data", data)?),
    }
    Ok(event)
}

fn note_export(event: &mut EventDraft, export: NoteExport) {
    let content = &mut event.content;
    content.note = export.note.map(|note| Note {
        title: None,
        sections: note.sections.into_iter().map(section).collect(),
    });
    content.transcript = export
        .transcript
        .filter(|items| !items.is_empty())
        .map(|items| transcript(items).into());
    content.diagnoses = export
        .visit_diagnoses
        .map(|list| list.into_iter().filter_map(diagnosis).collect());
}

fn instructions_export(event: &mut EventDraft, export: InstructionsExport) {
    event.content.instructions = export
        .patient_instructions
        .and_then(|p| p.instructions)
        .map(|text| Instructions { text });
}

/// A section under its category (several may share one), or `OTHER` for none.
fn section(s: NoteSection) -> Section {
    Section {
        key: s
            .category
            .as_deref()
            .map(str::trim)
            .filter(|c| is_upper_snake(c))
            .unwrap_or("OTHER")
            .to_owned(),
        title: s.title,
        text: s.content,
    }
}

/// `CHIEF_COMPLAINT`-shaped: what every section key of the format looks like.
fn is_upper_snake(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_uppercase())
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Nabla's transcript, in the first locale an utterance names.
fn transcript(items: Vec<TranscriptItem>) -> Transcript {
    let language = items
        .iter()
        .find_map(|i| non_empty(i.locale.as_deref()).map(str::to_owned));
    nabla::transcript(items, language)
}

/// A suggested diagnosis; one without a code says nothing and is left out.
fn diagnosis(d: VisitDiagnosis) -> Option<Diagnosis> {
    Some(Diagnosis {
        code: non_empty(d.code.as_deref())?.to_owned(),
        system: d.system,
        display: d.display,
        hcc: d.is_hcc,
        mcc: d.is_mcc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Role;

    fn headers(timestamp: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(TIMESTAMP_HEADER, timestamp.parse().unwrap());
        headers
    }

    const NOTE: &str = r#"{
        "request_uuid": "6b1f0c1e-0a2b-4c3d-9e8f-0123456789ab",
        "type": "NOTE_EXPORT",
        "data": {
            "external_patient_id": "pat-1",
            "external_encounter_id": "enc-42",
            "external_provider_id": "prov-7",
            "note": {"sections": [
                {"content": "Knee pain.", "title": "Chief complaint", "category": "CHIEF_COMPLAINT"},
                {"content": "Rest.", "title": "Plan", "category": null},
                {"content": "Ice.", "title": "Plan 2", "category": "ASSESSMENT_AND_PLAN"}
            ]},
            "transcript": [
                {"text": "What brings you in?", "speaker_type": "PROVIDER", "locale": "ENGLISH_US",
                 "start_offset_ms": 0, "end_offset_ms": 1500},
                {"text": "My knee.", "speaker_type": "PATIENT", "locale": "ENGLISH_US",
                 "start_offset_ms": 1500, "end_offset_ms": 2400}
            ],
            "visit_diagnoses": [
                {"system": "ICD-10", "code": "M25.561", "display": "Pain in right knee",
                 "is_hcc": false, "is_mcc": false},
                {"system": "ICD-10", "code": ""}
            ]
        }
    }"#;

    #[test]
    fn a_note_export_is_the_encounter_s_completed_note() {
        let event = normalize(&headers("2026-12-07T17:24:59Z"), NOTE.as_bytes()).unwrap();
        assert_eq!(event.event_id, "6b1f0c1e-0a2b-4c3d-9e8f-0123456789ab");
        assert_eq!(event.subject_id, "enc-42");
        assert_eq!(
            (event.category, event.status),
            (Category::Note, Status::Completed)
        );
        assert_eq!(
            event.occurred_at.unwrap().to_string(),
            "2026-12-07T17:24:59Z"
        );
        assert_eq!(event.related["external_patient_id"], "pat-1");
        assert_eq!(event.related["external_provider_id"], "prov-7");
        let keys: Vec<_> = event
            .content
            .note
            .as_ref()
            .unwrap()
            .sections
            .iter()
            .map(|s| s.key.as_str())
            .collect();
        assert_eq!(keys, ["CHIEF_COMPLAINT", "OTHER", "ASSESSMENT_AND_PLAN"]);
        let transcript = event.content.transcript.as_ref().unwrap();
        assert_eq!(transcript.language.as_deref(), Some("ENGLISH_US"));
        let roles: Vec<_> = transcript.segments.iter().map(|s| s.role).collect();
        assert_eq!(roles, [Some(Role::Clinician), Some(Role::Patient)]);
        assert_eq!(transcript.segments[1].end_ms, 2400);
        let diagnoses = event.content.diagnoses.as_ref().unwrap();
        assert_eq!(diagnoses.len(), 1, "a diagnosis without a code is left out");
        assert_eq!(diagnoses[0].code, "M25.561");
        assert_eq!(diagnoses[0].hcc, Some(false));
    }

    #[test]
    fn patient_instructions_are_their_own_kind() {
        let body = br#"{"request_uuid":"u-2","type":"PATIENT_INSTRUCTIONS_EXPORT",
            "data":{"external_encounter_id":"enc-42","patient_instructions":{"instructions":"Rest the knee."}}}"#;
        let event = normalize(&headers("2026-12-07T17:30:00Z"), body).unwrap();
        assert_eq!(event.category, Category::Instructions);
        assert_eq!(event.content.instructions.unwrap().text, "Rest the knee.");
        assert_eq!(event.subject_id, "enc-42");
    }

    #[test]
    fn unknown_types_and_missing_ids_are_refused() {
        let unknown = br#"{"request_uuid":"u","type":"ENCOUNTER_CLOSED","data":{"external_encounter_id":"e"}}"#;
        let err = normalize(&HeaderMap::new(), unknown).unwrap_err();
        assert_eq!(err.code, "unknown_type");
        assert!(!err.message.contains("ENCOUNTER_CLOSED"), "{err}");
        for (body, field) in [
            (&br#"{"type":"NOTE_EXPORT","data":{"external_encounter_id":"e"}}"#[..], "request_uuid"),
            (br#"{"request_uuid":" ","type":"NOTE_EXPORT","data":{"external_encounter_id":"e"}}"#, "request_uuid"),
            (br#"{"request_uuid":"u","type":"NOTE_EXPORT","data":{}}"#, "external_encounter_id"),
            (br#"{"request_uuid":"u","type":"NOTE_EXPORT","data":{"external_encounter_id":""}}"#, "external_encounter_id"),
        ] {
            let err = normalize(&HeaderMap::new(), body).unwrap_err();
            assert_eq!(err.code, "malformed_event");
            assert!(err.message.contains(field), "{err}");
        }
    }
}

//! Nabla Core API (docs.nabla.com), as every Nabla source that shows code signs
//! (docs/provider-guide.md#nabla, the official sample app): `x-nabla-webhook-signature` holds one or
//! several hex HMAC-SHA256 digests (split on commas and whitespace, trimmed, optional
//! `sha256=`/`v1=` prefix, either case), each over `x-nabla-webhook-timestamp` ‖ raw body
//! (no separator) keyed with the secret's UTF-8 bytes; the timestamp is RFC 3339, ISO 8601
//! without a zone (UTC), or unix seconds/milliseconds (docs/provider-guide.md). Envelope
//! `{id, type, created_at, data:{id, client_request_id, status, payload}}`.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::completed;
use super::scheme::{Clock, Content, Digest, Encoding, Grammar, KeyEncoding, Scheme};
use super::{
    no_extra_headers, read_json, read_time, Failure, Identity, MalformedEvent, Provider, Spec,
};
use crate::record::Record;
use crate::record::{
    Category, ErrorInfo, EventDraft, Note, Role, Section, Segment, Status, Transcript,
};

pub const SIGNATURE_HEADER: &str = "x-nabla-webhook-signature";
pub const TIMESTAMP_HEADER: &str = "x-nabla-webhook-timestamp";

/// hex(HMAC-SHA256(secret as UTF-8, timestamp ‖ body)), one per active secret.
const SCHEME: Scheme = Scheme {
    provider: Provider::Nabla,
    header: (SIGNATURE_HEADER, SIGNATURE_HEADER),
    grammar: Grammar::List {
        prefixes: &["v1=", "sha256="],
    },
    clock: Clock::DateTimeHeader(TIMESTAMP_HEADER, TIMESTAMP_HEADER),
    content: Content::TimestampBody,
    digest: Digest::HmacSha256,
    encoding: Encoding::Hex,
};

/// Test deliveries may be signed with the timestamp in ISO 8601 without a zone, the form of
/// Nabla's older platform; verification reads every form with [`SCHEME`].
const ZONELESS: Scheme = Scheme {
    clock: Clock::ZonelessHeader(TIMESTAMP_HEADER, TIMESTAMP_HEADER),
    ..SCHEME
};

const SCHEMES: &[(&str, Scheme)] = &[("rfc3339", SCHEME), ("iso-no-zone", ZONELESS)];

/// Nabla's Core API webhooks, as the rest of the program sees them.
pub(crate) const SPEC: Spec = Spec {
    title: "Nabla",
    key_encoding: KeyEncoding::Utf8,
    schemes: SCHEMES,
    archived_headers: &[SIGNATURE_HEADER, TIMESTAMP_HEADER],
    tolerance_secs: None,
    verify: |delivery, ex| SCHEME.verify(delivery, ex),
    sign_extra: no_extra_headers,
    normalize: |_, body| normalize(body),
    volatile_fields: &[],
    endpoint_check: None,
    ping: None,
    echo_event_id: None,
    jwt_authorizer: false,
    sample_secret: "scribehook-demo-nabla",
    complete,
};

/// The note completed; for a transcription request (no note), the transcript
/// (docs/behaviour.md#completeness).
fn complete(record: &Record) -> bool {
    let c = &record.components;
    match &c.note {
        Some(note) => completed(Some(note)),
        None => completed(c.transcript.as_ref()),
    }
}

// ---------------------------------------------------------------------------------------
// Event model (docs.nabla.com "Receive webhook events"; docs/provider-guide.md#nabla)

#[derive(Deserialize)]
struct Envelope<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, alias = "created_date", alias = "creation_date")]
    created_at: Option<String>,
    #[serde(borrow)]
    data: &'a RawValue,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    client_request_id: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, borrow)]
    payload: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct NotePayload {
    note: NabNote,
}

#[derive(Deserialize)]
struct NabNote {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    sections: Vec<NabSection>,
}

#[derive(Deserialize)]
struct NabSection {
    key: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    text: String,
}

#[derive(Deserialize)]
struct TranscriptPayload {
    transcript: Vec<TranscriptItem>,
}

/// One utterance of a Nabla transcript: the Core API's and Nabla Connect's share the shape.
#[derive(Deserialize)]
pub(super) struct TranscriptItem {
    #[serde(default)]
    text: String,
    #[serde(default, alias = "speaker")]
    speaker_type: Option<String>,
    /// Nabla Connect's `ENGLISH_US`, …
    #[serde(default)]
    pub(super) locale: Option<String>,
    #[serde(default, alias = "start_time_ms")]
    start_offset_ms: Option<f64>,
    #[serde(default, alias = "end_time_ms")]
    end_offset_ms: Option<f64>,
}

fn normalize(body: &[u8]) -> Result<EventDraft, MalformedEvent> {
    let envelope: Envelope = read_json(Provider::Nabla, "", body)?;
    let data: Data = read_json(Provider::Nabla, "data", envelope.data.get().as_bytes())?;
    let (category, status) = status_of(&envelope.kind, data.status.as_deref());
    let occurred_at = envelope
        .created_at
        .as_deref()
        .map(|t| read_time(Provider::Nabla, "created_at", t))
        .transpose()?;
    let identity = Identity {
        id: &envelope.id,
        kind: &envelope.kind,
        occurred_at,
    };
    let mut event = identity.event(category, status, data.id.as_deref());
    event.relate("client_request_id", data.client_request_id.as_deref());

    let payload = data.payload.map(|p| p.get().as_bytes());
    match (category, status, payload) {
        (Category::Note, Status::Completed, Some(p)) => {
            event.content.note = Some(note(read_json(Provider::Nabla, "data.payload", p)?));
        }
        (Category::Transcript, Status::Completed, Some(p)) => {
            event.content.transcript = Some(
                transcript(
                    read_json::<TranscriptPayload>(Provider::Nabla, "data.payload", p)?.transcript,
                    None,
                )
                .into(),
            );
        }
        (Category::Note | Category::Transcript, Status::Failed, p) => {
            event.content.error = Some(failure(p));
        }
        _ => {}
    }
    Ok(event)
}

/// The type names the outcome; `data.status` (any case across API versions) backs it.
fn status_of(kind: &str, reported: Option<&str>) -> (Category, Status) {
    let (category, outcome) = match kind.split_once('.') {
        Some(("generate_note_async", outcome)) => (Category::Note, outcome),
        Some(("transcribe_async", outcome)) => (Category::Transcript, outcome),
        _ => return (Category::Other, Status::Info),
    };
    let reported = reported.unwrap_or("").to_ascii_lowercase();
    let status = match (outcome, reported.as_str()) {
        ("succeeded", _) | (_, "succeeded") => Status::Completed,
        ("failed", _) | (_, "failed") => Status::Failed,
        (_, "ongoing") => Status::Processing,
        _ => Status::Info,
    };
    (category, status)
}

fn note(p: NotePayload) -> Note {
    Note {
        title: p.note.title,
        sections: p
            .note
            .sections
            .into_iter()
            .map(|s| Section {
                key: s.key,
                title: s.title,
                text: s.text,
            })
            .collect(),
    }
}

/// A Nabla transcript in `language` (the Core API's items say none).
pub(super) fn transcript(items: Vec<TranscriptItem>, language: Option<String>) -> Transcript {
    let segments: Vec<Segment> = items
        .into_iter()
        .map(|item| Segment {
            // Nabla's offsets are already milliseconds.
            start_ms: item.start_offset_ms.map_or(0, |ms| ms.round() as i64),
            end_ms: item.end_offset_ms.map_or(0, |ms| ms.round() as i64),
            role: Some(
                item.speaker_type
                    .as_deref()
                    .map_or(Role::Unknown, Role::of_label),
            ),
            speaker: item.speaker_type,
            text: item.text,
            confidence: None,
        })
        .collect();
    Transcript {
        language,
        duration_ms: segments.iter().map(|s| s.end_ms).max(),
        text: Some(
            segments
                .iter()
                .map(|s| s.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        ),
        segments,
    }
}

/// The failed payload's shape is undocumented; keep whatever code and message it carries.
fn failure(payload: Option<&[u8]>) -> ErrorInfo {
    let value: Option<serde_json::Value> = payload.and_then(|p| serde_json::from_slice(p).ok());
    value
        .as_ref()
        .map(Failure::from_value)
        .unwrap_or_default()
        .info(
            "failed",
            "Nabla reported the asynchronous request as FAILED",
        )
}

//! Nabla Core API (docs.nabla.com). The signing steps are not public in full, so this
//! follows providers.md §3a: `x-nabla-webhook-signature` holds one or several hex
//! HMAC-SHA256 digests (split on commas and whitespace, optional `v1=`/`sha256=` prefix),
//! each over `x-nabla-webhook-timestamp` ‖ raw body (no separator) keyed with the secret's
//! UTF-8 bytes; the timestamp is RFC 3339 or unix seconds/milliseconds. Envelope
//! `{id, type, created_at, data:{id, client_request_id, status, payload}}`.

use http::HeaderMap;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{non_empty, Keys, MalformedEvent, Provider, SignError, SignOptions};
use crate::normalized::{
    Category, ErrorInfo, EventDraft, Note, Role, Section, Segment, Status, Timestamp, Transcript,
};
use crate::signature::{self, Commas, VerifyError, Window};

pub const SIGNATURE_HEADER: &str = "x-nabla-webhook-signature";
pub const TIMESTAMP_HEADER: &str = "x-nabla-webhook-timestamp";

/// Unix timestamps above this are milliseconds (year 5138 in seconds).
const MILLIS_THRESHOLD: i64 = 100_000_000_000;

fn timestamp_seconds(value: &str) -> Result<i64, VerifyError> {
    let invalid = || {
        VerifyError::InvalidSignature(format!(
            "{TIMESTAMP_HEADER} must be an RFC 3339 date-time or unix seconds/milliseconds"
        ))
    };
    if value.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = value
            .parse()
            .ok()
            .filter(|_| value.len() <= 13)
            .ok_or_else(invalid)?;
        return Ok(if n >= MILLIS_THRESHOLD { n / 1000 } else { n });
    }
    Timestamp::parse_rfc3339(value)
        .map(Timestamp::unix_seconds)
        .ok_or_else(invalid)
}

pub(super) fn verify(
    headers: &HeaderMap,
    body: &[u8],
    keys: &Keys,
    window: Window,
) -> Result<(), VerifyError> {
    // Several signatures (one per active secret) may share the header, so commas are legal.
    let signatures = signature::required(headers, SIGNATURE_HEADER, Commas::Allowed)?;
    let timestamp = signature::required(headers, TIMESTAMP_HEADER, Commas::Forbidden)?;
    window.check(TIMESTAMP_HEADER, timestamp_seconds(timestamp)?)?;
    let candidates: Vec<[u8; 32]> = signatures
        .split(|c: char| c == ',' || c.is_ascii_whitespace())
        .filter(|t| !t.is_empty())
        .filter_map(|t| {
            let t = t
                .strip_prefix("v1=")
                .or_else(|| t.strip_prefix("sha256="))
                .unwrap_or(t);
            signature::decode_hex_digest(t)
        })
        .collect();
    if candidates.is_empty() {
        return Err(VerifyError::InvalidSignature(
            "x-nabla-webhook-signature holds no 64-hex-digit signature".into(),
        ));
    }
    let matches = keys.iter().any(|key| {
        let expected = signature::hmac_sha256(key, &[timestamp.as_bytes(), body]);
        candidates
            .iter()
            .any(|c| signature::digest_eq(&expected, c))
    });
    if matches {
        Ok(())
    } else {
        Err(VerifyError::InvalidSignature(
            "x-nabla-webhook-signature does not match any configured NABLA_WEBHOOK_SECRETS".into(),
        ))
    }
}

pub(super) fn sign(
    keys: &Keys,
    body: &[u8],
    opts: &SignOptions,
) -> Result<Vec<(String, String)>, SignError> {
    let timestamp = Timestamp::from_unix(opts.timestamp)
        .ok_or_else(|| SignError(format!("timestamp {} is out of range", opts.timestamp)))?
        .to_string();
    let signatures: Vec<String> = keys
        .iter()
        .map(|key| hex::encode(signature::hmac_sha256(key, &[timestamp.as_bytes(), body])))
        .collect();
    Ok(vec![
        ("x-nabla-webhook-signature".into(), signatures.join(",")),
        ("x-nabla-webhook-timestamp".into(), timestamp),
    ])
}

// ---------------------------------------------------------------------------------------
// Event model (seed 003: docs.nabla.com "Receive webhook events")

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
    transcript: Vec<NabItem>,
}

#[derive(Deserialize)]
struct NabItem {
    #[serde(default)]
    text: String,
    #[serde(default, alias = "speaker")]
    speaker_type: Option<String>,
    #[serde(default, alias = "start_time_ms")]
    start_offset_ms: Option<f64>,
    #[serde(default, alias = "end_time_ms")]
    end_offset_ms: Option<f64>,
}

fn role_of(speaker: &str) -> Role {
    if speaker.eq_ignore_ascii_case("doctor") || speaker.eq_ignore_ascii_case("clinician") {
        Role::Clinician
    } else if speaker.eq_ignore_ascii_case("patient") {
        Role::Patient
    } else {
        Role::Unknown
    }
}

pub(super) fn normalize(body: &[u8]) -> Result<EventDraft, MalformedEvent> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| json_error(&e))?;
    let occurred_at = envelope.created_at.as_deref().and_then(Timestamp::parse);
    let data: Data = serde_json::from_str(envelope.data.get()).map_err(|e| json_error(&e))?;
    let subject = non_empty(data.id.as_deref()).unwrap_or(&envelope.id);

    let (category, outcome) = match envelope.kind.split_once('.') {
        Some(("generate_note_async", outcome)) => (Category::Note, outcome),
        Some(("transcribe_async", outcome)) => (Category::Transcript, outcome),
        _ => (Category::Other, ""),
    };
    // The type names the outcome; `data.status` (any case across API versions) backs it.
    let reported = data.status.as_deref().unwrap_or("").to_ascii_lowercase();
    let status = match (category, outcome, reported.as_str()) {
        (Category::Other, _, _) => Status::Info,
        (_, "succeeded", _) | (_, _, "succeeded") => Status::Completed,
        (_, "failed", _) | (_, _, "failed") => Status::Failed,
        (_, _, "ongoing") => Status::Processing,
        _ => Status::Info,
    };
    let mut event = EventDraft::new(
        &envelope.id,
        &envelope.kind,
        category,
        subject,
        status,
        occurred_at,
    );
    event.relate("client_request_id", data.client_request_id.as_deref());

    let payload = data.payload.map(RawValue::get);
    match (category, status, payload) {
        (Category::Note, Status::Completed, Some(p)) => {
            let p: NotePayload = serde_json::from_str(p).map_err(|e| json_error(&e))?;
            event.content.note = Some(Note {
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
            });
        }
        (Category::Transcript, Status::Completed, Some(p)) => {
            let p: TranscriptPayload = serde_json::from_str(p).map_err(|e| json_error(&e))?;
            let segments: Vec<Segment> = p
                .transcript
                .into_iter()
                .map(|item| Segment {
                    // Nabla's offsets are already milliseconds.
                    start_ms: item.start_offset_ms.map_or(0, |ms| ms.round() as i64),
                    end_ms: item.end_offset_ms.map_or(0, |ms| ms.round() as i64),
                    role: Some(item.speaker_type.as_deref().map_or(Role::Unknown, role_of)),
                    speaker: item.speaker_type,
                    text: item.text,
                    confidence: None,
                })
                .collect();
            event.content.transcript = Some(Transcript {
                language: None,
                duration_ms: segments.iter().map(|s| s.end_ms).max(),
                text: Some(
                    segments
                        .iter()
                        .map(|s| s.text.as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                segments,
            });
        }
        (Category::Note | Category::Transcript, Status::Failed, p) => {
            event.content.error = Some(failure(p));
        }
        _ => {}
    }
    Ok(event)
}

/// The failed payload's shape is undocumented; keep whatever message it carries.
fn failure(payload: Option<&str>) -> ErrorInfo {
    let value: Option<serde_json::Value> = payload.and_then(|p| serde_json::from_str(p).ok());
    let field = |name: &str| {
        value
            .as_ref()
            .and_then(|v| {
                v.get(name)
                    .or_else(|| v.get("error").and_then(|e| e.get(name)))
            })
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    ErrorInfo {
        code: field("code").unwrap_or_else(|| "failed".into()),
        message: field("message")
            .or_else(|| {
                value
                    .as_ref()
                    .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
            })
            .unwrap_or_else(|| "Nabla reported the asynchronous request as FAILED".into()),
    }
}

fn json_error(err: &serde_json::Error) -> MalformedEvent {
    MalformedEvent::json(Provider::Nabla, err)
}

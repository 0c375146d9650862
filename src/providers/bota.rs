//! Bota (docs.bota.dev, bota-dev/examples): `X-Bota-Signature: v1=<hex>` =
//! HMAC-SHA256(key = the whole `whsec_…` secret as UTF-8, msg = `X-Bota-Timestamp` "."
//! raw body); an optional `X-Bota-Event-Id` must equal the signed body's `id`. Envelope
//! `{id, type, created_at, data}` with eleven event types.

use http::HeaderMap;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{de, non_empty, Keys, MalformedEvent, Provider, SignError, SignOptions};
use crate::normalized::{
    seconds_to_ms, Category, DeviceInfo, ErrorInfo, EventDraft, RecordingInfo, Role, Segment,
    Status, Summary, Timestamp, Transcript,
};
use crate::signature::{self, Commas, VerifyError, Window};

pub const SIGNATURE_HEADER: &str = "x-bota-signature";
pub const TIMESTAMP_HEADER: &str = "x-bota-timestamp";
pub const EVENT_ID_HEADER: &str = "x-bota-event-id";

pub(super) fn verify(
    headers: &HeaderMap,
    body: &[u8],
    keys: &Keys,
    window: Window,
) -> Result<(), VerifyError> {
    let signature = signature::required(headers, SIGNATURE_HEADER, Commas::Forbidden)?;
    let timestamp = signature::required(headers, TIMESTAMP_HEADER, Commas::Forbidden)?;
    let event_id = signature::optional(headers, EVENT_ID_HEADER, Commas::Forbidden)?;
    window.check(
        TIMESTAMP_HEADER,
        signature::unix_seconds(TIMESTAMP_HEADER, timestamp)?,
    )?;
    let provided = signature
        .strip_prefix("v1=")
        .and_then(signature::decode_hex_digest)
        .ok_or_else(|| {
            VerifyError::InvalidSignature(
                "X-Bota-Signature must be v1= followed by 64 hex digits".into(),
            )
        })?;
    let matches = keys.iter().any(|key| {
        let expected = signature::hmac_sha256(key, &[timestamp.as_bytes(), b".", body]);
        signature::digest_eq(&expected, &provided)
    });
    if !matches {
        return Err(VerifyError::InvalidSignature(
            "X-Bota-Signature does not match any configured BOTA_WEBHOOK_SECRETS".into(),
        ));
    }
    // The signed body id is the deduplication key; an unsigned header that disagrees with
    // it is a tampered or misrouted delivery.
    if let Some(claimed) = event_id {
        let signed = serde_json::from_slice::<IdOnly>(body)
            .ok()
            .and_then(|b| b.id);
        if signed.as_deref() != Some(claimed) {
            return Err(VerifyError::InvalidSignature(
                "X-Bota-Event-Id does not equal the id of the signed body".into(),
            ));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct IdOnly {
    #[serde(default)]
    id: Option<String>,
}

pub(super) fn sign(
    key: &[u8],
    body: &[u8],
    opts: &SignOptions,
) -> Result<Vec<(String, String)>, SignError> {
    let timestamp = opts.timestamp.to_string();
    let digest = signature::hmac_sha256(key, &[timestamp.as_bytes(), b".", body]);
    let mut headers = vec![
        (
            "X-Bota-Signature".into(),
            format!("v1={}", hex::encode(digest)),
        ),
        ("X-Bota-Timestamp".into(), timestamp),
    ];
    // Bota sends the signed body's id alongside; default to it.
    let body_id = serde_json::from_slice::<IdOnly>(body)
        .ok()
        .and_then(|b| b.id);
    if let Some(id) = opts.event_id.clone().or(body_id) {
        headers.push(("X-Bota-Event-Id".into(), id));
    }
    Ok(headers)
}

// ---------------------------------------------------------------------------------------
// Event model (seed 002: docs.bota.dev webhook events)

#[derive(Deserialize)]
struct Envelope<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(borrow)]
    data: &'a RawValue,
}

#[derive(Deserialize)]
struct BotaError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// `recording.created|uploaded|deleted`
#[derive(Deserialize)]
struct RecordingData {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    end_user_id: Option<String>,
    #[serde(default)]
    device_id: Option<String>,
    #[serde(default)]
    consent_obtained: Option<bool>,
    #[serde(default)]
    duration_seconds: Option<f64>,
    #[serde(default)]
    file_size_bytes: Option<u64>,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    started_at: Option<String>,
    #[serde(default)]
    ended_at: Option<String>,
}

#[derive(Deserialize)]
struct BotaSegment {
    #[serde(default)]
    start: f64,
    #[serde(default)]
    end: f64,
    #[serde(default)]
    text: String,
    #[serde(default, deserialize_with = "de::opt_id")]
    speaker: Option<String>,
    #[serde(default)]
    confidence: Option<f64>,
}

/// `transcription.started|completed|failed`
#[derive(Deserialize)]
struct TranscriptionData {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    recording_id: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    duration_seconds: Option<f64>,
    #[serde(default)]
    segments: Option<Vec<BotaSegment>>,
    #[serde(default)]
    error: Option<BotaError>,
}

/// `summary.started|completed|failed`
#[derive(Deserialize)]
struct SummaryData {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    transcription_id: Option<String>,
    #[serde(default)]
    recording_id: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    error: Option<BotaError>,
}

/// `device.low_battery|offline`
#[derive(Deserialize)]
struct DeviceData {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    end_user_id: Option<String>,
    #[serde(default)]
    battery_percent: Option<f64>,
    #[serde(default)]
    hours_offline: Option<f64>,
    #[serde(default)]
    last_sync_at: Option<String>,
}

/// The lifecycle status each documented type reports.
fn status_of(kind: &str) -> Option<(Category, Status)> {
    let (resource, action) = kind.split_once('.')?;
    let category = match resource {
        "recording" => Category::Recording,
        "transcription" => Category::Transcript,
        "summary" => Category::Summary,
        "device" => Category::Device,
        _ => return None,
    };
    let status = match (resource, action) {
        ("recording", "created") => Status::Created,
        ("recording", "uploaded") => Status::Uploaded,
        ("recording", "deleted") => Status::Deleted,
        ("transcription" | "summary", "started") => Status::Processing,
        ("transcription" | "summary", "completed") => Status::Completed,
        ("transcription" | "summary", "failed") => Status::Failed,
        ("device", "low_battery" | "offline") => Status::Info,
        _ => return None,
    };
    Some((category, status))
}

pub(super) fn normalize(body: &[u8]) -> Result<EventDraft, MalformedEvent> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| json_error(&e))?;
    let occurred_at = envelope.created_at.as_deref().and_then(Timestamp::parse);
    let data = envelope.data.get();
    let Some((category, status)) = status_of(&envelope.kind) else {
        // A type this release does not model: accepted and recorded (contract §2).
        let ids: IdOnly = serde_json::from_str(data).map_err(|e| json_error(&e))?;
        let subject = non_empty(ids.id.as_deref()).unwrap_or(&envelope.id);
        return Ok(EventDraft::new(
            &envelope.id,
            &envelope.kind,
            Category::Other,
            subject,
            Status::Info,
            occurred_at,
        ));
    };
    let draft = |subject: Option<&str>| {
        EventDraft::new(
            &envelope.id,
            &envelope.kind,
            category,
            non_empty(subject).unwrap_or(&envelope.id),
            status,
            occurred_at,
        )
    };

    Ok(match category {
        Category::Recording => {
            let r: RecordingData = serde_json::from_str(data).map_err(|e| json_error(&e))?;
            let mut event = draft(r.id.as_deref());
            event.relate("recording_id", r.id.as_deref());
            event.relate("device_id", r.device_id.as_deref());
            event.relate("end_user_id", r.end_user_id.as_deref());
            let info = RecordingInfo {
                duration_ms: r.duration_seconds.map(seconds_to_ms),
                size_bytes: r.file_size_bytes,
                format: r.format,
                consent_obtained: r.consent_obtained,
                started_at: r.started_at.as_deref().and_then(Timestamp::parse),
                ended_at: r.ended_at.as_deref().and_then(Timestamp::parse),
            };
            if info != RecordingInfo::default() {
                event.content.recording = Some(info);
            }
            event
        }
        Category::Transcript => {
            let t: TranscriptionData = serde_json::from_str(data).map_err(|e| json_error(&e))?;
            let mut event = draft(t.recording_id.as_deref().or(t.id.as_deref()));
            event.relate("transcription_id", t.id.as_deref());
            event.relate("recording_id", t.recording_id.as_deref());
            event.content.error = t.error.map(error_info);
            let segments: Vec<Segment> = t
                .segments
                .unwrap_or_default()
                .into_iter()
                .map(|s| Segment {
                    start_ms: seconds_to_ms(s.start),
                    end_ms: seconds_to_ms(s.end),
                    speaker: s.speaker,
                    // Bota labels speakers but does not say who is the clinician.
                    role: Some(Role::Unknown),
                    text: s.text,
                    confidence: s.confidence,
                })
                .collect();
            if t.text.is_some() || !segments.is_empty() || status == Status::Completed {
                event.content.transcript = Some(Transcript {
                    language: t.language,
                    duration_ms: t.duration_seconds.map(seconds_to_ms),
                    text: t.text,
                    segments,
                });
            }
            event
        }
        Category::Summary => {
            let s: SummaryData = serde_json::from_str(data).map_err(|e| json_error(&e))?;
            let mut event = draft(s.recording_id.as_deref().or(s.id.as_deref()));
            event.relate("summary_id", s.id.as_deref());
            event.relate("transcription_id", s.transcription_id.as_deref());
            event.relate("recording_id", s.recording_id.as_deref());
            event.content.error = s.error.map(error_info);
            match s.text {
                Some(text) => {
                    event.content.summary = Some(Summary {
                        text,
                        template: s.template,
                    })
                }
                None => event.relate("template", s.template.as_deref()),
            }
            event
        }
        Category::Device => {
            let d: DeviceData = serde_json::from_str(data).map_err(|e| json_error(&e))?;
            let mut event = draft(d.id.as_deref());
            event.relate("device_id", d.id.as_deref());
            event.relate("end_user_id", d.end_user_id.as_deref());
            event.content.device = Some(DeviceInfo {
                battery_percent: d.battery_percent,
                hours_offline: d.hours_offline,
                last_sync_at: d.last_sync_at.as_deref().and_then(Timestamp::parse),
            });
            event
        }
        Category::Note | Category::Job | Category::Other => draft(None),
    })
}

fn error_info(e: BotaError) -> ErrorInfo {
    ErrorInfo {
        code: e.code.unwrap_or_else(|| "unknown".into()),
        message: e.message.unwrap_or_default(),
    }
}

fn json_error(err: &serde_json::Error) -> MalformedEvent {
    MalformedEvent::json(Provider::Bota, err)
}

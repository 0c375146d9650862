//! Prosa speech API (docs2.prosa.ai). The official receiver checks
//! `sha256(secret "." raw body)` (plain SHA-256, not HMAC; the secret's UTF-8 text, not
//! hex-decoded) against every `v1` in `X-Prosa-Signature: t=<unix>,v1=<hex>[,v1=…]`.
//! The timestamp is not signed, so `t` is still held to the window and deliveries are
//! deduplicated on `X-Prosa-Event-UUID`. The body is the job object itself, or the
//! `WebhookEventDTO {id, event_type, created_at, data}` envelope around it.

use http::HeaderMap;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{body_event_id, de, non_empty, Keys, MalformedEvent, Provider, SignError, SignOptions};
use crate::normalized::{
    seconds_to_ms, Category, ErrorInfo, EventDraft, Role, Segment, Status, Timestamp, Transcript,
};
use crate::signature::{self, Commas, VerifyError, Window};

pub const SIGNATURE_HEADER: &str = "x-prosa-signature";
pub const EVENT_HEADER: &str = "x-prosa-event";
pub const EVENT_UUID_HEADER: &str = "x-prosa-event-uuid";

/// `t=…,v1=…[,v1=…]`, parsed by key: API Gateway's v2 format joins a repeated header
/// with commas, which shows up here as a second `t`.
struct SignatureHeader {
    timestamp: i64,
    v1: Vec<[u8; 32]>,
}

fn parse_signature_header(value: &str) -> Result<SignatureHeader, VerifyError> {
    let mut timestamp = None;
    let mut v1 = Vec::new();
    let mut v1_seen = false;
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, val) = part.split_once('=').unwrap_or((part, ""));
        match key.trim() {
            "t" => {
                if timestamp.is_some() {
                    return Err(VerifyError::MissingSignature(
                        "X-Prosa-Signature carries more than one t=; was the header repeated?"
                            .into(),
                    ));
                }
                timestamp = Some(signature::unix_seconds("X-Prosa-Signature t", val.trim())?);
            }
            "v1" => {
                v1_seen = true;
                // A malformed entry can never match; the others still may.
                if let Some(digest) = signature::decode_hex_digest(val.trim()) {
                    v1.push(digest);
                }
            }
            // Other schemes (a future v2, say) are not ours to judge.
            _ => {}
        }
    }
    let timestamp = timestamp
        .ok_or_else(|| VerifyError::MissingSignature("X-Prosa-Signature has no t=".into()))?;
    if !v1_seen {
        return Err(VerifyError::MissingSignature(
            "X-Prosa-Signature has no v1=".into(),
        ));
    }
    Ok(SignatureHeader { timestamp, v1 })
}

fn digest(key: &[u8], body: &[u8]) -> [u8; 32] {
    signature::sha256(&[key, b".", body])
}

pub(super) fn verify(
    headers: &HeaderMap,
    body: &[u8],
    keys: &Keys,
    window: Window,
) -> Result<(), VerifyError> {
    let header = signature::required(headers, SIGNATURE_HEADER, Commas::Allowed)?;
    signature::required(headers, EVENT_HEADER, Commas::Forbidden)?;
    signature::required(headers, EVENT_UUID_HEADER, Commas::Forbidden)?;
    let parsed = parse_signature_header(header)?;
    window.check("X-Prosa-Signature t", parsed.timestamp)?;
    let matches = keys.iter().any(|key| {
        let expected = digest(key, body);
        parsed.v1.iter().any(|c| signature::digest_eq(&expected, c))
    });
    if matches {
        Ok(())
    } else {
        Err(VerifyError::InvalidSignature(
            "no v1 in X-Prosa-Signature matches any configured PROSA_WEBHOOK_SECRETS".into(),
        ))
    }
}

pub(super) fn sign(
    keys: &Keys,
    body: &[u8],
    opts: &SignOptions,
) -> Result<Vec<(String, String)>, SignError> {
    let envelope = serde_json::from_slice::<EnvelopeIds>(body).ok();
    let event_type = opts
        .event_type
        .clone()
        .or_else(|| envelope.as_ref().and_then(|e| e.event_type.clone()))
        .ok_or_else(|| {
            SignError("Prosa sends the event type in X-Prosa-Event: pass --event-type".into())
        })?;
    let event_id = opts
        .event_id
        .clone()
        .or_else(|| envelope.as_ref().and_then(|e| e.id.clone()))
        .ok_or_else(|| {
            SignError("Prosa sends the event id in X-Prosa-Event-UUID: pass --event-id".into())
        })?;
    let mut value = format!("t={}", opts.timestamp);
    for key in keys.iter() {
        value.push_str(",v1=");
        value.push_str(&hex::encode(digest(key, body)));
    }
    Ok(vec![
        ("X-Prosa-Signature".into(), value),
        ("X-Prosa-Event".into(), event_type),
        ("X-Prosa-Event-UUID".into(), event_id),
    ])
}

// ---------------------------------------------------------------------------------------
// Event model (seed 004: WebhookDeliveryDTO.request_body and WebhookEventDTO)

#[derive(Deserialize)]
struct EnvelopeIds {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    event_type: Option<String>,
}

/// Either shape: the envelope's fields are simply absent from a bare job body.
#[derive(Deserialize)]
struct Body<'a> {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    event_type: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Job {
    job_id: Option<String>,
    status: Option<String>,
    model: Option<Model>,
    request: Option<JobRequest>,
    result: Option<JobResult>,
    created_at: Option<String>,
    modified_at: Option<String>,
    error: Option<serde_json::Value>,
    message: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Model {
    language: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JobRequest {
    duration: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JobResult {
    data: Vec<ResultItem>,
}

#[derive(Deserialize)]
struct ResultItem {
    #[serde(default = "yes")]
    r#final: bool,
    #[serde(default)]
    time_start: f64,
    #[serde(default)]
    time_end: f64,
    #[serde(default)]
    transcript: String,
    #[serde(default, deserialize_with = "de::opt_id")]
    speaker_tag: Option<String>,
}

fn yes() -> bool {
    true
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    non_empty(headers.get(name).and_then(|v| v.to_str().ok()))
}

pub(super) fn normalize(headers: &HeaderMap, body: &[u8]) -> Result<EventDraft, MalformedEvent> {
    let outer: Body = serde_json::from_slice(body).map_err(|e| json_error(&e))?;
    let enveloped = outer.event_type.is_some() && outer.data.is_some();
    let event_type = header(headers, EVENT_HEADER)
        .map(str::to_owned)
        .or_else(|| outer.event_type.clone())
        .ok_or_else(|| {
            MalformedEvent(
                "Prosa event type unknown: no X-Prosa-Event header and no envelope".into(),
            )
        })?;
    let event_id = header(headers, EVENT_UUID_HEADER)
        .map(str::to_owned)
        .or_else(|| outer.id.clone().filter(|_| enveloped))
        .unwrap_or_else(|| body_event_id(body));
    let job_json = match outer.data {
        Some(data) if enveloped => data.get(),
        _ => std::str::from_utf8(body)
            .map_err(|_| MalformedEvent("Prosa body is not UTF-8".into()))?,
    };

    // `stt.jobs.*` per the docs, `stt.job.*` per GL Speech; anything else (webhook.ping,
    // tts.*) is accepted and recorded as "other".
    let outcome = event_type
        .strip_prefix("stt.jobs.")
        .or_else(|| event_type.strip_prefix("stt.job."));
    let status = match outcome {
        Some("completed") => Status::Completed,
        Some("failed") => Status::Failed,
        _ => Status::Info,
    };
    let job: Job = if status == Status::Info {
        serde_json::from_str(job_json).unwrap_or_default()
    } else {
        serde_json::from_str(job_json).map_err(|e| json_error(&e))?
    };
    let occurred_at = [
        &job.modified_at,
        &job.created_at,
        &outer.created_at.filter(|_| enveloped),
    ]
    .into_iter()
    .find_map(|t| t.as_deref().and_then(Timestamp::parse));
    let subject = non_empty(job.job_id.as_deref())
        .unwrap_or(&event_id)
        .to_owned();
    let category = if status == Status::Info {
        Category::Other
    } else {
        Category::Transcript
    };
    let mut event = EventDraft::new(
        &event_id,
        &event_type,
        category,
        subject,
        status,
        occurred_at,
    );
    event.relate("job_id", job.job_id.as_deref());

    match status {
        Status::Completed => {
            let segments: Vec<Segment> = job
                .result
                .map(|r| r.data)
                .unwrap_or_default()
                .into_iter()
                // Partial (non-final) hypotheses are superseded by the final ones.
                .filter(|item| item.r#final)
                .map(|item| Segment {
                    start_ms: seconds_to_ms(item.time_start),
                    end_ms: seconds_to_ms(item.time_end),
                    speaker: item.speaker_tag,
                    role: Some(Role::Unknown),
                    text: item.transcript,
                    confidence: None,
                })
                .collect();
            let text = segments
                .iter()
                .map(|s| s.text.trim())
                .collect::<Vec<_>>()
                .join(" ");
            event.content.transcript = Some(Transcript {
                language: job.model.and_then(|m| m.language),
                duration_ms: job.request.and_then(|r| r.duration).map(seconds_to_ms),
                text: Some(text),
                segments,
            });
        }
        Status::Failed => {
            let message = match &job.error {
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                Some(v) => v.get("message").and_then(|m| m.as_str()).map(str::to_owned),
                None => None,
            }
            .or(job.message)
            .unwrap_or_else(|| "Prosa reported the transcription job as failed".into());
            let code = job
                .error
                .as_ref()
                .and_then(|v| v.get("code"))
                .and_then(|c| c.as_str())
                .map(str::to_owned)
                .or(job.status)
                .unwrap_or_else(|| "failed".into());
            event.content.error = Some(ErrorInfo { code, message });
        }
        _ => {}
    }
    Ok(event)
}

fn json_error(err: &serde_json::Error) -> MalformedEvent {
    MalformedEvent::json(Provider::Prosa, err)
}

//! Daily (docs.daily.co): `X-Webhook-Signature` = base64(HMAC-SHA256(key =
//! base64-decoded secret, msg = `X-Webhook-Timestamp` "." raw body)); envelope
//! `{version, type, id, payload, event_ts}`; batch-processor outputs referenced in S3.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use http::HeaderMap;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{de, non_empty, Keys, MalformedEvent, Provider, SignError, SignOptions};
use crate::normalized::{
    seconds_to_ms, Artifact, ArtifactKind, Category, ErrorInfo, EventDraft, RecordingInfo, Status,
    Timestamp,
};
use crate::signature::{self, Commas, VerifyError, Window};

pub const SIGNATURE_HEADER: &str = "x-webhook-signature";
pub const TIMESTAMP_HEADER: &str = "x-webhook-timestamp";

/// Daily shows secrets as base64; accept them with or without padding.
const SECRET_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub(super) fn key_from_secret(secret: &str) -> Result<Vec<u8>, String> {
    SECRET_BASE64
        .decode(secret)
        .map_err(|e| format!("Daily secrets are base64 text as Daily shows them ({e})"))
}

pub(super) fn verify(
    headers: &HeaderMap,
    body: &[u8],
    keys: &Keys,
    window: Window,
) -> Result<(), VerifyError> {
    let signature = signature::required(headers, SIGNATURE_HEADER, Commas::Forbidden)?;
    let timestamp = signature::required(headers, TIMESTAMP_HEADER, Commas::Forbidden)?;
    window.check(
        TIMESTAMP_HEADER,
        signature::unix_seconds(TIMESTAMP_HEADER, timestamp)?,
    )?;
    let provided = STANDARD.decode(signature).map_err(|_| {
        VerifyError::InvalidSignature("X-Webhook-Signature is not standard base64".into())
    })?;
    let matches = keys.iter().any(|key| {
        let expected = signature::hmac_sha256(key, &[timestamp.as_bytes(), b".", body]);
        signature::digest_eq(&expected, &provided)
    });
    if matches {
        Ok(())
    } else {
        Err(VerifyError::InvalidSignature(
            "X-Webhook-Signature does not match any configured DAILY_WEBHOOK_SECRETS".into(),
        ))
    }
}

pub(super) fn sign(
    key: &[u8],
    body: &[u8],
    opts: &SignOptions,
) -> Result<Vec<(String, String)>, SignError> {
    let timestamp = opts.timestamp.to_string();
    let digest = signature::hmac_sha256(key, &[timestamp.as_bytes(), b".", body]);
    Ok(vec![
        ("X-Webhook-Signature".into(), STANDARD.encode(digest)),
        ("X-Webhook-Timestamp".into(), timestamp),
    ])
}

pub(super) fn is_endpoint_check(body: &[u8]) -> bool {
    const CHECK: &[u8] = br#"{"test":"test"}"#;
    // Cheap length bound first: whitespace can only make the body longer.
    body.len() >= CHECK.len()
        && body.len() <= 4096
        && body
            .iter()
            .filter(|b| !b.is_ascii_whitespace())
            .eq(CHECK.iter())
}

// ---------------------------------------------------------------------------------------
// Event model

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    #[serde(borrow)]
    payload: &'a RawValue,
    #[serde(default)]
    event_ts: Option<f64>,
}

/// `s3Config` / `out_params.s3`.
#[derive(Deserialize)]
struct S3Location {
    bucket: String,
    key: String,
    #[serde(default)]
    region: Option<String>,
}

#[derive(Deserialize)]
struct OutputFile {
    #[serde(default)]
    format: Option<String>,
    #[serde(rename = "s3Config", alias = "s3config", alias = "s3_config")]
    s3: Option<S3Location>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BatchOutput {
    #[serde(deserialize_with = "de::one_or_many")]
    soap: Vec<OutputFile>,
    #[serde(alias = "concepts", deserialize_with = "de::one_or_many")]
    concept: Vec<OutputFile>,
    #[serde(deserialize_with = "de::one_or_many")]
    summary: Vec<OutputFile>,
    #[serde(alias = "transcript", deserialize_with = "de::one_or_many")]
    transcription: Vec<OutputFile>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BatchInput {
    #[serde(rename = "recordingId")]
    recording_id: Option<String>,
}

/// `batch-processor.job-finished` and `batch-processor.error`.
#[derive(Deserialize)]
struct BatchJob {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    input: Option<BatchInput>,
    #[serde(default)]
    output: Option<BatchOutput>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OutParams {
    s3: Option<S3Location>,
}

/// `transcript.ready-to-download` and `transcript.error`.
#[derive(Deserialize)]
struct TranscriptPayload {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    room_id: Option<String>,
    #[serde(default)]
    mtg_session_id: Option<String>,
    #[serde(default)]
    domain_id: Option<String>,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    out_params: Option<OutParams>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// `recording.ready-to-download` and `recording.error`.
#[derive(Deserialize)]
struct RecordingPayload {
    #[serde(default)]
    recording_id: Option<String>,
    #[serde(default)]
    instance_id: Option<String>,
    #[serde(default)]
    room_name: Option<String>,
    #[serde(default)]
    mtg_session_id: Option<String>,
    #[serde(default)]
    start_ts: Option<f64>,
    #[serde(default)]
    duration: Option<f64>,
    /// The error text: `error` in some receivers' models, `error_msg` in others.
    #[serde(default, alias = "error_msg")]
    error: Option<serde_json::Value>,
}

pub(super) fn normalize(body: &[u8]) -> Result<EventDraft, MalformedEvent> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| json_error(&e))?;
    let occurred_at = envelope.event_ts.and_then(Timestamp::from_unix_f64);
    let payload = envelope.payload.get();
    let draft = |category, subject: &str, status| {
        EventDraft::new(
            &envelope.id,
            &envelope.kind,
            category,
            subject,
            status,
            occurred_at,
        )
    };

    Ok(match envelope.kind.as_str() {
        kind @ ("batch-processor.job-finished" | "batch-processor.error") => {
            let job: BatchJob = serde_json::from_str(payload).map_err(|e| json_error(&e))?;
            let input = job.input.unwrap_or_default();
            let subject = non_empty(job.id.as_deref())
                .or(non_empty(input.recording_id.as_deref()))
                .unwrap_or(&envelope.id);
            let failed = kind == "batch-processor.error";
            let mut event = draft(
                Category::Job,
                subject,
                if failed {
                    Status::Failed
                } else {
                    Status::Completed
                },
            );
            event.relate("job_id", job.id.as_deref());
            event.relate("recording_id", input.recording_id.as_deref());
            if failed {
                event.content.error = Some(error_info(
                    "batch_processor_error",
                    job.error.as_ref(),
                    "Daily reported the batch-processor job as failed",
                ));
            }
            let artifacts = job.output.map(batch_artifacts).unwrap_or_default();
            if !artifacts.is_empty() {
                event.content.artifacts = Some(artifacts);
            }
            event
        }
        kind @ ("transcript.ready-to-download" | "transcript.error") => {
            let t: TranscriptPayload = serde_json::from_str(payload).map_err(|e| json_error(&e))?;
            let subject = non_empty(t.id.as_deref()).unwrap_or(&envelope.id);
            let failed = kind == "transcript.error";
            let mut event = draft(
                Category::Transcript,
                subject,
                if failed {
                    Status::Failed
                } else {
                    Status::Completed
                },
            );
            event.relate("transcript_id", t.id.as_deref());
            event.relate("room_id", t.room_id.as_deref());
            event.relate("mtg_session_id", t.mtg_session_id.as_deref());
            event.relate("domain_id", t.domain_id.as_deref());
            if failed {
                event.content.error = Some(error_info(
                    "transcript_error",
                    t.error.as_ref(),
                    "Daily reported the transcript as failed",
                ));
            } else if let Some(s3) = t.out_params.and_then(|o| o.s3) {
                // Daily stores meeting transcripts as WebVTT.
                event.content.artifacts = Some(vec![Artifact::s3(
                    ArtifactKind::Transcript,
                    "vtt",
                    &s3.bucket,
                    &s3.key,
                    s3.region.as_deref(),
                )]);
            }
            if let Some(duration) = t.duration.filter(|d| *d > 0.0) {
                event.content.recording = Some(RecordingInfo {
                    duration_ms: Some(seconds_to_ms(duration)),
                    ..RecordingInfo::default()
                });
            }
            event
        }
        kind @ ("recording.ready-to-download" | "recording.error") => {
            let r: RecordingPayload = serde_json::from_str(payload).map_err(|e| json_error(&e))?;
            let subject = non_empty(r.recording_id.as_deref())
                .or(non_empty(r.instance_id.as_deref()))
                .unwrap_or(&envelope.id);
            let failed = kind == "recording.error";
            let mut event = draft(
                Category::Recording,
                subject,
                if failed {
                    Status::Failed
                } else {
                    Status::Completed
                },
            );
            event.relate("recording_id", r.recording_id.as_deref());
            event.relate("instance_id", r.instance_id.as_deref());
            event.relate("room_name", r.room_name.as_deref());
            event.relate("mtg_session_id", r.mtg_session_id.as_deref());
            if failed {
                event.content.error = Some(error_info(
                    "recording_error",
                    r.error.as_ref(),
                    "Daily reported the recording as failed",
                ));
            } else {
                event.content.recording = Some(RecordingInfo {
                    duration_ms: r.duration.map(seconds_to_ms),
                    started_at: r.start_ts.and_then(Timestamp::from_unix_f64),
                    ..RecordingInfo::default()
                });
            }
            event
        }
        // Every other Daily type (meeting.*, participant.*, streaming.*, dialin.*, …) is
        // accepted and recorded as "other", grouped by the most specific id it carries.
        _ => {
            let fields: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(payload).map_err(|e| json_error(&e))?;
            let id_of = |name: &str| fields.get(name).and_then(serde_json::Value::as_str);
            let subject = [
                "meeting_id",
                "mtg_session_id",
                "session_id",
                "recording_id",
                "id",
            ]
            .into_iter()
            .find_map(|name| non_empty(id_of(name)))
            .unwrap_or(&envelope.id);
            let mut event = draft(Category::Other, subject, Status::Info);
            for name in ["meeting_id", "session_id", "room", "room_name", "user_id"] {
                event.relate(name, id_of(name));
            }
            event
        }
    })
}

fn batch_artifacts(output: BatchOutput) -> Vec<Artifact> {
    let groups = [
        (ArtifactKind::Soap, output.soap, "json"),
        (ArtifactKind::Concepts, output.concept, "json"),
        (ArtifactKind::Summary, output.summary, "txt"),
        (ArtifactKind::Transcript, output.transcription, "json"),
    ];
    groups
        .into_iter()
        .flat_map(|(kind, files, default_format)| {
            files.into_iter().filter_map(move |file| {
                let s3 = file.s3?;
                let format = non_empty(file.format.as_deref()).unwrap_or(default_format);
                Some(Artifact::s3(
                    kind,
                    format,
                    &s3.bucket,
                    &s3.key,
                    s3.region.as_deref(),
                ))
            })
        })
        .collect()
}

/// Daily's error fields are usually strings, sometimes objects; keep their text.
fn error_info(code: &str, error: Option<&serde_json::Value>, fallback: &str) -> ErrorInfo {
    let message = match error {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(serde_json::Value::Null) | None => fallback.to_owned(),
        Some(other) => other
            .get("message")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| other.to_string()),
    };
    ErrorInfo {
        code: code.to_owned(),
        message,
    }
}

fn json_error(err: &serde_json::Error) -> MalformedEvent {
    MalformedEvent::json(Provider::Daily, err)
}

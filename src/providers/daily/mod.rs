//! Daily (docs.daily.co): `X-Webhook-Signature` = base64(HMAC-SHA256(key =
//! base64-decoded secret, msg = `X-Webhook-Timestamp` "." raw body)); envelope
//! `{version, type, id, payload, event_ts}`; batch-processor outputs referenced in S3.

pub mod access_link;
pub mod outputs;
mod reach;
pub mod sources;
pub mod transcript;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::providers::completed;
use crate::providers::scheme::{Clock, Content, Digest, Encoding, Grammar, KeyEncoding, Scheme};
use crate::providers::{
    de, no_extra_headers, non_empty, read_json, read_unix_time, Failure, Identity, MalformedEvent,
    Provider, Spec,
};
use crate::record::Record;
use crate::record::{
    self, seconds_to_ms, Artifact, ArtifactKind, Category, ErrorInfo, EventDraft, RecordingInfo,
    Status,
};

pub const SIGNATURE_HEADER: &str = "x-webhook-signature";
pub const TIMESTAMP_HEADER: &str = "x-webhook-timestamp";

/// base64(HMAC-SHA256(base64-decoded secret, timestamp "." body)).
const SCHEME: Scheme = Scheme {
    provider: Provider::Daily,
    header: (SIGNATURE_HEADER, "X-Webhook-Signature"),
    grammar: Grammar::One { prefix: "" },
    clock: Clock::UnixHeader(TIMESTAMP_HEADER, "X-Webhook-Timestamp"),
    content: Content::TimestampDotBody,
    digest: Digest::HmacSha256,
    encoding: Encoding::Base64,
};

const SCHEMES: &[(&str, Scheme)] = &[("base64", SCHEME)];

/// Daily, as the rest of the program sees it.
pub(crate) const SPEC: Spec = Spec {
    title: "Daily",
    key_encoding: KeyEncoding::Base64,
    schemes: SCHEMES,
    archived_headers: &[SIGNATURE_HEADER, TIMESTAMP_HEADER],
    tolerance_secs: None,
    verify: |delivery, ex| SCHEME.verify(delivery, ex),
    sign_extra: no_extra_headers,
    normalize: |_, body| normalize(body),
    // `event_ts` records when the webhook was sent: a retry may carry a new one.
    volatile_fields: &["event_ts"],
    endpoint_check: Some(is_endpoint_check),
    ping: None,
    echo_event_id: None,
    jwt_authorizer: false,
    sample_secret: "c2NyaWJlaG9vay1kZW1vLWRhaWx5LXNlY3JldA==",
    complete,
};

/// A batch job: completed, with every listed output fetched or recorded as not fetched (its
/// `reason`); a meeting transcript or recording: ready (docs/behaviour.md#completeness).
fn complete(record: &Record) -> bool {
    let c = &record.components;
    match &c.job {
        Some(job) => {
            job.status == Status::Completed
                && job
                    .content
                    .artifacts
                    .iter()
                    .flatten()
                    .all(|a| a.fetched || a.reason.is_some())
        }
        None => completed(c.transcript.as_ref()) || completed(c.recording.as_ref()),
    }
}

fn is_endpoint_check(body: &[u8]) -> bool {
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

impl S3Location {
    /// An output listed, not yet fetched.
    fn artifact(&self, kind: ArtifactKind, format: &str) -> Artifact {
        Artifact::s3(
            kind,
            format,
            &self.bucket,
            &self.key,
            self.region.as_deref(),
        )
    }
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

/// The modelled families of Daily events: each has a ready and a failed type, and one
/// reader for the payload both share.
struct Family {
    ready: &'static str,
    failed: &'static str,
    category: Category,
    error_code: &'static str,
    failure: &'static str,
    read: fn(&str, bool) -> Result<Facts, MalformedEvent>,
}

const FAMILIES: [Family; 3] = [
    Family {
        ready: "batch-processor.job-finished",
        failed: "batch-processor.error",
        category: Category::Job,
        error_code: "batch_processor_error",
        failure: "Daily reported the batch-processor job as failed",
        read: batch_job,
    },
    Family {
        ready: "transcript.ready-to-download",
        failed: "transcript.error",
        category: Category::Transcript,
        error_code: "transcript_error",
        failure: "Daily reported the transcript as failed",
        read: transcript,
    },
    Family {
        ready: "recording.ready-to-download",
        failed: "recording.error",
        category: Category::Recording,
        error_code: "recording_error",
        failure: "Daily reported the recording as failed",
        read: recording,
    },
];

/// What a family's payload says, before the event around it is built.
#[derive(Default)]
struct Facts {
    /// The most specific ids first; the first non-blank one groups the event.
    subjects: Vec<Option<String>>,
    related: Vec<(&'static str, Option<String>)>,
    error: Option<serde_json::Value>,
    content: record::Content,
}

fn normalize(body: &[u8]) -> Result<EventDraft, MalformedEvent> {
    let envelope: Envelope = read_json(Provider::Daily, "", body)?;
    let occurred_at = envelope
        .event_ts
        .map(|secs| read_unix_time(Provider::Daily, "event_ts", secs))
        .transpose()?;
    let identity = Identity {
        id: &envelope.id,
        kind: &envelope.kind,
        occurred_at,
    };
    let payload = envelope.payload.get();
    let family = FAMILIES
        .iter()
        .find(|f| f.ready == envelope.kind || f.failed == envelope.kind);
    let Some(family) = family else {
        return other(&identity, payload);
    };
    let failed = family.failed == envelope.kind;
    let facts = (family.read)(payload, failed)?;
    let subject = facts.subjects.iter().find_map(|s| non_empty(s.as_deref()));
    let status = if failed {
        Status::Failed
    } else {
        Status::Completed
    };
    let mut event = identity.event(family.category, status, subject);
    for (name, value) in &facts.related {
        event.relate(name, value.as_deref());
    }
    event.content = facts.content;
    if failed {
        event.content.error = Some(error_info(
            family.error_code,
            facts.error.as_ref(),
            family.failure,
        ));
    }
    Ok(event)
}

/// `batch-processor.*`: the job's outputs, listed whether it finished or not.
fn batch_job(payload: &str, _failed: bool) -> Result<Facts, MalformedEvent> {
    let job: BatchJob = read_json(Provider::Daily, "payload", payload.as_bytes())?;
    let input = job.input.unwrap_or_default();
    let artifacts = job.output.map(batch_artifacts).unwrap_or_default();
    Ok(Facts {
        subjects: vec![job.id.clone(), input.recording_id.clone()],
        related: vec![("job_id", job.id), ("recording_id", input.recording_id)],
        error: job.error,
        content: record::Content {
            artifacts: (!artifacts.is_empty()).then_some(artifacts),
            ..Default::default()
        },
    })
}

/// `transcript.*`: the WebVTT file when ready, the duration either way.
fn transcript(payload: &str, failed: bool) -> Result<Facts, MalformedEvent> {
    let t: TranscriptPayload = read_json(Provider::Daily, "payload", payload.as_bytes())?;
    let file = t.out_params.and_then(|o| o.s3).filter(|_| !failed);
    Ok(Facts {
        subjects: vec![t.id.clone()],
        related: vec![
            ("transcript_id", t.id),
            ("room_id", t.room_id),
            ("mtg_session_id", t.mtg_session_id),
            ("domain_id", t.domain_id),
        ],
        error: t.error,
        content: record::Content {
            // Daily stores meeting transcripts as WebVTT.
            artifacts: file.map(|s3| vec![s3.artifact(ArtifactKind::Transcript, "vtt")]),
            recording: t.duration.filter(|d| *d > 0.0).map(|d| RecordingInfo {
                duration_ms: Some(seconds_to_ms(d)),
                ..RecordingInfo::default()
            }),
            ..Default::default()
        },
    })
}

/// `recording.*`: the recording's duration and start when ready.
fn recording(payload: &str, failed: bool) -> Result<Facts, MalformedEvent> {
    let r: RecordingPayload = read_json(Provider::Daily, "payload", payload.as_bytes())?;
    let started_at = r
        .start_ts
        .map(|secs| read_unix_time(Provider::Daily, "payload.start_ts", secs))
        .transpose()?;
    let info = (!failed).then(|| RecordingInfo {
        duration_ms: r.duration.map(seconds_to_ms),
        started_at,
        ..RecordingInfo::default()
    });
    Ok(Facts {
        subjects: vec![r.recording_id.clone(), r.instance_id.clone()],
        related: vec![
            ("recording_id", r.recording_id),
            ("instance_id", r.instance_id),
            ("room_name", r.room_name),
            ("mtg_session_id", r.mtg_session_id),
        ],
        error: r.error,
        content: record::Content {
            recording: info,
            ..Default::default()
        },
    })
}

/// Every other Daily type (meeting.*, participant.*, streaming.*, dialin.*, …) is
/// accepted and recorded as "other", grouped by the most specific id it carries.
fn other(identity: &Identity<'_>, payload: &str) -> Result<EventDraft, MalformedEvent> {
    let fields: serde_json::Map<String, serde_json::Value> =
        read_json(Provider::Daily, "payload", payload.as_bytes())?;
    let id_of = |name: &str| fields.get(name).and_then(serde_json::Value::as_str);
    let subject = [
        "meeting_id",
        "mtg_session_id",
        "session_id",
        "recording_id",
        "id",
    ]
    .into_iter()
    .find_map(|name| non_empty(id_of(name)));
    let mut event = identity.event(Category::Other, Status::Info, subject);
    for name in ["meeting_id", "session_id", "room", "room_name", "user_id"] {
        event.relate(name, id_of(name));
    }
    Ok(event)
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
                Some(s3.artifact(kind, format))
            })
        })
        .collect()
}

/// Daily's error fields are usually strings, sometimes objects; keep their text, or the
/// whole value when it has none.
fn error_info(code: &str, error: Option<&serde_json::Value>, fallback: &str) -> ErrorInfo {
    let message = match error {
        Some(serde_json::Value::Null) | None => fallback.to_owned(),
        Some(value) => Failure::from_value(value)
            .message
            .unwrap_or_else(|| value.to_string()),
    };
    ErrorInfo {
        code: code.to_owned(),
        message,
    }
}

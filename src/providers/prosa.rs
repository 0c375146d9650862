//! Prosa speech API (docs2.prosa.ai, and GL Speech's docs of the same service). Two
//! published schemes, told apart by the header's grammar (docs/provider-guide.md): the official
//! receiver checks `sha256(secret "." raw body)` (plain SHA-256, not HMAC; the secret's
//! UTF-8 text, not hex-decoded) against every `v1` in `X-Prosa-Signature:
//! t=<unix>,v1=<hex>[,v1=…]`; GL Speech sends `sha256=<hex>` = HMAC-SHA256(secret, body).
//! Neither signs a timestamp or the `X-Prosa-Event*` headers, so the body decides what it
//! can (docs/behaviour.md#what-unsigned-headers-may-decide): the event id is the body's digest, the type comes from the job's
//! status when it states one. The body is the job object itself, or the
//! `WebhookEventDTO {id, event_type, created_at, data}` envelope around it.

use http::HeaderMap;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::completed;
use super::scheme::{Clock, Content, Digest, Encoding, Grammar, KeyEncoding, Scheme};
use super::{
    body_event_id, de, non_empty, read_json, read_time, Failure, Identity, MalformedEvent,
};
use super::{Delivery, Explanation, Provider, SignError, SignOptions, Spec};
use crate::record::Record;
use crate::record::{
    seconds_to_ms, Category, ErrorInfo, EventDraft, Role, Segment, Status, Timestamp, Transcript,
};
use crate::signature::{self, Commas, VerifyError};

pub const SIGNATURE_HEADER: &str = "x-prosa-signature";
pub const EVENT_HEADER: &str = "x-prosa-event";
pub const EVENT_UUID_HEADER: &str = "x-prosa-event-uuid";

/// Prosa's own docs: `t=<unix>,v1=<hex>[,v1=…]` with hex(sha256(secret "." body)); `t` is
/// not signed, but still held to the window.
const V1: Scheme = Scheme {
    provider: Provider::Prosa,
    header: (SIGNATURE_HEADER, "X-Prosa-Signature"),
    grammar: Grammar::Keyed,
    clock: Clock::InSignature,
    content: Content::Body,
    digest: Digest::Sha256KeyDot,
    encoding: Encoding::Hex,
};

/// The GL Speech docs of the same service: `sha256=<hex>` with HMAC-SHA256(secret, body).
/// No timestamp: its replay protection is the body-digest dedupe (docs/behaviour.md#what-unsigned-headers-may-decide).
const SHA256: Scheme = Scheme {
    provider: Provider::Prosa,
    header: (SIGNATURE_HEADER, "X-Prosa-Signature"),
    grammar: Grammar::One { prefix: "sha256=" },
    clock: Clock::Unsigned,
    content: Content::Body,
    digest: Digest::HmacSha256,
    encoding: Encoding::Hex,
};

const SCHEMES: &[(&str, Scheme)] = &[("v1", V1), ("sha256", SHA256)];

/// Prosa, as the rest of the program sees it.
pub(crate) const SPEC: Spec = Spec {
    title: "Prosa",
    key_encoding: KeyEncoding::Utf8,
    schemes: SCHEMES,
    archived_headers: &[SIGNATURE_HEADER, EVENT_HEADER, EVENT_UUID_HEADER],
    tolerance_secs: None,
    verify,
    sign_extra: with_event_headers,
    normalize,
    volatile_fields: &[],
    endpoint_check: None,
    ping: Some(is_ping),
    echo_event_id: None,
    jwt_authorizer: false,
    sample_secret: "scribehook-demo-prosa",
    complete,
};

/// The transcript completed (docs/behaviour.md#completeness).
fn complete(record: &Record) -> bool {
    completed(record.components.transcript.as_ref())
}

/// Which published scheme a header is written in, told apart by its grammar. A header
/// that mixes them is refused rather than judged by either: ambiguity is how signature
/// checks get bypassed.
fn scheme_of(value: &str) -> Result<&'static Scheme, VerifyError> {
    let is_sha256 = |entry: &str| entry.trim_start().starts_with("sha256=");
    let entries = || value.split(',').filter(|e| !e.trim().is_empty());
    if !entries().any(is_sha256) {
        Ok(&V1)
    } else if entries().all(is_sha256) {
        // Several sha256= entries are a repeated header: SHA256's grammar refuses them.
        Ok(&SHA256)
    } else {
        Err(VerifyError::InvalidSignature(
            "X-Prosa-Signature mixes sha256= with other entries (t=, v1=); a delivery is \
             signed with one scheme"
                .into(),
        ))
    }
}

fn verify(delivery: &Delivery<'_>, ex: &mut Explanation) -> Result<(), VerifyError> {
    let headers = delivery.headers;
    let value = signature::required(headers, SIGNATURE_HEADER, Commas::Allowed)?;
    signature::required(headers, EVENT_HEADER, Commas::Forbidden)?;
    signature::required(headers, EVENT_UUID_HEADER, Commas::Forbidden)?;
    let scheme = scheme_of(value).inspect_err(|_| {
        ex.notes
            .push("X-Prosa-Signature fits neither t=/v1= nor sha256= alone".into());
    })?;
    scheme.verify(delivery, ex)
}

/// Prosa names the event's type and id in headers of their own, beside the signature.
fn with_event_headers(
    mut headers: Vec<(String, String)>,
    body: &[u8],
    opts: &SignOptions,
) -> Result<Vec<(String, String)>, SignError> {
    let envelope = serde_json::from_slice::<EnvelopeIds>(body).unwrap_or_default();
    // The body's envelope names them when it has one; a bare job body does not.
    let event_type = opts.event_type.clone().or(envelope.event_type);
    let event_id = opts.event_id.clone().or(envelope.id);
    let (Some(event_type), Some(event_id)) = (&event_type, &event_id) else {
        // Both at once, so a second try does not find the other missing.
        let missing: Vec<&str> = [
            (
                event_type.is_none(),
                "--event-type (e.g. stt.jobs.completed)",
            ),
            (event_id.is_none(), "--event-id (any UUID)"),
        ]
        .into_iter()
        .filter_map(|(absent, flag)| absent.then_some(flag))
        .collect();
        return Err(SignError(format!(
            "Prosa sends the event type in X-Prosa-Event and a delivery id in \
             X-Prosa-Event-UUID, and this body's envelope does not name them: pass {}",
            missing.join(" and ")
        )));
    };
    let (event_type, event_id) = (event_type.clone(), event_id.clone());
    headers.push(("X-Prosa-Event".into(), event_type));
    headers.push(("X-Prosa-Event-UUID".into(), event_id));
    Ok(headers)
}

// ---------------------------------------------------------------------------------------
// Event model (Prosa's WebhookDeliveryDTO.request_body and WebhookEventDTO; docs/provider-guide.md#prosa)

#[derive(Deserialize)]
struct JobId {
    #[serde(default)]
    job_id: Option<String>,
}

#[derive(Deserialize, Default)]
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

/// GL Speech's connectivity test. Only a body that is not a job counts: a job under this
/// header is a contradiction for `normalize` to refuse, not something to drop.
const PING: &str = "webhook.ping";

/// A `webhook.ping` delivery (docs/provider-guide.md): answered 200 with nothing stored. Ask after
/// verification, so that a test delivery with the wrong secret is still refused.
fn is_ping(headers: &HeaderMap, body: &[u8]) -> bool {
    header(headers, EVENT_HEADER) == Some(PING)
        && serde_json::from_slice::<Body>(body).is_ok_and(|outer| {
            let job = match outer.data {
                Some(data) if outer.event_type.is_some() => data.get().as_bytes(),
                _ => body,
            };
            serde_json::from_slice::<JobId>(job)
                .map_or(true, |j| non_empty(j.job_id.as_deref()).is_none())
        })
}

/// Only the body is signed, so the body decides what it can
/// (docs/behaviour.md#what-unsigned-headers-may-decide). The event id is the body's digest
/// (the same signed body under another `X-Prosa-Event-UUID` is the same event; the uuid is
/// kept as `related.delivery_id`); the type is a documented one, its outcome the job's
/// status when it states one; a body without a `job_id` is not a Prosa job; a header that
/// contradicts the body is malformed. No refusal repeats a header's or the body's text.
fn normalize(headers: &HeaderMap, body: &[u8]) -> Result<EventDraft, MalformedEvent> {
    let outer: Body = read_json(Provider::Prosa, "", body)?;
    let envelope_type = outer.event_type.as_deref().filter(|_| outer.data.is_some());
    let named = header(headers, EVENT_HEADER);
    if let (Some(named), Some(signed)) = (named, envelope_type) {
        if named != signed {
            return Err(contradiction("it differs from the envelope's event_type"));
        }
    }
    let (job_at, job_json) = match outer.data {
        Some(data) if envelope_type.is_some() => ("data", data.get().as_bytes()),
        _ => ("", utf8(body)?),
    };
    let job: Job = read_json(Provider::Prosa, job_at, job_json)?;
    let event_id = body_event_id(body);
    let kind = named.or(envelope_type);
    let Some(job_id) = non_empty(job.job_id.as_deref()).map(str::to_owned) else {
        if kind == Some(PING) {
            return Ok(EventDraft::new(
                &event_id,
                PING,
                Category::Other,
                &event_id,
                Status::Info,
                None,
            ));
        }
        return Err(MalformedEvent::new(
            "Prosa body is not a job: it has no job_id",
        ));
    };
    let stt_results = job.result.as_ref().is_some_and(|r| !r.data.is_empty());
    let (event_type, category, status) = classify(kind, job.status.as_deref(), stt_results)?;
    let occurred_at = first_time(&[
        ("modified_at", job_at, &job.modified_at),
        ("created_at", job_at, &job.created_at),
        ("created_at", "", &outer.created_at),
    ])?;
    let identity = Identity {
        id: &event_id,
        kind: &event_type,
        occurred_at,
    };
    let mut event = identity.event(category, status, Some(&job_id));
    event.relate("job_id", Some(&job_id));
    event.relate("delivery_id", header(headers, EVENT_UUID_HEADER));
    event.relate(
        "webhook_event_id",
        outer.id.as_deref().filter(|_| envelope_type.is_some()),
    );
    match (category, status) {
        (Category::Transcript, Status::Completed) => {
            event.content.transcript = Some(transcript(job).into())
        }
        (_, Status::Failed) => event.content.error = Some(failure(job)),
        _ => {}
    }
    Ok(event)
}

/// The first of the job's times that is present, read strictly (a present time that is
/// not one is refused, naming its path).
fn first_time(
    candidates: &[(&str, &str, &Option<String>)],
) -> Result<Option<Timestamp>, MalformedEvent> {
    for (field, at, value) in candidates {
        if let Some(text) = value {
            let path = if at.is_empty() {
                (*field).to_owned()
            } else {
                format!("{at}.{field}")
            };
            return read_time(Provider::Prosa, &path, text).map(Some);
        }
    }
    Ok(None)
}

fn utf8(body: &[u8]) -> Result<&[u8], MalformedEvent> {
    std::str::from_utf8(body)
        .map(str::as_bytes)
        .map_err(|_| MalformedEvent::new("Prosa body is not UTF-8"))
}

/// An `X-Prosa-Event` the signed body contradicts, saying how without quoting either.
fn contradiction(how: &str) -> MalformedEvent {
    MalformedEvent::new(format!("X-Prosa-Event contradicts the signed body: {how}"))
}

/// The documented types, for messages.
const DOCUMENTED: &str = "stt.jobs.completed, stt.jobs.failed, stt.job.completed, \
                          stt.job.failed, tts.job.completed, tts.job.failed";

/// The event's type, category and status from the type named (header or envelope) and
/// the job's own status. The body wins: its status decides the outcome, and a named
/// outcome or family it contradicts is refused. The stored type is always a documented
/// one (the family as named, the outcome as decided), never the header's text.
fn classify(
    kind: Option<&str>,
    job_status: Option<&str>,
    stt_results: bool,
) -> Result<(String, Category, Status), MalformedEvent> {
    if kind == Some(PING) {
        return Err(contradiction(
            "it names the ping type, but the body is a job",
        ));
    }
    let stated = job_status.and_then(status_of_job);
    let named = kind.map(named);
    let (prefix, family, outcome) = named.unwrap_or(("stt.jobs.", Some(Family::Stt), None));
    if let (Some(named), Some(signed)) = (outcome, stated) {
        if named != signed {
            return Err(contradiction(
                "the outcome it names differs from the job's status",
            ));
        }
    }
    if family == Some(Family::Tts) && stt_results {
        return Err(contradiction(
            "it names a text-to-speech job, but the body holds speech-to-text results",
        ));
    }
    let Some(status) = stated.or(outcome) else {
        return Err(MalformedEvent::new(match kind {
            Some(_) => format!(
                "X-Prosa-Event is not a documented Prosa event type ({DOCUMENTED}) and the \
                 job states no status"
            ),
            None => "Prosa event type unknown: no X-Prosa-Event header, no envelope, and no \
                     job status"
                .into(),
        }));
    };
    // An undocumented name tells nothing: the documented family the default.
    let (prefix, family) = match family {
        Some(family) => (prefix, family),
        None => ("stt.jobs.", Family::Stt),
    };
    let action = match status {
        Status::Completed => "completed",
        Status::Failed => "failed",
        _ => "processing",
    };
    let category = match (family, status) {
        (Family::Stt, Status::Completed | Status::Failed | Status::Processing) => {
            Category::Transcript
        }
        _ => Category::Other,
    };
    Ok((format!("{prefix}{action}"), category, status))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Stt,
    Tts,
}

/// `stt.jobs.*` per Prosa's docs, `stt.job.*` and `tts.job.*` per GL Speech (`tts.jobs.*`
/// read alike): the prefix as written, the family, and the outcome the name states when it
/// is a documented one. A name of no known family gives neither.
fn named(kind: &str) -> (&'static str, Option<Family>, Option<Status>) {
    const FAMILIES: [(&str, Family); 4] = [
        ("stt.jobs.", Family::Stt),
        ("stt.job.", Family::Stt),
        ("tts.jobs.", Family::Tts),
        ("tts.job.", Family::Tts),
    ];
    let Some((prefix, family, action)) = FAMILIES
        .iter()
        .find_map(|(prefix, family)| Some((*prefix, *family, kind.strip_prefix(prefix)?)))
    else {
        return ("stt.jobs.", None, None);
    };
    let outcome = match action {
        "completed" | "complete" => Some(Status::Completed),
        "failed" => Some(Status::Failed),
        _ => None,
    };
    (prefix, Some(family), outcome)
}

/// A job's `status` field: Prosa's REST API says `complete`; other spellings seen in job
/// APIs are read alike. A value not listed states nothing.
fn status_of_job(status: &str) -> Option<Status> {
    match status.trim().to_ascii_lowercase().as_str() {
        "complete" | "completed" | "succeeded" | "success" | "done" => Some(Status::Completed),
        "failed" | "failure" | "error" | "errored" => Some(Status::Failed),
        "queued" | "pending" | "created" | "submitted" | "processing" | "in_progress"
        | "running" => Some(Status::Processing),
        _ => None,
    }
}

fn transcript(job: Job) -> Transcript {
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
    Transcript {
        language: job.model.and_then(|m| m.language),
        duration_ms: job.request.and_then(|r| r.duration).map(seconds_to_ms),
        text: Some(text),
        segments,
    }
}

/// The failed-job body is undocumented: the error's code and text where it has them, else
/// the job's own status and message.
fn failure(job: Job) -> ErrorInfo {
    let found = job
        .error
        .as_ref()
        .map(Failure::from_value)
        .unwrap_or_default();
    Failure {
        code: found.code.or(job.status),
        message: found.message.or(job.message),
    }
    .info("failed", "Prosa reported the transcription job as failed")
}

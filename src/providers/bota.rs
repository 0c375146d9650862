//! Bota (docs.bota.dev, bota-dev/examples): `X-Bota-Signature: v1=<hex>` =
//! HMAC-SHA256(key = the whole `whsec_…` secret as UTF-8, msg = `X-Bota-Timestamp` "."
//! raw body); an optional `X-Bota-Event-Id` must equal the signed body's `id`. Envelope
//! `{id, type, created_at, data}` with eleven event types.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::scheme::{Clock, Content, Digest, Encoding, Grammar, Scheme};
use super::SignOptions;
use super::{de, read_json, Delivery, Explanation, Failure, Identity, MalformedEvent, Provider};
use crate::normalized::{
    seconds_to_ms, Category, DeviceInfo, EventDraft, RecordingInfo, Role, Segment, Status, Summary,
    Timestamp, Transcript,
};
use crate::signature::{self, Commas, VerifyError};

pub const SIGNATURE_HEADER: &str = "x-bota-signature";
pub const TIMESTAMP_HEADER: &str = "x-bota-timestamp";
pub const EVENT_ID_HEADER: &str = "x-bota-event-id";

/// `v1=` hex(HMAC-SHA256(secret as UTF-8, timestamp "." body)): Daily's signed bytes,
/// another key and encoding.
const SCHEME: Scheme = Scheme {
    provider: Provider::Bota,
    header: (SIGNATURE_HEADER, "X-Bota-Signature"),
    grammar: Grammar::One { prefix: "v1=" },
    clock: Clock::UnixHeader(TIMESTAMP_HEADER, "X-Bota-Timestamp"),
    content: Content::TimestampDotBody,
    digest: Digest::HmacSha256,
    encoding: Encoding::Hex,
};

pub(super) fn verify(delivery: &Delivery<'_>, ex: &mut Explanation) -> Result<(), VerifyError> {
    let event_id = signature::optional(delivery.headers, EVENT_ID_HEADER, Commas::Forbidden)?;
    SCHEME.verify(delivery, ex)?;
    // The signed body id is the deduplication key; an unsigned header that disagrees with
    // it is a tampered or misrouted delivery.
    if let Some(claimed) = event_id {
        if body_id(delivery.body).as_deref() != Some(claimed) {
            ex.notes
                .push("X-Bota-Event-Id differs from the signed body's id".into());
            return Err(VerifyError::InvalidSignature(
                "X-Bota-Event-Id does not equal the id of the signed body".into(),
            ));
        }
    }
    Ok(())
}

/// The body's top-level `id`, read up to that key only: the check runs before anything else
/// is parsed, and on a multi-megabyte transcript a parse of the whole body here would double
/// the ingest's parsing (the first `id` is taken; `normalize` refuses duplicate keys).
fn body_id(body: &[u8]) -> Option<String> {
    use serde::de::{Deserializer, Error, IgnoredAny, MapAccess, Visitor};

    struct FirstId<'a>(&'a mut Option<String>);

    impl<'de> Visitor<'de> for FirstId<'_> {
        type Value = ();

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if key == "id" {
                    *self.0 = map.next_value::<Option<String>>()?;
                    // Stop here: the rest of the body is not this function's to read.
                    return Err(A::Error::custom("id found"));
                }
                map.next_value::<IgnoredAny>()?;
            }
            Ok(())
        }
    }

    let mut id = None;
    let _ = serde_json::Deserializer::from_slice(body).deserialize_map(FirstId(&mut id));
    id
}

#[derive(Deserialize)]
struct IdOnly {
    #[serde(default)]
    id: Option<String>,
}

pub(super) const SCHEMES: &[(&str, Scheme)] = &[("v1", SCHEME)];

/// Bota sends the signed body's id alongside the signature; default to it.
pub(super) fn with_event_id(
    mut headers: Vec<(String, String)>,
    body: &[u8],
    opts: &SignOptions,
) -> Vec<(String, String)> {
    if let Some(id) = opts.event_id.clone().or_else(|| body_id(body)) {
        headers.push(("X-Bota-Event-Id".into(), id));
    }
    headers
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
    error: Option<Failure>,
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
    error: Option<Failure>,
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
    let envelope: Envelope = read_json(Provider::Bota, "", body)?;
    let identity = Identity {
        id: &envelope.id,
        kind: &envelope.kind,
        occurred_at: envelope.created_at.as_deref().and_then(Timestamp::parse),
    };
    let data = envelope.data.get().as_bytes();
    let Some((category, status)) = status_of(&envelope.kind) else {
        // A type this release does not model: accepted and recorded (contract §2).
        let ids: IdOnly = read_json(Provider::Bota, "data", data)?;
        return Ok(identity.event(Category::Other, Status::Info, ids.id.as_deref()));
    };
    let event = |subject: Option<&str>| identity.event(category, status, subject);
    Ok(match category {
        Category::Recording => recording(read_json(Provider::Bota, "data", data)?, event),
        Category::Transcript => {
            transcription(read_json(Provider::Bota, "data", data)?, event, status)
        }
        Category::Summary => summary(read_json(Provider::Bota, "data", data)?, event),
        Category::Device => device(read_json(Provider::Bota, "data", data)?, event),
        Category::Note | Category::Job | Category::Other => event(None),
    })
}

fn recording(r: RecordingData, event: impl FnOnce(Option<&str>) -> EventDraft) -> EventDraft {
    let mut event = event(r.id.as_deref());
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

fn transcription(
    t: TranscriptionData,
    event: impl FnOnce(Option<&str>) -> EventDraft,
    status: Status,
) -> EventDraft {
    let mut event = event(t.recording_id.as_deref().or(t.id.as_deref()));
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

fn summary(s: SummaryData, event: impl FnOnce(Option<&str>) -> EventDraft) -> EventDraft {
    let mut event = event(s.recording_id.as_deref().or(s.id.as_deref()));
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

fn device(d: DeviceData, event: impl FnOnce(Option<&str>) -> EventDraft) -> EventDraft {
    let mut event = event(d.id.as_deref());
    event.relate("device_id", d.id.as_deref());
    event.relate("end_user_id", d.end_user_id.as_deref());
    event.content.device = Some(DeviceInfo {
        battery_percent: d.battery_percent,
        hours_offline: d.hours_offline,
        last_sync_at: d.last_sync_at.as_deref().and_then(Timestamp::parse),
    });
    event
}

/// Bota documents `{code, message}`; either may be missing.
fn error_info(failure: Failure) -> crate::normalized::ErrorInfo {
    failure.info("unknown", "")
}

#[cfg(test)]
mod tests {
    use super::body_id;

    #[test]
    fn the_body_id_is_the_first_top_level_id_wherever_it_stands() {
        assert_eq!(body_id(br#"{"id":"e1","data":{"id":"x"}}"#).as_deref(), Some("e1"));
        assert_eq!(body_id(br#"{"data":{"id":"x"},"id":"e2"}"#).as_deref(), Some("e2"));
        assert_eq!(body_id(br#"{"id":"e3","id":"e4"}"#).as_deref(), Some("e3"));
        // What follows the id is not read here (normalize refuses a broken body).
        assert_eq!(body_id(br#"{"id":"e5","data":"#).as_deref(), Some("e5"));
        assert_eq!(body_id(br#"{"data":{"id":"x"}}"#), None);
        assert_eq!(body_id(br#"{"id":7}"#), None);
        assert_eq!(body_id(br#"["id","e6"]"#), None);
        assert_eq!(body_id(b"not json"), None);
    }
}

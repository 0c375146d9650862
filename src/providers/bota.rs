//! Bota (docs.bota.dev, bota-dev/examples): `X-Bota-Signature: v1=<hex>` =
//! HMAC-SHA256(key = the whole `whsec_…` secret as UTF-8, msg = `X-Bota-Timestamp` "."
//! raw body); an optional `X-Bota-Event-Id` must equal the signed body's `id`. Envelope
//! `{id, type, created_at, data}` with eleven event types.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::completed;
use super::scheme::{Clock, Content, Digest, Encoding, Grammar, KeyEncoding, Scheme};
use super::{
    de, read_json, read_time, Delivery, Explanation, Failure, Identity, MalformedEvent, Provider,
    SignOptions, Spec,
};
use crate::record::Record;
use crate::record::{
    seconds_to_ms, Category, DeviceInfo, EventDraft, RecordingInfo, Role, Segment, Shared, Status,
    Summary, Timestamp, Transcript,
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

fn verify(delivery: &Delivery<'_>, ex: &mut Explanation) -> Result<(), VerifyError> {
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

const SCHEMES: &[(&str, Scheme)] = &[("v1", SCHEME)];

/// Bota, as the rest of the program sees it.
pub(crate) const SPEC: Spec = Spec {
    title: "Bota",
    key_encoding: KeyEncoding::Utf8,
    schemes: SCHEMES,
    archived_headers: &[SIGNATURE_HEADER, TIMESTAMP_HEADER, EVENT_ID_HEADER],
    tolerance_secs: None,
    verify,
    sign_extra: |headers, body, opts| Ok(with_event_id(headers, body, opts)),
    normalize: |_, body| normalize(body),
    volatile_fields: &[],
    endpoint_check: None,
    ping: None,
    echo_event_id: None,
    jwt_authorizer: false,
    sample_secret: "whsec_scribehook_demo_bota",
    complete,
};

/// Transcript and summary both completed; a failed one is never complete
/// (docs/behaviour.md#completeness).
fn complete(record: &Record) -> bool {
    let c = &record.components;
    completed(c.transcript.as_ref()) && completed(c.summary.as_ref())
}

/// Bota sends the signed body's id alongside the signature; default to it.
fn with_event_id(
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
// Event model (docs.bota.dev webhook events; docs/provider-guide.md#bota)

struct Envelope<'a> {
    id: String,
    kind: String,
    created_at: Option<String>,
    data: Data<'a>,
}

/// `data`, read as its type's model in the same pass as the envelope when `type` comes
/// first (as Bota sends it): a multi-megabyte transcript is then scanned once, not once to
/// find its end and again to read it.
enum Data<'a> {
    Recording(RecordingData),
    Transcription(TranscriptionData),
    Summary(SummaryData),
    Device(DeviceData),
    /// A type this release does not model.
    Other(IdOnly),
    /// `data` came before `type`: read once the type is known.
    Raw(&'a RawValue),
}

/// Reads `data` as the model of event type `kind`.
struct DataOf<'k>(&'k str);

impl<'de> serde::de::DeserializeSeed<'de> for DataOf<'_> {
    type Value = Data<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Data<'de>, D::Error> {
        Ok(match status_of(self.0).map(|(category, _)| category) {
            Some(Category::Recording) => Data::Recording(RecordingData::deserialize(d)?),
            Some(Category::Transcript) => Data::Transcription(TranscriptionData::deserialize(d)?),
            Some(Category::Summary) => Data::Summary(SummaryData::deserialize(d)?),
            Some(Category::Device) => Data::Device(DeviceData::deserialize(d)?),
            _ => Data::Other(IdOnly::deserialize(d)?),
        })
    }
}

impl<'de> Deserialize<'de> for Envelope<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, IgnoredAny, MapAccess, Visitor};

        struct EnvelopeVisitor;

        impl<'de> Visitor<'de> for EnvelopeVisitor {
            type Value = Envelope<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a Bota event object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope<'de>, A::Error> {
                let (mut id, mut kind, mut created_at, mut data) = (None, None, None, None);
                // As serde's derive does: a repeated field is an error, not last-one-wins.
                fn once<T, E: Error>(slot: &Option<T>, name: &'static str) -> Result<(), E> {
                    match slot {
                        Some(_) => Err(E::duplicate_field(name)),
                        None => Ok(()),
                    }
                }
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match key.as_ref() {
                        "id" => {
                            once(&id, "id")?;
                            id = Some(map.next_value::<String>()?);
                        }
                        "type" => {
                            once(&kind, "type")?;
                            kind = Some(map.next_value::<String>()?);
                        }
                        "created_at" => {
                            once(&created_at, "created_at")?;
                            created_at = Some(map.next_value::<Option<String>>()?);
                        }
                        "data" => {
                            once(&data, "data")?;
                            data = Some(match &kind {
                                Some(kind) => map.next_value_seed(DataOf(kind))?,
                                None => Data::Raw(map.next_value::<&'de RawValue>()?),
                            });
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Envelope {
                    id: id.ok_or_else(|| A::Error::missing_field("id"))?,
                    kind: kind.ok_or_else(|| A::Error::missing_field("type"))?,
                    created_at: created_at.flatten(),
                    data: data.ok_or_else(|| A::Error::missing_field("data"))?,
                })
            }
        }

        d.deserialize_map(EnvelopeVisitor)
    }
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

fn normalize(body: &[u8]) -> Result<EventDraft, MalformedEvent> {
    let envelope: Envelope = read_json(Provider::Bota, "", body)?;
    let identity = Identity {
        id: &envelope.id,
        kind: &envelope.kind,
        occurred_at: time(&envelope.created_at, "created_at")?,
    };
    let data = match envelope.data {
        Data::Raw(raw) => read_data(&envelope.kind, raw.get().as_bytes())?,
        data => data,
    };
    let Some((category, status)) = status_of(&envelope.kind) else {
        // A type this release does not model: accepted and recorded (docs/behaviour.md#http-answers).
        let id = match &data {
            Data::Other(ids) => ids.id.as_deref(),
            _ => None,
        };
        return Ok(identity.event(Category::Other, Status::Info, id));
    };
    let event = |subject: Option<&str>| identity.event(category, status, subject);
    Ok(match data {
        Data::Recording(r) => recording(r, event)?,
        Data::Transcription(t) => transcription(t, event, status),
        Data::Summary(s) => summary(s, event),
        Data::Device(d) => device(d, event)?,
        Data::Other(_) | Data::Raw(_) => event(None),
    })
}

/// A time field, read strictly where present (docs/behaviour.md#signed-bytes-quoting-and-bounds).
fn time(value: &Option<String>, path: &str) -> Result<Option<Timestamp>, MalformedEvent> {
    value
        .as_deref()
        .map(|text| read_time(Provider::Bota, path, text))
        .transpose()
}

/// `data` that came before `type`, read as `kind`'s model ([`DataOf`] in the envelope's
/// pass), with the path of what does not parse.
fn read_data(kind: &str, data: &[u8]) -> Result<Data<'static>, MalformedEvent> {
    const AT: &str = "data";
    let p = Provider::Bota;
    Ok(match status_of(kind).map(|(category, _)| category) {
        Some(Category::Recording) => Data::Recording(read_json(p, AT, data)?),
        Some(Category::Transcript) => Data::Transcription(read_json(p, AT, data)?),
        Some(Category::Summary) => Data::Summary(read_json(p, AT, data)?),
        Some(Category::Device) => Data::Device(read_json(p, AT, data)?),
        _ => Data::Other(read_json(p, AT, data)?),
    })
}

fn recording(
    r: RecordingData,
    event: impl FnOnce(Option<&str>) -> EventDraft,
) -> Result<EventDraft, MalformedEvent> {
    let mut event = event(r.id.as_deref());
    event.relate("recording_id", r.id.as_deref());
    event.relate("device_id", r.device_id.as_deref());
    event.relate("end_user_id", r.end_user_id.as_deref());
    let info = RecordingInfo {
        duration_ms: r.duration_seconds.map(seconds_to_ms),
        size_bytes: r.file_size_bytes,
        format: r.format,
        consent_obtained: r.consent_obtained,
        started_at: time(&r.started_at, "data.started_at")?,
        ended_at: time(&r.ended_at, "data.ended_at")?,
    };
    if info != RecordingInfo::default() {
        event.content.recording = Some(info);
    }
    Ok(event)
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
        event.content.transcript = Some(Shared::new(Transcript {
            language: t.language,
            duration_ms: t.duration_seconds.map(seconds_to_ms),
            text: t.text,
            segments,
        }));
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

fn device(
    d: DeviceData,
    event: impl FnOnce(Option<&str>) -> EventDraft,
) -> Result<EventDraft, MalformedEvent> {
    let mut event = event(d.id.as_deref());
    event.relate("device_id", d.id.as_deref());
    event.relate("end_user_id", d.end_user_id.as_deref());
    event.content.device = Some(DeviceInfo {
        battery_percent: d.battery_percent,
        hours_offline: d.hours_offline,
        last_sync_at: time(&d.last_sync_at, "data.last_sync_at")?,
    });
    Ok(event)
}

/// Bota documents `{code, message}`; either may be missing.
fn error_info(failure: Failure) -> crate::record::ErrorInfo {
    failure.info("unknown", "")
}

#[cfg(test)]
mod tests {
    use super::{body_id, normalize};

    const TYPE_FIRST: &str = r#"{"id":"e1","type":"transcription.completed","created_at":"2025-01-15T10:07:00Z","data":{"id":"t1","recording_id":"r1","segments":[{"start":0.5,"end":1.25,"text":"Hi.","speaker":7},{"start":1.5,"end":2,"text":"Yes.","speaker":"S1","confidence":0.9}]}}"#;

    /// `data` read in the envelope's pass (type first) and read after it (data first) make
    /// the same event, and a malformed one is refused with the same path either way.
    #[test]
    fn data_before_or_after_the_type_reads_the_same() {
        let data_first = r#"{"data":{"id":"t1","recording_id":"r1","segments":[{"start":0.5,"end":1.25,"text":"Hi.","speaker":7},{"start":1.5,"end":2,"text":"Yes.","speaker":"S1","confidence":0.9}]},"created_at":"2025-01-15T10:07:00Z","type":"transcription.completed","id":"e1"}"#;
        let a = normalize(TYPE_FIRST.as_bytes()).unwrap();
        let b = normalize(data_first.as_bytes()).unwrap();
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        let transcript = a.content.transcript.as_ref().unwrap();
        assert_eq!(transcript.segments[0].speaker.as_deref(), Some("7"));
        assert_eq!(transcript.segments[1].end_ms, 2000);
        for body in [
            TYPE_FIRST.replace(r#""start":0.5"#, r#""start":"x""#),
            data_first.replace(r#""start":0.5"#, r#""start":"x""#),
        ] {
            let err = normalize(body.as_bytes()).unwrap_err().to_string();
            assert!(err.contains("data.segments[0].start"), "{err}");
        }
        for missing in [r#""id":"e1","#, r#""type":"transcription.completed","#] {
            assert!(normalize(TYPE_FIRST.replacen(missing, "", 1).as_bytes()).is_err());
        }
        let twice = TYPE_FIRST.replacen(r#""id":"e1","#, r#""id":"e1","id":"e2","#, 1);
        assert!(normalize(twice.as_bytes()).is_err());
    }

    #[test]
    fn the_body_id_is_the_first_top_level_id_wherever_it_stands() {
        assert_eq!(
            body_id(br#"{"id":"e1","data":{"id":"x"}}"#).as_deref(),
            Some("e1")
        );
        assert_eq!(
            body_id(br#"{"data":{"id":"x"},"id":"e2"}"#).as_deref(),
            Some("e2")
        );
        assert_eq!(body_id(br#"{"id":"e3","id":"e4"}"#).as_deref(), Some("e3"));
        // What follows the id is not read here (normalize refuses a broken body).
        assert_eq!(body_id(br#"{"id":"e5","data":"#).as_deref(), Some("e5"));
        assert_eq!(body_id(br#"{"data":{"id":"x"}}"#), None);
        assert_eq!(body_id(br#"{"id":7}"#), None);
        assert_eq!(body_id(br#"["id","e6"]"#), None);
        assert_eq!(body_id(b"not json"), None);
    }
}

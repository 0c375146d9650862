//! The product's public format, schema version "1" (docs/behaviour.md#normalized-event): one normalized event per
//! accepted delivery and one merged record per (provider, subject). Everything a provider
//! module produces ends up in these types; stores and the CLI only ever see them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::shared::Shared;

pub use super::provider::{Provider, UnknownProvider};

pub const SCHEMA_VERSION: &str = "1";

/// An instant, always serialized as RFC 3339 in UTC (`…Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(#[serde(with = "rfc3339_utc")] OffsetDateTime);

impl Timestamp {
    /// The current time, to the millisecond (records need no finer clock).
    pub fn now() -> Self {
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
        OffsetDateTime::from_unix_timestamp_nanos(nanos - nanos % 1_000_000)
            .map_or_else(|_| Self::from(OffsetDateTime::now_utc()), Self::from)
    }

    /// The first instant of 1970 and the last of 9999, in unix seconds: the times a
    /// provider's event may carry (docs/behaviour.md#signed-bytes-quoting-and-bounds).
    pub const MIN_UNIX: i64 = 0;
    pub const MAX_UNIX: i64 = 253_402_300_799;

    /// Whether the instant lies within 1970-01-01..9999-12-31.
    pub fn in_bounds(self) -> bool {
        (Self::MIN_UNIX..=Self::MAX_UNIX).contains(&self.unix_seconds())
    }

    /// Unix seconds, possibly fractional (Daily's `event_ts`). `None` when out of range.
    pub fn from_unix_f64(secs: f64) -> Option<Self> {
        // Beyond ±1e15 s (±31 million years) no instant exists; the bound also keeps the
        // conversion below from saturating and then overflowing (1e300 once wrapped).
        if !secs.is_finite() || secs.abs() > 1e15 {
            return None;
        }
        // Millisecond precision: an f64 of unix seconds cannot carry more faithfully.
        let nanos = (secs * 1e3).round() as i128 * 1_000_000;
        OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .ok()
            .map(Self::from)
    }

    pub fn from_unix(secs: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp(secs)
            .ok()
            .map(Self::from)
    }

    /// Strict RFC 3339 (an offset is required).
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        use time::format_description::well_known::Rfc3339;
        OffsetDateTime::parse(text.trim(), &Rfc3339)
            .ok()
            .map(Self::from)
    }

    /// RFC 3339 with any offset; also the zone-less ISO 8601 form some providers send
    /// (Prosa's `2023-01-17T14:26:25.505439`), read as UTC.
    pub fn parse(text: &str) -> Option<Self> {
        use time::format_description::well_known::Iso8601;
        Self::parse_rfc3339(text).or_else(|| {
            time::PrimitiveDateTime::parse(text.trim(), &Iso8601::DEFAULT)
                .ok()
                .map(|t| Self::from(t.assume_utc()))
        })
    }

    pub fn unix_seconds(self) -> i64 {
        self.0.unix_timestamp()
    }

    pub fn unix_millis(self) -> i64 {
        (self.0.unix_timestamp_nanos() / 1_000_000) as i64
    }
}

/// Where "now" comes from: injected so tests and replays can pin it.
pub type Clock = std::sync::Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The system clock, to the millisecond.
pub fn system_clock() -> Clock {
    std::sync::Arc::new(Timestamp::now)
}

impl From<OffsetDateTime> for Timestamp {
    fn from(t: OffsetDateTime) -> Self {
        Self(t.to_offset(time::UtcOffset::UTC))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&rfc3339_utc::format(&self.0))
    }
}

mod rfc3339_utc {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;

    pub fn format(t: &OffsetDateTime) -> String {
        // Formatting a UTC instant inside the representable years cannot fail; the
        // fallback keeps this total without a panic path.
        t.format(&Rfc3339)
            .unwrap_or_else(|_| t.unix_timestamp().to_string())
    }

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(d)?;
        OffsetDateTime::parse(&text, &Rfc3339)
            .map(|t| t.to_offset(time::UtcOffset::UTC))
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Recording,
    Transcript,
    Summary,
    Note,
    Job,
    Device,
    /// Instructions for the patient (Nabla Connect's `PATIENT_INSTRUCTIONS_EXPORT`).
    Instructions,
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Created,
    Uploaded,
    Processing,
    Completed,
    Failed,
    Deleted,
    Info,
}

impl Status {
    /// docs/behaviour.md#categories-and-statuses: created 1 < uploaded 2 < processing 3 <
    /// completed = failed 4 < deleted 5.
    /// `info` carries no lifecycle meaning and ranks lowest.
    pub fn rank(self) -> u8 {
        match self {
            Status::Info => 0,
            Status::Created => 1,
            Status::Uploaded => 2,
            Status::Processing => 3,
            Status::Completed | Status::Failed => 4,
            Status::Deleted => 5,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Clinician,
    Patient,
    Unknown,
}

/// Labels that name the clinical side of the conversation (Nabla's `DOCTOR`, transcript
/// files' `Doctor:` / `Physician:` prefixes, …).
const CLINICIAN_LABELS: [&str; 5] = ["doctor", "clinician", "physician", "provider", "nurse"];

impl Role {
    /// The role a speaker label states outright, in any case: the one mapping for every
    /// provider and transcript format. Numbered speakers (Deepgram's `0`, Bota's
    /// `SPEAKER_00`) and Nabla's `UNSPECIFIED` say nothing about who is the clinician:
    /// `Unknown`.
    pub fn of_label(speaker: &str) -> Role {
        let speaker = speaker.trim();
        if CLINICIAN_LABELS
            .iter()
            .any(|label| speaker.eq_ignore_ascii_case(label))
        {
            Role::Clinician
        } else if speaker.eq_ignore_ascii_case("patient") {
            Role::Patient
        } else {
            Role::Unknown
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default)]
    pub segments: Vec<Segment>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub start_ms: i64,
    pub end_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Note {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default)]
    pub sections: Vec<Section>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Section {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactKind {
    Soap,
    Concepts,
    Summary,
    Transcript,
}

/// An output object an event points to. Listed with `fetched: false` by the provider
/// mapping; the processor's fetcher fills in the rest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    pub kind: ArtifactKind,
    /// Lower-cased as given by the provider (`json`, `txt`, `srt`, `vtt`).
    pub format: String,
    /// `s3://bucket/key`
    pub location: String,
    /// The bucket's region as the provider gave it; the fetcher talks to that region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub fetched: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Why the object was not fetched, when it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How it was fetched when not read from S3 directly: `"access-link"` for an output
    /// read through Daily's access-link API (docs/behaviour.md#daily-outputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

impl Artifact {
    pub fn s3(
        kind: ArtifactKind,
        format: &str,
        bucket: &str,
        key: &str,
        region: Option<&str>,
    ) -> Self {
        Self {
            kind,
            format: format.to_ascii_lowercase(),
            location: format!("s3://{bucket}/{key}"),
            region: region.filter(|r| !r.is_empty()).map(str::to_owned),
            fetched: false,
            bytes: None,
            sha256: None,
            reason: None,
            via: None,
        }
    }

    /// `(bucket, key)` of the location.
    pub fn bucket_key(&self) -> Option<(&str, &str)> {
        self.location.strip_prefix("s3://")?.split_once('/')
    }
}

/// A diagnosis code suggested for the visit (Nabla Connect's ICD-10 suggestions).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// The code system as the provider names it (e.g. `ICD-10`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    /// A hierarchical condition category (risk adjustment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hcc: Option<bool>,
    /// A major complication or comorbidity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcc: Option<bool>,
}

/// What the patient is told to do after the visit, as the clinician exported it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Instructions {
    pub text: String,
}

/// Facts about the recording itself (Bota `recording.*`, Daily `recording.*`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordingInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_obtained: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
}

/// Device health (Bota `device.*`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub battery_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours_offline: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_at: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    pub code: String,
    pub message: String,
}

/// What an event says beyond its identity and status. Declared once: the normalized event
/// carries it whole, a record component the part of its kind (both flatten it, so the
/// schema's field names stay where they were).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Content {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript: Option<Shared<Transcript>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Note>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concepts: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soap: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<RecordingInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<Vec<Artifact>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnoses: Option<Vec<Diagnosis>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<Instructions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
}

/// One accepted delivery in the public format (docs/behaviour.md#normalized-event).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NormalizedEvent {
    pub schema_version: String,
    pub provider: Provider,
    pub event_id: String,
    pub event_type: String,
    pub category: Category,
    pub subject_id: String,
    pub status: Status,
    pub occurred_at: Timestamp,
    pub received_at: Timestamp,
    #[serde(default)]
    pub related: BTreeMap<String, String>,
    #[serde(flatten)]
    pub content: Content,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_location: Option<String>,
}

/// What a provider module knows of an event from its body alone: the normalized event
/// before the delivery facts (provider, receipt time, archive location) are added.
#[derive(Clone, Debug, PartialEq)]
pub struct EventDraft {
    pub event_id: String,
    pub event_type: String,
    pub category: Category,
    pub subject_id: String,
    pub status: Status,
    /// `None` when the provider gave no readable time: the receipt time stands in.
    pub occurred_at: Option<Timestamp>,
    pub related: BTreeMap<String, String>,
    pub content: Content,
}

impl EventDraft {
    pub fn new(
        event_id: impl Into<String>,
        event_type: impl Into<String>,
        category: Category,
        subject_id: impl Into<String>,
        status: Status,
        occurred_at: Option<Timestamp>,
    ) -> Self {
        Self {
            event_id: event_id.into(),
            event_type: event_type.into(),
            category,
            subject_id: subject_id.into(),
            status,
            occurred_at,
            related: BTreeMap::new(),
            content: Content::default(),
        }
    }

    /// Adds a related id (trimmed); absent or blank values are left out.
    pub fn relate(&mut self, name: &str, value: Option<&str>) {
        if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
            self.related.insert(name.to_owned(), v.to_owned());
        }
    }

    pub fn finish(
        self,
        provider: Provider,
        received_at: Timestamp,
        raw_location: Option<String>,
    ) -> NormalizedEvent {
        NormalizedEvent {
            schema_version: SCHEMA_VERSION.to_owned(),
            provider,
            event_id: self.event_id,
            event_type: self.event_type,
            category: self.category,
            subject_id: self.subject_id,
            status: self.status,
            occurred_at: self.occurred_at.unwrap_or(received_at),
            received_at,
            related: self.related,
            content: self.content,
            raw_location,
        }
    }
}

pub fn seconds_to_ms(secs: f64) -> i64 {
    if secs.is_finite() {
        (secs * 1000.0).round() as i64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_as_rfc3339_utc() {
        let t = Timestamp::parse("2025-01-15T12:30:00+02:00").unwrap();
        assert_eq!(t.to_string(), "2025-01-15T10:30:00Z");
        let naive = Timestamp::parse("2023-01-17T14:26:25.505439").unwrap();
        assert_eq!(naive.to_string(), "2023-01-17T14:26:25.505439Z");
        let frac = Timestamp::from_unix_f64(1708972279.961).unwrap();
        assert_eq!(frac.to_string(), "2024-02-26T18:31:19.961Z");
        assert_eq!(
            serde_json::to_string(&Timestamp::from_unix(0).unwrap()).unwrap(),
            "\"1970-01-01T00:00:00Z\""
        );
    }

    #[test]
    fn seconds_become_rounded_milliseconds() {
        assert_eq!(seconds_to_ms(6.470000009536743), 6470);
        assert_eq!(seconds_to_ms(2.8), 2800);
        assert_eq!(seconds_to_ms(f64::NAN), 0);
    }

    #[test]
    fn roles_come_from_what_the_label_says() {
        for clinician in [
            "DOCTOR",
            "doctor",
            "Clinician",
            "physician",
            "Provider",
            "NURSE",
        ] {
            assert_eq!(Role::of_label(clinician), Role::Clinician, "{clinician}");
        }
        assert_eq!(Role::of_label("PATIENT"), Role::Patient);
        assert_eq!(Role::of_label(" patient "), Role::Patient);
        for unknown in ["UNSPECIFIED", "0", "SPEAKER_00", "Dr. Smith", "doctors", ""] {
            assert_eq!(Role::of_label(unknown), Role::Unknown, "{unknown}");
        }
    }

    #[test]
    fn status_ranks_follow_the_contract() {
        assert!(Status::Created.rank() < Status::Uploaded.rank());
        assert!(Status::Uploaded.rank() < Status::Processing.rank());
        assert!(Status::Processing.rank() < Status::Completed.rank());
        assert_eq!(Status::Completed.rank(), Status::Failed.rank());
        assert!(Status::Failed.rank() < Status::Deleted.rank());
    }
}

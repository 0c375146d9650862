//! The JSON Schemas in `schemas/` (docs/behaviour.md#normalized-event) against real outputs: every sample payload
//! under `events/payloads/` normalized, the records merged from them, a record that carries
//! every component field, and hand-broken documents the schemas must reject.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use http::{HeaderMap, HeaderValue};
use jsonschema::{Registry, Validator};
use scribehook::record::{
    Category, DeviceInfo, Diagnosis, ErrorInfo, Instructions, Note, RecordingInfo, Section,
    Segment, Shared, Status, Summary, Transcript,
};
use scribehook::{merge, NormalizedEvent, Provider, Record, Timestamp};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const EVENT_SCHEMA: &str = "normalized-event.schema.json";
const RECORD_SCHEMA: &str = "record.schema.json";
const SCHEMA_BASE: &str = "https://scribehook.dev/schemas/";
/// `received_at` of every normalized sample.
const RECEIVED_AT: &str = "2025-01-15T10:00:00Z";
/// Which artifact of the complete record's batch job is left unfetched (with a reason).
const UNFETCHED_ARTIFACT: usize = 1;
/// Fewer samples than this means the payload directory was not found or was emptied.
const MIN_PAYLOADS: usize = 25;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A schema file from `schemas/`, parsed.
fn schema(name: &str) -> Value {
    let path = manifest_dir().join("schemas").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Draft 2020-12 with `format` asserted (it is only an annotation by default), no network:
/// the record schema's references to the event schema resolve through the registry.
fn validator(name: &str) -> Validator {
    let registry = Registry::new()
        .add(format!("{SCHEMA_BASE}{EVENT_SCHEMA}"), schema(EVENT_SCHEMA))
        .and_then(|builder| builder.prepare())
        .expect("event schema registers");
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .offline()
        .with_registry(&registry)
        .build(&schema(name))
        .unwrap_or_else(|e| panic!("{name} does not compile: {e}"))
}

fn event_validator() -> Validator {
    validator(EVENT_SCHEMA)
}

fn record_validator() -> Validator {
    validator(RECORD_SCHEMA)
}

/// Every violation of `instance`, one `instance path: message` per entry.
fn errors(validator: &Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{:?}: {e}", e.instance_path().as_str()))
        .collect()
}

/// The instance paths of every violation.
fn error_paths(validator: &Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| e.instance_path().as_str().to_owned())
        .collect()
}

fn assert_valid(validator: &Validator, instance: &Value, what: &str) {
    let errors = errors(validator, instance);
    assert!(
        errors.is_empty(),
        "{what} violates its schema:\n  {}\n{}",
        errors.join("\n  "),
        serde_json::to_string_pretty(instance).unwrap()
    );
}

fn received_at() -> Timestamp {
    Timestamp::parse_rfc3339(RECEIVED_AT).unwrap()
}

/// One sample payload, normalized as the processor would: Prosa's event type and id come
/// from headers (the file name, minus a trailing `.envelope` or `.sha256`, and a fixed
/// per-file uuid).
fn normalize_sample(provider: Provider, path: &Path, index: usize) -> NormalizedEvent {
    let body = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut headers = HeaderMap::new();
    if provider == Provider::Prosa {
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let event_type = stem
            .strip_suffix(".envelope")
            .or_else(|| stem.strip_suffix(".sha256"))
            .unwrap_or(stem);
        headers.insert("X-Prosa-Event", HeaderValue::from_str(event_type).unwrap());
        let uuid = format!("6f1c2d3e-5b4a-4c3d-8e2f-{index:012}");
        headers.insert("X-Prosa-Event-UUID", HeaderValue::from_str(&uuid).unwrap());
    }
    let draft = provider
        .normalize(&headers, &body)
        .unwrap_or_else(|e| panic!("{} does not normalize: {e}", path.display()));
    let raw_location = format!("s3://archive/raw/{provider}/{}.json", draft.event_id);
    draft.finish(provider, received_at(), Some(raw_location))
}

/// Every `events/payloads/<provider>/*.json`, normalized, in a stable order.
fn sample_events() -> Vec<(PathBuf, NormalizedEvent)> {
    let root = manifest_dir().join("events").join("payloads");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", root.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut events = Vec::new();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_str().unwrap();
        let provider: Provider = name
            .parse()
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|p| p.extension().is_some_and(|ext| ext == "json"))
            .collect();
        files.sort();
        for (index, file) in files.into_iter().enumerate() {
            let event = normalize_sample(provider, &file, index);
            events.push((file, event));
        }
    }
    events
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("serializes")
}

#[test]
fn schemas_are_valid_draft_2020_12() {
    for name in [EVENT_SCHEMA, RECORD_SCHEMA] {
        let schema = schema(name);
        assert_eq!(
            schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{name}"
        );
        assert_eq!(schema["$id"], format!("{SCHEMA_BASE}{name}"), "{name}");
        if let Err(e) = jsonschema::meta::validate(&schema) {
            panic!(
                "{name} is not a valid schema: {e} at {}",
                e.instance_path().as_str()
            );
        }
    }
}

#[test]
fn every_sample_payload_normalizes_to_a_valid_event() {
    let validator = event_validator();
    let events = sample_events();
    let mut failures = Vec::new();
    let mut per_provider: BTreeMap<Provider, usize> = BTreeMap::new();
    for (path, event) in &events {
        *per_provider.entry(event.provider).or_default() += 1;
        let json = to_json(event);
        let errors = errors(&validator, &json);
        if !errors.is_empty() {
            failures.push(format!(
                "{}:\n    {}",
                path.strip_prefix(manifest_dir()).unwrap_or(path).display(),
                errors.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "normalized events that violate the schema:\n  {}",
        failures.join("\n  ")
    );
    assert!(
        events.len() >= MIN_PAYLOADS,
        "only {} payloads checked; expected at least {MIN_PAYLOADS}",
        events.len()
    );
    for provider in Provider::ALL {
        assert!(
            per_provider.get(&provider).copied().unwrap_or(0) > 0,
            "no payload of {provider} was checked: {per_provider:?}"
        );
    }
}

#[test]
fn records_merged_from_the_samples_are_valid() {
    let validator = record_validator();
    let events = sample_events();
    let mut subjects: BTreeMap<(Provider, String), Vec<&NormalizedEvent>> = BTreeMap::new();
    for (_, event) in &events {
        subjects
            .entry((event.provider, event.subject_id.clone()))
            .or_default()
            .push(event);
    }
    let mut failures = Vec::new();
    let mut providers = BTreeSet::new();
    for ((provider, subject), group) in &subjects {
        let record = merge(group.iter().copied()).expect("a non-empty group merges");
        let ids: BTreeSet<&str> = group.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(
            record
                .events
                .iter()
                .map(String::as_str)
                .collect::<BTreeSet<_>>(),
            ids,
            "{provider}/{subject}: every event is folded in"
        );
        providers.insert(*provider);
        let errors = errors(&validator, &to_json(&record));
        if !errors.is_empty() {
            failures.push(format!(
                "{provider}/{subject}:\n    {}",
                errors.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "merged records that violate the schema:\n  {}",
        failures.join("\n  ")
    );
    assert_eq!(
        providers.len(),
        Provider::ALL.len(),
        "every provider contributes a record"
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

/// A Daily batch job whose outputs were fetched, plus a deleted recording and a device
/// report of the same subject: one record in which every component field is present.
fn complete_record() -> Record {
    let path = manifest_dir().join("events/payloads/daily/batch-processor.job-finished.json");
    let mut job = normalize_sample(Provider::Daily, &path, 0);
    assert_eq!(job.category, Category::Job, "the batch job is a job event");
    let artifacts = job
        .content
        .artifacts
        .as_mut()
        .expect("the finished batch job lists its outputs");
    assert!(artifacts.len() >= 2, "{artifacts:?}");
    for (i, artifact) in artifacts.iter_mut().enumerate() {
        let content = format!("content of {}", artifact.location);
        artifact.fetched = true;
        artifact.bytes = Some(content.len() as u64);
        artifact.sha256 = Some(sha256_hex(content.as_bytes()));
        if i == 0 {
            // Read through Daily's access link (docs/behaviour.md#daily-outputs).
            artifact.via = Some("access-link".into());
        }
        if i == UNFETCHED_ARTIFACT {
            // One output could not be read: the fetcher says why instead.
            artifact.fetched = false;
            artifact.bytes = None;
            artifact.sha256 = None;
            artifact.reason = Some("too large: 104857601 bytes".into());
        }
    }
    job.content.transcript = Some(Shared::new(Transcript {
        language: Some("en".into()),
        duration_ms: Some(6_470),
        text: Some("What brings you in today? My knee hurts.".into()),
        segments: vec![
            Segment {
                start_ms: 0,
                end_ms: 2_800,
                speaker: Some("0".into()),
                role: Some(scribehook::record::Role::Clinician),
                text: "What brings you in today?".into(),
                confidence: Some(0.97),
            },
            Segment {
                start_ms: 2_800,
                end_ms: 6_470,
                speaker: Some("1".into()),
                role: Some(scribehook::record::Role::Patient),
                text: "My knee hurts.".into(),
                confidence: None,
            },
        ],
    }));
    job.content.note = Some(Note {
        title: Some("SOAP note".into()),
        sections: vec![
            Section {
                key: "CHIEF_COMPLAINT".into(),
                title: Some("Chief complaint".into()),
                text: "Knee pain.".into(),
            },
            Section {
                key: "ASSESSMENT_AND_PLAN".into(),
                title: None,
                text: "Rest, ice; follow up in 2 weeks.".into(),
            },
        ],
    });
    job.content.summary = Some(Summary {
        text: "Patient with knee pain.".into(),
        template: Some("soap-notes".into()),
    });
    job.content.concepts = Some(json!({"concepts": [{"code": "C0231749", "text": "knee pain"}]}));
    job.content.soap =
        Some(json!({"subjective": "Knee pain for two weeks", "plan": "Physiotherapy"}));

    let subject = job.subject_id.clone();
    let mut recording = job.clone();
    recording.event_id = "rec-deleted-1".into();
    recording.event_type = "recording.deleted".into();
    recording.category = Category::Recording;
    recording.status = Status::Deleted;
    recording.occurred_at = at("2025-01-15T11:00:00Z");
    recording.content.transcript = None;
    recording.content.note = None;
    recording.content.summary = None;
    recording.content.concepts = None;
    recording.content.soap = None;
    recording.content.artifacts = None;
    recording.content.recording = Some(RecordingInfo {
        duration_ms: Some(6_470),
        size_bytes: Some(1_048_576),
        format: Some("mp4".into()),
        consent_obtained: Some(true),
        started_at: Some(at("2025-01-15T09:00:00Z")),
        ended_at: Some(at("2025-01-15T09:00:06.470Z")),
    });

    let mut device = recording.clone();
    device.event_id = "dev-offline-1".into();
    device.event_type = "device.offline".into();
    device.category = Category::Device;
    device.status = Status::Info;
    device.content.recording = None;
    device.content.device = Some(DeviceInfo {
        battery_percent: Some(12.5),
        hours_offline: Some(26.0),
        last_sync_at: Some(at("2025-01-14T08:00:00Z")),
    });
    device.content.error = Some(ErrorInfo {
        code: "device_offline".into(),
        message: "no sync for 26 hours".into(),
    });
    device.related.insert("device_id".into(), "dev_42".into());

    // Nabla Connect's kinds of content, on the same subject, so that every component field
    // appears in one record.
    job.content.diagnoses = Some(vec![Diagnosis {
        system: Some("ICD-10".into()),
        code: "M25.561".into(),
        display: Some("Pain in right knee".into()),
        hcc: Some(false),
        mcc: Some(false),
    }]);
    let mut instructions = device.clone();
    instructions.event_id = "instructions-1".into();
    instructions.event_type = "PATIENT_INSTRUCTIONS_EXPORT".into();
    instructions.category = Category::Instructions;
    instructions.status = Status::Completed;
    instructions.content.device = None;
    instructions.content.error = None;
    instructions.content.instructions = Some(Instructions {
        text: "Rest the knee; ice twice a day.".into(),
    });

    let record = merge([&job, &recording, &device, &instructions]).expect("merges");
    assert_eq!(record.subject_id, subject);
    record
}

#[test]
fn a_record_with_every_component_field_is_valid() {
    let record = complete_record();
    let json = to_json(&record);
    assert_valid(&record_validator(), &json, "the complete record");

    // The record really exercises the whole format: all seven components, and every field a
    // component or an artifact can carry, somewhere.
    assert!(json.get("deleted_at").is_some(), "{json:#}");
    let components = json["components"].as_object().unwrap();
    for kind in [
        "recording",
        "transcript",
        "summary",
        "note",
        "job",
        "device",
        "instructions",
    ] {
        assert!(
            components.contains_key(kind),
            "no {kind} component: {json:#}"
        );
    }
    let seen: BTreeSet<&str> = components
        .values()
        .flat_map(|c| c.as_object().unwrap().keys().map(String::as_str))
        .collect();
    let component_schema = &schema(RECORD_SCHEMA)["$defs"]["component"]["properties"];
    let all: BTreeSet<&str> = component_schema
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(seen, all, "component fields exercised");
    let artifacts = json["components"]["job"]["artifacts"].as_array().unwrap();
    let artifact_fields: BTreeSet<&str> = artifacts
        .iter()
        .flat_map(|a| a.as_object().unwrap().keys().map(String::as_str))
        .collect();
    for field in [
        "kind", "format", "location", "region", "fetched", "bytes", "sha256", "reason", "via",
    ] {
        assert!(artifact_fields.contains(field), "no artifact has {field}");
    }

    // Each normalized event behind it is valid too.
    let validator = event_validator();
    let path = manifest_dir().join("events/payloads/daily/batch-processor.job-finished.json");
    assert_valid(
        &validator,
        &to_json(&normalize_sample(Provider::Daily, &path, 0)),
        "the batch job event",
    );
}

/// A valid event to break: a completed transcript from the samples.
fn base_event() -> Value {
    let mut event = sample_events()
        .into_iter()
        .map(|(_, e)| e)
        .find(|e| e.category == Category::Transcript && e.status == Status::Completed)
        .expect("a completed transcript sample");
    event.content.transcript = Some(Shared::new(Transcript {
        segments: vec![Segment {
            start_ms: 1_500,
            end_ms: 2_000,
            speaker: None,
            role: None,
            text: "Hello.".into(),
            confidence: None,
        }],
        ..Transcript::default()
    }));
    let json = to_json(&event);
    assert_valid(&event_validator(), &json, "the base event");
    json
}

/// `mutate` must turn the valid base event into one the schema rejects at `path`.
fn assert_rejected(what: &str, path: &str, mutate: impl FnOnce(&mut Value)) {
    let validator = event_validator();
    let mut event = base_event();
    mutate(&mut event);
    let paths = error_paths(&validator, &event);
    assert!(!validator.is_valid(&event), "{what} was accepted");
    assert!(
        paths.iter().any(|p| p == path),
        "{what}: expected an error at {path:?}, got {:?}",
        errors(&validator, &event)
    );
}

#[test]
fn an_event_without_event_id_is_rejected() {
    assert_rejected("missing event_id", "", |e| {
        e.as_object_mut().unwrap().remove("event_id");
    });
}

#[test]
fn an_unknown_status_is_rejected() {
    assert_rejected("status done", "/status", |e| e["status"] = json!("done"));
}

#[test]
fn a_timestamp_with_an_offset_is_rejected() {
    assert_rejected("occurred_at with +02:00", "/occurred_at", |e| {
        e["occurred_at"] = json!("2025-01-15T10:00:00+02:00")
    });
}

#[test]
fn an_impossible_date_is_rejected() {
    // The pattern alone would pass this; the date-time format check must not.
    assert_rejected("month 13", "/received_at", |e| {
        e["received_at"] = json!("2025-13-15T10:00:00Z")
    });
}

#[test]
fn fractional_milliseconds_are_rejected() {
    assert_rejected("start_ms 1.5", "/transcript/segments/0/start_ms", |e| {
        e["transcript"]["segments"][0]["start_ms"] = json!(1.5)
    });
}

#[test]
fn an_unknown_top_level_field_is_rejected() {
    assert_rejected("an unknown field", "", |e| {
        e["confidence_score"] = json!(0.9)
    });
}

#[test]
fn malformed_content_is_rejected() {
    assert_rejected("a lower-case section key", "/note/sections/0/key", |e| {
        e["note"] = json!({"sections": [{"key": "chief complaint", "text": "x"}]})
    });
    assert_rejected("an unknown role", "/transcript/segments/0/role", |e| {
        e["transcript"]["segments"][0]["role"] = json!("doctor")
    });
    assert_rejected("a non-S3 artifact", "/artifacts/0/location", |e| {
        e["artifacts"] = json!([{
            "kind": "soap", "format": "json", "location": "https://x/y", "fetched": false
        }])
    });
    assert_rejected("an upper-case sha256", "/artifacts/0/sha256", |e| {
        e["artifacts"] = json!([{
            "kind": "soap", "format": "json", "location": "s3://b/k", "fetched": true,
            "bytes": 3, "sha256": "A".repeat(64)
        }])
    });
    assert_rejected("an unknown way of fetching", "/artifacts/0/via", |e| {
        e["artifacts"] = json!([{
            "kind": "soap", "format": "json", "location": "s3://b/k", "fetched": true,
            "via": "https"
        }])
    });
    assert_rejected("a non-string related id", "/related/job_id", |e| {
        e["related"]["job_id"] = json!(42)
    });
    assert_rejected("schema version 2", "/schema_version", |e| {
        e["schema_version"] = json!("2")
    });
    assert_rejected("a null optional", "/summary", |e| {
        e["summary"] = Value::Null
    });
}

/// An edit that breaks a valid document.
type Mutation = fn(&mut Value);

#[test]
fn broken_records_are_rejected() {
    let validator = record_validator();
    let good = to_json(&complete_record());
    assert!(validator.is_valid(&good));
    let cases: [(&str, &str, Mutation); 4] = [
        ("an unknown component", "/components", |r| {
            r["components"]["billing"] = r["components"]["job"].clone()
        }),
        ("a component field drift", "/components/job", |r| {
            r["components"]["job"]["content"] = json!({})
        }),
        ("no events", "/events", |r| r["events"] = json!([])),
        ("updated_at with an offset", "/updated_at", |r| {
            r["updated_at"] = json!("2025-01-15T10:00:00+00:00")
        }),
    ];
    for (what, path, mutate) in cases {
        let mut record = good.clone();
        mutate(&mut record);
        assert!(
            error_paths(&validator, &record).iter().any(|p| p == path),
            "{what}: expected an error at {path:?}, got {:?}",
            errors(&validator, &record)
        );
    }
}
